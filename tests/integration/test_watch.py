#!/usr/bin/env python3
"""Integration tests of watch-only wallets (`tzel-wallet watch init|sync|show`)
against the real tzel-rollup-sim: refusals of bad material, the reference's
file serialization and status, the three modes on the sync engine, crash
and yield safety.

Run all: python3 test_watch.py; some: python3 test_watch.py init view ...
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tzlib import check, load  # noqa: E402
import tzlib  # noqa: E402

TMP = tempfile.mkdtemp(prefix="tz-it-watch-")
CACHE = os.path.join(TMP, "chain-cache")
FIXTURE = os.path.join(TMP, "fixture")
K0_MSG = '--checkpoint-every must be a positive integer (got "0")'

F1 = "01" * 32
F2 = "02" * 32


# ---------------------------------------------------------------- helpers

def run(*args, wallet=None, url=None, json_mode=False, env=None, timeout=300):
    return tzlib.run_wallet(*args, wallet=wallet, url=url, json_mode=json_mode, env=env,
                            timeout=timeout)


def put_json(path, v):
    with open(path, "w") as f:
        json.dump(v, f)
    return path


def serde_pretty(v):
    """serde_json::to_string_pretty of a struct (key order as given)."""
    return json.dumps(v, indent=2, ensure_ascii=False)


def without_ours(path):
    """The watch file's text with our tzel_c_sync key removed, re-serialized
    as the reference would (key order kept)."""
    d = json.loads(open(path).read())
    d.pop("tzel_c_sync", None)
    return serde_pretty(d)


def view_addr(index):
    return {"index": index, "d_j": F1, "auth_root": F2, "auth_pub_seed": F1, "nk_tag": F2}


# ------------------------------------------------------------------ tests

def test_init_refusals():
    """Bad material is refused with the field named, exit 2, nothing written;
    an existing file is refused (exit 3) unless --force."""
    d = tzlib.new_dir(TMP, "init")
    w = os.path.join(d, "watch.json")
    cases = [
        ({"mode": "spend", "version": 1}, "field mode"),
        ({"mode": "detect", "version": 2, "detect_root": F1, "addr_count": 1}, "field version"),
        ({"mode": "detect", "version": 1, "detect_root": "zz" * 32, "addr_count": 1},
         "field detect_root"),
        ({"mode": "outgoing", "version": 1, "outgoing_seed": "00" * 31 + "f8"},
         "field outgoing_seed: felt out of range"),
        ({"mode": "detect", "version": 1, "detect_root": F1}, "field addr_count: missing"),
        ({"mode": "view", "version": 1, "incoming_seed": F1,
          "addresses": [view_addr(2), view_addr(1)]},
         "field addresses[1].index: address records must be in increasing index order"),
    ]
    for i, (mat, needle) in enumerate(cases):
        m = put_json(os.path.join(d, "m%d.json" % i), mat)
        r = run("watch", "init", "--material", m, wallet=w, json_mode=True)
        check(r.returncode == 2, "case %d: exit %d %s" % (i, r.returncode, r.stderr))
        check(needle in r.stderr and needle in json.loads(r.stdout)["error"]["message"],
              "case %d: %r not in %r" % (i, needle, r.stderr))
        check(not os.path.exists(w), "case %d: file written" % i)
    r = run("watch", "init", wallet=w)
    check(r.returncode == 2 and "--material" in r.stderr, "no --material: %s" % r.stderr)

    m = put_json(os.path.join(d, "ok.json"),
                 {"mode": "outgoing", "version": 1, "outgoing_seed": F1})
    r = run("watch", "init", "--material", m, wallet=w)
    check(r.returncode == 0 and r.stdout == "Watch wallet created: %s\n" % w,
          "init: %d %r %s" % (r.returncode, r.stdout, r.stderr))
    check(os.stat(w).st_mode & 0o777 == 0o600, "mode %o" % os.stat(w).st_mode)
    before = open(w, "rb").read()
    r = run("watch", "init", "--material", m, wallet=w)
    check(r.returncode == 3 and "already exists; pass --force to overwrite" in r.stderr,
          "existing: %d %s" % (r.returncode, r.stderr))
    check(open(w, "rb").read() == before, "existing file changed")
    r = run("watch", "init", "--material", m, "--force", wallet=w, json_mode=True)
    check(r.returncode == 0 and json.loads(r.stdout)["result"] == {"created": True, "path": w},
          "--force: %d %r" % (r.returncode, r.stdout))
    check(without_ours(w) == serde_pretty({"mode": "outgoing", "version": 1,
                                           "outgoing_seed": F1, "scanned": 0, "notes": []}),
          "layout: %s" % open(w).read())


def test_show():
    """watch show prints the reference's status, pretty; read-only even while locked."""
    d = tzlib.new_dir(TMP, "show")
    w = os.path.join(d, "watch.json")
    m = put_json(os.path.join(d, "m.json"),
                 {"mode": "view", "version": 1, "incoming_seed": F1, "addresses": [view_addr(0)]})
    check(run("watch", "init", "--material", m, wallet=w).returncode == 0, "init")
    doc = load(w)
    doc["scanned"] = 12
    doc["notes"] = [{"index": 3, "addr_index": 0, "cm": F2, "value": 18446744073709551615,
                     "memo": "6869"},
                    {"index": 7, "addr_index": 0, "cm": F1, "value": 5, "memo": ""}]
    put_json(w, doc)
    open(w + ".lock", "w").write("%d\n" % os.getpid())
    before = open(w, "rb").read()
    r = run("watch", "show", wallet=w)
    check(r.returncode == 0, "show: %s" % r.stderr)
    want = serde_pretty({"mode": "view", "scanned": 12, "tracked": 2,
                         "incoming_total": 18446744073709551620, "outgoing_total": 0,
                         "spend_status": "unavailable_without_spend_key",
                         "notes": doc["notes"]}) + "\n"
    check(r.stdout == want, "show:\n%s\nwant:\n%s" % (r.stdout, want))
    r = run("watch", "show", wallet=w, json_mode=True)
    check(json.loads(r.stdout)["result"]["status"]["tracked"] == 2, r.stdout)
    check(open(w, "rb").read() == before, "show changed the file")
    os.unlink(w + ".lock")
    r = run("watch", "show", wallet=os.path.join(d, "missing.json"))
    check(r.returncode == 3, "missing: %d" % r.returncode)


