/* Incremental witnesses (in the manner of Zcash wallets): the
 * authentication path of one leaf of the depth-48 commitment tree, kept
 * current while later leaves are appended, so that a spend has the path of
 * every unspent note without reading the chain again.
 *
 * For the leaf at `pos`, the sibling at level l is a complete LEFT subtree
 * when bit l of pos is 1: it is known when the leaf is appended (the
 * frontier's branch[l] just before). When bit l is 0 the sibling is a RIGHT
 * subtree that later leaves fill, lowest level first and contiguously: the
 * witness keeps the roots of the ones already complete (`filled`) and the
 * branches of the one being filled (`cursor`); higher ones are still empty.
 * Plain data: saving a witness is saving its fields. */
#ifndef TZ_CORE_WITNESS_H
#define TZ_CORE_WITNESS_H

#include <stdint.h>

#include "core/felt.h"
#include "core/merkle.h"
#include "core/status.h"

typedef struct tz_witness {
    uint64_t pos;                     /* the leaf's index */
    uint64_t size;                    /* leaves of the tree it describes (> pos) */
    tz_felt leaf;                     /* the leaf (the note's cm) */
    tz_felt left[TZ_TREE_DEPTH];      /* left sibling where bit l of pos is 1, else zero */
    tz_felt filled[TZ_TREE_DEPTH];    /* roots of the complete right siblings, lowest first */
    uint32_t n_filled;
    tz_felt cursor[TZ_TREE_DEPTH];    /* branches of the right sibling being filled */
    uint64_t cursor_n;                /* leaves in it so far */
} tz_witness;

/* Starts the witness of leaf `cm` appended at index before->size, where
 * `before` is the tree's frontier just before that append. Returns TZ_OK,
 * or TZ_EINVAL (w untouched) when the tree is full. */
tz_status tz_witness_start(tz_witness *w, const tz_frontier *before, const tz_felt *cm) TZ_WUR;

/* Records leaf `cm` appended at index w->size. Returns TZ_OK, or TZ_EINVAL
 * (w untouched) when the tree is full. */
tz_status tz_witness_append(tz_witness *w, const tz_felt *cm) TZ_WUR;

/* The authentication path of the leaf in the tree of w->size leaves:
 * path[l] is the sibling at level l (leaf level 0). */
void tz_witness_path(const tz_witness *w, tz_felt path[TZ_TREE_DEPTH]);

/* The root the leaf and `path` give for position `pos` (bit l of pos set:
 * the node is the right child at level l). */
void tz_merkle_root_from_path(tz_felt *root, const tz_felt *leaf, uint64_t pos,
                              const tz_felt path[TZ_TREE_DEPTH]);

/* The root of the tree the witness describes (the chain's tree/root at
 * w->size leaves). */
void tz_witness_root(const tz_witness *w, tz_felt *root);

#endif
