/* The simulator's kernel (sim/kernel.h) on a real simulator chain: notes
 * paid through sim_chain_append to addresses whose keys the test holds,
 * their paths computed from the chain's leaves, transparent transfer,
 * unshield and shield proofs built with the core functions, then every
 * rejection of SPENDS.md section 8 the test can provoke, the accepted
 * messages' effects on the durable state, and replays. */
#include "chain.h"
#include "durable.h"
#include "kernel.h"

#include "core/kmsg.h"
#include "core/recipient.h"
#include "core/wire.h"
#include "tz_test_witness.h"

static sim_chain chain;

/* An address of test key 0 whose auth_root is the one of key key_idx
 * under make_input's arbitrary siblings (seed), encrypting to a stranger's
 * KEM keys (the test never decrypts). */
static void pay_to(tz_payment_address *pa, const tz_spend_input *in)
{
    memset(pa, 0, sizeof *pa);
    pa->d_j = addr[0].d_j;
    pa->auth_root = in->auth_root;
    pa->auth_pub_seed = addr[0].auth_pub_seed;
    pa->nk_tag = addr[0].nk_tag;
    memcpy(pa->ek_v, chain.strangers[0].ek_v, TZ_KEM_EK_BYTES);
    memcpy(pa->ek_d, chain.strangers[0].ek_d, TZ_KEM_EK_BYTES);
}

/* A note of value v at the next leaf, spendable as *in with key key_idx. */
static void fund(tz_spend_input *in, uint64_t v, uint32_t key_idx, uint32_t seed)
{
    tz_payment_address pa;
    tz_error e = {0};
    uint64_t first = 0, vv;
    make_input(in, &addr[0], v, key_idx, 0, seed);
    pay_to(&pa, in);
    CHECK(sim_chain_append(&chain, 1, &pa, v, &first, &e) == TZ_OK);
    in->pos = first;
    sim_leaf_opening(&chain, first, &pa, v, &vv, &in->rseed);
    tz_felt cm;
    input_cm(&cm, in);
    CHECK_MEM(cm.b, sim_leaf(&chain, first), 32);
    tz_note_nullifier(&in->nf, &in->nk_spend, &cm, in->pos);
}

/* The commitment path of leaf pos in the head's tree and its root. */
static void tree_path(tz_spend_input *in, tz_felt *root)
{
    uint64_t n = sim_chain_head(&chain)->fr.size, idx = in->pos;
    tz_felt *lvl = malloc(n * sizeof *lvl);
    for (uint64_t i = 0; i < n; i++)
        memcpy(lvl[i].b, sim_leaf(&chain, i), 32);
    for (unsigned l = 0; l < TZ_CM_DEPTH; l++) {
        const tz_felt *z = tz_merkle_zero(l);
        in->cm_path[l] = (idx ^ 1) < n ? lvl[idx ^ 1] : *z;
        uint64_t m = (n + 1) / 2;
        for (uint64_t j = 0; j < m; j++) {
            tz_felt right = 2 * j + 1 < n ? lvl[2 * j + 1] : *z;
            tz_merkle_node(&lvl[j], &lvl[2 * j], &right);
        }
        n = m;
        idx >>= 1;
    }
    *root = lvl[0];
    free(lvl);
}

/* A well-formed ciphertext distinct per seed. */
static void enc_of(tz_enc_note *enc, uint32_t seed)
{
    memset(enc, 0, sizeof *enc);
    tz_felt f = F(seed);
    memcpy(enc->nonce, f.b, sizeof enc->nonce);
    enc->tag = (uint16_t)(seed % 1024);
}

static tz_status apply(const tz_kmsg *m, int kind, uint64_t *level, tz_error *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    tz_error ee = {0};
    CHECK(tz_kmsg_encode(m, &buf, &len, &ee) == TZ_OK);
    tz_status st = sim_kernel_apply(&chain, buf, len, kind, level, e);
    free(buf);
    return st;
}

