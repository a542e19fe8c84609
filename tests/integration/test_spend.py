#!/usr/bin/env python3
"""Integration tests of the spends, `tzel-wallet send`, `unshield` and `shield`, end to
end on the real tzel-rollup-sim: the transparent prover proves, the
simulator's operator takes the kernel message and its kernel applies it with
every check of the real one; the wallets then sync what the chain says.

Two wallets (one address each) are made once per run and copied per test:
A pays, B receives.

Run all: python3 test_spend.py; some: python3 test_spend.py send kills ...
"""
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tzlib import SIM_BIN, check, load  # noqa: E402
import tzlib  # noqa: E402

TMP = tempfile.mkdtemp(prefix="tz-it-spend-")
CACHE = os.path.join(TMP, "chain-cache")
FIXTURE = os.path.join(TMP, "fixture")
PROVER = os.path.join(tzlib.BIN, "tzel-transparent-prover")
STATE = "/tzel/v1/state/"


# ---------------------------------------------------------------- helpers

def start_sim(leaves, seed, **kw):
    return tzlib.SimServer.start(leaves, seed, cache=CACHE, threads=2, **kw)


def run_wallet(wallet, url, *args, json_mode=True, env=None, timeout=300):
    return tzlib.run_wallet(*args, wallet=wallet, url=url, json_mode=json_mode, env=env,
                            timeout=timeout)


def new_wallet(who, name):
    return tzlib.copy_wallet(os.path.join(FIXTURE, who, "wallet.json"), os.path.join(TMP, name))


def addr(who):
    return os.path.join(FIXTURE, who, "addr.json")


