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


TESTS = [test_init_refusals, test_show]

if __name__ == "__main__":
    sys.exit(tzlib.run_tests(TESTS, TMP))
