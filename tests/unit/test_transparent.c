/* The transparent prover (spend/transparent.h): statements built from
 * scratch with the core functions (real address keys and WOTS signatures;
 * auth and commitment paths with arbitrary siblings folded up to a
 * consistent auth_root and root) pass, and one flipped bit in each part
 * fails with the message of its own check; proofs round-trip through
 * prove and verify; the tzel-transparent-prover program (TZ_BIN_DIR, else
 * next to this test) proves an argument file and names a failed check. */
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spend/bundle.h"
#include "spend/prover_json.h"

#include "core/commit.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/merkle.h"
#include "core/provarg.h"
#include "core/sighash.h"
#include "core/xmss.h"
#include "spend/transparent.h"
#include "tz_test.h"

/* Distinct deterministic felts below 2^251. */
static tz_felt F(uint32_t i)
{
    tz_felt f;
    tz_hash(&f, &i, sizeof i);
    return f;
}

static void flip(tz_felt *f) { f->b[3] ^= 0x10; }

static tz_keys keys;
static tz_addr_keys addr[2];
/* The address each input of the witness under test belongs to. */
static const tz_addr_keys *owner[TZ_KMSG_MAX_INPUTS];

/* Checks a status and, when want is non-NULL, that the message holds it. */
static void expect_at(int line, tz_status got, const tz_error *e, tz_status st, const char *want)
{
    CHECK_MSG(got == st, "line %d: status %d, message \"%s\"", line, got, e->msg);
    if (want)
        CHECK_MSG(strstr(e->msg, want) != NULL, "line %d: message \"%s\"", line, e->msg);
}

/* Runs call (which may use the tz_error e_) and expects st and want. */
#define EXPECT(call, st, want)                          \
    do {                                                \
        tz_error e_ = {0};                              \
        tz_status r_ = (call);                          \
        expect_at(__LINE__, r_, &e_, (st), (want));     \
    } while (0)

/* ---- building statements --------------------------------------------- */

static void node_up(tz_felt *cur, uint64_t pos, unsigned l, const tz_felt *sib)
{
    if ((pos >> l) & 1)
        tz_merkle_node(cur, sib, cur);
    else
        tz_merkle_node(cur, cur, sib);
}

/* auth_root of key key_idx of address a under arbitrary siblings path[]. */
static void auth_root_of(tz_felt *root, const tz_addr_keys *a, uint32_t key_idx,
                         const tz_felt path[TZ_XMSS_HEIGHT])
{
    tz_felt cur;
    tz_xmss_leaf(&cur, &a->ask_j, &a->auth_pub_seed, key_idx);
    for (uint32_t h = 1; h <= TZ_XMSS_HEIGHT; h++) {
        uint32_t start = (key_idx >> h) << h;
        if ((key_idx >> (h - 1)) & 1)
            tz_xmss_node(&cur, &a->auth_pub_seed, h, start, &path[h - 1], &cur);
        else
            tz_xmss_node(&cur, &a->auth_pub_seed, h, start, &cur, &path[h - 1]);
    }
    *root = cur;
}

static void input_cm(tz_felt *cm, const tz_spend_input *in)
{
    tz_felt nk_tag, otag;
    tz_nk_tag(&nk_tag, &in->nk_spend);
    tz_owner_tag(&otag, &in->auth_root, &in->auth_pub_seed, &nk_tag);
    tz_note_cm_from_rseed(cm, &in->d_j, in->v, &in->rseed, &otag);
}

/* A note of address a worth v at pos, spendable with key key_idx. */
static void make_input(tz_spend_input *in, const tz_addr_keys *a, uint64_t v, uint32_t key_idx,
                       uint64_t pos, uint32_t seed)
{
    memset(in, 0, sizeof *in);
    in->nk_spend = a->nk_spend;
    in->auth_pub_seed = a->auth_pub_seed;
    in->key_idx = key_idx;
    in->d_j = a->d_j;
    in->v = v;
    in->rseed = F(seed);
    in->pos = pos;
    for (uint32_t l = 0; l < TZ_XMSS_HEIGHT; l++)
        in->auth_path[l] = F(seed * 1000 + 100 + l);
    auth_root_of(&in->auth_root, a, key_idx, in->auth_path);
}

/* Commitment paths of in[0..n) (distinct positions) under one root: below
 * the level where two paths meet the siblings are arbitrary, where they
 * meet each is the other's node, above they share arbitrary siblings.
 * Handles n <= 2. */
