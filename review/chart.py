"""The chart of mints and refusals over time as SVG: one pair of bars per slice, scaled to the tallest
slice. No script and no library is involved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from audit.selectors import Bucket

WIDTH = 720
HEIGHT = 140
_TOP = 10
_WIDEST_BAR = 24.0  # a few slices stay bars, not blocks


@dataclass(frozen=True)
class Bar:
    x: float
    refused_x: float
    width: float
    allowed_y: float
    allowed_height: float
    refused_y: float
    refused_height: float
    label: str


def chart_bars(buckets: Sequence[Bucket]) -> list[Bar]:
    if not buckets:
        return []
    tallest = max(max(bucket.allowed, bucket.refused) for bucket in buckets) or 1
    slot = WIDTH / len(buckets)
    width = min(max(slot / 2 - 1, 1.0), _WIDEST_BAR)
    bars = []
    for index, bucket in enumerate(buckets):
        allowed, refused = _height(bucket.allowed, tallest), _height(bucket.refused, tallest)
        when = bucket.start.strftime("%Y-%m-%d %H:%M UTC")
        bars.append(
            Bar(
                x=round(index * slot, 2),
                refused_x=round(index * slot + width, 2),
                width=round(width, 2),
                allowed_y=round(HEIGHT - allowed, 2),
                allowed_height=round(allowed, 2),
                refused_y=round(HEIGHT - refused, 2),
                refused_height=round(refused, 2),
                label=f"{when}: {bucket.allowed} minted, {bucket.refused} refused",
            )
        )
    return bars


def chart_rects(bars: Sequence[Bar]) -> SafeString:
    """The bars as SVG, each pair with its counts as a tooltip. Written here, not by the template: ninety
    days drawn day by day are 180 rectangles of five numbers each, which took the template engine as long
    as the table of fifty events."""
    return format_html_join(
        "\n",
        '<g><title>{}</title>\n<rect class="allowed" x="{}" y="{}" width="{}" height="{}" fill="#2f7d32"></rect>\n'
        '<rect class="refused" x="{}" y="{}" width="{}" height="{}" fill="#c62828"></rect></g>',
        (
            (
                bar.label,
                bar.x,
                bar.allowed_y,
                bar.width,
                bar.allowed_height,
                bar.refused_x,
                bar.refused_y,
                bar.width,
                bar.refused_height,
            )
            for bar in bars
        ),
    )


def _height(count: int, tallest: int) -> float:
    return (HEIGHT - _TOP) * count / tallest
