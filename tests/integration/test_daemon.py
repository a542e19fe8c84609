#!/usr/bin/env python3
"""Integration tests of tzel-walletd against the real tzel-wallet and tzel-rollup-sim.

The daemon runs the real CLI as child processes; these tests drive it over
HTTP as a client would and assert on job records, the wallet file, the
sentinel and lock files, exit codes and the simulator's paid notes.

One wallet (one address, paid by the simulator) is made per run and copied
for each test. Deriving an address costs tens of seconds on a loaded
2-core machine, so only the fixture and one job derive one; other jobs
fail fast or are killed mid-way on purpose.

Run all: python3 test_daemon.py; some: python3 test_daemon.py auth jobs ...
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tzlib import BIN, DAEMON_BIN, check, load, wait_for  # noqa: E402
import tzlib  # noqa: E402

ARTIFACTS = os.path.join(os.path.dirname(BIN), "test-artifacts")

TMP = tempfile.mkdtemp(prefix="tz-it-daemon-")
CACHE = os.path.join(TMP, "chain-cache")
FIXTURE = os.path.join(TMP, "fixture")
PAID = 3          # notes the simulator pays to the fixture's address
LEAVES = 3000     # a sync of ~10 s at 5 ms per request
LATENCY_MS = 5


def become_subreaper():
    """Orphans (a killed daemon's children) are re-parented to us so that we
    can reap them: an unreaped zombie still looks alive to kill(pid, 0)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except OSError:
        pass


def proc_starttime(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    return int(s[s.rindex(")") + 2:].split()[19])


def pid_gone(pid):
    """True once `pid` no longer exists (reaping it if it is our zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return not os.path.exists("/proc/%d" % pid)


def start_sim(leaves, seed, **kw):
    """A quiet tzel-rollup-sim on a free port (SimServer.start keywords),
    with this run's chain cache and two generator threads; 180 s to start."""
    return tzlib.SimServer.start(leaves, seed, cache=CACHE, threads=2, quiet=True, timeout=180,
                                 **kw)


class Daemon:
    """A tzel-walletd process; `api` talks to it with its token."""

    def __init__(self, wallet, sim=None, args=(), env=None, expect_ready=True, token_path=None):
        e = dict(os.environ)
        if sim:
            e["TZEL_ROLLUP_NODE_URL"] = sim.url
        e.setdefault("TZEL_SYNC_CHECKPOINT_EVERY", "50")
        e.update(env or {})
        self.wallet = wallet
        self.args = [DAEMON_BIN, "--wallet", wallet, "--listen", "127.0.0.1:0",
                     "--interval-secs", "1"] + list(args)
        self.url, self.log = None, []
        if not expect_ready:
            self.p = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True, env=e)
            return
        self.p, self.url = tzlib.spawn_listening(
            self.args, "tzel-walletd listening on http://127.0.0.1:", "daemon", 20, self.log, e)
        with open(token_path or wallet + ".walletd-token") as f:
            self.token = f.read().strip()

    def api(self, method, path, body=None, token="default", timeout=30):
        headers = {}
        if token == "default":
            token = self.token
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif method == "POST":
            data = b""
        r = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(r, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw or b"null")
            except ValueError:
                return err.code, raw

    def status(self):
        s, body = self.api("GET", "/api/status")
        check(s == 200, "status answered %d %r" % (s, body))
        return body

    def job(self, jid):
        s, body = self.api("GET", "/api/jobs/%d" % jid)
        check(s == 200, "job %d answered %d %r" % (jid, s, body))
        return body

    def submit(self, path, body=None):
        s, r = self.api("POST", path, body)
        check(s == 202 and isinstance(r.get("job"), int), "POST %s: %d %r" % (path, s, r))
        return r["job"]

    def wait_job(self, jid, timeout):
        return wait_for(lambda: (lambda j: j if j["phase"] in ("done", "failed") else None)(
            self.job(jid)), timeout, "job %d to finish" % jid, step=0.2)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                return self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise AssertionError("daemon did not stop within 30 s of SIGTERM")
        return self.p.returncode


def run_wallet(wallet, *args, env=None, timeout=300):
    return tzlib.run_wallet(*args, wallet=wallet, env=env, timeout=timeout, keep_node_env=True)


def new_wallet(name):
    return tzlib.copy_wallet(os.path.join(FIXTURE, "wallet.json"), os.path.join(TMP, name))


def notes_match_paid(wallet, sim):
    """The wallet holds exactly the notes the simulator paid to it."""
    w = load(wallet)
    got = sorted((n["index"], n["cm"], int(n["v"]), n["rseed"]) for n in w.get("notes", []))
    want = sorted((p["index"], p["cm"], int(p["v"]), p["rseed"]) for p in sim.paid())
    check(len(want) == PAID, "simulator paid %d notes, expected %d" % (len(want), PAID))
    check(got == want, "wallet notes %r differ from the paid notes %r" % (got, want))


def make_fixture():
    os.makedirs(FIXTURE)
    w = os.path.join(FIXTURE, "wallet.json")
    r = run_wallet(w, "init", "--addresses", "0")
    check(r.returncode == 0, "init failed: " + r.stderr)
    r = run_wallet(w, "receive", "--out", os.path.join(FIXTURE, "addr.json"), timeout=900)
    check(r.returncode == 0, "receive failed: " + r.stderr)


def pay_spec():
    return os.path.join(FIXTURE, "addr.json") + ":%d" % PAID


# ------------------------------------------------------------------ tests

def test_refusals():
    """A non-loopback --listen is refused (unless --allow-remote); so is a missing wallet."""
    w = new_wallet("refuse")
    for listen in ("0.0.0.0:0", "192.0.2.1:8933", "[::]:0"):
        p = subprocess.run([DAEMON_BIN, "--wallet", w, "--listen", listen],
                           capture_output=True, text=True, timeout=20)
        check(p.returncode == 2, "--listen %s: exit %d, stderr %r" % (listen, p.returncode,
                                                                       p.stderr))
        check("not a loopback address" in p.stderr and "--allow-remote" in p.stderr,
              "--listen %s: message %r" % (listen, p.stderr))
    check(not os.path.exists(w + ".walletd-token"), "refused daemon created a token file")
    p = subprocess.run([DAEMON_BIN, "--wallet", os.path.join(TMP, "nope.json")],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 3 and "no wallet at" in p.stderr, "missing wallet: %d %r" %
          (p.returncode, p.stderr))
    p = subprocess.run([DAEMON_BIN, "--wallet", w, "--listen", "127.0.0.1:http"],
                       capture_output=True, text=True, timeout=20)
    check(p.returncode == 2 and "port" in p.stderr, "bad port: %d %r" % (p.returncode, p.stderr))


def test_auth_and_fast_lane():
    """401 on every API route without the right token; the token file is 0600 and
    stable across restarts; fast-lane reads answer while the wallet lock is held;
    a job that cannot get the lock fails naming the holder and removes the sentinel."""
    sim = start_sim(200, "auth", pay=pay_spec())
    d = None
    try:
        w = new_wallet("auth")
        d = Daemon(w, sim, args=["--lock-timeout-secs", "2"])
        tok_path = w + ".walletd-token"
        check(os.stat(tok_path).st_mode & 0o777 == 0o600, "token file mode %o" %
              (os.stat(tok_path).st_mode & 0o777))
        check(len(d.token) == 64 and all(c in "0123456789abcdef" for c in d.token),
              "token %r" % d.token)
        routes = [("GET", "/api/status"), ("GET", "/api/balance"), ("GET", "/api/addresses"),
                  ("GET", "/api/jobs"), ("GET", "/api/jobs/1"), ("POST", "/api/receive"),
                  ("POST", "/api/deposit"), ("POST", "/api/jobs"), ("GET", "/api/nonexistent")]
        wrong = d.token[:-1] + ("0" if d.token[-1] != "0" else "1")
        for method, path in routes:
            for tok in (None, wrong, "", d.token[:32], "Basic " + d.token):
                s, body = d.api(method, path, token=tok)
                check(s == 401, "%s %s with token %r: %d" % (method, path, tok, s))
                check(isinstance(body, dict) and body["error"]["code"] == "UNAUTHORIZED",
                      "%s %s: body %r" % (method, path, body))
        s, body = d.api("GET", "/api/jobs")
        check(s == 200 and body["jobs"] == [], "no job may have been created: %r" % body)
        # the page itself needs no token
        with urllib.request.urlopen(d.url + "/", timeout=10) as r:
            page = r.read().decode()
        check(r.status == 200 and 'id="sync-progress"' in page, "status page not served")

        wait_for(lambda: d.status()["sync_state"] == "synced", 60, "the first sync")
        st = d.status()
        check(st["cursor"] == 200 and st["tree_size"] == 200 and st["last_error"] is None,
              "status after sync %r" % st)
        notes_match_paid(w, sim)

        # Hold the lock as a live process (this test) would, in the older
        # two-field form that tzel-c still honours (and no longer writes).
        lock = w + ".lock"
        with open(lock, "w") as f:
            f.write("%d %d\n" % (os.getpid(), proc_starttime(os.getpid())))
        try:
            for path in ("/api/status", "/api/balance", "/api/addresses"):
                t = time.time()
                s, body = d.api("GET", path, timeout=5)
                took = time.time() - t
                check(s == 200, "%s while locked: %d %r" % (path, s, body))
                check(took < 3, "%s took %.1fs while locked" % (path, took))
            s, bal = d.api("GET", "/api/balance")
            check(bal["private_available"] == PAID * 1000, "balance %r" % bal)
            s, addrs = d.api("GET", "/api/addresses")
            check(len(addrs["addresses"]) == 1, "addresses %r" % addrs)

            jid = d.submit("/api/receive")
            wait_for(lambda: d.job(jid)["phase"] == "waiting-for-lock", 5, "waiting-for-lock")
            check(open(w + ".yield").read().split()[0] == str(d.p.pid),
                  "sentinel should name the daemon while the job waits")
            # exactly what the reference writes, and reads as held
            check(open(w + ".yield").read() == "%d\n" % d.p.pid,
                  "sentinel content %r" % open(w + ".yield").read())
            check(tzlib.ref_pid_file(w + ".yield") == (d.p.pid, False),
                  "reference reading of the sentinel")
            j = d.wait_job(jid, 30)
            check(j["phase"] == "failed" and j["error_code"] == "LOCKED", "job %r" % j)
            check("the wallet is locked by process %d" % os.getpid() in j["error"],
                  "error should name the holder: %r" % j["error"])
            check(j["exit_code"] == 4 and j["stderr"], "raw stderr should be kept: %r" % j)
            check(not os.path.exists(w + ".yield"), "sentinel left after a failed job")
            # a job id is what the daemon writes, nothing else
            s, _ = d.api("GET", "/api/jobs/%d" % jid)
            check(s == 200, "job %d: %d" % (jid, s))
            for tricky in ("+%d" % jid, "0%d" % jid, "%%20%d" % jid, "%d%%00abc" % jid,
                           "%d " % jid, "-%d" % jid, "%d.0" % jid, "99999999999999999999"):
                s, body = d.api("GET", "/api/jobs/" + tricky.replace(" ", "%20"))
                check(s == 404, "/api/jobs/%s answered %d %r" % (tricky, s, body))
        finally:
            os.unlink(lock)
        check(load(w)["addr_counter"] == 1, "the failed job changed the wallet")

        # Bad job requests are refused before queueing.
        for body in ({"args": ["sync"]}, {"args": ["receive", "-w", "/tmp/x"]}, {"args": []},
                     {"args": "receive"}, {"args": ["init", "--force"]}):
            s, r = d.api("POST", "/api/jobs", body)
            check(s == 400 and r["error"]["code"] == "BAD_REQUEST", "%r: %d %r" % (body, s, r))
        for body in ({}, {"amount": 0}, {"amount": -5}, {"amount": "12x"}, {"amount": "0"},
                     {"amount": "000"}, {"amount": "18446744073709551616"}):
            s, r = d.api("POST", "/api/deposit", body)
            check(s == 400, "deposit %r: %d %r" % (body, s, r))
        check(d.stop() == 0, "daemon exit status on SIGTERM")
        # restart: the same token is reused
        d = Daemon(w, sim, args=["--job-timeout-secs", "1"])
        with open(tok_path) as f:
            check(f.read().strip() == d.token, "token changed")
        wait_for(lambda: d.status()["sync_state"] == "synced", 60, "the sync after restart")

        # A job stopped at its timeout still removes the sentinel; the lock
        # its killed child leaves names a dead PID and the next sync recovers.
        jid = d.submit("/api/receive")
        j = d.wait_job(jid, 30)
        check(j["phase"] == "failed" and j["error_code"] == "TIMEOUT", "job %r" % j)
        check("did not finish within 1 s" in j["error"], "timeout error %r" % j["error"])
        check(not os.path.exists(w + ".yield"), "sentinel left after a timed-out job")
        check(load(w)["addr_counter"] == 1, "the stopped job changed the wallet")
        runs = d.status()["sync_runs"]
        st = wait_for(lambda: (lambda s: s if s["sync_runs"] > runs + 1 and
                               s["sync_state"] == "synced" else None)(d.status()),
                      30, "the sync to run again after the stopped job")
        check(st["last_error"] is None, "sync after the stopped job: %r" % st["last_error"])

        # The node goes away: the sync backs off and says why; reads still answer.
        sim.stop()
        st = wait_for(lambda: (lambda s: s if s["sync_state"] == "backoff" and s["last_error"]
                               else None)(d.status()), 30, "the sync to fail")
        check("rollup node is unreachable" in st["last_error"], "last_error %r" %
              st["last_error"])
        check(st["next_sync_in_ms"] is not None and st["next_sync_in_ms"] <= 30000,
              "backoff %r" % st["next_sync_in_ms"])
        s, bal = d.api("GET", "/api/balance")
        check(s == 200 and bal["private_available"] == PAID * 1000, "balance without node")
    finally:
        if d:
            d.stop()
        sim.stop()


def test_jobs_during_sync():
    """A job queued during a long sync starts within a second or so, a second job
    runs after it, a failing job (node error) gets an actionable message and
    still removes the sentinel, and the sync then completes with exactly the
    paid notes."""
    sim = start_sim(LEAVES, "jobs", pay=pay_spec(), latency_ms=LATENCY_MS)
    d = None
    try:
        w = new_wallet("jobs")
        d = Daemon(w, sim)
        wait_for(lambda: (lambda s: s["sync_state"] == "syncing" and (s["cursor"] or 0) >= 200)(
            d.status()), 60, "the sync to make progress")
        before = d.status()
        check(before["tree_size"] == LEAVES and before["cursor"] < LEAVES,
              "sync should be under way: %r" % before)
        j1 = d.submit("/api/receive")
        first = wait_for(lambda: (lambda j: j if j["phase"] == "running" else None)(d.job(j1)),
                         20, "job 1 to run")
        lat = first["started_at"] - first["queued_at"]
        check(lat < 5000, "job 1 took %d ms to start" % lat)
        check(os.path.exists(w + ".yield"), "sentinel should be raised while the job runs")
        st = d.status()
        check(st["sync_pid"] is None and st["sync_state"] in ("paused", "yielding"),
              "the sync should have yielded: %r" % st)
        check(st["cursor"] < LEAVES, "the sync should not have finished: %r" % st)
        check(st["current_job"]["id"] == j1, "current job %r" % st["current_job"])

        # The second job's first node read fails.
        sim.post("fault", {"status": 503, "next": 1})
        j2 = d.submit("/api/deposit", {"amount": 7})
        check(d.job(j2)["phase"] == "queued", "job 2 should wait behind job 1")
        check(d.status()["queue_length"] == 1, "queue length")

        r1 = d.wait_job(j1, 600)
        check(r1["phase"] == "done" and r1["result"]["index"] == 1, "job 1 %r" % r1)
        r2 = d.wait_job(j2, 60)
        check(r2["started_at"] >= r1["finished_at"], "job 2 started before job 1 finished")
        check(r2["phase"] == "failed" and r2["error_code"] == "NETWORK", "job 2 %r" % r2)
        check("rollup node" in r2["error"] and "503" in r2["error"], "job 2 error %r" %
              r2["error"])
        check(not os.path.exists(w + ".yield"), "sentinel left after the failed job")

        wait_for(lambda: d.status()["sync_state"] == "synced", 120, "the sync to finish")
        st = d.status()
        check(st["cursor"] == LEAVES and st["sync_yields"] >= 1, "status %r" % st)
        check(st["last_sync"]["verified_root"] == sim.chain()["root"],
              "root not verified: %r" % st["last_sync"])
        notes_match_paid(w, sim)
        wl = load(w)
        check(wl["scanned"] == LEAVES and wl["addr_counter"] == 2, "wallet %r" %
              {k: wl[k] for k in ("scanned", "addr_counter")})
        check(not wl.get("pending_deposits"), "the failed deposit left a pending deposit")
        s, jobs = d.api("GET", "/api/jobs")
        check([j["id"] for j in jobs["jobs"]] == [j2, j1], "job list %r" % jobs)
        check(d.stop() == 0, "daemon exit status on SIGTERM")
        check(not os.path.exists(w + ".yield") and not os.path.exists(w + ".lock"),
              "sentinel or lock left after SIGTERM")
        shutil.copy2(w, os.path.join(TMP, "synced.json"))
        shutil.copy2(w + ".xmss-floor", os.path.join(TMP, "synced.json.xmss-floor"))
    finally:
        if d:
            d.stop()
        sim.stop()


def test_sigkill_mid_job():
    """SIGKILL of the daemon while its job runs: the next plain sync removes the
    stale sentinel with a warning naming the daemon's PID, exits 0 and finishes."""
    sim = start_sim(LEAVES, "jobs", pay=pay_spec(), latency_ms=LATENCY_MS)
    d = None
    try:
        w = new_wallet("kill")
        d = Daemon(w, sim)
        wait_for(lambda: (d.status()["cursor"] or 0) >= 200, 60, "the sync to make progress")
        jid = d.submit("/api/receive")
        wait_for(lambda: d.job(jid)["phase"] == "running", 20, "the job to run")
        daemon_pid = d.p.pid
        check(open(w + ".yield").read().split()[0] == str(daemon_pid), "sentinel content")
        check(open(w + ".yield").read() == "%d\n" % daemon_pid,
              "sentinel of a running job holds %r" % open(w + ".yield").read())
        d.p.kill()
        d.p.wait()
        # The job's child dies with its parent; wait until its lock is stale.
        try:
            holder = int(open(w + ".lock").read().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            holder = None
        if holder:
            wait_for(lambda: pid_gone(holder), 20, "the orphaned job child to exit")
        check(os.path.exists(w + ".yield"), "the killed daemon's sentinel should remain")
        scanned_before = load(w)["scanned"]
        check(scanned_before < LEAVES, "sync should not have finished")

        e = {"TZEL_ROLLUP_NODE_URL": sim.url, "TZEL_SYNC_CHECKPOINT_EVERY": "50"}
        r = run_wallet(w, "--json", "sync", env=e)
        check(r.returncode == 0, "sync after SIGKILL: exit %d %s" % (r.returncode, r.stderr[-2000:]))
        res = json.loads(r.stdout)["result"]
        check(not res["yielded"] and res["scanned"] == LEAVES, "result %r" % res)
        evs = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
        stale = [x for x in evs if x["event"] == "stale_sentinel"]
        check(len(stale) == 1 and stale[0]["pid"] == daemon_pid, "stale events %r" % stale)
        warn = [x for x in evs if x["event"] == "warning" and str(daemon_pid) in x["message"]]
        check(warn, "no warning naming PID %d: %r" % (daemon_pid, evs))
        check(not os.path.exists(w + ".yield"), "stale sentinel not removed")
        notes_match_paid(w, sim)
        check(load(w)["addr_counter"] == 1, "the killed receive should not have saved")
    finally:
        if d and d.p.poll() is None:
            d.p.kill()
            d.p.wait()
        sim.stop()


def test_sigterm_during_sync():
    """SIGTERM while the sync runs: the sync child is stopped and waited for, no
    lock or sentinel is left, the progress saved so far stays, exit 0."""
    sim = start_sim(LEAVES, "jobs", pay=pay_spec(), latency_ms=LATENCY_MS)
    d = None
    try:
        w = new_wallet("term")
        d = Daemon(w, sim)
        st = wait_for(lambda: (lambda s: s if s["sync_pid"] and s["wallet_file"] and
                               (s["wallet_file"]["scanned"] or 0) >= 50 else None)(d.status()),
                      60, "the sync to save a checkpoint")
        child = st["sync_pid"]
        t = time.time()
        d.p.terminate()
        rc = d.p.wait(30)
        check(rc == 0, "exit status %d on SIGTERM" % rc)
        check(time.time() - t < 15, "stopping took %.1fs" % (time.time() - t))
        check(not os.path.exists("/proc/%d" % child), "sync child %d still running" % child)
        check(not os.path.exists(w + ".lock") and not os.path.exists(w + ".yield"),
              "lock or sentinel left behind")
        wait_for(lambda: "tzel-walletd: stopped" in "".join(d.log), 5, "the stop message")
        scanned = load(w)["scanned"]
        check(0 < scanned < LEAVES, "saved cursor %r" % scanned)
    finally:
        if d and d.p.poll() is None:
            d.p.kill()
            d.p.wait()
        sim.stop()


def test_symlinked_wallet():
    """--wallet naming a symlink is resolved like tzel-wallet resolves it: the
    token, the sentinel and the lock the daemon watches sit beside the
    target, where its sync children save; the link stays a link. A dangling
    link or a loop is refused."""
    folder = os.path.join(TMP, "symlink")
    target = tzlib.copy_wallet(os.path.join(FIXTURE, "wallet.json"), os.path.join(folder, "real"))
    os.unlink(target + ".xmss-floor")
    links = tzlib.new_dir(folder, "links")
    link = os.path.join(links, "wallet.json")
    os.symlink("../real/wallet.json", link)
    for name, to, words in (("dangling.json", "../real/none.json", "dangling"),
                            ("loop.json", "loop.json", "symlink loop")):
        bad = os.path.join(links, name)
        os.symlink(to, bad)
        p = subprocess.run([DAEMON_BIN, "--wallet", bad], capture_output=True, text=True,
                           timeout=20)
        check(p.returncode == 3 and words in p.stderr, "%s: %d %r" % (name, p.returncode,
                                                                      p.stderr))
    sim = start_sim(200, "symlink", pay=pay_spec())
    d = None
    try:
        d = Daemon(link, sim, token_path=target + ".walletd-token")
        wait_for(lambda: d.status()["sync_state"] == "synced", 60, "the first sync")
        check(d.status()["wallet"] == os.path.realpath(target), "status wallet %r" %
              d.status()["wallet"])
        notes_match_paid(target, sim)
        check(os.path.islink(link), "the link was replaced by a file")
        check(os.path.exists(target + ".xmss-floor"), "no floor beside the target")
        check(sorted(os.listdir(links)) == ["dangling.json", "loop.json", "wallet.json"],
              "files beside the link: %r" % os.listdir(links))
    finally:
        if d:
            d.stop()
        sim.stop()


STUBBORN_WALLET = """#!/usr/bin/env python3
# A stand-in tzel-wallet whose `sync` ignores SIGTERM and never yields (as a
# sync stuck in a trickling read would); every other command succeeds.
import json, signal, sys, time
args = [a for a in sys.argv[1:] if a not in ("--json",)]
cmd = next((a for a in args[2:] if not a.startswith("-")), "")
if cmd == "sync":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)
print(json.dumps({"command": cmd, "result": {}, "schema_version": 1}))
"""


def test_stubborn_sync_is_killed():
    """A sync that ignores both the sentinel and SIGTERM is killed after a grace
    period, so a queued job still runs instead of waiting forever."""
    w = new_wallet("stubborn")
    stub = os.path.join(TMP, "stubborn-wallet")
    with open(stub, "w") as f:
        f.write(STUBBORN_WALLET)
    os.chmod(stub, 0o755)
    d = Daemon(w, None, args=["--wallet-bin", stub, "--yield-timeout-secs", "1"])
    try:
        st = wait_for(lambda: (lambda s: s if s["sync_pid"] else None)(d.status()), 20,
                      "the stand-in sync to start")
        child = st["sync_pid"]
        t = time.time()
        jid = d.submit("/api/receive")
        j = d.wait_job(jid, 40)
        check(j["phase"] == "done", "job ended %r" % j)
        took = time.time() - t
        check(took < 30, "the job waited %.1fs for a sync that ignores SIGTERM" % took)
        check(not os.path.exists("/proc/%d" % child) or
              open("/proc/%d/stat" % child).read().split()[2] == "Z",
              "stubborn sync %d still running" % child)
        check(not os.path.exists(w + ".yield"), "sentinel left behind")
    finally:
        d.stop()


def test_status_page_chromium():
    """The status page in headless Chromium shows the progress bar and balance."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    # scripts/setup.sh --test installs it: its absence is a broken set-up, not a pass
    check(chromium, "chromium is not installed (scripts/setup.sh --test installs it)")
    synced = os.path.join(TMP, "synced.json")
    sim = start_sim(LEAVES, "jobs", pay=pay_spec())
    d = None
    try:
        w = new_wallet("page")
        if os.path.exists(synced):
            shutil.copy2(synced, w)
            shutil.copy2(synced + ".xmss-floor", w + ".xmss-floor")
        d = Daemon(w, sim)
        wait_for(lambda: d.status()["sync_state"] == "synced", 120, "the sync to finish")
        s, bal = d.api("GET", "/api/balance")
        check(s == 200 and bal["private_available"] == PAID * 1000, "balance %r" % bal)
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "daemon-status-page.png")
        if os.path.exists(shot):
            os.unlink(shot)
        url = d.url + "/#token=" + d.token
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1000,800", "--virtual-time-budget=3000"]
        prof = os.path.join(TMP, "chromium-profile")
        r = subprocess.run(base + ["--user-data-dir=" + prof + "-dom", "--dump-dom", url],
                           capture_output=True, text=True, timeout=120)
        dom = r.stdout
        check('id="sync-progress"' in dom, "no progress element in the DOM: %r" % dom[:500])
        check('value="1"' in dom.split('id="sync-progress"')[1][:40] or
              'id="sync-progress" max="1" value="1"' in dom,
              "progress bar not at 100%%: %r" % dom[dom.index('id="sync-progress"') - 20:][:120])
        check('<b id="sync-cursor">3,000</b>' in dom, "cursor not shown")
        check("balance-figure" in dom and "<b>3,000</b><span>private available</span>" in dom,
              "balance figures not shown: %r" % dom[dom.find('id="balance"'):][:600])
        r = subprocess.run(base + ["--user-data-dir=" + prof + "-shot", "--screenshot=" + shot,
                                   url], capture_output=True, text=True, timeout=120)
        check(os.path.exists(shot) and open(shot, "rb").read(8) == b"\x89PNG\r\n\x1a\n",
              "no screenshot written: %s" % r.stderr[-1000:])
        print("     screenshot: " + shot)
    finally:
        if d:
            d.stop()
        sim.stop()


TESTS = [
    ("refuse", test_refusals),
    ("auth", test_auth_and_fast_lane),
    ("jobs", test_jobs_during_sync),
    ("kill", test_sigkill_mid_job),
    ("term", test_sigterm_during_sync),
    ("stubborn", test_stubborn_sync_is_killed),
    ("page", test_status_page_chromium),
    ("symlink", test_symlinked_wallet),
]


def main():
    become_subreaper()
    return tzlib.run_tests(TESTS, TMP, make_fixture)


if __name__ == "__main__":
    sys.exit(main())
