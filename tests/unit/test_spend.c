/* Spend statements, prover arguments and proof bundles: core/sighash.h
 * (public outputs checked against the real proofs of the reference's
 * verified bridge flow; sighashes against a fold built by hand from the
 * SPENDS.md table), core/provarg.h (layout by position, strict parse),
 * spend/prover_json.h and spend/bundle.h. */
#include <jansson.h>

#include "core/commit.h"
#include "core/hash.h"
#include "core/provarg.h"
#include "core/sighash.h"
#include "spend/bundle.h"
#include "spend/prover_json.h"
#include "tz_test_bridge.h"

/* Distinct deterministic felts below 2^251. */
static tz_felt F(uint32_t i)
{
    tz_felt f;
    tz_hash(&f, &i, sizeof i);
    return f;
}

static tz_felt U(uint64_t v)
{
    tz_felt f;
    tz_felt_from_u64(&f, v);
    return f;
}

static tz_felt TAG(uint8_t t)
{
    tz_felt f;
    memset(&f, 0, sizeof f);
    f.b[0] = t;
    return f;
}

/* h = fold(h, x) */
static void fold(tz_felt *h, tz_felt x) { tz_sighash_fold(h, h, &x); }

/* ---- statements of the real bridge flow ------------------------------ */

static void test_bridge_public_outputs(void)
{
    json_t *fx = tz_test_data_json("verified_bridge_flow.json");
    if (!fx)
        return;
    tz_felt auth_domain, ph_shield, ph_transfer, ph_unshield;
    const json_t *ph = json_object_get(fx, "program_hashes");
    CHECK(tz_test_felt(fx, "auth_domain", &auth_domain));
    CHECK(tz_test_felt(ph, "shield", &ph_shield) && tz_test_felt(ph, "transfer", &ph_transfer) &&
          tz_test_felt(ph, "unshield", &ph_unshield));
    tz_felt dflt;
    tz_default_auth_domain(&dflt);
    CHECK(tz_felt_eq(&dflt, &auth_domain));

    tz_kmsg m;
    tz_felt out[TZ_PUBOUT_MAX], h, sh;
    tz_error err = {0};
    size_t L;

    /* shield: 9 outputs; the sighash folds 0x03 and exactly these */
    CHECK(tz_test_bridge_msg(fx, "shield", &m));
    tz_shield_public s;
    tz_shield_public_from_kmsg(&s, &auth_domain, &m.u.shield);
    L = tz_pubout_shield(out, &s);
    CHECK(L == 9);
    CHECK_MSG(tz_preimage_check(m.u.shield.proof.preimage, m.u.shield.proof.n_preimage,
                                &ph_shield, out, L, &err) == TZ_OK,
              "shield: %s", err.msg);
    CHECK(tz_preimage_check(m.u.shield.proof.preimage, m.u.shield.proof.n_preimage, &ph_transfer,
                            out, L, &err) == TZ_EMISMATCH);
    tz_sighash_shield(&sh, &s);
    h = TAG(3);
    fold(&h, s.auth_domain), fold(&h, s.pubkey_hash), fold(&h, U(s.v)), fold(&h, U(s.fee));
    fold(&h, U(s.producer_fee)), fold(&h, s.cm_recipient), fold(&h, s.cm_producer);
    fold(&h, s.mh_recipient), fold(&h, s.mh_producer);
    CHECK(tz_felt_eq(&h, &sh));
    {
        /* the shield prover arguments carry the public outputs first */
        tz_shield_witness w;
        memset(&w, 0, sizeof w);
        w.auth_domain = s.auth_domain;
        w.pubkey_hash = s.pubkey_hash;
        w.fee = s.fee;
        w.recipient.v = s.v, w.recipient.cm = s.cm_recipient, w.recipient.mh = s.mh_recipient;
        w.producer.v = s.producer_fee, w.producer.cm = s.cm_producer, w.producer.mh = s.mh_producer;
        tz_felt args[TZ_PROVARG_SHIELD_LEN];
        size_t n = 0;
        CHECK(tz_provarg_shield(args, TZ_PROVARG_SHIELD_LEN, &n, &w, &err) == TZ_OK);
        CHECK(n == 171 && memcmp(&args[1], m.u.shield.proof.preimage + 4, 9 * sizeof(tz_felt)) == 0);
    }
    tz_kmsg_free(&m);

    /* transfer: N + 9 outputs */
    CHECK(tz_test_bridge_msg(fx, "transfer", &m));
    tz_transfer_public t;
    CHECK(tz_transfer_public_from_kmsg(&t, &auth_domain, &m.u.transfer) == TZ_OK);
    L = tz_pubout_transfer(out, &t);
    CHECK(L == 10);
    CHECK_MSG(tz_preimage_check(m.u.transfer.proof.preimage, m.u.transfer.proof.n_preimage,
                                &ph_transfer, out, L, &err) == TZ_OK,
              "transfer: %s", err.msg);
    for (size_t i = 0; i < L; i++) { /* every output is checked */
        tz_felt keep = out[i];
        out[i].b[5] ^= 1;
        CHECK(tz_preimage_check(m.u.transfer.proof.preimage, m.u.transfer.proof.n_preimage,
                                &ph_transfer, out, L, &err) == TZ_EMISMATCH);
        out[i] = keep;
    }
    CHECK(tz_sighash_transfer(&sh, &t) == TZ_OK);
    h = TAG(1);
    fold(&h, t.auth_domain), fold(&h, t.root), fold(&h, t.nf[0]), fold(&h, U(t.fee));
    for (int i = 0; i < 3; i++)
        fold(&h, t.cm[i]);
    for (int i = 0; i < 3; i++)
        fold(&h, t.mh[i]);
    CHECK(tz_felt_eq(&h, &sh));
    tz_kmsg_free(&m);

    /* unshield without change: cm_change and mh_change zero, H(recipient) */
    CHECK(tz_test_bridge_msg(fx, "unshield", &m));
    tz_unshield_public u;
    CHECK(tz_unshield_public_from_kmsg(&u, &auth_domain, &m.u.unshield) == TZ_OK);
    tz_felt rid;
    tz_account_id(&rid, "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx", 36);
    CHECK(tz_felt_eq(&rid, &u.recipient_id) && tz_felt_is_zero(&u.mh_change));
    L = tz_pubout_unshield(out, &u);
    CHECK(L == 10);
    CHECK_MSG(tz_preimage_check(m.u.unshield.proof.preimage, m.u.unshield.proof.n_preimage,
                                &ph_unshield, out, L, &err) == TZ_OK,
              "unshield: %s", err.msg);
    CHECK(tz_sighash_unshield(&sh, &u) == TZ_OK);
    h = TAG(2);
    fold(&h, u.auth_domain), fold(&h, u.root), fold(&h, u.nf[0]), fold(&h, U(u.v_pub));
    fold(&h, U(u.fee)), fold(&h, u.recipient_id), fold(&h, u.cm_change), fold(&h, u.mh_change);
    fold(&h, u.cm_fee), fold(&h, u.mh_fee);
    CHECK(tz_felt_eq(&h, &sh));
    tz_kmsg_free(&m);
    json_decref(fx);
}

