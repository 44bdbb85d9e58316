#!/usr/bin/env python3
"""Plots the scaling curves printed by `stages scale` (lines `SCALE {json}`).

usage: plot.py SCALE_OUTPUT.txt OUT.png
Left: per-operation latency (p99, ms) against stored articles/claims; right: memory and disk.
"""
import json, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main():
    rows = [json.loads(l[6:]) for l in open(sys.argv[1], encoding="utf-8") if l.startswith("SCALE ")]
    if not rows:
        sys.exit("no SCALE lines")
    rows.sort(key=lambda r: r["articles"])
    x = [r["articles"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in [("dedup_p99_ms", "dedup lookup p99"), ("judge_p99_ms", "claim judgement p99"),
                       ("commit_p99_ms", "commit, article + 20 claims, p99")]:
        pts = [(r["articles"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            left.plot(*zip(*pts), marker="o", label=label)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("stored articles (claims = 5 × articles)")
    left.set_ylabel("ms (log)")
    left.set_title("time per operation")
    left.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    feeds = next((r["feeds"] for r in rows if "feeds" in r), "?")
    for key, label in [("daemon_rss_mib", f"daemon peak RSS, {feeds:,} feeds (MiB)"),
                       ("store_mib", "store on disk (MiB)")]:
        pts = [(r["articles"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            right.plot(*zip(*pts), marker="o", label=label)
    right.set_xscale("symlog", linthresh=1000)  # the empty store (0 articles) is a point too
    right.set_yscale("log")
    right.set_xlabel("stored articles (claims = 5 × articles)")
    right.set_title("memory and disk")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    fig.suptitle(rows[0].get("machine", ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
