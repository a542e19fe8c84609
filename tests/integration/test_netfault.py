#!/usr/bin/env python3
"""The network fault matrix: `tzel-wallet sync` against a simulator that
misbehaves (POST /sim/hostile, /sim/fault), one fault per test.

Each time: the run fails with a clear error (the exit code of its kind and
a message naming the URL) within its time bound, the wallet file is intact
(it parses, its notes are exactly those of an undisturbed sync below its
cursor, no lock or temp file is left), and a later clean run converges to
the undisturbed sync (same notes, cursor, verified root). A head that
moves at every request is not an error: the run reads at its pinned block
and converges at once. The faults already tried elsewhere (HTTP 503 on a
note, a tampered leaf: test_sync.py) are not repeated.

Run all: python3 test_netfault.py; some: python3 test_netfault.py hang drip ...
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tzlib  # noqa: E402
from tzlib import check, load  # noqa: E402

TMP = tempfile.mkdtemp(prefix="tz-it-netfault-")
# The wallet (one auth tree, seconds) and the chain are cached beside the
# binaries, so reruns start at once.
CACHE = os.path.join(tzlib.BIN, "..", "test-cache", "netfault")
MASTER_SK = "3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a02"
LEAVES, PAID = 400, 4
ROOT_KEY = "/tzel/v1/state/tree/root"
STATE = {}
SUMMARY = {}  # fault -> what happened, printed as one JSON line at the end


def note_set(w):
    return sorted((n["index"], n["cm"], n["v"], n["rseed"], n["nk_spend"])
                  for n in w.get("notes", []))


def fresh(name, half=False):
    """A copy of the new wallet, or (half) of one synced to the chain's
    first half (before the second half was appended)."""
    return tzlib.copy_wallet(STATE["half" if half else "fixture"], os.path.join(TMP, name))


def sync(w, *args, timeout=120):
    t = time.time()
    r = tzlib.run_wallet("sync", "--checkpoint-every", "50", *args, wallet=w,
                         url=STATE["sim"].url, json_mode=True, timeout=timeout)
    return r, time.time() - t


def error_of(r):
    try:
        return json.loads(r.stdout)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return r.stdout + r.stderr


def intact(w, before=None):
    """The wallet after a failed run: it parses, its notes are the
    undisturbed sync's below its cursor, nothing left behind; `before`: it
    is byte for byte that file."""
    if before is not None:
        check(tzlib.read_bytes(w) == before, "the failed run changed the wallet file")
    d = load(w)
    ref = STATE["ref"]
    below = [n for n in note_set(ref) if n[0] < d["scanned"]]
    check(note_set(d) == below, "notes at cursor %d are not the undisturbed prefix" % d["scanned"])
    check(not os.path.exists(w + ".lock"), "lock left behind")
    check(not tzlib.temp_files(os.path.dirname(w)), "temp files left behind")
    return d["scanned"]


def converges(w):
    STATE["sim"].post("fault/clear")
    r, _ = sync(w)
    check(r.returncode == 0, "the clean run failed (%d): %s" % (r.returncode, error_of(r)))
    a, b = load(w), STATE["ref"]
    check(note_set(a) == note_set(b), "notes differ from the undisturbed sync")
    check(a["scanned"] == b["scanned"], "cursor %r" % a["scanned"])
    check(a.get("tzel_c_sync") == b.get("tzel_c_sync"), "verified root or frontier differs")


def fails(name, fault, rc, words, args=(), bound=30, route="hostile", names_url=True):
    """A wallet synced half way, then the fault, a run that fails with
    `rc` and every word of `words` in its message within `bound` s, an
    intact file, and convergence once the fault is cleared."""
    sim = STATE["sim"]
    w = fresh(name, half=True)
    sim.post(route, fault)
    try:
        r, secs = sync(w, *args)
    finally:
        sim.post("fault/clear")
    msg = error_of(r)
    check(r.returncode == rc, "%s: exit %d (want %d): %s" % (name, r.returncode, rc, msg))
    for word in ([sim.url] if names_url else []) + list(words):
        check(word in msg, "%s: %r not in the message %r" % (name, word, msg))
    check(secs < bound, "%s: failing took %.1f s (bound %d s)" % (name, secs, bound))
    cursor = intact(w)
    converges(w)
    SUMMARY[name] = {"exit": r.returncode, "seconds": round(secs, 1), "cursor_kept": cursor}
    return msg


# ------------------------------------------------------------------ tests

def test_hang():
    """Accepts and never answers: the run stops after --rpc-timeout-secs,
    re-issues on fresh connections included, naming the URL."""
    fails("hang", {"hang": True}, 5, ["no complete answer within 2 s", "--rpc-timeout-secs"],
          args=("--rpc-timeout-secs", "2"), bound=8)


def test_slow_drip():
    """One byte per second: bounded by the timeout too."""
    fails("slow_drip", {"drip": True}, 5, ["no complete answer within 2 s"],
          args=("--rpc-timeout-secs", "2"), bound=8)


def test_timeout_flag_refused():
    w = fresh("timeout-flag")
    before = tzlib.read_bytes(w)
    for bad in ("0", "abc", "86401"):
        r, _ = sync(w, "--rpc-timeout-secs", bad)
        check(r.returncode == 2 and "rpc-timeout-secs" in error_of(r),
              "--rpc-timeout-secs %s: exit %d %s" % (bad, r.returncode, error_of(r)))
    check(tzlib.read_bytes(w) == before, "a refused run changed the wallet")


def test_reset_mid_body():
    fails("reset_mid_body", {"reset": True, "next": 3}, 5, ["GET "])


def test_truncated_body():
    fails("truncated_body", {"truncate": True, "next": 1}, 5, ["GET "], route="fault")


def test_malformed_json():
    fails("malformed_json", {"malformed_json": True, "next": 1}, 6, ["GET "])


def test_wrong_length_value():
    """tree/root one byte too long (the message names the key and the block)."""
    fails("wrong_length", {"wrong_length": ROOT_KEY, "delta": 1}, 6,
          [ROOT_KEY, "33 bytes", "expected 32"], names_url=False)


def test_note_missing_below_size():
    fails("note_missing", {"missing_note": LEAVES - 7}, 6, ["%016x" % (LEAVES - 7)])


def test_redirect():
    fails("redirect", {"redirect": True, "next": 1}, 5, ["HTTP 302"])


def test_huge_body():
    """10 MB where a felt is expected: refused past the body cap, not read whole, as a
    malformed answer of the node (exit 6), not an out-of-memory failure."""
    fails("huge_body", {"huge": True, "next": 1}, 6, ["exceeds"])


def test_tree_shrinks_between_runs():
    """The wallet is synced to the end; the node then reports fewer leaves."""
    sim = STATE["sim"]
    w = fresh("shrinks")
    r, _ = sync(w)
    check(r.returncode == 0, "first sync: %s" % error_of(r))
    before = tzlib.read_bytes(w)
    sim.post("hostile", {"tree_size": LEAVES - 100})
    try:
        r, secs = sync(w)
    finally:
        sim.post("fault/clear")
    msg = error_of(r)
    check(r.returncode == 6 and str(LEAVES) in msg and str(LEAVES - 100) in msg,
          "exit %d: %s" % (r.returncode, msg))
    intact(w, before)
    converges(w)
    SUMMARY["tree_shrinks"] = {"exit": r.returncode, "seconds": round(secs, 1)}


def test_pinned_block_forgotten_mid_run():
    """The block the run pinned stops being served while it scans."""
    sim = STATE["sim"]
    w = fresh("forgotten")
    sim.post("latency", {"ms": 10})
    try:
        p = subprocess.Popen(tzlib.wallet_cmd("sync", "--checkpoint-every", "50",
                                              "--concurrency", "2", wallet=w, url=sim.url,
                                              json_mode=True),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=tzlib.wallet_env())
        tzlib.wait_for(lambda: os.path.exists(w) and load(w)["scanned"] >= 100, 60,
                       "a checkpoint")
        sim.post("advance")
        sim.post("hostile", {"forget_blocks": True})
        out, _ = p.communicate(timeout=60)
    finally:
        sim.post("latency", {"ms": 0})
        sim.post("fault/clear")
    msg = error_of(subprocess.CompletedProcess([], p.returncode, out, ""))
    check(p.returncode == 5 and "HTTP 500" in msg and sim.url in msg,
          "exit %d: %s" % (p.returncode, msg))
    cursor = intact(w)
    check(100 <= cursor < LEAVES, "cursor %d" % cursor)
    converges(w)
    SUMMARY["pinned_block_forgotten"] = {"exit": p.returncode, "cursor_kept": cursor}


def test_head_moves_every_request():
    """Not an error: every read is at the pinned block."""
    sim = STATE["sim"]
    w = fresh("head-moves")
    level = sim.chain()["level"]
    sim.post("hostile", {"head_moves": True})
    try:
        r, secs = sync(w)
    finally:
        sim.post("fault/clear")
    check(r.returncode == 0, "exit %d: %s" % (r.returncode, error_of(r)))
    check(sim.chain()["level"] > level, "the head did not move")
    a = load(w)
    check(note_set(a) == note_set(STATE["ref"]) and
          a.get("tzel_c_sync") == STATE["ref"].get("tzel_c_sync"), "differs from undisturbed")
    sim.post("fault/clear")
    SUMMARY["head_moves"] = {"exit": 0, "seconds": round(secs, 1)}


def test_daemon_passes_timeout():
    """tzel-walletd --rpc-timeout-secs reaches its sync: a hung node is
    reported in last_error within the bound."""
    sim = STATE["sim"]
    w = fresh("daemon")
    env = tzlib.wallet_env({"TZEL_ROLLUP_NODE_URL": sim.url}, keep_node_env=True)
    sim.post("hostile", {"hang": True})
    p, url = tzlib.spawn_listening([tzlib.DAEMON_BIN, "--wallet", w, "--listen", "127.0.0.1:0",
                                    "--rpc-timeout-secs", "2"],
                                   "tzel-walletd listening on", "daemon", 20, [], env)
    try:
        token = open(w + ".walletd-token").read().strip()
        t = time.time()
        st = tzlib.wait_for(lambda: (lambda s: s if s.get("last_error") else None)(
            tzlib.http_json(url + "/api/status", headers={"Authorization": "Bearer " + token})),
            15, "the sync's error")
        check("no complete answer within 2 s" in st["last_error"],
              "last_error %r" % st["last_error"])
        SUMMARY["daemon_hang"] = {"seconds": round(time.time() - t, 1)}
    finally:
        tzlib.stop_process(p)
        sim.post("fault/clear")


TESTS = [test_timeout_flag_refused, test_hang, test_slow_drip, test_reset_mid_body,
         test_truncated_body, test_malformed_json, test_wrong_length_value,
         test_note_missing_below_size, test_redirect, test_huge_body,
         test_tree_shrinks_between_runs, test_pinned_block_forgotten_mid_run,
         test_head_moves_every_request, test_daemon_passes_timeout]


def setup():
    STATE["fixture"], addr = tzlib.bench_wallet(os.path.join(CACHE, "wallet"), MASTER_SK,
                                                "it-netfault")
    half = LEAVES // 2
    STATE["sim"] = sim = tzlib.SimServer.start(half, "netfault",
                                               cache=os.path.join(CACHE, "chains"),
                                               pay="%s:%d" % (addr, PAID // 2), threads=2,
                                               quiet=True, timeout=180)
    w = fresh("half")
    r, _ = sync(w)
    check(r.returncode == 0 and load(w)["scanned"] == half, "first half: %s" % error_of(r))
    STATE["half"] = w
    # The second half: strangers' notes, and the rest of the wallet's.
    sim.post("append", {"count": half - PAID // 2})
    with open(addr) as f:
        sim.post("append", {"to": json.load(f), "count": PAID - PAID // 2})
    ref = fresh("reference")
    r, _ = sync(ref)
    check(r.returncode == 0, "undisturbed sync: %s" % error_of(r))
    STATE["ref"] = load(ref)
    check(len(STATE["ref"]["notes"]) == PAID, "reference notes")


def teardown():
    if "sim" in STATE:
        STATE["sim"].stop()
    print(json.dumps({"network_faults": SUMMARY}))


if __name__ == "__main__":
    sys.exit(tzlib.run_tests(TESTS, tmp=TMP, setup=setup, teardown=teardown))
