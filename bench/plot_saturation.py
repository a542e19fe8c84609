#!/usr/bin/env python3
"""Draws bench/fastdefault.py's saturation part: the node's throughput and
mean request latency against time, for the default (auto) and a fixed 128
in flight, beside the node's capacity and idle latency.

    plot_saturation.py SATURATION.json OUT.png

SATURATION.json is the "saturation" object of bench/fastdefault.py's
output. Needs matplotlib (Debian: python3-matplotlib)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src, out):
    sat = json.load(open(src))
    runs = [("default (auto)", sat["auto"], "tab:blue")]
    runs += [("fixed %d" % r["concurrency"], r, "tab:red") for r in sat["fixed"]
             if r["concurrency"] == 128]
    best = [r for r in sat["fixed"] if r["concurrency"] == sat["best_fixed"]]
    if best and best[0]["concurrency"] != 128:
        runs.append(("fixed %d (best fixed)" % best[0]["concurrency"], best[0], "tab:gray"))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    for label, r, color in runs:
        s = [p for p in r["series"] if p[2] is not None]
        t = [p[0] for p in s]
        ax1.plot(t, [p[1] for p in s], label=label, color=color)
        ax2.plot(t, [p[2] for p in s], label=label, color=color)
    ax1.axhline(sat["capacity_rps"], color="black", linestyle=":", linewidth=1,
                label="node capacity (%d requests/s)" % sat["capacity_rps"])
    ax2.axhline(sat["idle_latency_ms"], color="black", linestyle=":", linewidth=1,
                label="idle latency (%.1f ms)" % sat["idle_latency_ms"])
    ax2.axhline(1.5 * sat["idle_latency_ms"], color="black", linestyle="--", linewidth=0.8,
                label="1.5 x idle")
    ax1.set_ylabel("requests/s served")
    ax2.set_ylabel("mean request latency (ms)")
    ax2.set_xlabel("seconds since the sync started")
    ax1.set_title("sync of %d leaves, node at --capacity-rps %d --latency-ms %d"
                  % (sat["leaves"], sat["capacity_rps"], sat["latency_ms"]))
    ax1.legend(loc="lower right", fontsize=8)
    ax2.legend(loc="upper right", fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.grid(alpha=0.3)
    ax2.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