/* Applies m and expects st with `want` in the message. */
#define EXPECT_APPLY(m, kind, st, want)                                                  \
    do {                                                                                 \
        tz_error e_ = {0};                                                               \
        uint64_t lv_;                                                                    \
        expect_at(__LINE__, apply((m), (kind), &lv_, &e_), &e_, (st), (want));           \
    } while (0)

/* The durable value at key in the head block, or -1 when absent. */
static long durable(const char *key, uint8_t out[SIM_MAX_VALUE])
{
    sim_path p;
    size_t len = 0;
    if (!sim_path_parse(&p, key))
        return -1;
    return sim_durable_value(&chain, sim_chain_head(&chain), &p, out, &len) ? (long)len : -1;
}

static uint64_t durable_u64(const char *key)
{
    uint8_t v[SIM_MAX_VALUE];
    return durable(key, v) == 8 ? tz_get_u64le(v) : UINT64_MAX;
}

static void felt_key(char *out, size_t cap, const char *prefix, const tz_felt *f)
{
    char h[65];
    tz_felt_to_hex(h, f);
    snprintf(out, cap, "/tzel/v1/state/%s/%s", prefix, h);
}

static tz_kmsg tm;
static tz_enc_note tenc[3];

/* A valid one-input transfer of `in` under root: 700000 + change + 1 to
 * the producer, fee 100000. */
static void build_transfer_msg(const tz_spend_input *in, const tz_felt *root, uint32_t seed)
{
    tz_transfer_witness *w = &tw;
    memset(w, 0, sizeof *w);
    tz_default_auth_domain(&w->auth_domain);
    w->root = *root;
    w->n = 1;
    w->fee = 100000;
    w->in[0] = *in;
    owner[0] = &addr[0];
    uint64_t change = in->v - 700000 - 1 - w->fee;
    make_output(&w->out[0], seed, 700000);
    make_output(&w->out[1], seed + 10, change);
    make_output(&w->out[2], seed + 20, 1);
    for (size_t k = 0; k < 3; k++) {
        enc_of(&tenc[k], seed + 30 + (uint32_t)k);
        tz_memo_ct_hash(&w->out[k].mh, &tenc[k]);
    }
    seal_transfer(w);
    size_t n = 0;
    tz_error e = {0};
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, w, &e) == TZ_OK);
    tz_kmsg_free(&tm);
    memset(&tm, 0, sizeof tm);
    tm.kind = TZ_KMSG_TRANSFER;
    tz_kmsg_transfer *m = &tm.u.transfer;
    CHECK(tz_transparent_prove(TZ_CIRCUIT_TRANSFER, args, n, &m->proof, &e) == TZ_OK);
    m->root = *root;
    m->n_nf = 1;
    m->nf[0] = in->nf;
    m->fee = w->fee;
    for (size_t k = 0; k < 3; k++) {
        m->cm[k] = w->out[k].cm;
        m->enc[k] = tenc[k];
    }
}

