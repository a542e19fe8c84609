/* Commitment tree: protocol_v1.json "merkle" vectors, a naive reference
 * tree, the kernel-shaped frontier (append, root, save/restore, stale
 * slots) and the batch root. */
#include <jansson.h>
#include <sodium.h>

#include "core/felt.h"
#include "core/hash.h"
#include "core/merkle.h"
#include "tz_test_util.h"

/* Naive root of a depth-d tree (d <= 10) built level by level in full. */
static void naive_root(tz_felt *root, const tz_felt *leaves, size_t n, unsigned d)
{
    static tz_felt level[1 << 10];
    size_t w = (size_t)1 << d;
    memset(level, 0, w * sizeof level[0]);
    memcpy(level, leaves, n * sizeof leaves[0]);
    for (; w > 1; w /= 2)
        for (size_t i = 0; i < w / 2; i++) {
            tz_felt buf[2] = {level[2 * i], level[2 * i + 1]};
            tz_hash_p(&level[i], TZ_P_MRKL, buf, sizeof buf);
        }
    *root = level[0];
}

static void felt_of(tz_felt *f, uint64_t v) { tz_felt_from_u64(f, v * 0x9e3779b97f4a7c15ull + 1); }

/* tz_frontier_push then tz_frontier_settle leaves the same frontier as
 * tz_frontier_append (the kernel's), and the same root at every size in
 * between; pushes may resume on a settled frontier. */
static void check_push_settle(void)
{
    static const uint64_t starts[] = {0, 1, 2, 3, 7, 8, 1023, 1024, 65535, (1ull << 40) - 3};
    size_t same = 0, roots = 0, total = 0;
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        tz_frontier a, b;
        tz_frontier_init(&a);
        /* a frontier at `start` leaves: random complete subtrees */
        a.size = starts[s];
        for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
            felt_of(&a.branch[l], starts[s] * 64 + l);
        b = a;
        for (uint64_t i = 0; i < 300; i++) {
            tz_felt cm, ra, rb;
            felt_of(&cm, i * 7 + s);
            CHECK(tz_frontier_append(&a, &cm, &ra) == TZ_OK);
            CHECK(tz_frontier_push(&b, &cm) == TZ_OK);
            CHECK(tz_frontier_root(&b, &rb) == TZ_OK);
            roots += tz_felt_eq(&ra, &rb);
            if (i % 37 == 5 || i == 299) {
                tz_frontier_settle(&b);
                tz_frontier_settle(&b); /* idempotent */
                same += a.size == b.size && memcmp(a.branch, b.branch, sizeof a.branch) == 0;
                total++;
            }
        }
    }
    printf("push + settle == append: %zu/%zu frontiers, %zu/%zu roots\n", same, total, roots,
           sizeof starts / sizeof starts[0] * 300);
    CHECK(same == total && total > 0);
    CHECK(roots == sizeof starts / sizeof starts[0] * 300);
    /* a full tree: push refuses, as append does */
    tz_frontier f;
    tz_frontier_init(&f);
    f.size = TZ_TREE_CAPACITY;
    tz_felt cm;
    felt_of(&cm, 1);
    CHECK(tz_frontier_push(&f, &cm) == TZ_EINVAL && f.size == TZ_TREE_CAPACITY);
}