/* ---- sighash order with several inputs ------------------------------- */

static void test_sighash_order(void)
{
    tz_transfer_public t;
    memset(&t, 0, sizeof t);
    t.auth_domain = F(1), t.root = F(2), t.n_nf = 3;
    t.nf[0] = F(3), t.nf[1] = F(4), t.nf[2] = F(5);
    t.fee = 0x0102030405060708ull;
    for (int i = 0; i < 3; i++)
        t.cm[i] = F(10 + i), t.mh[i] = F(20 + i);
    tz_felt h = TAG(1), sh, sh2;
    fold(&h, F(1)), fold(&h, F(2)), fold(&h, F(3)), fold(&h, F(4)), fold(&h, F(5));
    fold(&h, U(0x0102030405060708ull));
    fold(&h, F(10)), fold(&h, F(11)), fold(&h, F(12)), fold(&h, F(20)), fold(&h, F(21));
    fold(&h, F(22));
    CHECK(tz_sighash_transfer(&sh, &t) == TZ_OK && tz_felt_eq(&h, &sh));
    t.nf[1] = F(5), t.nf[2] = F(4); /* order of nullifiers matters */
    CHECK(tz_sighash_transfer(&sh2, &t) == TZ_OK && !tz_felt_eq(&sh2, &sh));
    t.n_nf = 0;
    CHECK(tz_sighash_transfer(&sh2, &t) == TZ_EINVAL);
    t.n_nf = 8;
    CHECK(tz_sighash_transfer(&sh2, &t) == TZ_EINVAL);

    tz_unshield_public u;
    memset(&u, 0, sizeof u);
    u.auth_domain = F(1), u.root = F(2), u.n_nf = 2, u.nf[0] = F(3), u.nf[1] = F(4);
    u.v_pub = 5000, u.fee = 100000, u.recipient_id = F(6), u.cm_change = F(7);
    u.mh_change = F(8), u.cm_fee = F(9), u.mh_fee = F(10);
    h = TAG(2);
    fold(&h, F(1)), fold(&h, F(2)), fold(&h, F(3)), fold(&h, F(4)), fold(&h, U(5000));
    fold(&h, U(100000)), fold(&h, F(6)), fold(&h, F(7)), fold(&h, F(8)), fold(&h, F(9));
    fold(&h, F(10));
    CHECK(tz_sighash_unshield(&sh, &u) == TZ_OK && tz_felt_eq(&h, &sh));

    tz_shield_public s = {.auth_domain = F(1), .pubkey_hash = F(2), .v = 3, .fee = 4,
                          .producer_fee = 5, .cm_recipient = F(6), .cm_producer = F(7),
                          .mh_recipient = F(8), .mh_producer = F(9)};
    h = TAG(3);
    fold(&h, F(1)), fold(&h, F(2)), fold(&h, U(3)), fold(&h, U(4)), fold(&h, U(5));
    fold(&h, F(6)), fold(&h, F(7)), fold(&h, F(8)), fold(&h, F(9));
    tz_sighash_shield(&sh, &s);
    CHECK(tz_felt_eq(&h, &sh));

    /* recipient_id trims Unicode White_Space as the kernel does */
    tz_felt a, b;
    tz_account_id(&a, "tz1abc", 6);
    const char *padded[] = {"tz1abc", "  tz1abc\n", "\t\r\ntz1abc \v\f",
                            "\xc2\xa0tz1abc\xe3\x80\x80", "\xe2\x80\x8atz1abc\xe2\x80\xa8"};
    for (size_t i = 0; i < sizeof padded / sizeof *padded; i++) {
        tz_unshield_recipient_id(&b, padded[i], strlen(padded[i]));
        CHECK_MSG(tz_felt_eq(&a, &b), "trim %zu", i);
    }
    tz_unshield_recipient_id(&b, "tz1 abc", 7); /* inner spaces stay */
    CHECK(!tz_felt_eq(&a, &b));
    tz_unshield_recipient_id(&b, "\xe2\x80\x8btz1abc", 9); /* U+200B is not White_Space */
    CHECK(!tz_felt_eq(&a, &b));
    tz_unshield_recipient_id(&b, " \xc2", 2); /* a cut sequence is kept, not read past */
    tz_account_id(&a, "\xc2", 1);
    CHECK(tz_felt_eq(&a, &b));
}

