"""Plot how roll, status and check grow with the parents, from ``tenants.py --json-out``.

Writes an SVG (no plotting library: a few lines, log scales on both axes) of each command's
wall time against the number of parents, beside pg_partman's no-op and the start-up floor,
so that growth that is linear shows as a straight line of slope 1 and a fixed cost as a
flat one. Run it::

    .venv/bin/python benchmarks/tenants.py --json-out /tmp/tenants.json
    .venv/bin/python benchmarks/plot.py /tmp/tenants.json benchmarks/tenants.svg
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

#: Series: the JSON key, its label, its colour.
SERIES = (
    ("floor", "start-up floor", "#999999"),
    ("noop", "roll, nothing to do", "#1f77b4"),
    ("noop_full", "the same, roll --full", "#17becf"),
    ("partman_noop", "pg_partman run_maintenance()", "#d62728"),
    ("status", "status --json", "#2ca02c"),
    ("check", "check", "#9467bd"),
    ("catchup", "roll, one partition per parent", "#ff7f0e"),
    ("catchup_jobs", "the same, roll --jobs 2", "#e377c2"),
    ("ddl_floor", "DDL floor of that (PARTITION OF)", "#8c564b"),
)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 440, 70, 250, 30, 50


def _scale(values: list[float], size: float, flip: bool) -> Any:
    low, high = math.log10(min(values)), math.log10(max(values))
    low, high = math.floor(low), math.ceil(high)

    def at(v: float) -> float:
        share = (math.log10(v) - low) / ((high - low) or 1)
        return size * (1 - share) if flip else size * share

    return at, range(low, high + 1)


def svg(rows: list[dict[str, Any]]) -> str:
    rows = sorted(rows, key=lambda r: r["parents"])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [float(r["parents"]) for r in rows]
    ys = [float(r[k]) for r in rows for k, _, _ in SERIES if r.get(k)]
    x_at, x_ticks = _scale(xs, plot_w, flip=False)
    y_at, y_ticks = _scale(ys, plot_h, flip=True)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<g transform="translate({LEFT},{TOP})">',
        f'<rect width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>',
    ]
    for t in x_ticks:
        x = x_at(10.0**t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{plot_h + 16}" text-anchor="middle">{10**t:,}</text>')
    for t in y_ticks:
        y = y_at(10.0**t)
        label = f"{10.0**t:g} s"
        out.append(f'<line x1="0" x2="{plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="-6" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    out.append(
        f'<text x="{plot_w / 2}" y="{plot_h + 36}" text-anchor="middle">'
        "partitioned tables (12 partitions each), log scale</text>"
    )
    for i, (key, label, colour) in enumerate(SERIES):
        points = [(x_at(float(r["parents"])), y_at(float(r[key]))) for r in rows if r.get(key)]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
        ly = 14 + i * 18
        out.append(
            f'<line x1="{plot_w + 12}" x2="{plot_w + 32}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        out.append(f'<text x="{plot_w + 38}" y="{ly + 4}">{label}</text>')
    out += ["</g>", "</svg>"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("figures", type=Path, help="the JSON tenants.py --json-out wrote")
    p.add_argument("out", type=Path, help="the SVG to write")
    args = p.parse_args(argv)
    args.out.write_text(svg(json.loads(args.figures.read_text())))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