int main(void)
{
    check_push_settle();
    json_t *root = tz_test_vectors("protocol_v1.json");
    if (!root)
        return tz_test_done("merkle");

    /* zero hashes */
    const tz_felt *z0 = tz_merkle_zero(0), *z1 = tz_merkle_zero(1);
    tz_felt t;
    CHECK(tz_felt_is_zero(z0));
    tz_merkle_node(&t, z0, z0);
    CHECK(tz_felt_eq(&t, z1));
    CHECK(tz_merkle_zero(48) != NULL && tz_merkle_zero(49) == NULL);

    /* vectors */
    json_t *arr = json_object_get(root, "merkle"), *e;
    size_t i, nv = 0;
    json_array_foreach(arr, i, e) {
        unsigned depth = (unsigned)json_integer_value(json_object_get(e, "depth"));
        json_t *jl = json_object_get(e, "leaves");
        size_t n = json_array_size(jl);
        tz_felt leaves[64], want, got;
        CHECK(n <= 64);
        for (size_t k = 0; k < n && k < 64; k++)
            CHECK(tz_felt_from_hex(&leaves[k], json_string_value(json_array_get(jl, k))) == TZ_OK);
        CHECK(tz_felt_from_hex(&want, json_string_value(json_object_get(e, "root"))) == TZ_OK);
        CHECK(tz_merkle_root_depth(leaves, n, depth, &got) == TZ_OK);
        CHECK_MSG(tz_felt_eq(&got, &want), "merkle[%zu] depth %u, %zu leaves", i, depth, n);
        nv++;
    }
    CHECK(nv == json_array_size(arr) && nv > 0);
    printf("merkle vectors checked: %zu\n", nv);

    /* batch root vs naive, every size of a depth-5 tree */
    tz_felt leaves[1100];
    for (size_t k = 0; k < 1100; k++)
        felt_of(&leaves[k], k);
    size_t nn = 0;
    for (size_t n = 0; n <= 32; n++) {
        tz_felt a, b;
        naive_root(&a, leaves, n, 5);
        CHECK(tz_merkle_root_depth(leaves, n, 5, &b) == TZ_OK);
        CHECK_MSG(tz_felt_eq(&a, &b), "depth 5, n=%zu", n);
        nn++;
    }
    printf("batch roots vs naive tree: %zu sizes\n", nn);
    tz_felt r;
    CHECK(tz_merkle_root_depth(leaves, 33, 5, &r) == TZ_EINVAL);
    CHECK(tz_merkle_root_depth(leaves, 1, 0, &r) == TZ_EINVAL);
    CHECK(tz_merkle_root_depth(leaves, 1, 49, &r) == TZ_EINVAL);
    CHECK(tz_merkle_root_of(NULL, 3, &r) == TZ_EINVAL);

    /* frontier: root after every append equals the batch root of the prefix */
    tz_frontier f, saved;
    tz_frontier_init(&f);
    CHECK(tz_frontier_root(&f, &r) == TZ_OK && tz_felt_eq(&r, tz_merkle_zero(48)));
    CHECK(tz_merkle_root_of(leaves, 0, &t) == TZ_OK && tz_felt_eq(&t, &r));
    size_t mism = 0, checked = 0;
    const size_t N = tz_test_sanitized() ? 300 : 1100;
    for (size_t k = 0; k < N; k++) {
        tz_felt ar, fr, br;
        CHECK(tz_frontier_append(&f, &leaves[k], &ar) == TZ_OK);
        CHECK(tz_frontier_root(&f, &fr) == TZ_OK);
        if (!tz_felt_eq(&ar, &fr))
            mism++;
        if (k < 70 || k % 97 == 0 || k == N - 1) {
            CHECK(tz_merkle_root_of(leaves, k + 1, &br) == TZ_OK);
            if (!tz_felt_eq(&br, &fr))
                mism++;
            checked++;
        }
        if (k == N / 2)
            saved = f; /* save after N/2 + 1 leaves */
    }
    CHECK(f.size == N);
    CHECK_MSG(mism == 0, "%zu frontier roots differ", mism);
    printf("frontier: %zu appends, %zu roots checked against the batch root\n", N, checked);

    /* restore (plain copy) and continue: same final root */
    tz_felt r1, r2;
    CHECK(tz_frontier_root(&f, &r1) == TZ_OK);
    CHECK(saved.size == N / 2 + 1);
    for (size_t k = N / 2 + 1; k < N; k++)
        CHECK(tz_frontier_append(&saved, &leaves[k], NULL) == TZ_OK);
    CHECK(tz_frontier_root(&saved, &r2) == TZ_OK);
    CHECK(tz_felt_eq(&r1, &r2));
    CHECK(memcmp(&saved, &f, sizeof f) == 0);

    /* kernel semantics: appending leaf 0 writes every level (the node of the
     * leaf's path hashed with zeros), so the chain has all 48 slots */
    tz_frontier k0;
    tz_frontier_init(&k0);
    CHECK(tz_frontier_append(&k0, &leaves[0], NULL) == TZ_OK);
    tz_felt cur = leaves[0];
    int ok = 1;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++) {
        ok &= tz_felt_eq(&k0.branch[l], &cur);
        tz_merkle_node(&cur, &cur, tz_merkle_zero(l));
    }
    CHECK(ok);
    /* after leaves 0..2: branch[0] = leaf 2, branch[1] = node(leaf0, leaf1) */
    CHECK(tz_frontier_append(&k0, &leaves[1], NULL) == TZ_OK);
    CHECK(tz_frontier_append(&k0, &leaves[2], NULL) == TZ_OK);
    tz_merkle_node(&t, &leaves[0], &leaves[1]);
    CHECK(tz_felt_eq(&k0.branch[0], &leaves[2]) && tz_felt_eq(&k0.branch[1], &t));

    /* a frontier taken from the chain may carry stale values (or zeros) in
     * the slots whose size bit is 0: they never change a root */
    tz_frontier g, h;
    tz_frontier_init(&h);
    for (size_t k = 0; k < 600; k++)
        CHECK(tz_frontier_append(&h, &leaves[k], NULL) == TZ_OK);
    g = h;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        if (!((g.size >> l) & 1))
            randombytes_buf(g.branch[l].b, TZ_FELT_BYTES);
    tz_felt rg, rh;
    CHECK(tz_frontier_root(&g, &rg) == TZ_OK && tz_frontier_root(&h, &rh) == TZ_OK);
    CHECK(tz_felt_eq(&rg, &rh));
    for (size_t k = 600; k < 777; k++) {
        CHECK(tz_frontier_append(&g, &leaves[k], &rg) == TZ_OK);
        CHECK(tz_frontier_append(&h, &leaves[k], &rh) == TZ_OK);
    }
    CHECK(tz_felt_eq(&rg, &rh));
    CHECK(tz_merkle_root_of(leaves, 777, &t) == TZ_OK && tz_felt_eq(&t, &rg));
    /* but a wrong live slot does change it */
    g = h;
    g.branch[0].b[0] ^= 1; /* size 777 is odd: level 0 is live */
    CHECK(tz_frontier_root(&g, &rg) == TZ_OK && !tz_felt_eq(&rg, &rh));

    /* full tree */
    tz_frontier full;
    tz_frontier_init(&full);
    full.size = TZ_TREE_CAPACITY;
    tz_frontier before = full;
    CHECK(tz_frontier_append(&full, &leaves[0], NULL) == TZ_EINVAL);
    CHECK(memcmp(&before, &full, sizeof full) == 0);
    CHECK(tz_frontier_root(&full, &r) == TZ_EINVAL);
    full.size = TZ_TREE_CAPACITY - 1;
    CHECK(tz_frontier_append(&full, &leaves[0], &r) == TZ_OK && full.size == TZ_TREE_CAPACITY);

    json_decref(root);
    return tz_test_done("merkle");
}