/* ---- preimage -------------------------------------------------------- */

static void test_preimage(void)
{
    tz_felt outs[3] = {F(1), F(2), F(3)}, ph = F(9), pre[TZ_PREIMAGE_MAX], got_ph;
    const tz_felt *got = NULL;
    size_t n = tz_preimage_build(pre, &ph, outs, 3), k = 0;
    tz_error err = {0};
    CHECK(n == 7);
    CHECK(tz_felt_eq(&pre[0], &(tz_felt){{1}}) && tz_felt_eq(&pre[1], &(tz_felt){{6}}) &&
          tz_felt_eq(&pre[2], &ph) && tz_felt_eq(&pre[3], &(tz_felt){{3}}));
    CHECK(tz_preimage_parse(pre, n, &got_ph, &got, &k, &err) == TZ_OK && k == 3 &&
          got == pre + 4 && tz_felt_eq(&got_ph, &ph));
    CHECK(tz_preimage_check(pre, n, &ph, outs, 3, &err) == TZ_OK);
    CHECK(tz_preimage_check(pre, n, &ph, outs, 2, &err) == TZ_EMISMATCH);
    CHECK(tz_preimage_check(pre, n - 1, &ph, outs, 3, &err) == TZ_EINVAL);
    CHECK(tz_preimage_check(pre, 3, &ph, outs, 0, &err) == TZ_EINVAL);
    pre[0].b[0] = 2; /* two tasks */
    CHECK(tz_preimage_parse(pre, n, &got_ph, &got, &k, &err) == TZ_EINVAL);
    pre[0].b[0] = 1;
    pre[1].b[9] = 1; /* a size felt beyond u64 */
    CHECK(tz_preimage_parse(pre, n, &got_ph, &got, &k, &err) == TZ_EINVAL);
    pre[1].b[9] = 0;
    pre[3].b[0] = 4;
    CHECK(tz_preimage_parse(pre, n, &got_ph, &got, &k, &err) == TZ_EINVAL);
    CHECK(tz_preimage_build(pre, &ph, outs, TZ_PUBOUT_MAX + 1) == 0);
}

