#!/usr/bin/env python3
"""Integration tests of `tzel-wallet sync` against the real tzel-rollup-sim.

Each test runs the real binaries as a user (or the daemon) would, and asserts
on the wallet file, exit codes, the sentinel file and the simulator's
counters. One wallet (one address) is created per run of this module and
copied for each test; chains are small and cached.

Run all: python3 test_sync.py; some: python3 test_sync.py k7 tampered ...
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tzlib import SIM_BIN, check, load  # noqa: E402
import tzlib  # noqa: E402

TMP = tempfile.mkdtemp(prefix="tz-it-sync-")
CACHE = os.path.join(TMP, "chain-cache")
FIXTURE = os.path.join(TMP, "fixture")
K0_MSG = '--checkpoint-every must be a positive integer (got "0")'


# ---------------------------------------------------------------- helpers

def start_sim(leaves, seed, **kw):
    """A tzel-rollup-sim on a free port (SimServer.start keywords), with this
    run's chain cache and two generator threads."""
    return tzlib.SimServer.start(leaves, seed, cache=CACHE, threads=2, **kw)


def run_wallet(wallet, url, *args, json_mode=True, env=None, timeout=180):
    return tzlib.run_wallet(*args, wallet=wallet, url=url, json_mode=json_mode, env=env,
                            timeout=timeout)


def spawn_wallet(wallet, url, *args, json_mode=True):
    return tzlib.spawn_wallet(*args, wallet=wallet, url=url, json_mode=json_mode)


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


def note_set(w):
    return sorted((n["index"], n["cm"], n["v"], n["rseed"], n["nk_spend"]) for n in w.get("notes", []))


def new_wallet_dir(name):
    return tzlib.copy_wallet(os.path.join(FIXTURE, "wallet.json"), os.path.join(TMP, name))


def sentinel(wallet):
    return wallet + ".yield"


def sync_ok(wallet, url, *args, env=None):
    r = run_wallet(wallet, url, "sync", *args, env=env)
    check(r.returncode == 0, "sync failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    return r, envelope(r.stdout)["result"]


def make_fixture():
    os.makedirs(FIXTURE)
    w = os.path.join(FIXTURE, "wallet.json")
    r = tzlib.run_wallet("init", "--addresses", "0", wallet=w, timeout=300)
    check(r.returncode == 0, "init failed: " + r.stderr)
    r = tzlib.run_wallet("receive", "--out", os.path.join(FIXTURE, "addr.json"), wallet=w,
                         timeout=600)
    check(r.returncode == 0, "receive failed: " + r.stderr)


ADDR = lambda: os.path.join(FIXTURE, "addr.json")  # noqa: E731


# ------------------------------------------------------------------ tests

def test_k0_refused():
    """K = 0 or a non-number is refused before any request, with a stable message."""
    with start_sim(40, "k0", pay=ADDR() + ":2") as sim:
        w = new_wallet_dir("k0")
        before = open(w, "rb").read()
        sim.reset()
        for args, env, msg in [
            (["--checkpoint-every", "0"], {}, K0_MSG),
            (["--checkpoint-every", "abc"], {}, '--checkpoint-every must be a positive integer (got "abc")'),
            ([], {"TZEL_SYNC_CHECKPOINT_EVERY": "0"},
             'TZEL_SYNC_CHECKPOINT_EVERY must be a positive integer (got "0")'),
            (["--concurrency", "129"], {}, "--concurrency is 129, above the limit of 128"),
            (["--concurrency", "0"], {}, "--concurrency must be a positive integer"),
        ]:
            r = run_wallet(w, sim.url, "sync", *args, env=env)
            check(r.returncode == 2, "exit %d for %s %s" % (r.returncode, args, env))
            check(msg in r.stderr, "message %r not in %r" % (msg, r.stderr))
            err = envelope(r.stdout)["error"]
            check(err["exit"] == 2 and msg in err["message"], "envelope %r" % err)
        r = run_wallet(w + ".missing", sim.url, "sync")
        check(r.returncode == 3 and envelope(r.stdout)["error"]["exit"] == 3,
              "missing wallet: exit %d" % r.returncode)
        c = sim.counters()
        check(sim.rpc_requests(c) == 0, "requests were made: %r" % c["requests"])
        # the only connection accepted since the reset is this counters request
        check(c["connections_accepted"] <= 1, "connections were opened: %r" % c)
        check(open(w, "rb").read() == before, "wallet file changed")
        check(not os.path.exists(w + ".lock"), "lock left behind")


def test_huge_k_printed_as_a_number():
    """K = 2^64 - 1 is one batch and its JSON events print it as a number (an internal
    marker string used to leak); K beyond 2^64 is refused with the stable message."""
    with start_sim(40, "k0", pay=ADDR() + ":2") as sim:
        w = new_wallet_dir("hugek")
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "18446744073709551615")
        start = [e for e in events(r.stderr) if e["event"] == "start"]
        check(start and start[0]["checkpoint_every"] == 18446744073709551615 and
              "tzel-c-number" not in r.stderr + r.stdout, "start event %r" % start)
        r = run_wallet(w, sim.url, "sync", "--checkpoint-every", "99999999999999999999")
        check(r.returncode == 2 and envelope(r.stdout)["error"]["message"] ==
              '--checkpoint-every must be a positive integer (got "99999999999999999999")',
              "exit %d %r" % (r.returncode, r.stdout))


def test_k7_honoured():
    """--checkpoint-every 7 saves at 7, 14, ..., the end; the env var is honoured too."""
    with start_sim(100, "k7", pay=ADDR() + ":3") as sim:
        w = new_wallet_dir("k7")
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "7")
        cps = [e["scanned"] for e in events(r.stderr) if e["event"] == "checkpoint"]
        expect = list(range(7, 100, 7)) + [100, 100]  # the last one is finalize's save
        check(cps == expect, "checkpoints %r" % cps)
        check(res["scanned"] == 100 and res["tree_size"] == 100, "result %r" % res)
        check(res["found"] == 3 and res["verified_root"] == sim.chain()["root"], "result %r" % res)
        check(load(w)["scanned"] == 100, "scanned not saved")
        start = [e for e in events(r.stderr) if e["event"] == "start"][0]
        check(start["checkpoint_every"] == 7, "start event %r" % start)

        w2 = new_wallet_dir("k7env")
        r, res = sync_ok(w2, sim.url, env={"TZEL_SYNC_CHECKPOINT_EVERY": "30"})
        cps = [e["scanned"] for e in events(r.stderr) if e["event"] == "checkpoint"]
        check(cps == [30, 60, 90, 100, 100], "env checkpoints %r" % cps)
        # the flag beats the environment
        w3 = new_wallet_dir("k7flag")
        r, res = sync_ok(w3, sim.url, "--checkpoint-every", "50",
                         env={"TZEL_SYNC_CHECKPOINT_EVERY": "30"})
        cps = [e["scanned"] for e in events(r.stderr) if e["event"] == "checkpoint"]
        check(cps == [50, 100, 100], "flag checkpoints %r" % cps)
        check(note_set(load(w)) == note_set(load(w2)) == note_set(load(w3)), "notes differ")


