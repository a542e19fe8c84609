#!/usr/bin/env python3
"""Integration tests of the tzel-wallet commands that talk to a rollup node
(init --at-head, check, deposit --prepare-only) against the real
tzel-rollup-sim, plus nodes that are unreachable, failing or answering
garbage. No test derives an auth tree except where a deposit needs a fresh
address beyond the fixture's pre-derived records (none here).

Run all: python3 test_cli_node.py; some: python3 test_cli_node.py deposit ...
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tzlib import H, WALLET_BIN, check, load, read_bytes  # noqa: E402
import tzlib  # noqa: E402

TMP = tempfile.mkdtemp(prefix="tz-it-cli-node-")
CACHE = os.path.join(TMP, "chain-cache")

PV = tzlib.vectors("protocol_v1.json")
MASTER = PV["key_hierarchy"]["master_sk"]
STATE = "/tzel/v1/state/"


def fold(a, b):
    return H(a + b, b"sighSP__")


def start_sim(leaves, seed):
    """A tzel-rollup-sim on a free port, with this run's chain cache."""
    return tzlib.SimServer.start(leaves, seed, cache=CACHE, threads=2)


class FakeNode:
    """An HTTP server answering every GET with `responder(path)` ->
    (status, body)."""

    def __init__(self, responder):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, body = responder(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def run(*args, wallet=None, url=None, json_mode=True, env=None, timeout=300):
    return tzlib.run_wallet(*args, wallet=wallet, url=url, json_mode=json_mode, env=env,
                            timeout=timeout)


def ok(*args, **kw):
    r = run(*args, **kw)
    check(r.returncode == 0, "%r failed (%d): %s" % (args, r.returncode, r.stderr[-1500:]))
    env = json.loads(r.stdout)
    check(env["schema_version"] == 1 and env["command"] == args[0], "envelope %r" % env)
    # the reference's serde_json: keys sorted at every level, compact
    check(r.stdout == json.dumps(env, sort_keys=True, separators=(",", ":")) + "\n",
          "envelope not a sorted compact dump: %r" % r.stdout[:200])
    return env["result"]


def fails(code, *args, **kw):
    r = run(*args, **kw)
    check(r.returncode == code, "%r: exit %d, expected %d: %s" %
          (args, r.returncode, code, r.stderr[-800:]))
    errs = [l for l in r.stderr.splitlines() if l.startswith("error: ")]
    check(len(errs) == 1, "expected one error line: %r" % r.stderr[-800:])
    env = json.loads(r.stdout)
    check(env["error"]["exit"] == code, "error envelope %r" % env)
    return r


def fixture_wallet(path):
    addrs = tzlib.vector_address_records(PV)
    for j in range(3, 6):   # more pre-derived records (random public fields): no derivation
        addrs.append({"index": j, "d_j": H(b"d%d" % j).hex(), "auth_root": H(b"r%d" % j).hex(),
                      "auth_pub_seed": H(b"s%d" % j).hex(), "nk_tag": H(b"t%d" % j).hex(),
                      "bds": {}})
    with open(path, "w") as f:
        json.dump({"master_sk": MASTER, "addresses": addrs, "addr_counter": 0, "notes": [],
                   "scanned": 0}, f)
    os.chmod(path, 0o600)


def new_dir(name):
    return tzlib.new_dir(TMP, name)


# ------------------------------------------------------------------ tests

def test_init_at_head_and_check(sim):
    d = new_dir("athead")
    w = os.path.join(d, "wallet.json")
    size = sim.u64(STATE + "tree/size")
    res = ok("init", "--addresses", "0", "--at-head", wallet=w, url=sim.url)
    check(res["scanned"] == size and res["frontier"] and res["block"].startswith("B"),
          "init result %r (size %d)" % (res, size))
    doc = load(w)
    sync = doc["tzel_c_sync"]
    check(doc["scanned"] == size and sync["frontier_size"] == size and len(sync["frontier"]) == 48,
          "frontier stored %r" % sync)
    check(sync["nullifiers_checked"] == sim.u64(STATE + "nullifiers/count"), "nullifier cursor")
    check(load(w + ".network.json") == {"rollup_node_url": sim.url}, "profile")
    # check with the URL from the profile
    c = ok("check", wallet=w)
    check(c["root_check"] == "match" and c["tree_size"] == size and c["check_passed"] and
          c["local_scanned"] == size and c["leaves_to_sync"] == 0 and
          c["tree_root"] == sim.value(STATE + "tree/root") and c["rollup_head"] == sim.head() and
          c["auth_domain"] == sim.value(STATE + "auth_domain")[:8] and
          c["auth_domain_hex"] == sim.value(STATE + "auth_domain") and c["network"] == "custom" and
          c["required_tx_fee_mutez"] == 100000 and c["required_tx_fee_tez"] == "0.1" and
          c["operator_health"] == "not_configured", "check %r" % c)
    # human: the reference's lines on stdout, ours on stderr
    r = run("check", wallet=w, json_mode=False)
    check(r.returncode == 0 and r.stdout ==
          "Wallet file: %s\nNetwork: custom\nRollup head: %s\nAuth domain: %s\nTree size: %d\n"
          "Current required burn fee: 100000 mutez (0.1 tez)\n"
          "Local wallet: notes=0, pending=0, scanned=%d\n"
          "Deposit pools: 0 funded, total balance 0 mutez\n"
          "Operator health: not configured\nCheck passed\n"
          % (w, sim.head(), sim.value(STATE + "auth_domain")[:8], size, size),
          "human check %r" % r.stdout)
    check("Root check: match" in r.stderr and "Tree root: " in r.stderr, "extras %r" % r.stderr)
    sim.post("append", {"count": 3})
    c = ok("check", wallet=w)
    check(c["root_check"] == "behind" and c["leaves_to_sync"] == 3 and c["tree_size"] == size + 3,
          "check after append %r" % c)
    common = [l for l in range(48) if (size >> l) == ((size + 3) >> l) and (size >> l) & 1]
    check(c["frontier_levels_checked"] == len(common) > 0, "prefix levels %r" % c)
    # behind, with a frontier that disagrees on a level both sizes share
    doc = load(w)
    keep = json.dumps(doc)
    f = doc["tzel_c_sync"]["frontier"]
    f[common[-1]] = ("01" if f[common[-1]][:2] != "01" else "02") + f[common[-1]][2:]
    with open(w, "w") as fh:
        json.dump(doc, fh)
    r = fails(6, "check", wallet=w)
    check("level %d" % common[-1] in r.stderr, "frontier mismatch message %r" % r.stderr)
    with open(w, "w") as fh:
        fh.write(keep)
    os.chmod(w, 0o600)
    # a tampered frontier at cursor == tree size fails the root check
    w2 = os.path.join(d, "w2.json")
    ok("init", "--addresses", "0", "--at-head", wallet=w2, url=sim.url)
    doc = load(w2)
    n = doc["scanned"]
    lvl = [l for l in range(48) if (n >> l) & 1][0]
    f = doc["tzel_c_sync"]["frontier"]
    f[lvl] = ("01" if f[lvl][:2] != "01" else "02") + f[lvl][2:]
    with open(w2, "w") as fh:
        json.dump(doc, fh)
    before = read_bytes(w2)
    r = fails(6, "check", wallet=w2, url=sim.url)
    check("root" in r.stderr, "mismatch message: %r" % r.stderr)
    check(read_bytes(w2) == before, "check changed the wallet")
    # a cursor beyond the chain
    doc["scanned"] = n + 100
    del doc["tzel_c_sync"]
    with open(w2, "w") as fh:
        json.dump(doc, fh)
    fails(6, "check", wallet=w2, url=sim.url)
    # URL resolution: flag > env > profile
    with open(w + ".network.json", "w") as fh:
        json.dump({"rollup_node_url": "http://127.0.0.1:1", "other": 5}, fh)
    fails(5, "check", wallet=w)
    ok("check", wallet=w, env={"TZEL_ROLLUP_NODE_URL": sim.url})
    fails(5, "check", wallet=w, url="http://127.0.0.1:1", env={"TZEL_ROLLUP_NODE_URL": sim.url})
    # init --rollup-node-url keeps other profile fields
    ok("init", "--addresses", "0", "--force", "--rollup-node-url", sim.url, wallet=w)
    check(load(w + ".network.json") == {"rollup_node_url": sim.url, "other": 5},
          "profile fields not kept")


def test_deposit_prepare_only(sim):
    d = new_dir("deposit")
    w = os.path.join(d, "wallet.json")
    fixture_wallet(w)
    auth_domain = bytes.fromhex(sim.value(STATE + "auth_domain"))
    ticketer = bytes.fromhex(sim.value(STATE + "bridge/ticketer")).decode()
    sr1 = sim.get("/global/smart_rollup_address")
    sk = bytes.fromhex(MASTER)
    hashes = []
    for nonce in range(2):
        res = ok("deposit", "--amount", str(1000 + nonce), "--prepare-only", wallet=w, url=sim.url)
        a = PV["addresses"][nonce]
        blind = H(b"tzel-deposit-blind" + sk + nonce.to_bytes(4, "little") +
                  nonce.to_bytes(8, "little"))
        ph = bytes([4]) + bytes(31)
        for x in (auth_domain, bytes.fromhex(a["auth_root"]), bytes.fromhex(a["auth_pub_seed"]),
                  blind):
            ph = fold(ph, x)
        check(res["pubkey_hash"] == ph.hex(), "pubkey_hash %s != %s" % (res["pubkey_hash"], ph.hex()))
        check(res["bridge_contract"] == ticketer and res["entrypoint"] == "mint" and
              res["amount"] == 1000 + nonce and res["pending_saved"] is True, "result %r" % res)
        check(res["params"] == {"prim": "Pair", "args": [
            {"bytes": ("deposit:" + ph.hex()).encode().hex()}, {"string": sr1}]},
            "params %r" % res["params"])
        check(set(res) == {"amount", "bridge_contract", "entrypoint", "params", "pending_saved",
                           "pubkey_hash"}, "reference result keys %r" % sorted(res))
        doc = load(w)
        pd = doc["pending_deposits"][nonce]
        check(pd == {"pubkey_hash": ph.hex(), "blind": blind.hex(), "address_index": nonce,
                     "auth_domain": auth_domain.hex(), "amount": 1000 + nonce,
                     "operation_hash": None}, "pending deposit %r" % pd)
        check(doc["deposit_nonce"] == nonce + 1 and doc["addr_counter"] == nonce + 1,
              "counters %r" % {k: doc[k] for k in ("deposit_nonce", "addr_counter")})
        hashes.append(ph.hex())
    check(not os.path.exists(w + ".lock"), "lock left")
    # pools on chain, as check reports them
    sim.post("deposit", {"pubkey_hash": hashes[0], "amount": 777})
    c = ok("check", wallet=w, url=sim.url)
    check(c["deposit_pools_funded"] == 1 and c["deposit_pools_total_mutez"] == 777 and
          c["deposit_pools_awaiting_credit"] == 1, "pools %r" % c)
    check([(p["pubkey_hash"], p["balance"], p["state"]) for p in c["deposit_pools"]] ==
          [(hashes[0], 777, "funded"), (hashes[1], 0, "awaiting_credit")], "pool list")
    # human output: the reference's five lines exactly
    r = run("deposit", "--amount", "5", "--prepare-only", wallet=w, url=sim.url, json_mode=False)
    pd = load(w)["pending_deposits"][-1]["pubkey_hash"]
    params = '{"args":[{"bytes":"%s"},{"string":"%s"}],"prim":"Pair"}' % (
        ("deposit:" + pd).encode().hex(), sr1)
    check(r.returncode == 0 and r.stdout ==
          "Prepared bridge deposit of 5 mutez for pool %s (not submitted)\n"
          "bridge_contract: %s\nentrypoint:      mint\nparams:          %s\n"
          "Caller must sign + broadcast the operation (e.g. via Temple) and then notify the "
          "daemon via POST /api/deposit/submitted.\n" % (pd, ticketer, params),
          "human deposit output %r" % r.stdout)
    # --json: only the first line on stderr
    r = run("deposit", "--amount", "6", "--prepare-only", wallet=w, url=sim.url)
    pd = load(w)["pending_deposits"][-1]["pubkey_hash"]
    check(r.returncode == 0 and r.stderr ==
          "Prepared bridge deposit of 6 mutez for pool %s (not submitted)\n" % pd,
          "--json stderr %r" % r.stderr)
    # balance with a profile reads the pools at the head (reference lines)
    with open(w + ".network.json", "w") as fh:
        json.dump({"rollup_node_url": sim.url}, fh)
    r = run("balance", wallet=w, json_mode=False)
    check(r.returncode == 0 and r.stdout.endswith(
        "Pending operations: 0\nDeposit pools: 1 funded, total balance 777 mutez\n"
        "Deposit pools awaiting on-chain credit: 3\n"), "balance with profile %r" % r.stdout)
    b = ok("balance", wallet=w)
    check(b["deposit_pools_funded"] == 1 and b["deposit_pools_total_mutez"] == 777 and
          b["deposit_pools_awaiting_credit"] == 3 and
          b["deposit_pools_drained_pending_prune"] == 0, "balance json %r" % b)
    # preflight against the chain, before an address is spent
    before = read_bytes(w)
    for prof, words in [({"rollup_address": "sr1Profile"},
                         "rollup-node served address (%s) does not match wallet "
                         "profile.rollup_address (sr1Profile)" % sr1),
                        ({"bridge_ticketer": "KT1Profile"},
                         "wallet profile's bridge_ticketer KT1Profile does not match the "
                         "rollup's configured ticketer %s" % ticketer)]:
        prof["rollup_node_url"] = sim.url
        with open(w + ".network.json", "w") as fh:
            json.dump(prof, fh)
        r = fails(6, "deposit", "--amount", "9", "--prepare-only", wallet=w)
        check(("error: " + words) in r.stderr, "preflight message %r" % r.stderr)
        check(read_bytes(w) == before, "a refused deposit changed the wallet")
    # a matching profile: its values are used; check names its network
    with open(w + ".network.json", "w") as fh:
        json.dump({"rollup_node_url": sim.url, "bridge_ticketer": ticketer,
                   "rollup_address": sr1, "network": "shadownet"}, fh)
    res = ok("deposit", "--amount", "9", "--prepare-only", wallet=w)
    check(res["bridge_contract"] == ticketer and
          res["params"]["args"][1] == {"string": sr1}, "profile fields %r" % res)
    check(ok("check", wallet=w)["network"] == "shadownet", "network from the profile")


def test_node_errors(sim):
    d = new_dir("nodeerr")
    w = os.path.join(d, "wallet.json")
    fixture_wallet(w)
    before = read_bytes(w)
    head = sim.head()
    garbage = FakeNode(lambda path: (200, "this is not json"))
    bad_values = FakeNode(lambda path: (200, json.dumps(head) if path.endswith("/hash")
                                        else '"zz not hex"'))
    short_values = FakeNode(lambda path: (200, json.dumps(head) if path.endswith("/hash")
                                          else '"0102"'))
    failing = FakeNode(lambda path: (500, '[{"kind":"temporary","id":"failure","msg":"No head"}]'))
    try:
        for node, code in [(garbage, 6), (bad_values, 6), (short_values, 6), (failing, 5)]:
            fails(code, "check", wallet=w, url=node.url)
            fails(code, "deposit", "--amount", "1", "--prepare-only", wallet=w, url=node.url)
            w2 = os.path.join(d, "new.json")
            fails(code, "init", "--addresses", "0", "--at-head", wallet=w2, url=node.url)
            check(not os.path.exists(w2) and not os.path.exists(w2 + ".network.json"),
                  "a failed init left files")
        # the simulator failing the next reads
        sim.post("fault", {"status": 503, "next": 2})
        fails(5, "deposit", "--amount", "1", "--prepare-only", wallet=w, url=sim.url)
        sim.post("fault/clear")
    finally:
        for n in (garbage, bad_values, short_values, failing):
            n.stop()
    check(read_bytes(w) == before, "a failed command changed the wallet")
    check(not os.path.exists(w + ".lock"), "lock left behind")


def test_lock_race(sim):
    """Two deposits started together while the node is slow: exactly one
    wins the lock, the other exits 4 naming the winner's PID at once."""
    d = new_dir("race")
    w = os.path.join(d, "wallet.json")
    fixture_wallet(w)
    sim.post("latency", {"ms": 1500})
    try:
        t0 = time.time()
        procs = [subprocess.Popen([WALLET_BIN, "-w", w, "--rollup-node-url", sim.url, "--json",
                                   "deposit", "--amount", "5", "--prepare-only"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
    finally:
        sim.post("latency", {"ms": 0})
    codes = sorted(p.returncode for p in procs)
    check(codes == [0, 4], "exit codes %r: %r" % (codes, [o[1][-300:] for o in outs]))
    win = [p for p in procs if p.returncode == 0][0]
    lose_err = [o[1] for p, o in zip(procs, outs) if p.returncode == 4][0]
    check(str(win.pid) in lose_err, "loser does not name the winner's PID: %r" % lose_err)
    check(json.loads([o[0] for p, o in zip(procs, outs) if p.returncode == 4][0])["error"]["code"]
          == "LOCKED", "LOCKED envelope")
    doc = load(w)
    check(doc["addr_counter"] == 1 and len(doc["pending_deposits"]) == 1 and
          not os.path.exists(w + ".lock"), "final state")
    check(time.time() - t0 >= 1.5, "the winner did not wait for the slow node")


def test_preflight_fee_and_operator_fake_node(sim):
    """Against a scripted node: deposit refuses an unconfigured verifier or
    ticketer (reference messages, wallet untouched); check computes the
    reference's burn fee and reports the operator's /healthz."""
    from urllib.parse import urlparse, parse_qs, unquote
    head = sim.head()
    sr1 = sim.get("/global/smart_rollup_address")
    ad = sim.value(STATE + "auth_domain")
    vals = {STATE + "auth_domain": ad, STATE + "tree/size": "00" * 8}

    def responder(path):
        u = urlparse(path)
        if u.path == "/global/block/head/hash":
            return 200, json.dumps(head)
        if u.path == "/global/smart_rollup_address":
            return 200, json.dumps(sr1)
        if u.path == "/healthz":
            return 200, "  operator ok\n"
        if u.path.endswith("/level"):
            return 200, "41"
        key = unquote(parse_qs(u.query).get("key", [""])[0])
        if u.path.endswith("/durable/wasm_2_0_0/value"):
            return 200, json.dumps(vals[key]) if key in vals else "null"
        if u.path.endswith("/durable/wasm_2_0_0/length"):
            return 200, json.dumps(str(len(vals[key]) // 2)) if key in vals else "null"
        return 404, "null"

    node = FakeNode(responder)
    try:
        d = new_dir("fake")
        w = os.path.join(d, "wallet.json")
        fixture_wallet(w)
        before = read_bytes(w)
        r = fails(6, "deposit", "--amount", "5", "--prepare-only", wallet=w, url=node.url)
        check("error: rollup verifier is not configured yet — refusing to send a bridge deposit."
              in r.stderr, "verifier message %r" % r.stderr)
        vals[STATE + "verifier_config.bin"] = "ab" * 64
        r = fails(6, "deposit", "--amount", "5", "--prepare-only", wallet=w, url=node.url)
        check("error: rollup bridge ticketer is not configured yet — refusing to send a bridge "
              "deposit." in r.stderr, "ticketer message %r" % r.stderr)
        check(read_bytes(w) == before, "a refused deposit changed the wallet")
        vals[STATE + "bridge/ticketer"] = b"KT1FakeTicketer".hex()
        res = ok("deposit", "--amount", "5", "--prepare-only", wallet=w, url=node.url)
        check(res["bridge_contract"] == "KT1FakeTicketer", "ticketer from the chain %r" % res)
        # fee: both levels are the next level (41 + 1), 3 txs accepted -> 2 doublings
        vals[STATE + "last_input_level"] = (42).to_bytes(4, "little").hex()
        vals[STATE + "fees/private_tx_level"] = (42).to_bytes(4, "little").hex()
        vals[STATE + "fees/private_tx_count_in_level"] = (3).to_bytes(8, "little").hex()
        with open(w + ".network.json", "w") as fh:
            json.dump({"rollup_node_url": node.url, "operator_url": node.url + "/",
                       "network": "shadownet"}, fh)
        r = run("check", wallet=w, json_mode=False)
        check(r.returncode == 0 and
              "Network: shadownet\n" in r.stdout and
              "Current required burn fee: 400000 mutez (0.4 tez)\n" in r.stdout and
              "Deposit pools: 0 funded, total balance 0 mutez\n"
              "Deposit pools awaiting on-chain credit: 1\n"
              "Operator health: operator ok\nCheck passed\n" in r.stdout,
              "check %r %r" % (r.stdout, r.stderr))
        c = ok("check", wallet=w)
        check(c["required_tx_fee_mutez"] == 400000 and c["required_tx_fee_tez"] == "0.4" and
              c["operator_health"] == "operator ok", "check json %r" % c)
        # a count from another level does not raise the fee
        vals[STATE + "fees/private_tx_level"] = (40).to_bytes(4, "little").hex()
        check(ok("check", wallet=w)["required_tx_fee_mutez"] == 100000, "stale count used")
        vals[STATE + "last_input_level"] = "0102"
        r = fails(6, "check", wallet=w)
        check("has 2 bytes, expected 4" in r.stderr, "i32 length message %r" % r.stderr)
    finally:
        node.stop()


def test_recover_deposits(_shared_sim):
    """recover-deposits finds the funded pools of the seed in the (address index, nonce)
    window that the file does not list, skips a pool already pending and one that is empty,
    and moves deposit_nonce past the highest nonce found; the reference's stdout lines. (A
    simulator of its own: the shared one holds the pools other tests credited.)"""
    sim = start_sim(12, "cli-node-recover")
    try:
        recover_deposits(sim)
    finally:
        sim.stop()


def recover_deposits(sim):
    d = new_dir("recover")
    w = os.path.join(d, "wallet.json")
    fixture_wallet(w)
    auth_domain = bytes.fromhex(sim.value(STATE + "auth_domain"))
    sk = bytes.fromhex(MASTER)
    recs = load(w)["addresses"]

    def pool(i, j):
        blind = H(b"tzel-deposit-blind" + sk + i.to_bytes(4, "little") + j.to_bytes(8, "little"))
        ph = bytes([4]) + bytes(31)
        for x in (auth_domain, bytes.fromhex(recs[i]["auth_root"]),
                  bytes.fromhex(recs[i]["auth_pub_seed"]), blind):
            ph = fold(ph, x)
        return ph.hex(), blind.hex()
    # funded: (1, 2) and (2, 0); (0, 1) funded but already pending; (2, 3) credited then
    # drained to 0 is skipped; (1, 5) is outside the window
    for (i, j), amount in [((1, 2), 7000), ((2, 0), 800), ((0, 1), 900), ((2, 3), 5),
                           ((1, 5), 600)]:
        sim.post("deposit", {"pubkey_hash": pool(i, j)[0], "amount": amount})
    sim.post("deposit", {"pubkey_hash": pool(2, 3)[0], "amount": 5, "drain": True})
    doc = load(w)
    doc["pending_deposits"] = [{"pubkey_hash": pool(0, 1)[0], "blind": pool(0, 1)[1],
                                "address_index": 0, "auth_domain": auth_domain.hex(),
                                "amount": 900, "operation_hash": None}]
    doc["deposit_nonce"] = 2
    json.dump(doc, open(w, "w"))
    r = run("recover-deposits", "--max-address-index", "2", "--max-deposit-nonce", "4",
            wallet=w, url=sim.url, json_mode=False)
    check(r.returncode == 0 and r.stdout ==
          "Recovered 2 deposit pool(s)\naddr_counter now 3\ndeposit_nonce now 3\n",
          "recover stdout %r %r" % (r.stdout, r.stderr[-500:]))
    check("  recovered: address_index=1 deposit_nonce=2 balance=7000 pubkey_hash=%s"
          % pool(1, 2)[0] in r.stderr and
          "Scanning address_index=2 auth_root=%s for deposit_nonce 0..=4" % recs[2]["auth_root"][:8]
          in r.stderr, "recover stderr %r" % r.stderr)
    doc = load(w)
    got = [(p["pubkey_hash"], p["blind"], p["address_index"], p["amount"], p["operation_hash"],
            p["auth_domain"]) for p in doc["pending_deposits"][1:]]
    check(got == [(pool(1, 2)[0], pool(1, 2)[1], 1, 7000, None, auth_domain.hex()),
                  (pool(2, 0)[0], pool(2, 0)[1], 2, 800, None, auth_domain.hex())],
          "recovered deposits %r" % got)
    # again: nothing new (both are pending now), --json
    r = run("recover-deposits", "--max-address-index", "2", "--max-deposit-nonce", "4",
            wallet=w, url=sim.url)
    res = json.loads(r.stdout)["result"]
    check(r.returncode == 0 and res["recovered"] == 0 and res["pools"] == [] and
          res["deposit_nonce"] == 3 and "No funded pools found" in r.stderr,
          "second recover %r %r" % (res, r.stderr[-300:]))
    fails(2, "recover-deposits", "--max-address-index", "99999", wallet=w, url=sim.url)


TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_")]


def main():
    sim = start_sim(12, "cli-node")
    return tzlib.run_tests(TESTS, TMP, args=(sim,), teardown=sim.stop)


if __name__ == "__main__":
    sys.exit(main())