/* ---- prover arguments ------------------------------------------------- */

static void fill_output(tz_spend_output *o, uint32_t seed, uint64_t v)
{
    o->cm = F(seed), o->d_j = F(seed + 1), o->v = v, o->rseed = F(seed + 2);
    o->auth_root = F(seed + 3), o->auth_pub_seed = F(seed + 4), o->nk_tag = F(seed + 5);
    o->mh = F(seed + 6);
}

static void fill_input(tz_spend_input *in, uint32_t seed)
{
    in->nf = F(seed), in->nk_spend = F(seed + 1), in->auth_root = F(seed + 2);
    in->auth_pub_seed = F(seed + 3), in->key_idx = 65535 - seed, in->d_j = F(seed + 4);
    in->v = 1000000 + seed, in->rseed = F(seed + 5), in->pos = (1ull << 48) - 1 - seed;
    for (uint32_t i = 0; i < TZ_CM_DEPTH; i++)
        in->cm_path[i] = F(seed + 100 + i);
    for (uint32_t i = 0; i < TZ_XMSS_HEIGHT; i++)
        in->auth_path[i] = F(seed + 200 + i);
    for (uint32_t i = 0; i < TZ_WOTS_CHAINS; i++)
        in->sig[i] = F(seed + 300 + i);
}

static tz_felt args[TZ_PROVARG_MAX], args2[TZ_PROVARG_MAX];

/* JSON round trip of args[0..n); returns the text (caller frees). */
static char *json_round_trip(size_t n)
{
    char *text = NULL;
    size_t len = 0, n2 = 0;
    tz_error err = {0};
    CHECK(tz_prover_args_json(args, n, &text, &len, &err) == TZ_OK);
    if (!text)
        return NULL;
    CHECK(strlen(text) == len && text[0] == '[' && text[len - 1] == ']' && !strchr(text, ' '));
    CHECK(tz_prover_args_parse_json(args2, TZ_PROVARG_MAX, &n2, text, len, &err) == TZ_OK);
    CHECK(n2 == n && memcmp(args, args2, n * sizeof *args) == 0);
    return text;
}

static void test_transfer_args(void)
{
    static tz_transfer_witness w, back;
    tz_error err = {0};
    memset(&w, 0, sizeof w);
    w.auth_domain = F(1), w.root = F(2), w.fee = 100000, w.n = 2;
    fill_input(&w.in[0], 1000), fill_input(&w.in[1], 2000);
    for (int j = 0; j < 3; j++)
        fill_output(&w.out[j], 3000 + 10 * (uint32_t)j, 7 + (uint64_t)j);
    size_t n = 0, N = 2;
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, &w, &err) == TZ_OK);
    CHECK(n == 1 + 4 + 9 * N + 48 * N + 16 * N + 133 * N + 24 && n == TZ_PROVARG_TRANSFER_LEN(2));
    CHECK(tz_felt_eq(&args[0], &(tz_felt){{0}}) == 0 && tz_get_u64le(args[0].b) == n - 1);
    CHECK(tz_get_u64le(args[1].b) == 2 && tz_felt_eq(&args[2], &w.auth_domain) &&
          tz_felt_eq(&args[3], &w.root) && tz_get_u64le(args[4].b) == 100000);
    for (size_t i = 0; i < N; i++) { /* per input: nf nk_spend auth_root pub_seed key d_j v rseed pos */
        const tz_felt *b = &args[5 + 9 * i];
        CHECK(tz_felt_eq(&b[0], &w.in[i].nf) && tz_felt_eq(&b[1], &w.in[i].nk_spend) &&
              tz_felt_eq(&b[2], &w.in[i].auth_root) && tz_felt_eq(&b[3], &w.in[i].auth_pub_seed) &&
              tz_get_u64le(b[4].b) == w.in[i].key_idx && tz_felt_eq(&b[5], &w.in[i].d_j) &&
              tz_get_u64le(b[6].b) == w.in[i].v && tz_felt_eq(&b[7], &w.in[i].rseed) &&
              tz_get_u64le(b[8].b) == w.in[i].pos);
    }
    size_t cm_at = 5 + 9 * N, auth_at = cm_at + 48 * N, sig_at = auth_at + 16 * N;
    size_t out_at = sig_at + 133 * N;
    CHECK(tz_felt_eq(&args[cm_at], &w.in[0].cm_path[0]) &&
          tz_felt_eq(&args[cm_at + 48 + 47], &w.in[1].cm_path[47]));
    CHECK(tz_felt_eq(&args[auth_at + 16], &w.in[1].auth_path[0]) &&
          tz_felt_eq(&args[sig_at + 133 + 132], &w.in[1].sig[132]));
    for (size_t j = 0; j < 3; j++) { /* cm d_j v rseed auth_root pub_seed nk_tag mh */
        const tz_felt *b = &args[out_at + 8 * j];
        const tz_spend_output *o = &w.out[j];
        CHECK(tz_felt_eq(&b[0], &o->cm) && tz_felt_eq(&b[1], &o->d_j) &&
              tz_get_u64le(b[2].b) == o->v && tz_felt_eq(&b[3], &o->rseed) &&
              tz_felt_eq(&b[4], &o->auth_root) && tz_felt_eq(&b[5], &o->auth_pub_seed) &&
              tz_felt_eq(&b[6], &o->nk_tag) && tz_felt_eq(&b[7], &o->mh));
    }
    CHECK(out_at + 24 == n);

    memset(&back, 0x5C, sizeof back);
    CHECK(tz_provarg_transfer_parse(&back, args, n, &err) == TZ_OK);
    CHECK(memcmp(&back, &w, sizeof w) == 0);
    char *text = json_round_trip(n);
    CHECK(text && strncmp(text, "[\"0x1b8\",\"0x2\",\"0x", 18) == 0);
    CHECK(text && strstr(text, ",\"0x186a0\",")); /* the fee */
    free(text);

    /* strict parse: each fault leaves the witness untouched */
    static tz_transfer_witness keep;
    keep = back;