def test_preexisting_live_sentinel():
    """A live sentinel present at start: the first batch runs, then exit 0, sentinel kept."""
    with start_sim(200, "live", pay=ADDR() + ":4") as sim:
        w = new_wallet_dir("live")
        content = "%d\n" % os.getpid()
        open(sentinel(w), "w").write(content)
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "10")
        check(load(w)["scanned"] == 10, "scanned %r" % load(w)["scanned"])
        check(res["yielded"] is True and res["yielded_to_pid"] == os.getpid(), "result %r" % res)
        check(res["scanned"] == 10, "result %r" % res)
        check(open(sentinel(w)).read() == content, "sentinel changed or removed")
        ys = [e for e in events(r.stderr) if e["event"] == "yield"]
        check(len(ys) == 1 and ys[0]["pid"] == os.getpid(), "yield events %r" % ys)
        check(not os.path.exists(w + ".lock"), "lock not released")
        r2 = run_wallet(w, sim.url, "sync", "--checkpoint-every", "10", json_mode=False)
        check(r2.returncode == 0 and str(os.getpid()) in r2.stderr,
              "human yield line should name the PID: %r" % r2.stderr)
        check(load(w)["scanned"] == 20, "second run should make one batch of progress")
        os.unlink(sentinel(w))
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "10")
        check(res["scanned"] == 200 and not res["yielded"], "result %r" % res)
        check(len(load(w)["notes"]) == 4, "notes %d" % len(load(w)["notes"]))


def test_legacy_sentinel_content():
    """Sentinel content that is not a PID is live and never removed."""
    with start_sim(60, "legacy", pay=ADDR() + ":1") as sim:
        w = new_wallet_dir("legacy")
        open(sentinel(w), "wb").write(b"yield")
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "7")
        check(res["yielded"] is True and res["yielded_to_pid"] is None, "result %r" % res)
        check(load(w)["scanned"] == 7, "scanned %r" % load(w)["scanned"])
        check(open(sentinel(w), "rb").read() == b"yield", "legacy sentinel touched")
        ys = [e for e in events(r.stderr) if e["event"] == "yield"]
        check(len(ys) == 1 and ys[0]["pid"] is None, "yield events %r" % ys)


def test_stale_sentinel_reaped_child():
    """A sentinel naming a reaped child: removed with a warning naming it, scan completes."""
    with start_sim(80, "stale", pay=ADDR() + ":2") as sim:
        w = new_wallet_dir("stale")
        pid = tzlib.dead_pid()
        open(sentinel(w), "w").write("%d\n" % pid)
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "10")
        check(not os.path.exists(sentinel(w)), "stale sentinel not removed")
        check(res["scanned"] == 80 and not res["yielded"], "result %r" % res)
        ev = events(r.stderr)
        st = [e for e in ev if e["event"] == "stale_sentinel"]
        check(len(st) == 1 and st[0]["pid"] == pid, "stale events %r" % st)
        warn = [e for e in ev if e["event"] == "warning" and str(pid) in e["message"]]
        check(warn, "no warning naming PID %d: %r" % (pid, ev))
        # a live PID with another start time (a recycled PID) is stale too
        w3 = new_wallet_dir("stale-start")
        open(sentinel(w3), "w").write("%d 1\n" % os.getpid())
        r, res = sync_ok(w3, sim.url)
        check(not os.path.exists(sentinel(w3)) and res["scanned"] == 80 and not res["yielded"],
              "recycled-PID sentinel not treated as stale: %r" % res)
        # "<pid>\n" naming a live process that started after the sentinel was
        # written (its mtime, here 2001): a recycled PID, stale, and the
        # warning says why
        w4 = new_wallet_dir("stale-mtime")
        open(sentinel(w4), "w").write("%d\n" % os.getpid())
        os.utime(sentinel(w4), (1000000000, 1000000000))
        r, res = sync_ok(w4, sim.url)
        check(not os.path.exists(sentinel(w4)) and res["scanned"] == 80 and not res["yielded"],
              "sentinel older than its live PID not treated as stale: %r" % res)
        ev = events(r.stderr)
        st = [e for e in ev if e["event"] == "stale_sentinel"]
        check(len(st) == 1 and st[0]["pid"] == os.getpid(), "stale events %r" % st)
        want = ("removed stale yield sentinel %s.yield: pid %d is alive but started after the "
                "sentinel was written (recycled PID)" % (w4, os.getpid()))
        check([e for e in ev if e["event"] == "warning" and e["message"] == want],
              "no warning %r in %r" % (want, ev))
        # human mode says it on stderr too
        w2 = new_wallet_dir("stale-human")
        pid2 = tzlib.dead_pid()
        open(sentinel(w2), "w").write("%d\n" % pid2)
        r = run_wallet(w2, sim.url, "sync", json_mode=False)
        check(r.returncode == 0 and ("warning" in r.stderr and str(pid2) in r.stderr),
              "human warning missing: %r" % r.stderr)


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


def test_sentinel_mid_scan_then_resume():
    """A sentinel raised mid-batch: prefix checkpointed at once (< K), quick exit, resume finds the rest."""
    with start_sim(600, "mid", pay=ADDR() + ":8", latency_ms=3) as sim:
        paid = sorted(p["index"] for p in sim.paid())
        w = new_wallet_dir("mid")
        p = spawn_wallet(w, sim.url, "sync", "--checkpoint-every", "100000",
                                        "--concurrency", "2")
        target = paid[len(paid) // 2] + 1  # past at least half the paid notes
        raised = {}

        def on_event(e):
            if e["event"] == "progress" and e["scanned"] >= target and not raised:
                # atomically, as the daemon raises it: a sync polling every
                # millisecond could otherwise read the empty file that
                # open() creates (content that is not a PID: yield to None)
                with open(sentinel(w) + ".tmp", "w") as f:
                    f.write("%d\n" % os.getpid())
                os.rename(sentinel(w) + ".tmp", sentinel(w))
                raised["t"] = time.time()
                raised["at"] = e["scanned"]
                return True
            return False

        check(watch_events(p, on_event, time.time() + 120), "never reached leaf %d" % target)
        out, err = p.communicate(timeout=60)
        took = time.time() - raised["t"]
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, err))
        res = envelope(out)["result"]
        s = load(w)["scanned"]
        check(res["yielded"] and res["yielded_to_pid"] == os.getpid(), "result %r" % res)
        check(raised["at"] <= s < 600, "cursor %d (sentinel at %d)" % (s, raised["at"]))
        check(took < 1.5, "yield took %.2fs" % took)
        notes1 = note_set(load(w))
        check([n[0] for n in notes1] == [i for i in paid if i < s],
              "notes before yield %r, paid %r, cursor %d" % (notes1, paid, s))
        check(len(notes1) > 0, "no note found before the yield")
        check(os.path.exists(sentinel(w)), "sentinel removed")
        os.unlink(sentinel(w))
        r, res2 = sync_ok(w, sim.url)
        notes2 = note_set(load(w))
        check([n[0] for n in notes2] == paid, "after resume %r vs %r" % (notes2, paid))
        check(res2["found"] == len(paid) - len(notes1) > 0, "second run found %r" % res2)


def test_reader_parses_throughout():
    """A reader process parsing the wallet during a many-checkpoint sync never sees a torn file."""
    with start_sim(400, "reader", pay=ADDR() + ":5", latency_ms=2) as sim:
        w = new_wallet_dir("reader")
        stop = os.path.join(TMP, "reader-stop")
        reader = subprocess.Popen([sys.executable, "-c", r"""
import json, os, sys
path, stop = sys.argv[1], sys.argv[2]
ok = bad = 0; last = -1; back = 0; seen = set()
open(stop + ".ready", "w").close()
while not os.path.exists(stop):
    try:
        with open(path) as f:
            w = json.load(f)
        ok += 1
        if w["scanned"] < last: back += 1
        last = w["scanned"]; seen.add(last)
    except Exception as e:
        bad += 1; print("BAD", repr(e), file=sys.stderr)
print(json.dumps({"ok": ok, "bad": bad, "back": back, "distinct": len(seen)}))
""", w, stop], stdout=subprocess.PIPE, text=True)
        t = time.time() + 30
        while not os.path.exists(stop + ".ready") and time.time() < t:
            time.sleep(0.01)
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "5", "--concurrency", "2")
        open(stop, "w").close()
        out, _ = reader.communicate(timeout=30)
        st = json.loads(out)
        cps = [e for e in events(r.stderr) if e["event"] == "checkpoint"]
        check(len(cps) >= 80, "only %d checkpoints" % len(cps))
        check(st["bad"] == 0 and st["back"] == 0, "reader saw %r" % st)
        check(st["ok"] > 20 and st["distinct"] > 5, "reader did not overlap the sync: %r" % st)


