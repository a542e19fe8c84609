#!/usr/bin/env python3
"""Crash torture: kill the programs that write the wallet at random moments
and check that nothing is ever lost.

A simulator serves a 5,000-leaf chain paying the wallet 20 notes, with a
per-request latency. For each program (a *target*), the script starts it on
a wallet, waits a random delay, and SIGKILLs it, TORTURE_KILLS times. After
every kill:

  - the wallet file parses;
  - its cursor never goes back, and (where the program's checkpoints are
    known) is one the program had saved: a multiple of K = 25, the tree
    size, or one of the `checkpoint` events it printed;
  - its notes are exactly those of an undisturbed sync below that cursor
    (none lost, none duplicated);
  - the next run gets past the lock (and the yield sentinel) the killed
    run left behind, and removes the temp files of killed saves.

When a run reaches the end of the chain the wallet starts over from a fresh
copy (a new *round*). At the end, one uninterrupted run: the notes, the
cursor and the verified sync state (root, frontier) equal those of the
undisturbed sync, and no temp file, lock or sentinel is left.

Targets: `sync` (tzel-wallet sync --checkpoint-every 25, SIGKILLed),
`daemon` (tzel-walletd, SIGKILLed mid-sync -- alone or with its sync child
at the same instant, as an OOM kill or a power loss would -- and mid-job,
then restarted) and `watch` (tzel-wallet watch sync of a view watch wallet
of the same notes, its records checked as the wallet's notes are). A new
target is a class with `name`, `kill_once` and `finish` (see Target) added
to TARGETS, and `tortured(key)` when its file is not the wallet.

Prints one JSON summary on stdout (and writes it to --summary): kills
survived per program, what was checked, and `lost` (must be 0). Exit 0 when
nothing was lost. Usage:

    torture.py [--kills N] [--targets sync,daemon,watch] [--seed S] [--summary FILE]
               [--faults] [--readme README.md]

--faults also runs the disk and network fault matrices (unit-store_faults,
it-diskfault, it-netfault) and the hostile-client matrix of tzel-walletd
and tzel-detect (it-daemon_hostile), and adds their counts; --readme
rewrites the README's reliability tables from the summary.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import tzlib  # noqa: E402
from tzlib import DAEMON_BIN, WALLET_BIN, load  # noqa: E402
import reliability  # noqa: E402

LEAVES = 5000
PAID = 20
K = 25
LATENCY_MS = 2
MASTER_SK = "2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70801"


class Lost(Exception):
    """An invariant broke: something a user would lose or notice."""


def note_set(w):
    return sorted((n["index"], n["cm"], n["v"], n["rseed"], n["nk_spend"])
                  for n in w.get("notes", []))


def watch_set(w):
    """The records of a view watch wallet, as note_set does a wallet's."""
    return sorted((n["index"], n["cm"], n["value"], n["memo"], n["addr_index"])
                  for n in w.get("notes", []))


def events_of(path):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except FileNotFoundError:
        pass
    return out


