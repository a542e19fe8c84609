"""Pieces shared by the integration tests and the Python benchmarks:
binary and vector paths, starting tzel-rollup-sim / tzel-walletd on port 0
and reading their URL, JSON over HTTP, running tzel-wallet, wallet
fixtures from the protocol vectors, the tests' main runner. Python
standard library only.

Paths come from TZ_BIN_DIR / TZ_SHARED_DIR / TZ_SOURCE_DIR (set by CTest),
defaulting to build/bin of this source tree and ../shared beside it."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
import urllib.request

SOURCE = os.environ.get("TZ_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN = os.path.abspath(os.environ.get("TZ_BIN_DIR", os.path.join(SOURCE, "build", "bin")))
SHARED = os.environ.get("TZ_SHARED_DIR", os.path.join(SOURCE, "..", "shared"))
WALLET_BIN = os.path.join(BIN, "tzel-wallet")
SIM_BIN = os.path.join(BIN, "tzel-rollup-sim")
DAEMON_BIN = os.path.join(BIN, "tzel-walletd")


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wait_for(pred, timeout, what, step=0.1, error=AssertionError):
    """Polls pred() every `step` s until it returns a true value (returned);
    raises `error` after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise error("timed out after %ss waiting for %s" % (timeout, what))


def H(data, person=b""):
    """BLAKE2s-256 with personalization, truncated to a felt (top 5 bits 0)."""
    d = bytearray(hashlib.blake2s(data, person=person).digest())
    d[31] &= 7
    return bytes(d)


def load(path):
    with open(path) as f:
        return json.load(f)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def ref_pid_file(path):
    """The reference tzel-wallet's reading of a lock or sentinel file: the
    whole content, trimmed, parsed as a u32 (`content.trim().parse::<u32>()`:
    an optional '+', decimal digits, below 2**32). Returns (pid, stale) --
    stale when /proc/<pid> does not exist -- or None where the reference
    finds no PID (it then treats the file as held)."""
    text = read_bytes(path).decode("ascii", "replace").strip(" \t\n\x0b\x0c\r")
    digits = text[1:] if text.startswith("+") else text
    if not digits or not all("0" <= c <= "9" for c in digits) or int(digits) >= 2 ** 32:
        return None
    pid = int(digits)
    return pid, not os.path.exists("/proc/%d" % pid)


def vectors(name):
    """A file of the shared protocol vectors, parsed."""
    return load(os.path.join(SHARED, "vectors", name))


def vector_address_records(pv, bds=dict):
    """Wallet address records of the vector addresses (already derived);
    `bds()` gives each record's bds object."""
    return [{"index": a["j"], "d_j": a["d_j"], "auth_root": a["auth_root"],
             "auth_pub_seed": a["auth_pub_seed"], "nk_tag": a["nk_tag"], "bds": bds()}
            for a in pv["addresses"]]


def serde_compact(v):
    """The reference's serde_json::to_string of a Value: keys sorted at
    every level, no spaces, non-ASCII raw."""
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spawn_listening(args, marker, what, timeout=120, log=None, env=None):
    """Starts `args` (stdout discarded) and reads its stderr until a line
    containing `marker` ("... listening on <url>"); returns (Popen, url).
    Lines read are appended to `log` (a list) when given, also those
    printed later (a thread drains stderr). timeout None: no deadline. On
    failure the process is killed and RuntimeError names `what`."""
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env=env)
    lines = log if log is not None else []
    url = None
    deadline = None if timeout is None else time.time() + timeout
    while deadline is None or time.time() < deadline:
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            url = line.strip().split("listening on ")[1]
            break
    if not url:
        p.kill()
        p.wait()
        raise RuntimeError("%s did not start: %s" % (what, "".join(lines)))
    sink = (lambda x: lines.append(x)) if log is not None else (lambda x: None)
    threading.Thread(target=lambda: [sink(x) for x in p.stderr], daemon=True).start()
    return p, url


def stop_process(p, timeout=10):
    """SIGTERM, then SIGKILL after `timeout` s; returns the exit status
    (None when it had to be killed)."""
    if p.poll() is None:
        p.terminate()
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None
    return p.returncode


