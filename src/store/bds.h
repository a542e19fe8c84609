/* The XMSS BDS traversal state of an address record (the `bds` object of
 * WALLET_FILE.md `addresses`), k = 2 over the depth-16 auth tree: the
 * authentication path of the next one-time key, and what it takes to move
 * that path one leaf to the right with about 8 leaf computations instead of
 * a tree rebuild. The layout, the update rule and the JSON are the
 * reference wallet's (its XmssBdsState), so that either wallet can keep
 * signing with a state the other one wrote.
 *
 * The state (levels h = 0..15, nodes of a level numbered from 0 left to
 * right):
 *   next_index    the next unused one-time key, 0..65536
 *   auth_path[h]  sibling at level h of leaf next_index's ancestor (empty
 *                 once next_index == 65536)
 *   keep[h]       a left node kept to build a parent later
 *   treehash[h]   h = 0..13: a running treehash instance computing the next
 *                 right node of level h, with its stack of partial nodes
 *   retain[h]     precomputed right nodes of the top levels (h = 14)
 * No allocation. Secrets: none (leaves and nodes are public). */
#ifndef TZ_STORE_BDS_H
#define TZ_STORE_BDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/status.h"
#include "core/xmss.h"

#define TZ_BDS_K 2
#define TZ_BDS_DEPTH TZ_XMSS_HEIGHT                  /* 16 */
#define TZ_BDS_TREEHASH (TZ_BDS_DEPTH - TZ_BDS_K)     /* 14 instances */
#define TZ_BDS_STACK_MAX TZ_BDS_DEPTH                 /* partial nodes per instance */
#define TZ_BDS_RETAIN_MAX 8                           /* nodes per retain level */

typedef struct tz_bds_slot {
    bool present;
    tz_felt value; /* kept as it was when the slot is emptied (serialized) */
} tz_bds_slot;

typedef struct tz_bds_node {
    uint32_t start_idx;
    uint8_t height;
    tz_felt value;
} tz_bds_node;

typedef struct tz_bds_treehash {
    uint8_t target_height;
    uint32_t start_idx, next_idx;
    bool initialized, finished;
    tz_bds_slot node;
    uint32_t node_start_idx;
    uint8_t node_height;
    uint8_t n_stack;
    tz_bds_node stack[TZ_BDS_STACK_MAX];
} tz_bds_treehash;

typedef struct tz_bds_retain {
    uint8_t n_nodes;
    tz_felt nodes[TZ_BDS_RETAIN_MAX];
    uint32_t next;
} tz_bds_retain;

typedef struct tz_bds {
    uint32_t next_index;
    bool has_path; /* false only once next_index == 65536 (the path is []) */
    tz_felt auth_path[TZ_BDS_DEPTH];
    tz_bds_slot keep[TZ_BDS_DEPTH];
    tz_bds_treehash treehash[TZ_BDS_TREEHASH];
    tz_bds_retain retain[TZ_BDS_DEPTH];
} tz_bds;

/* The fresh state (next_index 0) of the tree whose 65,536 leaves are
 * level[0..65536): fills *out and *root (the auth root). `level` is used
 * as scratch and holds garbage afterwards. Cannot fail. */
void tz_bds_init(tz_bds *out, tz_felt *root, tz_felt *level, const tz_felt *pub_seed);

/* Parses a record's `bds` object into *out. Accepts exactly what the
 * reference can write for depth 16, k = 2: 16 auth_path felts (none once
 * next_index is 65536), 16 keep slots, 14 treehash instances (instance h
 * aiming at height h, at most TZ_BDS_STACK_MAX stack nodes below that
 * height), 16 retain levels of at most TZ_BDS_RETAIN_MAX nodes; integers
 * in range of their types; unknown keys ignored (the reference drops them).
 * `what` names the record in messages ("wallet w.json: address 3 bds").
 * Returns TZ_OK or TZ_EPARSE naming the field; *out untouched on
 * failure. */
tz_status tz_bds_parse(tz_bds *out, const json_t *bds, const char *what, tz_error *err) TZ_WUR;

/* A new JSON object for *s with the reference's keys in its order
 * (next_index, auth_path, keep, treehash, retain; felts as lowercase hex),
 * or NULL when out of memory. */
json_t *tz_bds_to_json(const tz_bds *s);

/* Reserves the next one-time key: *key_idx = s->next_index and auth_path[]
 * = its 16 siblings (leaf level first), then advances *s to the next key
 * as the reference does (computing up to 1 + 7 leaves with ask_j and
 * pub_seed). Returns TZ_OK; TZ_ESTATE when the keys are exhausted
 * (next_index 65536) or the state lacks a node it should hold (damaged);
 * nothing is written on failure (*s, *key_idx, auth_path untouched). */
tz_status tz_bds_next(tz_bds *s, const tz_felt *ask_j, const tz_felt *pub_seed, uint32_t *key_idx,
                      tz_felt auth_path[TZ_BDS_DEPTH], tz_error *err) TZ_WUR;

/* Folds leaf `key_idx` with its 16 siblings into the root they imply. */
void tz_bds_fold(tz_felt *root, const tz_felt *leaf, uint32_t key_idx,
                 const tz_felt auth_path[TZ_BDS_DEPTH], const tz_felt *pub_seed);

#endif