def test_http_503_keeps_last_checkpoint():
    """A 503 on leaf 15 with K = 10: exit 5 naming URL and status, cursor 10, fewer requests."""
    with start_sim(300, "e503", pay=ADDR() + ":2") as sim:
        full = new_wallet_dir("e503-full")
        sim.reset()
        sync_ok(full, sim.url, "--checkpoint-every", "10")
        full_reqs = sim.counters()["durable_reads"]

        w = new_wallet_dir("e503")
        sim.post("fault", {"status": 503, "note_index": 15})
        sim.reset()
        # One request at a time: every leaf below 15 is fetched before 15
        # fails, so the K = 10 boundary is reached exactly.
        r = run_wallet(w, sim.url, "sync", "--checkpoint-every", "10", "--concurrency", "1")
        served = sim.counters()["durable_reads"]
        check(r.returncode == 5, "exit %d: %s" % (r.returncode, r.stderr))
        err = envelope(r.stdout)["error"]
        check("503" in err["message"] and sim.url in err["message"]
              and "000000000000000f" in err["message"], "message %r" % err["message"])
        check(err["message"].startswith("sync failed: ") and
              err["message"].endswith(" Run `tzel-wallet check` for a fuller diagnosis."),
              "not the reference's wording: %r" % err["message"])
        check(load(w)["scanned"] == 10, "cursor %r" % load(w)["scanned"])
        check(not os.path.exists(sentinel(w)), "sync created a sentinel")
        check(not os.path.exists(w + ".lock"), "lock left behind")
        check(served < full_reqs / 2, "served %d requests, a full run makes %d" % (served, full_reqs))
        # In flight with others: leaves below 15 may be cancelled with it,
        # but the cursor is still a K boundary at or below 10.
        w8 = new_wallet_dir("e503-c8")
        r = run_wallet(w8, sim.url, "sync", "--checkpoint-every", "10", "--concurrency", "8")
        check(r.returncode == 5 and load(w8)["scanned"] in (0, 10),
              "concurrency 8: exit %d cursor %r" % (r.returncode, load(w8)["scanned"]))
        sim.post("fault/clear")
        sync_ok(w, sim.url, "--checkpoint-every", "10")
        check(note_set(load(w)) == note_set(load(full)), "resume differs from a full sync")
        # unreachable node: exit 5 too
        r = run_wallet(w, "http://127.0.0.1:1", "sync")
        check(r.returncode == 5 and "error: sync failed: " in r.stderr,
              "unreachable node exit %d %r" % (r.returncode, r.stderr[-300:]))


def test_sigkill_mid_batch_then_resume():
    """SIGKILL mid-batch, then resume: exactly the notes (and frontier) of an uninterrupted sync."""
    with start_sim(700, "kill", pay=ADDR() + ":9", latency_ms=2) as sim:
        ref = new_wallet_dir("kill-ref")
        sim.post("latency", {"ms": 0})
        sync_ok(ref, sim.url, "--checkpoint-every", "50")
        sim.post("latency", {"ms": 2})
        w = new_wallet_dir("kill")
        # Killed twice (mid-batch, at different points), then resumed.
        for after, delay in ((150, 0.05), (400, 0.11)):
            p = spawn_wallet(w, sim.url, "sync", "--checkpoint-every", "50",
                                            "--concurrency", "2")

            def on_event(e):
                return e["event"] == "checkpoint" and e["scanned"] >= after

            check(watch_events(p, on_event, time.time() + 120), "no checkpoint at %d" % after)
            # While it runs, the lock holds exactly what the reference writes.
            lock_text = open(w + ".lock").read()
            check(lock_text == "%d\n" % p.pid, "lock of the running sync holds %r" % lock_text)
            time.sleep(delay)  # mid-batch
            p.send_signal(signal.SIGKILL)
            p.communicate(timeout=30)
            wk = load(w)
            check(wk["scanned"] % 50 == 0 and after <= wk["scanned"] < 700,
                  "cursor %r" % wk["scanned"])
            check([n[0] for n in note_set(wk)] ==
                  [n[0] for n in note_set(load(ref)) if n[0] < wk["scanned"]],
                  "notes at the checkpoint are not the prefix")
            check(os.path.exists(w + ".lock"), "the killed run should leave its lock behind")
            # The reference would read that lock as stale, not as held.
            check(tzlib.ref_pid_file(w + ".lock") == (p.pid, True),
                  "reference reading of the left lock: %r" % (tzlib.ref_pid_file(w + ".lock"),))
        sim.post("latency", {"ms": 0})
        r, _ = sync_ok(w, sim.url, "--checkpoint-every", "50")
        want = "removed stale lock file %s.lock: pid %d no longer exists" % (w, p.pid)
        check([e for e in events(r.stderr) if e["event"] == "warning" and e["message"] == want],
              "no warning %r in %r" % (want, r.stderr[-1500:]))
        leftovers = tzlib.temp_files(os.path.dirname(w))
        check(not leftovers, "temp files of the killed runs left: %r" % leftovers)
        a, b = load(w), load(ref)
        check(note_set(a) == note_set(b), "notes differ after resume")
        check(a["scanned"] == b["scanned"] == 700, "cursor")
        check(a.get("tzel_c_sync") == b.get("tzel_c_sync"), "frontier/sync state differs")


def test_sigterm_saves_prefix():
    """SIGTERM mid-batch (the daemon stopping its sync child): prefix saved, lock released, exit 1."""
    with start_sim(600, "term", pay=ADDR() + ":6", latency_ms=3) as sim:
        w = new_wallet_dir("term")
        p = spawn_wallet(w, sim.url, "sync", "--checkpoint-every", "100000",
                                        "--concurrency", "2")
        seen = {}

        def on_event(e):
            if e["event"] == "progress" and e["scanned"] >= 100:
                seen["at"] = e["scanned"]
                return True
            return False

        check(watch_events(p, on_event, time.time() + 60), "no progress")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        check(p.returncode == 1, "exit %d: %s" % (p.returncode, err))
        msg = envelope(out)["error"]["message"]
        check("interrupted" in msg, "message %r" % msg)
        s = load(w)["scanned"]
        check(seen["at"] <= s < 600, "prefix not saved: cursor %d" % s)
        check(not os.path.exists(w + ".lock"), "lock left behind")
        paid = sorted(p_["index"] for p_ in sim.paid())
        check([n[0] for n in note_set(load(w))] == [i for i in paid if i < s], "notes not the prefix")