static void test_transfer(void)
{
    tz_spend_input a, b;
    tz_felt root_ab, root;
    fund(&a, 1000000, 5, 1);
    fund(&b, 2000000, 6, 2);
    tree_path(&a, &root_ab);
    CHECK_MEM(root_ab.b, sim_chain_head(&chain)->root.b, 32);
    build_transfer_msg(&a, &root_ab, 100);
    tz_kmsg_transfer *m = &tm.u.transfer;
    tz_kmsg_transfer keep = *m;

    /* Rejections: nothing changes. */
    uint64_t size0 = sim_chain_head(&chain)->fr.size, level0 = sim_chain_head(&chain)->level;
    EXPECT_APPLY(&tm, TZ_KMSG_UNSHIELD, TZ_EINVAL, "the submission says unshield");
    m->fee = 99999;
    EXPECT_APPLY(&tm, 0, TZ_EMISMATCH, "below the required fee 100000");
    *m = keep;
    flip(&m->root);
    EXPECT_APPLY(&tm, 0, TZ_EMISMATCH, "is not a recorded root");
    *m = keep;
    m->n_nf = 2;
    m->nf[1] = m->nf[0];
    EXPECT_APPLY(&tm, 0, TZ_EMISMATCH, "repeated in the message");
    *m = keep;
    flip(&m->cm[0]);
    EXPECT_APPLY(&tm, 0, TZ_EMISMATCH, "public outputs of the proof differ");
    *m = keep;
    m->enc[1].nonce[0] ^= 1; /* memo hash no longer the signed one */
    EXPECT_APPLY(&tm, 0, TZ_EMISMATCH, "public outputs of the proof differ");
    *m = keep;
    tz_felt ph = m->proof.preimage[2];
    flip(&m->proof.preimage[2]);
    EXPECT_APPLY(&tm, 0, TZ_EMISMATCH, "is not the transparent transfer program");
    m->proof.preimage[2] = ph;
    m->proof.bytes[40] ^= 1; /* the witness's auth_domain or N */
    EXPECT_APPLY(&tm, 0, TZ_EMISMATCH, "proof");
    m->proof.bytes[40] ^= 1;
    {
        uint8_t junk[5] = {17, 0, 3, 0, 0};
        tz_error e = {0};
        uint64_t lv;
        CHECK(sim_kernel_apply(&chain, junk, sizeof junk, 0, &lv, &e) == TZ_EINVAL);
        CHECK(strstr(e.msg, "does not decode") != NULL);
    }
    CHECK(sim_chain_head(&chain)->fr.size == size0);
    CHECK(sim_chain_head(&chain)->level == level0);

    /* Accepted: three notes, the nullifier, a new recorded root, the fee
     * counter of the new level. */
    tz_error e = {0};
    uint64_t lv = 0;
    CHECK_MSG(apply(&tm, TZ_KMSG_TRANSFER, &lv, &e) == TZ_OK, "%s", e.msg);
    const sim_block *h = sim_chain_head(&chain);
    CHECK(lv == level0 + 1 && h->level == lv);
    CHECK(h->fr.size == size0 + 3);
    for (size_t k = 0; k < 3; k++) {
        tz_published_note pn;
        CHECK(tz_wire_decode_published_note(&pn, sim_leaf(&chain, size0 + k), SIM_NOTE_BYTES) ==
              TZ_OK);
        CHECK_MEM(pn.cm.b, m->cm[k].b, 32);
        CHECK(pn.enc.tag == m->enc[k].tag);
    }
    CHECK(sim_chain_has_nf(&chain, h, &a.nf));
    CHECK(sim_chain_has_root(&chain, h, &h->root));
    char key[160];
    uint8_t v[SIM_MAX_VALUE];
    felt_key(key, sizeof key, "roots/by-key", &h->root);
    CHECK(durable(key, v) == 1);
    felt_key(key, sizeof key, "nullifiers/by-key", &a.nf);
    CHECK(durable(key, v) == 1);
    CHECK(durable_u64("/tzel/v1/state/fees/private_tx_count_in_level") == 1);
    CHECK(durable("/tzel/v1/state/fees/private_tx_level", v) == 4 && tz_get_u32le(v) == lv);
    CHECK(sim_chain_fee_count(h, lv) == 1 && sim_chain_fee_count(h, lv + 1) == 0);
    CHECK(durable_u64("/tzel/v1/state/roots/count") == h->roots_count);

    /* Replay: the nullifier is spent. */
    EXPECT_APPLY(&tm, 0, TZ_EMISMATCH, "already spent");

    /* b under the new root: a second private transaction, a new level. */
    tree_path(&b, &root);
    CHECK(!tz_felt_eq(&root, &root_ab));
    build_transfer_msg(&b, &root, 200);
    CHECK_MSG(apply(&tm, 0, &lv, &e) == TZ_OK, "%s", e.msg);
    CHECK(sim_kernel_required_fee(0) == 100000 && sim_kernel_required_fee(1) == 100000);
    CHECK(sim_kernel_required_fee(2) == 200000 && sim_kernel_required_fee(7) == 6400000);
    CHECK(sim_kernel_required_fee(100) == 6400000);
}