def http_json(url, method="GET", body=None, timeout=30, headers=None):
    """One HTTP request; `body` (not None) is sent as JSON. Returns the
    parsed answer (None when empty); HTTP errors raise urllib's HTTPError."""
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["content-type"] = "application/json"
    r = urllib.request.Request(url, data=data, method=method, headers=h)
    with urllib.request.urlopen(r, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def sim_post(url, op, body=None, timeout=30):
    """POST /sim/<op> of the simulator's control API with a JSON body."""
    return http_json(url + "/sim/" + op, "POST", body or {}, timeout)


class SimServer:
    """A tzel-rollup-sim (or any server printing "listening on <url>")
    started with argv `args` through spawn_listening; its stderr lines
    collect in self.log. A context manager: leaving it stops the process."""

    def __init__(self, args, what="simulator", timeout=120):
        self.log = []
        self.p, self.url = spawn_listening(args, "listening on ", what, timeout, log=self.log)

    def get(self, path):
        """GET <url><path>, parsed JSON."""
        return http_json(self.url + path)

    def post(self, op, body=None):
        """POST /sim/<op> of the control API."""
        return sim_post(self.url, op, body)

    def stop(self):
        stop_process(self.p)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def wallet_cmd(*args, wallet=None, url=None, json_mode=False):
    """The argv of tzel-wallet [-w wallet] [--rollup-node-url url] [--json] args."""
    cmd = [WALLET_BIN]
    if wallet:
        cmd += ["-w", wallet]
    if url:
        cmd += ["--rollup-node-url", url]
    if json_mode:
        cmd.append("--json")
    return cmd + list(args)


def wallet_env(env=None, keep_node_env=False):
    """os.environ plus `env`, without TZEL_ROLLUP_NODE_URL unless keep_node_env."""
    e = dict(os.environ)
    if not keep_node_env:
        e.pop("TZEL_ROLLUP_NODE_URL", None)
    e.update(env or {})
    return e


def run_wallet(*args, wallet=None, url=None, json_mode=False, env=None, timeout=300,
               keep_node_env=False):
    """Runs tzel-wallet [-w wallet] [--rollup-node-url url] [--json] args;
    TZEL_ROLLUP_NODE_URL is removed from the environment unless
    keep_node_env. Returns the CompletedProcess (text)."""
    return subprocess.run(wallet_cmd(*args, wallet=wallet, url=url, json_mode=json_mode),
                          capture_output=True, text=True, timeout=timeout,
                          env=wallet_env(env, keep_node_env))


def spawn_wallet(*args, wallet=None, url=None, json_mode=False, env=None, keep_node_env=False):
    """Starts tzel-wallet like run_wallet, without waiting; stdout and
    stderr are text pipes. Returns the Popen; the caller reaps it."""
    return subprocess.Popen(wallet_cmd(*args, wallet=wallet, url=url, json_mode=json_mode),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=wallet_env(env, keep_node_env))


def new_dir(parent, name):
    d = os.path.join(parent, name)
    os.makedirs(d)
    return d


def copy_wallet(src, folder):
    """Copies wallet `src` (and its .xmss-floor, when there) to
    <folder>/wallet.json, creating the folder; returns the new path."""
    os.makedirs(folder)
    path = os.path.join(folder, "wallet.json")
    shutil.copy2(src, path)
    if os.path.exists(src + ".xmss-floor"):
        shutil.copy2(src + ".xmss-floor", path + ".xmss-floor")
    return path


def dead_pid():
    """The PID of a child that ran and was reaped: no process has it now."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def temp_name(path, pid, n=0):
    """The path of a temp file that an atomic save of `path` by process
    `pid` creates: .<name>.tmp.<pid>.<nanos>.<n> in the same folder."""
    folder, name = os.path.split(path)
    return os.path.join(folder, ".%s.tmp.%d.%d.%d" % (name, pid, time.time_ns(), n))


def temp_files(folder):
    """Sorted names in `folder` that look like atomic-save temp files."""
    return sorted(n for n in os.listdir(folder) if ".tmp." in n)


def run_tests(tests, tmp, setup, argv=None):
    """Runs the (name, fn) pairs of `tests` named in argv (default
    sys.argv[1:]; none: all) after setup(), printing one ok/FAIL line each
    and a traceback per failure. Removes folder `tmp` when all pass, keeps
    it (and says so) otherwise. Returns the exit status: 1 if any failed."""
    want = set(sys.argv[1:] if argv is None else argv)
    t0 = time.time()
    setup()
    print("fixture wallet: %.1fs" % (time.time() - t0), flush=True)
    failed = []
    for name, fn in tests:
        if want and name not in want:
            continue
        t = time.time()
        try:
            fn()
            print("ok   %-8s %-40s %.1fs" % (name, fn.__name__, time.time() - t), flush=True)
        except Exception:
            failed.append(name)
            print("FAIL %-8s %s" % (name, fn.__name__), flush=True)
            traceback.print_exc()
    print("%d run, %d failed, %.1fs" % (len([n for n, _ in tests if not want or n in want]),
                                        len(failed), time.time() - t0))
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("kept " + tmp)
    return 1 if failed else 0


def bench_wallet(cache_dir, master_sk, label):
    """A one-address wallet (restored from master_sk) and its payment
    address file, made once and cached in cache_dir for benchmarks.
    Returns (wallet path, address path)."""
    os.makedirs(cache_dir, exist_ok=True)
    w = os.path.join(cache_dir, "wallet.json")
    a = os.path.join(cache_dir, "addr.json")
    if not (os.path.exists(w) and os.path.exists(a)):
        print("%s: creating the bench wallet (one auth tree)" % label, file=sys.stderr, flush=True)
        for f in (w, a, w + ".xmss-floor"):
            if os.path.exists(f):
                os.unlink(f)
        subprocess.run([WALLET_BIN, "-w", w, "init", "--master-sk", master_sk, "--addresses", "0"],
                       check=True, capture_output=True)
        subprocess.run([WALLET_BIN, "-w", w, "receive", "--out", a], check=True,
                       capture_output=True)
    return w, a
