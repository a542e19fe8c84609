/* The reference-compatible wallet file (WALLET_FILE.md).
 *
 * A tz_wallet owns the parsed JSON document (`doc`) and typed copies of the
 * fields sync and the CLI work with. Fields this project does not manage
 * (bds, wots_key_indices, pending_spends' extra keys, anything unknown) stay
 * in `doc` untouched; tz_wallet_save() writes the typed fields back into
 * `doc` and serializes it, so every unknown field survives byte-for-value.
 * u64 amounts above 2^63 survive a load and a save.
 *
 * Ownership: tz_wallet_load() allocates; tz_wallet_free() releases and wipes
 * the secrets. Nothing here takes the lock: see lock.h. */
#ifndef TZ_STORE_WALLET_H
#define TZ_STORE_WALLET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/keys.h"
#include "core/merkle.h"
#include "core/witness.h"
#include "core/status.h"
#include "core/xmss.h"
#include "store/floor.h"

typedef struct tz_wallet_address {
    uint32_t index;
    tz_felt d_j, auth_root, auth_pub_seed, nk_tag;
} tz_wallet_address;

typedef struct tz_wallet_note {
    tz_felt nk_spend, nk_tag, auth_root, d_j;
    uint64_t v;
    tz_felt rseed, cm;
    uint64_t index;      /* leaf position */
    uint32_t addr_index;
} tz_wallet_note;

typedef struct tz_pending_spend {
    tz_felt *nullifiers;
    size_t n_nullifiers;
    json_t *obj;          /* the original object (description, operation_hash, ...) */
} tz_pending_spend;

typedef struct tz_pending_deposit {
    tz_felt pubkey_hash, blind, auth_domain;
    uint32_t address_index;
    uint64_t amount;
    bool has_shielded_cm;
    tz_felt shielded_cm;
    json_t *obj;          /* the original object (operation_hash, unknown keys) */
} tz_pending_deposit;

/* Sync state this project adds, stored under "tzel_c_sync" (a key the
 * reference ignores). Reset together with `scanned`. */
typedef struct tz_sync_state {
    bool has_frontier;          /* frontier below `scanned` is known */
    uint64_t frontier_size;     /* == scanned when has_frontier */
    tz_felt frontier[48];       /* append frontier, see core/merkle.h */
    uint64_t nullifiers_checked;/* nullifiers/index/[0, n) already applied */
    tz_felt *observed_cms;      /* pending deposits' shielded_cm seen as leaves */
    size_t n_observed_cms;
    /* The last verified state (docs/sync.md "Verification and rollback"):
     * the leaves below verified_size gave the chain's tree/root, with this
     * frontier; observed_cms[0, verified_observed) were recorded by then.
     * Absent (has_verified false): the base is the empty tree. */
    bool has_verified;
    uint64_t verified_size;
    tz_felt verified_frontier[48];
    size_t verified_observed;
    /* The spend path of each unspent note (core/witness.h), kept by sync
     * at the tree size of `scanned` when the frontier is known; and their
     * state at the last verified state (a rollback returns to it). A note
     * may lack one (a file the reference rewrote, a wallet with no
     * frontier). */
    tz_witness *witnesses;
    size_t n_witnesses;
    tz_witness *verified_witnesses;
    size_t n_verified_witnesses;
} tz_sync_state;

typedef struct tz_wallet {
    char *path;                 /* as given to load/create (resolved: wallet_path.h) */
    json_t *doc;                /* the whole document, owner of unknown fields */
    tz_felt master_sk;
    uint32_t addr_counter;
    uint64_t scanned;
    uint64_t deposit_nonce;
    tz_wallet_address *addresses; size_t n_addresses;
    tz_wallet_note *notes;        size_t n_notes;
    tz_pending_spend *spends;     size_t n_spends;
    tz_pending_deposit *deposits; size_t n_deposits;
    tz_sync_state sync;
    /* Private to wallet.c: the JSON object behind addresses[i] / notes[i]
     * (owned references, NULL for records added since the load). They carry
     * the fields this project does not manage (bds, unknown keys). */
    json_t **addr_objs;
    json_t **note_objs;
    /* Private to the wallet module: the floor file this object last wrote. */
    tz_floor_cache floor_cache;
} tz_wallet;

/* Loads and validates `path`. On success *out owns a new wallet. Errors
 * (messages start with the reference's words): TZ_ENOTFOUND ("read wallet:
 * No such file or directory (os error 2): ..."), TZ_EIO ("read wallet:
 * ..."), TZ_EPARSE ("parse wallet: ...": empty, truncated, not JSON, a
 * field of the wrong type or a felt of the wrong length), TZ_ESTATE
 * ("wallet appears to be restored from a stale backup: ...", behind its
 * xmss-floor). *out is untouched on failure. Warns through `warn` (may be
 * NULL) when the file is readable by group or others.
 * Like the reference, once the floor check passed it sets
 * wots_key_indices["<index>"] = bds.next_index for every address record
 * whose bds has one (existing keys keep their position, new keys are
 * appended in ascending index order); a later save writes that. */
