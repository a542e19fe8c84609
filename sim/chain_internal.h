/* Private to the chain module, shared by its three files and included by
 * nothing else: chain.c (leaf storage, blocks, nullifiers, balances, paid
 * notes, the writers and their locking), chain_gen.c (seed material and
 * deterministic note generation) and chain_cache.c (the chain cache file).
 * chain.c depends on the other two; they do not depend on each other. */
#ifndef TZ_SIM_CHAIN_INTERNAL_H
#define TZ_SIM_CHAIN_INTERNAL_H

#include "chain.h"

/* The generator's version, hashed into the cache key: change it with any
 * change to how notes are made, so no older cached chain is loaded. */
#define SIM_GEN_VERSION "tzel-sim-gen-v1"

/* ------------------------------------------------------------ chain_gen.c */

/* out = BLAKE2s(label || c->seed || u64le i || extra[elen]); extra may be
 * NULL (then it is left out). */
void sim_gen_derive(uint8_t out[32], const sim_chain *c, const char *label, uint64_t i,
                    const void *extra, size_t elen);

/* Derives c's seed material from the seed string: c->seed, auth_domain,
 * outgoing_seed, the eight strangers, rollup_address and ticketer. Writes
 * only those fields. */
void sim_gen_seed(sim_chain *c, const char *seed);

/* Checks p (the --pay counts fit in --leaves, --leaves <= 2^26) and says
 * which leaves are paid: round-robin over the --pay list, spread evenly.
 * *assign receives a malloc'd array of p->leaves entries (a --pay index or
 * -1; NULL when p->leaves is 0), which the caller frees. Returns TZ_OK, or
 * TZ_EINVAL / TZ_ENOMEM with err filled and *assign NULL. */
tz_status sim_gen_assign(const sim_gen_params *p, int32_t **assign, tz_error *err) TZ_WUR;

/* Makes the p->leaves initial notes (leaf i paid as assign[i] says) into
 * dest[p->leaves * SIM_NOTE_BYTES] on p->threads threads, with progress
 * lines on stderr when p->verbose. */
void sim_gen_initial(const sim_chain *c, const sim_gen_params *p, const int32_t *assign,
                     uint8_t *dest);

/* Makes n notes for leaf indices first.. (to/v as sim_leaf_opening takes
 * them) into dest[n * SIM_NOTE_BYTES], their outgoing ciphertexts by
 * `sender` (NULL: the simulated sender); on every core for 64 notes or
 * more. */
void sim_gen_notes(const sim_chain *c, uint64_t first, uint64_t n, const tz_payment_address *to,
                   uint64_t v, const sim_sender *sender, uint8_t *dest);

/* ---------------------------------------------------------- chain_cache.c */

/* The cache key of the chain p describes: generator version, seed, leaves,
 * every --pay address, count and value. */
void sim_cache_key(uint8_t key[32], const sim_gen_params *p);

/* The cache file for key in dir: "<dir>/tzel-sim-<first 16 bytes hex>.chain". */
void sim_cache_path(char *out, size_t cap, const char *dir, const uint8_t key[32]);

/* Maps the cache file at path when it holds n notes under key: sets
 * c->base, base_n, base_map, base_map_len, base_is_map and writes the
 * saved frontier and root. Returns TZ_OK, or TZ_ENOTFOUND (c untouched)
 * when the file is absent or unusable. */
tz_status sim_cache_load(sim_chain *c, const char *path, const uint8_t key[32], uint64_t n,
                         tz_frontier *fr, tz_felt *root) TZ_WUR;

/* Writes notes[n], the frontier and the root to path under key,
 * atomically (dir created if missing, temp file, fsync, rename, folder
 * fsync). Returns TZ_OK, or TZ_EIO with err filled and no file left. */
tz_status sim_cache_store(const char *dir, const char *path, const uint8_t key[32],
                          const uint8_t *notes, uint64_t n, const tz_frontier *fr,
                          const tz_felt *root, tz_error *err) TZ_WUR;

#endif
