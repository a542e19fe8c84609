# Generates tests/data/ref_init_receive.json: the bytes the reference
# tzel-wallet writes after `init` then one `receive` (serde_json pretty,
# struct field order, no trailing newline). The felts are random (not a
# real derivation); the BDS object has the exact shape of a fresh state:
# next_index 0, 16 auth_path felts, 16 empty keep slots, 14 finished
# treehash instances seeded with node 3 of their height, 16 retain levels
# with one node at level 14.
import json, random
random.seed(4386)
def felt():
    b = bytearray(random.getrandbits(8) for _ in range(32)); b[31] &= 7
    return b.hex()
bds = {
    "next_index": 0,
    "auth_path": [felt() for _ in range(16)],
    "keep": [{"present": False, "value": "0" * 64} for _ in range(16)],
    "treehash": [{"target_height": h, "start_idx": 0, "next_idx": 3 << h, "initialized": False,
                  "finished": True, "node": {"present": True, "value": felt()},
                  "node_start_idx": 3 << h, "node_height": h, "stack": []} for h in range(14)],
    "retain": [{"nodes": [felt()] if h == 14 else [], "next": 0} for h in range(16)],
}
w = {
    "master_sk": felt(),
    "addresses": [{"index": 0, "d_j": felt(), "auth_root": felt(), "auth_pub_seed": felt(),
                   "nk_tag": felt(), "bds": bds}],
    "addr_counter": 1,
    "notes": [],
    "scanned": 0,
    "wots_key_indices": {},
    "pending_spends": [],
    "pending_deposits": [],
    "deposit_nonce": 0,
}
print(json.dumps(w, indent=2), end="")
