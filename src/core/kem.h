/* Deterministic ML-KEM-768 (FIPS 203 final) over PQClean, plus the
 * detection fast path. No allocation; secrets live in fixed buffers. */
#ifndef TZ_CORE_KEM_H
#define TZ_CORE_KEM_H

#include <stdint.h>

#include "core/types.h"

typedef struct {
    uint8_t ek[TZ_KEM_EK_BYTES];
    uint8_t dk[TZ_KEM_DK_BYTES];
} tz_kem_keypair;

/* KeyGen_internal(d = seed[0..32], z = seed[32..64]) into *kp. Cannot fail.
 * The caller wipes kp with tz_kem_keypair_wipe when done. */
void tz_kem_keygen(tz_kem_keypair *kp, const uint8_t seed[TZ_KEM_SEED_BYTES]);

/* Encaps_internal(ek, m = coins): writes ct[1088] and ss[32]. Cannot fail;
 * ek is used as given (no modulus check). */
void tz_kem_encaps(uint8_t ct[TZ_KEM_CT_BYTES], uint8_t ss[TZ_KEM_SS_BYTES],
                   const uint8_t ek[TZ_KEM_EK_BYTES], const uint8_t coins[32]);

/* Standard decapsulation with implicit rejection: writes ss[32]; a
 * malformed or foreign ciphertext yields a pseudo-random ss. Cannot fail. */
void tz_kem_decaps(uint8_t ss[TZ_KEM_SS_BYTES], const uint8_t ct[TZ_KEM_CT_BYTES],
                   const uint8_t dk[TZ_KEM_DK_BYTES]);

/* Detection fast path: PQClean's IND-CPA decryption then its hash G over
 * m || H(ek) (H(ek) as stored in dk), no re-encryption. For an honestly
 * made ciphertext ss equals tz_kem_decaps'; for anything else it is an
 * unrelated value (only fit for the detection filter, never for keys that
 * protect data). Cannot fail. */
void tz_kem_decaps_detect(uint8_t ss[TZ_KEM_SS_BYTES], const uint8_t ct[TZ_KEM_CT_BYTES],
                          const uint8_t dk[TZ_KEM_DK_BYTES]);

/* A detection ciphertext made ready once for many keys: the NTT of its
 * first part and its second part, decompressed (PQClean's polyvec and
 * poly, 4 x 256 coefficients). Public data. */
typedef struct tz_kem_ct_ready {
    _Alignas(32) int16_t coeffs[4 * 256];
} tz_kem_ct_ready;

/* The key-independent half of tz_kem_decaps_detect: decompresses ct and
 * transforms its first part once. Cannot fail. */
void tz_kem_detect_prepare(tz_kem_ct_ready *out, const uint8_t ct[TZ_KEM_CT_BYTES]);

/* The key-dependent half: the same ss as tz_kem_decaps_detect(ss, ct, dk)
 * for the ct `r` was prepared from, at the cost of one key's work (a
 * wallet scanning for many addresses prepares each leaf once). */
void tz_kem_decaps_detect_ready(uint8_t ss[TZ_KEM_SS_BYTES], const tz_kem_ct_ready *r,
                                const uint8_t dk[TZ_KEM_DK_BYTES]);

/* A detection secret key unpacked once for many ciphertexts: PQClean's
 * polyvec of the IND-CPA secret, and H(ek). Secret: wipe it with
 * tz_kem_detect_key_wipe. */
typedef struct tz_kem_detect_key {
    _Alignas(32) int16_t coeffs[3 * 256];
    uint8_t hek[32];
} tz_kem_detect_key;

/* Unpacks dk's IND-CPA secret and H(ek) into *k. Cannot fail. */
void tz_kem_detect_key_init(tz_kem_detect_key *k, const uint8_t dk[TZ_KEM_DK_BYTES]);

/* tz_kem_decaps_detect_ready with the key already unpacked: the same ss,
 * without unpacking the secret for every ciphertext. */
void tz_kem_decaps_detect_key(uint8_t ss[TZ_KEM_SS_BYTES], const tz_kem_ct_ready *r,
                              const tz_kem_detect_key *k);

/* Zeroes a detection key. */
void tz_kem_detect_key_wipe(tz_kem_detect_key *k);

/* Zeroes the whole key pair. */
void tz_kem_keypair_wipe(tz_kem_keypair *kp);

#endif