# ------------------------------------------------------- sync on the engine

STATE = "/tzel/v1/state"
PAID_VALUE = 1000


def make_fixture():
    """A one-address wallet (its address file beside it) and its three
    exported materials."""
    os.makedirs(FIXTURE)
    w = os.path.join(FIXTURE, "wallet.json")
    r = run("init", "--addresses", "0", wallet=w)
    check(r.returncode == 0, "init failed: " + r.stderr)
    r = run("receive", "--out", os.path.join(FIXTURE, "addr.json"), wallet=w, timeout=600)
    check(r.returncode == 0, "receive failed: " + r.stderr)
    for m in ("detect", "view", "outgoing"):
        r = run("export-" + m, "--out", os.path.join(FIXTURE, m + ".json"), wallet=w)
        check(r.returncode == 0, "export-%s failed: %s" % (m, r.stderr))


def material(mode):
    return os.path.join(FIXTURE, mode + ".json")


def start_sim(leaves, seed, **kw):
    return tzlib.SimServer.start(leaves, seed, cache=CACHE, threads=2, **kw)


def chain_with_sent(leaves, seed, sent=3, **kw):
    """A simulator whose chain pays the fixture wallet 5 notes among `leaves`,
    then `sent` notes the wallet sent (outgoing ciphertexts under its
    outgoing_seed). Returns (sim, the sent leaves as /sim/append lists them)."""
    sim = start_sim(leaves, seed, pay=os.path.join(FIXTURE, "addr.json") + ":5", **kw)
    out = sim.post("append", {"count": sent, "sender": load(material("outgoing")),
                              "role": "transfer_recipient"})
    return sim, out["leaves"]


def new_watch(name, mode):
    d = tzlib.new_dir(TMP, name)
    w = os.path.join(d, name + ".json")
    r = run("watch", "init", "--material", material(mode), wallet=w)
    check(r.returncode == 0, "watch init: " + r.stderr)
    return w


def watch_sync(w, url, *args, json_mode=False, env=None):
    return run("watch", "sync", *args, wallet=w, url=url, json_mode=json_mode, env=env)


