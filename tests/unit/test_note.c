/* Notes: protocol_v1.json sections addresses (receiver part), mlkem_keygen
 * (via receivers), detection_tags, chacha20, cross_impl_encrypt; round
 * trips, wrong address, tampering, commitment mismatch, outgoing recovery
 * and the false-detection rate. */
#include <jansson.h>
#include <sodium.h>

#include "core/commit.h"
#include "core/note.h"
#include "tz_test_util.h"

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

#define NRS 3
static tz_note_receiver rs[NRS];
static tz_payment_address addr[NRS];
static tz_keys keys;

static size_t setup_receivers(const json_t *root)
{
    tz_felt msk;
    CHECK(tz_test_felt(json_object_get(root, "key_hierarchy"), "master_sk", &msk));
    tz_keys_derive(&keys, &msk);
    const json_t *arr = json_object_get(root, "addresses");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        uint32_t j = (uint32_t)json_integer_value(json_object_get(e, "j"));
        tz_felt ar, want;
        CHECK(j < NRS && tz_test_felt(e, "auth_root", &ar));
        if (j >= NRS)
            continue;
        CHECK(tz_note_receiver_init(&rs[j], &keys, j, &ar) == TZ_OK);
        CHECK(rs[j].index == j);
        CHECK(tz_test_felt(e, "d_j", &want) && tz_felt_eq(&rs[j].d_j, &want));
        CHECK(tz_test_felt(e, "auth_pub_seed", &want) && tz_felt_eq(&rs[j].auth_pub_seed, &want));
        CHECK(tz_test_felt(e, "nk_tag", &want) && tz_felt_eq(&rs[j].nk_tag, &want));
        CHECK(tz_test_felt(e, "nk_spend", &want) && tz_felt_eq(&rs[j].nk_spend, &want));
        CHECK_MSG(tz_test_felt(e, "owner_tag", &want) && tz_felt_eq(&rs[j].owner_tag, &want),
                  "addresses[%zu] owner_tag", i);
        tz_note_receiver_address(&rs[j], &addr[j]);
        CHECK(tz_felt_eq(&addr[j].auth_root, &ar));
        n++;
    }
    CHECK(n == NRS && n == json_array_size(arr));
    CHECK(tz_note_receiver_init(NULL, &keys, 0, &msk) == TZ_EINVAL);
    return n;
}

static size_t check_keygen(const json_t *root)
{
    const json_t *arr = json_object_get(root, "mlkem_keygen");
    static uint8_t want[TZ_KEM_EK_BYTES];
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        uint32_t j = (uint32_t)json_integer_value(json_object_get(e, "j"));
        CHECK(j < NRS);
        if (j >= NRS)
            continue;
        CHECK(tz_test_hex(e, "ek_v", want, sizeof want) && memcmp(addr[j].ek_v, want, sizeof want) == 0);
        CHECK(tz_test_hex(e, "ek_d", want, sizeof want) && memcmp(addr[j].ek_d, want, sizeof want) == 0);
        n++;
    }
    CHECK(n == 2 && n == json_array_size(arr));
    return n;
}

static size_t check_tags(const json_t *root)
{
    const json_t *arr = json_object_get(root, "detection_tags");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        uint8_t ss[32];
        CHECK(tz_test_hex(e, "ss_d", ss, 32));
        json_int_t want = json_integer_value(json_object_get(e, "tag"));
        CHECK_MSG(tz_note_tag_from_ss(ss) == want, "detection_tags[%zu]", i);
        n++;
    }
    CHECK(n == 4 && n == json_array_size(arr));
    return n;
}

