/* `<wallet>.xmss-floor`: the durable high-water mark of one-time (WOTS)
 * key use, kept outside the wallet so restoring an old wallet backup
 * cannot silently reuse a one-time key (WALLET_FILE.md). */
#ifndef TZ_STORE_FLOOR_H
#define TZ_STORE_FLOOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/status.h"

/* Appended to the wallet path to name the floor file. */
#define TZ_FLOOR_SUFFIX ".xmss-floor"

/* What the floor records of one wallet, built by the wallet module
 * (tz_wallet_floor_check, tz_wallet_save): the floor never reads a wallet. */
typedef struct tz_floor_entry {
    uint32_t index;   /* address index */
    uint64_t current; /* the next one-time key the wallet would use: its
                         wots_key_indices entry, else the record's
                         bds.next_index, else 0 (the reference's rule) */
    uint64_t floor;   /* what the floor keeps: the larger of the entry and
                         bds.next_index */
} tz_floor_entry;

typedef struct tz_floor_state {
    const char *wallet_path;        /* the floor is `<wallet_path>.xmss-floor` */
    tz_felt fingerprint;            /* H(master_sk) (core/keys.h) */
    uint32_t addr_counter;
    const tz_floor_entry *entries;  /* ascending, distinct indices */
    size_t n;
} tz_floor_state;

/* Digest and size of the floor file a wallet object last wrote, so an
 * unchanged floor is not rewritten (and fsynced) on every save. Zero:
 * nothing written yet. */
typedef struct tz_floor_cache {
    uint8_t digest[32];
    size_t len;
} tz_floor_cache;

/* Writes `<s->wallet_path>.xmss-floor` atomically (mode 0600):
 * {"wallet_fingerprint": hex, "addr_counter": n, "wots_key_indices":
 * {"<index>": floor, ...}} in ascending index order (the reference's map
 * order varies per run). Skips the write when the content equals what
 * *cache records and the file is still there with that size; updates
 * *cache. Returns TZ_OK, TZ_EIO or TZ_ENOMEM; on failure the old floor
 * file is intact. */
tz_status tz_floor_write(const tz_floor_state *s, tz_floor_cache *cache, tz_error *err) TZ_WUR;

/* Checks the state against `<s->wallet_path>.xmss-floor`. No floor file,
 * or a floor of another wallet (fingerprint differs): TZ_OK. Wallet behind
 * the floor (addr_counter lower, or any address's `current` lower than the
 * floor's entry; an index the state lacks counts as 0): TZ_ESTATE, with
 * the reference's message ("wallet appears to be restored from a stale
 * backup: addr_counter N is behind durable XMSS floor F" or "...: address
 * I next_wots_index N is behind durable XMSS floor F") then an em dash
 * (U+2014) between spaces and our explanation. Unreadable or malformed
 * floor: TZ_EIO / TZ_EPARSE ("parse xmss floor: ..."). Reads only. */
tz_status tz_floor_check(const tz_floor_state *s, tz_error *err) TZ_WUR;

#endif
