/* The simulator's chain generation: the seed material (strangers, rollup
 * address, ticketer), where the --pay notes go, and real PublishedNotes
 * made deterministically from the seed, a leaf index and the recipient,
 * in parallel (tz_par_for) so that the same seed and parameters give the
 * same notes and root whatever the thread count. Past sim_gen_seed, which
 * fills them, it only reads the chain's constant seed fields; chain.c
 * stores what it makes and chain_cache.c caches it. */
#include "chain_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b58.h"
#include "base/clock.h"
#include "base/par.h"
#include "core/commit.h"
#include "core/hash.h"
#include "core/kem.h"
#include "core/note.h"
#include "core/wire.h"

/* ---------------------------------------------------------------- hashing */

void sim_gen_derive(uint8_t out[32], const sim_chain *c, const char *label, uint64_t i,
                    const void *extra, size_t elen)
{
    uint8_t ib[8];
    tz_put_u64le(ib, i);
    tz_hash_part parts[4] = {
        {label, strlen(label)}, {c->seed, 32}, {ib, 8}, {extra, elen}};
    tz_blake2s(out, NULL, parts, extra ? 4 : 3);
}

static void derive_felt(tz_felt *out, const sim_chain *c, const char *label, uint64_t i)
{
    sim_gen_derive(out->b, c, label, i, NULL, 0);
    tz_felt_truncate(out);
}

/* -------------------------------------------------------------- the notes */

static void serialize_note(uint8_t out[SIM_NOTE_BYTES], const tz_felt *cm, const tz_enc_note *e)
{
    tz_published_note pn;
    pn.cm = *cm;
    pn.enc = *e;
    if (tz_wire_encode_published_note(out, &pn) != TZ_OK)
        memset(out, 0, SIM_NOTE_BYTES); /* tag >= 2^10: cannot come out of tz_note_encrypt */
}

/* Per-leaf randomness, bound to the recipient when it is not a stranger. */
static void leaf_rand(const sim_chain *c, uint64_t i, const tz_payment_address *to,
                      uint8_t r[32])
{
    if (to)
        sim_gen_derive(r, c, "paid-leaf", i, to->d_j.b, 32);
    else
        sim_gen_derive(r, c, "leaf", i, NULL, 0);
}

static void leaf_rseed(const uint8_t r[32], tz_felt *rseed)
{
    tz_hash_part p[2] = {{r, 32}, {"rseed", 5}};
    tz_blake2s(rseed->b, NULL, p, 2);
    tz_felt_truncate(rseed);
}

void sim_leaf_opening(const sim_chain *c, uint64_t i, const tz_payment_address *to, uint64_t v,
                      uint64_t *v_out, tz_felt *rseed_out)
{
    uint8_t r[32];
    leaf_rand(c, i, to, r);
    leaf_rseed(r, rseed_out);
    *v_out = to ? v : 1 + tz_get_u64le(r + 8) % 1000000;
}

/* Makes one note for leaf index i deterministically from the seed: to `to`
 * (NULL: a stranger chosen by i) with value v (to == NULL: random), its
 * opening that of sim_leaf_opening. Writes the PublishedNote bytes.
 * Thread-safe (reads only constant chain fields). */
static void make_note(const sim_chain *c, uint64_t i, const tz_payment_address *to, uint64_t v,
                      const sim_sender *sender, uint8_t out[SIM_NOTE_BYTES])
{
    uint8_t r[32], coins_d[32], coins_v[32];
    leaf_rand(c, i, to, r);
    tz_hash_part pd[2] = {{r, 32}, {"coins-d", 7}};
    tz_hash_part pv[2] = {{r, 32}, {"coins-v", 7}};
    tz_blake2s(coins_d, NULL, pd, 2);
    tz_blake2s(coins_v, NULL, pv, 2);
    tz_felt rseed;
    leaf_rseed(r, &rseed);
    if (!to) {
        to = &c->strangers[r[0] % 8];
        v = 1 + tz_get_u64le(r + 8) % 1000000;
    }
    tz_enc_note enc;
    tz_felt cm;
    if (tz_note_encrypt_role(&enc, &cm, to, v, &rseed, NULL, coins_d, coins_v,
                             sender ? &sender->outgoing_seed : &c->outgoing_seed,
                             sender ? (tz_out_role)sender->role : TZ_OUT_SHIELD_OUTPUT) != TZ_OK)
        memset(&enc, 0, sizeof enc); /* cannot happen: arguments are non-NULL */
    serialize_note(out, &cm, &enc);
}

