"""Charts as inline SVG drawn on the server: horizontal bars, a split bar of shares, and columns over time.

Each chart is an `<svg role="img">` with a <title> and a <desc> that says in words what it shows; every bar carries its
label and value as text beside it (and in data-* attributes, which the browser test counts). Text is escaped here:
what comes out is markup, safe to place in a page as it is.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
ROW = 22
BAR_HEIGHT = 14
LABEL_WIDTH = 220
VALUE_WIDTH = 90
PAD = 8
# What fits left of the bars at the page's font; a longer label is cut there (the tooltip and data table keep it whole).
LABEL_CHARS = 32
# Colour-blind-safe pairs (Okabe-Ito) of the two series a chart may compare.
COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00")


@dataclass(frozen=True)
class Bar:
    """One labelled figure."""

    label: str
    value: float


@dataclass(frozen=True)
class Point:
    """One period of a series chart: its label and one value per series."""

    label: str
    values: tuple[float, ...]


Format = Callable[[float], str]


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _svg(chart_id: str, title: str, desc: str, height: int, body: list[str], css_class: str) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" id="{escape(chart_id)}"'
        f' role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc"'
        f' viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _described(bars: Sequence[Bar], fmt: Format) -> str:
    return "; ".join(f"{bar.label}: {fmt(bar.value)}" for bar in bars)


def _fitted(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def bar_chart(
    chart_id: str, title: str, bars: Sequence[Bar], *, empty: str, fmt: Format = _count, colour: str = COLOURS[0]
) -> Markup:
    """Horizontal bars, one per figure in the order given, scaled to the largest; a line of text when there are none."""
    if not bars:
        height = ROW + 2 * PAD
        text = f'<text x="{PAD}" y="{PAD + 15}" class="empty">{escape(empty)}</text>'
        return _svg(chart_id, title, empty, height, [text], "bars")
    top = max((bar.value for bar in bars), default=0) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 2 * PAD
    body = []
    for i, bar in enumerate(bars):
        y = PAD + i * ROW
        width = round(span * max(bar.value, 0) / top, 2)
        label, value = escape(bar.label), escape(fmt(bar.value))
        body.append(
            f'<g class="row"><text x="{LABEL_WIDTH - 6}" y="{y + 11}" text-anchor="end" class="label">'
            f"{escape(_fitted(bar.label))}</text>"
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" fill="{colour}"'
            f' data-label="{label}" data-value="{escape(repr(bar.value))}"><title>{label}: {value}</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 4}" y="{y + 11}" class="value">{value}</text></g>'
        )
    return _svg(chart_id, title, _described(bars, fmt), 2 * PAD + len(bars) * ROW, body, "bars")


def share_chart(chart_id: str, title: str, parts: Sequence[Bar], *, empty: str, fmt: Format = _count) -> Markup:
    """One bar split into the shares of its parts (each with its count and percentage), with a legend below it."""
    total = sum(max(part.value, 0) for part in parts)
    if total <= 0:
        return bar_chart(chart_id, title, [], empty=empty)
    span = WIDTH - 2 * PAD
    body = []
    x = float(PAD)
    for i, part in enumerate(parts):
        width = round(span * max(part.value, 0) / total, 2)
        label = escape(part.label)
        share = f"{100 * part.value / total:.1f}%"
        body.append(
            f'<rect class="bar" x="{round(x, 2)}" y="{PAD}" width="{width}" height="28" fill="{COLOURS[i % len(COLOURS)]}"'
            f' data-label="{label}" data-value="{escape(repr(part.value))}">'
            f"<title>{label}: {escape(fmt(part.value))} ({share})</title></rect>"
        )
        x += width
    for i, part in enumerate(parts):
        y = PAD + 40 + i * ROW
        share = f"{100 * part.value / total:.1f}%"
        body.append(
            f'<rect x="{PAD}" y="{y}" width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/>'
            f'<text x="{PAD + 18}" y="{y + 11}" class="label">'
            f"{escape(part.label)}: {escape(fmt(part.value))} ({share})</text>"
        )
    desc = "; ".join(f"{p.label}: {fmt(p.value)} ({100 * p.value / total:.1f}%)" for p in parts)
    return _svg(chart_id, title, desc, PAD + 40 + len(parts) * ROW + PAD, body, "shares")


def column_chart(
    chart_id: str,
    title: str,
    series: Sequence[str],
    points: Sequence[Point],
    *,
    empty: str,
    fmt: Format = _count,
) -> Markup:
    """Columns over time: one group per period, one column per series in it, scaled to the largest value, with a
    legend of the series and the periods' labels under the axis."""
    if not points:
        return bar_chart(chart_id, title, [], empty=empty)
    top = max((v for point in points for v in point.values), default=0) or 1
    legend_height, axis_label, chart_height = 22, 34, 180
    left, right = 70, WIDTH - PAD
    group = (right - left) / len(points)
    column = max(min((group - 4) / len(series), 24), 1)
    base = legend_height + chart_height
    body = []
    for i, name in enumerate(series):
        x = left + i * 160
        body.append(
            f'<rect x="{x}" y="4" width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/>'
            f'<text x="{x + 18}" y="15" class="label">{escape(name)}</text>'
        )
    body.append(
        f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" class="axis"/>'
        f'<text x="{left - 4}" y="{legend_height + 10}" text-anchor="end" class="value">{escape(fmt(top))}</text>'
        f'<text x="{left - 4}" y="{base}" text-anchor="end" class="value">0</text>'
    )
    every = max(1, round(len(points) / 12))
    for p, point in enumerate(points):
        x0 = left + p * group + (group - column * len(series)) / 2
        for s, value in enumerate(point.values):
            height = round(chart_height * max(value, 0) / top, 2)
            label = escape(f"{point.label} · {series[s]}")
            body.append(
                f'<rect class="bar" x="{round(x0 + s * column, 2)}" y="{round(base - height, 2)}"'
                f' width="{round(column - 1, 2)}" height="{height}" fill="{COLOURS[s % len(COLOURS)]}"'
                f' data-label="{label}" data-value="{escape(repr(value))}"><title>{label}: {escape(fmt(value))}</title>'
                "</rect>"
            )
        if p % every == 0:
            body.append(
                f'<text x="{round(left + p * group + group / 2, 2)}" y="{base + 16}" text-anchor="middle"'
                f' class="tick">{escape(point.label)}</text>'
            )
    desc = "; ".join(
        f"{point.label}: " + ", ".join(f"{name} {fmt(v)}" for name, v in zip(series, point.values, strict=True))
        for point in points
    )
    return _svg(chart_id, title, desc, base + axis_label, body, "columns")