def children(pid):
    """PIDs whose parent is `pid` (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(d))
    return out


def gone(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


class World:
    """The chain, the reference result and the wallet being tortured."""

    def __init__(self, tmp, cache, rng):
        self.tmp, self.rng = tmp, rng
        wcache = os.path.join(cache, "wallet")
        self.fixture, addr = tzlib.bench_wallet(wcache, MASTER_SK, "torture")
        self.sim = tzlib.SimServer.start(LEAVES, "torture", cache=os.path.join(cache, "chains"),
                                         pay="%s:%d" % (addr, PAID), threads=2, quiet=True,
                                         timeout=300)
        ref = tzlib.copy_wallet(self.fixture, os.path.join(tmp, "reference"))
        t = time.time()
        r = tzlib.run_wallet("sync", "--checkpoint-every", str(K), wallet=ref, url=self.sim.url,
                             timeout=600)
        if r.returncode:
            raise RuntimeError("undisturbed sync failed: " + r.stderr[-2000:])
        self.ref = load(ref)
        self.ref_seconds = time.time() - t
        if len(self.ref.get("notes", [])) != PAID or self.ref["scanned"] != LEAVES:
            raise RuntimeError("undisturbed sync found %d notes, cursor %r"
                               % (len(self.ref.get("notes", [])), self.ref["scanned"]))
        self.sim.post("latency", {"ms": LATENCY_MS})
        # A full run at this latency, to scale the random delays.
        probe = tzlib.copy_wallet(self.fixture, os.path.join(tmp, "probe"))
        t = time.time()
        r = tzlib.run_wallet("sync", "--checkpoint-every", str(K), wallet=probe,
                             url=self.sim.url, timeout=600)
        self.run_seconds = time.time() - t
        if r.returncode:
            raise RuntimeError("sync at %d ms failed: %s" % (LATENCY_MS, r.stderr[-2000:]))

    def watch_world(self):
        """A view watch wallet of the tortured wallet (export-view, watch
        init) and its undisturbed `watch sync`, made on first use: the
        (fixture, reference, records) a Tortured of watch sync compares."""
        if getattr(self, "watch", None):
            return self.watch
        d = os.path.join(self.tmp, "watch-fixture")
        os.makedirs(d)
        material, fixture = os.path.join(d, "view.json"), os.path.join(d, "watch.json")
        for args, w in [(("export-view", "--out", material), self.fixture),
                        (("watch", "init", "--material", material), fixture)]:
            r = tzlib.run_wallet(*args, wallet=w, timeout=300)
            if r.returncode:
                raise RuntimeError("%s failed: %s" % (args[0], r.stderr[-2000:]))
        ref = tzlib.copy_wallet(fixture, os.path.join(self.tmp, "watch-reference"))
        r = tzlib.run_wallet("watch", "sync", "--checkpoint-every", str(K), wallet=ref,
                             url=self.sim.url, timeout=600)
        ref_doc = load(ref)
        if r.returncode or len(ref_doc.get("notes", [])) != PAID:
            raise RuntimeError("undisturbed watch sync: exit %d, %d records: %s"
                               % (r.returncode, len(ref_doc.get("notes", [])), r.stderr[-2000:]))
        self.watch = (fixture, ref_doc, watch_set)
        return self.watch

    def stop(self):
        self.sim.stop()


class Tortured:
    """One wallet under torture and the checks made after every kill."""

    def __init__(self, world, name, fixture=None, ref=None, records=note_set):
        """`fixture` (default the world's wallet) is copied for each chain,
        `ref` (default the world's undisturbed sync) is what it must end
        as, `records` reads the found notes of either."""
        self.world, self.name = world, name
        self.fixture = fixture or world.fixture
        self.ref = ref or world.ref
        self.records = records
        self.folder = os.path.join(world.tmp, name)
        self.rounds = 0
        self.stats = {"kills": 0, "runs_completed": 0, "rounds": 0, "locks_left": 0,
                      "locks_recovered": 0, "sentinels_left": 0, "sentinels_recovered": 0,
                      "temp_files_left": 0, "temp_files_swept": 0, "lost": 0, "failures": []}
        self.fresh()

    def fresh(self):
        if os.path.isdir(self.folder):
            shutil.rmtree(self.folder)
        self.wallet = tzlib.copy_wallet(self.fixture, self.folder)
        self.cursor = load(self.wallet)["scanned"]
        self.lock_pending = self.sentinel_pending = False
        self.temps_pending = set()

    def lost(self, what):
        self.stats["lost"] += 1
        if len(self.stats["failures"]) < 20:
            self.stats["failures"].append(what)
        print("torture %s: LOST: %s" % (self.name, what), file=sys.stderr, flush=True)

    def check(self, saved=None, killed=True):
        """The checks after a run ended (killed or not). `saved`: the
        cursors this run may have saved (None: not known)."""
        try:
            w = load(self.wallet)
        except (OSError, ValueError) as e:
            self.lost("the wallet does not parse after kill %d: %s" % (self.stats["kills"], e))
            raise Lost()
        c = w.get("scanned")
        if not isinstance(c, int) or c < self.cursor:
            self.lost("cursor went from %r back to %r" % (self.cursor, c))
        elif saved is not None and c != self.cursor and c not in saved:
            self.lost("cursor %d is not one the run saved" % c)
        ref = [n for n in self.records(self.ref) if n[0] < (c or 0)]
        got = self.records(w)
        if got != ref:
            self.lost("at cursor %r: %d notes, %d distinct, the undisturbed sync has %d below it"
                      % (c, len(got), len(set(got)), len(ref)))
        moved = isinstance(c, int) and c > self.cursor
        # A run that saved a checkpoint took the lock (recovering a stale
        # one) and swept the temp files of the runs killed before it.
        if moved and self.lock_pending:
            self.stats["locks_recovered"] += 1
            self.lock_pending = False
        if moved and self.temps_pending:
            left = self.temps_pending & set(tzlib.temp_files(self.folder))
            if left:
                self.lost("temp files of killed runs survived a later run: %r" % sorted(left))
            self.stats["temp_files_swept"] += len(self.temps_pending - left)
            self.temps_pending = left
        if self.sentinel_pending and not os.path.exists(self.wallet + ".yield"):
            self.stats["sentinels_recovered"] += 1
            self.sentinel_pending = False
        if killed:
            if os.path.exists(self.wallet + ".lock") and not self.lock_pending:
                self.stats["locks_left"] += 1
                self.lock_pending = True
            new = set(tzlib.temp_files(self.folder)) - self.temps_pending
            self.stats["temp_files_left"] += len(new)
            self.temps_pending |= new
            if os.path.exists(self.wallet + ".yield") and not self.sentinel_pending:
                self.stats["sentinels_left"] += 1
                self.sentinel_pending = True
        if isinstance(c, int):
            self.cursor = max(self.cursor, c)
        if self.cursor >= LEAVES:
            self.stats["rounds"] += 1
            self.fresh()

    def final(self, finish):
        """An uninterrupted run from where the torture left the wallet,
        then the comparison with the undisturbed sync."""
        finish(self)
        # The final run recovered whatever the last kills left behind.
        self.stats["locks_recovered"] += self.lock_pending
        self.stats["sentinels_recovered"] += self.sentinel_pending
        self.stats["temp_files_swept"] += len(self.temps_pending)
        w = load(self.wallet)
        ref = self.ref
        if self.records(w) != self.records(ref):
            self.lost("final notes differ from the undisturbed sync")
        if len(self.records(w)) != len({n[:2] for n in self.records(w)}):
            self.lost("a note is duplicated")
        if w["scanned"] != ref["scanned"]:
            self.lost("final cursor %r, undisturbed %r" % (w["scanned"], ref["scanned"]))
        if w.get("tzel_c_sync") != ref.get("tzel_c_sync"):
            self.lost("final sync state (verified root, frontier) differs")
        left = [p for p in (".lock", ".yield") if os.path.exists(self.wallet + p)]
        if left:
            self.lost("left after the final run: %r" % left)
        if tzlib.temp_files(self.folder):
            self.lost("temp files left after the final run: %r" % tzlib.temp_files(self.folder))
        self.stats["final_notes"] = len(w.get("notes", []))


class Target:
    """A program under torture. kill_once(t) runs it on t.wallet, kills it
    at a random moment and calls t.check; returns True when it killed it.
    finish(t) runs it to the end of the chain without interruption."""
    name = None

    def __init__(self, world):
        self.world = world

    def delay(self):
        """A random moment: early ones (start-up, lock, first batch) as
        often as later ones; up to about a whole run at this latency."""
        rng, span = self.world.rng, max(self.world.run_seconds, 0.5)
        return rng.uniform(0, 0.15) if rng.random() < 0.3 else rng.uniform(0, span * 0.6)


class SyncTarget(Target):
    name = "tzel-wallet sync"

    def cmd(self, t):
        return tzlib.wallet_cmd("sync", "--checkpoint-every", str(K), wallet=t.wallet,
                                url=self.world.sim.url, json_mode=True)

    def kill_once(self, t):
        rng = self.world.rng
        if rng.random() < 0.15 and not os.path.exists(t.wallet + ".yield"):
            # What a killed daemon leaves: a sentinel naming a dead PID.
            with open(t.wallet + ".yield", "w") as f:
                f.write("%d\n" % tzlib.dead_pid())
        log = os.path.join(self.world.tmp, "sync-stderr.log")
        with open(log, "w") as err:
            p = subprocess.Popen(self.cmd(t), stdout=subprocess.DEVNULL, stderr=err,
                                 env=tzlib.wallet_env())
            try:
                p.wait(self.delay())
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait()
        killed = p.returncode == -signal.SIGKILL
        saved = {e["scanned"] for e in events_of(log) if e.get("event") == "checkpoint"}
        last = max(saved | {t.cursor})
        # The save in flight when the kill came: the next K boundary.
        saved |= {min(last + K, LEAVES)} | {c for c in range(0, LEAVES + 1, K)}
        if not killed and p.returncode != 0:
            t.lost("sync exited %d: %s" % (p.returncode, open(log).read()[-1500:]))
        if killed:
            t.stats["kills"] += 1
        else:
            t.stats["runs_completed"] += 1
        t.check(saved, killed)
        return killed

    def finish(self, t):
        r = subprocess.run(self.cmd(t), capture_output=True, text=True, timeout=600,
                           env=tzlib.wallet_env())
        if r.returncode:
            t.lost("uninterrupted sync exited %d: %s" % (r.returncode, r.stderr[-1500:]))


class DaemonTarget(Target):
    name = "tzel-walletd"

    def start(self, t):
        env = tzlib.wallet_env({"TZEL_ROLLUP_NODE_URL": self.world.sim.url,
                                "TZEL_SYNC_CHECKPOINT_EVERY": str(K)}, keep_node_env=True)
        args = [DAEMON_BIN, "--wallet", t.wallet, "--listen", "127.0.0.1:0",
                "--interval-secs", "1"]
        p, url = tzlib.spawn_listening(args, "tzel-walletd listening on http://127.0.0.1:",
                                       "daemon", 30, [], env)
        with open(t.wallet + ".walletd-token") as f:
            token = f.read().strip()
        return p, url, token

    def api(self, url, token, method, path):
        return tzlib.http_json(url + path, method, {} if method == "POST" else None, 10,
                               {"Authorization": "Bearer " + token})

    def kill_once(self, t):
        rng = self.world.rng
        try:
            p, url, token = self.start(t)
        except RuntimeError as e:
            t.lost("the daemon does not start again: %s" % e)
            raise Lost()
        mode = "job" if rng.random() < 0.35 else "sync"
        try:
            if mode == "job":
                # Mid-job: a receive runs (the sync yielded to it), then the kill.
                time.sleep(rng.uniform(0, 0.3))
                jid = self.api(url, token, "POST", "/api/receive")["job"]
                want = rng.choice(["waiting-for-lock", "running"])
                tzlib.wait_for(lambda: self.api(url, token, "GET", "/api/jobs/%d" % jid)["phase"]
                               in (want, "running", "done", "failed"), 30, "the job to start",
                               step=0.01)
                time.sleep(rng.uniform(0, 0.5))
            else:
                time.sleep(self.delay())
        except Exception as e:  # the daemon must keep answering until killed
            t.lost("daemon API failed before the kill: %r" % (e,))
        kids = children(p.pid)
        p.send_signal(signal.SIGKILL)
        if mode == "sync" and rng.random() < 0.5:
            for c in kids:  # its sync child too, at the same instant
                try:
                    os.kill(c, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        p.wait()
        tzlib.wait_for(lambda: all(gone(c) for c in kids), 30, "the daemon's children to exit")
        t.stats["kills"] += 1
        t.stats.setdefault("kills_mid_" + mode, 0)
        t.stats["kills_mid_" + mode] += 1
        t.check(None, True)
        return True

    def finish(self, t):
        p, url, token = self.start(t)
        try:
            tzlib.wait_for(lambda: (lambda s: s["sync_state"] == "synced" and
                                    (s.get("wallet_file") or {}).get("scanned") == LEAVES)(
                self.api(url, token, "GET", "/api/status")), 300, "the daemon to finish the sync",
                step=0.2)
        except AssertionError as e:
            t.lost(str(e))
        p.terminate()
        if p.wait(30) != 0:
            t.lost("the daemon exited %d on SIGTERM" % p.returncode)


class WatchSyncTarget(SyncTarget):
    """`tzel-wallet watch sync` of a view watch wallet of the same notes:
    the same kills and checks, on the watch file and its records."""
    name = "tzel-wallet watch sync"

    def tortured(self, key):
        fixture, ref, records = self.world.watch_world()
        return Tortured(self.world, key, fixture, ref, records)

    def cmd(self, t):
        return tzlib.wallet_cmd("watch", "sync", "--checkpoint-every", str(K), wallet=t.wallet,
                                url=self.world.sim.url, json_mode=True)


TARGETS = {"sync": SyncTarget, "daemon": DaemonTarget, "watch": WatchSyncTarget}


def run_faults():
    """The fault matrices (disk: unit-store_faults and it-diskfault;
    network: it-netfault; clients: it-daemon_hostile), for the summary:
    each suite's JSON line (the clients': its figures file) and whether it
    passed. A failed suite counts as lost."""
    suites = {
        "disk_injected": ([os.path.join(tzlib.BIN, "unit-store_faults")], "disk_faults"),
        "disk_real": ([sys.executable, os.path.join(HERE, "..", "integration",
                                                    "test_diskfault.py")], "disk_faults_real"),
        "network": ([sys.executable, os.path.join(HERE, "..", "integration",
                                                  "test_netfault.py")], "network_faults"),
        "hostile": ([sys.executable, os.path.join(HERE, "..", "integration",
                                                  "test_daemon_hostile.py")], None),
    }
    figures = os.path.join(os.path.dirname(tzlib.BIN), "test-artifacts", "daemon-hostile.json")
    out = {}
    for name, (cmd, key) in suites.items():
        if key is None and os.path.exists(figures):
            os.unlink(figures)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        got = None
        for line in r.stdout.splitlines():
            if key and line.startswith('{"%s"' % key):
                got = json.loads(line)[key]
        if key is None and os.path.exists(figures):
            with open(figures) as f:
                got = json.load(f)["figures"]
        out[name] = {"passed": r.returncode == 0, "result": got}
        print("torture faults %s: %s" % (name, "passed" if r.returncode == 0 else "FAILED"),
              file=sys.stderr, flush=True)
        if r.returncode:
            print(r.stdout[-3000:] + r.stderr[-3000:], file=sys.stderr)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=int(os.environ.get("TORTURE_KILLS", "200")))
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--seed", default=os.environ.get("TORTURE_SEED"))
    ap.add_argument("--cache", default=os.path.join(tzlib.SOURCE, "out", "torture-cache"))
    ap.add_argument("--summary", default=os.path.join(tzlib.SOURCE, "out", "torture",
                                                      "summary.json"))
    ap.add_argument("--faults", action="store_true",
                    help="also run the disk and network fault matrices")
    ap.add_argument("--readme", help="rewrite the reliability rows of this README")
    a = ap.parse_args()
    seed = a.seed or str(random.SystemRandom().randrange(1 << 32))
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="tz-torture-")
    t0 = time.time()
    summary = {"kills_per_program": a.kills, "seed": seed, "leaves": LEAVES, "paid": PAID,
               "checkpoint_every": K, "latency_ms": LATENCY_MS, "programs": {}}
    world = World(tmp, a.cache, rng)
    try:
        summary["undisturbed_sync_seconds"] = round(world.ref_seconds, 2)
        summary["sync_seconds_at_latency"] = round(world.run_seconds, 2)
        for key in a.targets.split(","):
            target = TARGETS[key](world)
            t = target.tortured(key) if hasattr(target, "tortured") else Tortured(world, key)
            started = time.time()
            try:
                while t.stats["kills"] < a.kills:
                    target.kill_once(t)
                t.final(target.finish)
            except Lost:
                pass
            t.stats["seconds"] = round(time.time() - started, 1)
            summary["programs"][target.name] = t.stats
            print("torture %s: %d kills, %d lost (%.0f s)" % (target.name, t.stats["kills"],
                                                               t.stats["lost"],
                                                               time.time() - started),
                  file=sys.stderr, flush=True)
    finally:
        world.stop()
    summary["lost"] = sum(s["lost"] for s in summary["programs"].values())
    if a.faults:
        summary["faults"] = run_faults()
        summary["lost"] += sum(not f["passed"] for f in summary["faults"].values())
    summary["seconds"] = round(time.time() - t0, 1)
    os.makedirs(os.path.dirname(os.path.abspath(a.summary)), exist_ok=True)
    with open(a.summary, "w") as f:
        json.dump(summary, f, indent=1)
    if a.readme:
        reliability.update_readme(a.readme, "torture", reliability.torture_rows(summary))
        if a.faults:
            reliability.update_readme(a.readme, "faults", reliability.fault_rows(summary))
            reliability.update_readme(a.readme, "hostile", reliability.hostile_rows(summary),
                                      reliability.HOSTILE_HEADER)
    print(json.dumps(summary))
    if summary["lost"] == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept " + tmp, file=sys.stderr)
    return 1 if summary["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
