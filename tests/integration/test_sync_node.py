#!/usr/bin/env python3
"""Integration tests of `tzel-wallet sync` where the node is not the usual
one: notes laid out otherwise (the fallbacks), a node that accepts fewer
connections than the concurrency, and the yield bound with the default
adaptive concurrency at its widest. Against the real tzel-rollup-sim,
asserting on exit codes, the wallet file and the simulator's counters.

The wallet has no address (`init --addresses 0`: no auth tree to build):
these tests are about what is read and when, not about found notes.

Run all: python3 test_sync_node.py; some: python3 test_sync_node.py fallback ...
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tzlib import check, load  # noqa: E402
import tzlib  # noqa: E402

TMP = tempfile.mkdtemp(prefix="tz-it-sync-node-")
CACHE = os.path.join(TMP, "chain-cache")
FIXTURE = os.path.join(TMP, "fixture")


def start_sim(leaves, seed, **kw):
    return tzlib.SimServer.start(leaves, seed, cache=CACHE, threads=2, **kw)


def run_wallet(wallet, url, *args, timeout=180):
    return tzlib.run_wallet(*args, wallet=wallet, url=url, json_mode=True, timeout=timeout)


def spawn_wallet(wallet, url, *args):
    return tzlib.spawn_wallet(*args, wallet=wallet, url=url, json_mode=True)


def events(stderr):
    out = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def envelope(stdout):
    return json.loads(stdout)


def new_wallet_dir(name):
    return tzlib.copy_wallet(os.path.join(FIXTURE, "wallet.json"), os.path.join(TMP, name))


def sentinel(wallet):
    return wallet + ".yield"


def sync_ok(wallet, url, *args):
    r = run_wallet(wallet, url, "sync", *args)
    check(r.returncode == 0, "sync failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    return r, envelope(r.stdout)["result"]


def watch_events(proc, on_event, deadline):
    """Feeds JSON events from proc.stderr to on_event until it returns True."""
    for line in proc.stderr:
        line = line.strip()
        if line.startswith("{"):
            if on_event(json.loads(line)):
                return True
        if time.time() > deadline:
            break
    return False


def make_fixture():
    os.makedirs(FIXTURE)
    r = tzlib.run_wallet("init", "--addresses", "0", wallet=os.path.join(FIXTURE, "wallet.json"),
                         timeout=60)
    check(r.returncode == 0, "init failed: " + r.stderr)


# ------------------------------------------------------------------ tests


def test_note_fallbacks():
    """Notes not laid out as len + chunks 0..3 of a PublishedNote (simulator
    shapes): each is read through the general layout, in the reference's
    order where chunk 0 is absent (the direct key, then len), and ends in
    the error that names the leaf, with the prefix before it kept; the
    reads of notes/<i> keys show which way was taken. A later run against
    the usual layout finishes."""
    leaf = 500
    # (shape, route flag, expected exit, words of the error, note key reads)
    cases = [
        ("undecodable", [], 6, "not a PublishedNote (3487 bytes", {"note": 1, "len": 0}),
        ("undecodable", ["--no-values-route"], 6, "not a PublishedNote (3487 bytes",
         {"note": 0, "len": 1}),
        ("no_chunk0", [], 6, "lists 3 of its 4 chunks", {"note": 1, "len": 0}),
        ("no_chunk0", ["--no-values-route"], 6, "chunk 0 of note 500 absent",
         {"note": 1, "len": 1}),
        ("small", [], 6, "not a PublishedNote (100 bytes", {"note": 2, "len": 0}),
        ("small", ["--no-values-route"], 6, "not a PublishedNote (100 bytes",
         {"note": 1, "len": 0}),
    ]
    with start_sim(1000, "perleaf") as sim:
        for shape, flags, code, words, keys in cases:
            name = "fallback-%s%s" % (shape, "-novalues" if flags else "")
            w = new_wallet_dir(name)
            sim.post("fault/clear")
            sim.post("fault", {"shape": shape, "note_index": leaf})
            sim.reset()
            r = run_wallet(w, sim.url, "sync", "--checkpoint-every", "100", *flags)
            c = sim.counters()
            err = envelope(r.stdout).get("error", {}).get("message", "") if r.stdout else ""
            check(r.returncode == code and words in (err or r.stderr) and
                  ("leaf %d" % leaf in (err or r.stderr) or "note %d" % leaf in (err or r.stderr)),
                  "%s: exit %d: %s" % (name, r.returncode, (err or r.stderr)[-600:]))
            got = {k: c["note_keys"][k] for k in keys}
            check(got == keys, "%s: reads of notes/<i> keys %r, expected %r (all: %r)"
                  % (name, got, keys, c["note_keys"]))
            cur = load(w).get("scanned")
            check(cur is not None and cur <= leaf and cur % 100 == 0,
                  "%s: cursor %r after the error" % (name, cur))
            sim.post("fault/clear")
            r, res = sync_ok(w, sim.url, *flags)
            check(res["scanned"] == 1000, "%s: the next run finishes: %r" % (name, res))


def test_concurrency_above_connection_limit():
    """A pinned --concurrency above the connections the node accepts (32
    against --max-connections 8; 128 against the default 100, like Octez)
    does not stall: requests on connections left in the node's backlog are
    abandoned and issued again, and in flight is held to what the node
    accepted. It used to wait a minute and exit 5 ("Operation too slow")."""
    with start_sim(2000, "connlimit", latency_ms=2, extra=["--max-connections", "8"]) as sim:
        w = new_wallet_dir("connlimit-8")
        sim.reset()
        t0 = time.time()
        r = run_wallet(w, sim.url, "sync", "--concurrency", "32", timeout=45)
        wall = time.time() - t0
        check(r.returncode == 0, "32 against 8 connections: exit %d after %.1f s: %s"
              % (r.returncode, wall, r.stderr[-1500:]))
        res = envelope(r.stdout)["result"]
        limits = [e["in_flight_limit"] for e in events(r.stderr) if e["event"] == "progress"]
        c = sim.counters()
        # 2,000 requests at 2 ms over 8 connections: 0.5 s, plus the 1 s accept wait
        # (stalled, it waited 60 s for curl's low-speed timeout, then exit 5)
        check(res["scanned"] == 2000 and wall < 15, "32 against 8: %.1f s, %r" % (wall, res))
        check(limits and limits[-1] == 8 and c["peak_connections"] <= 8,
              "in flight held to 8: %r, %r" % (limits[-5:], c))
        print("  concurrency 32, 8 connections: %.1f s, in flight %s, %d connections accepted"
              % (wall, sorted(set(limits)), c["connections_accepted"]))
    with start_sim(3000, "connlimit", latency_ms=5) as sim:
        w = new_wallet_dir("connlimit-128")
        t0 = time.time()
        r = run_wallet(w, sim.url, "sync", "--concurrency", "128", timeout=45)
        wall = time.time() - t0
        check(r.returncode == 0 and envelope(r.stdout)["result"]["scanned"] == 3000 and wall < 20,
              "128 against 100 connections: exit %d after %.1f s: %s"
              % (r.returncode, wall, r.stderr[-1500:]))
        print("  concurrency 128, 100 connections: %.1f s" % wall)


def test_yield_under_auto():
    """The yield bound holds with the default adaptive concurrency at its
    widest: at 40 ms per request and 32 or more requests in flight, a
    sentinel raised mid-batch ends the sync (lock released) within the
    same 1.5 s as with a small pinned concurrency, the prefix saved."""
    with start_sim(4000, "autoyield", latency_ms=40) as sim:
        w = new_wallet_dir("autoyield")
        p = spawn_wallet(w, sim.url, "sync", "--checkpoint-every", "250")
        raised = {}

        def on_event(e):
            if (e["event"] == "progress" and e["in_flight_limit"] >= 32 and
                    e["scanned"] >= 300 and not raised):
                with open(sentinel(w) + ".tmp", "w") as f:
                    f.write("%d\n" % os.getpid())
                os.rename(sentinel(w) + ".tmp", sentinel(w))
                raised["t"] = time.time()
                raised["at"] = e["scanned"]
                raised["limit"] = e["in_flight_limit"]
                return True
            return False

        check(watch_events(p, on_event, time.time() + 120), "auto never reached 32 in flight")
        while os.path.exists(w + ".lock") and time.time() - raised["t"] < 30:
            time.sleep(0.002)
        took = time.time() - raised["t"]
        out, err = p.communicate(timeout=60)
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, err[-1000:]))
        res = envelope(out)["result"]
        s = load(w)["scanned"]
        check(res["yielded"] and raised["at"] <= s < 4000, "result %r, cursor %d" % (res, s))
        check(took < 1.5, "yield took %.2f s at %d in flight" % (took, raised["limit"]))
        print("  auto yield: lock released %.0f ms after the sentinel, %d in flight"
              % (took * 1000, raised["limit"]))
        os.unlink(sentinel(w))


TESTS = [
    ("fallback", test_note_fallbacks),
    ("connlimit", test_concurrency_above_connection_limit),
    ("autoyield", test_yield_under_auto),
]


def main():
    return tzlib.run_tests(TESTS, TMP, make_fixture)


if __name__ == "__main__":
    sys.exit(main())
