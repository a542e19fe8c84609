#!/usr/bin/env python3
"""Benchmark of `tzel-wallet send` against tzel-rollup-sim; prints one JSON
document on stdout (progress on stderr).

A wallet paid 3 notes in a chain of BENCH_SPEND_LEAVES leaves (20,000) is
synced at 40 ms per request; then, in the same run:
  * `send` with the transparent prover: wall time from start to submission,
    split by the command's own timings_ms (chain reads, note selection,
    change-address derivation, building and signing, saving, proving,
    submitting), and the rollup RPC requests it made (simulator counters);
  * the baseline a spend pays when it rebuilds its Merkle paths from the
    chain, as the reference does at every spend: a full read of every leaf,
    measured as our own sync of the same chain from leaf 0 at the same
    latency (the fastest full read we have), with its request count, and
    the reference's request count at its ~7 requests per leaf (SPENDS.md §2).
Environment: BENCH_SPEND_LEAVES (20000; BENCH_QUICK=1: 5000),
BENCH_SPEND_LATENCY_MS (40).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.environ.get("TZ_SOURCE_DIR", ROOT), "tests", "integration"))
import tzlib  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
LEAVES = int(os.environ.get("BENCH_SPEND_LEAVES", 5000 if QUICK else 20000))
LATENCY = int(os.environ.get("BENCH_SPEND_LATENCY_MS", 40))
CACHE = os.path.join(ROOT, "out", "chain-cache")
WCACHE = os.path.join(ROOT, "out", "bench-cache-spend")
TMP = tempfile.mkdtemp(prefix="tz-bench-spend-")
SENDER_SK = "0c1d2e3f405162738495a6b7c8d9e0f10213243546576879809a0b1c2d3e4f00"
FRIEND_SK = "0e1d2c3b4a5968778695a4b3c2d1e0f00f1e2d3c4b5a69788796a5b4c3d2e100"
PROVER = os.path.join(tzlib.BIN, "tzel-transparent-prover")
REF_REQUESTS_PER_LEAF = 469000 / 67000  # SPENDS.md §2


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def wallet(cmd_wallet, *args, check=True):
    r = subprocess.run([tzlib.WALLET_BIN, "-w", cmd_wallet, "--json"] + list(args),
                       capture_output=True, text=True, timeout=3600)
    if check and r.returncode != 0:
        raise SystemExit("tzel-wallet %s failed: %s" % (args[0], r.stderr[-2000:]))
    return r


def main():
    sender, sender_addr = tzlib.bench_wallet(os.path.join(WCACHE, "sender"), SENDER_SK, "spend")
    _, friend_addr = tzlib.bench_wallet(os.path.join(WCACHE, "friend"), FRIEND_SK, "spend")
    w = tzlib.copy_wallet(sender, os.path.join(TMP, "sender"))
    with tzlib.SimServer.start(LEAVES, "bench-spend", cache=CACHE,
                               pay=sender_addr + ":3:1000000", latency_ms=LATENCY,
                               timeout=None) as sim:
        log("spend: syncing the sender over %d leaves at %d ms (the full read)" %
            (LEAVES, LATENCY))
        sim.reset()
        t = time.monotonic()
        wallet(w, "--rollup-node-url", sim.url, "sync")
        full_s = time.monotonic() - t
        full_requests = sim.rpc_requests()
        json.dump(sim.get("/sim/profile"), open(w + ".network.json", "w"))
        log("spend: send")
        sim.reset()
        t = time.monotonic()
        r = wallet(w, "send", "--to", friend_addr, "--amount", "1000", "--reprove-bin", PROVER,
                   "--executables-dir", TMP)
        send_s = time.monotonic() - t
        requests = sim.rpc_requests()
        res = json.loads(r.stdout)["result"]
        timings = res["timings_ms"]
    out = {
        "leaves": LEAVES,
        "latency_ms": LATENCY,
        "send": {"wall_s": round(send_s, 3), "rpc_requests": requests,
                 "timings_ms": timings,
                 "chain_s": round(timings["reads"] / 1000, 3),
                 "select_and_sign_s": round((timings["select"] + timings["sign"] +
                                             timings["save"]) / 1000, 3),
                 "change_address_s": round(timings["change_address"] / 1000, 3),
                 "prove_s": round(timings["prove"] / 1000, 3),
                 "submit_s": round(timings["submit"] / 1000, 3),
                 "status": res["submission"]["status"]},
        "full_read": {"wall_s": round(full_s, 3), "rpc_requests": full_requests},
        "reference_requests_estimate": round(LEAVES * REF_REQUESTS_PER_LEAF),
        "ratio_requests_vs_reference": round(requests / (LEAVES * REF_REQUESTS_PER_LEAF), 6),
        "ratio_chain_s_vs_full_read": round(timings["reads"] / 1000 / full_s, 4),
        "target_requests_below": 20,
    }
    print(json.dumps(out, indent=2))
    shutil.rmtree(TMP, ignore_errors=True)
    return 0 if requests < 20 else 1


if __name__ == "__main__":
    sys.exit(main())
