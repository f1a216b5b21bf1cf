"""Server-drawn bar charts: the geometry of an inline SVG, computed here and drawn by
`app/ui/templates/home/_chart.html` with CSS classes only (the CSP allows no `style=`).

No chart framework and no JavaScript: a chart is a handful of rectangles, and the same numbers
go into a table beside it for screen readers and for anyone who prefers to read them.
"""

from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 36  # margins: axis labels left, category labels below
GAP = 0.25  # the share of a category's width left empty between groups


@dataclass(frozen=True)
class Series:
    name: str
    css: str  # the class that colours its bars and its legend swatch
    values: list[int | None]  # None: nothing to show (e.g. a percentage of zero tickets)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str  # the bar's own tooltip: "Week of Sep 8: 4 opened"


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Category:
    x: float  # the centre of its group, for the label
    label: str
    shown: bool  # crowded axes label every other category (the table has them all)


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    series: list[Series]
    categories: list[Category]
    bars: list[Bar]
    ticks: list[Tick]
    rows: list[tuple[str, list[str]]]  # the table: category label, then one cell per series
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM
    left: int = LEFT
    right: int = WIDTH - RIGHT
    empty: bool = field(default=False)


def _scale_top(peak: int) -> int:
    """A round axis maximum at or above `peak` (at least 4, so a quiet period still has ticks)."""
    top = max(peak, 4)
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2500, 5000, 10_000):
        if top <= step * 4:
            return step * 4
    return top


def bar_chart(
    *,
    id: str,
    title: str,
    description: str,
    labels: list[str],
    series: list[Series],
    unit: str = "",
    maximum: int | None = None,
) -> Chart:
    """Grouped bars: one group per label, one bar per series. `maximum` fixes the axis (100 for
    a percentage); otherwise it rounds up from the largest value."""
    values = [v for s in series for v in s.values if v is not None]
    top = maximum or _scale_top(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(labels), 1)
    bar_w = slot * (1 - GAP) / max(len(series), 1)
    baseline = HEIGHT - BOTTOM
    bars, categories = [], []
    crowded = len(labels) > 8
    for i, label in enumerate(labels):
        start = LEFT + i * slot + slot * GAP / 2
        categories.append(
            Category(
                x=round(LEFT + (i + 0.5) * slot, 1), label=label, shown=not crowded or i % 2 == 0
            )
        )
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            height = plot_h * value / top
            bars.append(
                Bar(
                    x=round(start + j * bar_w, 1),
                    y=round(baseline - height, 1),
                    width=round(bar_w - 1, 1),
                    height=round(height, 1),
                    css=s.css,
                    title=f"{label}: {value}{unit} {s.name.lower()}",
                )
            )
    ticks = [
        Tick(y=round(baseline - plot_h * k / 4, 1), label=f"{top * k // 4}{unit}") for k in range(5)
    ]
    rows = [
        (label, ["—" if s.values[i] is None else f"{s.values[i]}{unit}" for s in series])
        for i, label in enumerate(labels)
    ]
    return Chart(
        id=id,
        title=title,
        description=description,
        series=series,
        categories=categories,
        bars=bars,
        ticks=ticks,
        rows=rows,
        empty=not any(values),
    )