tz_status tz_wallet_load(const char *path, tz_wallet **out, tz_error *err,
                         void (*warn)(const char *msg)) TZ_WUR;

/* Creates an in-memory wallet for master_sk with no addresses. */
tz_status tz_wallet_new(const char *path, const tz_felt *master_sk, tz_wallet **out,
                        tz_error *err) TZ_WUR;

/* Atomic durable save of the whole wallet (temp 0600 in the same folder,
 * fsync, rename, chmod 0600, fsync folder), then the xmss-floor. Refuses
 * (TZ_EINVAL, nothing written) when w->path is a symlink: resolve the path
 * with tz_wallet_path_resolve before loading, so the save goes beside the
 * link's target. The text
 * is serde_json's pretty layout with the reference's key order: the nine
 * top-level keys always (defaults [], {}, 0), then every other key in its
 * original order; notes, addresses, pending spends and deposits likewise
 * (their reference fields first, unknown keys after). A pending spend's
 * null operation_hash is omitted; a deposit's is always written (null when
 * absent); shielded_cm only when present. On failure before the rename the
 * old file is intact and the temp file removed. */
tz_status tz_wallet_save(tz_wallet *w, tz_error *err) TZ_WUR;

/* Appends a copy of `n` to the notes (kept in append order). */
tz_status tz_wallet_add_note(tz_wallet *w, const tz_wallet_note *n) TZ_WUR;

/* Appends an address record (bds left as an empty object). Does not touch
 * wots_key_indices (the reference records an address there only when a
 * later load finds it). */
tz_status tz_wallet_add_address(tz_wallet *w, const tz_wallet_address *a) TZ_WUR;

/* Replaces the `bds` object of addresses[i] with `bds` (reference stolen,
 * also on failure). wots_key_indices is not changed (see tz_wallet_load);
 * the floor written by the next save takes the larger of the map and
 * bds.next_index. Returns TZ_EINVAL for a bad index or a non-object,
 * TZ_ENOMEM. */
tz_status tz_wallet_set_address_bds(tz_wallet *w, size_t i, json_t *bds) TZ_WUR;

/* The next one-time key index the file records for address `addr_index`:
 * wots_key_indices[addr_index], else that address's bds.next_index, else 0
 * (the reference's rule). */
uint32_t tz_wallet_wots_next(const tz_wallet *w, uint32_t addr_index);

/* Sets wots_key_indices["<addr_index>"] = next unless the file already has
 * that entry (as the reference's load records the addresses it holds).
 * Returns TZ_OK or TZ_ENOMEM. */
tz_status tz_wallet_record_wots_index(tz_wallet *w, uint32_t addr_index, uint32_t next) TZ_WUR;

/* Sets wots_key_indices["<addr_index>"] = next, replacing an existing
 * entry in place (new entries go last; the map is created when absent).
 * Returns TZ_OK, TZ_ESTATE when the document's map is not an object, or
 * TZ_ENOMEM. */
tz_status tz_wallet_set_wots_index(tz_wallet *w, uint32_t addr_index, uint32_t next) TZ_WUR;

/* Reserves the next one-time signing key of addresses[pos], as the
 * reference's reserve_next_auth: *key_idx = its bds.next_index, auth_path[]
 * = that leaf's 16 siblings (leaf level first), then the record's bds
 * advances one key (store/bds.h; about 8 leaf computations) and
 * wots_key_indices[index] = the new next_index. In memory only: the caller
 * saves (tz_wallet_save also raises the xmss-floor) BEFORE using the key,
 * so that a crash cannot hand out the same key twice. `keys` are the
 * wallet's (tz_keys_derive of master_sk); ask_j is derived and wiped.
 * Errors, nothing changed: TZ_EINVAL (pos out of range); TZ_EMISMATCH
 * (`keys` do not derive this record's auth_pub_seed); TZ_EPARSE (bds
 * missing or malformed, the field named); TZ_ESTATE (keys exhausted:
 * generate a new address; wots_key_indices ahead of the bds, which would
 * reuse a key; a damaged state); TZ_ENOMEM. */
tz_status tz_wallet_reserve_key(tz_wallet *w, size_t pos, const tz_keys *keys,
                                uint32_t *key_idx, tz_felt auth_path[TZ_XMSS_HEIGHT],
                                tz_error *err) TZ_WUR;

/* Removes notes[i] and its witness. */
void tz_wallet_remove_note(tz_wallet *w, size_t i);

/* Removes spends[i] / deposits[i]. */
void tz_wallet_remove_spend(tz_wallet *w, size_t i);
void tz_wallet_remove_deposit(tz_wallet *w, size_t i);

/* Appends a pending spend: a copy of the nullifiers, `description`, and
 * `operation_hash` when non-NULL. */
tz_status tz_wallet_add_spend(tz_wallet *w, const tz_felt *nullifiers, size_t n,
                              const char *description, const char *operation_hash) TZ_WUR;

/* Appends a pending deposit (copied; obj may be NULL). */
tz_status tz_wallet_add_deposit(tz_wallet *w, const tz_pending_deposit *d) TZ_WUR;

