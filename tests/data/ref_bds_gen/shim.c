/* The hashes the reference harness (main.rs) calls, from libtzcore. */
#include <string.h>
#include "core/keys.h"
#include "core/xmss.h"
void gen_keys(const unsigned char sk[32], unsigned j, unsigned char ask[32], unsigned char ps[32])
{
    tz_felt m; memcpy(m.b, sk, 32);
    tz_keys k; tz_keys_derive(&k, &m);
    tz_addr_keys a; tz_addr_keys_derive(&a, &k, j);
    memcpy(ask, a.ask_j.b, 32); memcpy(ps, a.auth_pub_seed.b, 32);
}
/* the reference's auth_leaf_hash_with_pub_seed */
void gen_leaf(unsigned char out[32], const unsigned char ask[32], const unsigned char ps[32], unsigned idx)
{
    tz_felt o, a, p; memcpy(a.b, ask, 32); memcpy(p.b, ps, 32);
    tz_xmss_leaf(&o, &a, &p, idx); memcpy(out, o.b, 32);
}
/* the reference's xmss_tree_node_hash(pub_seed, level, node_idx, left, right):
 * ADRS(tree, 0, level, node_idx, 0) */
void gen_node(unsigned char out[32], const unsigned char ps[32], unsigned level, unsigned node_idx,
              const unsigned char l[32], const unsigned char r[32])
{
    tz_felt o, p, L, R; memcpy(p.b, ps, 32); memcpy(L.b, l, 32); memcpy(R.b, r, 32);
    tz_xmss_node(&o, &p, level + 1, node_idx << (level + 1), &L, &R); memcpy(out, o.b, 32);
}
