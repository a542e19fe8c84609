/* The watch-only wallet file (docs/watch.md): the reference's
 * WatchWalletFile, made from exported detection, viewing or outgoing
 * material, plus our scan state under "tzel_c_sync".
 *
 * {"mode", "version": 1, <the material's fields in its order>, "scanned",
 *  "matches" (detect) | "notes" (view, outgoing), ...unknown keys,
 *  "tzel_c_sync"}
 *
 * A tz_watch owns its parsed document (unknown keys, at the top level and
 * in every record, survive a load and a save) and typed copies of what the
 * scan works with. Secrets (the material's seed or root) are wiped by
 * tz_watch_free. Nothing here takes the lock (store/lock.h). */
#ifndef TZ_STORE_WATCH_H
#define TZ_STORE_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/status.h"
#include "core/types.h"

#define TZ_WATCH_VERSION 1
#define TZ_WATCH_MAX_BYTES ((size_t)256 << 20) /* like the wallet loader */
#define TZ_WATCH_MATERIAL_MAX_BYTES ((size_t)16 << 20)
/* Addresses a watch wallet scans for: each costs one ML-KEM key pair per
 * run (and a trial per leaf); the same cap as the addresses a sync derives. */
#define TZ_WATCH_MAX_ADDRESSES 4096
#define TZ_WATCH_SYNC_KEY "tzel_c_sync"
#define TZ_WATCH_FRONTIER_LEN 48

typedef enum tz_watch_mode {
    TZ_WATCH_DETECT,   /* detect_root, addr_count: candidate matches */
    TZ_WATCH_VIEW,     /* incoming_seed, address records: validated notes */
    TZ_WATCH_OUTGOING, /* outgoing_seed: notes this wallet sent */
} tz_watch_mode;

/* A view address record (public data). */
typedef struct tz_watch_addr {
    uint32_t index;
    tz_felt d_j, auth_root, auth_pub_seed, nk_tag;
} tz_watch_addr;

/* One record, the fields of its mode set:
 *   detect:   index, addr_index, cm
 *   view:     index, addr_index, cm, value, memo (trailing zeros removed)
 *   outgoing: index, role, value, cm, rseed, d_j, auth_root, auth_pub_seed,
 *             nk_tag */
typedef struct tz_watch_record {
    uint64_t index;
    tz_felt cm;
    uint32_t addr_index;
    uint64_t value;
    uint8_t memo[TZ_NOTE_MEMO_BYTES];
    size_t memo_len;
    uint8_t role; /* tz_out_role */
    tz_felt rseed, d_j, auth_root, auth_pub_seed, nk_tag;
    json_t *obj;  /* the object it was loaded from (unknown keys), or NULL */
} tz_watch_record;

typedef struct tz_watch {
    char *path;
    json_t *doc;              /* the whole document (unknown keys) */
    tz_watch_mode mode;
    tz_felt key;              /* detect_root | incoming_seed | outgoing_seed (secret) */
    uint32_t addr_count;      /* detect */
    tz_watch_addr *addrs;     /* view, strictly increasing index */
    size_t n_addrs;
    uint64_t scanned;
    tz_watch_record *recs;    /* leaf order */
    size_t n_recs, cap_recs;
    /* tzel_c_sync: the frontier of the leaves below `scanned` when known,
     * and the last verified state (docs/sync.md): the leaves below
     * verified_size gave the chain's root. */
    bool has_frontier;
    uint64_t frontier_size;
    tz_felt frontier[TZ_WATCH_FRONTIER_LEN];
    bool has_verified;
    uint64_t verified_size;
    tz_felt verified_frontier[TZ_WATCH_FRONTIER_LEN];
} tz_watch;

/* "detect", "view" or "outgoing". */
const char *tz_watch_mode_name(tz_watch_mode m);

/* Makes a new watch wallet (scanned 0, no records) at `path` from exported
 * material (`len` bytes of JSON text; `what` names its source in
 * messages). The material must be exactly what export-detect|view|outgoing
 * write: a known `mode`, `version` 1, every field of the mode present,
 * felts as 64 hex characters below 2^251, addr_count and address indices
 * u32, at most TZ_WATCH_MAX_ADDRESSES addresses, address records in
 * strictly increasing index order. Returns TZ_OK (*out owned by the
 * caller, nothing written), or TZ_EPARSE / TZ_EINVAL with a message naming
 * the field ("watch material m.json: field addresses[1].index: ..."),
 * TZ_ENOMEM. */
tz_status tz_watch_from_material(const char *path, const char *text, size_t len,
                                 const char *what, tz_watch **out, tz_error *err) TZ_WUR;

/* Reads and validates the watch wallet at `path` (at most
 * TZ_WATCH_MAX_BYTES; the same rules as the material, plus `scanned`, the
 * records and tzel_c_sync). Returns TZ_OK (*out owned by the caller),
 * TZ_ENOTFOUND (no file), TZ_EIO, TZ_EPARSE ("parse watch wallet PATH:
 * field F: ..."), TZ_ENOMEM. */
tz_status tz_watch_load(const char *path, tz_watch **out, tz_error *err) TZ_WUR;

/* Serializes `w` (serde_json's pretty layout, the reference's key order,
 * unknown keys after, u64 values exact) into a new buffer (*out, *len;
 * wipe and free it: it holds the material's secret). TZ_OK or TZ_ENOMEM. */
tz_status tz_watch_dump(tz_watch *w, char **out, size_t *len, tz_error *err) TZ_WUR;

/* Saves `w` atomically (tz_atomic_write, mode 0600). With `exclusive` the
 * file is created only if it does not exist (tz_atomic_create: TZ_EEXIST,
 * nothing changed, when it does). Refuses a path that is a symlink
 * (TZ_EINVAL). Returns TZ_OK, TZ_EEXIST, TZ_EIO, TZ_ENOMEM; the old file
 * is untouched on failure. */
tz_status tz_watch_save(tz_watch *w, bool exclusive, tz_error *err) TZ_WUR;

/* Records `r` (r->obj must be NULL) unless a record with the same index and
 * cm is already there, keeping leaf order. Sets *added. TZ_OK or
 * TZ_ENOMEM (nothing changed). */
tz_status tz_watch_add_record(tz_watch *w, const tz_watch_record *r, bool *added) TZ_WUR;

/* Sets the cursor and the frontier of the leaves below it (NULL: unknown). */
void tz_watch_set_scan(tz_watch *w, uint64_t cursor, const tz_felt *frontier);

/* The current cursor and frontier become the last verified state. */
void tz_watch_mark_verified(tz_watch *w);

/* Returns to the last verified state (the empty tree when there is none):
 * cursor and frontier back to it, the records at leaves at or past it
 * dropped. Sets *from, *to (cursors) and *dropped (records). */
void tz_watch_rollback_unverified(tz_watch *w, uint64_t *from, uint64_t *to,
                                  size_t *dropped);

/* The reference's watch status as JSON (a new reference, NULL when out of
 * memory): mode, scanned, tracked, incoming_total, outgoing_total (sums
 * of values, exact beyond 2^64), spend_status, then matches / notes /
 * outgoing_notes when not empty. */
json_t *tz_watch_status_json(const tz_watch *w);

/* The JSON object of record i as the reference writes it (a new
 * reference, NULL when out of memory). */
json_t *tz_watch_record_json(const tz_watch *w, size_t i);

/* Releases `w`, wiping the secret. NULL is a no-op. */
void tz_watch_free(tz_watch *w);

#endif
