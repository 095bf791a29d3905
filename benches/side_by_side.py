#!/usr/bin/env python3
"""The side-by-side table of docs/PERFORMANCE.md, with ratios, from two harness summaries.

    S=../shared/bench/qtro/tools/summarize.py
    python3 $S table docs/perf/run-rust-….txt > /tmp/ours.md
    python3 $S table docs/perf/run-qt-….txt > /tmp/qt.md
    python3 benches/side_by_side.py /tmp/ours.md /tmp/qt.md

Each ratio reads "how many times better ours is": our rate over Qt's, or Qt's time or memory
over ours; below 1.00x Qt is ahead. Only the medians are kept (the summaries also give ranges).
"""
import re
import sys


def rows(path):
    """(workload, metric) -> [tcp cell, local cell] of a `summarize.py table` output."""
    out = {}
    for line in open(path):
        if not line.startswith("| ") or line.startswith(("| workload", "|---")):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4:
            out[(cells[0], cells[1])] = cells[2:]
    return out


def median(cell):
    m = re.match(r"([\d,.]+)", cell)
    return float(m.group(1).replace(",", "")) if m else None


def higher_is_better(metric):
    """True for rates, False for times and memory, None where no ratio makes sense."""
    if "updates seen" in metric:
        return None
    return "/s" in metric


def main(ours_path, qt_path):
    ours, qt = rows(ours_path), rows(qt_path)
    print("| workload | metric | ours tcp | Qt tcp | ours/Qt tcp | ours local | Qt local | ours/Qt local |")
    print("|---|---|---|---|---|---|---|---|")
    for key, cells in ours.items():
        theirs = qt.get(key, ["–", "–"])
        out = []
        for ours_cell, qt_cell in zip(cells, theirs):
            a, b = median(ours_cell), median(qt_cell)
            higher = higher_is_better(key[1])
            ratio = ""
            if a and b and higher is not None:
                ratio = f"{(a / b if higher else b / a):.2f}×"
            out += [ours_cell.split(" ")[0], qt_cell.split(" ")[0], ratio]
        print("| " + " | ".join([key[0], key[1]] + out) + " |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
