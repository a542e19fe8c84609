#!/usr/bin/env python3
"""Benchmark of tzel-detect against tzel-rollup-sim; prints one JSON document
on stdout (progress on stderr).

For 1, 10 and 100 detect wallets (one address each) over a chain at 40 ms
per request: the wall time of one tzel-detect pass (process start to every
wallet at the tree size), beside the same wallets synced one after another
with `tzel-wallet watch sync`, and the bounds of a pass:
  network: leaves x latency / 64 in flight (auto's ceiling),
  CPU:     wallets x leaves / (cores x detections per second per core).

Sizes (environment):
  BENCH_QUICK=1              4,000 leaves, sequential syncs measured for at most
                             10 wallets (100 extrapolated from the 10)
  BENCH_DETECT_LEAVES        chain size (20000; quick 4000)
  BENCH_DETECT_WALLETS       comma list (1,10,100)
  BENCH_DETECT_SEQ_MAX       sequential syncs measured per point (100; quick 10);
                             beyond it the time is extrapolated, and said so
  BENCH_DETECT_RATE          detections per second per core for the CPU bound
                             (default: bench-core's one-shot non-matching
                             detection rate, measured at the start of the run)
  BENCH_DETECT_K             TZEL_SYNC_CHECKPOINT_EVERY for both sides (2000)
"""
import json
import resource
import os
import secrets
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.environ.get("TZ_SOURCE_DIR", ROOT), "tests", "integration"))
import tzlib  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK") == "1"
LEAVES = int(os.environ.get("BENCH_DETECT_LEAVES", 4000 if QUICK else 20000))
WALLETS = [int(x) for x in os.environ.get("BENCH_DETECT_WALLETS", "1,10,100").split(",")]
SEQ_MAX = int(os.environ.get("BENCH_DETECT_SEQ_MAX", 10 if QUICK else 100))
RATE_ENV = os.environ.get("BENCH_DETECT_RATE")
K = os.environ.get("BENCH_DETECT_K", "2000")
LATENCY_MS = 40
CACHE = os.path.join(ROOT, "out", "chain-cache")
TMP = tempfile.mkdtemp(prefix="tz-bench-detect-")
DETECT_BIN = os.path.join(tzlib.BIN, "tzel-detect")
CORES = os.cpu_count() or 1


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def felt():
    b = bytearray(secrets.token_bytes(32))
    b[31] &= 7
    return b.hex()


def make_wallets(folder, n):
    """n fresh detect watch wallets (random detect_root, one address)."""
    os.makedirs(folder)
    paths = []
    for i in range(n):
        m = os.path.join(folder, "m%d.json" % i)
        with open(m, "w") as f:
            json.dump({"mode": "detect", "version": 1, "detect_root": felt(), "addr_count": 1}, f)
        w = os.path.join(folder, "w%03d.json" % i)
        r = tzlib.run_wallet("watch", "init", "--material", m, wallet=w)
        if r.returncode:
            raise RuntimeError("watch init: " + r.stderr)
        paths.append(w)
    return paths


def scanned(w):
    try:
        return tzlib.load(w)["scanned"]
    except (OSError, ValueError):
        return -1


def one_pass(paths, url):
    env = dict(os.environ, TZEL_SYNC_CHECKPOINT_EVERY=K)
    args = [DETECT_BIN, "--bind", "127.0.0.1:0", "--rollup-node-url", url,
            "--interval-secs", "86400"]
    for w in paths:
        args += ["--wallet", w]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        # the pass's time is the service's own (its round line); reading
        # every wallet file often would take CPU from it
        tzlib.wait_for(lambda: all(scanned(w) == LEAVES for w in paths), 3600, "the pass",
                       step=0.25)
        wall = time.time() - t0
    finally:
        p.terminate()
        _, err = p.communicate(timeout=60)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # the service times its rounds: "tzel-detect: round 1: S s"
    rounds = [float(l.split()[3]) for l in err.splitlines() if l.startswith("tzel-detect: round 1:")]
    return (rounds[0] if rounds else wall), wall, cpu


def sequential(paths, url):
    env = {"TZEL_SYNC_CHECKPOINT_EVERY": K}
    t0 = time.time()
    for w in paths:
        r = tzlib.run_wallet("watch", "sync", wallet=w, url=url, env=env, timeout=3600)
        if r.returncode:
            raise RuntimeError("watch sync: " + r.stderr[-500:])
    return time.time() - t0


def detect_rate():
    """bench-core's one-shot detections per second per core (thread CPU time)."""
    if RATE_ENV:
        return float(RATE_ENV)
    core = json.loads(subprocess.run([os.path.join(tzlib.BIN, "bench-core"), "--quick",
                                      "--kem-only"], capture_output=True, text=True,
                                     check=True).stdout)
    return core["nonmatching_notes_detected_per_s_per_core"]


def main():
    global RATE
    RATE = detect_rate()
    log("detect: %.0f detections/s per core (bench-core)" % RATE)
    os.makedirs(CACHE, exist_ok=True)
    out = {"leaves": LEAVES, "latency_ms": LATENCY_MS, "cores": CORES, "checkpoint_every": int(K),
           "detections_per_sec_per_core": RATE, "points": []}
    with tzlib.SimServer.start(LEAVES, "bench-detect", cache=CACHE, timeout=None,
                               stop_timeout=None, http_timeout=60, latency_ms=LATENCY_MS) as sim:
        for n in WALLETS:
            folder = os.path.join(TMP, "n%d" % n)
            paths = make_wallets(folder + "-pass", n)
            sim.reset()
            log("detect: one pass for %d wallet(s) over %d leaves" % (n, LEAVES))
            load0 = os.getloadavg()[0]
            wall, process, cpu_used = one_pass(paths, sim.url)
            reads = sim.counters()["requests"]["values"]
            seq_n = min(n, SEQ_MAX)
            seq_paths = make_wallets(folder + "-seq", seq_n)
            log("detect: %d watch sync(s) one after another" % seq_n)
            seq = sequential(seq_paths, sim.url) * n / seq_n
            net = LEAVES * LATENCY_MS / 1000.0 / 64
            cpu = n * LEAVES / (CORES * RATE)
            bound = max(net, cpu)
            pt = {"wallets": n, "pass_secs": round(wall, 2),
                  "process_start_to_done_secs": round(process, 2), "leaves_read": reads,
                  "network_bound_secs": round(net, 2), "cpu_bound_secs": round(cpu, 2),
                  "pass_over_bound": round(wall / bound, 2),
                  # the pass's CPU time over the detections' CPU time at RATE: how
                  # much work besides the detections (1.0 = none); immune to a
                  # machine shared with other jobs, unlike the wall time
                  "pass_cpu_secs": round(cpu_used, 2),
                  "pass_cpu_over_detections": round(cpu_used / (n * LEAVES / RATE), 2),
                  "load_average_before": round(load0, 2),
                  "sequential_secs": round(seq, 2), "sequential_measured": seq_n,
                  "sequential_over_pass": round(seq / wall, 1)}
            log(json.dumps(pt))
            out["points"].append(pt)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
