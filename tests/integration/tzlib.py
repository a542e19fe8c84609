"""Pieces shared by the integration tests and the Python benchmarks:
binary and vector paths, starting tzel-rollup-sim / tzel-walletd on port 0
and reading their URL, JSON over HTTP, running tzel-wallet, wallet
fixtures from the protocol vectors, the tests' main runner. Python
standard library only.

Paths come from TZ_BIN_DIR / TZ_SHARED_DIR / TZ_SOURCE_DIR (set by CTest),
defaulting to build/bin of this source tree and ../shared beside it."""
import hashlib
import http.client
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


def durable_path(op, key, block="head"):
    """The path of durable read `op` (value, length, subkeys, values) of
    `key` at `block` on an Octez rollup node."""
    return "/global/block/%s/durable/wasm_2_0_0/%s?key=%s" % (block, op, key)


class SimServer:
    """A tzel-rollup-sim (or any server printing "listening on <url>")
    started with argv `args` through spawn_listening; its stderr lines
    collect in self.log. A context manager: leaving it stops the process.
    SimServer.start builds the argv of a simulator from keywords.

    Timeouts, in seconds: `timeout` for the process to print its URL (None:
    no limit), `stop_timeout` between SIGTERM and SIGKILL in stop() (None:
    wait as long as it takes), `http_timeout` for each request of the JSON
    helpers (req and all built on it).

    Two ways to talk to it: the JSON helpers (req, get, post, value, u64,
    head, counters, reset, chain, paid) go through http_json and raise
    urllib's HTTPError on an error status; the raw ones (conn, raw,
    post_status, durable) return the status and never raise on one."""

    def __init__(self, args, what="simulator", timeout=120, stop_timeout=10, http_timeout=30):
        self.log = []
        self.stop_timeout = stop_timeout
        self.http_timeout = http_timeout
        self.p, self.url = spawn_listening(args, "listening on ", what, timeout, log=self.log)

    @classmethod
    def start(cls, leaves=None, seed=None, cache=None, pay=None, latency_ms=0, threads=None,
              quiet=False, extra=(), **kw):
        """Starts tzel-rollup-sim --port 0 [--seed seed] [--leaves leaves]
        [--chain-cache cache] [--threads threads] [--quiet] [--pay pay]
        [--latency-ms latency_ms] extra...: a flag is given only when its
        keyword is (latency_ms: when not 0). kw: what and the timeouts of
        the constructor."""
        args = [SIM_BIN, "--port", "0"]
        if seed is not None:
            args += ["--seed", seed]
        if leaves is not None:
            args += ["--leaves", str(leaves)]
        if cache:
            args += ["--chain-cache", cache]
        if threads is not None:
            args += ["--threads", str(threads)]
        if quiet:
            args.append("--quiet")
        if pay:
            args += ["--pay", pay]
        if latency_ms:
            args += ["--latency-ms", str(latency_ms)]
        return cls(args + list(extra), **kw)

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    # JSON helpers ----------------------------------------------------

    def req(self, method, path, body=None):
        """`method` <url><path> with `body` (not None) as JSON; the parsed
        answer (None when empty)."""
        return http_json(self.url + path, method, body, self.http_timeout)

    def get(self, path):
        """GET <url><path>, parsed JSON."""
        return self.req("GET", path)

    def post(self, op, body=None):
        """POST /sim/<op> of the control API with JSON `body` (default {})."""
        return self.req("POST", "/sim/" + op, body or {})

    def value(self, key, block="head"):
        """The durable value of `key` (a full path, /tzel/v1/state/...) at
        `block`: hex string, or None when absent."""
        return self.get(durable_path("value", key, block))

    def u64(self, key, block="head"):
        """The durable value of `key` at `block` read as a little-endian
        unsigned integer (an empty value is 0); None when absent."""
        v = self.value(key, block)
        return None if v is None else int.from_bytes(bytes.fromhex(v), "little")

    def head(self):
        """The hash of the head block."""
        return self.get("/global/block/head/hash")

    def counters(self):
        """GET /sim/counters: requests by kind, connections, durable reads."""
        return self.get("/sim/counters")

    def reset(self):
        """Zeroes the counters."""
        self.post("counters/reset")

    def chain(self):
        """GET /sim/chain: the head's level, root, size and the blocks kept."""
        return self.get("/sim/chain")

    def paid(self):
        """The notes the simulator paid (--pay or /sim/append to an address)."""
        return self.get("/sim/paid")["paid"]

    def rpc_requests(self, counters=None):
        """Rollup RPC requests (every kind but the control API) in a
        counters dict (default: read now)."""
        c = self.counters() if counters is None else counters
        return sum(v for k, v in c["requests"].items() if k != "sim")

    # raw HTTP --------------------------------------------------------

    def conn(self, timeout=10):
        """A new http.client connection to the server (not yet opened)."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def raw(self, method, path, body=None, timeout=10):
        """One request on a connection of its own; `body` (not None) is
        sent as JSON. Returns (status, headers with lower-case names, body
        bytes); an error status does not raise (a dropped or cut answer
        raises http.client's errors)."""
        c = self.conn(timeout)
        try:
            if body is None:
                c.request(method, path)
            else:
                c.request(method, path, body=json.dumps(body),
                          headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            c.close()

    def post_status(self, op, body=None):
        """POST /sim/<op> with JSON `body` (default {}): (status, parsed
        answer or None when empty), whatever the status."""
        st, _, data = self.raw("POST", "/sim/" + op, body or {})
        return st, (json.loads(data) if data else None)

    def durable(self, op, key, block="head"):
        """Raw GET of durable read `op` of `key` at `block`: (status,
        headers, body)."""
        return self.raw("GET", durable_path(op, key, block))

    def stop(self):
        """SIGTERM (SIGKILL after stop_timeout); the exit status, None when
        killed. Stopping a stopped server returns its status again."""
        return stop_process(self.p, self.stop_timeout)

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


def select_tests(tests, words):
    """The (name, fn) pairs of `tests` that `words` select, in the order of
    `tests`, and the words that select none. An entry of `tests` is a
    (name, fn) pair or a function, named fn.__name__ without "test_". A
    word equal to a name selects that test; otherwise it selects every test
    whose name or function name contains it. No words: all tests."""
    pairs = [t if isinstance(t, tuple) else (t.__name__[len("test_"):]
                                             if t.__name__.startswith("test_") else t.__name__, t)
             for t in tests]
    if not words:
        return pairs, []
    chosen, unmatched = set(), []
    for w in words:
        exact = [n for n, _ in pairs if n == w]
        hits = exact or [n for n, fn in pairs if w in n or w in fn.__name__]
        chosen.update(hits)
        if not hits:
            unmatched.append(w)
    return [(n, fn) for n, fn in pairs if n in chosen], unmatched


def run_tests(tests, tmp=None, setup=None, argv=None, args=(), teardown=None):
    """The tests' main runner. Runs the tests that argv (default
    sys.argv[1:]) selects (see select_tests), each as fn(*args), after
    setup() when given (its time is printed) and before teardown() when
    given (run even when a test failed; its exception counts as a failed
    test). Prints one ok/FAIL line a test with a traceback per failure, and
    last "N run, N failed, T s". A word that selects no test is named and
    fails the run. Removes folder `tmp` when all passed, keeps it (and says
    so) otherwise. Returns the exit status: 1 if anything failed."""
    selected, unmatched = select_tests(tests, sys.argv[1:] if argv is None else argv)
    failed = []
    for w in unmatched:
        failed.append(w)
        print("FAIL no test is named %r or has it in its name" % w, flush=True)
    t0 = time.time()
    try:
        if setup:
            setup()
            print("fixture wallet: %.1fs" % (time.time() - t0), flush=True)
        for name, fn in selected:
            label = name if fn.__name__ in (name, "test_" + name) else \
                "%-8s %s" % (name, fn.__name__)
            t = time.time()
            try:
                fn(*args)
                print("ok   %-49s %.1fs" % (label, time.time() - t), flush=True)
            except Exception:
                failed.append(name)
                print("FAIL %-49s %.1fs" % (label, time.time() - t), flush=True)
                traceback.print_exc()
    finally:
        if teardown:
            try:
                teardown()
            except Exception:
                failed.append("teardown")
                print("FAIL teardown", flush=True)
                traceback.print_exc()
    print("%d run, %d failed, %.1fs" % (len(selected), len(failed), time.time() - t0))
    if tmp and not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp:
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
