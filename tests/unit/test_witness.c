/* Incremental witnesses against the tree computed from scratch: for leaves
 * at many positions (even, odd, subtree edges, after a frontier taken from
 * the chain), the path after every later append folds to the root of all
 * leaves so far, and equals the path computed naively. */
#include <stdlib.h>

#include "core/merkle.h"
#include "core/witness.h"
#include "tz_test.h"

#define N 300

static tz_felt leaves[N];

/* The naive sibling of `pos` at level l in the tree of the first n leaves:
 * the root of the subtree of height l next to pos's ancestor. */
static void naive_sibling(tz_felt *out, uint64_t pos, unsigned l, uint64_t n)
{
    uint64_t start = ((pos >> l) ^ 1) << l, width = UINT64_C(1) << l;
    if (start >= n) {
        *out = *tz_merkle_zero(l);
        return;
    }
    uint64_t have = n - start < width ? n - start : width;
    if (l == 0) {
        *out = leaves[start];
        return;
    }
    CHECK(tz_merkle_root_depth(&leaves[start], (size_t)have, l, out) == TZ_OK);
}

static void test_against_naive(void)
{
    for (size_t i = 0; i < N; i++) {
        for (size_t k = 0; k < 32; k++)
            leaves[i].b[k] = (uint8_t)(i * 31 + k * 7 + 1);
        leaves[i].b[31] &= 7;
    }
    static const uint64_t positions[] = {0, 1, 2, 3, 7, 8, 63, 64, 100, 127, 128, 255, 256, 299};
    int bad_paths = 0, bad_roots = 0, checked = 0;
    for (size_t pi = 0; pi < sizeof positions / sizeof positions[0]; pi++) {
        uint64_t p = positions[pi];
        tz_frontier f;
        tz_frontier_init(&f);
        for (uint64_t i = 0; i < p; i++)
            CHECK(tz_frontier_append(&f, &leaves[i], NULL) == TZ_OK);
        tz_witness w;
        CHECK(tz_witness_start(&w, &f, &leaves[p]) == TZ_OK);
        for (uint64_t n = p + 1; n <= N; n++) {
            if (n > p + 1)
                CHECK(tz_witness_append(&w, &leaves[n - 1]) == TZ_OK);
            tz_felt path[TZ_TREE_DEPTH], root, want;
            tz_witness_path(&w, path);
            for (unsigned l = 0; l < TZ_TREE_DEPTH; l++) {
                tz_felt s;
                naive_sibling(&s, p, l, n);
                bad_paths += !tz_felt_eq(&s, &path[l]);
            }
            tz_witness_root(&w, &root);
            CHECK(tz_merkle_root_of(leaves, (size_t)n, &want) == TZ_OK);
            bad_roots += !tz_felt_eq(&root, &want);
            checked++;
        }
        CHECK(w.size == N && w.pos == p);
    }
    CHECK_MSG(bad_paths == 0 && bad_roots == 0 && checked > 2000, "%d bad paths, %d bad roots of %d",
              bad_paths, bad_roots, checked);
}

/* Plain data: a copy taken mid-way and continued gives the same root. */
static void test_copy_and_full(void)
{
    tz_frontier f;
    tz_frontier_init(&f);
    tz_witness w;
    CHECK(tz_witness_start(&w, &f, &leaves[0]) == TZ_OK);
    for (int i = 1; i < 50; i++)
        CHECK(tz_witness_append(&w, &leaves[i]) == TZ_OK);
    tz_witness copy = w;
    for (int i = 50; i < 80; i++) {
        CHECK(tz_witness_append(&w, &leaves[i]) == TZ_OK);
        CHECK(tz_witness_append(&copy, &leaves[i]) == TZ_OK);
    }
    tz_felt a, b;
    tz_witness_root(&w, &a);
    tz_witness_root(&copy, &b);
    CHECK(tz_felt_eq(&a, &b));
    /* a full tree takes no more */
    tz_frontier full = {.size = TZ_TREE_CAPACITY};
    CHECK(tz_witness_start(&w, &full, &leaves[0]) == TZ_EINVAL);
    w.size = TZ_TREE_CAPACITY;
    CHECK(tz_witness_append(&w, &leaves[0]) == TZ_EINVAL);
}

int main(void)
{
    test_against_naive();
    test_copy_and_full();
    return tz_test_done("witness");
}
