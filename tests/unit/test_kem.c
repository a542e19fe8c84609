/* ML-KEM-768: protocol_v1.json sections mlkem_seeds, mlkem_keygen,
 * mlkem_encaps_derand, cross_impl_encrypt (KEM part), and the detection
 * fast path against standard decapsulation on random honest
 * encapsulations. */
#include <jansson.h>
#include <sodium.h>

#include "core/kem.h"
#include "core/keys.h"
#include "tz_test_util.h"

static size_t check_seeds(const json_t *root)
{
    const json_t *arr = json_object_get(root, "mlkem_seeds");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        tz_felt r;
        uint8_t want[64], got[64];
        const char *kind = json_string_value(json_object_get(e, "kind"));
        uint32_t j = (uint32_t)json_integer_value(json_object_get(e, "j"));
        CHECK(tz_test_hex(e, "root", r.b, 32));
        CHECK(tz_test_hex(e, "seed", want, 64));
        CHECK(kind != NULL);
        if (!kind)
            continue;
        if (strcmp(kind, "view") == 0)
            tz_mlkem_seed(got, &r, "mlkem-v", "mlkem-v2", j);
        else
            tz_mlkem_seed(got, &r, "mlkem-d", "mlkem-d2", j);
        CHECK_MSG(memcmp(got, want, 64) == 0, "mlkem_seeds[%zu]", i);
        n++;
    }
    CHECK(n == 4 && n == json_array_size(arr));
    return n;
}

static size_t check_keygen(const json_t *root)
{
    const json_t *arr = json_object_get(root, "mlkem_keygen");
    size_t i, n = 0;
    json_t *e;
    static tz_kem_keypair kp;
    static uint8_t want[TZ_KEM_EK_BYTES];
    json_array_foreach(arr, i, e) {
        uint8_t seed[64];
        CHECK(tz_test_hex(e, "view_seed", seed, 64) && tz_test_hex(e, "ek_v", want, sizeof want));
        tz_kem_keygen(&kp, seed);
        CHECK_MSG(memcmp(kp.ek, want, sizeof want) == 0, "mlkem_keygen[%zu] ek_v", i);
        /* dk embeds ek after the 1152-byte IND-CPA secret key */
        CHECK(memcmp(kp.dk + 1152, want, sizeof want) == 0);
        CHECK(tz_test_hex(e, "detect_seed", seed, 64) && tz_test_hex(e, "ek_d", want, sizeof want));
        tz_kem_keygen(&kp, seed);
        CHECK_MSG(memcmp(kp.ek, want, sizeof want) == 0, "mlkem_keygen[%zu] ek_d", i);
        n++;
    }
    tz_kem_keypair_wipe(&kp);
    uint8_t zero[sizeof kp] = {0};
    CHECK(memcmp(&kp, zero, sizeof kp) == 0);
    CHECK(n == 2 && n == json_array_size(arr));
    return n;
}

/* Standard and fast-path decapsulation of ct under dk must both give ss. */
static void check_decaps_both(const uint8_t *ct, const uint8_t *dk, const uint8_t *want_ss,
                              const char *what)
{
    uint8_t ss[32], ssd[32];
    tz_kem_decaps(ss, ct, dk);
    tz_kem_decaps_detect(ssd, ct, dk);
    CHECK_MSG(memcmp(ss, want_ss, 32) == 0, "%s: decaps", what);
    CHECK_MSG(memcmp(ssd, want_ss, 32) == 0, "%s: decaps_detect", what);
}

static size_t check_encaps(const json_t *root)
{
    const json_t *arr = json_object_get(root, "mlkem_encaps_derand");
    const json_t *kg0 = json_array_get(json_object_get(root, "mlkem_keygen"), 0);
    static tz_kem_keypair kp;
    uint8_t seed[64];
    CHECK(tz_test_hex(kg0, "view_seed", seed, 64));
    tz_kem_keygen(&kp, seed); /* the vectors encapsulate to ek_v of address 0 */
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        static uint8_t ek[TZ_KEM_EK_BYTES], ct_want[TZ_KEM_CT_BYTES], ct[TZ_KEM_CT_BYTES];
        uint8_t coins[32], ss_want[32], ss[32];
        CHECK(tz_test_hex(e, "ek", ek, sizeof ek) && tz_test_hex(e, "coins", coins, 32));
        CHECK(tz_test_hex(e, "ct", ct_want, sizeof ct_want) && tz_test_hex(e, "ss", ss_want, 32));
        CHECK(memcmp(ek, kp.ek, sizeof ek) == 0);
        tz_kem_encaps(ct, ss, ek, coins);
        CHECK_MSG(memcmp(ct, ct_want, sizeof ct) == 0, "mlkem_encaps_derand[%zu] ct", i);
        CHECK_MSG(memcmp(ss, ss_want, 32) == 0, "mlkem_encaps_derand[%zu] ss", i);
        check_decaps_both(ct_want, kp.dk, ss_want, "mlkem_encaps_derand");
        n++;
    }
    tz_kem_keypair_wipe(&kp);
    CHECK(n == 3 && n == json_array_size(arr));
    return n;
}