static size_t check_chacha(const json_t *root)
{
    const json_t *arr = json_object_get(root, "chacha20");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        uint8_t ss[32], nonce_w[12], nonce[12];
        static uint8_t data_w[TZ_NOTE_DATA_BYTES], data[TZ_NOTE_DATA_BYTES], memo[TZ_NOTE_MEMO_BYTES];
        static tz_note_plain pl;
        tz_felt rseed;
        CHECK(tz_test_hex(e, "ss_v", ss, 32) && tz_test_felt(e, "rseed", &rseed));
        CHECK(tz_test_hex(e, "memo", memo, sizeof memo) && tz_test_hex(e, "nonce", nonce_w, 12));
        CHECK(tz_test_hex(e, "encrypted_data", data_w, sizeof data_w));
        uint64_t v = tz_test_u64_str(e, "v");
        tz_note_seal(nonce, data, ss, v, &rseed, memo);
        CHECK_MSG(memcmp(nonce, nonce_w, 12) == 0, "chacha20[%zu] nonce", i);
        CHECK_MSG(memcmp(data, data_w, sizeof data) == 0, "chacha20[%zu] encrypted_data", i);
        CHECK(tz_note_unseal(&pl, ss, nonce_w, data_w) == TZ_OK);
        CHECK(pl.v == v && tz_felt_eq(&pl.rseed, &rseed) && memcmp(pl.memo, memo, sizeof memo) == 0);
        data_w[17] ^= 0x80;
        CHECK(tz_note_unseal(&pl, ss, nonce_w, data_w) == TZ_ECRYPTO);
        CHECK(all_zero(&pl, sizeof pl));
        n++;
    }
    CHECK(n == 2 && n == json_array_size(arr));
    return n;
}