def test_stale_temps_swept():
    """sync holds the lock: it removes the temp files killed writers left for
    the wallet and its companions (a dead PID), with a warning event, and
    leaves a live writer's alone."""
    with start_sim(30, "sweep", pay=ADDR() + ":1") as sim:
        w = new_wallet_dir("sweep")
        secret = open(w, "rb").read()
        dead = tzlib.dead_pid()
        sleeper = subprocess.Popen(["sleep", "60"])
        try:
            stale = [tzlib.temp_name(w + s, dead) for s in ("", ".xmss-floor", ".yield")]
            live = [tzlib.temp_name(w, sleeper.pid), tzlib.temp_name(w + ".xmss-floor", sleeper.pid)]
            for p in stale + live:
                with open(p, "wb") as f:
                    f.write(secret)
            r, res = sync_ok(w, sim.url)
            check(res["scanned"] == 30 and load(w)["scanned"] == 30, "result %r" % res)
            left = [p for p in stale if os.path.exists(p)]
            check(not left, "dead writers' temp files left: %r" % left)
            check(all(os.path.exists(p) for p in live), "a live writer's temp file was removed")
            warn = [e for e in events(r.stderr) if e["event"] == "warning" and
                    "removed 3 stale temp files" in e["message"]]
            check(warn, "no warning event: %r" % r.stderr[-1500:])
        finally:
            sleeper.kill()
            sleeper.wait()
        sync_ok(w, sim.url)
        check(tzlib.temp_files(os.path.dirname(w)) == [], "temp files of a dead writer left")


def test_symlinked_wallet():
    """A wallet reached through a symlink is synced in place: the target
    carries the result and its floor, the link stays a link, and the yield
    sentinel is looked for beside the target, where the daemon (resolving
    the path the same way) raises it."""
    with start_sim(60, "symlink", pay=ADDR() + ":2") as sim:
        folder = os.path.join(TMP, "symlink")
        target = tzlib.copy_wallet(os.path.join(FIXTURE, "wallet.json"),
                                   os.path.join(folder, "real"))
        os.unlink(target + ".xmss-floor")
        links = tzlib.new_dir(folder, "links")
        link = os.path.join(links, "wallet.json")
        os.symlink("../real/wallet.json", link)
        live = "%d\n" % os.getpid()
        with open(sentinel(target), "w") as f:
            f.write(live)
        r, res = sync_ok(link, sim.url, "--checkpoint-every", "10")
        check(res["yielded"] is True and res["scanned"] == 10, "sentinel at the target: %r" % res)
        check(os.path.islink(link), "the link was replaced by a file")
        check(load(target)["scanned"] == 10, "the target was not saved")
        check(open(sentinel(target)).read() == live, "sentinel changed")
        os.unlink(sentinel(target))
        r, res = sync_ok(link, sim.url, "--checkpoint-every", "10")
        t = load(target)
        check(res["scanned"] == 60 and not res["yielded"], "result %r" % res)
        check(t["scanned"] == 60 and len(t["notes"]) == 2, "target: scanned %r, %d notes" %
              (t["scanned"], len(t["notes"])))
        check(os.path.islink(link) and os.readlink(link) == "../real/wallet.json",
              "the link was replaced or changed")
        fl = load(target + ".xmss-floor")
        check(fl["addr_counter"] == t["addr_counter"] and
              fl["wots_key_indices"] == {"0": 0}, "target floor %r" % fl)
        check(os.listdir(links) == ["wallet.json"], "files beside the link: %r" %
              os.listdir(links))
        check(sorted(os.listdir(os.path.dirname(target))) ==
              ["wallet.json", "wallet.json.xmss-floor"],
              "files beside the target: %r" % os.listdir(os.path.dirname(target)))


def test_watch_k0_aborts():
    """--watch with K = 0 fails at once (no sleep, no request)."""
    with start_sim(20, "wk0") as sim:
        w = new_wallet_dir("wk0")
        sim.reset()
        t = time.time()
        r = run_wallet(w, sim.url, "sync", "--watch", "--interval-secs", "30",
                       "--checkpoint-every", "0", timeout=20)
        check(r.returncode == 2 and K0_MSG in r.stderr, "exit %d %r" % (r.returncode, r.stderr))
        check(time.time() - t < 5, "watch slept before failing")
        check(sim.rpc_requests() == 0, "requests made")


def test_watch_yields_twice_then_finishes():
    """Watch under a live sentinel: one batch per round, then finishes once it is gone."""
    with start_sim(200, "watch", pay=ADDR() + ":4") as sim:
        w = new_wallet_dir("watch")
        open(sentinel(w), "w").write("%d\n" % os.getpid())
        sim.reset()
        # pinned: the default became adaptive (up to 64) in issue 12
        p = spawn_wallet(w, sim.url, "sync", "--watch", "--interval-secs", "1",
                         "--checkpoint-every", "20", "--concurrency", "4")
        state = {"yields": 0, "cursor_at_yield": []}

        def on_event(e):
            if e["event"] == "yield":
                state["yields"] += 1
                state["cursor_at_yield"].append(load(w)["scanned"])
                # the lock goes right after the yield event
                t = time.time() + 2
                while os.path.exists(w + ".lock") and time.time() < t:
                    time.sleep(0.01)
                check(not os.path.exists(w + ".lock"), "lock held after a yield")
                if state["yields"] == 2:
                    os.unlink(sentinel(w))
            if e["event"] == "checkpoint" and e["scanned"] == 200 and state["yields"] == 2:
                return True
            return False

        check(watch_events(p, on_event, time.time() + 60), "watch never finished")
        check(state["cursor_at_yield"] == [20, 40], "cursor at yields %r" % state["cursor_at_yield"])
        check(sim.counters()["peak_connections"] <= 4 + 1, "more connections than the concurrency")
        # Idle rounds reuse the one connection pool: four rounds of a head pin
        # plus three reads open at most three connections in all.
        sim.reset()
        rounds = {"n": 0}

        def idle(e):
            if e["event"] == "start":
                rounds["n"] += 1
            return rounds["n"] >= 4

        check(watch_events(p, idle, time.time() + 30), "idle rounds did not happen")
        time.sleep(0.3)
        c = sim.counters()
        check(c["requests"]["hash"] >= 4 and c["connections_accepted"] - 1 <= 3,
              "a new pool per round? %r" % c)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, err))
        res = envelope(out)["result"]
        check(res["rounds"] >= 7 and res["found"] == 4, "result %r" % res)
        check(load(w)["scanned"] == 200 and len(load(w)["notes"]) == 4, "wallet")
        check(res["verified_root"] == sim.chain()["root"], "root %r" % res)
        check(not os.path.exists(w + ".lock"), "lock left")


def test_pool_reads_pinned():
    """Finalize reads pools at the pinned block even when the head moves (a drain lands mid-sync);
    the companion run at the new head shows the same fixture does evict."""
    with start_sim(300, "pool", pay=ADDR() + ":2", latency_ms=2) as sim:
        w = new_wallet_dir("pool")
        paid = sim.paid()
        cm_hex = paid[-1]["cm"]  # observed late in the scan
        pkh = "11" * 31 + "00"
        doc = load(w)
        doc["pending_deposits"] = [{
            "pubkey_hash": pkh, "blind": "22" * 31 + "00", "address_index": 0,
            "auth_domain": "33" * 31 + "00", "amount": 5000, "operation_hash": None,
            "shielded_cm": cm_hex}]
        json.dump(doc, open(w, "w"))
        os.chmod(w, 0o600)
        sim.post("deposit", {"pubkey_hash": pkh, "amount": 5000})
        sim.reset()
        p = spawn_wallet(w, sim.url, "sync", "--concurrency", "2")
        pinned = {}

        def on_event(e):
            if e["event"] == "start":
                pinned["block"] = e["block"]
            if e["event"] == "progress" and e["scanned"] > 30:
                return True
            return False

        check(watch_events(p, on_event, time.time() + 60), "sync did not progress")
        drained = sim.post("deposit", {"pubkey_hash": pkh, "drain": True})
        out, err = p.communicate(timeout=120)
        check(p.returncode == 0, "exit %d: %s" % (p.returncode, err))
        res = envelope(out)["result"]
        check(res["block"] == pinned["block"] != drained["head"], "head did not move past the pin")
        key = "/tzel/v1/state/deposits/balance/" + pkh
        check(sim.value(key, pinned["block"]), "pool not funded at the pinned block")
        check(sim.value(key) in (None, ""), "pool not drained at head")
        check(sim.counters()["requests"]["hash"] == 1, "head resolved more than once")
        doc = load(w)
        check(len(doc.get("pending_deposits", [])) == 1, "deposit evicted by a read past the pin")
        check(cm_hex in [n["cm"] for n in doc["notes"]], "shielded cm not observed")

        # Companion: the same fixture at the moved head (what a head-resolving
        # read would have seen) evicts the deposit, with nothing rescanned:
        # the observation is remembered.
        r, res2 = sync_ok(w, sim.url)
        check(res2["block"] == drained["head"] or res2["block"] != pinned["block"], "not re-pinned")
        check(len(load(w).get("pending_deposits", [])) == 0, "drained, observed deposit not pruned")


