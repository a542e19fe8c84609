/* BLAKE2s-256 (libb2), plain and personalized, and its felt-truncated form.
 * H(x) in the protocol is tz_hash(); every output that becomes a felt is
 * truncated to 251 bits. */
#ifndef TZ_CORE_HASH_H
#define TZ_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"

#define TZ_PERSONAL_BYTES 8

/* Personalizations (8 ASCII bytes). */
#define TZ_P_MRKL "mrklSP__"
#define TZ_P_NULF "nulfSP__"
#define TZ_P_CMMT "cmmtSP__"
#define TZ_P_NKSP "nkspSP__"
#define TZ_P_NKTG "nktgSP__"
#define TZ_P_OWNR "ownrSP__"
#define TZ_P_SIGH "sighSP__"
#define TZ_P_MEMO "memoSP__"
#define TZ_P_MNON "mnonSP__"
#define TZ_P_OVKK "ovkKSP__"
#define TZ_P_OVKN "ovkNSP__"
#define TZ_P_WOTS "wotsSP__"

/* One input piece of a multi-part hash. */
typedef struct tz_hash_part {
    const void *data;
    size_t len;
} tz_hash_part;

/* Full 32-byte BLAKE2s-256 of the concatenation of `n` parts, with an
 * 8-byte personalization when `personal` is non-NULL (exactly 8 bytes read).
 * Not truncated. */
void tz_blake2s(uint8_t out[32], const char *personal, const tz_hash_part *parts, size_t n);

/* H(data): unpersonalized BLAKE2s-256, truncated to a felt. */
void tz_hash(tz_felt *out, const void *data, size_t len);

/* H(a || b) for two felts (the 64-byte concatenation), truncated. */
void tz_hash2(tz_felt *out, const tz_felt *a, const tz_felt *b);

/* Personalized BLAKE2s of data, truncated to a felt. */
void tz_hash_p(tz_felt *out, const char *personal, const void *data, size_t len);

/* Personalized (or plain, when personal is NULL) BLAKE2s over parts,
 * truncated to a felt. */
void tz_hash_parts(tz_felt *out, const char *personal, const tz_hash_part *parts, size_t n);

#endif
