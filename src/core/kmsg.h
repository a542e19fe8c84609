/* Kernel inbox messages (SPENDS.md section 7): the bytes a wallet hands
 * the operator for a shield, transfer or unshield, and the DAL pointer the
 * operator injects for payloads too large for the inbox.
 *
 * Layout: u16le version 17, u8 tag, then the body. "dyn" is a u32
 * big-endian byte length followed by that many bytes, and what it wraps
 * must fill it exactly; an option is 0x00, or 0xFF followed by the value.
 *   PROOF = dyn{ u32be len, proof bytes, u32be count, count x 32-byte felt }
 *   ENC   = dyn{ EncryptedNote (3,455 bytes, core/wire.h) }
 *   shield   (2): pkh, fee, v, producer_fee (u64le), PROOF, client cm,
 *                 client EncryptedNote, producer cm, producer EncryptedNote
 *   transfer (3): dyn{ root, dyn{dyn{N x nf}}, fee u64le, cm_1, cm_2, cm_3,
 *                 PROOF, ENC_1, ENC_2, ENC_3 }
 *   unshield (4): dyn{ root, dyn{dyn{N x nf}}, v_pub u64le, fee u64le,
 *                 recipient (u32be len + UTF-8), cm_change, PROOF,
 *                 option ENC change, cm_fee, ENC fee }
 *   DAL pointer (6): kind u8, dyn{dyn{k x (level u64le, slot u8,
 *                 len u64le)}}, payload_hash, payload_len u64le
 * The length caps are the reference kernel's (see the constants below).
 *
 * Ownership: a decoded message owns its proof buffers (malloc'd), released
 * by tz_kmsg_free. A message built by the caller for encoding may point
 * its proof at any memory; the encoder only reads it. */
#ifndef TZ_CORE_KMSG_H
#define TZ_CORE_KMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/status.h"
#include "core/types.h"

#define TZ_KMSG_VERSION 17
#define TZ_KMSG_MAX_INPUTS 7                    /* nullifiers per spend: 1..7 */
#define TZ_KMSG_MAX_PROOF_BYTES (8u << 20)      /* proof_bytes */
#define TZ_KMSG_MAX_PREIMAGE 1024               /* output_preimage felts */
#define TZ_KMSG_MAX_RECIPIENT_BYTES 1024        /* unshield recipient */
#define TZ_KMSG_DAL_CHUNK_BYTES 17              /* u64 level, u8 slot, u64 len */
#define TZ_KMSG_MAX_DAL_CHUNKS 15               /* the list is capped at 256 bytes */

typedef enum tz_kmsg_kind {
    TZ_KMSG_SHIELD = 2,
    TZ_KMSG_TRANSFER = 3,
    TZ_KMSG_UNSHIELD = 4,
    TZ_KMSG_DAL_POINTER = 6,
} tz_kmsg_kind;

/* Payload kinds a DAL pointer names (its own numbering). */
typedef enum tz_kmsg_dal_kind {
    TZ_KMSG_DAL_SHIELD = 0,
    TZ_KMSG_DAL_TRANSFER = 1,
    TZ_KMSG_DAL_UNSHIELD = 2,
    TZ_KMSG_DAL_CONFIGURE_VERIFIER = 3,
    TZ_KMSG_DAL_CONFIGURE_BRIDGE = 4,
} tz_kmsg_dal_kind;

/* A STARK proof as the kernel carries it: compressed proof bytes and the
 * bootloader output preimage (core/sighash.h describes its layout). */
typedef struct tz_kmsg_proof {
    uint8_t *bytes;
    size_t len;
    tz_felt *preimage;
    size_t n_preimage;
} tz_kmsg_proof;

typedef struct tz_kmsg_shield {
    tz_felt pubkey_hash;
    uint64_t fee, v, producer_fee;
    tz_kmsg_proof proof;
    tz_felt client_cm;
    tz_enc_note client_enc;
    tz_felt producer_cm;
    tz_enc_note producer_enc;
} tz_kmsg_shield;

typedef struct tz_kmsg_transfer {
    tz_felt root;
    size_t n_nf; /* 1..TZ_KMSG_MAX_INPUTS */
    tz_felt nf[TZ_KMSG_MAX_INPUTS];
    uint64_t fee;
    tz_felt cm[3];
    tz_kmsg_proof proof;
    tz_enc_note enc[3];
} tz_kmsg_transfer;

