"""Server-rendered SVG charts: geometry computed here, placed by the template (no JavaScript).

Floats are used for drawing positions only; the labels are the exact money strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from compengine.core.currency import format_money
from compengine.core.money import shown


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    label: str  # "Oct"
    value: str  # "12,345.67"
    negative: bool
    title: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline_y: str
    bars: tuple[Bar, ...]
    description: str


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def earnings_chart(points: list[tuple[str, Decimal]], *, width: int = 640, height: int = 220,
                   currency: str | None = None) -> BarChart:
    """Bars of net payout by month: ``points`` are (YYYY-MM, payout) in order, amounts written in ``currency``'s
    places (whole yen, fils) or, without one, two places and three for a fils amount."""

    def money(value: Decimal) -> str:
        return format_money(value, currency) if currency else shown(value)

    top, bottom, left, right = 24, 30, 8, 8
    plot_h = height - top - bottom
    hi = max([p for _, p in points if p > 0], default=Decimal(0))
    lo = min([p for _, p in points if p < 0], default=Decimal(0))
    span = float(hi - lo) or 1.0
    base = top + plot_h * float(hi) / span
    n = max(1, len(points))
    slot = (width - left - right) / n
    bars = []
    for i, (period, value) in enumerate(points):
        h = plot_h * abs(float(value)) / span
        y = base - h if value >= 0 else base
        month = MONTHS[int(period[5:7]) - 1]
        bars.append(Bar(f"{left + i * slot + slot * 0.15:.1f}", f"{y:.1f}", f"{slot * 0.7:.1f}", f"{max(h, 0.5):.1f}",
                        month, money(value), value < 0, f"{period}: {money(value)}"))
    desc = "Net payout by month: " + ", ".join(f"{p} {money(v)}" for p, v in points)
    return BarChart(width, height, f"{base:.1f}", tuple(bars), desc)
