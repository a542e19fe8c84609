/* Fixed-size protocol objects shared across the core: payment addresses,
 * encrypted and published notes. Canonical encodings live in wire.h. */
#ifndef TZ_CORE_TYPES_H
#define TZ_CORE_TYPES_H

#include <stdint.h>

#include "core/felt.h"

#define TZ_KEM_EK_BYTES 1184
#define TZ_KEM_DK_BYTES 2400
#define TZ_KEM_CT_BYTES 1088
#define TZ_KEM_SS_BYTES 32
#define TZ_KEM_SEED_BYTES 64

#define TZ_NOTE_MEMO_BYTES 1024
#define TZ_NOTE_NONCE_BYTES 12
#define TZ_NOTE_DATA_BYTES 1080   /* AEAD(v[8] rseed[32] memo[1024]) + 16 tag */
#define TZ_NOTE_OUT_BYTES 185     /* AEAD(169-byte outgoing plaintext) + 16 */
#define TZ_NOTE_TAG_LIMIT 1024    /* detection tag < 2^10 */

/* Canonical encodings (core/wire.h), in bytes. PaymentAddress: d_j
 * auth_root auth_pub_seed nk_tag ek_v ek_d, 2,496 bytes (4,992 hex
 * characters). EncryptedNote: ct_d tag[u16le] ct_v nonce encrypted_data
 * outgoing_ct, 3,455 bytes. PublishedNote: cm EncryptedNote, 3,487 bytes.
 * NoteMemo: u64le index PublishedNote, 3,495 bytes. */
#define TZ_PAYMENT_ADDRESS_BYTES (4 * TZ_FELT_BYTES + 2 * TZ_KEM_EK_BYTES)
#define TZ_ENC_NOTE_BYTES                                                                    \
    (2 * TZ_KEM_CT_BYTES + 2 + TZ_NOTE_NONCE_BYTES + TZ_NOTE_DATA_BYTES + TZ_NOTE_OUT_BYTES)
#define TZ_PUBLISHED_NOTE_BYTES (TZ_FELT_BYTES + TZ_ENC_NOTE_BYTES)
#define TZ_NOTE_MEMO_WIRE_BYTES (8 + TZ_PUBLISHED_NOTE_BYTES)
_Static_assert(TZ_PAYMENT_ADDRESS_BYTES == 2496, "PaymentAddress is 2,496 bytes");
_Static_assert(TZ_ENC_NOTE_BYTES == 3455, "EncryptedNote is 3,455 bytes");
_Static_assert(TZ_PUBLISHED_NOTE_BYTES == 3487, "PublishedNote is 3,487 bytes");

/* A payment address: what a sender needs to pay address j. */
typedef struct tz_payment_address {
    tz_felt d_j;
    tz_felt auth_root;
    tz_felt auth_pub_seed;
    tz_felt nk_tag;
    uint8_t ek_v[TZ_KEM_EK_BYTES];
    uint8_t ek_d[TZ_KEM_EK_BYTES];
} tz_payment_address;

/* EncryptedNote, field by field in wire order. */
typedef struct tz_enc_note {
    uint8_t ct_d[TZ_KEM_CT_BYTES];
    uint16_t tag;
    uint8_t ct_v[TZ_KEM_CT_BYTES];
    uint8_t nonce[TZ_NOTE_NONCE_BYTES];
    uint8_t encrypted_data[TZ_NOTE_DATA_BYTES];
    uint8_t outgoing_ct[TZ_NOTE_OUT_BYTES];
} tz_enc_note;

/* PublishedNote: the bytes the chain stores per leaf. */
typedef struct tz_published_note {
    tz_felt cm;
    tz_enc_note enc;
} tz_published_note;

#endif