#define REJECT(stmt)                                                             \
    do {                                                                         \
        memcpy(args2, args, n * sizeof *args);                                   \
        stmt;                                                                    \
        CHECK(tz_provarg_transfer_parse(&back, args2, n2, &err) == TZ_EINVAL);   \
        CHECK(memcmp(&back, &keep, sizeof back) == 0);                           \
    } while (0)
    size_t n2 = n;
    REJECT(args2[0].b[0] ^= 1);                         /* count */
    REJECT(args2[1] = U(3));                            /* N disagrees with length */
    REJECT(args2[1] = U(0); args2[0] = U(n - 1));       /* N = 0 */
    REJECT(args2[4].b[8] = 1);                          /* fee beyond u64 */
    REJECT(args2[5 + 4] = U(65536));                    /* key_idx */
    REJECT(args2[5 + 9 + 8] = U(1ull << 48));           /* pos */
    REJECT(args2[cm_at + 3].b[31] = 0x08);              /* not below 2^251 */
    REJECT(args2[out_at + 2].b[31] = 1);                /* output v beyond u64 */
    n2 = n - 1;
    REJECT((void)0);                                    /* short list */
    n2 = n;
    CHECK(tz_provarg_transfer_parse(&back, args, n, &err) == TZ_OK);
#undef REJECT

    /* builder faults */
    size_t m = 0;
    CHECK(tz_provarg_transfer(args2, n - 1, &m, &w, &err) == TZ_EINVAL);
    w.in[1].key_idx = 65536;
    CHECK(tz_provarg_transfer(args2, TZ_PROVARG_MAX, &m, &w, &err) == TZ_EINVAL);
    w.in[1].key_idx = 0;
    w.in[0].pos = 1ull << 48;
    CHECK(tz_provarg_transfer(args2, TZ_PROVARG_MAX, &m, &w, &err) == TZ_EINVAL);
    w.in[0].pos = 0;
    w.out[2].mh.b[31] = 0xFF;
    CHECK(tz_provarg_transfer(args2, TZ_PROVARG_MAX, &m, &w, &err) == TZ_EINVAL);
    w.out[2].mh.b[31] = 0;
    w.n = 8;
    CHECK(tz_provarg_transfer(args2, TZ_PROVARG_MAX, &m, &w, &err) == TZ_EINVAL);
    w.n = 7;
    for (int i = 2; i < 7; i++)
        fill_input(&w.in[i], 4000 + 1000 * (uint32_t)i);
    CHECK(tz_provarg_transfer(args2, TZ_PROVARG_MAX, &m, &w, &err) == TZ_OK && m == 1471);
}