static void make_paths(tz_spend_input *in, size_t n, tz_felt *root)
{
    tz_felt cur[2];
    unsigned meet = TZ_CM_DEPTH;
    for (size_t i = 0; i < n; i++)
        input_cm(&cur[i], &in[i]);
    if (n == 2)
        meet = 63u - (unsigned)__builtin_clzll(in[0].pos ^ in[1].pos);
    for (unsigned l = 0; l < TZ_CM_DEPTH; l++) {
        if (l == meet) {
            in[0].cm_path[l] = cur[1];
            in[1].cm_path[l] = cur[0];
        } else {
            for (size_t i = 0; i < n; i++)
                in[i].cm_path[l] = F(l < meet ? 5000 + 100 * (uint32_t)i + l : 6000 + l);
        }
        for (size_t i = 0; i < n; i++)
            node_up(&cur[i], in[i].pos, l, &in[i].cm_path[l]);
        if (l == meet)
            cur[1] = cur[0];
    }
    *root = cur[0];
    for (size_t i = 0; i < n; i++) {
        tz_felt cm;
        input_cm(&cm, &in[i]);
        tz_note_nullifier(&in[i].nf, &in[i].nk_spend, &cm, in[i].pos);
    }
}

static void make_output(tz_spend_output *o, uint32_t seed, uint64_t v)
{
    memset(o, 0, sizeof *o);
    o->d_j = F(seed), o->v = v, o->rseed = F(seed + 1), o->auth_root = F(seed + 2);
    o->auth_pub_seed = F(seed + 3), o->nk_tag = F(seed + 4), o->mh = F(seed + 5);
}

static void output_cm(tz_spend_output *o)
{
    tz_felt otag;
    tz_owner_tag(&otag, &o->auth_root, &o->auth_pub_seed, &o->nk_tag);
    tz_note_cm_from_rseed(&o->cm, &o->d_j, o->v, &o->rseed, &otag);
}

static void sign_inputs(tz_spend_input *in, size_t n, const tz_felt *sighash)
{
    for (size_t i = 0; i < n; i++)
        tz_wots_sign(in[i].sig, &owner[i]->ask_j, &in[i].auth_pub_seed, in[i].key_idx, sighash);
}

/* Recomputes the output commitments and signs every input: a mutation
 * followed by this is a consistently signed statement. */
static void seal_transfer(tz_transfer_witness *w)
{
    tz_transfer_public p;
    tz_felt h;
    memset(&p, 0, sizeof p);
    p.auth_domain = w->auth_domain, p.root = w->root, p.n_nf = w->n, p.fee = w->fee;
    for (size_t i = 0; i < w->n; i++)
        p.nf[i] = w->in[i].nf;
    for (size_t k = 0; k < 3; k++) {
        output_cm(&w->out[k]);
        p.cm[k] = w->out[k].cm, p.mh[k] = w->out[k].mh;
    }
    CHECK(tz_sighash_transfer(&h, &p) == TZ_OK);
    sign_inputs(w->in, w->n, &h);
}

/* Two inputs (600 + 400) of two addresses: 700 + 294 + 1 + fee 5. */
static void build_transfer(tz_transfer_witness *w)
{
    memset(w, 0, sizeof *w);
    tz_default_auth_domain(&w->auth_domain);
    w->n = 2;
    w->fee = 5;
    owner[0] = &addr[0], owner[1] = &addr[1];
    make_input(&w->in[0], &addr[0], 600, 5, 9, 1);
    make_input(&w->in[1], &addr[1], 400, 40000, (UINT64_C(1) << 47) + 3, 2);
    make_paths(w->in, 2, &w->root);
    make_output(&w->out[0], 700, 700);
    make_output(&w->out[1], 800, 294);
    make_output(&w->out[2], 900, 1);
    seal_transfer(w);
}

static void seal_unshield(tz_unshield_witness *w)
{
    tz_unshield_public p;
    tz_felt h;
    memset(&p, 0, sizeof p);
    p.auth_domain = w->auth_domain, p.root = w->root, p.n_nf = w->n;
    for (size_t i = 0; i < w->n; i++)
        p.nf[i] = w->in[i].nf;
    p.v_pub = w->v_pub, p.fee = w->fee, p.recipient_id = w->recipient_id;
    if (w->has_change) {
        output_cm(&w->change);
        p.cm_change = w->change.cm;
        memset(&w->change.cm, 0, sizeof w->change.cm); /* not an argument */
    }
    p.mh_change = w->change.mh;
    output_cm(&w->producer);
    p.cm_fee = w->producer.cm;
    memset(&w->producer.cm, 0, sizeof w->producer.cm);
    p.mh_fee = w->producer.mh;
    CHECK(tz_sighash_unshield(&h, &p) == TZ_OK);
    sign_inputs(w->in, w->n, &h);
}