/* cross_impl_encrypt: ct_v / ct_d with their shared secrets. */
static size_t check_cross_impl(const json_t *root)
{
    const json_t *v = json_object_get(root, "cross_impl_encrypt");
    static tz_kem_keypair kv, kd;
    static uint8_t ct[TZ_KEM_CT_BYTES], ct_want[TZ_KEM_CT_BYTES];
    uint8_t seed[64], coins[32], ss[32], ss_want[32];
    CHECK(tz_test_hex(v, "view_seed", seed, 64));
    tz_kem_keygen(&kv, seed);
    CHECK(tz_test_hex(v, "detect_seed", seed, 64));
    tz_kem_keygen(&kd, seed);

    CHECK(tz_test_hex(v, "coins_v", coins, 32) && tz_test_hex(v, "ss_v", ss_want, 32));
    CHECK(tz_test_hex(v, "ct_v", ct_want, sizeof ct_want));
    tz_kem_encaps(ct, ss, kv.ek, coins);
    CHECK(memcmp(ct, ct_want, sizeof ct) == 0 && memcmp(ss, ss_want, 32) == 0);
    check_decaps_both(ct_want, kv.dk, ss_want, "cross_impl ct_v");

    CHECK(tz_test_hex(v, "coins_d", coins, 32) && tz_test_hex(v, "ss_d", ss_want, 32));
    CHECK(tz_test_hex(v, "ct_d", ct_want, sizeof ct_want));
    tz_kem_encaps(ct, ss, kd.ek, coins);
    CHECK(memcmp(ct, ct_want, sizeof ct) == 0 && memcmp(ss, ss_want, 32) == 0);
    check_decaps_both(ct_want, kd.dk, ss_want, "cross_impl ct_d");
    tz_kem_keypair_wipe(&kv);
    tz_kem_keypair_wipe(&kd);
    return 1;
}

/* The fast path equals standard decapsulation on honest ciphertexts, and
 * standard decapsulation still rejects (implicitly) what the fast path does
 * not check. */
static void check_fast_path_random(size_t iters)
{
    static tz_kem_keypair kp;
    static uint8_t ct[TZ_KEM_CT_BYTES];
    size_t agree = 0, bad_ss_differs = 0, n_bad = 0;
    for (size_t i = 0; i < iters; i++) {
        if (i % 100 == 0) {
            uint8_t seed[64];
            randombytes_buf(seed, sizeof seed);
            tz_kem_keygen(&kp, seed);
        }
        uint8_t coins[32], ss_enc[32], ss_dec[32], ss_fast[32];
        randombytes_buf(coins, sizeof coins);
        tz_kem_encaps(ct, ss_enc, kp.ek, coins);
        tz_kem_decaps(ss_dec, ct, kp.dk);
        tz_kem_decaps_detect(ss_fast, ct, kp.dk);
        if (memcmp(ss_enc, ss_dec, 32) == 0 && memcmp(ss_dec, ss_fast, 32) == 0)
            agree++;
        if (i % 50 == 0) {
            /* A tampered ciphertext: standard decapsulation no longer
             * returns the sender's secret. */
            ct[(i * 7) % TZ_KEM_CT_BYTES] ^= 0x01;
            tz_kem_decaps(ss_dec, ct, kp.dk);
            n_bad++;
            if (memcmp(ss_dec, ss_enc, 32) != 0)
                bad_ss_differs++;
        }
    }
    tz_kem_keypair_wipe(&kp);
    printf("fast path == standard decapsulation on %zu/%zu random honest encapsulations\n",
           agree, iters);
    CHECK(agree == iters);
    CHECK(bad_ss_differs == n_bad);
}

/* A ciphertext made ready once gives, under every key, what the one-shot
 * fast path gives: honest ciphertexts to that key, ciphertexts to other
 * keys and random bytes alike. */
static void check_ready_path(size_t iters)
{
    enum { KEYS = 4 };
    static tz_kem_keypair kp[KEYS];
    static uint8_t ct[TZ_KEM_CT_BYTES];
    static tz_kem_ct_ready ready;
    for (size_t k = 0; k < KEYS; k++) {
        uint8_t seed[64];
        randombytes_buf(seed, sizeof seed);
        tz_kem_keygen(&kp[k], seed);
    }
    size_t same = 0, total = 0;
    for (size_t i = 0; i < iters; i++) {
        uint8_t coins[32], ss[32], a[32], b[32], c[32];
        randombytes_buf(coins, sizeof coins);
        if (i % 3 == 2)
            randombytes_buf(ct, sizeof ct);
        else
            tz_kem_encaps(ct, ss, kp[i % KEYS].ek, coins);
        tz_kem_detect_prepare(&ready, ct);
        for (size_t k = 0; k < KEYS; k++) {
            tz_kem_decaps_detect(a, ct, kp[k].dk);
            tz_kem_decaps_detect_ready(b, &ready, kp[k].dk);
            tz_kem_detect_key dkey;
            tz_kem_detect_key_init(&dkey, kp[k].dk);
            tz_kem_decaps_detect_key(c, &ready, &dkey);
            tz_kem_detect_key_wipe(&dkey);
            same += memcmp(a, b, 32) == 0 && memcmp(a, c, 32) == 0;
            total++;
        }
    }
    for (size_t k = 0; k < KEYS; k++)
        tz_kem_keypair_wipe(&kp[k]);
    printf("ready path (key unpacked per call and once) == fast path on %zu/%zu (ciphertext, key) pairs\n", same, total);
    CHECK(same == total && total == iters * KEYS);
}

int main(void)
{
    json_t *root = tz_test_vectors("protocol_v1.json");
    if (!root)
        return tz_test_done("kem");
    CHECK(sodium_init() >= 0);

    printf("mlkem_seeds vectors checked: %zu\n", check_seeds(root));
    printf("mlkem_keygen vectors checked: %zu\n", check_keygen(root));
    printf("mlkem_encaps_derand vectors checked: %zu\n", check_encaps(root));
    printf("cross_impl_encrypt KEM vectors checked: %zu\n", check_cross_impl(root));
    json_decref(root);

    check_fast_path_random(10000); /* also under ASan: about 5 s */
    check_ready_path(500);
    return tz_test_done("kem");
}
