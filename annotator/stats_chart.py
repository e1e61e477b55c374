"""Geometry of the statistics page's SVG chart: mean edit distance within and across tasks per group,
with ±1 sd whiskers and the paper's Table 2 values as dashed reference lines."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from .stats import Moments, Row

PAPER_TABLE_2 = {"tokens": (24.4, 9.6), "within": (76.6, 37.2), "across": (106.6, 39.5), "instructions": 400}
SERIES = (("within", _("Within the same task"), "#2563eb"), ("across", _("Across tasks"), "#f59e0b"))
LABEL_WIDTH = 190
PLOT_WIDTH = 560
BAR_HEIGHT = 11
ROW_HEIGHT = 34
TOP = 26


@dataclass
class ChartBar:
    series: str
    label: str
    colour: str
    y: float
    width: float
    whisker_from: float
    whisker_to: float
    mean: float
    sd: float | None
    n: int


@dataclass
class ChartRow:
    label: str
    y: float
    bars: list[ChartBar]


@dataclass
class Chart:
    rows: list[ChartRow]
    height: int
    width: int
    plot_left: int
    plot_width: int
    ticks: list[dict[str, float]]
    references: list[dict[str, object]]
    legend: list[dict[str, object]]


def _nice_max(value: float) -> float:
    for step in (10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if value <= step * 5:
            return step * (int(value // step) + 1)
    return value * 1.1


def distance_chart(rows: list[Row]) -> Chart:
    """Two bars per row (within, across), scaled to the largest mean + sd or the paper's values."""

    def upper(m: Moments) -> float:
        return (m.mean or 0.0) + (m.sd or 0.0)

    biggest = max(
        [upper(getattr(row, key)) for row in rows for key, _, _ in SERIES]
        + [PAPER_TABLE_2["across"][0], PAPER_TABLE_2["within"][0]]
    )
    scale_max = _nice_max(biggest)

    def x(value: float) -> float:
        return round(PLOT_WIDTH * min(value, scale_max) / scale_max, 1)

    chart_rows = []
    for index, row in enumerate(rows):
        y = TOP + index * ROW_HEIGHT
        bars = []
        for offset, (key, label, colour) in enumerate(SERIES):
            m: Moments = getattr(row, key)
            if m.mean is None:
                continue
            sd = m.sd or 0.0
            bars.append(
                ChartBar(
                    series=key,
                    label=label,
                    colour=colour,
                    y=y + offset * (BAR_HEIGHT + 2),
                    width=x(m.mean),
                    whisker_from=x(max(m.mean - sd, 0.0)),
                    whisker_to=x(m.mean + sd),
                    mean=round(m.mean, 1),
                    sd=None if m.sd is None else round(m.sd, 1),
                    n=m.n,
                )
            )
        chart_rows.append(ChartRow(label=row.label, y=y, bars=bars))
    step = scale_max / 5
    ticks = [{"x": x(step * i), "value": round(step * i)} for i in range(6)]
    references = [
        {
            "x": x(PAPER_TABLE_2[key][0]),
            "colour": colour,
            "label": _("paper, %(series)s: %(value)s") % {"series": label, "value": PAPER_TABLE_2[key][0]},
        }
        for key, label, colour in SERIES
    ]
    legend = [{"label": label, "colour": colour, "x": i * 200} for i, (_, label, colour) in enumerate(SERIES)]
    height = TOP + len(rows) * ROW_HEIGHT + 40
    return Chart(
        rows=chart_rows,
        height=height,
        width=LABEL_WIDTH + PLOT_WIDTH + 40,
        plot_left=LABEL_WIDTH,
        plot_width=PLOT_WIDTH,
        ticks=ticks,
        references=references,
        legend=legend,
    )