static void test_unshield_args(void)
{
    static tz_unshield_witness w, back;
    tz_error err = {0};
    memset(&w, 0, sizeof w);
    w.auth_domain = F(1), w.root = F(2), w.v_pub = 99999, w.fee = 100000, w.recipient_id = F(3);
    w.n = 1;
    fill_input(&w.in[0], 500);
    fill_output(&w.producer, 600, 1);
    w.producer.cm = U(0); /* not an argument */
    size_t n = 0;
    CHECK(tz_provarg_unshield(args, TZ_PROVARG_MAX, &n, &w, &err) == TZ_OK);
    CHECK(n == 1 + 6 + 9 + 48 + 16 + 133 + 15 && n == TZ_PROVARG_UNSHIELD_LEN(1));
    CHECK(tz_get_u64le(args[4].b) == 99999 && tz_get_u64le(args[5].b) == 100000 &&
          tz_felt_eq(&args[6], &w.recipient_id) && tz_felt_eq(&args[7], &w.in[0].nf));
    size_t hc = 7 + 206;
    CHECK(tz_felt_is_zero(&args[hc]));
    for (int i = 1; i <= 7; i++)
        CHECK(tz_felt_is_zero(&args[hc + i]));
    CHECK(tz_felt_eq(&args[hc + 8], &w.producer.d_j) && tz_get_u64le(args[hc + 9].b) == 1 &&
          tz_felt_eq(&args[hc + 14], &w.producer.mh) && hc + 15 == n);
    char *text = json_round_trip(n);
    CHECK(text && strstr(text, "\"0x0\",\"0x0\",\"0x0\",\"0x0\",\"0x0\",\"0x0\",\"0x0\",\"0x0\","));
    free(text);
    memset(&back, 0, sizeof back);
    CHECK(tz_provarg_unshield_parse(&back, args, n, &err) == TZ_OK);
    CHECK(memcmp(&back, &w, sizeof w) == 0);
    memcpy(args2, args, n * sizeof *args);
    args2[hc] = U(2);
    CHECK(tz_provarg_unshield_parse(&back, args2, n, &err) == TZ_EINVAL);
    args2[hc] = U(0);
    args2[hc + 3] = U(1); /* change data without change */
    CHECK(tz_provarg_unshield_parse(&back, args2, n, &err) == TZ_EINVAL);
    args2[hc] = U(1); /* with has_change = 1 the block is read */
    CHECK(tz_provarg_unshield_parse(&back, args2, n, &err) == TZ_OK && back.has_change &&
          tz_felt_eq(&back.change.rseed, &args2[hc + 3]));

    w.change.v = 5;
    CHECK(tz_provarg_unshield(args2, TZ_PROVARG_MAX, &n, &w, &err) == TZ_EINVAL);
    w.has_change = true;
    fill_output(&w.change, 700, 12345);
    CHECK(tz_provarg_unshield(args2, TZ_PROVARG_MAX, &n, &w, &err) == TZ_OK);
    CHECK(tz_get_u64le(args2[hc].b) == 1 && tz_felt_eq(&args2[hc + 1], &w.change.d_j) &&
          tz_get_u64le(args2[hc + 2].b) == 12345 && tz_felt_eq(&args2[hc + 7], &w.change.mh));
    CHECK(tz_provarg_unshield_parse(&back, args2, n, &err) == TZ_OK && back.has_change);
    CHECK(memcmp(&back.change.d_j, &w.change.d_j, 32) == 0 && tz_felt_is_zero(&back.change.cm));
}

