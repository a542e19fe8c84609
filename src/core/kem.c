/* ML-KEM-768 through PQClean's clean implementation. The detection fast
 * path reuses PQClean's own IND-CPA decryption (its steps, in its order,
 * split so the ciphertext's half is done once for many keys) and hash G;
 * nothing here does lattice arithmetic of its own. */
#include "core/kem.h"

#include <sodium.h>
#include <string.h>

/* PQClean headers (angle brackets: this directory also has a kem.h). */
#include <indcpa.h>
#include <kem.h>
#include <params.h>
#include <poly.h>
#include <polyvec.h>
#include <randombytes.h>
#include <symmetric.h>

_Static_assert(KYBER_PUBLICKEYBYTES == TZ_KEM_EK_BYTES, "ek size");
_Static_assert(KYBER_SECRETKEYBYTES == TZ_KEM_DK_BYTES, "dk size");
_Static_assert(KYBER_CIPHERTEXTBYTES == TZ_KEM_CT_BYTES, "ct size");
_Static_assert(KYBER_SSBYTES == TZ_KEM_SS_BYTES, "ss size");
_Static_assert(2 * KYBER_SYMBYTES == TZ_KEM_SEED_BYTES, "seed size");

/* PQClean's non-derand entry points need this symbol; we never call them,
 * but they share an object file with the ones we do call. */
int PQCLEAN_randombytes(uint8_t *output, size_t n)
{
    randombytes_buf(output, n);
    return 0;
}

void tz_kem_keygen(tz_kem_keypair *kp, const uint8_t seed[TZ_KEM_SEED_BYTES])
{
    (void)PQCLEAN_MLKEM768_CLEAN_crypto_kem_keypair_derand(kp->ek, kp->dk, seed);
}

void tz_kem_encaps(uint8_t ct[TZ_KEM_CT_BYTES], uint8_t ss[TZ_KEM_SS_BYTES],
                   const uint8_t ek[TZ_KEM_EK_BYTES], const uint8_t coins[32])
{
    (void)PQCLEAN_MLKEM768_CLEAN_crypto_kem_enc_derand(ct, ss, ek, coins);
}

void tz_kem_decaps(uint8_t ss[TZ_KEM_SS_BYTES], const uint8_t ct[TZ_KEM_CT_BYTES],
                   const uint8_t dk[TZ_KEM_DK_BYTES])
{
    (void)PQCLEAN_MLKEM768_CLEAN_crypto_kem_dec(ss, ct, dk);
}

_Static_assert(sizeof(tz_kem_ct_ready) == sizeof(polyvec) + sizeof(poly), "ready ct size");

typedef struct ready {
    polyvec b; /* NTT of the ciphertext's first part */
    poly v;
} ready;

void tz_kem_detect_prepare(tz_kem_ct_ready *out, const uint8_t ct[TZ_KEM_CT_BYTES])
{
    ready r;
    PQCLEAN_MLKEM768_CLEAN_polyvec_decompress(&r.b, ct);
    PQCLEAN_MLKEM768_CLEAN_poly_decompress(&r.v, ct + KYBER_POLYVECCOMPRESSEDBYTES);
    PQCLEAN_MLKEM768_CLEAN_polyvec_ntt(&r.b);
    memcpy(out, &r, sizeof r);
}

_Static_assert(sizeof(((tz_kem_detect_key *)0)->coeffs) == sizeof(polyvec), "detect key size");

void tz_kem_detect_key_init(tz_kem_detect_key *k, const uint8_t dk[TZ_KEM_DK_BYTES])
{
    polyvec skpv;
    PQCLEAN_MLKEM768_CLEAN_polyvec_frombytes(&skpv, dk);
    memcpy(k->coeffs, &skpv, sizeof skpv);
    memcpy(k->hek, dk + KYBER_SECRETKEYBYTES - 2 * KYBER_SYMBYTES, KYBER_SYMBYTES);
    sodium_memzero(&skpv, sizeof skpv);
}

void tz_kem_detect_key_wipe(tz_kem_detect_key *k)
{
    sodium_memzero(k, sizeof *k);
}

/* The key-dependent half of the IND-CPA decryption, then G(m || H(ek)). */
static void detect_with(uint8_t ss[TZ_KEM_SS_BYTES], const ready *r, const polyvec *skpv,
                        const uint8_t hek[KYBER_SYMBYTES])
{
    poly mp;
    uint8_t buf[2 * KYBER_SYMBYTES];
    uint8_t kr[2 * KYBER_SYMBYTES];
    PQCLEAN_MLKEM768_CLEAN_polyvec_basemul_acc_montgomery(&mp, skpv, &r->b);
    PQCLEAN_MLKEM768_CLEAN_poly_invntt_tomont(&mp);
    PQCLEAN_MLKEM768_CLEAN_poly_sub(&mp, &r->v, &mp);
    PQCLEAN_MLKEM768_CLEAN_poly_reduce(&mp);
    PQCLEAN_MLKEM768_CLEAN_poly_tomsg(buf, &mp);
    memcpy(buf + KYBER_SYMBYTES, hek, KYBER_SYMBYTES);
    hash_g(kr, buf, 2 * KYBER_SYMBYTES);
    memcpy(ss, kr, KYBER_SSBYTES);
    sodium_memzero(&mp, sizeof mp);
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(kr, sizeof kr);
}

void tz_kem_decaps_detect_ready(uint8_t ss[TZ_KEM_SS_BYTES], const tz_kem_ct_ready *rd,
                                const uint8_t dk[TZ_KEM_DK_BYTES])
{
    /* read in place: PQClean takes the ciphertext's polys as const */
    polyvec skpv;
    PQCLEAN_MLKEM768_CLEAN_polyvec_frombytes(&skpv, dk);
    detect_with(ss, (const ready *)rd, &skpv, dk + KYBER_SECRETKEYBYTES - 2 * KYBER_SYMBYTES);
    sodium_memzero(&skpv, sizeof skpv);
}

void tz_kem_decaps_detect_key(uint8_t ss[TZ_KEM_SS_BYTES], const tz_kem_ct_ready *rd,
                              const tz_kem_detect_key *k)
{
    detect_with(ss, (const ready *)rd, (const polyvec *)(const void *)k->coeffs, k->hek);
}

void tz_kem_decaps_detect(uint8_t ss[TZ_KEM_SS_BYTES], const uint8_t ct[TZ_KEM_CT_BYTES],
                          const uint8_t dk[TZ_KEM_DK_BYTES])
{
    /* dk = dk_pke || ek || H(ek) || z; G(m || H(ek)) = K || r. */
    uint8_t buf[2 * KYBER_SYMBYTES];
    uint8_t kr[2 * KYBER_SYMBYTES];

    PQCLEAN_MLKEM768_CLEAN_indcpa_dec(buf, ct, dk);
    memcpy(buf + KYBER_SYMBYTES, dk + KYBER_SECRETKEYBYTES - 2 * KYBER_SYMBYTES, KYBER_SYMBYTES);
    hash_g(kr, buf, 2 * KYBER_SYMBYTES);
    memcpy(ss, kr, KYBER_SSBYTES);
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(kr, sizeof kr);
}

void tz_kem_keypair_wipe(tz_kem_keypair *kp)
{
    sodium_memzero(kp, sizeof *kp);
}