/* One input of 1000 at a high position: 800 public + 190 change + 3 + fee 7. */
static void build_unshield(tz_unshield_witness *w, bool change)
{
    memset(w, 0, sizeof *w);
    tz_default_auth_domain(&w->auth_domain);
    w->n = 1;
    w->fee = 7;
    w->v_pub = change ? 800 : 990;
    tz_unshield_recipient_id(&w->recipient_id, "tz1example", 10);
    owner[0] = &addr[1];
    make_input(&w->in[0], &addr[1], 1000, 65535, (UINT64_C(1) << 48) - 2, 3);
    make_paths(w->in, 1, &w->root);
    w->has_change = change;
    if (change)
        make_output(&w->change, 1100, 190);
    make_output(&w->producer, 1200, 3);
    seal_unshield(w);
}

static void seal_shield(tz_shield_witness *w)
{
    tz_shield_public p;
    tz_felt h;
    output_cm(&w->recipient);
    output_cm(&w->producer);
    memset(&p, 0, sizeof p);
    p.auth_domain = w->auth_domain, p.pubkey_hash = w->pubkey_hash, p.v = w->recipient.v;
    p.fee = w->fee, p.producer_fee = w->producer.v;
    p.cm_recipient = w->recipient.cm, p.cm_producer = w->producer.cm;
    p.mh_recipient = w->recipient.mh, p.mh_producer = w->producer.mh;
    tz_sighash_shield(&h, &p);
    tz_wots_sign(w->sig, &addr[0].ask_j, &addr[0].auth_pub_seed, w->key_idx, &h);
}

/* Address 0 shields 500 with a producer fee of 2 and a fee of 4. */
static void build_shield(tz_shield_witness *w)
{
    memset(w, 0, sizeof *w);
    tz_default_auth_domain(&w->auth_domain);
    w->fee = 4;
    w->key_idx = 300;
    for (uint32_t l = 0; l < TZ_XMSS_HEIGHT; l++)
        w->auth_path[l] = F(7100 + l);
    tz_spend_output *r = &w->recipient;
    r->d_j = addr[0].d_j, r->v = 500, r->rseed = F(7001);
    auth_root_of(&r->auth_root, &addr[0], w->key_idx, w->auth_path);
    r->auth_pub_seed = addr[0].auth_pub_seed, r->nk_tag = addr[0].nk_tag, r->mh = F(7002);
    make_output(&w->producer, 7300, 2);
    w->blind = F(7003);
    tz_deposit_pubkey_hash(&w->pubkey_hash, &w->auth_domain, &r->auth_root, &r->auth_pub_seed,
                           &w->blind);
    seal_shield(w);
}

/* ---- transfer ---------------------------------------------------------- */

static tz_transfer_witness tw, tm;
static tz_unshield_witness uw, um;
static tz_shield_witness sw, sm;

#define T_EXPECT(st, want) EXPECT(tz_transparent_check_transfer(&tm, &tp, &e_), st, want)

