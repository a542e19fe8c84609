#!/usr/bin/env python3
"""Benchmark of `tzel-wallet sync` against tzel-rollup-sim; prints one JSON
document on stdout (progress on stderr).

Measures, with the real binaries:
  * throughput: leaves/s and requests per leaf at 0 and 40 ms per request for
    concurrency 1, 4, 16, 32, 64, and the ratio of the wall-clock time to the
    bound requests x latency / concurrency (1.0 = the network bound);
  * yield latency: from creating <wallet>.yield to the wallet lock being
    released, at 40 ms per request and K = 250, p50 / p99 over N yields;
  * peak RSS of a sync of a large chain (target <= 64 MiB at 200,000 leaves).

Sizes (environment):
  BENCH_QUICK=1                  small sizes, a few minutes in all
  BENCH_SYNC_LEAVES              chain for throughput and yields (20000; quick 6000)
  BENCH_SYNC_RSS_LEAVES          chain for the RSS run (200000; quick 30000)
  BENCH_SYNC_SECS                target seconds per 40 ms throughput run (4; quick 2)
  BENCH_SYNC_YIELDS              yields measured (30; quick 12)
  BENCH_SYNC_CONCURRENCY         comma list (1,4,16,32,64,auto)
The wallet (one address: its auth tree takes a while) and the chains are
cached under out/bench-cache and out/chain-cache.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.environ.get("TZ_SOURCE_DIR", ROOT), "tests", "integration"))
import tzlib  # noqa: E402

BIN = tzlib.BIN
WALLET_BIN = tzlib.WALLET_BIN
QUICK = os.environ.get("BENCH_QUICK") == "1"


def env_int(name, full, quick):
    return int(os.environ.get(name, quick if QUICK else full))


LEAVES = env_int("BENCH_SYNC_LEAVES", 20000, 6000)
RSS_LEAVES = env_int("BENCH_SYNC_RSS_LEAVES", 200000, 30000)
RUN_SECS = env_int("BENCH_SYNC_SECS", 4, 2)
YIELDS = env_int("BENCH_SYNC_YIELDS", 30, 12)
# "auto" is the default (no flag): its bound is taken at its ceiling, 64 in flight
CONCURRENCIES = [x if x == "auto" else int(x) for x in
                 os.environ.get("BENCH_SYNC_CONCURRENCY", "1,4,16,32,64,auto").split(",")]
CACHE = os.path.join(ROOT, "out", "chain-cache")
WCACHE = os.path.join(ROOT, "out", "bench-cache")
TMP = tempfile.mkdtemp(prefix="tz-bench-sync-")
BENCH_SK = "1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff001"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def start_sim(leaves, seed, **kw):
    """A tzel-rollup-sim (SimServer.start keywords) with the bench's chain
    cache: no limit to start (a large chain takes a while) nor to stop,
    60 s per request."""
    return tzlib.SimServer.start(leaves, seed, cache=CACHE, timeout=None, stop_timeout=None,
                                 http_timeout=60, **kw)


def fixture():
    """A one-address wallet and its payment address, cached across runs."""
    return tzlib.bench_wallet(WCACHE, BENCH_SK, "bench sync")


def wallet_at(src, name, cursor):
    """A copy of the fixture wallet whose cursor is `cursor` (no frontier)."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "wallet.json")
    doc = json.load(open(src))
    doc["scanned"] = cursor
    doc.pop("tzel_c_sync", None)
    doc["notes"] = []
    with open(path, "w") as f:
        json.dump(doc, f)
    os.chmod(path, 0o600)
    return path


def sync_cmd(wallet, url, *args):
    return [WALLET_BIN, "-w", wallet, "--rollup-node-url", url, "--json", "sync"] + list(args)


def run_sync(wallet, url, *args):
    """Runs a sync; returns (wall seconds, peak RSS KiB, result)."""
    # Peak RSS through /usr/bin/time: the rusage of a child forked from this
    # Python process would count the interpreter's pages copied at fork.
    rss_file = os.path.join(TMP, "rss.txt")
    cmd = sync_cmd(wallet, url, *args)
    if os.path.exists("/usr/bin/time"):
        cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t
    if r.returncode != 0:
        raise RuntimeError("sync failed: exit %d: %s" % (r.returncode, r.stderr[-1000:]))
    rss = None
    if os.path.exists(rss_file):
        rss = int(open(rss_file).read().split()[-1])
        os.unlink(rss_file)
    return wall, rss, json.loads(r.stdout)["result"]


