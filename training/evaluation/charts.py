"""Inline SVG charts (no front-end build): Figure 4's wins/ties/losses bars, Figures 5-6's curves,
and grouped bars of ROUGE-L per task. Text is escaped; sizes scale with the viewBox (phone width)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe

COLOURS = ("#2f6fb0", "#c7c7c7", "#d0603a", "#4c9a5b", "#8a5fb0", "#b08a2f")


def _svg(width: int, height: int, body: list[str], label: str) -> SafeString:
    return mark_safe(  # every text put in the body is escaped
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" style="max-width:100%;height:auto" font-family="sans-serif" font-size="12">'
        + "".join(body)
        + "</svg>"
    )


def judge_bars(rows: Sequence[dict[str, Any]]) -> SafeString:
    """One stacked bar per comparison: won / tie / lost, as in Figure 4. rows: label, wins, ties, losses."""
    width, bar, gap, left = 640, 26, 14, 190
    height = 30 + len(rows) * (bar + gap)
    body = []
    for i, row in enumerate(rows):
        y = 20 + i * (bar + gap)
        total = (row["wins"] + row["ties"] + row["losses"]) or 1
        x = left
        body.append(f'<text x="{left - 8}" y="{y + bar * 0.65:.0f}" text-anchor="end">{escape(row["label"])}</text>')
        for key, colour, name in (
            ("wins", COLOURS[0], "won"),
            ("ties", COLOURS[1], "tie"),
            ("losses", COLOURS[2], "lost"),
        ):
            w = (width - left - 10) * row[key] / total
            if w > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}">'
                    f"<title>{name}: {row[key]}</title></rect>"
                )
                if w > 34:
                    body.append(
                        f'<text x="{x + w / 2:.1f}" y="{y + bar * 0.65:.0f}" text-anchor="middle">{row[key]}</text>'
                    )
            x += w
    body.append(
        f'<text x="{left}" y="{height - 2}" fill="#555">'
        "won (blue) / tie (grey) / lost (red), from the first model's side</text>"
    )
    return _svg(width, height + 6, body, "wins, ties and losses")


def line_chart(points: Sequence[tuple[float, float | None]], x_label: str, y_label: str, title: str) -> SafeString:
    """A curve of y against x; the x axis is spaced by rank (0, 4, 8, 16, 27 read evenly, as in the paper)."""
    width, height, left, bottom, top, right = 480, 280, 52, 40, 24, 16
    shown = [(x, y) for x, y in points if y is not None]
    body = [f'<text x="{width / 2}" y="14" text-anchor="middle">{escape(title)}</text>']
    if not shown:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no finished point yet</text>')
        return _svg(width, height, body, title)
    ys = [y for _, y in shown]
    lo, hi = min(0.0, min(ys)), max(ys) * 1.1 or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(i: int) -> float:
        return left + (plot_w * i / (len(shown) - 1) if len(shown) > 1 else plot_w / 2)

    def py(y: float) -> float:
        return top + plot_h * (1 - (y - lo) / (hi - lo))

    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>')
    for k in range(5):
        value = lo + (hi - lo) * k / 4
        body.append(f'<text x="{left - 6}" y="{py(value) + 4:.1f}" text-anchor="end">{value:.1f}</text>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{px(i):.1f},{py(y):.1f}" for i, (_, y) in enumerate(shown))
    body.append(f'<path d="{path}" fill="none" stroke="{COLOURS[0]}" stroke-width="2"/>')
    for i, (x, y) in enumerate(shown):
        body.append(
            f'<circle cx="{px(i):.1f}" cy="{py(y):.1f}" r="4" fill="{COLOURS[0]}">'
            f"<title>{x:g}: {y:.2f}</title></circle>"
        )
        body.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{x:g}</text>')
    body.append(f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">{escape(x_label)}</text>')
    body.append(
        f'<text x="12" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2})">{escape(y_label)}</text>'
    )
    return _svg(width, height, body, title)


def ablation_svg(series: Any) -> SafeString:
    from .ablate import curve

    points = [(p["count"], p["score"]) for p in curve(series)]
    x_label = "number of tasks" if series.kind == "tasks" else "instructions per task"
    figure = "Figure 5" if series.kind == "tasks" else "Figure 6"
    return line_chart(points, x_label, "ROUGE-L", f"{figure} shape: ablation #{series.pk}")


def grouped_bars(
    categories: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], title: str
) -> SafeString:
    """ROUGE-L per task (categories) for several models (series: label, values in 0-100)."""
    width, height, left, bottom, top = 640, 260, 40, 60, 24
    values = [v for _, vs in series for v in vs if v is not None]
    hi = max(values or [1.0]) * 1.1 or 1.0
    plot_w, plot_h = width - left - 10, height - top - bottom
    slot = plot_w / max(1, len(categories))
    bar = slot * 0.8 / max(1, len(series))
    body = [f'<text x="{width / 2}" y="14" text-anchor="middle">{escape(title)}</text>']
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#333"/>')
    for c, name in enumerate(categories):
        x0 = left + c * slot + slot * 0.1
        for s, (label, vs) in enumerate(series):
            v = vs[c]
            if v is None:
                continue
            h = plot_h * v / hi
            body.append(
                f'<rect x="{x0 + s * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(label)} {escape(name)}: {v:.1f}</title></rect>'
            )
        cx = left + c * slot + slot / 2
        body.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="end" '
            f'transform="rotate(-30 {cx:.1f} {top + plot_h + 14})">'
            f"{escape(name)}</text>"
        )
    for s, (label, _) in enumerate(series):
        body.append(
            f'<rect x="{left + s * 150}" y="{height - 14}" width="10" height="10" fill="{COLOURS[s % len(COLOURS)]}"/>'
        )
        body.append(f'<text x="{left + s * 150 + 14}" y="{height - 5}">{escape(label[:20])}</text>')
    return _svg(width, height, body, title)
