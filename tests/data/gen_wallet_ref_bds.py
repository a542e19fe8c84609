# Generates tests/data/wallet_ref_bds.json: a wallet shaped like the
# reference's serde_json::to_string_pretty output (random felts).
import json, random
random.seed(20261125)
def felt():
    b = bytearray(random.getrandbits(8) for _ in range(32)); b[31] &= 7
    return b.hex()
def bds(next_index):
    return {
        "next_index": next_index,
        "auth_path": [felt() for _ in range(16)],
        "keep": [{"present": i % 3 == 0, "value": felt() if i % 3 == 0 else "0"*64} for i in range(16)],
        "treehash": [{"target_height": h, "start_idx": 0, "next_idx": 3 << h, "initialized": False,
                      "finished": True, "node": {"present": True, "value": felt()},
                      "node_start_idx": 3 << h, "node_height": h, "stack": []} for h in range(14)],
        "retain": [{"nodes": [felt()] if h == 14 else [], "next": 0} for h in range(16)],
    }
addrs = []
for j in range(2):
    addrs.append({"index": j, "d_j": felt(), "auth_root": felt(), "auth_pub_seed": felt(),
                  "nk_tag": felt(), "bds": bds(2 if j == 0 else 0)})
notes = [{"nk_spend": felt(), "nk_tag": addrs[j]["nk_tag"], "auth_root": addrs[j]["auth_root"],
          "d_j": addrs[j]["d_j"], "v": v, "rseed": felt(), "cm": felt(), "index": idx, "addr_index": j}
         for j, v, idx in [(0, 1000000, 3), (1, 250, 17)]]
w = {
    "master_sk": felt(),
    "addresses": addrs,
    "addr_counter": 2,
    "notes": notes,
    "scanned": 42,
    "wots_key_indices": {"1": 0, "0": 2},
    "pending_spends": [{"nullifiers": [felt(), felt()], "description": "send 500 to bob",
                        "operation_hash": "opXyz123"},
                       {"nullifiers": [felt()], "description": "unshield 10"}],
    "pending_deposits": [{"pubkey_hash": felt(), "blind": felt(), "address_index": 1,
                          "auth_domain": felt(), "amount": 5000, "operation_hash": None,
                          "shielded_cm": felt()},
                         {"pubkey_hash": felt(), "blind": felt(), "address_index": 0,
                          "auth_domain": felt(), "amount": 70, "operation_hash": "ooABC"}],
    "deposit_nonce": 2,
}
print(json.dumps(w, indent=2), end="")
