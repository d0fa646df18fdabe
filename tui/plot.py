"""Character plots: a sparkline and a small column chart that read without colour."""
from __future__ import annotations

BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: list[float], lo: float = 0.0, hi: float = 1.0) -> str:
    """One character per value, eight levels; a value above `lo` never shows as blank."""
    span = hi - lo or 1.0
    out = []
    for v in values:
        level = round((min(max(v, lo), hi) - lo) / span * 8)
        if level == 0 and v > lo:
            level = 1
        out.append(BLOCKS[level] if level else "_")
    return "".join(out)


def resample(points: list[tuple[int, float]], width: int) -> list[tuple[int, float]]:
    """At most `width` points, evenly spread over the curve, first and last kept."""
    if len(points) <= width:
        return points
    step = (len(points) - 1) / (width - 1)
    return [points[round(i * step)] for i in range(width)]


def column_chart(points: list[tuple[int, float]], *, height: int = 6, width: int = 64,
                 lo: float = 0.0, hi: float = 1.0, y_format: str = "{:.2f}") -> list[str]:
    """Rows of a column chart, top first: a y axis with labels, one column per point, x labels below."""
    pts = resample(points, width)
    if not pts:
        return ["(no data)"]
    labels = [y_format.format(hi), y_format.format((hi + lo) / 2), y_format.format(lo)]
    pad = max(len(s) for s in labels)
    span = hi - lo or 1.0
    levels = [round((min(max(v, lo), hi) - lo) / span * height * 8) for _, v in pts]
    rows = []
    for r in range(height, 0, -1):
        floor = (r - 1) * 8
        cells = []
        for lv in levels:
            fill = lv - floor
            cells.append("█" if fill >= 8 else BLOCKS[fill] if fill > 0 else " ")
        if r == height:
            label = labels[0]
        elif r == (height + 1) // 2:
            label = labels[1]
        else:
            label = ""
        rows.append(f"{label:>{pad}} ┤" + "".join(cells))
    rows.append(f"{labels[2]:>{pad}} └" + "─" * len(pts))
    first, last = f"K={pts[0][0]}", f"{pts[-1][0]}"
    gap = max(1, len(pts) - len(first) - len(last))
    rows.append(" " * (pad + 2) + first + " " * gap + last)
    return rows


def saturation_k(points: list[tuple[int, float]], share: float = 0.95) -> int | None:
    """The smallest K reaching `share` of the curve's final value (None for an all-zero curve)."""
    if not points or points[-1][1] <= 0:
        return None
    target = points[-1][1] * share
    for k, v in points:
        if v >= target:
            return k
    return points[-1][0]
