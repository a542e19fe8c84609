/* The sync run (docs/sync.md): scan `[scanned, tree/size)` at one pinned
 * block, trial-decrypt every leaf, checkpoint every K leaves, yield to a
 * live `<wallet>.yield` sentinel, then finalize (nullifiers, pending
 * spends and deposits, frontier root check).
 *
 * The caller owns the lock, the wallet and the rollup client: tz_sync_run
 * never takes or releases the lock, never prints and never exits. It
 * reports what happens through an optional event callback. */
#ifndef TZ_SYNC_SYNC_H
#define TZ_SYNC_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/status.h"
#include "rpc/rpc.h"
#include "store/wallet.h"

#define TZ_SYNC_DEFAULT_CHECKPOINT_EVERY 250
#define TZ_SYNC_DEFAULT_MAX_CONCURRENCY 64 /* auto's ceiling (TZ_LIMITER_DEFAULT_MAX) */
#define TZ_SYNC_WARN_CONCURRENCY 96     /* Octez stops accepting near 100 */
#define TZ_SYNC_MAX_THREADS 256

/* Tunables of one run, validated by tz_sync_config_resolve. */
typedef struct tz_sync_config {
    uint64_t checkpoint_every;  /* K >= 1 */
    bool auto_concurrency;      /* adaptive (the default): up to `concurrency` */
    unsigned concurrency;       /* 1..TZ_RPC_MAX_CONCURRENCY: the pinned number
                                   of requests in flight, or auto's ceiling */
    unsigned threads;           /* trial-decryption workers, 1..TZ_SYNC_MAX_THREADS */
    bool warn_concurrency;      /* concurrency > TZ_SYNC_WARN_CONCURRENCY */
} tz_sync_config;

/* Resolves the tunables: each flag string (NULL when not given) wins over
 * its environment variable (TZEL_SYNC_CHECKPOINT_EVERY,
 * TZEL_SYNC_CONCURRENCY, TZEL_SYNC_MAX_CONCURRENCY, TZEL_SYNC_THREADS),
 * which wins over the default (250, auto, 64, online cores). A
 * concurrency of "auto" is adaptive up to the max concurrency; a number
 * pins it (the max is then ignored). Reads the environment only. Returns
 * TZ_OK, or TZ_EINVAL with a stable message ("--checkpoint-every must be a
 * positive integer (got \"0\")", ...) for zero, a non-number, a
 * concurrency above 128 or a thread count above 256. *out untouched on
 * failure. */
tz_status tz_sync_config_resolve(const char *k_flag, const char *conc_flag,
                                 const char *max_conc_flag, const char *threads_flag,
                                 tz_sync_config *out, tz_error *err) TZ_WUR;

/* Saturating cursor arithmetic: min(cursor + k, limit), never wrapping. */
uint64_t tz_sync_batch_end(uint64_t cursor, uint64_t k, uint64_t limit);

typedef enum tz_sync_event_type {
    TZ_SYNC_EV_START,           /* scanned, tree_size, block, config */
    TZ_SYNC_EV_PROGRESS,        /* scanned, tree_size, found, rate, eta */
    TZ_SYNC_EV_CHECKPOINT,      /* scanned (just saved) */
    TZ_SYNC_EV_YIELD,           /* pid (-1: content is not a PID) */
    TZ_SYNC_EV_STALE_SENTINEL,  /* pid of the dead owner, sentinel removed */
    TZ_SYNC_EV_WARNING,         /* message */
    TZ_SYNC_EV_FOUND,           /* a new note: v, cm, index (leaf order) */
} tz_sync_event_type;

typedef struct tz_sync_event {
    tz_sync_event_type type;
    uint64_t scanned, tree_size, found;
    double leaves_per_sec;      /* PROGRESS: over the run so far */
    double eta_secs;            /* PROGRESS: -1 when unknown */
    long pid;                   /* YIELD, STALE_SENTINEL */
    const char *block;          /* START */
    const char *message;        /* WARNING */
    const tz_sync_config *config; /* START */
    unsigned inflight_limit;    /* START, PROGRESS: requests allowed in flight now */
    uint64_t v, index;          /* FOUND: the note's value and leaf index */
    const tz_felt *cm;          /* FOUND: its commitment */
} tz_sync_event;