static void test_old_root(void)
{
    /* A note spent under a root that is no longer the head's. */
    tz_spend_input c;
    tz_felt root_c;
    fund(&c, 1500000, 7, 3);
    tree_path(&c, &root_c);
    tz_error e = {0};
    CHECK(sim_chain_append(&chain, 2, NULL, 0, NULL, &e) == TZ_OK); /* moves the root */
    CHECK(!tz_felt_eq(&sim_chain_head(&chain)->root, &root_c));
    build_transfer_msg(&c, &root_c, 300);
    uint64_t lv;
    CHECK_MSG(apply(&tm, 0, &lv, &e) == TZ_OK, "%s", e.msg);
}

static void test_unshield(void)
{
    tz_spend_input in;
    tz_felt root;
    fund(&in, 900000, 8, 4);
    tree_path(&in, &root);
    tz_unshield_witness *w = &uw;
    memset(w, 0, sizeof *w);
    tz_default_auth_domain(&w->auth_domain);
    w->root = root;
    w->n = 1;
    w->fee = 100000;
    w->v_pub = 900000 - 100000 - 1;
    const char *rcpt = chain.public_account;
    tz_unshield_recipient_id(&w->recipient_id, rcpt, strlen(rcpt));
    w->in[0] = in;
    owner[0] = &addr[0];
    tz_enc_note fee_enc;
    enc_of(&fee_enc, 4000);
    make_output(&w->producer, 4100, 1);
    tz_memo_ct_hash(&w->producer.mh, &fee_enc);
    seal_unshield(w);
    /* seal_unshield clears cm (not an argument); recompute it */
    output_cm(&w->producer);
    tz_felt cm_fee = w->producer.cm;
    memset(&w->producer.cm, 0, sizeof w->producer.cm);
    size_t n = 0;
    tz_error e = {0};
    CHECK(tz_provarg_unshield(args, TZ_PROVARG_MAX, &n, w, &e) == TZ_OK);
    tz_kmsg msg;
    memset(&msg, 0, sizeof msg);
    msg.kind = TZ_KMSG_UNSHIELD;
    tz_kmsg_unshield *m = &msg.u.unshield;
    CHECK(tz_transparent_prove(TZ_CIRCUIT_UNSHIELD, args, n, &m->proof, &e) == TZ_OK);
    m->root = root;
    m->n_nf = 1;
    m->nf[0] = in.nf;
    m->v_pub = w->v_pub;
    m->fee = w->fee;
    m->recipient_len = strlen(rcpt);
    memcpy(m->recipient, rcpt, m->recipient_len);
    m->cm_fee = cm_fee;
    m->enc_fee = fee_enc;
    tz_kmsg_unshield keep = *m;

    memcpy(m->recipient, "tz1", 3);
    m->recipient[5] ^= 1; /* checksum broken */
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "recipient is not a tz1");
    *m = keep;
    m->cm_change = F(1);
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "change commitment without a change ciphertext");
    *m = keep;
    memset(&m->cm_fee, 0, sizeof m->cm_fee);
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "fee note commitment is zero");
    *m = keep;
    m->v_pub--;
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "public outputs of the proof differ");
    *m = keep;

    uint64_t size0 = sim_chain_head(&chain)->fr.size, lv;
    CHECK_MSG(apply(&msg, TZ_KMSG_UNSHIELD, &lv, &e) == TZ_OK, "%s", e.msg);
    CHECK(sim_chain_head(&chain)->fr.size == size0 + 1);
    CHECK(durable_u64("/tzel/v1/state/withdrawals/count") == 1);
    uint8_t v[SIM_MAX_VALUE];
    long len = durable("/tzel/v1/state/withdrawals/index/0000000000000000", v);
    CHECK(len == 12 + (long)strlen(rcpt));
    CHECK(tz_get_u64le(v) == w->v_pub);
    CHECK(tz_get_u32le(v + 8) == strlen(rcpt));
    CHECK(len > 12 && memcmp(v + 12, rcpt, strlen(rcpt)) == 0);
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "already spent");
    tz_kmsg_free(&msg);

    CHECK(tz_recipient_valid(" KT1UniScUds6gDWazE7yytnAzqQrNQdDphgz ", 38));
    CHECK(tz_recipient_valid("tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx", 36));
    CHECK(!tz_recipient_valid("sr1D5SsUraEmspiVpK2MmT7uLU8wtjHwN9uc", 36));
    CHECK(!tz_recipient_valid("tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSy", 36));
    CHECK(!tz_recipient_valid("", 0));
    /* Unicode White_Space (NBSP, EM SPACE) is trimmed as the kernel trims it. */
    CHECK(tz_recipient_valid("\xc2\xa0tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx\xe2\x80\x83", 41));
    CHECK(!tz_recipient_valid("tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx\xe2\x80", 38));
}

