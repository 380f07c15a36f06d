"""The arithmetic of valuation help, as pure functions: each value on a coarse grid, then nearest-rank percentiles."""

MIN_COUNT = 5
"""Fewer comparable deals than this and no value is shown."""

PERCENTILES = (25, 50, 75)

# Ten preferred numbers per decade (ISO 3 series R10, as commonly rounded), times 100: each about 25 % above the last,
# so a value on this grid says only that a deal lies within 13 % of it, at any size.
GRID = (100, 125, 160, 200, 250, 320, 400, 500, 630, 800, 1000)


def on_grid(amount: int) -> int:
    """The grid point nearest to amount on a logarithmic scale (ties go up); monotone, exact integer arithmetic."""
    if amount <= 0:
        return 0
    decade = len(str(amount)) - 1
    scale = 10 ** (2 * decade)
    # Between two grid points a and b the boundary is their geometric mean: amount < sqrt(a·b)·10^decade/100.
    for low, high in zip(GRID, GRID[1:], strict=False):
        if amount * amount * 10_000 < low * high * scale:
            return low * 10**decade // 100
    return 10 ** (decade + 1)


def nearest_rank(ordered: list[int], percentile: int) -> int:
    """The value at rank ceil(percentile/100 · n) of an ascending list: always one of its values, never a blend."""
    rank = -(-percentile * len(ordered) // 100)
    return ordered[max(rank, 1) - 1]


def percentiles(amounts: list[int]) -> tuple[int, int, int] | None:
    """p25, p50 and p75 of the amounts on the grid; None below MIN_COUNT amounts.

    Rounding first and ranking second gives the same numbers as the other way round (rounding is monotone and a
    nearest rank picks a value rather than blending two), so the answer depends only on which grid cell each deal
    falls in: no set of queries, however differenced, can tell more of one deal's value than its cell."""
    if len(amounts) < MIN_COUNT:
        return None
    ordered = sorted(on_grid(a) for a in amounts)
    p25, p50, p75 = (nearest_rank(ordered, p) for p in PERCENTILES)
    return p25, p50, p75