static void test_transfer(void)
{
    tz_transfer_public tp;
    build_transfer(&tw);

    tm = tw;
    memset(&tp, 0, sizeof tp);
    T_EXPECT(TZ_OK, NULL);
    CHECK(tp.n_nf == 2 && tz_felt_eq(&tp.nf[1], &tw.in[1].nf) && tp.fee == 5);
    CHECK(tz_felt_eq(&tp.root, &tw.root) && tz_felt_eq(&tp.cm[2], &tw.out[2].cm));
    CHECK(tz_felt_eq(&tp.mh[0], &tw.out[0].mh));

    /* signature chain element, auth sibling, commitment sibling */
    tm = tw, flip(&tm.in[0].sig[17]);
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature of the sighash (key_idx 5)");
    tm = tw, flip(&tm.in[1].sig[132]);
    T_EXPECT(TZ_EMISMATCH, "input 1: WOTS signature");
    tm = tw, flip(&tm.in[1].auth_path[3]);
    T_EXPECT(TZ_EMISMATCH, "input 1: WOTS signature");
    tm = tw, flip(&tm.in[0].auth_path[15]);
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
    tm = tw, flip(&tm.in[1].cm_path[20]);
    T_EXPECT(TZ_EMISMATCH, "input 1: commitment membership fails");
    tm = tw, flip(&tm.in[0].cm_path[47]);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership fails");
    /* a pos with one more bit: a different path (and nullifier) */
    tm = tw, tm.in[1].pos ^= 1;
    T_EXPECT(TZ_EMISMATCH, "input 1: commitment membership fails at pos 140737488355330");
    tm = tw, flip(&tm.root);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");
    /* a field of the spent note: its cm changes */
    tm = tw, flip(&tm.in[0].rseed);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");
    tm = tw, flip(&tm.in[1].nk_spend);
    T_EXPECT(TZ_EMISMATCH, "input 1: commitment membership");
    tm = tw, flip(&tm.in[0].auth_root);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");

    /* values: the balance names the sums */
    tm = tw, tm.in[0].v ^= 1;
    T_EXPECT(TZ_EMISMATCH, "value balance: inputs 1001 != outputs 995 + fee 5");
    tm = tw, tm.fee ^= 2;
    T_EXPECT(TZ_EMISMATCH, "value balance: inputs 1000 != outputs 995 + fee 7");
    tm = tw, tm.out[1].v ^= 1, seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "value balance: inputs 1000 != outputs 996 + fee 5");
    /* an output value without its cm: the cm check */
    tm = tw, tm.out[0].v ^= 4;
    T_EXPECT(TZ_EMISMATCH, "output 0 (recipient): cm does not open");
    tm = tw, flip(&tm.out[2].nk_tag);
    T_EXPECT(TZ_EMISMATCH, "output 2 (producer): cm does not open");
    /* an input value moved along with the fee: membership catches it */
    tm = tw, tm.in[0].v += 1, tm.fee += 1, seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");
    /* producer note of value 0 (balance kept) */
    tm = tw, tm.out[2].v = 0, tm.out[1].v += 1, seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "producer note value v_3 is 0");
    /* no fee at all is the kernel's business, not the circuit's */
    tm = tw, tm.fee = 0, tm.out[1].v += 5, seal_transfer(&tm);
    T_EXPECT(TZ_OK, NULL);

    /* nullifier: wrong but signed, and wrong and not re-signed */
    tm = tw, flip(&tm.in[1].nf), seal_transfer(&tm);
    T_EXPECT(TZ_EMISMATCH, "input 1: nullifier is not H_nf(nk_spend, H_nf(cm, pos))");
    tm = tw, flip(&tm.in[0].nf);
    T_EXPECT(TZ_EMISMATCH, "input 0: nullifier");

    /* public values bound only by the signature */
    tm = tw, flip(&tm.out[1].mh);
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
    tm = tw, flip(&tm.auth_domain);
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
    /* a signature by the right key over another statement */
    tm = tw, flip(&tm.out[0].mh), seal_transfer(&tm), tm.out[0].mh = tw.out[0].mh;
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
    /* the other one-time key of the same address */
    tm = tw, tm.in[0].key_idx = 4;
    T_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");

    /* ranges */
    tm = tw, tm.in[1].key_idx = 65536;
    T_EXPECT(TZ_EMISMATCH, "input 1: key_idx 65536 is not below 2^16");
    tm = tw, tm.in[0].pos = UINT64_C(1) << 48;
    T_EXPECT(TZ_EMISMATCH, "input 0: pos 281474976710656 is not below 2^48");
    tm = tw, tm.n = 0;
    T_EXPECT(TZ_EMISMATCH, "N = 0 inputs is outside 1..7");
    tm = tw, tm.n = 8;
    T_EXPECT(TZ_EMISMATCH, "N = 8 inputs");
    /* dropping input 1: its nullifier leaves the statement, the balance breaks */
    tm = tw, tm.n = 1;
    T_EXPECT(TZ_EMISMATCH, "value balance: inputs 600 != outputs 995 + fee 5");
}

/* ---- unshield ---------------------------------------------------------- */

#define U_EXPECT(st, want) EXPECT(tz_transparent_check_unshield(&um, &up, &e_), st, want)

