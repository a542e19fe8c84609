/* The simulator's versioned rollup state: an append-only array of
 * PublishedNotes shared by every block, an append-only nullifier list, and
 * a ring of recent blocks, each a cheap snapshot (tree size, frontier,
 * root, nullifier count, a reference to an immutable deposit-balance
 * table). Readers take the chain's read lock for the duration of one
 * durable read; writers build new notes outside the lock and publish a new
 * block under the write lock. */
#ifndef TZ_SIM_CHAIN_H
#define TZ_SIM_CHAIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/merkle.h"
#include "core/status.h"
#include "core/types.h"

#define SIM_NOTE_BYTES TZ_PUBLISHED_NOTE_BYTES
#define SIM_HASH_CHARS 51            /* B... block hash */
#define SIM_SEG_LEAVES 4096          /* leaves per storage segment after the base */
#define SIM_DEFAULT_KEEP 128         /* blocks kept (>= 64) */
#define SIM_DEFAULT_PAID_VALUE 1000

/* One deposit pool balance; `empty` is a drained pool (empty value). */
typedef struct sim_balance {
    tz_felt pkh;
    uint64_t amount;
    bool empty;
} sim_balance;

/* Immutable, refcounted (under the chain's write lock) balance table,
 * sorted by pkh. */
typedef struct sim_balances {
    unsigned refs;
    size_t n;
    sim_balance e[];
} sim_balances;

typedef struct sim_block {
    uint64_t level;
    char hash[SIM_HASH_CHARS + 1];
    tz_frontier fr;          /* fr.size is tree/size, fr.branch the kernel's slots */
    tz_felt root;
    uint64_t nf_count;
    sim_balances *bal;
    uint64_t roots_count;    /* roots recorded (roots/count) */
    uint64_t wd_count;       /* withdrawals/count */
    uint64_t shield_count;   /* shields/applied_cm markers */
    uint64_t fee_level;      /* fees/private_tx_level (0: never written) */
    uint64_t fee_count;      /* fees/private_tx_count_in_level at fee_level */
} sim_block;

/* One withdrawal the kernel queued for an unshield. */
typedef struct sim_withdrawal {
    uint64_t amount;
    size_t len;
    char recipient[1025]; /* UTF-8, NUL after len bytes */
} sim_withdrawal;

/* A --pay request: COUNT notes of VALUE to `to`. */
typedef struct sim_pay {
    tz_payment_address to;
    uint64_t count;
    uint64_t value;
} sim_pay;

/* A paid note the generator or /sim/append made (for tests). */
typedef struct sim_paid_note {
    uint64_t index;
    size_t pay;   /* index into the --pay list, or SIZE_MAX for /sim/append */
    uint64_t v;
    tz_felt rseed, cm;
} sim_paid_note;

typedef struct sim_chain {
    pthread_rwlock_t lock;      /* readers: durable reads; writer: publishing */
    pthread_mutex_t wmu;        /* serialises writers (generation + publish) */

    /* seed material */
    uint8_t seed[32];
    tz_felt auth_domain;
    tz_felt outgoing_seed;      /* the simulated sender's, for outgoing_ct */
    tz_payment_address strangers[8];
    tz_payment_address producer; /* the simulated operator's DAL fee address */
    char public_account[40];     /* a fixed tz1 for the network profile */

    /* leaves: [0, base_n) in one region (malloc or mmap), then segments */
    const uint8_t *base;
    uint64_t base_n;
    void *base_map;             /* mmap address or malloc pointer to free */
    size_t base_map_len;
    bool base_is_map;
    uint8_t **segs;
    size_t nsegs, segcap;
    uint64_t n_leaves;          /* leaves stored (>= head size) */

    /* nullifiers: list + open-addressed index */
    tz_felt *nfs;
    uint64_t nf_n;
    size_t nf_cap;
    uint64_t *nf_slots;         /* index+1, 0 = empty */
    uint64_t nf_slot_cap;

    /* every root the tree had (append-only; linear lookup: one per
     * block that appended notes) */
    tz_felt *roots;
    uint64_t roots_n;
    size_t roots_cap;
    /* withdrawals and shield replay markers (append-only) */
    sim_withdrawal *wds;
    uint64_t wd_n;
    size_t wd_cap;
    tz_felt *shields;
    uint64_t sh_n;
    size_t sh_cap;

    /* blocks: ring, oldest..head */
    sim_block *ring;
    size_t keep, nblocks, head_pos; /* head_pos: ring index of the head */
    uint64_t level_at_start;

    /* paid notes */
    sim_paid_note *paid;
    size_t npaid, paidcap;

    char rollup_address[40];
    char ticketer[40];
} sim_chain;

/* Generation parameters. */
typedef struct sim_gen_params {
    const char *seed;           /* any string */
    uint64_t leaves;
    const sim_pay *pays;
    size_t npays;
    const char *cache_dir;      /* NULL: no cache */
    unsigned threads;           /* 0: online cores */
    size_t keep;                /* blocks kept; < 64 is raised to 64 */
    bool verbose;               /* progress on stderr */
} sim_gen_params;

/* Generates (or loads from the cache) the initial chain into *c: the
 * notes, frontier, genesis block at level 1. Returns TZ_OK, or an error
 * with err filled (c is then released). Release with sim_chain_free. */
tz_status sim_chain_init(sim_chain *c, const sim_gen_params *p, tz_error *err) TZ_WUR;