def sync_ok(wallet, url):
    r = run_wallet(wallet, url, "sync")
    check(r.returncode == 0, "sync failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
    return json.loads(r.stdout)["result"]


def balance(wallet):
    return sum(n["v"] for n in load(wallet)["notes"])


def use_profile(sim, wallet, **changes):
    """Writes the simulator's network profile beside `wallet`, with `changes`
    (a None value removes the field); returns it."""
    prof = dict(sim.get("/sim/profile"), **changes)
    prof = {k: v for k, v in prof.items() if v is not None}
    json.dump(prof, open(wallet + ".network.json", "w"))
    return prof


def spend(wallet, kind, *args, prover=PROVER, env=None):
    """Runs `send` or `unshield` with the transparent prover (or `prover`)."""
    return run_wallet(wallet, None, kind, *args, "--reprove-bin", prover, "--executables-dir",
                      TMP, env=env)


def leaf_note(sim, i):
    """The PublishedNote at leaf i, in hex, from the durable state."""
    key = STATE + "notes/%016x" % i
    v = sim.value(key)
    if v is not None:
        return v
    n = sim.u64(key + "/len")
    return "".join(sim.value(key + "/chunk/%08x" % c) for c in range((n + 1023) // 1024))


def leaf_cm(sim, i):
    return leaf_note(sim, i)[:64]


def open_note(sim, wallet, i):
    """The simulator's --check-note of leaf i for address 0 of `wallet`."""
    doc = load(wallet)
    spec = "%s:0:%s" % (doc["master_sk"], doc["addresses"][0]["auth_root"])
    r = subprocess.run([SIM_BIN, "--check-note", spec], input=leaf_note(sim, i) + "\n",
                       capture_output=True, text=True, timeout=120)
    return json.loads(r.stdout)


def phases(stderr):
    out = []
    for line in stderr.splitlines():
        if line.startswith('{"event":"phase"'):
            out.append(json.loads(line))
    return out


def make_fixture():
    for who in ("a", "b"):
        d = os.path.join(FIXTURE, who)
        os.makedirs(d)
        w = os.path.join(d, "wallet.json")
        r = tzlib.run_wallet("init", "--addresses", "0", wallet=w, timeout=300)
        check(r.returncode == 0, "init failed: " + r.stderr)
        r = tzlib.run_wallet("receive", "--out", os.path.join(d, "addr.json"), wallet=w,
                             timeout=600)
        check(r.returncode == 0, "receive failed: " + r.stderr)


# ------------------------------------------------------------------ tests

def test_send():
    """A pays B through the simulator: refusals leave A's wallet byte for byte; a prover
    that fails or an operator that refuses leaves the one-time keys burned; then the send:
    phase events, the summary, under 20 chain reads; B's sync finds the note with its value
    and memo; A's sync drops the spent note, finds its change, clears the pending spend; the
    balances are exact and the producer's note is on the chain."""
    with start_sim(200, "send", pay=addr("a") + ":3:200000") as sim:
        a, b = new_wallet("a", "send-a"), new_wallet("b", "send-b")
        sync_ok(a, sim.url)
        sync_ok(b, sim.url)
        prof = use_profile(sim, a, operator_bearer_token="wrong")
        base = ["--to", addr("b")]
        before = open(a, "rb").read()
        for extra, code, words in [(["--amount", "1000000000"], 3, "insufficient funds"),
                                   (["--amount", "5", "--fee", "10"], 2, "below the required fee"),
                                   (["--amount", "-5"], 2, "--amount")]:
            r = spend(a, "send", *(base + extra))
            check(r.returncode == code and words in r.stderr and open(a, "rb").read() == before,
                  "%r: exit %d %r" % (extra, r.returncode, r.stderr[-300:]))
        use_profile(sim, a, operator_url=None)
        r = spend(a, "send", *(base + ["--amount", "5"]))
        check(r.returncode == 2 and "operator_url" in r.stderr and open(a, "rb").read() == before,
              "no operator: exit %d %r" % (r.returncode, r.stderr[-300:]))
        use_profile(sim, a)
        size0, bal_a, bal_b = sim.chain()["size"], balance(a), balance(b)
        sim.reset()
        r = spend(a, "send", *(base + ["--amount", "1000", "--memo", "hi there"]))
        check(r.returncode == 0, "send: %d %s" % (r.returncode, r.stderr[-800:]))
        res = json.loads(r.stdout)["result"]
        fee, dal = res["fee"], prof["dal_fee"]
        check(res["amount"] == 1000 and res["dal_fee"] == dal and fee == 100000 and
              res["change"] == 200000 - 1000 - fee - dal and
              res["submission"]["status"] == "submitted_to_l1" and
              res["submission_id"] == res["submission"]["id"] and
              res["submission_output"].startswith("Operator submission id: ") and
              "Kind: Transfer\nStatus: submitted_to_l1 via direct_inbox" in
              res["submission_output"] and res["pending_dal"] is False,
              "result %r" % {k: res[k] for k in res if k != "nullifiers"})
        names = [e["phase"] for e in phases(r.stderr)]
        check(names == ["op_started", "witness_built", "proving_started", "proving_finished",
                        "submitting_to_operator", "operator_done"], "phases %r" % names)
        check(sim.rpc_requests() < 20, "chain reads %r" % sim.counters())
        doc = load(a)
        check(doc["wots_key_indices"]["0"] == 1, "one key for the send")
        check(doc["pending_spends"][-1]["description"] == "transfer 1000" and
              doc["pending_spends"][-1]["nullifiers"] == res["nullifiers"],
              "pending spend %r" % doc["pending_spends"])
        check([leaf_cm(sim, size0 + k) for k in range(3)] ==
              [res["recipient_cm"], res["change_cm"], res["producer_cm"]],
              "the kernel appended recipient, change and producer notes")
        got = open_note(sim, b, size0)
        check(got["accepted"] and got["v"] == 1000 and
              bytes.fromhex(got["memo"]) == b"hi there", "B's note %r" % got)
        # the recipient's sync finds the note
        sync_ok(b, sim.url)
        check(balance(b) == bal_b + 1000 and
              any(n["index"] == size0 and n["v"] == 1000 for n in load(b)["notes"]),
              "B's notes %r" % load(b)["notes"])
        # the sender's next sync: spent note gone, change found, pending cleared
        res2 = sync_ok(a, sim.url)
        doc = load(a)
        check(res2["verified_root"] == sim.chain()["root"] and not doc["pending_spends"],
              "after sync: pending %r" % doc["pending_spends"])
        check(balance(a) == bal_a - 1000 - fee - dal and
              sorted(n["v"] for n in doc["notes"]) == [98999, 200000, 200000],
              "A's notes after the send %r" % sorted(n["v"] for n in doc["notes"]))
        # the human lines (on stderr with --json): the summary, then the submission as the
        # reference prints it
        lines = [ln for ln in r.stderr.splitlines() if not ln.startswith("{") and
                 not ln.startswith("Generating proof") and not ln.startswith("Proof generated")
                 and not ln.startswith("address ") and not ln.startswith("  ")]
        at = [i for i, ln in enumerate(lines) if ln.startswith("Submitted transfer")]
        lines = lines[at[0]:] if at else lines
        check(lines[0] == "Submitted transfer of 1000 with fee 100000 + dal fee %d and change %d"
              % (dal, 200000 - 1000 - fee - dal) and
              lines[1] == "Submission id: " + res["submission_id"] and
              lines[2].startswith("Operation hash: o") and
              lines[3].startswith("Operator submission id: sub-") and
              lines[-1] == "Run `tzel-wallet sync` after the rollup processes the message.",
              "human lines of send: %r" % lines)
        # status: the operator's record, as the send printed it
        r = run_wallet(a, None, "status", "--submission-id", res["submission_id"],
                       json_mode=False)
        check(r.returncode == 0 and r.stdout == res["submission_output"] + "\n",
              "status %r against %r" % (r.stdout, res["submission_output"]))
        r = run_wallet(a, None, "status", "--submission-id", res["submission_id"])
        check(r.returncode == 0 and json.loads(r.stdout)["result"]["submission"] ==
              res["submission"], "status --json %r" % r.stdout[:300])
        r = run_wallet(a, None, "status", "--submission-id", "sub-0-nope")
        check(r.returncode == 5 and "404" in r.stderr, "unknown submission: %d %r"
              % (r.returncode, r.stderr[-300:]))


def test_unshield():
    """unshield with change and without: the withdrawal records (amount and recipient), the
    change note and the producer note on the chain; A's balance after sync is exact; an
    invalid or missing recipient and the refusals of send leave the wallet byte for byte."""
    with start_sim(120, "unshield", pay=addr("a") + ":2:300000") as sim:
        a = new_wallet("a", "unshield-a")
        sync_ok(a, sim.url)
        prof = use_profile(sim, a)
        tz1, kt1 = prof["public_account"], prof["bridge_ticketer"]
        before = open(a, "rb").read()
        # without --recipient: the profile's source_alias, through octez-client
        octez = os.path.join(TMP, "octez-unshield")
        os.makedirs(octez, exist_ok=True)

        def fake_octez(body):
            path = os.path.join(octez, "octez-client")
            with open(path, "w") as f:
                f.write('#!/bin/sh\necho "$@" > "%s/argv"\n%s\n' % (octez, body))
            os.chmod(path, 0o755)
            use_profile(sim, a, octez_client_bin=path, octez_client_dir="/tmp/oc dir",
                        octez_node_endpoint="http://l1.example:8732")
        for body, words in [
                ('echo "Error: no public key hash alias named tzel-sim" >&2; exit 1',
                 "no public key hash alias named tzel-sim"),
                ('echo "Public Key: edpk..."', "could not parse octez-client address hash"),
                ('echo "Hash: tz1notanaccount"', "not an L1 account")]:
            fake_octez(body)
            r = spend(a, "unshield", "--amount", "5")
            check(r.returncode == 1 and words in r.stderr and open(a, "rb").read() == before,
                  "octez-client %r: exit %d %r" % (body, r.returncode, r.stderr[-300:]))
        check(open(os.path.join(octez, "argv")).read().split() ==
              ["-d", "/tmp/oc", "dir", "-E", "http://l1.example:8732", "-p", "PtTALLiN", "-w",
               "none", "show", "address", "tzel-sim"], "octez-client's arguments")
        use_profile(sim, a, source_alias=None)
        r = spend(a, "unshield", "--amount", "5")
        check(r.returncode == 2 and "source_alias" in r.stderr and
              open(a, "rb").read() == before, "no source_alias: %r" % r.stderr[-300:])
        use_profile(sim, a)
        for extra, code, words in [
                (["--amount", "5", "--recipient", tz1[:-1] + ("1" if tz1[-1] != "1" else "2")],
                 2, "invalid L1 withdrawal recipient"),
                (["--amount", "5", "--recipient", prof["rollup_address"]], 2,
                 "invalid L1 withdrawal recipient"),
                (["--amount", "5", "--recipient", "  "], 2, "must not be empty"),
                (["--amount", "600000", "--recipient", tz1], 3, "insufficient funds"),
                (["--amount", "5", "--fee", "99999", "--recipient", tz1], 2,
                 "below the required fee")]:
            r = spend(a, "unshield", *extra)
            check(r.returncode == code and words in r.stderr and open(a, "rb").read() == before,
                  "%r: exit %d %r" % (extra, r.returncode, r.stderr[-300:]))
        bal = balance(a)
        size0 = sim.chain()["size"]
        r = spend(a, "unshield", "--amount", "1000", "--recipient", " " + tz1 + "\n")
        check(r.returncode == 0, "unshield: %d %s" % (r.returncode, r.stderr[-800:]))
        res = json.loads(r.stdout)["result"]
        fee, dal = res["fee"], prof["dal_fee"]
        check(res["recipient"] == tz1 and res["change"] == 300000 - 1000 - fee - dal and
              res["change_cm"] and res["submission"]["status"] == "submitted_to_l1" and
              "outbox" in res["outbox_note"], "result %r" % res)
        check([leaf_cm(sim, size0), leaf_cm(sim, size0 + 1)] ==
              [res["change_cm"], res["producer_cm"]] and sim.chain()["size"] == size0 + 2,
              "the kernel appended change and producer notes")
        wd = bytes.fromhex(sim.value(STATE + "withdrawals/index/0000000000000000"))
        check(int.from_bytes(wd[:8], "little") == 1000 and
              wd[12:] == tz1.encode() and int.from_bytes(wd[8:12], "little") == len(tz1),
              "withdrawal record %r" % wd)
        check(load(a)["pending_spends"][-1]["description"] == "unshield 1000", "pending")
        sync_ok(a, sim.url)
        check(balance(a) == bal - 1000 - fee - dal and not load(a)["pending_spends"],
              "after the unshield: %r" % sorted(n["v"] for n in load(a)["notes"]))
        # without change: the other note, exactly
        exact = 300000 - fee - dal
        size1 = sim.chain()["size"]
        addr_counter = load(a)["addr_counter"]
        r = spend(a, "unshield", "--amount", str(exact), "--recipient", kt1)
        check(r.returncode == 0, "unshield exact: %d %s" % (r.returncode, r.stderr[-800:]))
        res = json.loads(r.stdout)["result"]
        check(res["change"] == 0 and res["change_cm"] is None and
              sim.chain()["size"] == size1 + 1 and leaf_cm(sim, size1) == res["producer_cm"] and
              load(a)["addr_counter"] == addr_counter, "no change: %r" % res)
        wd = bytes.fromhex(sim.value(STATE + "withdrawals/index/0000000000000001"))
        check(int.from_bytes(wd[:8], "little") == exact and wd[12:] == kt1.encode(),
              "second withdrawal %r" % wd)
        sync_ok(a, sim.url)
        check(balance(a) == bal - 1000 - fee - dal - exact - fee - dal,
              "balance after both: %d" % balance(a))
        # human output as the reference's (the change note, exactly: no change address), to
        # the default recipient: the source_alias account octez-client names
        left = balance(a)
        fake_octez('printf "Hash: %s\\nPublic Key: edpkxyz\\n"' % tz1)
        r = run_wallet(a, None, "unshield", "--amount", str(left - fee - dal),
                       "--reprove-bin", PROVER, "--executables-dir", TMP, json_mode=False)
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and
              lines[0] == "Submitted unshield of %d to L1 recipient %s with fee %d + dal fee %d"
              % (left - fee - dal, tz1, fee, dal) and lines[1].startswith("Submission id: ") and
              lines[-1].startswith("The L1 release now comes from this unshield"),
              "human unshield %r %r" % (lines, r.stderr[-300:]))


def test_shield():
    """A deposit pool drained into shielded notes: malformed pool hashes, an empty pool, a
    pool below the fees or the amount, a pool the wallet did not prepare, each refused with
    the wallet byte for byte; then a shield of part of the pool and one of the rest (the
    default amount): the kernel appends the recipient and producer notes, debits then
    empties the pool, the pending deposit records the note's commitment; sync finds both
    notes and, the pool drained, prunes the deposit. A kill with the proof in hand and a
    failing prover burn the key; no key index reaches the prover twice."""
    with start_sim(40, "shield") as sim:
        a = new_wallet("a", "shield-a")
        prof = use_profile(sim, a)
        sync_ok(a, sim.url)
        r = run_wallet(a, None, "deposit", "--amount", "500000", "--prepare-only")
        check(r.returncode == 0, "deposit: %r" % r.stderr[-300:])
        pkh = json.loads(r.stdout)["result"]["pubkey_hash"]
        pd = load(a)["pending_deposits"][0]
        idx = pd["address_index"]
        other = "%064x" % (int(pkh, 16) ^ 1)
        low = "%064x" % (int(pkh, 16) ^ 2)
        logs = tzlib.new_dir(TMP, "shield-logs")
        prover = logging_prover(logs)
        before = open(a, "rb").read()

        def refused(extra, code, words):
            r = spend(a, "shield", *extra, prover=prover)
            check(r.returncode == code and words in r.stderr and open(a, "rb").read() == before,
                  "%r: exit %d %r" % (extra, r.returncode, r.stderr[-300:]))
        refused(["--amount", "5"], 2, "--pubkey-hash")
        refused(["--pubkey-hash", "0x" + pkh], 2, "no `0x` prefix")
        refused(["--pubkey-hash", "deposit:" + pkh], 2, "no `deposit:` prefix")
        refused(["--pubkey-hash", pkh[:-1]], 2, "got 63 chars")
        refused(["--pubkey-hash", pkh.upper()], 2, "lowercase hex (0-9, a-f) only")
        refused(["--pubkey-hash", pkh], 3,
                "deposit pool %s not found or already drained" % pkh)
        sim.post("deposit", {"pubkey_hash": pkh, "amount": 500000})
        sim.post("deposit", {"pubkey_hash": other, "amount": 500000})
        sim.post("deposit", {"pubkey_hash": low, "amount": 1000})
        fee, dal = 100000, prof["dal_fee"]
        refused(["--pubkey-hash", pkh, "--amount", "400000"], 3,
                "deposit pool %s balance 500000 < requested draw %d (amount 400000 + tx_fee "
                "%d + producer_fee %d)" % (pkh, 400000 + fee + dal, fee, dal))
        refused(["--pubkey-hash", low], 3,
                "deposit pool %s balance 1000 < required fees %d (tx_fee %d + producer_fee %d)"
                % (low, fee + dal, fee, dal))
        refused(["--pubkey-hash", other], 3,
                "deposit pool %s is not tracked by this wallet" % other)

        size0, idx0 = sim.chain()["size"], load(a)["wots_key_indices"].get(str(idx), 0)
        r = spend(a, "shield", "--pubkey-hash", pkh, "--amount", "150000", prover=prover)
        check(r.returncode == 0, "shield: %d %s" % (r.returncode, r.stderr[-800:]))
        res = json.loads(r.stdout)["result"]
        check(res["amount"] == 150000 and res["fee"] == fee and res["dal_fee"] == dal and
              res["pubkey_hash"] == pkh and res["pool_balance"] == 500000 and
              res["address_index"] == idx and res["submission"]["status"] == "submitted_to_l1"
              and "Kind: Shield\nStatus: submitted_to_l1" in res["submission_output"] and
              res["pending_dal"] is False, "result %r" % res)
        names = [e["phase"] for e in phases(r.stderr)]
        check(names == ["op_started", "witness_built", "proving_started", "proving_finished",
                        "submitting_to_operator", "operator_done"], "phases %r" % names)
        started = phases(r.stderr)[0]["detail"]
        check(started["kind"] == "shield" and started["amount"] == 150000 and
              started["pubkey_hash"] == pkh and started["recipient"] is None,
              "op_started %r" % started)
        check([leaf_cm(sim, size0), leaf_cm(sim, size0 + 1)] ==
              [res["recipient_cm"], res["producer_cm"]], "the kernel appended both notes")
        left = 500000 - 150000 - fee - dal
        check(sim.u64(STATE + "deposits/balance/" + pkh) == left, "pool debited")
        doc = load(a)
        check(doc["pending_deposits"][0]["shielded_cm"] == res["recipient_cm"] and
              doc["wots_key_indices"][str(idx)] == idx0 + 1 and not doc["pending_spends"],
              "after the shield: %r" % doc["pending_deposits"])
        sync_ok(a, sim.url)
        check([(n["index"], n["v"], n["addr_index"]) for n in load(a)["notes"]] ==
              [(size0, 150000, idx)], "the shielded note found: %r" % load(a)["notes"])
        check(len(load(a)["pending_deposits"]) == 1, "a pool with funds left stays pending")

        # a kill with the proof in hand, then a failing prover: the keys burned
        r = spend(a, "shield", "--pubkey-hash", pkh, prover=prover,
                  env={"TZEL_CRASH_AT": "proved"})
        check(r.returncode == -signal.SIGKILL and
              load(a)["wots_key_indices"][str(idx)] == idx0 + 2, "kill: %d" % r.returncode)
        r = spend(a, "shield", "--pubkey-hash", pkh, prover="false")
        check(r.returncode == 1 and "are spent" in r.stderr and
              load(a)["wots_key_indices"][str(idx)] == idx0 + 3,
              "failing prover: %d %r" % (r.returncode, r.stderr[-300:]))

        # the rest of the pool (the default amount), human output
        size1 = sim.chain()["size"]
        rest = left - fee - dal
        r = run_wallet(a, None, "shield", "--pubkey-hash", pkh, "--reprove-bin", prover,
                       "--executables-dir", TMP, json_mode=False)
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and
              lines[0] == "Submitted shield of %d from pool %s (fee %d + producer_fee %d)"
              % (rest, pkh, fee, dal) and lines[1].startswith("Submission id: ") and
              lines[2].startswith("Operation hash: o") and
              lines[3].startswith("Operator submission id: sub-") and
              lines[-1] == "Run `tzel-wallet sync` after the rollup processes the message.",
              "human shield %r %r" % (lines, r.stderr[-300:]))
        check(sim.value(STATE + "deposits/balance/" + pkh) in (None, "") and
              sim.chain()["size"] == size1 + 2, "pool emptied")
        sync_ok(a, sim.url)
        doc = load(a)
        check(sorted(n["v"] for n in doc["notes"]) == sorted([150000, rest]) and
              not doc["pending_deposits"], "after the second shield: %r %r"
              % (doc["notes"], doc["pending_deposits"]))
        # no key index reached the prover twice
        used = []
        for name in os.listdir(logs):
            if name.startswith("args-"):
                args = [int(x, 16) for x in json.load(open(os.path.join(logs, name)))]
                check(len(args) == 171 and args[0] == 170, "run_shield arguments")
                used.append((args[10], args[16]))
        check(len(used) == 3 and len(set(used)) == 3, "shield keys %r" % used)


class ProvingService:
    """A proving service with the reference's API in front of the transparent prover:
    GET /v1/programs, POST /v1/jobs, GET /v1/jobs/<id>?wait=N[&if_state_changed_from=S]
    (a real long poll). `mode`: "ok"; "no-programs" (404 on /v1/programs); "fail" (the
    job fails with a message); "unknown" (the job's answers carry no status); "slow" (the
    job stays running for 2 s); "bad-bundle" (done, with a bundle the verifier would
    refuse: an unknown field)."""

    def __init__(self, mode="ok"):
        self.mode, self.jobs, self.posts, self.polls = mode, {}, [], []
        self.cond = threading.Condition()
        self.hashes = {}
        for c in ("run_transfer", "run_unshield", "run_shield"):
            out = subprocess.run([PROVER, os.path.join(TMP, c + ".executable.json"),
                                  "--program-hash"], capture_output=True, text=True, check=True)
            self.hashes[c] = out.stdout.strip()
        svc = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, code, doc):
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path, _, query = self.path.partition("?")
                q = dict(kv.partition("=")[::2] for kv in query.split("&") if kv)
                if path == "/v1/programs":
                    if svc.mode == "no-programs":
                        return self.answer(404, {"error": "no such route"})
                    return self.answer(200, {"programs": [
                        {"name": c, "program_hash": h} for c, h in svc.hashes.items()]})
                if path.startswith("/v1/jobs/"):
                    jid = path[len("/v1/jobs/"):]
                    svc.polls.append(query)
                    with svc.cond:
                        if jid not in svc.jobs:
                            return self.answer(404, {"error": "unknown job"})
                        since = q.get("if_state_changed_from")
                        svc.cond.wait_for(lambda: svc.jobs[jid]["status"] != since,
                                          timeout=min(float(q.get("wait", 0)), 30))
                        job = dict(svc.jobs[jid])
                    if svc.mode == "unknown":
                        job.pop("status")
                    return self.answer(200, job)
                self.answer(404, {})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                req = json.loads(self.rfile.read(n))
                svc.posts.append(req)
                name = [c for c, h in svc.hashes.items() if h == req["program_hash"]]
                if not name:
                    return self.answer(400, {"error": "unknown program"})
                jid = "job-%d" % len(svc.posts)
                with svc.cond:
                    svc.jobs[jid] = {"job_id": jid, "status": "queued"}
                threading.Thread(target=svc.prove, args=(jid, name[0], req["arguments"]),
                                 daemon=True).start()
                self.answer(202, {"job_id": jid, "status": "queued"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, jid, **kw):
        with self.cond:
            self.jobs[jid].update(kw)
            self.cond.notify_all()

    def prove(self, jid, circuit, arguments):
        self.set(jid, status="running")
        time.sleep(2 if self.mode == "slow" else 0.05)
        if self.mode == "fail":
            return self.set(jid, status="failed", error={"message": "prover out of memory"})
        if self.mode == "bad-bundle":
            return self.set(jid, status="done", proof_bundle={"proof_bytes": "00", "extra": 1})
        d = tempfile.mkdtemp(dir=TMP)
        args, out = os.path.join(d, "args.json"), os.path.join(d, "bundle.json")
        json.dump(arguments, open(args, "w"))
        r = subprocess.run([PROVER, os.path.join(TMP, circuit + ".executable.json"),
                            "--arguments-file", args, "--output", out], capture_output=True)
        if r.returncode:
            return self.set(jid, status="failed", error={"message": r.stderr.decode()[-200:]})
        self.set(jid, status="done", proof_bundle=json.load(open(out)))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_proving_service():
    """Spends proved through a proving service (`--proving-service-url`, before or after
    the command): the program hash from its /v1/programs, else from the local
    `--program-hash`; the job long-polled to done and the spend applied by the kernel; a
    failed job, a job that reports no status, a malformed bundle and an unreachable service
    each exit with a clear message and leave the one-time key burned."""
    fee_dal = 100000 + 1
    with start_sim(40, "service", pay=addr("a") + ":6:%d" % (1000 + fee_dal)) as sim:
        a = new_wallet("a", "service-a")
        sync_ok(a, sim.url)
        prof = use_profile(sim, a)
        args = ["unshield", "--recipient", prof["public_account"], "--amount", "1000"]

        def idx():
            return load(a)["wots_key_indices"].get("0", 0)

        for mode, before in [("slow", True), ("no-programs", False)]:
            svc = ProvingService(mode)
            try:
                k0, size0 = idx(), sim.chain()["size"]
                flags = ["--proving-service-url", svc.url]
                if mode == "no-programs":  # the local binary names the program hash
                    flags += ["--reprove-bin", PROVER, "--executables-dir", TMP]
                argv = flags + args if before else args + flags
                r = run_wallet(a, None, *argv)
                check(r.returncode == 0, "%s: %d %r" % (mode, r.returncode, r.stderr[-600:]))
                res = json.loads(r.stdout)["result"]
                ev = {e["phase"]: e["detail"] for e in phases(r.stderr)}
                check(ev["proving_started"] == {
                    "prover_url": svc.url, "prover_job_id": "job-1",
                    "program_hash": svc.hashes["run_unshield"]},
                    "%s: proving_started %r" % (mode, ev["proving_started"]))
                check(ev["proving_finished"]["duration_ms"] >= (1900 if mode == "slow" else 0),
                      "%s: proving_finished %r" % (mode, ev["proving_finished"]))
                check("Generating proof for run_unshield (%d args) via proving-service %s..."
                      % (len(svc.posts[0]["arguments"]), svc.url) in r.stderr,
                      "%s: announce line %r" % (mode, r.stderr[-600:]))
                check(("falling back to local reprove --program-hash" in r.stderr) ==
                      (mode == "no-programs"), "%s: fallback line" % mode)
                check(len(svc.posts) == 1 and svc.posts[0]["arguments"][0] ==
                      hex(len(svc.posts[0]["arguments"]) - 1), "%s: the job's arguments" % mode)
                if mode == "slow":  # the long poll carried the state last seen
                    check(any("if_state_changed_from=running" in q or
                              "if_state_changed_from=queued" in q for q in svc.polls) and
                          len(svc.polls) <= 4, "long polls %r" % svc.polls)
                check(res["submission"]["status"] == "submitted_to_l1" and
                      sim.chain()["size"] == size0 + 1 and idx() == k0 + 1,
                      "%s: the spend landed: %r" % (mode, res))
            finally:
                svc.close()
        # failures: each burns the key, nothing pending, the reference's message
        for mode, code, words in [
                ("fail", 1, "proving-service reported failure: prover out of memory"),
                ("unknown", 1, "stuck reporting status=unknown for 3 consecutive polls"),
                ("bad-bundle", 1, "the proving service's bundle"),
                ("down", 5, "proving-service submit failed")]:
            svc = ProvingService("ok" if mode == "down" else mode)
            url = svc.url
            if mode == "down":
                svc.close()
            try:
                k0, pending = idx(), load(a)["pending_spends"]
                # (the local program hash, as the program list is unreachable too)
                r = run_wallet(a, None, "--proving-service-url", url, "--reprove-bin", PROVER,
                               "--executables-dir", TMP, *args)
                check(r.returncode == code and words in r.stderr and
                      "the one-time keys it was given are spent" in r.stderr and
                      idx() == k0 + 1 and load(a)["pending_spends"] == pending,
                      "%s: %d %r" % (mode, r.returncode, r.stderr[-400:]))
            finally:
                if mode != "down":
                    svc.close()


def test_more_than_seven_notes():
    """A spend that needs 8 notes is refused before any key is burned."""
    with start_sim(60, "eight", pay=addr("a") + ":9:100000") as sim:
        a = new_wallet("a", "eight-a")
        sync_ok(a, sim.url)
        use_profile(sim, a)
        before = open(a, "rb").read()
        for kind, extra in [("send", ["--to", addr("b")]),
                            ("unshield", ["--recipient", sim.get("/sim/profile")["public_account"]])]:
            r = spend(a, kind, "--amount", "650000", *extra)
            check(r.returncode == 3 and "more than 7 notes" in r.stderr and
                  open(a, "rb").read() == before, "%s: %d %r" % (kind, r.returncode,
                                                                 r.stderr[-300:]))


def logging_prover(log_dir, sleep=0):
    """A prover script that keeps a copy of every arguments file, optionally sleeps,
    then runs the transparent prover."""
    path = os.path.join(log_dir, "prover.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\ncp \"$3\" \"%s/args-$$-$(date +%%s%%N).json\"\n%s"
                "exec \"%s\" \"$@\"\n" % (log_dir, "sleep %d\n" % sleep if sleep else "", PROVER))
    os.chmod(path, 0o755)
    return path


def signed_keys(log_dir):
    """(auth_root, key_idx) of every input of every arguments file the prover got."""
    keys = []
    for name in sorted(os.listdir(log_dir)):
        if not name.startswith("args-"):
            continue
        args = [int(x, 16) for x in json.load(open(os.path.join(log_dir, name)))]
        n = args[1]
        first = 5 if len(args) == 5 + 206 * n + 24 else 7  # transfer / unshield
        for k in range(n):
            blk = args[first + 9 * k: first + 9 * k + 9]
            keys.append((blk[2], blk[4]))
    return keys


def test_kills():
    """SIGKILL at each step between key reservation and submission (keys reserved in
    memory, saved, during proving, proof in hand, submitted), then retry: the wallet always
    loads, the lock is recovered, and no one-time key index is ever given to the prover
    twice, across every attempt of the test. A spend that reached the chain before the kill
    is refused by the kernel on retry (nullifier spent), and after a sync the next retry
    spends other notes. (Unshields without change: the steps are those of send, without an
    auth tree to derive at each attempt.)"""
    fee_dal = 100000 + 1
    with start_sim(80, "kills", pay=addr("a") + ":6:%d" % (1000 + fee_dal)) as sim:
        a = new_wallet("a", "kills-a")
        sync_ok(a, sim.url)
        prof = use_profile(sim, a)
        check(prof["dal_fee"] == 1, "the simulator's DAL fee")
        logs = tzlib.new_dir(TMP, "kill-logs")
        prover = logging_prover(logs)
        slow = logging_prover(tzlib.new_dir(logs, "slow"), sleep=30)
        args = ["--recipient", prof["public_account"], "--amount", "1000"]
        for point in ["reserved", "saved", "proving", "proved", "submitted"]:
            idx0 = load(a)["wots_key_indices"].get("0", 0)
            if point == "proving":
                p = tzlib.spawn_wallet("unshield", *args, "--reprove-bin", slow,
                                       "--executables-dir", TMP, wallet=a, json_mode=True)
                tzlib.wait_for(lambda: len(os.listdir(os.path.join(logs, "slow"))) > 1, 60,
                               "the prover to start")
                p.send_signal(signal.SIGKILL)
                code = p.wait(timeout=30)
                p.stdout.close()  # the orphaned prover still holds the pipes' other ends
                p.stderr.close()
            else:
                r = spend(a, "unshield", *args, prover=prover, env={"TZEL_CRASH_AT": point})
                code = r.returncode
            check(code == -signal.SIGKILL, "%s: exit %r" % (point, code))
            doc = load(a)  # parses
            idx = doc["wots_key_indices"].get("0", 0)
            check(idx == (idx0 if point == "reserved" else idx0 + 1),
                  "%s: key index %d -> %d" % (point, idx0, idx))
            r = run_wallet(a, None, "balance")
            check(r.returncode == 0, "%s: the wallet loads and the lock is recovered: %r"
                  % (point, r.stderr[-300:]))
        # the kill after submission: the chain spent the note, the wallet did not record it
        r = spend(a, "unshield", *args, prover=prover)
        check(r.returncode == 1 and "already spent" in r.stderr and
              "failed" in r.stderr, "retry of a landed spend: %d %r" % (r.returncode,
                                                                       r.stderr[-400:]))
        check(not load(a)["pending_spends"], "a failed submission is not pending")
        sync_ok(a, sim.url)
        check(len(load(a)["notes"]) == 5, "the landed spend's note is gone: %r"
              % sorted(n["v"] for n in load(a)["notes"]))
        r = spend(a, "unshield", *args, prover=prover)
        check(r.returncode == 0, "final retry: %d %r" % (r.returncode, r.stderr[-400:]))
        # a prover that fails: a clear error, the key stays burned
        idx, pending = load(a)["wots_key_indices"]["0"], load(a)["pending_spends"]
        r = spend(a, "unshield", *args, prover="false")
        check(r.returncode == 1 and "the one-time keys it was given are spent" in r.stderr and
              load(a)["wots_key_indices"]["0"] == idx + 1 and
              load(a)["pending_spends"] == pending,
              "failing prover: %d %r" % (r.returncode, r.stderr[-300:]))
        # a wrong bearer token: refused by the operator (exit 5), the key burned, nothing
        # pending
        use_profile(sim, a, operator_bearer_token="wrong")
        r = spend(a, "unshield", *args, prover=prover)
        check(r.returncode == 5 and "401" in r.stderr and
              load(a)["wots_key_indices"]["0"] == idx + 2 and
              load(a)["pending_spends"] == pending,
              "wrong token: %d %r" % (r.returncode, r.stderr[-300:]))
        use_profile(sim, a)
        # a prover that writes a malformed bundle: a clear error, the keys stay burned
        bad = os.path.join(logs, "bad-prover.sh")
        with open(bad, "w") as f:
            f.write('#!/bin/sh\nprintf \'{"proof_bytes": "00", "extra": 1}\' > "$5"\n')
        os.chmod(bad, 0o755)
        idx, pending = load(a)["wots_key_indices"]["0"], load(a)["pending_spends"]
        r = spend(a, "unshield", *args, prover=bad)
        check(r.returncode == 1 and "the prover's bundle" in r.stderr and
              load(a)["wots_key_indices"]["0"] == idx + 1 and
              load(a)["pending_spends"] == pending,
              "malformed bundle: %d %r" % (r.returncode, r.stderr[-300:]))
        keys = signed_keys(logs) + signed_keys(os.path.join(logs, "slow"))
        # six attempts reached a logging prover: during proving, proof in hand, submitted,
        # the retry the kernel refused, the one after the sync, the wrong token (the kill
        # before the save signed in memory only: its index went to the next attempt, never
        # out; the failing and malformed provers log nothing)
        check(len(keys) == 6 and len(set(keys)) == len(keys),
              "a one-time key was given to the prover twice: %r" % sorted(keys))
        floor = open(a + ".xmss-floor").read()
        check(str(load(a)["wots_key_indices"]["0"]) in floor, "floor %r" % floor)


class Recorder(http.server.BaseHTTPRequestHandler):
    """An operator in front of the simulator's: forwards each request and keeps the
    bodies POSTed."""
    upstream, bodies = None, []

    def forward(self, body=None):
        req = urllib.request.Request(self.upstream + self.path, data=body, method=self.command,
                                     headers={k: v for k, v in self.headers.items()
                                              if k.lower() in ("authorization", "content-type")})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                status, data = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        self.send_response(status)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.forward()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Recorder.bodies.append(body)
        self.forward(body)

    def log_message(self, *a):
        pass


def test_double_submit():
    """The same kernel message submitted twice: the second is refused by the kernel
    (nullifier already spent) and changes nothing on the chain."""
    with start_sim(60, "double", pay=addr("a") + ":2:101001") as sim:
        a = new_wallet("a", "double-a")
        sync_ok(a, sim.url)
        Recorder.upstream, Recorder.bodies = sim.url, []
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            prof = use_profile(sim, a, operator_url="http://127.0.0.1:%d" % srv.server_port)
            r = spend(a, "unshield", "--recipient", prof["public_account"], "--amount", "1000")
            check(r.returncode == 0 and len(Recorder.bodies) == 1,
                  "send through the recorder: %d %r" % (r.returncode, r.stderr[-400:]))
            chain = sim.chain()
            again = tzlib.http_json(sim.url + "/v1/rollup/submissions", "POST",
                                    json.loads(Recorder.bodies[0]),
                                    headers={"Authorization": "Bearer " +
                                             prof["operator_bearer_token"]})
            sub = again["submission"]
            check(sub["status"] == "failed" and "already spent" in sub["detail"] and
                  sim.chain()["size"] == chain["size"] and sim.chain()["root"] == chain["root"],
                  "second submission %r" % sub)
        finally:
            srv.shutdown()


def test_dal_followed():
    """A submission the operator parks for DAL publication is followed until it reaches
    L1 (status reads every 2 s), with the reference's phase events; the result says the
    final status."""
    with start_sim(60, "dal", pay=addr("a") + ":2:101001",
                   extra=("--operator-dal-polls", "1")) as sim:
        a = new_wallet("a", "dal-a")
        sync_ok(a, sim.url)
        prof = use_profile(sim, a)
        t = time.monotonic()
        r = spend(a, "unshield", "--recipient", prof["public_account"], "--amount", "1000")
        took = time.monotonic() - t
        check(r.returncode == 0, "send: %d %r" % (r.returncode, r.stderr[-600:]))
        res = json.loads(r.stdout)["result"]
        names = [e["phase"] for e in phases(r.stderr)]
        done = [e for e in phases(r.stderr) if e["phase"] == "operator_done"]
        check(res["submission"]["status"] == "submitted_to_l1" and
              res["submission"]["transport"] == "dal" and "Status: submitted_to_l1 via dal" in
              res["submission_output"] and
              "commitment_included" in names and done and done[0]["detail"]["attested"] is True
              and took >= 4, "followed: %.1fs %r %r" % (took, names, res["submission"]))
        check(load(a)["pending_spends"], "the followed spend is pending")


def daemon_api(url, token, method, path, body=None):
    return tzlib.http_json(url + path, method, body, 30,
                           headers={"Authorization": "Bearer " + token})


def test_daemon_spend_preempts_sync():
    """tzel-walletd runs a long sync; an unshield queued through POST /api/jobs starts within
    a second (the sync yields the wallet at its next leaf), is proved (by the prover the
    daemon was started with) and submitted; the sync then resumes, finishes, and confirms
    the spend."""
    fee_dal = 100000 + 1
    with start_sim(60, "dsend", pay=addr("a") + ":2:%d" % (1000 + fee_dal),
                   latency_ms=20) as sim:
        a = new_wallet("a", "dsend-a")
        sync_ok(a, sim.url)
        prof = use_profile(sim, a)
        sim.post("append", {"count": 4000})  # a long sync ahead
        env = dict(os.environ, TZEL_ROLLUP_NODE_URL=sim.url, TZEL_SYNC_CHECKPOINT_EVERY="100")
        p, url = tzlib.spawn_listening(
            [os.path.join(tzlib.BIN, "tzel-walletd"), "--wallet", a, "--listen",
             "127.0.0.1:0", "--interval-secs", "1", "--reprove-bin", PROVER,
             "--executables-dir", TMP],
            "tzel-walletd listening on http://127.0.0.1:", "daemon", 20, [], env)
        try:
            token = open(a + ".walletd-token").read().strip()
            tzlib.wait_for(lambda: (lambda st: st["sync_state"] == "syncing" and
                                    (st["cursor"] or 0) > 300)(
                daemon_api(url, token, "GET", "/api/status")), 120, "the sync to run")
            job = daemon_api(url, token, "POST", "/api/jobs", {"args": [
                "unshield", "--amount", "1000", "--recipient", prof["public_account"]]})["job"]
            j = tzlib.wait_for(lambda: (lambda j: j if j["phase"] in ("done", "failed") else
                                        None)(daemon_api(url, token, "GET", "/api/jobs/%d" % job)),
                               120, "the unshield job", step=0.2)
            check(j["phase"] == "done" and j["result"]["submission"]["status"] ==
                  "submitted_to_l1", "job %r" % j)
            check(j["started_at"] - j["queued_at"] < 1000, "the spend waited %d ms for the "
                  "wallet" % (j["started_at"] - j["queued_at"]))
            tzlib.wait_for(lambda: daemon_api(url, token, "GET", "/api/status")["sync_state"] ==
                           "synced" and not load(a)["pending_spends"], 240,
                           "the sync to finish and confirm the spend")
            check(load(a)["scanned"] == sim.chain()["size"] and len(load(a)["notes"]) == 1,
                  "after the sync: %r" % sorted(n["v"] for n in load(a)["notes"]))
        finally:
            tzlib.stop_process(p)


TESTS = [
    ("send", test_send),
    ("unshield", test_unshield),
    ("shield", test_shield),
    ("service", test_proving_service),
    ("eight", test_more_than_seven_notes),
    ("kills", test_kills),
    ("double", test_double_submit),
    ("dal", test_dal_followed),
    ("daemon", test_daemon_spend_preempts_sync),
]


def main():
    return tzlib.run_tests(TESTS, TMP, make_fixture)


if __name__ == "__main__":
    sys.exit(main())