/* Records an observed cm (deduplicated). */
tz_status tz_wallet_observe_cm(tz_wallet *w, const tz_felt *cm) TZ_WUR;
bool tz_wallet_cm_observed(const tz_wallet *w, const tz_felt *cm);

/* Starts the scan at a chain state checked against its root: cursor and
 * frontier `f` (its size is the cursor), nullifier cursor `nf_count`, and
 * that state as the last verified one (init --at-head). */
void tz_wallet_start_verified(tz_wallet *w, const tz_frontier *f, uint64_t nf_count);

/* Sets the sync cursor to `scanned` and the frontier of the leaves below
 * it (copied; NULL: unknown). Nothing else changes. */
void tz_wallet_set_scan(tz_wallet *w, uint64_t scanned, const tz_felt frontier[48]);

/* Resets the sync cursor to `scanned` and forgets the frontier (unless a
 * frontier is given, whose size must equal scanned), the nullifier cursor
 * and the verified state (tz_wallet_mark_verified records a new one). */
void tz_wallet_reset_cursor(tz_wallet *w, uint64_t scanned, const tz_felt frontier[48]);

/* Starts the witness of a note at leaf before->size with commitment cm
 * (the frontier just before the leaf is appended), unless the wallet has
 * one for that leaf. Returns TZ_OK, TZ_EINVAL (tree full) or TZ_ENOMEM. */
tz_status tz_wallet_witness_start(tz_wallet *w, const tz_frontier *before, const tz_felt *cm) TZ_WUR;

/* Appends leaf `cm` at `index` to every witness that has exactly `index`
 * leaves; a witness further behind (a gap: it can no longer be kept) is
 * dropped, one already past `index` (a range scanned again) is left as it
 * is. Returns the number dropped. */
size_t tz_wallet_witness_append(tz_wallet *w, uint64_t index, const tz_felt *cm);

/* The witness of the note at leaf `pos` with commitment `cm`, or NULL. */
const tz_witness *tz_wallet_witness_of(const tz_wallet *w, uint64_t pos, const tz_felt *cm);

/* The witness a spend of that note uses: its state at the last verified
 * state, whose root the chain gave at a pinned block (so the kernel
 * recorded it), never a provisional one of a sync under way (a tree size
 * inside a block's transactions has a root the kernel never recorded).
 * NULL when there is none (nothing verified yet, or the note was found
 * after the last verified state). */
const tz_witness *tz_wallet_spend_witness_of(const tz_wallet *w, uint64_t pos,
                                             const tz_felt *cm);

/* Keeps only the witnesses that describe the tree of `size` leaves with
 * root `root` and belong to a note of the wallet; returns the number
 * dropped (each a witness that can no longer give a valid path). */
size_t tz_wallet_witness_check(tz_wallet *w, uint64_t size, const tz_felt *root);

/* Records the current cursor, frontier, observed cms and witnesses as the
 * last verified state (the caller checked the frontier root against the
 * chain's). No-op unless the frontier of `scanned` is known. Returns TZ_OK
 * or TZ_ENOMEM (the previous verified state kept). */
tz_status tz_wallet_mark_verified(tz_wallet *w) TZ_WUR;

/* What tz_wallet_rollback_unverified undid. */
typedef struct tz_wallet_rollback {
    uint64_t from, to;          /* cursor before / after */
    size_t notes_dropped;       /* notes at leaves >= to */
    size_t observed_dropped;    /* deposit cms observed since */
} tz_wallet_rollback;

/* Returns the scan state to the last verified one: cursor, frontier and
 * witnesses of the verified state (the empty tree, no witness and
 * nullifier cursor 0 when none is recorded), notes at leaves at or past
 * that cursor dropped, deposit cms observed since forgotten. The nullifier cursor only advances at a
 * verified finalize, so it already belongs to the verified state. Fills
 * *out (may be NULL). In memory only: the caller saves. */
void tz_wallet_rollback_unverified(tz_wallet *w, tz_wallet_rollback *out);

/* Checks `w` against its `<path>.xmss-floor` (tz_floor_check): TZ_OK,
 * TZ_ESTATE when the wallet is behind the floor (a stale backup that would
 * reuse one-time keys), TZ_EIO / TZ_EPARSE for an unreadable or malformed
 * floor, TZ_ENOMEM. Reads only. */
tz_status tz_wallet_floor_check(const tz_wallet *w, tz_error *err) TZ_WUR;

/* The position in w->addresses of the record of address `index`, or
 * SIZE_MAX when the file has none. */
size_t tz_wallet_address_pos(const tz_wallet *w, uint32_t index);

/* Notes whose addr_index names no address record of the file (a file
 * edited by hand or by another program): their count, and the sum of
 * their values into *value (saturating). Such notes count in the balance
 * and no address lists them, as in the reference. */
size_t tz_wallet_orphan_notes(const tz_wallet *w, uint64_t *value);

/* Releases everything and wipes master_sk. NULL is a no-op. */
void tz_wallet_free(tz_wallet *w);

#endif