def test_concurrency_and_threads_identical():
    """Concurrency 1 vs 32 and 1 thread vs all give identical wallets."""
    with start_sim(500, "conc", pay=ADDR() + ":6") as sim:
        outs = {}
        for name, args, env in [("c1", ["--concurrency", "1"], {}),
                                ("c32", ["--concurrency", "32"], {}),
                                ("t1", ["--threads", "1"], {}),
                                ("tall", [], {"TZEL_SYNC_THREADS": str(os.cpu_count() or 2)})]:
            w = new_wallet_dir("conc-" + name)
            r, res = sync_ok(w, sim.url, "--checkpoint-every", "64", *args, env=env)
            doc = load(w)
            check(len(doc["notes"]) == 6, "%s found %d" % (name, len(doc["notes"])))
            outs[name] = doc
        check(outs["c1"] == outs["c32"], "concurrency 1 and 32 differ")
        check(outs["t1"] == outs["tall"], "1 thread and all threads differ")
        check(outs["c1"] == outs["t1"], "runs differ")


def test_connections_bounded():
    """Never more TCP connections than the concurrency."""
    with start_sim(300, "conn", latency_ms=1) as sim:
        for conc in (1, 3, 8):
            w = new_wallet_dir("conn-%d" % conc)
            sim.reset()
            sync_ok(w, sim.url, "--concurrency", str(conc))
            c = sim.counters()
            # minus one: the counters request itself is a connection
            wallet_conns = c["connections_accepted"] - 1
            check(1 <= wallet_conns <= conc and c["peak_connections"] <= conc + 1,
                  "concurrency %d: %r" % (conc, c))
        # above 96 works, with a warning (Octez stops accepting near 100)
        w = new_wallet_dir("conn-97")
        r, res = sync_ok(w, sim.url, "--concurrency", "97")
        warn = [e for e in events(r.stderr) if e["event"] == "warning" and "above 96" in e["message"]]
        check(len(warn) == 1 and res["scanned"] == 300, "no warning above 96: %r" % r.stderr[:500])


def note_requests(sim, w, *args):
    """Rollup requests of a sync of `w` minus those of the sync that follows
    it at the same head (nothing left to scan: the reads every sync makes),
    and the counters of the first."""
    sim.reset()
    sync_ok(w, sim.url, *args)
    first = sim.counters()
    sim.reset()
    sync_ok(w, sim.url, *args)
    again = sim.counters()
    return sim.rpc_requests(first) - sim.rpc_requests(again), first


def test_requests_per_leaf():
    """1,000 leaves: exactly 1.0 request per leaf with `values`, 4.0 without
    (chunks 0 to 3, no `len`), and one `values` probe when the ACL refuses it."""
    with start_sim(1000, "perleaf") as sim:
        w = new_wallet_dir("perleaf-values")
        n, c = note_requests(sim, w)
        check(n == 1000 and c["requests"]["values"] == 1000,
              "values: %d requests for 1000 leaves: %r" % (n, c["requests"]))
        w = new_wallet_dir("perleaf-value")
        n, c = note_requests(sim, w, "--no-values-route")
        check(n == 4000 and c["requests"]["values"] == 0 and c["requests"]["length"] == 0,
              "no values: %d requests for 1000 leaves: %r" % (n, c["requests"]))
        print("  requests per leaf: 1.000 with values, %.3f without" % (n / 1000))
    with start_sim(1000, "perleaf", extra=["--acl-secure"]) as sim:
        w = new_wallet_dir("perleaf-acl")
        n, c = note_requests(sim, w)
        check(n == 4001 and c["requests"]["values"] == 1,
              "secure ACL: %d requests for 1000 leaves: %r" % (n, c["requests"]))


def test_auto_concurrency():
    """The default is adaptive: it starts at 8 in flight, grows at 40 ms per
    request, says so in the start and progress events, and finishes against
    a node that accepts only 24 connections."""
    with start_sim(3000, "auto", latency_ms=40) as sim:
        w = new_wallet_dir("auto-grows")
        t0 = time.time()
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "1000")
        wall = time.time() - t0
        ev = events(r.stderr)
        start = [e for e in ev if e["event"] == "start"][0]
        check(start["concurrency_mode"] == "auto" and start["concurrency"] == 64 and
              start["in_flight_limit"] == 8, "start event %r" % start)
        limits = [e["in_flight_limit"] for e in ev if e["event"] == "progress"]
        check(limits and max(limits) > 8, "the limit never grew: %r" % limits)
        # 3,000 requests at 40 ms: 15 s at 8 in flight, under 3 s at 64
        check(res["scanned"] == 3000 and wall < 12, "auto: %.1f s, limits %r" % (wall, limits))
        print("  auto, 40 ms: 3000 leaves in %.1f s, in flight up to %d" % (wall, max(limits)))
    with start_sim(3000, "auto", latency_ms=5, extra=["--max-connections", "24"]) as sim:
        w = new_wallet_dir("auto-24")
        t0 = time.time()
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "1000")
        wall = time.time() - t0
        c = sim.counters()
        limits = [e["in_flight_limit"] for e in events(r.stderr) if e["event"] == "progress"]
        check(res["scanned"] == 3000 and c["peak_connections"] <= 24,
              "max-connections 24: %r %r" % (res, c))
        print("  auto, 24 connections: %.1f s, %d connections accepted, limits %s"
              % (wall, c["connections_accepted"], sorted(set(limits))))
        # pinned still means pinned, and `auto` may be given explicitly
        w = new_wallet_dir("auto-pinned")
        r, res = sync_ok(w, sim.url, "--concurrency", "3")
        start = [e for e in events(r.stderr) if e["event"] == "start"][0]
        check(start["concurrency_mode"] == "fixed" and start["in_flight_limit"] == 3,
              "pinned start %r" % start)
        w = new_wallet_dir("auto-env")
        r, res = sync_ok(w, sim.url, "--max-concurrency", "16",
                         env={"TZEL_SYNC_CONCURRENCY": "auto"})
        start = [e for e in events(r.stderr) if e["event"] == "start"][0]
        check(start["concurrency_mode"] == "auto" and start["concurrency"] == 16,
              "auto from the environment %r" % start)