def sync_ok(w, url, *args, **kw):
    r = watch_sync(w, url, *args, **kw)
    check(r.returncode == 0, "watch sync failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    return r


def read_note(sim, i):
    key = "%s/notes/%016x" % (STATE, i)
    n = int.from_bytes(bytes.fromhex(sim.value(key + "/len")), "little")
    data = b""
    for c in range((n + 1023) // 1024):
        data += bytes.fromhex(sim.value("%s/chunk/%08x" % (key, c)))
    return data


def tags_match(sim, indices):
    """The simulator's own verdict on the detection tag of each leaf for the
    fixture wallet's address 0 (the one receive made)."""
    wal = load(os.path.join(FIXTURE, "wallet.json"))
    a = [x for x in wal["addresses"] if x["index"] == 0][0]
    spec = "%s:0:%s" % (wal["master_sk"], a["auth_root"])
    notes = "\n".join(read_note(sim, i).hex() for i in indices) + "\n"
    out = subprocess.run([tzlib.SIM_BIN, "--check-note", spec], input=notes, capture_output=True,
                         text=True, timeout=120)
    check(out.returncode == 0, out.stderr)
    return [json.loads(l)["detected"] for l in out.stdout.splitlines()]


def test_three_modes_and_reference_files():
    """A wallet paid 5 notes among the leaves, plus 3 it sent: view records exactly the 5
    with values and memos, detect lists the 5 among candidates whose tags all match,
    outgoing exactly the 3; each file is the reference's serialization of its records,
    and stdout the reference's line."""
    sim, sent = chain_with_sent(5000, "watch-modes")
    with sim:
        paid = sorted(p["index"] for p in sim.paid())
        size = 5003
        wv, wd, wo = (new_watch("modes-" + m, m) for m in ("view", "detect", "outgoing"))

        r = sync_ok(wv, sim.url)
        check(r.stdout == "Watch sync: 5 new validated notes, cursor=%d, tracked=5, "
              "incoming_total=%d, spend_status=unavailable_without_spend_key\n"
              % (size, 5 * PAID_VALUE), "view stdout %r" % r.stdout)
        doc = load(wv)
        notes = [{"index": p["index"], "addr_index": 0, "cm": p["cm"], "value": p["v"],
                  "memo": "f6"} for p in sorted(sim.paid(), key=lambda p: p["index"])]
        check(doc["notes"] == notes, "view notes %r" % doc["notes"])
        mat = load(material("view"))
        want = dict(mat)
        want.update({"scanned": size, "notes": notes})
        check(without_ours(wv) == serde_pretty(want), "view file:\n" + open(wv).read()[:3000])
        check(doc["tzel_c_sync"]["verified"]["size"] == size, "root not verified")

        r = sync_ok(wd, sim.url)
        doc = load(wd)
        cands = [m["index"] for m in doc["matches"]]
        check(set(paid) <= set(cands), "paid %r not among candidates %r" % (paid, cands))
        check(cands == sorted(cands) and len(cands) < 60, "candidates %r" % cands)
        check(all(m["addr_index"] == 0 for m in doc["matches"]), "addr_index")
        check(all(tags_match(sim, cands)), "a candidate's tag does not match")
        check(not any(tags_match(sim, [i for i in range(0, 400) if i not in cands])),
              "a leaf whose tag matches is missing from the candidates")
        check(r.stdout == "Watch sync: %d new candidate matches, cursor=%d, tracked=%d, "
              "mode=detect\n" % (len(cands), size, len(cands)), "detect stdout %r" % r.stdout)
        want = dict(load(material("detect")))
        want.update({"scanned": size, "matches": doc["matches"]})
        check(without_ours(wd) == serde_pretty(want), "detect file:\n" + open(wd).read()[:2000])

        r = sync_ok(wo, sim.url, json_mode=True)
        doc = load(wo)
        got = [(n["index"], n["cm"], n["value"], n["rseed"], n["role"]) for n in doc["notes"]]
        check(got == [(x["index"], x["cm"], x["v"], x["rseed"], "transfer_recipient")
                      for x in sent], "outgoing %r, sent %r" % (got, sent))
        res = json.loads(r.stdout)["result"]
        check(res["found"] == 3 and res["next_cursor"] == size and
              res["status"]["outgoing_total"] == sum(x["v"] for x in sent) and
              res["status"]["outgoing_notes"] == doc["notes"], "envelope %r" % res)
        check("Watch sync: 3 new outgoing notes, cursor=%d, tracked=3, outgoing_total=%d, "
              "spend_status=unavailable_without_spend_key" % (size, sum(x["v"] for x in sent))
              in r.stderr, "the line goes to stderr with --json")

        # a second round finds nothing new and keeps the records
        r = sync_ok(wv, sim.url)
        check(r.stdout.startswith("Watch sync: 0 new validated notes, cursor=%d, tracked=5"
                                  % size), r.stdout)


def test_k0_refused_without_request():
    with start_sim(40, "watch-k0") as sim:
        w = new_watch("k0", "detect")
        before = open(w, "rb").read()
        sim.reset()
        r = watch_sync(w, sim.url, "--checkpoint-every", "0", json_mode=True)
        check(r.returncode == 2 and K0_MSG in r.stderr, "exit %d %s" % (r.returncode, r.stderr))
        r = watch_sync(w, sim.url, env={"TZEL_SYNC_CHECKPOINT_EVERY": "0"})
        check(r.returncode == 2, "env K=0: exit %d" % r.returncode)
        # the request timeout is sync's option too, checked as early
        r = watch_sync(w, sim.url, "--rpc-timeout-secs", "0")
        check(r.returncode == 2 and "--rpc-timeout-secs must be 1 to" in r.stderr,
              "timeout 0: exit %d %s" % (r.returncode, r.stderr))
        check(sim.rpc_requests() == 0, "requests were made")
        check(open(w, "rb").read() == before and not os.path.exists(w + ".lock"), "file touched")


def test_sigkill_then_resume_same_records():
    """SIGKILL during a watch sync, then resume: the same records as an uninterrupted sync."""
    sim, _ = chain_with_sent(3000, "watch-kill")
    with sim:
        ref = new_watch("kill-ref", "view")
        sync_ok(ref, sim.url)
        sim.post("latency", {"ms": 3})
        w = new_watch("kill", "view")
        p = tzlib.spawn_wallet("watch", "sync", "--checkpoint-every", "50", "--concurrency", "4",
                               wallet=w, url=sim.url)
        try:
            tzlib.wait_for(lambda: 0 < load(w)["scanned"] < 3003, 60, "a checkpoint",
                           step=0.02)
            time.sleep(0.05)
            p.send_signal(signal.SIGKILL)
        finally:
            p.wait(timeout=30)
        mid = load(w)["scanned"]
        check(0 < mid < 3003, "killed at %d" % mid)
        sim.post("latency", {"ms": 0})
        sync_ok(w, sim.url)
        check(load(w)["notes"] == load(ref)["notes"] and load(w)["scanned"] == 3003,
              "records differ after resume")
        check(without_ours(w) == without_ours(ref), "files differ")


def test_sentinel_yields_watch_sync():
    """A live <watch>.yield makes watch sync save its first batch and exit 0; the next
    run, without it, finishes."""
    with start_sim(600, "watch-yield") as sim:
        w = new_watch("yield", "detect")
        open(w + ".yield", "w").write("%d\n" % os.getpid())
        r = sync_ok(w, sim.url, "--checkpoint-every", "100", json_mode=True)
        res = json.loads(r.stdout)["result"]
        check(res.get("yielded") is True and res["next_cursor"] == 100 and
              load(w)["scanned"] == 100, "yield %r" % res)
        check(os.path.exists(w + ".yield"), "sentinel removed")
        os.unlink(w + ".yield")
        r = sync_ok(w, sim.url)
        check(load(w)["scanned"] == 600 and "cursor=600" in r.stdout, r.stdout)


def test_faults_clear_error_intact_file():
    """Each simulator fault: a clear error, and a file that loads at its last checkpoint;
    a tampered leaf is caught by the root check and the file returns to the verified state."""
    sim, _ = chain_with_sent(400, "watch-faults")
    with sim:
        w = new_watch("faults", "view")
        cases = [({"status": 503, "next": 1000}, 5, "503"),
                 ({"drop": True, "next": 1000}, 5, ""),
                 ({"truncate": True, "next": 1000}, 5, ""),
                 ({"malformed": True, "note_index": 150}, 6, "notes/0000000000000096")]
        for fault, code, needle in cases:
            sim.post("fault/clear")
            sim.post("fault", fault)
            r = watch_sync(w, sim.url, "--checkpoint-every", "50")
            check(r.returncode == code, "%r: exit %d %s" % (fault, r.returncode, r.stderr))
            check(r.stderr.count("error: watch sync failed: ") == 1 and needle in r.stderr and
                  "profile show` to confirm the saved rollup profile." in r.stderr,
                  "%r: %s" % (fault, r.stderr))
            doc = load(w)
            check(doc["scanned"] % 50 == 0 and doc["scanned"] <= 150, "%r: cursor %d"
                  % (fault, doc["scanned"]))
        sim.post("fault/clear")
        sync_ok(w, sim.url)
        good = load(w)
        check(len(good["notes"]) == 5 and good["scanned"] == 403, "after faults %r" % good)
        sim.post("append", {"count": 20})
        sim.post("fault", {"tamper_note": 410})
        r = watch_sync(w, sim.url)
        check(r.returncode == 6 and "root mismatch" in r.stderr and
              "returned to its last verified state: cursor 423 -> 403" in r.stderr,
              "tamper: %d %s" % (r.returncode, r.stderr))
        check(load(w)["scanned"] == 403 and load(w)["notes"] == good["notes"], "rolled back")
        sim.post("fault/clear")
        sync_ok(w, sim.url)
        check(load(w)["scanned"] == 423, "honest node repairs it")


# ------------------------------------------------------------- tzel-detect

DETECT_BIN = os.path.join(tzlib.BIN, "tzel-detect")


class Detect:
    """A tzel-detect on a free port: url, the process, requests."""

    def __init__(self, wallets, url, *extra, env=None):
        args = [DETECT_BIN, "--bind", "127.0.0.1:0", "--rollup-node-url", url]
        for w in wallets:
            args += ["--wallet", w]
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(args + list(extra), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=e)
        line = self.p.stdout.readline()
        check(line.startswith("Detection service listening on http://127.0.0.1:"),
              "no ready line: %r %s" % (line, self.p.stderr.read() if self.p.poll() else ""))
        self.url = line.split()[-1]

    def req(self, method, path, token=None):
        """(status, body text)."""
        import urllib.error
        import urllib.request
        rq = urllib.request.Request(self.url + path, method=method,
                                    data=b"" if method == "POST" else None)
        if token:
            rq.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(rq, timeout=120) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def json(self, method, path, token=None):
        st, body = self.req(method, path, token)
        check(st == 200, "%s %s: %d %s" % (method, path, st, body))
        return json.loads(body)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout=60)


def test_detect_one_pass_for_three_wallets():
    """Three wallets at cursors 0, 1000 and 2000 are served by one pass: the simulator
    reads each leaf once; the routes answer the reference's shapes."""
    addr = load(os.path.join(FIXTURE, "addr.json"))
    with start_sim(1000, "detect-pass") as small:
        wv = new_watch("pass-view", "view")
        sync_ok(wv, small.url)
    with start_sim(2000, "detect-pass") as mid:
        wo = new_watch("pass-out", "outgoing")
        sync_ok(wo, mid.url)
    wd = new_watch("pass-detect", "detect")
    with start_sim(3000, "detect-pass") as sim:
        paid = sim.post("append", {"to": addr, "count": 2})["leaves"]
        sent = sim.post("append", {"count": 2, "sender": load(material("outgoing"))})["leaves"]
        sim.reset()
        d = Detect([wd, wv, wo], sim.url, "--interval-secs", "3600")
        try:
            tzlib.wait_for(lambda: all(load(w)["scanned"] == 3004 for w in (wd, wv, wo)), 120,
                           "the first round")
            c = sim.counters()["requests"]
            check(c["values"] == 3004, "leaves read %r (one pass reads 3004)" % c)
            check([n["index"] for n in load(wv)["notes"]] == [x["index"] for x in paid],
                  "view %r" % load(wv)["notes"])
            check([(n["index"], n["value"]) for n in load(wo)["notes"]] ==
                  [(x["index"], x["v"]) for x in sent], "outgoing %r" % load(wo)["notes"])
            cands = [m["index"] for m in load(wd)["matches"]]
            check(all(x["index"] in cands for x in paid), "detect %r" % cands)
            check(load(wv)["tzel_c_sync"]["verified"]["size"] == 3004, "view root not verified")

            check(d.req("GET", "/healthz") == (200, "ok"), "healthz")
            st = d.json("GET", "/v1/status?wallet=pass-view.json")
            check(st["tracked"] == 2, "status %r" % st)
            code, body = d.req("GET", "/v1/status")
            check(code == 400 and "?wallet=" in body, "several wallets: %d %s" % (code, body))
            code, _ = d.req("GET", "/v1/status?wallet=nope.json")
            check(code == 404, "unknown wallet %d" % code)
            ws = d.json("GET", "/v1/wallets")["wallets"]
            check([w["name"] for w in ws] == ["pass-detect.json", "pass-view.json",
                                              "pass-out.json"] and
                  [w["status"]["scanned"] for w in ws] == [3004] * 3, "wallets %r" % ws)
            # a new note, then a round now
            sim.post("append", {"to": addr, "count": 1})
            r = d.json("POST", "/v1/sync?wallet=" + os.path.basename(wv))
            check(list(r) == ["summary", "status"] and r["summary"] == {"found": 1,
                  "next_cursor": 3005} and r["status"]["tracked"] == 3, "sync %r" % r)
            check(list(r["status"]) == list(json.loads(run("watch", "show", wallet=wv).stdout))
                  and r["status"] == json.loads(run("watch", "show", wallet=wv).stdout),
                  "status differs from watch show")
            sim.post("fault", {"status": 503, "next": 100})
            code, body = d.req("POST", "/v1/sync?wallet=" + os.path.basename(wv))
            check(code == 502 and "503" in body, "node failure: %d %s" % (code, body))
            sim.post("fault/clear")
        finally:
            check(d.stop() == 0, "exit status")


def test_detect_token_background_and_sigterm():
    """With --token-file every /v1 route needs the token (401 otherwise) and a
    non-loopback bind is allowed; without one it is refused. A background round
    happens by itself; SIGTERM ends a round at a checkpoint and exits 0."""
    d0 = tzlib.new_dir(TMP, "detect-token")
    w1 = new_watch("token-a", "detect")
    r = subprocess.run([DETECT_BIN, "--wallet", w1, "--bind", "0.0.0.0:0",
                        "--rollup-node-url", "http://127.0.0.1:9"], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == 2 and "without --token-file" in r.stderr,
          "non-loopback without token: %d %s" % (r.returncode, r.stderr))
    tok = os.path.join(d0, "token")
    with start_sim(1500, "detect-token") as sim:
        sim.post("latency", {"ms": 2})
        d = Detect([w1], sim.url, "--interval-secs", "1", "--token-file", tok,
                   env={"TZEL_SYNC_CHECKPOINT_EVERY": "50", "TZEL_SYNC_CONCURRENCY": "2"})
        try:
            check(os.stat(tok).st_mode & 0o777 == 0o600, "token file mode")
            token = open(tok).read().strip()
            check(d.req("GET", "/healthz") == (200, "ok"), "healthz is open")
            for m, p in (("GET", "/v1/status"), ("POST", "/v1/sync"), ("GET", "/v1/wallets")):
                code, _ = d.req(m, p)
                check(code == 401, "%s %s without token: %d" % (m, p, code))
                code, _ = d.req(m, p, token="0" * 64)
                check(code == 401, "%s %s wrong token: %d" % (m, p, code))
            tzlib.wait_for(lambda: 0 < load(w1)["scanned"] < 1500, 60, "a checkpoint",
                           step=0.02)
        finally:
            t = time.time()
            rc = d.stop()
        check(rc == 0 and time.time() - t < 10, "SIGTERM: exit %d after %.1fs" %
              (rc, time.time() - t))
        mid = load(w1)["scanned"]
        check(0 < mid < 1500, "stopped at %d" % mid)
        sim.post("latency", {"ms": 0})
        d = Detect([w1], sim.url, "--interval-secs", "1", "--token-file", tok)
        try:
            tzlib.wait_for(lambda: load(w1)["scanned"] == 1500, 60, "the background round")
            sim.post("append", {"count": 5})
            tzlib.wait_for(lambda: load(w1)["scanned"] == 1505, 30, "a later background round")
            st = d.json("GET", "/v1/status", token=token)
            check(st["scanned"] == 1505 and st["mode"] == "detect", "status %r" % st)
        finally:
            check(d.stop() == 0, "exit status")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_detect_hostile_clients():
    """Local clients cannot lock tzel-detect out: 400 connections left silent and 100
    sending their headers one byte every 250 ms, while a well-behaved client asks
    /healthz on a fresh connection every 10 ms and /v1/status now and then: every probe
    is answered, p99 under 200 ms, and the silent and trickling connections are cut at
    their request deadline."""
    import socket
    w1 = new_watch("hostile", "detect")
    with start_sim(200, "detect-hostile") as sim:
        d = Detect([w1], sim.url, "--interval-secs", "3600")
        socks, stop = [], threading.Event()
        try:
            for _ in range(400):
                socks.append(socket.create_connection(("127.0.0.1", int(d.url.rsplit(":", 1)[1])),
                                                      timeout=5))

            def trickle():
                port = int(d.url.rsplit(":", 1)[1])
                conns = [socket.create_connection(("127.0.0.1", port), timeout=5)
                         for _ in range(100)]
                msg = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
                for i in range(len(msg)):
                    if stop.is_set():
                        break
                    for c in conns:
                        try:
                            c.send(msg[i:i + 1])
                        except OSError:
                            pass
                    time.sleep(0.25)
                for c in conns:
                    c.close()
            t = threading.Thread(target=trickle, daemon=True)
            t.start()
            time.sleep(0.5)
            lat, failed = [], 0
            end = time.monotonic() + 4
            n = 0
            while time.monotonic() < end:
                t0 = time.monotonic()
                try:
                    if n % 20 == 19:
                        code, _ = d.req("GET", "/v1/status")
                    else:
                        code, _ = d.req("GET", "/healthz")
                    if code != 200:
                        failed += 1
                except OSError:
                    failed += 1
                lat.append(time.monotonic() - t0)
                n += 1
                time.sleep(0.01)
            lat.sort()
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            check(failed == 0 and len(lat) >= 100 and p99 < 0.2,
                  "under attack: %d of %d probes failed, p99 %.0f ms" %
                  (failed, len(lat), p99 * 1000))
            print('{"detect_hostile":{"silent":400,"trickling":100,"probes":%d,"failed":%d,'
                  '"p99_ms":%.1f}}' % (len(lat), failed, p99 * 1000))
            # Bodies are refused (413) before they are read (RSS bounded); path tricks
            # and foreign wallet names reach no file.
            rss0 = rss_kib(d.p.pid)
            port = int(d.url.rsplit(":", 1)[1])
            for _ in range(3):
                c = socket.create_connection(("127.0.0.1", port), timeout=30)
                c.sendall(b"POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                          b"\r\n" % (10 << 20))
                # answered before the body is sent; what is sent after is not read
                answer = c.recv(200)
                c.settimeout(2)
                try:
                    for _ in range(160):
                        c.sendall(b"7" * 65536)
                except OSError:
                    pass
                c.close()
                check(answer.startswith(b"HTTP/1.1 413"), "10 MB body: %r" % answer)
            grew = rss_kib(d.p.pid) - rss0
            check(grew < 48 * 1024, "RSS grew %d KiB over three 10 MB bodies" % grew)
            for path in ("/v1/status/../wallets", "/v1//status", "/v1/status%00x",
                         "/v1/status?wallet=../../etc/passwd", "/v1/status?wallet=%2e%2e",
                         "/../healthz", "/v1/sync/"):
                code, _ = d.req("GET", path)
                check(code in (400, 404, 405), "%s: %d" % (path, code))
            check(d.req("GET", "/healthz") == (200, "ok"), "still answering")
        finally:
            stop.set()
            for s_ in socks:
                s_.close()
            check(d.stop() == 0, "exit status")


TESTS = [test_init_refusals, test_show, test_three_modes_and_reference_files,
         test_k0_refused_without_request, test_sigkill_then_resume_same_records,
         test_sentinel_yields_watch_sync, test_faults_clear_error_intact_file,
         test_detect_one_pass_for_three_wallets, test_detect_token_background_and_sigterm,
         test_detect_hostile_clients]

if __name__ == "__main__":
    sys.exit(tzlib.run_tests(TESTS, TMP, setup=make_fixture))