/* Releases everything sim_chain_init made (unmaps a cached chain, frees
 * the note segments, nullifiers, blocks and balance tables) and zeroes *c.
 * No server may still be using c. */
void sim_chain_free(sim_chain *c);

/* Pointer to leaf i's PublishedNote bytes; caller holds the read or write
 * lock and i < n_leaves. */
const uint8_t *sim_leaf(const sim_chain *c, uint64_t i);

/* The opening of leaf i's note as the generator makes it, without
 * encrypting anything: paid to `to` (NULL: a stranger chosen by i) with
 * value v (to == NULL: a random value), *v_out receives the value and
 * *rseed_out the rseed. Thread-safe (reads only constant chain fields). */
void sim_leaf_opening(const sim_chain *c, uint64_t i, const tz_payment_address *to, uint64_t v,
                      uint64_t *v_out, tz_felt *rseed_out);

/* Writer API. Each call takes wmu, publishes a new block and returns the
 * new head's level. Notes: `n` notes at the next indices, paid to `to`
 * (NULL = random strangers) with value v. *first_index receives the index
 * of the first new leaf. Returns TZ_OK or TZ_ENOMEM. */
tz_status sim_chain_append(sim_chain *c, uint64_t n, const tz_payment_address *to, uint64_t v,
                           uint64_t *first_index, tz_error *err) TZ_WUR;
/* The sender of appended notes: their outgoing recovery ciphertexts open
 * under this outgoing_seed with this role (a tz_out_role). */
typedef struct sim_sender {
    tz_felt outgoing_seed;
    uint8_t role;
} sim_sender;
/* sim_chain_append with the notes' outgoing ciphertexts made by `sender`
 * (NULL: the simulated sender, as sim_chain_append). */
tz_status sim_chain_append_from(sim_chain *c, uint64_t n, const tz_payment_address *to,
                                uint64_t v, const sim_sender *sender, uint64_t *first_index,
                                tz_error *err) TZ_WUR;
/* Publishes nullifiers (duplicates are ignored as the kernel does). */
tz_status sim_chain_add_nullifiers(sim_chain *c, const tz_felt *nfs, size_t n,
                                   tz_error *err) TZ_WUR;
/* Credits a pool (amount > 0) or drains it (amount == 0: empty value). */
tz_status sim_chain_deposit(sim_chain *c, const tz_felt *pkh, uint64_t amount, bool drain,
                            tz_error *err) TZ_WUR;
/* What one kernel message does to the state (sim_chain_commit): notes
 * appended in order (PublishedNote bytes), nullifiers inserted, at most
 * one withdrawal queued, at most one shield marker written, at most one
 * pool debited (to the empty value at 0), the private-tx fee counter
 * bumped. Pointers belong to the caller. */
typedef struct sim_effects {
    const uint8_t *notes;
    size_t n_notes;
    const tz_felt *nfs;
    size_t n_nfs;
    const sim_withdrawal *wd;
    const tz_felt *shield_cm;
    const tz_felt *debit_pkh;
    uint64_t debit;
    bool private_tx;
} sim_effects;

/* A kernel check: reads the state of head (the caller of the hook holds
 * the writer mutex, so nothing changes meanwhile) for the block at
 * `level` about to be made, and fills *eff. Returns TZ_OK to apply *eff,
 * or an error with err filled to reject (nothing is written). */
typedef tz_status (*sim_check_fn)(void *ctx, const sim_chain *c, const sim_block *head,
                                  uint64_t level, sim_effects *eff, tz_error *err);

/* Runs check under the writer mutex and, when it accepts, applies its
 * effects as one new block (notes, new root recorded, nullifiers,
 * withdrawal, marker, pool, fee counter). *level receives the new head's
 * level, or the unchanged head's level on a rejection. Returns TZ_OK,
 * check's error, or TZ_ENOMEM (nothing applied). */
tz_status sim_chain_commit(sim_chain *c, sim_check_fn check, void *ctx, uint64_t *level,
                           tz_error *err) TZ_WUR;

/* New block with the same state. */
tz_status sim_chain_advance(sim_chain *c, tz_error *err) TZ_WUR;

/* Reader API: caller holds c->lock for reading. */
/* Resolves `<block>` (head, finalized, cemented, a decimal level or a B
 * hash). Returns the block, or NULL with a message in msg[cap]. */
const sim_block *sim_chain_resolve(const sim_chain *c, const char *id, char *msg, size_t cap);
const sim_block *sim_chain_head(const sim_chain *c);
/* True when nf is published in block b. */
bool sim_chain_has_nf(const sim_chain *c, const sim_block *b, const tz_felt *nf);
/* True when root was a root of the tree at or before block b. */
bool sim_chain_has_root(const sim_chain *c, const sim_block *b, const tz_felt *root);
/* True when a shield with client commitment cm was applied by block b. */
bool sim_chain_has_shield(const sim_chain *c, const sim_block *b, const tz_felt *cm);
/* Private transactions already applied in `level` as of block b. */
uint64_t sim_chain_fee_count(const sim_block *b, uint64_t level);
/* Balance entry of pkh in block b or NULL. */
const sim_balance *sim_chain_balance(const sim_block *b, const tz_felt *pkh);

/* Copies the paid-note list (under the read lock) into a malloc'd array. */
sim_paid_note *sim_chain_paid(sim_chain *c, size_t *n);

#endif
