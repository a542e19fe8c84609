#!/usr/bin/env python3
"""Integration tests for tzel-rollup-sim: Octez route shapes, the served
tree against a Python recomputation, note acceptance by the intended
recipient only, pinned reads, every fault switch, latency under 64
concurrent clients, the connection limit, --no-values / --acl-secure,
the chain cache, timed blocks and clean shutdown, the network profile and
the operator API (authentication, malformed bodies, kernel rejections).

Run all: python3 test_sim.py; some: python3 test_sim.py routes cache ...
(the tests up to clean_exit share one simulator, started in any case)."""

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tzlib  # noqa: E402
from tzlib import check  # noqa: E402

BIN = tzlib.SIM_BIN
STATE = "/tzel/v1/state"


def start_sim(**kw):
    """A quiet tzel-rollup-sim on a free port (SimServer.start keywords),
    stopped within 20 s of SIGTERM; 10 s per HTTP request."""
    return tzlib.SimServer.start(quiet=True, stop_timeout=20, http_timeout=10, **kw)


# ---------------------------------------------------------------- crypto

def felt_hash(personal, data):
    return tzlib.H(data, personal)

def merkle_node(a, b):
    return felt_hash(b"mrklSP__", a + b)


ZERO = [bytes(32)]
for _ in range(48):
    ZERO.append(merkle_node(ZERO[-1], ZERO[-1]))