static size_t check_cross_impl(const json_t *root)
{
    const json_t *v = json_object_get(root, "cross_impl_encrypt");
    static tz_enc_note want, got;
    static uint8_t memo[TZ_NOTE_MEMO_BYTES], ek[TZ_KEM_EK_BYTES];
    static tz_note_plain pl;
    uint8_t coins_d[32], coins_v[32];
    tz_felt rseed, mch_w, mch, cm;
    CHECK(tz_test_hex(v, "coins_d", coins_d, 32) && tz_test_hex(v, "coins_v", coins_v, 32));
    CHECK(tz_test_felt(v, "rseed", &rseed) && tz_test_hex(v, "memo", memo, sizeof memo));
    CHECK(tz_test_hex(v, "ct_d", want.ct_d, sizeof want.ct_d));
    CHECK(tz_test_hex(v, "ct_v", want.ct_v, sizeof want.ct_v));
    CHECK(tz_test_hex(v, "nonce", want.nonce, sizeof want.nonce));
    CHECK(tz_test_hex(v, "encrypted_data", want.encrypted_data, sizeof want.encrypted_data));
    CHECK(tz_test_hex(v, "outgoing_ct", want.outgoing_ct, sizeof want.outgoing_ct));
    CHECK(tz_test_felt(v, "memo_ct_hash", &mch_w));
    want.tag = (uint16_t)json_integer_value(json_object_get(v, "tag"));
    uint64_t value = tz_test_u64_str(v, "v");
    CHECK(tz_test_hex(v, "ek_v", ek, sizeof ek) && memcmp(ek, addr[0].ek_v, sizeof ek) == 0);
    CHECK(tz_test_hex(v, "ek_d", ek, sizeof ek) && memcmp(ek, addr[0].ek_d, sizeof ek) == 0);

    CHECK(tz_note_encrypt(&got, &cm, &addr[0], value, &rseed, memo, coins_d, coins_v, NULL) == TZ_OK);
    CHECK_MSG(memcmp(got.ct_d, want.ct_d, sizeof got.ct_d) == 0, "cross_impl ct_d");
    CHECK_MSG(got.tag == want.tag, "cross_impl tag %u want %u", got.tag, want.tag);
    CHECK_MSG(memcmp(got.ct_v, want.ct_v, sizeof got.ct_v) == 0, "cross_impl ct_v");
    CHECK_MSG(memcmp(got.nonce, want.nonce, sizeof got.nonce) == 0, "cross_impl nonce");
    CHECK_MSG(memcmp(got.encrypted_data, want.encrypted_data, sizeof got.encrypted_data) == 0,
              "cross_impl encrypted_data");
    CHECK(all_zero(got.outgoing_ct, sizeof got.outgoing_ct));
    memcpy(got.outgoing_ct, want.outgoing_ct, sizeof got.outgoing_ct);
    tz_memo_ct_hash(&mch, &got);
    CHECK_MSG(tz_felt_eq(&mch, &mch_w), "cross_impl memo_ct_hash");

    /* The vector's own note (not ours) is detected and accepted. */
    tz_felt cm2;
    tz_note_cm_from_rseed(&cm2, &rs[0].d_j, value, &rseed, &rs[0].owner_tag);
    CHECK(tz_felt_eq(&cm, &cm2));
    CHECK(tz_note_detect(&rs[0], &want));
    CHECK(tz_note_open(&rs[0], &cm, &want, &pl) == TZ_OK);
    CHECK(pl.v == value && tz_felt_eq(&pl.rseed, &rseed) && memcmp(pl.memo, memo, sizeof memo) == 0);

    /* Wrong address: address 1 cannot open it, trial over 1..2 finds nothing. */
    CHECK(tz_note_open(&rs[1], &cm, &want, &pl) == TZ_ECRYPTO);
    CHECK(all_zero(&pl, sizeof pl));
    static tz_published_note pn;
    pn.cm = cm;
    pn.enc = want;
    size_t which = 99;
    CHECK(tz_note_trial(&rs[1], 2, &pn, &which, &pl) == TZ_ENOTFOUND && which == 99);
    CHECK(tz_note_trial(rs, NRS, &pn, &which, &pl) == TZ_OK && which == 0 && pl.v == value);

    /* A flipped byte anywhere in ct_v, nonce or encrypted_data: not opened. */
    static const size_t pos_v[] = {0, 1, 500, 1087};
    for (size_t k = 0; k < sizeof pos_v / sizeof pos_v[0]; k++) {
        got = want;
        got.ct_v[pos_v[k]] ^= 0x01;
        CHECK_MSG(tz_note_open(&rs[0], &cm, &got, &pl) == TZ_ECRYPTO, "ct_v[%zu] flip", pos_v[k]);
    }
    got = want;
    got.nonce[11] ^= 0x40;
    CHECK(tz_note_open(&rs[0], &cm, &got, &pl) == TZ_ECRYPTO);
    got = want;
    got.encrypted_data[0] ^= 0x01;
    CHECK(tz_note_open(&rs[0], &cm, &got, &pl) == TZ_ECRYPTO);
    got = want;
    got.encrypted_data[TZ_NOTE_DATA_BYTES - 1] ^= 0x01; /* Poly1305 tag */
    CHECK(tz_note_open(&rs[0], &cm, &got, &pl) == TZ_ECRYPTO);
    CHECK(all_zero(&pl, sizeof pl));
    /* A wrong tag fails detection (the ciphertext is honest, so exact). */
    got = want;
    got.tag ^= 0x200;
    CHECK(!tz_note_detect(&rs[0], &got));

    /* Chain cm that does not match the opening: not accepted. */
    cm2 = cm;
    cm2.b[0] ^= 1;
    CHECK(tz_note_open(&rs[0], &cm2, &want, &pl) == TZ_EMISMATCH);
    CHECK(all_zero(&pl, sizeof pl));
    pn.cm = cm2;
    CHECK(tz_note_trial(rs, NRS, &pn, &which, &pl) == TZ_ENOTFOUND);
    return 1;
}

/* A note made for address 0's KEM keys but committed to a different owner
 * (wrong auth_root): it decrypts, but its cm is not ours. */
