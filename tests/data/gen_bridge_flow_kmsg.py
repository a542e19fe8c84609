# Generates tests/data/bridge_flow_kmsg.json from tests/data/verified_bridge_flow.json.
#
# verified_bridge_flow.json is the reference's test fixture
# tezos/rollup-kernel/testdata/verified_bridge_flow.json (trilitech/tzel at
# 7698333, git blob 234baec6d7e6123eb4dafe436337ab54d104c690), copied
# unchanged: a shield, a transfer and an unshield with real STARK proofs.
# It holds the requests field by field, not the raw kernel messages (the
# reference prints those with its `verified_bridge_fixture_message
# shield-raw|transfer-raw|unshield-raw` tool). This script encodes the three
# messages independently of the C code, following the reference's
# tezos_data_encoding structs (core/src/kernel_wire.rs: an envelope of
# u16le version and u8 tag; `dynamic` = u32 big-endian length + bytes;
# Option = 0x00 | 0xff + value), and records each message's length,
# BLAKE2s-256 and first bytes for tests/unit/test_kmsg.c.
import hashlib, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
fx = json.load(open(os.path.join(HERE, "verified_bridge_flow.json")))

def dyn(b): return struct.pack(">I", len(b)) + b
def u64(v): return struct.pack("<Q", v)
def felt(h):
    b = bytes.fromhex(h); assert len(b) == 32; return b
def note(e):  # WireEncryptedNote: fixed-size fields, tag u16le
    b = (bytes.fromhex(e["ct_d"]) + struct.pack("<H", e["tag"]) + bytes.fromhex(e["ct_v"])
         + bytes.fromhex(e["nonce"]) + bytes.fromhex(e["encrypted_data"])
         + bytes.fromhex(e["outgoing_ct"]))
    assert len(b) == 3455 and e["tag"] < 1024; return b
def proof(p):  # WireEncodedProof { dynamic bytes = u32be len, bytes, u32be count, felts }
    pb = bytes.fromhex(p["proof_bytes"]); pre = p["output_preimage"]
    return dyn(struct.pack(">I", len(pb)) + pb + struct.pack(">I", len(pre))
               + b"".join(felt(f) for f in pre))
def enc(e): return dyn(note(e))                        # WireEncodedNote
def nfs(l): return dyn(dyn(b"".join(felt(f) for f in l)))  # WireEncodedFeltList{WireFeltList}
def envelope(tag, body): return struct.pack("<HB", 17, tag) + body

s = fx["shield"]
shield = envelope(2, felt(s["pubkey_hash"]) + u64(s["fee"]) + u64(s["v"]) + u64(s["producer_fee"])
                  + proof(s["proof"]) + felt(s["client_cm"]) + note(s["client_enc"])
                  + felt(s["producer_cm"]) + note(s["producer_enc"]))
t = fx["transfer"]
transfer = envelope(3, dyn(felt(t["root"]) + nfs(t["nullifiers"]) + u64(t["fee"])
                           + felt(t["cm_1"]) + felt(t["cm_2"]) + felt(t["cm_3"]) + proof(t["proof"])
                           + enc(t["enc_1"]) + enc(t["enc_2"]) + enc(t["enc_3"])))
u = fx["unshield"]
rcp = u["recipient"].encode()
unshield = envelope(4, dyn(felt(u["root"]) + nfs(u["nullifiers"]) + u64(u["v_pub"]) + u64(u["fee"])
                           + struct.pack(">I", len(rcp)) + rcp + felt(u["cm_change"])
                           + proof(u["proof"])
                           + (b"\x00" if u["enc_change"] is None else b"\xff" + enc(u["enc_change"]))
                           + felt(u["cm_fee"]) + enc(u["enc_fee"])))

out = {"origin": "gen_bridge_flow_kmsg.py from verified_bridge_flow.json"}
for name, m in (("shield", shield), ("transfer", transfer), ("unshield", unshield)):
    out[name] = {"len": len(m), "blake2s": hashlib.blake2s(m, digest_size=32).hexdigest(),
                 "head_hex": m[:96].hex()}
with open(os.path.join(HERE, "bridge_flow_kmsg.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
