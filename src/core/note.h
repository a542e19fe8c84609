/* Note encryption, detection, opening and acceptance, outgoing recovery
 * (PROTOCOL.md "Notes"). A tz_note_receiver holds everything one address
 * needs to scan the chain, derived once (two ML-KEM key generations).
 * No allocation; secrets live in fixed buffers and are wiped by *_wipe. */
#ifndef TZ_CORE_NOTE_H
#define TZ_CORE_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/kem.h"
#include "core/keys.h"
#include "core/status.h"
#include "core/types.h"

#define TZ_NOTE_PLAIN_BYTES (8 + 32 + TZ_NOTE_MEMO_BYTES)  /* 1064 */
#define TZ_NOTE_OUT_PLAIN_BYTES 169
#define TZ_NOTE_DEFAULT_MEMO_BYTE 0xF6   /* memo[0] of the "no memo" memo */

/* Outgoing recovery roles (the first plaintext byte). */
typedef enum tz_out_role {
    TZ_OUT_SHIELD_OUTPUT = 1,
    TZ_OUT_PRODUCER_FEE = 2,
    TZ_OUT_TRANSFER_RECIPIENT = 3,
    TZ_OUT_TRANSFER_CHANGE = 4,
    TZ_OUT_UNSHIELD_CHANGE = 5,
} tz_out_role;

/* Per-address scanning state. */
typedef struct tz_note_receiver {
    uint32_t index;
    tz_felt d_j, auth_root, auth_pub_seed, nk_tag, nk_spend, owner_tag;
    tz_kem_keypair kv, kd; /* viewing and detection ML-KEM key pairs */
    tz_kem_detect_key kd_ready; /* kd's secret unpacked, once kd_ready_set */
    bool kd_ready_set;
} tz_note_receiver;

/* The opened contents of a note. */
typedef struct {
    uint64_t v;
    tz_felt rseed;
    uint8_t memo[TZ_NOTE_MEMO_BYTES];
} tz_note_plain;

/* Outgoing recovery plaintext (169 bytes on the wire:
 * role[1] v[8] rseed d_j auth_root pub_seed nk_tag). */
typedef struct {
    uint8_t role; /* tz_out_role */
    uint64_t v;
    tz_felt rseed, d_j, auth_root, auth_pub_seed, nk_tag;
} tz_note_outgoing;

/* Prepares address j of `keys` for scanning: derives d_j, nk_spend, nk_tag,
 * pub_seed, both ML-KEM key pairs, and owner_tag from the caller's
 * auth_root (stored in the wallet). Returns TZ_OK, or TZ_EINVAL on NULL
 * arguments (r zeroed). Wipe r with tz_note_receiver_wipe. */
tz_status tz_note_receiver_init(tz_note_receiver *r, const tz_keys *keys, uint32_t j,
                                const tz_felt *auth_root) TZ_WUR;

/* Zeroes the receiver. */
void tz_note_receiver_wipe(tz_note_receiver *r);

/* The payment address of the receiver (public data). */
void tz_note_receiver_address(const tz_note_receiver *r, tz_payment_address *out);

/* Unpacks r->kd's secret for tz_note_detect_ready (tz_note_receiver_init
 * does it; a caller that fills kd itself calls this after). */
void tz_note_receiver_ready(tz_note_receiver *r);

/* Detection tag of a detection shared secret: (H(ss)[0] | H(ss)[1] << 8) & 0x3ff. */
uint16_t tz_note_tag_from_ss(const uint8_t ss_d[TZ_KEM_SS_BYTES]);

/* Detection filter (fast path): true iff the tag computed from ct_d
 * matches n->tag (constant-time compare). A foreign note passes with
 * probability about 2^-10; acceptance needs tz_note_open. */
bool tz_note_detect(const tz_note_receiver *r, const tz_enc_note *n);

/* tz_note_detect for a ct_d made ready once (tz_kem_detect_prepare of
 * n->ct_d) and its tag: the same verdict, one key's work. */
bool tz_note_detect_ready(const tz_note_receiver *r, const tz_kem_ct_ready *ct_d, uint16_t tag);

/* Full acceptance of a note at the chain commitment *cm: decapsulates ct_v
 * (standard decapsulation), opens the AEAD with key H(ss_v) and n->nonce,
 * then recomputes cm from (d_j, v, rcm(rseed), owner_tag). Returns TZ_OK
 * with *out filled, TZ_ECRYPTO if the AEAD does not open, TZ_EMISMATCH if
 * the commitment differs. On failure *out is zeroed. Does not check the
 * detection tag. */
