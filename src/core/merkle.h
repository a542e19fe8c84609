/* The depth-48 commitment tree (PROTOCOL.md "Commitment tree"): node =
 * BLAKE2s_mrkl(left || right) truncated, empty leaves are zero.
 *
 * tz_frontier holds exactly the rollup kernel's durable tree state:
 * `size` is tree/size and branch[l] is tree/branch/<l> (two lowercase hex
 * digits in the kernel's path). On every append the kernel walks all 48
 * levels and, where the bit of the new leaf's index is 0, stores the node it
 * has at that level in branch[l] (hashing it with zero[l] on its way up);
 * where the bit is 1 it hashes branch[l] with the current node. The levels
 * whose bit in `size` is 1 therefore hold complete left subtrees; the other
 * slots hold stale values that are overwritten before they are read. A
 * wallet initialises a frontier from the chain's tree/size and
 * tree/branch/<l> values (slots never written are zero) and keeps appending; the
 * struct is plain data: saving it is saving size and the 48 felts. */
#ifndef TZ_CORE_MERKLE_H
#define TZ_CORE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/status.h"

#define TZ_TREE_DEPTH 48
#define TZ_TREE_CAPACITY (UINT64_C(1) << TZ_TREE_DEPTH)

typedef struct tz_frontier {
    uint64_t size;
    tz_felt branch[TZ_TREE_DEPTH];
} tz_frontier;

/* BLAKE2s_mrkl(left || right), truncated. out may alias left or right. */
void tz_merkle_node(tz_felt *out, const tz_felt *left, const tz_felt *right);

/* The root of an empty subtree of height `level` (zero[0] = 0,
 * zero[l+1] = node(zero[l], zero[l])), level 0..48. A pointer into a table
 * built on first use (thread-safe); NULL for level > 48. */
const tz_felt *tz_merkle_zero(unsigned level);

/* Empty tree: size 0, all branches zero. */
void tz_frontier_init(tz_frontier *f);

/* Appends leaf cm at index f->size, exactly as the kernel does; optionally
 * writes the new root into *root (may be NULL). Returns TZ_OK, or TZ_EINVAL
 * (frontier untouched) when the tree already holds 2^48 leaves. */
tz_status tz_frontier_append(tz_frontier *f, const tz_felt *cm, tz_felt *root) TZ_WUR;

/* tz_frontier_append without the path to the root: hashes only up to the
 * first level where the new leaf is a left child (about 2 hashes per leaf
 * instead of 48). The complete left subtrees (the branches at the set
 * bits of f->size), hence tz_frontier_root, are as after
 * tz_frontier_append; the other branches are those of tz_frontier_append
 * only after tz_frontier_settle. Returns TZ_OK, or TZ_EINVAL (untouched)
 * when the tree is full. */
tz_status tz_frontier_push(tz_frontier *f, const tz_felt *cm) TZ_WUR;

/* Brings a frontier grown by tz_frontier_push to exactly the branches
 * tz_frontier_append would have left (what the kernel stores and the
 * wallet file keeps): at most 48 hashes. Idempotent. */
void tz_frontier_settle(tz_frontier *f);

/* The root of the tree the frontier describes (the kernel's tree/root).
 * Returns TZ_OK, or TZ_EINVAL (root untouched) when size >= 2^48: the root
 * of a full tree is not determined by the frontier. */
tz_status tz_frontier_root(const tz_frontier *f, tz_felt *root) TZ_WUR;

/* Root of a subtree of height `depth` whose first n leaves (n < 2^depth)
 * were merged lazily into branch[] (branch[l] holds the last complete
 * subtree of height l where bit l of n is set), the rest empty. */
void tz_merkle_partial_root(tz_felt *root, const tz_felt *branch, uint64_t n, unsigned depth);

/* Root of the depth-48 tree whose first n leaves are leaves[0..n) and the
 * rest empty. Runs in O(n + 48) hashes without allocation. Returns TZ_OK,
 * or TZ_EINVAL (root untouched) when n > 2^48 or leaves is NULL with n > 0. */
tz_status tz_merkle_root_of(const tz_felt *leaves, size_t n, tz_felt *root) TZ_WUR;

/* Same for a tree of the given depth (1..48); TZ_EINVAL when depth is out of
 * range or n > 2^depth. */
tz_status tz_merkle_root_depth(const tz_felt *leaves, size_t n, unsigned depth,
                               tz_felt *root) TZ_WUR;

#endif