typedef struct tz_kmsg_unshield {
    tz_felt root;
    size_t n_nf; /* 1..TZ_KMSG_MAX_INPUTS */
    tz_felt nf[TZ_KMSG_MAX_INPUTS];
    uint64_t v_pub, fee;
    size_t recipient_len;                             /* bytes, <= 1024 */
    char recipient[TZ_KMSG_MAX_RECIPIENT_BYTES + 1];  /* UTF-8, NUL after */
    tz_felt cm_change;
    tz_kmsg_proof proof;
    bool has_enc_change;
    tz_enc_note enc_change;
    tz_felt cm_fee;
    tz_enc_note enc_fee;
} tz_kmsg_unshield;

typedef struct tz_kmsg_dal_chunk {
    uint64_t published_level;
    uint8_t slot_index;
    uint64_t payload_len;
} tz_kmsg_dal_chunk;

typedef struct tz_kmsg_dal_pointer {
    uint8_t kind; /* tz_kmsg_dal_kind */
    size_t n_chunks; /* 1..TZ_KMSG_MAX_DAL_CHUNKS */
    tz_kmsg_dal_chunk chunks[TZ_KMSG_MAX_DAL_CHUNKS];
    tz_felt payload_hash;
    uint64_t payload_len;
} tz_kmsg_dal_pointer;

typedef struct tz_kmsg {
    tz_kmsg_kind kind;
    union {
        tz_kmsg_shield shield;
        tz_kmsg_transfer transfer;
        tz_kmsg_unshield unshield;
        tz_kmsg_dal_pointer dal;
    } u;
} tz_kmsg;

/* Size in bytes of the encoding of *m, or 0 when m is not encodable (the
 * checks of tz_kmsg_encode). */
size_t tz_kmsg_encoded_len(const tz_kmsg *m);

/* Encodes *m into a new buffer: TZ_OK with *out (free() it) and *out_len,
 * or TZ_EINVAL with a message when a count or length is outside its range
 * (nullifiers 1..7, proof bytes, preimage, recipient length, recipient not
 * UTF-8, a note tag >= 2^10, DAL chunks 1..15, DAL kind > 4, unknown
 * kind), TZ_ENOMEM when allocation fails. *out untouched on failure. */
tz_status tz_kmsg_encode(const tz_kmsg *m, uint8_t **out, size_t *out_len, tz_error *err) TZ_WUR;

/* Decodes exactly one message from buf[0..len): TZ_OK with *out filled
 * (its proof buffers belong to it: tz_kmsg_free), TZ_EINVAL with a message
 * naming the field for a wrong version, an unknown or unsupported tag
 * (configuration messages 0 and 1 are not decoded), a length past the end
 * or over its cap, a dyn not filled exactly, a nullifier count outside
 * 1..7 (the wire allows more; the kernel refuses them), a bad note (length
 * or tag), an option byte other than 0x00/0xFF, a recipient that is not
 * UTF-8, or trailing bytes; TZ_ENOMEM when the proof cannot be copied.
 * Never reads outside buf[0..len); allocates only after the whole message
 * has parsed. *out untouched on failure. */
tz_status tz_kmsg_decode(tz_kmsg *out, const uint8_t *buf, size_t len, tz_error *err) TZ_WUR;

/* Frees p->bytes and p->preimage (malloc'd, as tz_kmsg_decode and
 * spend/bundle.h make them) and sets the proof to empty. p may be NULL. */
void tz_kmsg_proof_free(tz_kmsg_proof *p);

/* tz_kmsg_proof_free on the proof of a shield, transfer or unshield
 * message; nothing else is released. m may be NULL. */
void tz_kmsg_free(tz_kmsg *m);

/* The proof part of a shield, transfer or unshield message, or NULL. */
tz_kmsg_proof *tz_kmsg_proof_of(tz_kmsg *m);

/* True when s[0..len) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), as the kernel requires of the
 * unshield recipient. */
bool tz_kmsg_utf8_valid(const char *s, size_t len);

/* Short name of a message kind ("transfer", ...), or NULL if unknown. */
const char *tz_kmsg_kind_name(int kind);

#endif