static void test_shield_args(void)
{
    static tz_shield_witness w, back;
    tz_error err = {0};
    memset(&w, 0, sizeof w);
    w.auth_domain = F(1), w.pubkey_hash = F(2), w.fee = 100000, w.blind = F(3), w.key_idx = 9;
    fill_output(&w.recipient, 100, 400000);
    fill_output(&w.producer, 200, 1);
    for (uint32_t i = 0; i < TZ_WOTS_CHAINS; i++)
        w.sig[i] = F(300 + i);
    for (uint32_t i = 0; i < TZ_XMSS_HEIGHT; i++)
        w.auth_path[i] = F(500 + i);
    size_t n = 0;
    CHECK(tz_provarg_shield(args, TZ_PROVARG_MAX, &n, &w, &err) == TZ_OK && n == 171);
    CHECK(tz_get_u64le(args[0].b) == 170);
    const tz_felt want[] = {w.auth_domain, w.pubkey_hash, U(400000), U(100000), U(1),
                            w.recipient.cm, w.producer.cm, w.recipient.mh, w.producer.mh,
                            w.recipient.auth_root, w.recipient.auth_pub_seed, w.recipient.nk_tag,
                            w.recipient.d_j, w.recipient.rseed, w.blind, U(9)};
    CHECK(memcmp(&args[1], want, sizeof want) == 0);
    CHECK(tz_felt_eq(&args[17], &w.sig[0]) && tz_felt_eq(&args[17 + 133], &w.auth_path[0]));
    const tz_felt tail[] = {w.producer.auth_root, w.producer.auth_pub_seed, w.producer.nk_tag,
                            w.producer.d_j, w.producer.rseed};
    CHECK(memcmp(&args[166], tail, sizeof tail) == 0);
    tz_shield_public s = {w.auth_domain, w.pubkey_hash, 400000, 100000, 1, w.recipient.cm,
                          w.producer.cm, w.recipient.mh, w.producer.mh};
    tz_felt outs[TZ_PUBOUT_MAX];
    CHECK(tz_pubout_shield(outs, &s) == 9 && memcmp(&args[1], outs, 9 * sizeof(tz_felt)) == 0);
    free(json_round_trip(n));
    memset(&back, 0, sizeof back);
    CHECK(tz_provarg_shield_parse(&back, args, n, &err) == TZ_OK);
    CHECK(memcmp(&back, &w, sizeof w) == 0);
    CHECK(tz_provarg_shield_parse(&back, args, n - 1, &err) == TZ_EINVAL);
    memcpy(args2, args, n * sizeof *args);
    args2[16] = U(70000);
    CHECK(tz_provarg_shield_parse(&back, args2, n, &err) == TZ_EINVAL);
    CHECK(tz_provarg_shield(args2, 170, &n, &w, &err) == TZ_EINVAL);
}

static void test_0x(void)
{
    char s[TZ_FELT_0X_CHARS];
    tz_felt f = U(0), g;
    tz_felt_to_0x(s, &f);
    CHECK(strcmp(s, "0x0") == 0);
    f = U(100000);
    tz_felt_to_0x(s, &f);
    CHECK(strcmp(s, "0x186a0") == 0);
    f = U(16);
    tz_felt_to_0x(s, &f);
    CHECK(strcmp(s, "0x10") == 0);
    memset(&f, 0xAB, sizeof f);
    tz_felt_to_0x(s, &f);
    CHECK(strlen(s) == 66 && strncmp(s, "0xabab", 6) == 0);
    CHECK(tz_felt_from_0x(&g, s, strlen(s)) == TZ_OK && tz_felt_eq(&f, &g));
    f = F(77);
    tz_felt_to_0x(s, &f);
    CHECK(tz_felt_from_0x(&g, s, strlen(s)) == TZ_OK && tz_felt_eq(&f, &g));
    /* the big-endian reading of a little-endian felt */
    CHECK(tz_felt_from_0x(&g, "0x1234", 6) == TZ_OK && g.b[0] == 0x34 && g.b[1] == 0x12 &&
          g.b[2] == 0);
    CHECK(tz_felt_from_0x(&g, "0x0", 3) == TZ_OK && tz_felt_is_zero(&g));
    static const char *bad[] = {"", "0x", "0", "1", "0x00", "0x01", "0X1", "0xA", "0x1g",
                                " 0x1", "0x1 ", "-0x1",
                                "0x10000000000000000000000000000000000000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(tz_felt_from_0x(&g, bad[i], strlen(bad[i])) == TZ_EINVAL, "0x %zu", i);

    size_t n = 0;
    tz_error err = {0};
    static const char *bad_json[] = {"", "{}", "[\"0x1\"", "[\"0x1\"] x", "[1]", "[\"0x01\"]",
                                     "[null]", "[[\"0x1\"]]", "\"0x1\""};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++)
        CHECK_MSG(tz_prover_args_parse_json(args2, 4, &n, bad_json[i], strlen(bad_json[i]),
                                            &err) == TZ_EPARSE,
                  "json %zu", i);
    const char *ok = " [ \"0x2\" ,\n\"0x0\" ] ";
    CHECK(tz_prover_args_parse_json(args2, 4, &n, ok, strlen(ok), &err) == TZ_OK && n == 2);
    CHECK(tz_prover_args_parse_json(args2, 1, &n, ok, strlen(ok), &err) == TZ_EPARSE);
}

/* ---- proof bundles --------------------------------------------------- */

