"""The statistics as rows of (period, measure, dimension, value), and as CSV, for reporting."""

import csv
import io
from collections.abc import Iterator
from typing import Any

import msgspec

from exchange.kernel.schemas import Money
from exchange.stats.schemas import StatsOut

COLUMNS = ("period", "measure", "dimension", "value")


class Row(msgspec.Struct, frozen=True):
    """One figure: when it counts for, what it measures, which breakdown it is part of, and its number."""

    period: str
    measure: str
    dimension: str
    value: int | float | None


def _rows(period: str, measure: str, dimension: str, value: Any) -> Iterator[Row]:
    if isinstance(value, Money):
        yield Row(period, f"{measure}_{value.currency.lower()}", dimension, value.amount)
    elif isinstance(value, msgspec.Struct):
        # A struct with a `period` is one point of a series over time; the rest of its fields are its figures.
        point = getattr(value, "period", None)
        for name in value.__struct_fields__:
            if name != "period":
                yield from _rows(
                    point or period, f"{measure}.{name}" if measure else name, dimension, getattr(value, name)
                )
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _rows(period, measure, key, item)
    elif isinstance(value, list):
        for item in value:
            yield from _rows(period, measure, dimension, item)
    elif isinstance(value, int | float) or value is None:
        yield Row(period, measure, dimension, value)


def rows(stats: StatsOut) -> list[Row]:
    """Every figure of the statistics; a cumulative one counts for the snapshot's date, a series point for its own."""
    period = stats.as_of.date().isoformat()
    return [
        row
        for name in stats.__struct_fields__
        if name != "as_of"
        for row in _rows(period, name, "", getattr(stats, name))
    ]


def to_csv(figures: list[Row]) -> bytes:
    """A header row then one row per figure (an absent figure, such as a rate before any decision, is empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in figures:
        writer.writerow((row.period, row.measure, row.dimension, "" if row.value is None else row.value))
    return out.getvalue().encode()
