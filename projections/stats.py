"""Descriptive statistics, correlation and a volume forecast: pure functions.

Inputs are integers read from view counters, and every function is
deterministic, so the same figures come out of the same log however often a
report is recomputed. Standard deviations are population standard deviations
(the figures describe the period's whole population, not a sample).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None
    median: float | None
    stdev: float | None

    def as_dict(self, digits: int = 4) -> dict[str, float | int | None]:
        return {"n": self.n, "mean": _r(self.mean, digits), "median": _r(self.median, digits),
                "stdev": _r(self.stdev, digits)}


def summary(values: Sequence[float]) -> Summary:
    """Mean, median and population standard deviation of a list."""
    n = len(values)
    if n == 0:
        return Summary(0, None, None, None)
    ordered = sorted(values)
    mean = math.fsum(ordered) / n
    middle = n // 2
    median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    variance = math.fsum((v - mean) ** 2 for v in ordered) / n
    return Summary(n, mean, median, math.sqrt(variance))


def histogram_summary(counts: Mapping[float, int], width: float = 0.0) -> Summary:
    """Mean, median and standard deviation of values given as ``{value: count}``.

    With ``width`` > 0 the values are bucket floors and the median is the
    middle of the median bucket (``floor + width / 2``); mean and deviation are
    then best given by exact sums (see :func:`moments`).
    """
    items = sorted((v, c) for v, c in counts.items() if c > 0)
    n = sum(c for _, c in items)
    if n == 0:
        return Summary(0, None, None, None)
    mean = math.fsum(v * c for v, c in items) / n
    variance = math.fsum(c * (v - mean) ** 2 for v, c in items) / n

    def nth(k: int) -> float:  # the k-th smallest value, 0-based
        seen = 0
        for value, count in items:
            seen += count
            if k < seen:
                return value
        return items[-1][0]

    median = nth(n // 2) if n % 2 else (nth(n // 2 - 1) + nth(n // 2)) / 2
    return Summary(n, mean, median + width / 2, math.sqrt(variance))


def moments(n: int, total: int, squares: int) -> tuple[float | None, float | None]:
    """Mean and population standard deviation from n, Σx and Σx² (exact integers)."""
    if n <= 0:
        return None, None
    variance = (n * squares - total * total) / (n * n)
    return total / n, math.sqrt(max(variance, 0.0))


def pearson_from_sums(n: int, sx: int, sy: int, sxy: int, sxx: int, syy: int) -> float | None:
    """Pearson's r from integer sums; None when either variable does not vary."""
    if n < 2:
        return None
    cov = n * sxy - sx * sy
    vx = n * sxx - sx * sx
    vy = n * syy - sy * sy
    if vx <= 0 or vy <= 0:
        return None
    return cov / math.sqrt(vx * vy)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r of two equally long series; None when either does not vary."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    cov = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = math.fsum((x - mx) ** 2 for x in xs)
    vy = math.fsum((y - my) ** 2 for y in ys)
    if vx <= 0 or vy <= 0:
        return None
    return cov / math.sqrt(vx * vy)


def growth(current: float | None, previous: float | None) -> float | None:
    """Relative change from ``previous`` to ``current`` (0.1 = +10%); None without a base."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


@dataclass(frozen=True)
class Trend:
    """A least-squares line through daily values, indexed 0, 1, 2, ... by working day."""

    points: int
    intercept: float
    slope: float

    def at(self, index: float) -> float:
        return self.intercept + self.slope * index


def linear_trend(values: Sequence[float]) -> Trend | None:
    """Ordinary least squares of ``values`` against their index; a flat line for one point."""
    n = len(values)
    if n == 0:
        return None
    if n == 1:
        return Trend(1, float(values[0]), 0.0)
    mx = (n - 1) / 2
    my = math.fsum(values) / n
    sxx = math.fsum((i - mx) ** 2 for i in range(n))
    sxy = math.fsum((i - mx) * (v - my) for i, v in enumerate(values))
    slope = sxy / sxx
    return Trend(n, my - slope * mx, slope)


def forecast_total(values: Sequence[float], ahead: int) -> float | None:
    """The sum of the linear trend over the next ``ahead`` working days (never below 0)."""
    trend = linear_trend(values)
    if trend is None:
        return None
    n = trend.points
    return math.fsum(max(0.0, trend.at(n + i)) for i in range(ahead))