static void test_shield(void)
{
    tz_shield_witness *w = &sw;
    build_shield(w); /* 500 to address 0, producer fee 2, fee 4 */
    tz_enc_note ce, pe;
    enc_of(&ce, 5000);
    enc_of(&pe, 5001);
    tz_memo_ct_hash(&w->recipient.mh, &ce);
    tz_memo_ct_hash(&w->producer.mh, &pe);
    seal_shield(w);
    size_t n = 0;
    tz_error e = {0};
    CHECK(tz_provarg_shield(args, TZ_PROVARG_MAX, &n, w, &e) == TZ_OK);
    tz_kmsg msg;
    memset(&msg, 0, sizeof msg);
    msg.kind = TZ_KMSG_SHIELD;
    tz_kmsg_shield *m = &msg.u.shield;
    CHECK(tz_transparent_prove(TZ_CIRCUIT_SHIELD, args, n, &m->proof, &e) == TZ_OK);
    m->pubkey_hash = w->pubkey_hash;
    m->fee = w->fee;
    m->v = w->recipient.v;
    m->producer_fee = w->producer.v;
    m->client_cm = w->recipient.cm;
    m->client_enc = ce;
    m->producer_cm = w->producer.cm;
    m->producer_enc = pe;

    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "holds 0, the shield needs 506");
    CHECK(sim_chain_deposit(&chain, &m->pubkey_hash, 505, false, &e) == TZ_OK);
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "holds 505, the shield needs 506");
    CHECK(sim_chain_deposit(&chain, &m->pubkey_hash, 1, false, &e) == TZ_OK);
    tz_kmsg_shield keep = *m;
    m->producer_fee = 0;
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "producer fee must be greater than zero");
    *m = keep;
    m->v = 499;
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "public outputs of the proof differ");
    *m = keep;

    uint64_t size0 = sim_chain_head(&chain)->fr.size, lv;
    CHECK_MSG(apply(&msg, TZ_KMSG_SHIELD, &lv, &e) == TZ_OK, "%s", e.msg);
    CHECK(sim_chain_head(&chain)->fr.size == size0 + 2);
    CHECK_MEM(sim_leaf(&chain, size0), m->client_cm.b, 32);
    CHECK_MEM(sim_leaf(&chain, size0 + 1), m->producer_cm.b, 32);
    char key[160];
    uint8_t v[SIM_MAX_VALUE];
    felt_key(key, sizeof key, "deposits/balance", &m->pubkey_hash);
    CHECK(durable(key, v) == 0); /* drained: the empty value */
    felt_key(key, sizeof key, "shields/applied_cm", &m->client_cm);
    CHECK(durable(key, v) == 1);
    /* Replay with the pool refilled: the marker stops it. */
    CHECK(sim_chain_deposit(&chain, &m->pubkey_hash, 1000, false, &e) == TZ_OK);
    EXPECT_APPLY(&msg, 0, TZ_EMISMATCH, "already applied");
    tz_kmsg_free(&msg);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    witness_keys_init();
    sim_gen_params p = {.seed = "kernel-test", .leaves = 3, .threads = 1, .keep = 64};
    tz_error e = {0};
    if (sim_chain_init(&chain, &p, &e) != TZ_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    test_transfer();
    test_old_root();
    test_unshield();
    test_shield();
    tz_kmsg_free(&tm);
    sim_chain_free(&chain);
    witness_keys_wipe();
    return tz_test_done("test_sim_kernel");
}