/* ------------------------------------------------- parallel note generation */

typedef struct gen_job {
    const sim_chain *c;
    uint64_t first, n;
    const int32_t *assign;        /* per leaf: pay index or -1 (may be NULL) */
    const sim_pay *pays;
    const tz_payment_address *to; /* used when assign is NULL */
    uint64_t value;
    const sim_sender *sender;     /* NULL: the simulated sender */
    uint8_t *dest;                /* n * SIM_NOTE_BYTES */
    bool verbose;
    uint64_t reported;            /* notes done at the last progress line */
    double t0;
} gen_job;

#define GEN_CHUNK 32

/* Generates notes [k0, k1) of the job (tz_par_fn). */
static void gen_range(void *arg, uint64_t k0, uint64_t k1)
{
    gen_job *j = arg;
    for (uint64_t k = k0; k < k1; k++) {
        const tz_payment_address *to = j->to;
        uint64_t v = j->value;
        if (j->assign) {
            int32_t a = j->assign[k];
            to = a >= 0 ? &j->pays[a].to : NULL;
            v = a >= 0 ? j->pays[a].value : 0;
        }
        make_note(j->c, j->first + k, to, v, j->sender, j->dest + k * SIM_NOTE_BYTES);
    }
}

/* A progress line every 5% (tz_par_progress_fn). */
static void gen_progress(void *arg, uint64_t done, uint64_t n)
{
    gen_job *j = arg;
    if (done - j->reported < n / 20 || done == n)
        return;
    fprintf(stderr, "tzel-rollup-sim: generated %" PRIu64 "/%" PRIu64 " notes (%.1f s)\n", done,
            n, tz_mono_secs() - j->t0);
    j->reported = done;
}

static void gen_run(gen_job *j, unsigned threads)
{
    bool verbose = j->verbose && j->n >= 2000;
    j->t0 = tz_mono_secs();
    tz_par_for(j->n, GEN_CHUNK, threads, gen_range, j, verbose ? gen_progress : NULL, j);
    if (verbose)
        fprintf(stderr, "tzel-rollup-sim: generated %" PRIu64 " notes\n", j->n);
}

/* ------------------------------------------- seed material, paid leaves */

static void make_stranger(sim_chain *c, unsigned k, tz_payment_address *a)
{
    uint8_t seed[TZ_KEM_SEED_BYTES];
    tz_kem_keypair kp;
    sim_gen_derive(seed, c, "stranger-v1", k, NULL, 0);
    sim_gen_derive(seed + 32, c, "stranger-v2", k, NULL, 0);
    tz_kem_keygen(&kp, seed);
    memcpy(a->ek_v, kp.ek, TZ_KEM_EK_BYTES);
    sim_gen_derive(seed, c, "stranger-d1", k, NULL, 0);
    sim_gen_derive(seed + 32, c, "stranger-d2", k, NULL, 0);
    tz_kem_keygen(&kp, seed);
    memcpy(a->ek_d, kp.ek, TZ_KEM_EK_BYTES);
    tz_kem_keypair_wipe(&kp);
    derive_felt(&a->d_j, c, "stranger-dj", k);
    derive_felt(&a->auth_root, c, "stranger-ar", k);
    derive_felt(&a->auth_pub_seed, c, "stranger-ps", k);
    derive_felt(&a->nk_tag, c, "stranger-nt", k);
}

