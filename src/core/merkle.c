/* The depth-48 commitment tree: zero subtrees, the append frontier that
 * mirrors the kernel's tree/branch state, and its root (merkle.h). */
#include "core/merkle.h"

#include <pthread.h>
#include <string.h>

#include "core/hash.h"

static tz_felt zeros[TZ_TREE_DEPTH + 1];
static pthread_once_t zeros_once = PTHREAD_ONCE_INIT;

void tz_merkle_node(tz_felt *out, const tz_felt *left, const tz_felt *right)
{
    tz_hash_part parts[2] = {{left->b, TZ_FELT_BYTES}, {right->b, TZ_FELT_BYTES}};
    tz_felt r;
    tz_hash_parts(&r, TZ_P_MRKL, parts, 2);
    *out = r;
}

static void build_zeros(void)
{
    memset(&zeros[0], 0, sizeof zeros[0]);
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        tz_merkle_node(&zeros[l + 1], &zeros[l], &zeros[l]);
}

const tz_felt *tz_merkle_zero(unsigned level)
{
    if (level > TZ_TREE_DEPTH)
        return NULL;
    pthread_once(&zeros_once, build_zeros);
    return &zeros[level];
}

void tz_frontier_init(tz_frontier *f)
{
    memset(f, 0, sizeof *f);
}

tz_status tz_frontier_append(tz_frontier *f, const tz_felt *cm, tz_felt *root)
{
    if (f->size >= TZ_TREE_CAPACITY)
        return TZ_EINVAL;
    tz_felt cur = *cm;
    uint64_t idx = f->size;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++, idx >>= 1) {
        if ((idx & 1) == 0) {
            f->branch[l] = cur;
            tz_merkle_node(&cur, &cur, tz_merkle_zero(l));
        } else {
            tz_merkle_node(&cur, &f->branch[l], &cur);
        }
    }
    f->size++;
    if (root)
        *root = cur;
    return TZ_OK;
}

tz_status tz_frontier_push(tz_frontier *f, const tz_felt *cm)
{
    if (f->size >= TZ_TREE_CAPACITY)
        return TZ_EINVAL;
    tz_felt cur = *cm;
    uint64_t idx = f->size;
    unsigned l = 0;
    for (; l < TZ_TREE_DEPTH && (idx & 1); l++, idx >>= 1)
        tz_merkle_node(&cur, &f->branch[l], &cur);
    if (l < TZ_TREE_DEPTH)
        f->branch[l] = cur;
    f->size++;
    return TZ_OK;
}

void tz_frontier_settle(tz_frontier *f)
{
    if (f->size == 0 || f->size > TZ_TREE_CAPACITY)
        return;
    /* The last leaf's path: below its first left-child level l0 the
     * branches are complete left subtrees, at l0 is the node push left;
     * from there on, what tz_frontier_append writes. */
    uint64_t idx = f->size - 1;
    unsigned l = 0;
    while (l < TZ_TREE_DEPTH && ((idx >> l) & 1))
        l++;
    if (l >= TZ_TREE_DEPTH)
        return;
    tz_felt cur = f->branch[l];
    tz_merkle_node(&cur, &cur, tz_merkle_zero(l));
    for (l++; l < TZ_TREE_DEPTH; l++) {
        if (((idx >> l) & 1) == 0) {
            f->branch[l] = cur;
            tz_merkle_node(&cur, &cur, tz_merkle_zero(l));
        } else {
            tz_merkle_node(&cur, &f->branch[l], &cur);
        }
    }
}

/* Root of a depth-`depth` tree whose first n leaves are summarised by
 * branch[] (complete left subtrees at the set bits of n). */
void tz_merkle_partial_root(tz_felt *root, const tz_felt *branch, uint64_t n, unsigned depth)
{
    tz_felt cur = *tz_merkle_zero(0);
    for (unsigned l = 0; l < depth; l++, n >>= 1) {
        if (n & 1)
            tz_merkle_node(&cur, &branch[l], &cur);
        else
            tz_merkle_node(&cur, &cur, tz_merkle_zero(l));
    }
    *root = cur;
}

tz_status tz_frontier_root(const tz_frontier *f, tz_felt *root)
{
    if (f->size >= TZ_TREE_CAPACITY)
        return TZ_EINVAL;
    tz_merkle_partial_root(root, f->branch, f->size, TZ_TREE_DEPTH);
    return TZ_OK;
}

tz_status tz_merkle_root_depth(const tz_felt *leaves, size_t n, unsigned depth, tz_felt *root)
{
    if (depth < 1 || depth > TZ_TREE_DEPTH || (uint64_t)n > (UINT64_C(1) << depth) ||
        (n > 0 && !leaves))
        return TZ_EINVAL;
    /* branch[l] holds the last finished subtree of height l; merged
     * lazily. A full tree's last merge reaches the root itself. */
    tz_felt branch[TZ_TREE_DEPTH + 1];
    for (uint64_t i = 0; i < n; i++) {
        tz_felt cur = leaves[i];
        unsigned l = 0;
        for (uint64_t k = i; k & 1; k >>= 1, l++)
            tz_merkle_node(&cur, &branch[l], &cur);
        branch[l] = cur;
    }
    if ((uint64_t)n == (UINT64_C(1) << depth))
        *root = branch[depth];
    else
        tz_merkle_partial_root(root, branch, n, depth);
    return TZ_OK;
}

tz_status tz_merkle_root_of(const tz_felt *leaves, size_t n, tz_felt *root)
{
    return tz_merkle_root_depth(leaves, n, TZ_TREE_DEPTH, root);
}
