/* The TzEL kernel's durable tree (/tzel/v1/state/...) as a function of one
 * simulator block: key validation, values, and direct children. The caller
 * holds the chain's read lock. */
#ifndef TZ_SIM_DURABLE_H
#define TZ_SIM_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"

#define SIM_PATH_MAX_SEGS 16
#define SIM_MAX_VALUE 1040   /* the largest value the simulated kernel writes
                                (a withdrawal: 12 bytes + a 1,024-byte recipient) */

/* A parsed durable key: segments point into the key string. */
typedef struct sim_path {
    const char *s[SIM_PATH_MAX_SEGS];
    size_t len[SIM_PATH_MAX_SEGS];
    size_t n;
} sim_path;

/* Parses and validates a key as Octez does: starts with '/', no empty
 * segment, only [.a-zA-Z0-9_-] in segments; "/" alone is the root.
 * Returns false for an invalid key (or more than 16 segments). */
bool sim_path_parse(sim_path *p, const char *key);

/* Value at path in block b: true with out[0..*len) (len may be 0 for an
 * empty value), false when no value is stored there. */
bool sim_durable_value(const sim_chain *c, const sim_block *b, const sim_path *p,
                       uint8_t out[SIM_MAX_VALUE], size_t *len);

/* Calls emit(ctx, name) for each direct child of path that exists in
 * block b (not including "" for the node's own value). `name` is valid
 * only during the call. */
void sim_durable_children(const sim_chain *c, const sim_block *b, const sim_path *p,
                          void (*emit)(void *ctx, const char *name), void *ctx);

/* When the key lies under /tzel/v1/state/notes/<16 hex>, writes that index
 * and returns true. */
bool sim_path_note_index(const sim_path *p, uint64_t *idx);

#endif
