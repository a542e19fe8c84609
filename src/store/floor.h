/* `<wallet>.xmss-floor`: the durable high-water mark of one-time (WOTS)
 * key use, kept outside the wallet so restoring an old wallet backup
 * cannot silently reuse a one-time key (WALLET_FILE.md). */
#ifndef TZ_STORE_FLOOR_H
#define TZ_STORE_FLOOR_H

#include "core/status.h"
#include "store/wallet.h"

/* Appended to the wallet path to name the floor file. */
#define TZ_FLOOR_SUFFIX ".xmss-floor"

/* Writes `<w->path>.xmss-floor` atomically (mode 0600):
 * {"wallet_fingerprint": H(master_sk), "addr_counter": n,
 *  "wots_key_indices": {...}} where each index is the larger of the file's
 * wots_key_indices entry and that address's bds.next_index, in ascending
 * index order (the reference's map order varies per run). Skips the
 * write when the content equals what this wallet object last wrote and the
 * file is still there with that size. Returns TZ_OK, TZ_EIO or TZ_ENOMEM;
 * on failure the old floor file is intact. */
tz_status tz_floor_write(tz_wallet *w, tz_error *err) TZ_WUR;

/* Checks `w` against `<w->path>.xmss-floor`. No floor file, or a floor of
 * another wallet (fingerprint differs): TZ_OK. Wallet behind the floor
 * (addr_counter lower, or any address's next one-time key index lower):
 * TZ_ESTATE, with the reference's message ("wallet appears to be restored
 * from a stale backup: addr_counter N is behind durable XMSS floor F" or
 * "...: address I next_wots_index N is behind durable XMSS floor F") then
 * an em dash (U+2014) between spaces and our explanation. The index compared is
 * wots_key_indices[I], else that address's bds.next_index, else 0.
 * Unreadable or malformed floor: TZ_EIO / TZ_EPARSE ("parse xmss floor:
 * ..."). Reads only. */
tz_status tz_floor_check(const tz_wallet *w, tz_error *err) TZ_WUR;

#endif
