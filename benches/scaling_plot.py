#!/usr/bin/env python3
"""Plots benches/scaling.sh's fan-out RESULT lines as an SVG (stdlib only):
host CPU per update delivered and updates/s in total, against replica connections (log scale).

Usage: benches/scaling_plot.py RESULTS.txt [more.txt...] > plot.svg
"""
import math
import sys

SERIES_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]
W, H, PAD = 420, 260, 48


def read(paths):
    series = {}
    for path in paths:
        for line in open(path):
            if not line.startswith("RESULT scaling=fanout"):
                continue
            kv = dict(x.split("=", 1) for x in line.split()[1:])
            key = f"{kv['what']} {kv['transport']}"
            series.setdefault(key, []).append(
                (int(kv["replicas"]), float(kv["host_cpu_ns_per_update"]), float(kv["total_per_s"]) / 1e6)
            )
    return {k: sorted(v) for k, v in sorted(series.items())}


def panel(x0, title, unit, series, column):
    xs = sorted({n for points in series.values() for n, *_ in points})
    top = max(p[column] for points in series.values() for p in points) * 1.15
    lx = lambda n: x0 + PAD + (math.log10(n) - math.log10(xs[0])) / (math.log10(xs[-1]) - math.log10(xs[0]) or 1) * (W - 2 * PAD)
    ly = lambda v: H - PAD - v / top * (H - 2 * PAD)
    out = [f'<text x="{x0 + W / 2}" y="18" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<line x1="{x0 + PAD}" y1="{H - PAD}" x2="{x0 + W - PAD}" y2="{H - PAD}" stroke="black"/>',
           f'<line x1="{x0 + PAD}" y1="{PAD}" x2="{x0 + PAD}" y2="{H - PAD}" stroke="black"/>',
           f'<text x="{x0 + W / 2}" y="{H - 10}" text-anchor="middle">replica connections</text>',
           f'<text x="{x0 + 12}" y="{H / 2}" transform="rotate(-90 {x0 + 12} {H / 2})" text-anchor="middle">{unit}</text>']
    for n in xs:
        out.append(f'<text x="{lx(n)}" y="{H - PAD + 16}" text-anchor="middle">{n}</text>')
    for i in range(5):
        v = top / 4 * i
        out.append(f'<text x="{x0 + PAD - 4}" y="{ly(v) + 4}" text-anchor="end">{v:.0f}</text>')
    for (name, points), color in zip(series.items(), SERIES_COLORS):
        path = " ".join(f"{lx(p[0]):.1f},{ly(p[column]):.1f}" for p in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{lx(p[0]):.1f}" cy="{ly(p[column]):.1f}" r="3" fill="{color}"/>' for p in points]
    return out


def main():
    series = read(sys.argv[1:])
    body = panel(0, "host CPU per update delivered", "ns", series, 1)
    body += panel(W, "updates delivered per second, all replicas", "millions/s", series, 2)
    for i, (name, color) in enumerate(zip(series, SERIES_COLORS)):
        body.append(f'<text x="{2 * W - PAD - 70}" y="{PAD + 14 * i}" fill="{color}">{name}</text>')
    print(f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H}" '
          f'font-family="sans-serif" font-size="11">')
    print('<rect width="100%" height="100%" fill="white"/>')
    print("\n".join(body))
    print("</svg>")


if __name__ == "__main__":
    main()