def test_tampered_leaf_trips_root_check():
    """A leaf whose cm does not match the tree: exit 6 naming both roots, no verified root."""
    with start_sim(120, "tamper", pay=ADDR() + ":2") as sim:
        w = new_wallet_dir("tamper")
        sim.post("fault", {"tamper_note": 33})
        r = run_wallet(w, sim.url, "sync", "--checkpoint-every", "50")
        check(r.returncode == 6, "exit %d: %s" % (r.returncode, r.stderr))
        err = envelope(r.stdout)["error"]
        root = sim.chain()["root"]
        msg = err["message"]
        check("root mismatch" in msg and root in msg, "message %r" % msg)
        others = [t for t in re.findall(r"\b[0-9a-f]{64}\b", msg) if t != root]
        check(len(others) == 1, "the wallet's root is not named: %r" % msg)
        check("result" not in envelope(r.stdout), "a result was reported")
        doc = load(w)
        check(doc.get("tzel_c_sync", {}).get("nullifiers_checked", 0) == 0,
              "finalize results were saved")
        r = run_wallet(w, sim.url, "sync")
        check(r.returncode == 6, "second run exit %d" % r.returncode)
        # a cursor beyond the chain (wrong node) is a chain error, not a silent reset
        w2 = new_wallet_dir("beyond")
        doc = load(w2)
        doc["scanned"] = 5000
        doc.pop("tzel_c_sync", None)
        json.dump(doc, open(w2, "w"))
        os.chmod(w2, 0o600)
        r = run_wallet(w2, sim.url, "sync")
        msg = envelope(r.stdout)["error"]["message"]
        check(r.returncode == 6 and msg.startswith(
            "sync failed: wallet cursor 5000 is ahead of rollup tree size 120") and
            msg.endswith(". Run `tzel-wallet check` for a fuller diagnosis.") and "beyond" in msg,
            "cursor beyond the tree: exit %d %r" % (r.returncode, r.stdout))
        check(load(w2)["scanned"] == 5000, "cursor changed")


def test_lying_node_costs_a_rescan():
    """A node that lies about one leaf (ours, then a stranger's) never wedges the wallet:
    the sync fails at the root check, returns to the last verified state (cursor, frontier,
    the notes below it) and says so; once the node is honest the next sync ends with exactly
    the notes of an undisturbed wallet, the lost note included."""
    with start_sim(120, "rollback", pay=ADDR() + ":2") as sim:
        base = new_wallet_dir("rb-base")
        sync_ok(base, sim.url, "--checkpoint-every", "50")
        base_doc = load(base)
        check(len(base_doc["notes"]) == 2 and
              base_doc["tzel_c_sync"]["verified"]["size"] == 120, "verified base: %r"
              % base_doc.get("tzel_c_sync", {}).get("verified", {}).get("size"))
        sim.post("append", {"count": 40})
        ours = sim.post("append", {"to": load(ADDR()), "count": 1, "value": 777})["first_index"]
        sim.post("append", {"count": 59})
        ref = tzlib.copy_wallet(base, os.path.join(TMP, "rb-ref"))
        sync_ok(ref, sim.url)
        want = note_set(load(ref))
        check(len(want) == 3 and any(n[0] == ours and n[2] == 777 for n in want),
              "undisturbed notes %r" % want)
        for name, leaf in [("ours", ours), ("stranger", 150)]:
            w = tzlib.copy_wallet(base, os.path.join(TMP, "rb-" + name))
            sim.post("fault", {"tamper_note": leaf})
            r = run_wallet(w, sim.url, "sync", "--checkpoint-every", "25")
            check(r.returncode == 6, "%s: exit %d: %s" % (name, r.returncode, r.stderr[-800:]))
            msg = envelope(r.stdout)["error"]["message"]
            check("root mismatch" in msg and "returned to its last verified state" in msg and
                  "cursor 220 -> 120" in msg, "%s: message %r" % (name, msg))
            doc = load(w)
            check(doc["scanned"] == 120 and note_set(doc) == note_set(base_doc) and
                  doc["tzel_c_sync"]["frontier"] == base_doc["tzel_c_sync"]["frontier"] and
                  doc["tzel_c_sync"]["nullifiers_checked"] ==
                  base_doc["tzel_c_sync"]["nullifiers_checked"],
                  "%s: not back at the verified state: scanned %r" % (name, doc["scanned"]))
            sim.post("fault/clear")
            r, res = sync_ok(w, sim.url, "--checkpoint-every", "25")
            doc = load(w)
            check(note_set(doc) == want and doc["scanned"] == 220 and res["verified_root"] ==
                  sim.chain()["root"], "%s: after the honest sync %r" % (name, note_set(doc)))
            check(doc["tzel_c_sync"]["verified"]["size"] == 220, "%s: verified size" % name)
            # killed after checkpoints past the forged leaf: the next run, against the
            # honest node, finds the mismatch, returns to the verified state and scans
            # the range again in the same run
            w2 = tzlib.copy_wallet(base, os.path.join(TMP, "rb-kill-" + name))
            sim.post("fault", {"tamper_note": leaf})
            sim.post("latency", {"ms": 50})
            p = spawn_wallet(w2, sim.url, "sync", "--checkpoint-every", "10")
            tzlib.wait_for(lambda: load(w2)["scanned"] > leaf + 1, 60,
                           "a checkpoint past leaf %d" % leaf, step=0.02)
            p.kill()
            p.wait(timeout=30)
            check(load(w2)["scanned"] > leaf, "%s: killed too late" % name)
            sim.post("latency", {"ms": 0})
            sim.post("fault/clear")
            r, res = sync_ok(w2, sim.url)
            check(note_set(load(w2)) == want and res["verified_root"] == sim.chain()["root"],
                  "%s: after the kill %r" % (name, note_set(load(w2))))
            check("scanning again from the last verified state" in r.stderr,
                  "%s: no warning: %s" % (name, r.stderr[-600:]))


ZERO = [bytes(32)]
for _ in range(48):
    ZERO.append(tzlib.H(ZERO[-1] + ZERO[-1], b"mrklSP__"))


def witness_root(wit):
    """The root a saved witness gives (tzel_c_sync.witnesses entry), computed
    here from its fields: left siblings at the set bits of pos, complete right
    siblings in level order, then the partial subtree being filled, then empty
    subtrees."""
    pos, n = wit["pos"], wit["cursor_n"]
    left = iter(bytes.fromhex(x) for x in wit["left"])
    filled = [bytes.fromhex(x) for x in wit["filled"]]
    cursor = iter(bytes.fromhex(x) for x in wit["cursor"])
    branch = {l: next(cursor) for l in range(48) if (n >> l) & 1}
    node, k = bytes.fromhex(wit["cm"]), 0
    for lvl in range(48):
        if (pos >> lvl) & 1:
            node = tzlib.H(next(left) + node, b"mrklSP__")
            continue
        if k < len(filled):
            sib = filled[k]
        elif k == len(filled) and n:
            sib, m = ZERO[0], n  # the partial subtree of height lvl
            for j in range(lvl):
                sib = tzlib.H(branch[j] + sib, b"mrklSP__") if (m >> j) & 1 else \
                    tzlib.H(sib + ZERO[j], b"mrklSP__")
        else:
            sib = ZERO[lvl]
        k += 1
        node = tzlib.H(node + sib, b"mrklSP__")
    return node.hex()