static void check_wrong_owner(void)
{
    static tz_payment_address fake;
    static tz_enc_note n;
    static tz_note_plain pl;
    uint8_t cd[32], cv[32];
    tz_felt rseed, cm;
    fake = addr[0];
    fake.auth_root.b[3] ^= 0x10;
    randombytes_buf(cd, 32);
    randombytes_buf(cv, 32);
    tz_felt_from_u64(&rseed, 12345);
    CHECK(tz_note_encrypt(&n, &cm, &fake, 500, &rseed, NULL, cd, cv, NULL) == TZ_OK);
    CHECK(tz_note_detect(&rs[0], &n));
    CHECK(tz_note_open(&rs[0], &cm, &n, &pl) == TZ_EMISMATCH);
    /* same with fake d_j */
    fake = addr[0];
    fake.d_j = addr[1].d_j;
    CHECK(tz_note_encrypt(&n, &cm, &fake, 500, &rseed, NULL, cd, cv, NULL) == TZ_OK);
    CHECK(tz_note_open(&rs[0], &cm, &n, &pl) == TZ_EMISMATCH);
    CHECK(tz_note_encrypt(NULL, &cm, &fake, 500, &rseed, NULL, cd, cv, NULL) == TZ_EINVAL);
}

/* Random round trips through tz_note_trial, default memo, outgoing recovery. */
static void check_round_trips(size_t iters)
{
    static tz_published_note pn;
    static tz_note_plain pl;
    static uint8_t memo[TZ_NOTE_MEMO_BYTES];
    size_t ok = 0;
    for (size_t i = 0; i < iters; i++) {
        uint8_t cd[32], cv[32];
        tz_felt rseed;
        uint64_t v;
        size_t to = i % NRS, which = 99;
        randombytes_buf(cd, 32);
        randombytes_buf(cv, 32);
        randombytes_buf(rseed.b, 32);
        tz_felt_truncate(&rseed);
        randombytes_buf(&v, sizeof v);
        randombytes_buf(memo, sizeof memo);
        int dflt = (i % 4 == 0);
        CHECK(tz_note_encrypt(&pn.enc, &pn.cm, &addr[to], v, &rseed, dflt ? NULL : memo, cd, cv,
                              &keys.outgoing_seed) == TZ_OK);
        if (tz_note_trial(rs, NRS, &pn, &which, &pl) == TZ_OK && which == to && pl.v == v &&
            tz_felt_eq(&pl.rseed, &rseed)) {
            if (dflt)
                ok += pl.memo[0] == TZ_NOTE_DEFAULT_MEMO_BYTE && all_zero(pl.memo + 1, sizeof memo - 1);
            else
                ok += memcmp(pl.memo, memo, sizeof memo) == 0;
        }
        /* outgoing recovery by the sender */
        tz_note_outgoing o;
        CHECK(tz_note_outgoing_decrypt(&o, &keys.outgoing_seed, &pn.cm, pn.enc.outgoing_ct) == TZ_OK);
        CHECK(o.role == TZ_OUT_SHIELD_OUTPUT && o.v == v && tz_felt_eq(&o.rseed, &rseed) &&
              tz_felt_eq(&o.d_j, &addr[to].d_j) && tz_felt_eq(&o.auth_root, &addr[to].auth_root) &&
              tz_felt_eq(&o.auth_pub_seed, &addr[to].auth_pub_seed) &&
              tz_felt_eq(&o.nk_tag, &addr[to].nk_tag));
    }
    printf("random note round trips accepted by the right address: %zu/%zu\n", ok, iters);
    CHECK(ok == iters);
}