static void test_bundle(void)
{
    json_t *fx = tz_test_data_json("verified_bridge_flow.json");
    tz_kmsg m;
    tz_error err = {0};
    if (fx && tz_test_bridge_msg(fx, "unshield", &m)) {
        char *text = NULL;
        size_t len = 0;
        CHECK(tz_bundle_json(&m.u.unshield.proof, &text, &len, &err) == TZ_OK);
        CHECK(text && strncmp(text, "{\"proof_bytes\":\"28b52ffd", 24) == 0);
        tz_kmsg_proof p = {0};
        CHECK(text && tz_bundle_parse(&p, text, len, &err) == TZ_OK);
        CHECK(p.len == m.u.unshield.proof.len && p.n_preimage == 14 &&
              memcmp(p.bytes, m.u.unshield.proof.bytes, p.len) == 0 &&
              memcmp(p.preimage, m.u.unshield.proof.preimage, 14 * sizeof(tz_felt)) == 0);
        tz_kmsg_proof_free(&p);
        CHECK(p.bytes == NULL && p.len == 0);
        free(text);
    }
    tz_kmsg_free(&m);
    json_decref(fx);

    const char *z64 = "0000000000000000000000000000000000000000000000000000000000000000";
    char ok[256], buf[256];
    snprintf(ok, sizeof ok, "{\"output_preimage\": [\"%s\", \"%.62sAB\"], \"proof_bytes\": \"aBcD\"}",
             z64, z64);
    tz_kmsg_proof p = {0};
    CHECK(tz_bundle_parse(&p, ok, strlen(ok), &err) == TZ_OK);
    CHECK(p.len == 2 && p.bytes[0] == 0xAB && p.bytes[1] == 0xCD && p.n_preimage == 2 &&
          p.preimage[1].b[31] == 0xAB);
    tz_kmsg_proof_free(&p);
    snprintf(buf, sizeof buf, "{\"proof_bytes\":\"\",\"output_preimage\":[]}");
    CHECK(tz_bundle_parse(&p, buf, strlen(buf), &err) == TZ_OK && p.len == 0 && p.n_preimage == 0);
    tz_kmsg_proof_free(&p);

    const char *bad[] = {
        "", "[]", "{\"proof_bytes\":\"00\"}", "{\"output_preimage\":[]}",
        "{\"proof_bytes\":\"00\",\"output_preimage\":[],\"type\":\"Stark\"}",
        "{\"proof_bytes\":\"00\",\"proof_bytes\":\"00\",\"output_preimage\":[]}",
        "{\"proof_bytes\":\"0\",\"output_preimage\":[]}",
        "{\"proof_bytes\":\"0x00\",\"output_preimage\":[]}",
        "{\"proof_bytes\":\"zz\",\"output_preimage\":[]}",
        "{\"proof_bytes\":00,\"output_preimage\":[]}",
        "{\"proof_bytes\":\"00\",\"output_preimage\":{}}",
        "{\"proof_bytes\":\"00\",\"output_preimage\":[\"00\"]}",
        "{\"proof_bytes\":\"00\",\"output_preimage\":[1]}",
        "{\"proof_bytes\":\"00\",\"output_preimage\":[]} {}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tz_kmsg_proof q = {(uint8_t *)1, 7, NULL, 9};
        CHECK_MSG(tz_bundle_parse(&q, bad[i], strlen(bad[i]), &err) == TZ_EPARSE, "bundle %zu",
                  i);
        CHECK(q.bytes == (uint8_t *)1 && q.len == 7 && q.n_preimage == 9);
    }
    /* 1025 preimage felts */
    size_t cap = 64 + 1025 * 67;
    char *big = malloc(cap), *o = big;
    if (big) {
        o += sprintf(o, "{\"proof_bytes\":\"\",\"output_preimage\":[");
        for (int i = 0; i < 1025; i++)
            o += sprintf(o, "%s\"%s\"", i ? "," : "", z64);
        o += sprintf(o, "]}");
        CHECK(tz_bundle_parse(&p, big, (size_t)(o - big), &err) == TZ_EPARSE);
        CHECK(strstr(err.msg, "1024") != NULL);
        free(big);
    }
    tz_kmsg_proof huge = {NULL, TZ_KMSG_MAX_PROOF_BYTES + 1, NULL, 0};
    char *t = NULL;
    size_t tl = 0;
    CHECK(tz_bundle_json(&huge, &t, &tl, &err) == TZ_EINVAL && t == NULL);
}

int main(void)
{
    test_bridge_public_outputs();
    test_sighash_order();
    test_preimage();
    test_transfer_args();
    test_unshield_args();
    test_shield_args();
    test_0x();
    test_bundle();
    return tz_test_done("test_spend");
}