def test_spend_paths_kept():
    """Sync keeps the spend path of every note: one witness per note, at the synced tree
    size, giving the chain's root; more leaves later move them along; a rollback returns
    them to the verified state."""
    with start_sim(150, "witness", pay=ADDR() + ":3") as sim:
        w = new_wallet_dir("witness")
        sync_ok(w, sim.url, "--checkpoint-every", "40")
        doc, root = load(w), sim.chain()["root"]

        def check_paths(doc, size, root):
            wits = doc["tzel_c_sync"].get("witnesses", [])
            notes = sorted((n["index"], n["cm"]) for n in doc["notes"])
            check(sorted((x["pos"], x["cm"]) for x in wits) == notes and len(notes) >= 3,
                  "witnesses %r for notes %r" % ([(x["pos"], x["cm"]) for x in wits], notes))
            for x in wits:
                check(x["size"] == size and witness_root(x) == root,
                      "witness of leaf %d: size %d, root %s vs %s" %
                      (x["pos"], x["size"], witness_root(x), root))
        check_paths(doc, 150, root)
        sim.post("append", {"count": 37})
        sim.post("append", {"to": load(ADDR()), "count": 1, "value": 50})
        sim.post("append", {"count": 20})
        sync_ok(w, sim.url, "--checkpoint-every", "7")
        check_paths(load(w), 208, sim.chain()["root"])
        verified = load(w)
        # a lie past the verified state: the witnesses come back with the rest
        sim.post("append", {"count": 30})
        sim.post("fault", {"tamper_note": 220})
        r = run_wallet(w, sim.url, "sync", "--checkpoint-every", "5")
        check(r.returncode == 6, "tampered: exit %d" % r.returncode)
        after = load(w)
        check(after["tzel_c_sync"].get("witnesses") == verified["tzel_c_sync"].get("witnesses"),
              "witnesses not returned to the verified state")
        sim.post("fault/clear")
        sync_ok(w, sim.url)
        check_paths(load(w), 238, sim.chain()["root"])


def test_at_head_frontier_verified():
    """A wallet made with `init --at-head` keeps the chain's frontier: a later sync over new
    leaves verifies the root; one made with --at-tree-size has no frontier and says so."""
    with start_sim(90, "athead") as sim:
        d = os.path.join(TMP, "athead")
        os.makedirs(d)
        w = os.path.join(d, "wallet.json")
        r = run_wallet(w, sim.url, "init", "--addresses", "0", "--at-head", json_mode=False,
                       timeout=120)
        check(r.returncode == 0, "init --at-head: %s" % r.stderr)
        check(load(w)["scanned"] == 90, "cursor %r" % load(w)["scanned"])
        sim.post("append", {"count": 25})
        r, res = sync_ok(w, sim.url, "--checkpoint-every", "10")
        check(res["scanned"] == 115 and res["verified_root"] == sim.chain()["root"],
              "result %r" % res)
        w2 = os.path.join(d, "w2.json")
        r = tzlib.run_wallet("init", "--addresses", "0", "--at-tree-size", "100", wallet=w2,
                             timeout=120)
        check(r.returncode == 0, "init --at-tree-size: %s" % r.stderr)
        r, res = sync_ok(w2, sim.url)
        check(res["scanned"] == 115 and res["verified_root"] is None, "result %r" % res)


def test_spends_observed_after_restore():
    """Nullifiers published after a backup: the restored backup (older nullifier cursor) sees them;
    pending spends whose nullifiers are all on chain are dropped, others kept."""
    with start_sim(150, "restore", pay=ADDR() + ":4") as sim:
        w = new_wallet_dir("restore")
        sync_ok(w, sim.url)
        doc = load(w)
        check(len(doc["notes"]) == 4, "notes %d" % len(doc["notes"]))
        backup = w + ".bak"
        shutil.copy2(w, backup)
        spent = doc["notes"][:2]
        pub = sim.post("nullifiers", {"notes": [{"index": n["index"], "nk_spend": n["nk_spend"]}
                                                for n in spent]})["published"]
        r, res = sync_ok(w, sim.url)
        check(res["spent"] == 2 and len(load(w)["notes"]) == 2, "result %r" % res)
        checked = load(w)["tzel_c_sync"]["nullifiers_checked"]
        # restore the backup, with a pending spend for the published nullifiers and
        # one for a nullifier that is not on chain
        shutil.copy2(backup, w)
        doc = load(w)
        doc["pending_spends"] = [
            {"nullifiers": pub, "description": "landed"},
            {"nullifiers": ["44" * 31 + "00"], "description": "not landed"}]
        json.dump(doc, open(w, "w"))
        os.chmod(w, 0o600)
        check(load(w)["tzel_c_sync"].get("nullifiers_checked", 0) < checked, "backup cursor")
        r, res = sync_ok(w, sim.url)
        doc = load(w)
        check(res["spent"] == 2, "restored run spent %r" % res)
        check(sorted(n["index"] for n in doc["notes"]) ==
              sorted(n["index"] for n in load(backup)["notes"][2:]), "wrong notes left")
        check([s["description"] for s in doc["pending_spends"]] == ["not landed"],
              "pending spends %r" % doc["pending_spends"])
        check(doc["tzel_c_sync"]["nullifiers_checked"] == checked, "nullifier cursor")
        # a second run reads no nullifier again and changes nothing
        sim.reset()
        r, res = sync_ok(w, sim.url)
        check(res["spent"] == 0 and load(w)["notes"] == doc["notes"], "not idempotent")
        # head hash, then tree/size, tree/root and nullifiers/count: no nullifier re-read
        reads = sim.counters()["requests"]
        check(reads["value"] == 3 and reads["hash"] == 1, "second run read %r" % reads)
        # the same chain on a node with fewer nullifiers than this wallet checked: the
        # nullifier cursor restarts from 0 with a warning
        with start_sim(150, "restore", pay=ADDR() + ":4") as other:
            r, res = sync_ok(w, other.url)
            warn = [e for e in events(r.stderr) if e["event"] == "warning" and "re-reading" in e["message"]]
            check(warn, "no warning for a shrunken nullifier list: %r" % r.stderr[:500])
            check(load(w)["tzel_c_sync"]["nullifiers_checked"] == 0, "nullifier cursor not reset")
            check(len(load(w)["notes"]) == 2, "notes changed")


def reference_pretty(doc):
    """serde_json::to_string_pretty of a document in its key order (no final newline)."""
    return json.dumps(doc, indent=2, ensure_ascii=False)


def without_sync_key(text):
    """Our file minus its last member `tzel_c_sync` (the only key the reference lacks)."""
    i = text.find(',\n  "tzel_c_sync": ')
    check(i > 0 and text.endswith("\n}"), "no trailing tzel_c_sync member in %r" % text[-300:])
    return text[:i] + "\n}"