void sim_gen_seed(sim_chain *c, const char *seed)
{
    tz_hash_part sp[2] = {{"tzel-sim-seed", 13}, {seed, strlen(seed)}};
    tz_blake2s(c->seed, NULL, sp, 2);
    tz_default_auth_domain(&c->auth_domain);
    derive_felt(&c->outgoing_seed, c, "sender-outgoing", 0);
    for (unsigned k = 0; k < 8; k++)
        make_stranger(c, k, &c->strangers[k]);
    /* The operator's DAL fee address: one more stranger, never picked as
     * a random recipient (those are strangers 0..7). */
    make_stranger(c, 8, &c->producer);

    uint8_t h[32];
    static const uint8_t sr1[3] = {6, 124, 117}, kt1[3] = {2, 90, 121};
    sim_gen_derive(h, c, "rollup", 0, NULL, 0);
    tz_b58check(c->rollup_address, sizeof c->rollup_address, sr1, 3, h, 20);
    sim_gen_derive(h, c, "ticketer", 0, NULL, 0);
    tz_b58check(c->ticketer, sizeof c->ticketer, kt1, 3, h, 20);
    static const uint8_t tz1[3] = {6, 161, 159};
    sim_gen_derive(h, c, "public-account", 0, NULL, 0);
    tz_b58check(c->public_account, sizeof c->public_account, tz1, 3, h, 20);
}

tz_status sim_gen_assign(const sim_gen_params *p, int32_t **assign, tz_error *err)
{
    *assign = NULL;
    uint64_t n = p->leaves;
    uint64_t total_paid = 0;
    for (size_t k = 0; k < p->npays; k++) {
        if (p->pays[k].count > UINT64_MAX - total_paid)
            return tz_error_set(err, TZ_EINVAL, "--pay asks for more than 2^64 notes");
        total_paid += p->pays[k].count;
    }
    if (total_paid > n)
        return tz_error_set(err, TZ_EINVAL,
                            "--pay asks for %" PRIu64 " notes but --leaves is %" PRIu64,
                            total_paid, n);
    if (n > (UINT64_C(1) << 26))
        return tz_error_set(err, TZ_EINVAL, "--leaves %" PRIu64 " is too large", n);
    if (n == 0)
        return TZ_OK;
    int32_t *a = malloc((size_t)n * sizeof *a);
    if (!a)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++)
        a[i] = -1;
    /* Every --pay entry gets its notes (there used to be room for 256
     * entries only, and more never finished). */
    size_t np = p->npays;
    uint64_t *left = calloc(np ? np : 1, sizeof *left);
    if (!left) {
        free(a);
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < np; k++)
        left[k] = p->pays[k].count;
    uint64_t jn = 0;
    while (jn < total_paid) {
        for (size_t k = 0; k < np && jn < total_paid; k++) {
            if (!left[k])
                continue;
            left[k]--;
            uint64_t pos = (2 * jn + 1) * n / (2 * total_paid);
            a[pos] = (int32_t)k;
            jn++;
        }
    }
    free(left);
    *assign = a;
    return TZ_OK;
}

void sim_gen_initial(const sim_chain *c, const sim_gen_params *p, const int32_t *assign,
                     uint8_t *dest)
{
    gen_job j = {.c = c, .first = 0, .n = p->leaves, .assign = assign, .pays = p->pays,
                 .dest = dest, .verbose = p->verbose};
    gen_run(&j, p->threads);
}

void sim_gen_notes(const sim_chain *c, uint64_t first, uint64_t n, const tz_payment_address *to,
                   uint64_t v, const sim_sender *sender, uint8_t *dest)
{
    gen_job j = {.c = c, .first = first, .n = n, .to = to, .value = v, .sender = sender,
                 .dest = dest};
    gen_run(&j, n >= 64 ? 0 : 1);
}