static void test_unshield(void)
{
    tz_unshield_public up;
    for (int change = 1; change >= 0; change--) {
        build_unshield(&uw, change);
        um = uw;
        memset(&up, 0xAA, sizeof up);
        U_EXPECT(TZ_OK, NULL);
        CHECK(up.n_nf == 1 && tz_felt_eq(&up.nf[0], &uw.in[0].nf) && up.v_pub == uw.v_pub);
        CHECK(up.fee == 7 && tz_felt_eq(&up.mh_fee, &uw.producer.mh));
        CHECK(change ? !tz_felt_is_zero(&up.cm_change) : tz_felt_is_zero(&up.cm_change));
        CHECK(change ? tz_felt_eq(&up.mh_change, &uw.change.mh) : tz_felt_is_zero(&up.mh_change));

        um = uw, um.v_pub ^= 1;
        U_EXPECT(TZ_EMISMATCH, change ? "value balance: inputs 1000 != outputs 994 + fee 7"
                                      : "value balance: inputs 1000 != outputs 994 + fee 7");
        um = uw, um.fee += 1;
        U_EXPECT(TZ_EMISMATCH, "value balance: inputs 1000 != outputs 993 + fee 8");
        um = uw, flip(&um.in[0].sig[0]);
        U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature of the sighash (key_idx 65535)");
        um = uw, flip(&um.in[0].auth_path[0]);
        U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
        um = uw, flip(&um.in[0].cm_path[5]);
        U_EXPECT(TZ_EMISMATCH, "input 0: commitment membership");
        um = uw, flip(&um.in[0].nf), seal_unshield(&um);
        U_EXPECT(TZ_EMISMATCH, "input 0: nullifier");
        um = uw, um.producer.v = 0, um.v_pub += 3, seal_unshield(&um);
        U_EXPECT(TZ_EMISMATCH, "producer note value v_fee is 0");
        /* recipient and producer note are bound by the signature only */
        um = uw, flip(&um.recipient_id);
        U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
        um = uw, flip(&um.producer.rseed);
        U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
        um = uw, um.in[0].key_idx = 70000;
        U_EXPECT(TZ_EMISMATCH, "input 0: key_idx 70000");
    }
    /* a change block without change */
    build_unshield(&uw, false);
    um = uw, um.change.mh.b[0] = 1;
    U_EXPECT(TZ_EMISMATCH, "change: without change every change field must be zero");
    /* change moved into the public amount, consistently signed: fine */
    build_unshield(&uw, true);
    um = uw, um.v_pub += 190, um.has_change = false;
    memset(&um.change, 0, sizeof um.change);
    seal_unshield(&um);
    U_EXPECT(TZ_OK, NULL);
    /* a change value without re-signing: the signature */
    um = uw, um.change.v -= 1, um.v_pub += 1;
    U_EXPECT(TZ_EMISMATCH, "input 0: WOTS signature");
}

/* ---- shield ------------------------------------------------------------ */

#define S_EXPECT(st, want) EXPECT(tz_transparent_check_shield(&sm, &sp, &e_), st, want)

static void test_shield(void)
{
    tz_shield_public sp;
    build_shield(&sw);
    sm = sw;
    S_EXPECT(TZ_OK, NULL);
    CHECK(sp.v == 500 && sp.fee == 4 && sp.producer_fee == 2);
    CHECK(tz_felt_eq(&sp.pubkey_hash, &sw.pubkey_hash) && tz_felt_eq(&sp.cm_producer, &sw.producer.cm));

    sm = sw, flip(&sm.sig[64]);
    S_EXPECT(TZ_EMISMATCH, "WOTS signature of the sighash (key_idx 300)");
    sm = sw, flip(&sm.auth_path[8]);
    S_EXPECT(TZ_EMISMATCH, "WOTS signature");
    sm = sw, sm.fee ^= 1;
    S_EXPECT(TZ_EMISMATCH, "WOTS signature");
    sm = sw, flip(&sm.recipient.mh);
    S_EXPECT(TZ_EMISMATCH, "WOTS signature");
    sm = sw, flip(&sm.blind);
    S_EXPECT(TZ_EMISMATCH, "pubkey_hash is not fold(4, auth_domain, auth_root, auth_pub_seed, blind)");
    sm = sw, flip(&sm.pubkey_hash);
    S_EXPECT(TZ_EMISMATCH, "pubkey_hash");
    sm = sw, sm.recipient.v ^= 1;
    S_EXPECT(TZ_EMISMATCH, "recipient: cm_recipient does not open");
    sm = sw, flip(&sm.recipient.auth_root);
    S_EXPECT(TZ_EMISMATCH, "recipient: cm_recipient does not open");
    sm = sw, sm.producer.v ^= 1;
    S_EXPECT(TZ_EMISMATCH, "producer: cm_producer does not open");
    sm = sw, sm.producer.v = 0, seal_shield(&sm);
    S_EXPECT(TZ_EMISMATCH, "producer_fee is 0");
    sm = sw, sm.key_idx = 65536;
    S_EXPECT(TZ_EMISMATCH, "key_idx 65536 is not below 2^16");
    /* a zero-value recipient note is a donation, and allowed */
    sm = sw, sm.recipient.v = 0, seal_shield(&sm);
    S_EXPECT(TZ_OK, NULL);
}