def test_reference_stdout_and_file():
    """Human stdout is the reference's lines exactly: a `  found:` line per new note in leaf
    order, then `Synced: ...` with every pending pool read at the pinned block (funded total of
    distinct pools, awaiting credit / drained pending scan counted after pruning), an empty
    pending spend confirmed; the file is what the reference's sync writes, plus tzel_c_sync."""
    with start_sim(60, "stdout", pay=ADDR() + ":3:1234") as sim:
        w = new_wallet_dir("stdout")
        paid = sorted(sim.paid(), key=lambda n: n["index"])
        check(len(paid) == 3, "paid %r" % paid)
        pk = lambda b: b * 31 + "00"  # noqa: E731
        unseen_cm = pk("55")
        dep = lambda h, cm=None: dict([("pubkey_hash", h), ("blind", pk("22")),  # noqa: E731
                                       ("address_index", 0), ("auth_domain", pk("33")),
                                       ("amount", 5000), ("operation_hash", None)]
                                      + ([("shielded_cm", cm)] if cm else []))
        doc = load(w)
        doc["pending_deposits"] = [
            dep(pk("a1")),                       # funded 7000: neither awaiting nor drained
            dep(pk("a2")),                       # never credited, no cm: awaiting credit
            dep(pk("a3"), paid[0]["cm"]),        # no balance, cm seen: pruned
            dep(pk("a4"), unseen_cm),            # no balance, cm not seen: drained pending scan
            dep(pk("a1")),                       # same pool as the first: counted once
            dep(pk("a5"), paid[1]["cm"]),        # funded 300, cm seen: kept (pool not drained)
        ]
        doc["pending_spends"] = [{"nullifiers": [], "description": "empty"},
                                 {"nullifiers": [pk("44")], "description": "not landed"}]
        json.dump(doc, open(w, "w"))
        os.chmod(w, 0o600)
        before = load(w)
        sim.post("deposit", {"pubkey_hash": pk("a1"), "amount": 7000})
        sim.post("deposit", {"pubkey_hash": pk("a5"), "amount": 300})
        sim.post("deposit", {"pubkey_hash": pk("a3"), "amount": 10})
        sim.post("deposit", {"pubkey_hash": pk("a3"), "drain": True})
        backup = w + ".orig"
        shutil.copy2(w, backup)
        # A wallet whose address record is missing below addr_counter (an older file):
        # first one that used a one-time key is refused, nothing written, no request ...
        stripped = load(w)
        stripped["addresses"] = []
        stripped["wots_key_indices"] = {"0": 3}
        json.dump(stripped, open(w, "w"))
        os.chmod(w, 0o600)
        sim.reset()
        r = run_wallet(w, sim.url, "sync", json_mode=False)
        check(r.returncode == 3 and "address 0" in r.stderr and r.stdout == "",
              "used missing record: exit %d %r" % (r.returncode, r.stderr[-500:]))
        check(load(w) == stripped and sim.rpc_requests() == 0, "refusal touched things")
        # ... a fresh one is derived like the reference's load and scanned with
        stripped["wots_key_indices"] = {}
        json.dump(stripped, open(w, "w"))

        # --interval-secs without --watch is accepted and ignored, 0 included
        r = run_wallet(w, sim.url, "sync", "--interval-secs", "0", json_mode=False)
        check(r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr))
        found = ["  found: v=1234 cm=%s index=%d" % (n["cm"][:8], n["index"]) for n in paid]
        synced = ("Synced: %d new notes, 0 spent removed, 1 pending confirmed, 1 drained-pool "
                  "entries pruned, private_available=%d, pool_funded_total=7300, "
                  "pools_awaiting_credit=1, pools_drained_pending_scan=1")
        check(r.stdout == "\n".join(found + [synced % (3, 3 * 1234)]) + "\n",
              "stdout %r" % r.stdout)
        check("tree root verified" in r.stderr and "Deriving missing address record #0"
              in r.stderr, "details not on stderr: %r" % r.stderr)

        # the file: the reference's sync result of the same input, byte for byte
        addr = before["addresses"][0]
        made = subprocess.run([SIM_BIN, "--make-address", "%s:0:%s" % (before["master_sk"],
                               addr["auth_root"])], capture_output=True, text=True, timeout=60)
        check(made.returncode == 0, "make-address: " + made.stderr)
        nk_spend = json.loads(made.stdout)["nk_spend"]
        expect = dict(before)
        expect["notes"] = [dict([("nk_spend", nk_spend), ("nk_tag", addr["nk_tag"]),
                                 ("auth_root", addr["auth_root"]), ("d_j", addr["d_j"]),
                                 ("v", n["v"]), ("rseed", n["rseed"]), ("cm", n["cm"]),
                                 ("index", n["index"]), ("addr_index", 0)]) for n in paid]
        expect["scanned"] = 60
        expect["wots_key_indices"] = {"0": 0}
        expect["pending_spends"] = [before["pending_spends"][1]]
        expect["pending_deposits"] = [d for i, d in enumerate(before["pending_deposits"])
                                      if i != 2]
        expect.pop("tzel_c_sync", None)
        ours = open(w, encoding="utf-8").read()
        check(without_sync_key(ours) == reference_pretty(expect),
              "file differs from the reference's:\n%s\n----\n%s"
              % (without_sync_key(ours)[-1500:], reference_pretty(expect)[-1500:]))

        # nothing new: the same figures, no found line
        r = run_wallet(w, sim.url, "sync", json_mode=False)
        check(r.returncode == 0 and r.stdout ==
              synced.replace("1 pending confirmed, 1 drained", "0 pending confirmed, 0 drained")
              % (0, 3 * 1234) + "\n", "second run stdout %r" % r.stdout)

        # --json: stdout is the envelope alone; the reference's lines go to stderr
        shutil.copy2(backup, w)
        r = run_wallet(w, sim.url, "sync")
        check(r.returncode == 0 and r.stdout.count("\n") == 1, "json stdout %r" % r.stdout)
        res = envelope(r.stdout)["result"]
        check(res["found"] == 3, "result %r" % res)
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith(("  found:", "Synced:"))]
        check(lines == found + [synced % (3, 3 * 1234)], "json stderr %r" % lines)

        # --watch: the reference's banner once, then a Synced line per round
        shutil.copy2(backup, w)
        p = spawn_wallet(w, sim.url, "sync", "--watch", "--interval-secs", "0",
                                        json_mode=False)
        got = []
        reader = threading.Thread(target=lambda: got.extend(iter(p.stdout.readline, "")),
                                  daemon=True)
        reader.start()
        # each line arrives as it is printed (flushed, like the reference's println!):
        # the first round's lines and a second round's Synced line, while still running
        t = time.time() + 30
        while time.time() < t and len(got) < 6:
            time.sleep(0.05)
        check(len(got) >= 6 and p.poll() is None, "watch lines not delivered: %r" % got)
        p.send_signal(signal.SIGTERM)
        err = p.stderr.read()
        p.wait(timeout=30)
        reader.join(10)
        check(p.returncode == 0, "watch exit %d: %s" % (p.returncode, err))
        lines = [ln.rstrip("\n") for ln in got]
        check(lines[:5] == ["Watching rollup state every 1s. Press Ctrl-C to stop."] + found
              + [synced % (3, 3 * 1234)], "watch stdout %r" % lines)
        rest = lines[5:]
        check(rest and all(ln == rest[0] for ln in rest) and rest[0].startswith("Synced: 0 new"),
              "later rounds %r" % rest)


TESTS = [
    ("k0", test_k0_refused),
    ("k7", test_k7_honoured),
    ("hugek", test_huge_k_printed_as_a_number),
    ("live", test_preexisting_live_sentinel),
    ("legacy", test_legacy_sentinel_content),
    ("stale", test_stale_sentinel_reaped_child),
    ("mid", test_sentinel_mid_scan_then_resume),
    ("reader", test_reader_parses_throughout),
    ("e503", test_http_503_keeps_last_checkpoint),
    ("kill", test_sigkill_mid_batch_then_resume),
    ("term", test_sigterm_saves_prefix),
    ("sweep", test_stale_temps_swept),
    ("symlink", test_symlinked_wallet),
    ("wk0", test_watch_k0_aborts),
    ("watch", test_watch_yields_twice_then_finishes),
    ("pool", test_pool_reads_pinned),
    ("conc", test_concurrency_and_threads_identical),
    ("conn", test_connections_bounded),
    ("perleaf", test_requests_per_leaf),
    ("auto", test_auto_concurrency),
    ("tamper", test_tampered_leaf_trips_root_check),
    ("rollback", test_lying_node_costs_a_rescan),
    ("paths", test_spend_paths_kept),
    ("athead", test_at_head_frontier_verified),
    ("restore", test_spends_observed_after_restore),
    ("stdout", test_reference_stdout_and_file),
]


def main():
    return tzlib.run_tests(TESTS, TMP, make_fixture)


if __name__ == "__main__":
    sys.exit(main())
