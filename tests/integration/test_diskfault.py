#!/usr/bin/env python3
"""Disk faults for real (the injection matrix over every save step is the
unit test unit-store_faults): a wallet folder that is read-only, or that
becomes read-only in the middle of a sync, and a full disk, for
`tzel-wallet sync` and for `tzel-walletd`'s token file.

Each time: the process exits 7 (IO) with a message naming the file and
the system's reason, the wallet file is intact (the previous checkpoint,
whole), and once the disk is writable again the next run recovers (a lock
left by the failed run is stale and removed) and converges to an
undisturbed sync.

The folder is a small tmpfs mount (mounted read-only, remounted, or
filled) when mounting works (root); otherwise, as a normal user, a folder
without write permission is tried and the mount cases are skipped (a
skip is printed, not hidden).

Run all: python3 test_diskfault.py; some: python3 test_diskfault.py full ...
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

TMP = tempfile.mkdtemp(prefix="tz-it-diskfault-")
CACHE = os.path.join(tzlib.BIN, "..", "test-cache", "diskfault")
MASTER_SK = "4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b03"
LEAVES, PAID = 300, 3
STATE = {}
SUMMARY = {}


def note_set(w):
    return sorted((n["index"], n["cm"], n["v"], n["rseed"]) for n in w.get("notes", []))


def sync(w, *args, timeout=120):
    return tzlib.run_wallet("sync", "--checkpoint-every", "50", *args, wallet=w,
                            url=STATE["sim"].url, json_mode=True, timeout=timeout)


def error_of(r):
    try:
        return json.loads(r.stdout)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return r.stdout + r.stderr


def mount(folder, opts):
    """Mounts a tmpfs on folder; False when this machine does not let us."""
    os.makedirs(folder, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", folder],
                       capture_output=True, text=True)
    return r.returncode == 0


def remount(folder, opts):
    r = subprocess.run(["mount", "-o", "remount," + opts, folder], capture_output=True,
                       text=True)
    check(r.returncode == 0, "remount %s %s: %s" % (folder, opts, r.stderr))


def umount(folder):
    subprocess.run(["umount", "-l", folder], capture_output=True)


def skip(name, why):
    print("skipped %s: %s" % (name, why), flush=True)
    SUMMARY[name] = "skipped: " + why


def put_wallet(folder):
    w = os.path.join(folder, "wallet.json")
    shutil.copy2(STATE["fixture"], w)
    shutil.copy2(STATE["fixture"] + ".xmss-floor", w + ".xmss-floor")
    return w


def converges(w):
    r = sync(w)
    check(r.returncode == 0, "the run after the fault failed (%d): %s" % (r.returncode, error_of(r)))
    a = load(w)
    check(note_set(a) == note_set(STATE["ref"]) and a["scanned"] == LEAVES and
          a.get("tzel_c_sync") == STATE["ref"].get("tzel_c_sync"),
          "the wallet did not converge to the undisturbed sync")
    check(not tzlib.temp_files(os.path.dirname(w)), "temp files left")
    check(not os.path.exists(w + ".lock"), "lock left")
    return r


def fails_io(r, words):
    msg = error_of(r)
    check(r.returncode == 7, "exit %d (want 7, IO): %s" % (r.returncode, msg))
    for word in words:
        check(word in msg, "%r not in the message %r" % (word, msg))
    return msg


# ------------------------------------------------------------------ tests

def test_read_only_folder():
    """A wallet folder the sync cannot write: nothing changes, exit 7."""
    folder = os.path.join(TMP, "ro")
    if os.geteuid() != 0:
        os.makedirs(folder)
        w = put_wallet(folder)
        before = tzlib.read_bytes(w)
        os.chmod(folder, 0o555)
        try:
            r = sync(w)
        finally:
            os.chmod(folder, 0o755)
        fails_io(r, [w + ".lock", "Permission denied"])
    else:
        if not mount(folder, "size=4m,mode=0755"):
            skip("read_only_folder", "running as root, where chmod does not stop writes, and "
                 "mount does not work here")
            return
        try:
            w = put_wallet(folder)
            before = tzlib.read_bytes(w)
            remount(folder, "ro")
            r = sync(w)
            fails_io(r, [w + ".lock", "Read-only file system"])
            check(tzlib.read_bytes(w) == before, "the wallet changed")
            remount(folder, "rw")
            converges(w)
        finally:
            umount(folder)
        SUMMARY["read_only_folder"] = {"exit": r.returncode}
        return
    check(tzlib.read_bytes(w) == before, "the wallet changed")
    converges(w)
    SUMMARY["read_only_folder"] = {"exit": r.returncode}


def test_read_only_mid_sync():
    """The folder turns read-only while the sync scans: the checkpoint save
    fails (exit 7) and the file is the last checkpoint; the lock the run
    could not remove is recovered by the next run."""
    folder = os.path.join(TMP, "ro-mid")
    if not mount(folder, "size=4m,mode=0755"):
        skip("read_only_mid_sync", "mount does not work here")
        return
    sim = STATE["sim"]
    try:
        w = put_wallet(folder)
        sim.post("latency", {"ms": 10})
        p = subprocess.Popen(tzlib.wallet_cmd("sync", "--checkpoint-every", "50",
                                              "--concurrency", "2", wallet=w, url=sim.url,
                                              json_mode=True),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=tzlib.wallet_env())
        tzlib.wait_for(lambda: load(w)["scanned"] >= 100, 60, "a checkpoint at 100")
        remount(folder, "ro")
        out, err = p.communicate(timeout=60)
        sim.post("latency", {"ms": 0})
        r = subprocess.CompletedProcess([], p.returncode, out, err)
        fails_io(r, [w, "Read-only file system"])
        d = load(w)
        check(100 <= d["scanned"] < LEAVES and d["scanned"] % 50 == 0, "cursor %r" % d["scanned"])
        check(note_set(d) == [n for n in note_set(STATE["ref"]) if n[0] < d["scanned"]],
              "the file is not the last checkpoint")
        remount(folder, "rw")
        r = converges(w)
        SUMMARY["read_only_mid_sync"] = {"exit": p.returncode, "cursor_kept": d["scanned"]}
    finally:
        sim.post("latency", {"ms": 0})
        umount(folder)


def fill(folder):
    """Fills the file system of folder; returns the filler's path."""
    path = os.path.join(folder, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return path


def test_full_disk():
    """No space for the checkpoint (the lock still fits): exit 7 naming
    the wallet and ENOSPC, the old file whole, no temp file left; the
    next run, with space, converges."""
    folder = os.path.join(TMP, "full")
    if not mount(folder, "size=256k,mode=0755"):
        skip("full_disk", "mount does not work here")
        return
    try:
        w = put_wallet(folder)
        before = tzlib.read_bytes(w)
        filler = fill(folder)
        # Two pages free: a lock file fits, the wallet's temp copy does not.
        os.truncate(filler, max(os.path.getsize(filler) - 8192, 0))
        r = sync(w)
        msg = fails_io(r, [w, "No space left on device"])
        print("full disk: " + msg, flush=True)
        check("lock" not in msg, "the lock did not fit")
        check(tzlib.read_bytes(w) == before, "the wallet changed")
        check(not tzlib.temp_files(folder), "temp file left: %r" % tzlib.temp_files(folder))
        check(not os.path.exists(w + ".lock"), "lock left")
        os.unlink(filler)
        converges(w)
        SUMMARY["full_disk"] = {"exit": r.returncode}
    finally:
        umount(folder)


def test_full_disk_daemon_token():
    """tzel-walletd cannot create its token file: exit 7 naming it, no
    empty token left behind; with space it starts."""
    folder = os.path.join(TMP, "full-token")
    if not mount(folder, "size=256k,mode=0755"):
        skip("full_disk_daemon_token", "mount does not work here")
        return
    try:
        w = put_wallet(folder)
        filler = fill(folder)
        env = tzlib.wallet_env({"TZEL_ROLLUP_NODE_URL": STATE["sim"].url}, keep_node_env=True)
        args = [tzlib.DAEMON_BIN, "--wallet", w, "--listen", "127.0.0.1:0"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)
        token = w + ".walletd-token"
        check(r.returncode == 7, "exit %d: %s" % (r.returncode, r.stderr))
        check("token file " + token in r.stderr and "No space left on device" in r.stderr,
              "message %r" % r.stderr)
        check(not os.path.exists(token), "a token file was left behind")
        os.unlink(filler)
        p, _ = tzlib.spawn_listening(args, "tzel-walletd listening on", "daemon", 20, [], env)
        try:
            check(len(open(token).read().strip()) == 64, "token")
        finally:
            tzlib.stop_process(p)
        SUMMARY["full_disk_daemon_token"] = {"exit": r.returncode}
    finally:
        umount(folder)


TESTS = [test_read_only_folder, test_read_only_mid_sync, test_full_disk,
         test_full_disk_daemon_token]


def setup():
    STATE["fixture"], addr = tzlib.bench_wallet(os.path.join(CACHE, "wallet"), MASTER_SK,
                                                "it-diskfault")
    STATE["sim"] = tzlib.SimServer.start(LEAVES, "diskfault",
                                         cache=os.path.join(CACHE, "chains"),
                                         pay="%s:%d" % (addr, PAID), threads=2, quiet=True,
                                         timeout=180)
    ref = os.path.join(TMP, "reference")
    os.makedirs(ref)
    ref = put_wallet(ref)
    r = sync(ref)
    check(r.returncode == 0, "undisturbed sync: %s" % error_of(r))
    STATE["ref"] = load(ref)


def teardown():
    if "sim" in STATE:
        STATE["sim"].stop()
    print(json.dumps({"disk_faults_real": SUMMARY}))


if __name__ == "__main__":
    sys.exit(tzlib.run_tests(TESTS, tmp=TMP, setup=setup, teardown=teardown))