/* ---- proofs ------------------------------------------------------------ */

static tz_felt args[TZ_PROVARG_MAX];

static void prove_and_verify(tz_circuit c, size_t n, const char *tamper_msg, size_t tamper_felt)
{
    tz_kmsg_proof p = {0};
    tz_felt outputs[TZ_PUBOUT_MAX], ph;
    size_t L = 0;
    EXPECT(tz_transparent_check_args(c, args, n, outputs, &L, &e_), TZ_OK, NULL);
    EXPECT(tz_transparent_prove(c, args, n, &p, &e_), TZ_OK, NULL);
    if (!p.bytes)
        return;
    tz_transparent_program_hash(&ph, c);
    CHECK(p.len == n * 32 && !memcmp(p.bytes, args, p.len));
    CHECK(p.n_preimage == L + 4 && tz_felt_eq(&p.preimage[2], &ph));
    CHECK(!memcmp(p.preimage + 4, outputs, L * sizeof *outputs));
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_OK, NULL);

    /* another circuit's reading of the same proof */
    tz_circuit other = c == TZ_CIRCUIT_SHIELD ? TZ_CIRCUIT_TRANSFER : TZ_CIRCUIT_SHIELD;
    EXPECT(tz_transparent_verify(other, &p, &e_), TZ_EINVAL, "prover arguments");
    /* a changed public output, a changed program hash */
    p.preimage[4 + L - 1].b[0] ^= 1;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EMISMATCH, "transparent proof: output preimage: public output");
    p.preimage[4 + L - 1].b[0] ^= 1;
    p.preimage[2].b[0] ^= 1;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EMISMATCH, "unexpected program hash");
    p.preimage[2].b[0] ^= 1;
    /* a flipped witness bit inside proof_bytes */
    p.bytes[tamper_felt * 32 + 3] ^= 0x10;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EMISMATCH, tamper_msg);
    p.bytes[tamper_felt * 32 + 3] ^= 0x10;
    /* a truncated proof */
    p.len -= 1;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EINVAL, "whole felts");
    p.len -= 31;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_EINVAL, NULL);
    p.len += 32;
    EXPECT(tz_transparent_verify(c, &p, &e_), TZ_OK, NULL);
    sodium_memzero(p.bytes, p.len);
    tz_kmsg_proof_free(&p);
}

static void test_proofs(void)
{
    size_t n = 0;
    tz_error err = {0};
    tz_kmsg_proof p = {0};

    build_transfer(&tw);
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, &tw, &err) == TZ_OK);
    CHECK(n == TZ_PROVARG_TRANSFER_LEN(2));
    /* felt 5 + 2 * 9 + 2 * 48 + 2 * 16 + 7: input 0's chain 7 */
    prove_and_verify(TZ_CIRCUIT_TRANSFER, n, "input 0: WOTS signature", 5 + 18 + 96 + 32 + 7);
    /* a failing statement gives no proof */
    args[5 + 2 * 9 + 1].b[3] ^= 0x10; /* input 0's cm sibling 1 */
    EXPECT(tz_transparent_prove(TZ_CIRCUIT_TRANSFER, args, n, &p, &e_), TZ_EMISMATCH,
           "input 0: commitment membership");
    CHECK(p.bytes == NULL && p.preimage == NULL);

    build_unshield(&uw, true);
    CHECK(tz_provarg_unshield(args, TZ_PROVARG_MAX, &n, &uw, &err) == TZ_OK);
    /* felt 7 + 9: input 0's cm sibling 0 */
    prove_and_verify(TZ_CIRCUIT_UNSHIELD, n, "input 0: commitment membership", 7 + 9);

    build_shield(&sw);
    CHECK(tz_provarg_shield(args, TZ_PROVARG_MAX, &n, &sw, &err) == TZ_OK);
    /* felt 15: blind */
    prove_and_verify(TZ_CIRCUIT_SHIELD, n, "pubkey_hash", 15);

    tz_felt a, b;
    tz_transparent_program_hash(&a, TZ_CIRCUIT_TRANSFER);
    tz_hash(&b, "tzel-transparent-transfer", 25);
    CHECK(tz_felt_eq(&a, &b));
    tz_transparent_program_hash(&b, TZ_CIRCUIT_UNSHIELD);
    CHECK(!tz_felt_eq(&a, &b) && (b.b[31] & 0xF8) == 0);
}