/* Called on the thread that called tz_sync_run; pointers valid during the
 * call only. */
typedef void (*tz_sync_event_fn)(void *ctx, const tz_sync_event *ev);

/* What one run did. */
typedef struct tz_sync_result {
    uint64_t found;             /* notes recorded by this run */
    uint64_t spent;             /* notes removed because their nullifier is on chain */
    uint64_t spends_dropped;    /* pending spends whose nullifiers are all on chain */
    uint64_t deposits_pruned;   /* pending deposits drained and observed */
    uint64_t scanned;           /* cursor after the run (as saved) */
    uint64_t tree_size;         /* tree/size at the pinned block */
    uint64_t checkpoints;       /* saves made during the scan */
    uint64_t nullifiers_read;   /* new nullifiers read at finalize */
    char block[TZ_BLOCK_HASH_MAX]; /* the pinned block */
    bool finalized;             /* reached the tree size and finalized */
    bool yielded;               /* stopped for a live sentinel */
    long yielded_to_pid;        /* -1: sentinel content is not a PID */
    bool verified;              /* frontier root == tree/root at block */
    tz_felt root;               /* the verified root when `verified` */
    /* Deposit pools at the pinned block (set when finalized), the
     * reference's `Synced:` figures: the sum of the balances of every
     * distinct pending pubkey_hash read (pruned ones included); over the
     * deposits left after pruning, those whose pool has no balance entry
     * (absent or empty value) without / with a shielded_cm. The reference
     * prints the last one as pools_drained_pending_scan in the Synced line
     * and deposit_pools_drained_pending_prune in balance: one idea, one
     * name here. */
    uint64_t pool_funded_total;
    uint64_t pools_awaiting_credit;
    uint64_t pools_drained_pending_prune;
} tz_sync_result;

typedef struct tz_sync_hooks {
    tz_sync_event_fn on_event;  /* may be NULL */
    void *ctx;
    /* Asynchronous stop request (signal handler, caller thread): when
     * *stop becomes non-zero the run checkpoints the prefix it finished
     * and returns TZ_ECANCEL. May be NULL. */
    volatile int *stop;
} tz_sync_hooks;

/* Runs one sync of `w` (loaded, lock held by the caller) through `rpc`.
 * Pins the head, scans, checkpoints with tz_wallet_save every
 * cfg->checkpoint_every leaves, checks `<w->path>.yield` after each save
 * and between leaves, and finalizes at the end of the range.
 *
 * Each note recorded for the first time is reported by a FOUND event, in
 * leaf order, as it is merged.
 *
 * Returns TZ_OK when the run finalized or yielded (res->yielded tells),
 * TZ_ECANCEL when *hooks->stop was raised (prefix saved), TZ_EHTTP (URL and
 * status in the message; the file keeps the last checkpoint), TZ_EMISMATCH
 * (frontier root differs from tree/root: both roots named; the finalize
 * results are not saved, res->verified false), TZ_EPARSE (malformed chain
 * data), TZ_EIO (save failed), TZ_ENOMEM. *res is filled as far as the run
 * got, also on failure. Failures while pinning the head, reading the tree
 * size or fetching and decoding leaves (and a cursor beyond the tree size:
 * "wallet cursor C is ahead of rollup tree size N ...", TZ_EMISMATCH) are
 * worded like the reference's: "sync failed: <cause>. Run `tzel-wallet
 * check` for a fuller diagnosis."; finalize and save failures are not
 * wrapped. The in-memory wallet may hold unsaved progress
 * after a failure: reload it before using it again. */
tz_status tz_sync_run(tz_wallet *w, tz_rpc *rpc, const tz_sync_config *cfg,
                      const tz_sync_hooks *hooks, tz_sync_result *res, tz_error *err) TZ_WUR;

#endif