def merkle_root(leaves):
    level = list(leaves)
    for d in range(48):
        if len(level) % 2:
            level.append(ZERO[d])
        level = [merkle_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        if not level:
            level = [ZERO[d + 1]]
    return level[0] if level else ZERO[48]


def kernel_frontier(leaves):
    """tree/branch slots exactly as the kernel leaves them (stale values included)."""
    branch = [None] * 48
    for idx, cm in enumerate(leaves):
        cur = cm
        for lv in range(48):
            if (idx >> lv) & 1 == 0:
                branch[lv] = cur
                cur = merkle_node(cur, ZERO[lv])
            else:
                cur = merkle_node(branch[lv], cur)
    return branch


def nullifier(nk_spend, cm, pos):
    inner = felt_hash(b"nulfSP__", cm + pos.to_bytes(8, "little") + bytes(24))
    return felt_hash(b"nulfSP__", nk_spend + inner)


# ---------------------------------------------------------------- helpers

def read_note(sim, i, block="head"):
    key = "%s/notes/%016x" % (STATE, i)
    n = int.from_bytes(bytes.fromhex(sim.value(key + "/len", block)), "little")
    data = b""
    for c in range((n + 1023) // 1024):
        data += bytes.fromhex(sim.value("%s/chunk/%08x" % (key, c), block))
    return data


def tree_size(sim, block="head"):
    return sim.u64(STATE + "/tree/size", block)


def check_notes(spec, notes_hex):
    out = subprocess.run([BIN, "--check-note", spec], input="\n".join(notes_hex) + "\n",
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [json.loads(l) for l in out.stdout.splitlines()]


def make_address(master, j, root):
    out = subprocess.run([BIN, "--make-address", "%s:%d:%s" % (master, j, root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# ---------------------------------------------------------------- tests
#
# Each test takes the run's shared state `ctx` (see main): ctx.sim is the
# simulator that the tests up to clean_exit share, in the order of TESTS.

def test_make_address(ctx):
    a0 = ctx.vec["addresses"][0]
    check(ctx.a0["d_j"] == a0["d_j"] and ctx.a0["nk_spend"] == a0["nk_spend"],
          "--make-address matches the vectors")


def test_routes(ctx):
    sim = ctx.sim
    st, h, body = sim.raw("GET", "/global/block/head/hash")
    check(st == 200 and h.get("content-type") == "application/json", "hash status/ctype")
    check(body.endswith(b"\n") and int(h["content-length"]) == len(body), "hash body framing")
    hsh = json.loads(body)
    check(isinstance(hsh, str) and len(hsh) == 51 and hsh[0] == "B", "hash is a B... 51 chars")
    st, _, body = sim.raw("GET", "/global/block/head/level")
    lvl = json.loads(body)
    check(st == 200 and isinstance(lvl, int), "level is a number")
    check(sim.get("/global/block/%s/hash" % hsh) == hsh, "hash by hash")
    check(sim.get("/global/block/%d/hash" % lvl) == hsh, "hash by decimal level")
    for b in ("finalized", "cemented"):
        st, _, body = sim.raw("GET", "/global/block/%s/level" % b)
        check(st == 200 and json.loads(body) <= lvl, b + " accepted")
    addr = sim.get("/global/smart_rollup_address")
    check(addr.startswith("sr1") and len(addr) == 36, "rollup address sr1...")

    st, h, body = sim.durable("length", STATE + "/tree/size")
    check(st == 200 and body == b'"8"\n', "length is a JSON string: %r" % body)
    st, _, body = sim.durable("value", STATE + "/absent")
    check(st == 200 and body == b"null\n", "absent value is null")
    st, _, body = sim.durable("length", STATE + "/absent")
    check(st == 200 and body == b"null\n", "absent length is null")
    st, _, body = sim.durable("subkeys", STATE + "/absent")
    check(st == 200 and body == b"[]\n", "absent subkeys is []")
    st, _, body = sim.durable("subkeys", STATE + "/tree/size")
    check(json.loads(body) == [""], "a value-holding leaf lists as \"\"")
    sub = set(json.loads(sim.durable("subkeys", STATE + "/notes/0000000000000000")[2]))
    check(sub == {"len", "chunk"}, "note subkeys %r" % sub)
    chunks = json.loads(sim.durable("subkeys", STATE + "/notes/0000000000000000/chunk")[2])
    check(sorted(chunks) == ["%08x" % k for k in range(4)], "four chunks")
    st, _, body = sim.durable("subkeys", STATE)
    top = set(json.loads(body))
    check({"tree", "notes", "auth_domain", "nullifiers", "bridge", "verifier_config.bin"} <= top,
          "state subkeys %r" % top)
    check(b": " not in body and b", " not in body, "minified JSON")
    st, _, body = sim.durable("values", STATE + "/tree")
    vals = {e["key"]: e["value"] for e in json.loads(body)}
    check(set(vals) == {"size", "root"}, "values lists only value-holding children")
    check(vals["root"] == sim.value(STATE + "/tree/root"), "values agrees with value")
    check(len(bytes.fromhex(sim.value(STATE + "/auth_domain"))) == 32, "auth_domain is a felt")
    tick = bytes.fromhex(sim.value(STATE + "/bridge/ticketer")).decode()
    check(tick.startswith("KT1"), "ticketer KT1")
    check(sim.value(STATE + "/verifier_config.bin") is not None, "verifier configured")
    check(sim.value(STATE + "/nullifiers/count") == "00" * 8, "no nullifiers yet")
    lil = bytes.fromhex(sim.value(STATE + "/last_input_level"))
    check(len(lil) == 4 and int.from_bytes(lil, "little") == lvl, "last_input_level i32le")
    # the kernel's exact key formats only
    check(sim.value(STATE + "/notes/0/len") is None, "short index is another key")
    check(sim.value(STATE + "/notes/000000000000000A/len") is None, "uppercase index absent")
    check(sim.value(STATE + "/tree/branch/2f") is not None, "branch 2f present")
    check(sim.value(STATE + "/tree/branch/30") is None, "branch 30 absent")

    st, h, body = sim.raw("GET", "/nope")
    check(st == 404 and body == b"", "unknown route 404 empty")
    st, h, body = sim.raw("GET", "/global/block/head/durable/wasm_2_0_0/nope?key=/a")
    check(st == 404 and body == b"", "unknown durable op 404")
    for bad in ("tzel", "/tzel//v1", "/tzel/v1/", "/tzel/v%201"):
        st, h, body = sim.durable("value", bad)
        check(st == 400 and h.get("content-type", "").startswith("text/plain"),
              "bad key %r -> 400 text/plain (%d)" % (bad, st))
    st, h, body = sim.raw("GET", "/global/block/B" + "1" * 50 + "/level")
    err = json.loads(body) if st == 500 else None
    check(st == 500 and err and err[0]["kind"] == "temporary" and err[0]["id"] == "failure"
          and "msg" in err[0], "unknown block -> 500 error list")
    st, _, _ = sim.raw("GET", "/global/block/%d/level" % (lvl + 5))
    check(st == 500, "future level -> 500")


def test_tree(ctx):
    sim = ctx.sim
    n = tree_size(sim)
    cms = []
    for i in range(n):
        note = read_note(sim, i)
        check(len(note) == 3487, "note %d is 3487 bytes" % i)
        cms.append(note[:32])
    check(merkle_root(cms).hex() == sim.value(STATE + "/tree/root"), "tree/root == root of cms")
    fr = kernel_frontier(cms)
    st, _, body = sim.durable("values", STATE + "/tree/branch")
    served = {e["key"]: e["value"] for e in json.loads(body)}
    check(len(served) == 48, "48 branch slots")
    check(all(served["%02x" % l] == fr[l].hex() for l in range(48)),
          "tree/branch is the kernel's frontier")
    check(cms == ctx.cms, "the notes read again are the notes read at the start")


def test_acceptance(ctx):
    sim, master, a0, root0, root1, cms = ctx.sim, ctx.master, ctx.a0, ctx.root0, ctx.root1, ctx.cms
    paid = sim.paid()
    idx = sorted(p["index"] for p in paid)
    check(len(idx) == 3 and len(set(idx)) == 3, "three paid notes %r" % idx)
    n = len(cms)
    notes = [read_note(sim, i).hex() for i in range(n)]
    res0 = check_notes("%s:0:%s" % (master, root0), notes)
    acc0 = [i for i, r in enumerate(res0) if r.get("accepted")]
    check(acc0 == idx, "recipient accepts exactly its notes: %r vs %r" % (acc0, idx))
    check(all(res0[i]["v"] == 777 for i in idx), "paid value 777")
    byidx = {p["index"]: p for p in paid}
    check(all(res0[i]["rseed"] == byidx[i]["rseed"] for i in idx), "rseed matches /sim/paid")
    res1 = check_notes("%s:1:%s" % (master, root1), notes)
    check(not any(r.get("accepted") for r in res1), "another address accepts none")
    # nullifiers: computed by the sim from nk_spend, equal to a Python recomputation
    i0 = idx[0]
    st, out = sim.post_status("nullifiers", {"notes": [{"index": i0, "nk_spend": a0["nk_spend"]}]})
    nf = nullifier(bytes.fromhex(a0["nk_spend"]), cms[i0], i0).hex()
    check(st == 200 and out["published"] == [nf], "nullifier of a note")
    check(sim.value(STATE + "/nullifiers/count") == (1).to_bytes(8, "little").hex(), "nf count 1")
    check(sim.value(STATE + "/nullifiers/index/0000000000000000") == nf, "nf index 0")
    check(sim.value(STATE + "/nullifiers/by-key/" + nf) == "01", "nf by-key marker")
    extra = "11" * 31 + "00"
    st, out = sim.post_status("nullifiers", {"nullifiers": [extra, nf]})
    check(st == 200 and sim.value(STATE + "/nullifiers/count") == (2).to_bytes(8, "little").hex(),
          "duplicate nullifier ignored")
    check(json.loads(sim.durable("subkeys", STATE + "/nullifiers/by-key")[2]) != [], "by-key list")


def test_pinned(ctx):
    sim = ctx.sim
    h1 = sim.head()
    l1 = sim.get("/global/block/head/level")
    n1 = tree_size(sim)
    root1 = sim.value(STATE + "/tree/root")
    st, out = sim.post_status("append", {"count": 2})
    check(st == 200 and out["first_index"] == n1 and len(out["leaves"]) == 2, "append 2")
    h2 = sim.head()
    check(h2 != h1 and sim.get("/global/block/head/level") == l1 + 1, "new head after append")
    check(tree_size(sim, h1) == n1 and tree_size(sim) == n1 + 2, "pinned size stays")
    check(sim.value(STATE + "/tree/root", h1) == root1, "pinned root stays")
    check(sim.value("%s/notes/%016x/len" % (STATE, n1), h1) is None, "new note absent at old hash")
    check(sim.value("%s/notes/%016x/len" % (STATE, n1)) is not None, "new note at head")
    check(read_note(sim, n1)[:32].hex() == out["leaves"][0]["cm"], "append reports the cm")
    check(tree_size(sim, str(l1)) == n1, "pinned by level")
    # deposits: credit, credit, drain; old blocks keep old balances
    pkh = "ab" * 31 + "01"
    key = STATE + "/deposits/balance/" + pkh
    check(sim.value(key) is None, "no pool yet")
    sim.post_status("deposit", {"pubkey_hash": pkh, "amount": 500})
    hd = sim.head()
    sim.post_status("deposit", {"pubkey_hash": pkh, "amount": 250})
    check(sim.value(key) == (750).to_bytes(8, "little").hex(), "credits add up")
    sim.post_status("deposit", {"pubkey_hash": pkh, "drain": True})
    check(sim.value(key) == "", "drained pool is an empty value")
    st, _, body = sim.durable("length", key)
    check(body == b'"0"\n', "drained length 0")
    check(sim.value(key, hd) == (500).to_bytes(8, "little").hex(), "old block keeps old balance")
    # advance past the kept window: h1 pruned -> 500
    st, out = sim.post_status("advance", {"count": 130})
    check(st == 200, "advance")
    check(tree_size(sim) == n1 + 2, "advance keeps the state")
    st, _, body = sim.durable("value", STATE + "/tree/size", h1)
    check(st == 500 and json.loads(body)[0]["id"] == "failure", "pruned block -> 500")
    st, _, _ = sim.durable("value", STATE + "/tree/size", str(l1))
    check(st == 500, "pruned level -> 500")
    chain = sim.chain()
    check(chain["blocks_kept"] >= 64, "keeps >= 64 blocks")
    hl = sim.get("/global/block/head/level")
    st, _, _ = sim.durable("value", STATE + "/tree/size", str(hl - 63))
    check(st == 200, "block 63 back still served")


def test_faults(ctx):
    sim, cms = ctx.sim, ctx.cms
    k5 = "%s/notes/%016x" % (STATE, 5)
    k4 = "%s/notes/%016x" % (STATE, 4)
    # status for the next N durable reads
    check(sim.post_status("fault", {"status": 503, "next": 2})[0] == 200, "fault next")
    check(sim.raw("GET", "/global/block/head/hash")[0] == 200, "non-durable route unaffected")
    st, h, body = sim.durable("value", STATE + "/tree/size")
    check(st == 503 and json.loads(body)[0]["kind"] == "temporary", "503 with error list")
    check(sim.durable("length", STATE + "/tree/size")[0] == 503, "second read 503")
    check(sim.durable("value", STATE + "/tree/size")[0] == 200, "third read 200")
    # status for one note's keys
    sim.post_status("fault", {"status": 503, "note_index": 5})
    check(sim.durable("value", k5 + "/len")[0] == 503, "note 5 len 503")
    check(sim.durable("value", k5 + "/chunk/00000002")[0] == 503, "note 5 chunk 503")
    check(sim.durable("subkeys", k5)[0] == 503, "note 5 subkeys 503")
    check(sim.durable("value", k4 + "/len")[0] == 200, "note 4 unaffected")
    check(sim.durable("value", k5 + "/len")[0] == 503, "note fault persists")
    sim.post_status("fault/clear")
    check(sim.durable("value", k5 + "/len")[0] == 200, "cleared")
    # dropped connection
    sim.post_status("fault", {"drop": True, "next": 1})
    try:
        sim.durable("value", STATE + "/tree/size")
        dropped = False
    except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
        dropped = True
    check(dropped, "dropped connection")
    check(sim.durable("value", STATE + "/tree/size")[0] == 200, "next read fine after drop")
    # truncated body
    sim.post_status("fault", {"truncate": True, "next": 1})
    try:
        st, _, body = sim.durable("value", k4 + "/chunk/00000000")
        truncated = False
    except http.client.IncompleteRead:
        truncated = True
    check(truncated, "truncated body")
    check(sim.durable("value", k4 + "/chunk/00000000")[0] == 200, "next read whole")
    # malformed value
    sim.post_status("fault", {"malformed": True, "note_index": 3})
    v = sim.value("%s/notes/%016x/chunk/00000001" % (STATE, 3))
    try:
        bytes.fromhex(v)
        bad = False
    except ValueError:
        bad = True
    check(bad, "malformed value is not hex")
    vals = json.loads(sim.durable("values", "%s/notes/%016x/chunk" % (STATE, 3))[2])
    check(all(not all(ch in "0123456789abcdef" for ch in e["value"]) for e in vals),
          "malformed through values too")
    check(sim.durable("length", "%s/notes/%016x/len" % (STATE, 3))[2] == b'"8"\n',
          "length unaffected by malformed")
    sim.post_status("fault/clear")
    # tampered note: its cm no longer matches the root
    sim.post_status("fault", {"tamper_note": 7})
    served = [read_note(sim, i)[:32] for i in range(len(cms))]
    check(served[7] != cms[7] and served[:7] == cms[:7], "tampered cm differs")
    check(merkle_root(served).hex() != sim.value(STATE + "/tree/root"), "tamper breaks the root")
    sim.post_status("fault/clear")
    check(read_note(sim, 7)[:32] == cms[7], "tamper cleared")
    st, out = sim.post_status("fault", {"bogus": 1})
    check(st == 400, "unknown fault rejected")


def test_counters(ctx):
    sim = ctx.sim
    sim.reset()
    for _ in range(3):
        sim.value(STATE + "/tree/size")
    sim.raw("GET", "/global/block/head/hash")
    c = sim.counters()
    check(c["durable_reads"] == 3 and c["requests"]["value"] == 3, "durable read counters %r" % c)
    check(c["requests"]["hash"] == 1, "hash counter")
    check(c["connections_accepted"] >= 4, "connections counted")
    check(c["peak_connections"] >= 1 and c["active_connections"] >= 1, "peak/active")


def test_latency(ctx):
    sim = ctx.sim
    check(sim.post_status("latency", {"ms": 100})[0] == 200, "set latency")
    t0 = time.time()
    sim.value(STATE + "/tree/size")
    single = time.time() - t0
    check(single >= 0.095, "one read takes the latency (%.3f)" % single)
    times = [None] * 64
    barrier = threading.Barrier(64)

    def worker(k):
        c = sim.conn(timeout=30)
        c.connect()
        barrier.wait()
        t = time.time()
        c.request("GET", "/global/block/head/durable/wasm_2_0_0/value?key=%s/tree/size" % STATE)
        r = c.getresponse()
        r.read()
        times[k] = (time.time() - t, r.status)
        c.close()

    th = [threading.Thread(target=worker, args=(k,)) for k in range(64)]
    t0 = time.time()
    for t in th:
        t.start()
    for t in th:
        t.join()
    wall = time.time() - t0
    check(all(t and t[1] == 200 for t in times), "64 parallel reads ok")
    worst = max(t[0] for t in times)
    best = min(t[0] for t in times)
    check(best >= 0.095 and worst < 0.6, "each sees ~L (best %.3f worst %.3f)" % (best, worst))
    check(wall < 1.5, "64 x 100 ms in parallel took %.2f s" % wall)
    sim.post_status("latency", {"ms": 0})
    t0 = time.time()
    sim.value(STATE + "/tree/size")
    check(time.time() - t0 < 0.09, "latency off again")


def parallel_reads(sim, n):
    """n clients, each on its own connection, read tree/size at once; each
    client's latency (s), sorted, and the wall time of the whole."""
    times = [None] * n
    barrier = threading.Barrier(n)

    def worker(k):
        c = sim.conn(timeout=30)
        c.connect()
        barrier.wait()
        t = time.time()
        c.request("GET", "/global/block/head/durable/wasm_2_0_0/value?key=%s/tree/size" % STATE)
        r = c.getresponse()
        r.read()
        times[k] = (time.time() - t) if r.status == 200 else None
        c.close()

    th = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    t0 = time.time()
    for t in th:
        t.start()
    for t in th:
        t.join()
    wall = time.time() - t0
    check(all(t is not None for t in times), "%d parallel reads ok" % n)
    return sorted(times), wall


def test_capacity(ctx):
    """--capacity-rps / {"capacity_rps"}: one request at a time sees about
    1/R; beyond R requests per second they queue and the latency grows with
    the load, on the client's clock and in the simulator's statistics."""
    sim = ctx.sim
    for bad in ({}, {"capacity_rps": -1}, {"capacity_rps": "x"}, {"capacity_rps": 2000000}):
        check(sim.post_status("latency", bad)[0] == 400, "latency body %r refused" % bad)
    check(sim.post("latency", {"capacity_rps": 100}) == {"latency_ms": 0, "capacity_rps": 100},
          "set capacity")
    check(sim.chain()["capacity_rps"] == 100, "chain shows the capacity")
    sim.reset()
    for _ in range(5):
        sim.value(STATE + "/tree/size")
    idle = sim.counters()["latency"]
    check(idle["n"] == 5 and 9 <= idle["p50_ms"] <= 30, "idle: one request takes ~1/R: %r" % idle)
    sim.reset()
    times, wall = parallel_reads(sim, 40)
    busy = sim.counters()["latency"]
    med = times[len(times) // 2]
    # 40 requests at 100/s: the last waits 0.4 s, the median 0.2 s
    check(wall >= 0.38 and times[-1] >= 0.35, "40 at 100/s cannot finish in %.3f s" % wall)
    check(med >= 5 * idle["p50_ms"] / 1000, "median %.3f s vs idle %.1f ms" % (med, idle["p50_ms"]))
    check(busy["n"] == 40 and busy["p50_ms"] >= 150 and busy["max_ms"] >= 350,
          "the simulator's statistics show the queue: %r" % busy)
    check(sim.post("latency", {"ms": 0, "capacity_rps": 0})["capacity_rps"] == 0, "capacity off")
    times, wall = parallel_reads(sim, 40)
    check(times[len(times) // 2] < 0.1, "no capacity limit: median %.3f s" % times[len(times) // 2])
    # the command-line flag, with a latency on top of the queue
    other = start_sim(leaves=2, latency_ms=20, extra=["--capacity-rps", "50", "--no-values"])
    try:
        check(other.chain()["capacity_rps"] == 50, "--capacity-rps shown")
        times, wall = parallel_reads(other, 20)
        check(times[0] >= 0.035 and times[-1] >= 0.38, "20 at 50/s + 20 ms: %r" % times)
    finally:
        check(other.stop() == 0, "clean exit on SIGTERM")


def test_clean_exit(ctx):
    check(ctx.sim.stop() == 0, "clean exit on SIGTERM")


def test_max_connections(ctx):
    sim = start_sim(leaves=2, extra=["--max-connections", "4", "--no-values",
                                     "--http-threads", "1"])
    try:
        conns = []
        for _ in range(4):
            c = sim.conn(timeout=5)
            c.request("GET", "/global/block/head/hash")
            c.getresponse().read()
            conns.append(c)  # kept alive
        extra = socket.create_connection(("127.0.0.1", sim.port), timeout=1.0)
        extra.sendall(b"GET /global/block/head/hash HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            got = extra.recv(100)
        except socket.timeout:
            got = None
        check(got is None, "5th connection waits while 4 are active (got %r)" % got)
        conns[0].close()
        extra.settimeout(5)
        try:
            got = extra.recv(100)
        except socket.timeout:
            got = None
        check(got is not None and got.startswith(b"HTTP/1.1 200"), "served once a slot frees")
        extra.close()
        for c in conns[1:]:
            c.close()
        time.sleep(0.2)
        cnt = sim.counters()
        check(cnt["peak_connections"] <= 4, "peak <= limit (%d)" % cnt["peak_connections"])
        st, _, body = sim.durable("values", STATE + "/tree")
        check(st == 404 and body == b"", "--no-values: values 404")
        check(sim.durable("subkeys", STATE + "/tree")[0] == 200, "--no-values: subkeys 200")
    finally:
        check(sim.stop() == 0, "clean exit on SIGTERM")


def test_acl_and_blocks(ctx):
    sim = start_sim(leaves=3, seed="acl", extra=["--acl-secure", "--block-interval-ms", "150"])
    try:
        check(sim.durable("subkeys", STATE + "/tree")[0] == 401, "--acl-secure: subkeys 401")
        st, _, body = sim.durable("values", STATE + "/tree")
        check(st == 401 and body == b"", "--acl-secure: values 401 empty")
        check(sim.durable("value", STATE + "/tree/size")[0] == 200, "--acl-secure: value 200")
        l0 = sim.get("/global/block/head/level")
        time.sleep(1.0)
        check(sim.get("/global/block/head/level") >= l0 + 3, "timed blocks advance")
        check(tree_size(sim) >= 6, "timed blocks append notes")
    finally:
        check(sim.stop() == 0, "clean exit")


def test_cache(ctx):
    cache, pay_arg = ctx.cache, ctx.pay
    files = [f for f in os.listdir(cache) if f.endswith(".chain")]
    check(len(files) == 1, "one cache file %r" % files)
    check(not any(".tmp." in f for f in os.listdir(cache)), "no temp files left")
    sim = start_sim(leaves=40, seed="t1", pay=pay_arg, cache=cache)
    try:
        got = sim.value(STATE + "/tree/root"), read_note(sim, 11)
    finally:
        sim.stop()
    check(got == (ctx.root, ctx.notes[11]), "cached chain serves the same state")
    # generation does not depend on the thread count
    sim = start_sim(leaves=40, seed="t1", pay=pay_arg, threads=1)
    try:
        check(sim.value(STATE + "/tree/root") == got[0], "one thread: same chain")
    finally:
        sim.stop()
    sim = start_sim(leaves=40, seed="t2", pay=pay_arg, threads=1)
    try:
        check(sim.value(STATE + "/tree/root") != got[0], "another seed: another chain")
    finally:
        sim.stop()


def test_bad_args(ctx):
    tmp = ctx.tmp

    def run(*args):
        return subprocess.run([BIN, "--port", "0", "--quiet", *args], capture_output=True,
                              text=True, timeout=60)
    r = run("--pay", os.path.join(tmp, "missing.json") + ":2")
    check(r.returncode != 0 and "missing.json" in r.stderr, "missing --pay file refused")
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        json.dump({"d_j": "00"}, f)
    r = run("--pay", bad + ":1")
    check(r.returncode != 0 and "d_j" in r.stderr, "malformed address refused: %r" % r.stderr)
    r = run("--leaves", "2", "--pay", os.path.join(tmp, "a0.json") + ":3")
    check(r.returncode != 0 and "--leaves" in r.stderr, "more paid notes than leaves refused")
    r = run("--latency-ms", "abc")
    check(r.returncode == 2, "bad number refused")
    # a number is decimal digits only: a sign or a space is refused (exit 2),
    # not skipped as strtoull did
    for args in (("--leaves", "+5"), ("--leaves", " 5"), ("--port=+0",)):
        try:
            r = subprocess.run([BIN, "--quiet", *args], capture_output=True, text=True,
                               timeout=20)
            check(r.returncode == 2 and "wants a non-negative integer" in r.stderr,
                  "%r refused: %d %r" % (args, r.returncode, r.stderr))
        except subprocess.TimeoutExpired:
            check(False, "%r accepted: the simulator started" % (args,))
    # a COUNT or VALUE beyond 64 bits is refused, not read as whatever was
    # on the stack (the simulator used to start and serve garbage values)
    for tail in (":3:99999999999999999999", ":99999999999999999999",
                 ":99999999999999999999:3"):
        arg = os.path.join(tmp, "a0.json") + tail
        try:
            r = subprocess.run([BIN, "--port", "0", "--quiet", "--leaves", "8", "--pay", arg],
                               capture_output=True, text=True, timeout=20)
            check(r.returncode == 2 and "--pay" in r.stderr and "64 bits" in r.stderr,
                  "--pay %s refused: %d %r" % (tail, r.returncode, r.stderr))
        except subprocess.TimeoutExpired:
            check(False, "--pay %s accepted: the simulator started" % tail)


def test_many_pays(ctx):
    """300 --pay entries (the assignment used to stop at 256 and never finish): every entry
    gets its note."""
    a = os.path.join(ctx.tmp, "a0.json")
    args = []
    for _ in range(300):
        args += ["--pay", a + ":1"]
    sim = start_sim(leaves=400, seed="many", extra=args)
    try:
        paid = sim.paid()
        check(len(paid) == 300 and sorted(p["pay"] for p in paid) == list(range(300)),
              "paid %d notes" % len(paid))
    finally:
        sim.stop()


# ---------------------------------------------------------- operator API

def op_req(sim, method, path, body=None, token="tok-1"):
    """`method` on the operator API with a bearer token (None: no header);
    (HTTP status, parsed JSON body or None)."""
    import urllib.error
    import urllib.request
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    rq = urllib.request.Request(sim.url + path, data=data, method=method)
    if token is not None:
        rq.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(rq, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    return status, (json.loads(raw) if raw.strip() else None)


def dyn(b):
    return len(b).to_bytes(4, "big") + b


def transfer_msg(root, nfs, fee, cms, preimage, encs, proof=b"\x00" * 32):
    """A transfer kernel message (SPENDS.md section 7) with any proof."""
    pr = dyn(len(proof).to_bytes(4, "big") + proof + len(preimage).to_bytes(4, "big") +
             b"".join(preimage))
    body = (root + dyn(dyn(b"".join(nfs))) + fee.to_bytes(8, "little") + b"".join(cms) + pr +
            b"".join(dyn(e) for e in encs))
    return (17).to_bytes(2, "little") + b"\x03" + dyn(body)


def test_operator(ctx):
    """The operator API on its own simulator (--operator-token): 401 without
    or with a wrong token, 400 on malformed bodies, a record for every
    submission with the kernel's reason when rejected (undecodable
    payload, kind mismatch, fee, unknown root, a foreign program hash),
    GET of a record, 404 for an unknown id; nothing applied."""
    sim = start_sim(leaves=6, seed="op", extra=["--operator-token", "tok-1"])
    try:
        ra = sim.chain()["rollup_address"]
        size0, level0 = tree_size(sim), sim.chain()["level"]
        sub = "/v1/rollup/submissions"
        good = {"kind": "transfer", "rollup_address": ra, "payload": "11000300000000"}
        check(op_req(sim, "POST", sub, good, token=None)[0] == 401, "no token")
        check(op_req(sim, "POST", sub, good, token="tzel-sim-operator-token")[0] == 401,
              "the default token after --operator-token")
        check(op_req(sim, "GET", sub + "/sub-1-1", token="nope")[0] == 401, "GET wrong token")
        for bad in [b"not json", {"kind": "mint", "rollup_address": ra, "payload": "00"},
                    {"kind": "transfer", "rollup_address": "sr1x", "payload": "00"},
                    {"kind": "transfer", "rollup_address": ra, "payload": "0g"},
                    {"kind": "transfer", "rollup_address": ra, "payload": "abc"},
                    {"kind": "transfer", "rollup_address": ra}]:
            st, js = op_req(sim, "POST", sub, bad)
            check(st == 400 and "error" in js, "malformed body %r: %s %s" % (bad, st, js))

        def submit(kind, payload):
            st, js = op_req(sim, "POST", sub, {"kind": kind, "rollup_address": ra,
                                               "payload": payload.hex()})
            check(st == 200, "submission answered %s %s" % (st, js))
            return js["submission"]

        s1 = submit("transfer", bytes.fromhex("1100030000"))
        check(s1["status"] == "failed" and "does not decode" in s1["detail"], s1)
        check(s1["id"].startswith("sub-") and s1["transport"] == "direct_inbox", s1)
        check(s1["dal_chunks"] == [] and s1["commitment"] is None and s1["slot_index"] is None, s1)
        check(s1["kind"] == "transfer" and s1["rollup_address"] == ra and s1["payload_len"] == 5,
              s1)
        check(len(s1["payload_hash"]) == 64 and s1["operation_hash"].startswith("o"), s1)
        st, again = op_req(sim, "GET", sub + "/" + s1["id"])
        check(st == 200 and again["submission"] == s1, "GET answers the record: %s" % again)
        check(op_req(sim, "GET", sub + "/sub-0-999")[0] == 404, "unknown id")

        root = bytes.fromhex(sim.value(STATE + "/tree/root"))
        enc = read_note(sim, 0)[32:]
        nf, cm = os.urandom(31) + b"\x00", os.urandom(31) + b"\x00"
        pre = [(1).to_bytes(32, "little")] * 4
        msg = transfer_msg(root, [nf], 100000, [cm] * 3, pre, [enc] * 3)
        s2 = submit("unshield", msg)
        check(s2["status"] == "failed" and "the submission says unshield" in s2["detail"], s2)
        s3 = submit("transfer", transfer_msg(root, [nf], 99999, [cm] * 3, pre, [enc] * 3))
        check(s3["status"] == "failed" and "below the required fee 100000" in s3["detail"], s3)
        s4 = submit("transfer", transfer_msg(b"\x07" * 31 + b"\x00", [nf], 100000, [cm] * 3,
                                             pre, [enc] * 3))
        check(s4["status"] == "failed" and "not a recorded root" in s4["detail"], s4)
        s5 = submit("transfer", msg)
        check(s5["status"] == "failed" and "proof" in s5["detail"], s5)
        pre = [(1).to_bytes(32, "little"), (3 + 12).to_bytes(32, "little"), b"\x05" * 31 + b"\x00",
               (12).to_bytes(32, "little")] + [b"\x00" * 32] * 12
        s6 = submit("transfer", transfer_msg(root, [nf], 100000, [cm] * 3, pre, [enc] * 3))
        check(s6["status"] == "failed" and "is not the transparent transfer program" in s6["detail"],
              s6)
        check(len({s["id"] for s in (s1, s2, s3, s4, s5, s6)}) == 6, "ids are distinct")
        check(tree_size(sim) == size0 and sim.chain()["level"] == level0, "nothing applied")
        check(sim.u64(STATE + "/roots/count") == 1, "genesis root recorded")
        check(sim.value(STATE + "/roots/by-key/" + root.hex()) == "01", "root marker")
        check(sim.u64(STATE + "/withdrawals/count") == 0, "no withdrawal")
        check(sim.value(STATE + "/fees/private_tx_level") is None, "fee counter unwritten")
    finally:
        sim.stop()


def test_profile(ctx):
    """GET /sim/profile: a complete network profile for a wallet."""
    p = ctx.sim.get("/sim/profile")
    ch = ctx.sim.chain()
    check(p["network"] == "shadownet", p)
    check(p["rollup_node_url"] == ctx.sim.url and p["operator_url"] == ctx.sim.url, p)
    check(p["rollup_address"] == ch["rollup_address"], p)
    tick = ctx.sim.value(STATE + "/bridge/ticketer")
    check(bytes.fromhex(tick).decode() == p["bridge_ticketer"], p)
    check(p["operator_bearer_token"] == "tzel-sim-operator-token", p)
    check(p["dal_fee"] == 1 and p["burn_cap"] == "1" and p["octez_client_bin"] == "octez-client",
          p)
    check(p["public_account"].startswith("tz1") and p["source_alias"], p)
    fa = p["dal_fee_address"]
    check(sorted(fa) == sorted(["d_j", "auth_root", "auth_pub_seed", "nk_tag", "ek_v", "ek_d"]),
          fa)
    check(all(len(fa[k]) == 64 for k in ("d_j", "auth_root", "auth_pub_seed", "nk_tag")), fa)
    check(len(fa["ek_v"]) == len(fa["ek_d"]) == 2 * 1184, fa)
    check(ctx.sim.get("/sim/profile") == p, "the profile is stable")


TESTS = [test_make_address, test_profile, test_routes, test_tree, test_acceptance, test_faults,
         test_counters, test_latency, test_capacity, test_pinned, test_clean_exit,
         test_cache, test_max_connections, test_acl_and_blocks, test_bad_args, test_many_pays,
         test_operator]


def main():
    """Makes the paid address and starts the shared simulator (reading the
    state the later tests compare with), then runs TESTS with the shared
    state; the simulator is stopped at the end if clean_exit did not run."""
    if not os.path.exists(BIN):
        print("missing", BIN, file=sys.stderr)
        return 1
    ctx = types.SimpleNamespace(vec=tzlib.vectors("protocol_v1.json"))
    ctx.master = ctx.vec["key_hierarchy"]["master_sk"]
    ctx.root0 = ctx.vec["addresses"][0]["auth_root"]
    ctx.root1 = ctx.vec["addresses"][1]["auth_root"]
    ctx.a0 = make_address(ctx.master, 0, ctx.root0)
    ctx.tmp = tempfile.mkdtemp(prefix="tzsim-")
    ctx.cache = os.path.join(ctx.tmp, "cache")
    # wrap it the way the CLI's envelope does, to exercise that form
    apath = os.path.join(ctx.tmp, "a0.json")
    with open(apath, "w") as f:
        json.dump({"schema_version": 1, "command": "receive", "result": ctx.a0}, f)
    ctx.pay = apath + ":3:777"
    ctx.sim = start_sim(leaves=40, seed="t1", pay=ctx.pay, cache=ctx.cache)
    try:
        ctx.root = ctx.sim.value(STATE + "/tree/root")
        ctx.notes = [read_note(ctx.sim, i) for i in range(tree_size(ctx.sim))]
        ctx.cms = [n[:32] for n in ctx.notes]
    except BaseException:
        ctx.sim.stop()
        raise
    return tzlib.run_tests(TESTS, ctx.tmp, args=(ctx,), teardown=ctx.sim.stop)


if __name__ == "__main__":
    sys.exit(main())