tz_status tz_note_open(const tz_note_receiver *r, const tz_felt *cm, const tz_enc_note *n,
                       tz_note_plain *out) TZ_WUR;

/* Trial decryption of one published note against n_rs receivers: detection
 * on each, full open on candidates. Returns TZ_OK with *which (index into
 * rs) and *out set for the first receiver that accepts, TZ_ENOTFOUND
 * otherwise (*out zeroed). `which` may be NULL. */
tz_status tz_note_trial(const tz_note_receiver *rs, size_t n_rs, const tz_published_note *pn,
                        size_t *which, tz_note_plain *out) TZ_WUR;

/* Encrypts a note to `to` exactly as the reference does, with explicit
 * ML-KEM ephemerals: ct_d/tag from Encaps(ek_d, coins_d), ct_v from
 * Encaps(ek_v, coins_v), key = H(ss_v), nonce = BLAKE2s_mnon(key ||
 * plaintext)[0..12], plaintext = u64le v || rseed || memo[1024]. `memo`
 * points to 1024 bytes, or is NULL for the default memo (0xF6 then zeros).
 * With a non-NULL outgoing_seed (the sender's) outgoing_ct is the
 * recovery ciphertext with role TZ_OUT_SHIELD_OUTPUT; with NULL it is 185
 * zero bytes. Writes *out and *cm_out. Returns TZ_OK, or TZ_EINVAL on NULL
 * required arguments (out untouched). */
tz_status tz_note_encrypt(tz_enc_note *out, tz_felt *cm_out, const tz_payment_address *to,
                          uint64_t v, const tz_felt *rseed, const uint8_t *memo,
                          const uint8_t coins_d[32], const uint8_t coins_v[32],
                          const tz_felt *outgoing_seed) TZ_WUR;

/* Same as tz_note_encrypt with an explicit outgoing recovery role. */
tz_status tz_note_encrypt_role(tz_enc_note *out, tz_felt *cm_out, const tz_payment_address *to,
                               uint64_t v, const tz_felt *rseed, const uint8_t *memo,
                               const uint8_t coins_d[32], const uint8_t coins_v[32],
                               const tz_felt *outgoing_seed, tz_out_role role) TZ_WUR;

/* Low-level memo AEAD given the viewing shared secret: writes nonce[12] and
 * data[1080] for plaintext u64le v || rseed || memo[1024] (memo NULL =
 * default memo). Cannot fail. */
void tz_note_seal(uint8_t nonce[TZ_NOTE_NONCE_BYTES], uint8_t data[TZ_NOTE_DATA_BYTES],
                  const uint8_t ss_v[TZ_KEM_SS_BYTES], uint64_t v, const tz_felt *rseed,
                  const uint8_t *memo);

/* Inverse of tz_note_seal: TZ_OK with *out filled, or TZ_ECRYPTO (out
 * zeroed) when the AEAD does not open. */
tz_status tz_note_unseal(tz_note_plain *out, const uint8_t ss_v[TZ_KEM_SS_BYTES],
                         const uint8_t nonce[TZ_NOTE_NONCE_BYTES],
                         const uint8_t data[TZ_NOTE_DATA_BYTES]) TZ_WUR;

/* memo[1024] from `len` user bytes (truncated to 1024, zero padded); a NULL
 * `data` gives the default memo (0xF6 then zeros). */
void tz_note_memo_pad(uint8_t memo[TZ_NOTE_MEMO_BYTES], const uint8_t *data, size_t len);

/* Outgoing recovery: key = BLAKE2s_ovkK(outgoing_seed || cm), nonce =
 * BLAKE2s_ovkN(key || cm)[0..12], ChaCha20-Poly1305 of the 169-byte
 * plaintext. Writes ct[185]. Cannot fail. */
void tz_note_outgoing_encrypt(uint8_t ct[TZ_NOTE_OUT_BYTES], const tz_felt *outgoing_seed,
                              const tz_felt *cm, const tz_note_outgoing *pt);

/* Opens outgoing_ct under the sender's outgoing_seed and checks it:
 * TZ_OK with *out, TZ_ECRYPTO if the AEAD does not open, TZ_EINVAL for an
 * unknown role byte, TZ_EMISMATCH when the recovered opening does not
 * commit to *cm. *out zeroed on failure. */
tz_status tz_note_outgoing_decrypt(tz_note_outgoing *out, const tz_felt *outgoing_seed,
                                   const tz_felt *cm, const uint8_t ct[TZ_NOTE_OUT_BYTES]) TZ_WUR;

/* Short name of a role ("shield_output", ...), or NULL if unknown. */
const char *tz_out_role_name(uint8_t role);

#endif
