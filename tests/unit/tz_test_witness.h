/* Spend witnesses built from scratch for the transparent prover's tests
 * (test_transparent.c, test_transparent_prog.c): real address keys and
 * WOTS signatures; auth and commitment paths with arbitrary siblings
 * folded up to a consistent auth_root and root. */
#ifndef TZ_TEST_WITNESS_H
#define TZ_TEST_WITNESS_H

#include <sodium.h>

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
static inline tz_felt F(uint32_t i)
{
    tz_felt f;
    tz_hash(&f, &i, sizeof i);
    return f;
}

static inline void flip(tz_felt *f) { f->b[3] ^= 0x10; }

static tz_keys keys;
static tz_addr_keys addr[2];
/* The address each input of the witness under test belongs to. */
static const tz_addr_keys *owner[TZ_KMSG_MAX_INPUTS];

/* Checks a status and, when want is non-NULL, that the message holds it. */
static inline void expect_at(int line, tz_status got, const tz_error *e, tz_status st,
                             const char *want)
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

static inline void node_up(tz_felt *cur, uint64_t pos, unsigned l, const tz_felt *sib)
{
    if ((pos >> l) & 1)
        tz_merkle_node(cur, sib, cur);
    else
        tz_merkle_node(cur, cur, sib);
}

/* auth_root of key key_idx of address a under arbitrary siblings path[]. */
static inline void auth_root_of(tz_felt *root, const tz_addr_keys *a, uint32_t key_idx,
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

static inline void input_cm(tz_felt *cm, const tz_spend_input *in)
{
    tz_felt nk_tag, otag;
    tz_nk_tag(&nk_tag, &in->nk_spend);
    tz_owner_tag(&otag, &in->auth_root, &in->auth_pub_seed, &nk_tag);
    tz_note_cm_from_rseed(cm, &in->d_j, in->v, &in->rseed, &otag);
}

/* A note of address a worth v at pos, spendable with key key_idx. */
static inline void make_input(tz_spend_input *in, const tz_addr_keys *a, uint64_t v,
                              uint32_t key_idx, uint64_t pos, uint32_t seed)
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
static inline void make_paths(tz_spend_input *in, size_t n, tz_felt *root)
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

/* Paths of in[0..n) (n <= 8) at positions base + i (base a multiple of 8)
 * under one root: a depth-3 subtree over their cms (arbitrary felts in
 * the free leaves), then shared arbitrary siblings. */
static inline void make_paths_block(tz_spend_input *in, size_t n, uint64_t base,
                                    tz_felt *root)
{
    tz_felt lvl[4][8], cur;
    for (size_t i = 0; i < 8; i++) {
        if (i < n)
            input_cm(&lvl[0][i], &in[i]);
        else
            lvl[0][i] = F(8000 + (uint32_t)i);
    }
    for (unsigned l = 1; l <= 3; l++)
        for (size_t j = 0; j < (8u >> l); j++)
            tz_merkle_node(&lvl[l][j], &lvl[l - 1][2 * j], &lvl[l - 1][2 * j + 1]);
    cur = lvl[3][0];
    for (unsigned l = 3; l < TZ_CM_DEPTH; l++) {
        tz_felt sib = F(8100 + l);
        for (size_t i = 0; i < n; i++)
            in[i].cm_path[l] = sib;
        node_up(&cur, base, l, &sib);
    }
    *root = cur;
    for (size_t i = 0; i < n; i++) {
        tz_felt cm;
        in[i].pos = base + i;
        for (unsigned l = 0; l < 3; l++)
            in[i].cm_path[l] = lvl[l][(i >> l) ^ 1];
        input_cm(&cm, &in[i]);
        tz_note_nullifier(&in[i].nf, &in[i].nk_spend, &cm, in[i].pos);
    }
}

static inline void make_output(tz_spend_output *o, uint32_t seed, uint64_t v)
{
    memset(o, 0, sizeof *o);
    o->d_j = F(seed), o->v = v, o->rseed = F(seed + 1), o->auth_root = F(seed + 2);
    o->auth_pub_seed = F(seed + 3), o->nk_tag = F(seed + 4), o->mh = F(seed + 5);
}

static inline void output_cm(tz_spend_output *o)
{
    tz_felt otag;
    tz_owner_tag(&otag, &o->auth_root, &o->auth_pub_seed, &o->nk_tag);
    tz_note_cm_from_rseed(&o->cm, &o->d_j, o->v, &o->rseed, &otag);
}

static inline void sign_inputs(tz_spend_input *in, size_t n, const tz_felt *sighash)
{
    for (size_t i = 0; i < n; i++)
        tz_wots_sign(in[i].sig, &owner[i]->ask_j, &in[i].auth_pub_seed, in[i].key_idx, sighash);
}

/* Recomputes the output commitments and signs every input: a mutation
 * followed by this is a consistently signed statement. */
static inline void seal_transfer(tz_transfer_witness *w)
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
static inline void build_transfer(tz_transfer_witness *w)
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

static inline void seal_unshield(tz_unshield_witness *w)
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
static inline void build_unshield(tz_unshield_witness *w, bool change)
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

static inline void seal_shield(tz_shield_witness *w)
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
static inline void build_shield(tz_shield_witness *w)
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

static tz_transfer_witness tw;
static tz_unshield_witness uw;
static tz_shield_witness sw;
static tz_felt args[TZ_PROVARG_MAX];

/* Derives the two test addresses. */
static inline void witness_keys_init(void)
{
    tz_felt master = F(424242);
    tz_keys_derive(&keys, &master);
    tz_addr_keys_derive(&addr[0], &keys, 0);
    tz_addr_keys_derive(&addr[1], &keys, 1);
}

static inline void witness_keys_wipe(void)
{
    tz_addr_keys_wipe(&addr[0]);
    tz_addr_keys_wipe(&addr[1]);
    tz_keys_wipe(&keys);
}

#endif