def throughput(w0, addr):
    sim = start_sim(LEAVES, "bench-sync", pay=addr + ":10")
    rows = []
    try:
        for lat in (0, 40):
            sim.post("latency", {"ms": lat})
            for c in CONCURRENCIES:
                cn = 64 if c == "auto" else c
                if lat == 0:
                    n = LEAVES
                else:
                    # ~RUN_SECS at the bound (1 request per leaf)
                    n = min(LEAVES, max(20, int(RUN_SECS * cn / (lat / 1000.0))))
                w = wallet_at(w0, "tp-%d-%s" % (lat, c), LEAVES - n)
                sim.reset()
                flags = () if c == "auto" else ("--concurrency", str(c))
                wall, rss, res = run_sync(w, sim.url, *flags)
                cnt = sim.counters()
                reqs = sim.rpc_requests(cnt)
                bound = reqs * lat / 1000.0 / cn
                row = {"latency_ms": lat, "concurrency": c, "leaves": n,
                       "secs": round(wall, 3), "leaves_per_sec": round(n / wall, 1),
                       "requests": reqs, "requests_per_leaf": round(reqs / n, 3),
                       "bound_secs": round(bound, 3),
                       "ratio_to_bound": round(wall / bound, 3) if bound else None,
                       "connections": cnt["connections_accepted"] - 1,
                       "peak_rss_kib": rss}
                log("bench sync:", json.dumps(row))
                rows.append(row)
        # the chunked path (no `values` route): requests per note
        sim.post("latency", {"ms": 0})
        n = min(LEAVES, 2000)
        w = wallet_at(w0, "tp-chunked", LEAVES - n)
        sim.reset()
        wall, rss, res = run_sync(w, sim.url, "--concurrency", "16", "--no-values-route")
        reqs = sim.rpc_requests()
        chunked = {"leaves": n, "requests_per_leaf": round(reqs / n, 3),
                   "leaves_per_sec": round(n / wall, 1)}
        log("bench sync: chunked", json.dumps(chunked))
    finally:
        sim.stop()
    return rows, chunked


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * (len(xs) - 1)))))
    return xs[k]


def yield_latency(w0, addr, concurrency=32):
    sim = start_sim(LEAVES, "bench-sync", pay=addr + ":10", latency_ms=40)
    lat = []
    try:
        w = wallet_at(w0, "yield", 0)
        lock = w + ".lock"
        sent = w + ".yield"
        rng = random.Random(7)
        for i in range(YIELDS):
            if json.load(open(w))["scanned"] >= LEAVES - 500:
                doc = json.load(open(w))
                doc["scanned"] = 0
                doc.pop("tzel_c_sync", None)
                json.dump(doc, open(w, "w"))
            p = subprocess.Popen(sync_cmd(w, sim.url, "--checkpoint-every", "250",
                                          "--concurrency", str(concurrency)),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for line in p.stderr:  # wait for the start event: the lock is held
                if '"event":"start"' in line:
                    break
            time.sleep(0.3 + rng.random() * 1.2)
            with open(sent, "w") as f:
                f.write("%d\n" % os.getpid())
            t = time.perf_counter()
            while os.path.exists(lock):
                time.sleep(0.0005)
            lat.append((time.perf_counter() - t) * 1000.0)
            p.stderr.read()
            p.wait()
            os.unlink(sent)
            if p.returncode != 0:
                raise RuntimeError("yield run failed: exit %d" % p.returncode)
        log("bench sync: yield latencies ms", [round(x, 1) for x in lat])
    finally:
        sim.stop()
    return {"latency_ms": 40, "checkpoint_every": 250, "concurrency": concurrency,
            "samples": len(lat), "p50_ms": round(pct(lat, 50), 1), "p99_ms": round(pct(lat, 99), 1),
            "max_ms": round(max(lat), 1), "target_p99_ms": 1000}


def peak_rss(w0, addr):
    log("bench sync: RSS run over %d leaves (chain generated once, then cached)" % RSS_LEAVES)
    sim = start_sim(RSS_LEAVES, "bench-sync-rss", pay=addr + ":10")
    try:
        w = wallet_at(w0, "rss", 0)
        wall, rss, res = run_sync(w, sim.url, "--concurrency", "32")
    finally:
        sim.stop()
    return {"leaves": RSS_LEAVES, "peak_rss_kib": rss,
            "peak_rss_mib": round(rss / 1024.0, 1) if rss else None,
            "target_mib": 64, "secs": round(wall, 1), "leaves_per_sec": round(RSS_LEAVES / wall, 1),
            "found": res["found"] if res else None}


def main():
    t0 = time.time()
    w0, addr = fixture()
    rows, chunked = throughput(w0, addr)
    y = yield_latency(w0, addr)
    rss = peak_rss(w0, addr)
    at = [r for r in rows if r["latency_ms"] == 40 and r["concurrency"] == 32]
    doc = {
        "bench": "sync",
        "quick": QUICK,
        "cores": os.cpu_count(),
        "throughput": rows,
        "chunked_no_values_route": chunked,
        "target_40ms_c32_ratio": 1.25,
        "ratio_40ms_c32": at[0]["ratio_to_bound"] if at else None,
        "yield": y,
        "rss": rss,
        "total_secs": round(time.time() - t0, 1),
    }
    print(json.dumps(doc, indent=2))
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