static void test_circuit_of_exe(void)
{
    tz_circuit c = 0;
    EXPECT(tz_transparent_circuit_of_exe("/x/y/run_transfer.executable.json", &c, &e_), TZ_OK,
           NULL);
    CHECK(c == TZ_CIRCUIT_TRANSFER);
    EXPECT(tz_transparent_circuit_of_exe("run_unshield.executable.json", &c, &e_), TZ_OK, NULL);
    CHECK(c == TZ_CIRCUIT_UNSHIELD);
    EXPECT(tz_transparent_circuit_of_exe("d/run_shield.executable.json", &c, &e_), TZ_OK, NULL);
    CHECK(c == TZ_CIRCUIT_SHIELD);
    EXPECT(tz_transparent_circuit_of_exe("d/run_shield.json", &c, &e_), TZ_EINVAL,
           "not a circuit executable");
    EXPECT(tz_transparent_circuit_of_exe("run_transfer.executable.json/", &c, &e_), TZ_EINVAL,
           NULL);
    CHECK(c == TZ_CIRCUIT_SHIELD);
}

/* ---- the program ------------------------------------------------------- */

extern char **environ;

static char bin_path[PATH_MAX + 64], tmp_dir[64];

static int find_bin(void)
{
    const char *d = getenv("TZ_BIN_DIR");
    char self[PATH_MAX];
    if (!d) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 0;
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (!slash)
            return 0;
        *slash = 0;
        d = self;
    }
    snprintf(bin_path, sizeof bin_path, "%s/tzel-transparent-prover", d);
    return access(bin_path, X_OK) == 0;
}

/* tmp_dir/name; the answers rotate over four buffers: copy one that must
 * last. */