static void check_outgoing(void)
{
    static tz_enc_note n;
    static uint8_t ct[TZ_NOTE_OUT_BYTES];
    tz_note_outgoing o, got;
    tz_felt cm, rseed, other;
    uint8_t cd[32] = {1}, cv[32] = {2};
    tz_felt_from_u64(&rseed, 99);
    CHECK(tz_note_encrypt_role(&n, &cm, &addr[1], 7, &rseed, NULL, cd, cv, &keys.outgoing_seed,
                               TZ_OUT_TRANSFER_CHANGE) == TZ_OK);
    CHECK(tz_note_outgoing_decrypt(&got, &keys.outgoing_seed, &cm, n.outgoing_ct) == TZ_OK);
    CHECK(got.role == TZ_OUT_TRANSFER_CHANGE && got.v == 7);
    CHECK(strcmp(tz_out_role_name(got.role), "transfer_change") == 0);
    /* wrong seed, wrong cm, flipped byte */
    tz_felt_from_u64(&other, 1);
    CHECK(tz_note_outgoing_decrypt(&got, &other, &cm, n.outgoing_ct) == TZ_ECRYPTO);
    CHECK(all_zero(&got, sizeof got));
    other = cm;
    other.b[5] ^= 1;
    CHECK(tz_note_outgoing_decrypt(&got, &keys.outgoing_seed, &other, n.outgoing_ct) == TZ_ECRYPTO);
    memcpy(ct, n.outgoing_ct, sizeof ct);
    ct[100] ^= 4;
    CHECK(tz_note_outgoing_decrypt(&got, &keys.outgoing_seed, &cm, ct) == TZ_ECRYPTO);
    /* authenticated but lying about the value: rejected by the commitment */
    o.role = TZ_OUT_SHIELD_OUTPUT;
    o.v = 8;
    o.rseed = rseed;
    o.d_j = addr[1].d_j;
    o.auth_root = addr[1].auth_root;
    o.auth_pub_seed = addr[1].auth_pub_seed;
    o.nk_tag = addr[1].nk_tag;
    tz_note_outgoing_encrypt(ct, &keys.outgoing_seed, &cm, &o);
    CHECK(tz_note_outgoing_decrypt(&got, &keys.outgoing_seed, &cm, ct) == TZ_EMISMATCH);
    o.v = 7;
    tz_note_outgoing_encrypt(ct, &keys.outgoing_seed, &cm, &o);
    CHECK(tz_note_outgoing_decrypt(&got, &keys.outgoing_seed, &cm, ct) == TZ_OK);
    CHECK(got.role == TZ_OUT_SHIELD_OUTPUT);
    o.role = 9; /* unknown role */
    tz_note_outgoing_encrypt(ct, &keys.outgoing_seed, &cm, &o);
    CHECK(tz_note_outgoing_decrypt(&got, &keys.outgoing_seed, &cm, ct) == TZ_EINVAL);
    CHECK(tz_note_encrypt_role(&n, &cm, &addr[1], 7, &rseed, NULL, cd, cv, &keys.outgoing_seed,
                               (tz_out_role)0) == TZ_EINVAL);
}

/* Random ciphertexts and tags: the detection filter passes about 2^-10. */
static void check_false_detection(size_t iters)
{
    static tz_enc_note n;
    size_t hits = 0;
    for (size_t i = 0; i < iters; i++) {
        randombytes_buf(n.ct_d, sizeof n.ct_d);
        n.tag = (uint16_t)(randombytes_uniform(TZ_NOTE_TAG_LIMIT));
        hits += tz_note_detect(&rs[0], &n);
    }
    double expect = (double)iters / 1024.0;
    printf("false detections: %zu of %zu random notes (expected %.1f)\n", hits, iters, expect);
    /* Poisson(expect): these bounds are > 5 sigma either side */
    CHECK(hits >= (size_t)(expect / 4) && hits <= (size_t)(expect * 2.5 + 5));
}

int main(void)
{
    json_t *root = tz_test_vectors("protocol_v1.json");
    if (!root)
        return tz_test_done("note");
    CHECK(sodium_init() >= 0);
    int san = tz_test_sanitized();

    printf("addresses vectors checked (receivers): %zu\n", setup_receivers(root));
    printf("mlkem_keygen vectors checked (receivers): %zu\n", check_keygen(root));
    printf("detection_tags vectors checked: %zu\n", check_tags(root));
    printf("chacha20 vectors checked: %zu\n", check_chacha(root));
    printf("cross_impl_encrypt vectors checked: %zu\n", check_cross_impl(root));
    json_decref(root);
    check_wrong_owner();
    check_outgoing();
    check_round_trips(san ? 30 : 300);
    check_false_detection(40960);

    for (int j = 0; j < NRS; j++) {
        tz_note_receiver_wipe(&rs[j]);
        CHECK(all_zero(&rs[j], sizeof rs[j]));
    }
    tz_keys_wipe(&keys);
    return tz_test_done("note");
}