static char *tmp_path(const char *name)
{
    static char buf[4][128];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
    return p;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = calloc(1, 1 << 20);
    size_t n = s ? fread(s, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (len)
        *len = n;
    return s;
}

/* Runs the program with argv[1..] = a (NULL-terminated), stdout and stderr
 * into files of tmp_dir; returns the exit status (-1 if it did not exit). */
static int run(const char *const *a)
{
    const char *argv[12] = {bin_path};
    size_t n = 1;
    while (a[n - 1] && n < 11) {
        argv[n] = a[n - 1];
        n++;
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, tmp_path("stdout"), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&fa, 2, tmp_path("stderr"), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid;
    int st = -1;
    int rc = posix_spawn(&pid, bin_path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void check_stderr(const char *want)
{
    char *e = slurp(tmp_path("stderr"), NULL);
    CHECK_MSG(e && strstr(e, want), "stderr \"%s\" lacks \"%s\"", e ? e : "(none)", want);
    free(e);
}

static void write_args(const char *name, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    tz_error err = {0};
    CHECK(tz_prover_args_json(args, n, &text, &len, &err) == TZ_OK);
    FILE *f = fopen(tmp_path(name), "wb");
    CHECK(f && text && fwrite(text, 1, len, f) == len);
    if (f)
        fclose(f);
    free(text);
}

static void test_program(void)
{
    size_t n = 0, len = 0;
    tz_error err = {0};
    if (!find_bin()) {
        fprintf(stderr, "test_program: %s not built, skipped\n", bin_path);
        return;
    }
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/tz-transparent-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        CHECK(0);
        return;
    }
    const char *exe_t = "/nowhere/run_transfer.executable.json";
    const char *exe_u = "run_unshield.executable.json";
    char a_path[128], o_path[128];
    snprintf(a_path, sizeof a_path, "%s", tmp_path("args.json"));
    snprintf(o_path, sizeof o_path, "%s", tmp_path("bundle.json"));

    /* a transfer proved, its bundle verifies */
    build_transfer(&tw);
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, &tw, &err) == TZ_OK);
    write_args("args.json", n);
    CHECK(run((const char *[]){exe_t, "--arguments-file", a_path, "--output", o_path, NULL}) == 0);
    char *text = slurp(o_path, &len);
    tz_kmsg_proof p = {0};
    CHECK(text && tz_bundle_parse(&p, text, len, &err) == TZ_OK);
    EXPECT(tz_transparent_verify(TZ_CIRCUIT_TRANSFER, &p, &e_), TZ_OK, NULL);
    CHECK(p.len == n * 32 && !memcmp(p.bytes, args, p.len));
    tz_kmsg_proof_free(&p);
    free(text);

    /* the same arguments as an unshield: rejected, output untouched */
    unlink(o_path);
    CHECK(run((const char *[]){exe_u, "--output", o_path, "--arguments-file", a_path, NULL}) ==
          1);
    check_stderr("prover arguments");
    CHECK(access(o_path, F_OK) != 0);

    /* one flipped bit of an auth sibling of input 1: the check is named */
    args[5 + 18 + 96 + 16 + 2].b[3] ^= 0x10;
    write_args("args.json", n);
    CHECK(run((const char *[]){exe_t, "--arguments-file", a_path, "--output", o_path, NULL}) ==
          1);
    check_stderr("input 1: WOTS signature of the sighash (key_idx 40000) does not lead");
    CHECK(access(o_path, F_OK) != 0);

    /* an unshield and a shield */
    build_unshield(&uw, false);
    CHECK(tz_provarg_unshield(args, TZ_PROVARG_MAX, &n, &uw, &err) == TZ_OK);
    write_args("args.json", n);
    CHECK(run((const char *[]){exe_u, "--arguments-file", a_path, "--output", o_path, NULL}) == 0);
    text = slurp(o_path, &len);
    CHECK(text && tz_bundle_parse(&p, text, len, &err) == TZ_OK);
    EXPECT(tz_transparent_verify(TZ_CIRCUIT_UNSHIELD, &p, &e_), TZ_OK, NULL);
    tz_kmsg_proof_free(&p);
    free(text);
    build_shield(&sw);
    sw.fee += 1; /* not re-signed */
    CHECK(tz_provarg_shield(args, TZ_PROVARG_MAX, &n, &sw, &err) == TZ_OK);
    write_args("args.json", n);
    CHECK(run((const char *[]){"d/run_shield.executable.json", "--arguments-file", a_path,
                               "--output", o_path, NULL}) == 1);
    check_stderr("WOTS signature of the sighash (key_idx 300)");

    /* not JSON; a missing file; an unwritable output */
    FILE *f = fopen(a_path, "wb");
    if (f) {
        fputs("[\"0x1\",", f);
        fclose(f);
    }
    CHECK(run((const char *[]){exe_t, "--arguments-file", a_path, "--output", o_path, NULL}) ==
          1);
    CHECK(run((const char *[]){exe_t, "--arguments-file", tmp_path("none"), "--output", o_path,
                               NULL}) == 3);
    check_stderr("No such file");
    build_transfer(&tw);
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, &tw, &err) == TZ_OK);
    write_args("args.json", n);
    CHECK(run((const char *[]){exe_t, "--arguments-file", a_path, "--output",
                               tmp_path("no/such/dir"), NULL}) == 3);

    /* usage */
    CHECK(run((const char *[]){"--help", NULL}) == 0);
    char *out = slurp(tmp_path("stdout"), NULL);
    CHECK(out && strstr(out, "--arguments-file FILE") && strstr(out, "NOT ZERO-KNOWLEDGE") &&
          strstr(out, "exit codes"));
    free(out);
    CHECK(run((const char *[]){NULL}) == 2);
    CHECK(run((const char *[]){exe_t, "--output", o_path, NULL}) == 2);
    CHECK(run((const char *[]){exe_t, "--arguments-file", NULL}) == 2);
    CHECK(run((const char *[]){exe_t, "--frobnicate", NULL}) == 2);
    CHECK(run((const char *[]){exe_t, exe_u, NULL}) == 2);
    CHECK(run((const char *[]){exe_t, "--output", "a", "--output", "b", NULL}) == 2);
    CHECK(run((const char *[]){"run_mint.executable.json", "--arguments-file", a_path,
                               "--output", o_path, NULL}) == 2);
    check_stderr("not a circuit executable");
    CHECK(run((const char *[]){exe_u, "--program-hash", NULL}) == 0);
    out = slurp(tmp_path("stdout"), NULL);
    tz_felt ph;
    char hex[TZ_FELT_HEX + 1];
    tz_transparent_program_hash(&ph, TZ_CIRCUIT_UNSHIELD);
    tz_felt_to_hex(hex, &ph);
    CHECK(out && strlen(out) == 65 && !strncmp(out, hex, 64));
    free(out);

    const char *names[] = {"args.json", "bundle.json", "stdout", "stderr"};
    for (size_t i = 0; i < 4; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmp_dir);
}

int main(void)
{
    tz_felt master;
    if (sodium_init() < 0)
        return 1;
    master = F(424242);
    tz_keys_derive(&keys, &master);
    tz_addr_keys_derive(&addr[0], &keys, 0);
    tz_addr_keys_derive(&addr[1], &keys, 1);
    test_transfer();
    test_unshield();
    test_shield();
    test_proofs();
    test_circuit_of_exe();
    test_program();
    tz_addr_keys_wipe(&addr[0]);
    tz_addr_keys_wipe(&addr[1]);
    tz_keys_wipe(&keys);
    return tz_test_done("test_transparent");
}
