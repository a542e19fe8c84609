#include "chain.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "b58.h"
#include "base/clock.h"
#include "base/num.h"
#include "base/par.h"
#include "core/commit.h"
#include "core/hash.h"
#include "core/kem.h"
#include "core/note.h"
#include "core/wire.h"

#define CACHE_MAGIC "TZSIMCH1"
#define CACHE_HEADER 64
#define CACHE_TAIL (8 + TZ_TREE_DEPTH * 32 + 32)
#define GEN_VERSION "tzel-sim-gen-v1"

/* ---------------------------------------------------------------- hashing */

/* out = BLAKE2s(label || seed || u64le i || extra[elen]). */
static void derive(uint8_t out[32], const sim_chain *c, const char *label, uint64_t i,
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
    derive(out->b, c, label, i, NULL, 0);
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
        derive(r, c, "paid-leaf", i, to->d_j.b, 32);
    else
        derive(r, c, "leaf", i, NULL, 0);
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

void sim_make_note(const sim_chain *c, uint64_t i, const tz_payment_address *to, uint64_t v,
                   uint8_t out[SIM_NOTE_BYTES], uint64_t *v_out, tz_felt *rseed_out)
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
    if (tz_note_encrypt(&enc, &cm, to, v, &rseed, NULL, coins_d, coins_v, &c->outgoing_seed) !=
        TZ_OK)
        memset(&enc, 0, sizeof enc); /* cannot happen: arguments are non-NULL */
    serialize_note(out, &cm, &enc);
    if (v_out)
        *v_out = v;
    if (rseed_out)
        *rseed_out = rseed;
}

/* ------------------------------------------------- parallel note generation */

typedef struct gen_job {
    const sim_chain *c;
    uint64_t first, n;
    const int32_t *assign;        /* per leaf: pay index or -1 (may be NULL) */
    const sim_pay *pays;
    const tz_payment_address *to; /* used when assign is NULL */
    uint64_t value;
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
        sim_make_note(j->c, j->first + k, to, v, j->dest + k * SIM_NOTE_BYTES, NULL, NULL);
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

/* ------------------------------------------------------------ leaf storage */

const uint8_t *sim_leaf(const sim_chain *c, uint64_t i)
{
    if (i < c->base_n)
        return c->base + i * SIM_NOTE_BYTES;
    uint64_t k = i - c->base_n;
    return c->segs[k / SIM_SEG_LEAVES] + (k % SIM_SEG_LEAVES) * SIM_NOTE_BYTES;
}

/* Stores n notes at the next leaf indices; caller holds the write lock. */
static tz_status store_leaves(sim_chain *c, const uint8_t *notes, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++) {
        uint64_t off = c->n_leaves - c->base_n;
        size_t s = (size_t)(off / SIM_SEG_LEAVES);
        if (s >= c->nsegs) {
            if (c->nsegs == c->segcap) {
                size_t nc = c->segcap ? c->segcap * 2 : 16;
                uint8_t **ns = realloc(c->segs, nc * sizeof *ns);
                if (!ns)
                    return TZ_ENOMEM;
                c->segs = ns;
                c->segcap = nc;
            }
            c->segs[c->nsegs] = malloc((size_t)SIM_SEG_LEAVES * SIM_NOTE_BYTES);
            if (!c->segs[c->nsegs])
                return TZ_ENOMEM;
            c->nsegs++;
        }
        memcpy(c->segs[s] + (off % SIM_SEG_LEAVES) * SIM_NOTE_BYTES, notes + k * SIM_NOTE_BYTES,
               SIM_NOTE_BYTES);
        c->n_leaves++;
    }
    return TZ_OK;
}

/* --------------------------------------------------------------- blocks */

static void bal_unref(sim_balances *b)
{
    if (b && --b->refs == 0)
        free(b);
}

const sim_block *sim_chain_head(const sim_chain *c)
{
    return &c->ring[c->head_pos];
}

static const sim_block *block_at(const sim_chain *c, size_t age)
{
    return &c->ring[(c->head_pos + c->keep - age) % c->keep];
}

static void block_hash(const sim_chain *c, sim_block *b)
{
    uint8_t buf[8 * 3 + 32], h[32];
    tz_put_u64le(buf, b->level);
    tz_put_u64le(buf + 8, b->fr.size);
    tz_put_u64le(buf + 16, b->nf_count);
    memcpy(buf + 24, b->root.b, 32);
    derive(h, c, "block", b->level, buf, sizeof buf);
    static const uint8_t prefix[2] = {1, 52};
    sim_b58check(b->hash, sizeof b->hash, prefix, 2, h, 32);
}

/* Pushes *b (its bal reference is transferred) as the new head; caller
 * holds the write lock. */
static void push_block(sim_chain *c, sim_block *b)
{
    if (c->nblocks > 0)
        b->level = sim_chain_head(c)->level + 1;
    block_hash(c, b);
    size_t pos = c->nblocks == 0 ? 0 : (c->head_pos + 1) % c->keep;
    if (c->nblocks == c->keep)
        bal_unref(c->ring[pos].bal);
    else
        c->nblocks++;
    c->ring[pos] = *b;
    c->head_pos = pos;
}

const sim_block *sim_chain_resolve(const sim_chain *c, const char *id, char *msg, size_t cap)
{
    const sim_block *head = sim_chain_head(c);
    uint64_t oldest = head->level - (c->nblocks - 1);
    if (strcmp(id, "head") == 0)
        return head;
    if (strcmp(id, "finalized") == 0 || strcmp(id, "cemented") == 0) {
        uint64_t back = id[0] == 'f' ? 2 : 8;
        uint64_t lv = head->level >= oldest + back ? head->level - back : oldest;
        return block_at(c, (size_t)(head->level - lv));
    }
    if (id[0] >= '0' && id[0] <= '9') {
        uint64_t lv;
        if (!tz_parse_u64(id, UINT64_MAX, &lv)) {
            snprintf(msg, cap, "Cannot parse block id %s", id);
            return NULL;
        }
        if (lv > head->level) {
            snprintf(msg, cap, "Block at level %" PRIu64 " is not yet known", lv);
            return NULL;
        }
        if (lv < c->level_at_start) {
            snprintf(msg, cap, "No block at level %" PRIu64, lv);
            return NULL;
        }
        if (lv < oldest) {
            snprintf(msg, cap, "State of block at level %" PRIu64 " is not available (pruned)",
                     lv);
            return NULL;
        }
        return block_at(c, (size_t)(head->level - lv));
    }
    for (size_t a = 0; a < c->nblocks; a++) {
        const sim_block *b = block_at(c, a);
        if (strcmp(b->hash, id) == 0)
            return b;
    }
    snprintf(msg, cap, "Unknown block %s (not found or pruned)", id);
    return NULL;
}

/* ------------------------------------------------------------ nullifiers */

static uint64_t nf_key(const tz_felt *nf)
{
    return tz_get_u64le(nf->b) * UINT64_C(0x9E3779B97F4A7C15);
}

static bool nf_find(const sim_chain *c, const tz_felt *nf, uint64_t *idx)
{
    if (!c->nf_slot_cap)
        return false;
    uint64_t m = c->nf_slot_cap - 1;
    for (uint64_t s = nf_key(nf) & m;; s = (s + 1) & m) {
        uint64_t v = c->nf_slots[s];
        if (v == 0)
            return false;
        if (memcmp(c->nfs[v - 1].b, nf->b, 32) == 0) {
            *idx = v - 1;
            return true;
        }
    }
}

static tz_status nf_insert(sim_chain *c, const tz_felt *nf)
{
    uint64_t dummy;
    if (nf_find(c, nf, &dummy))
        return TZ_OK;
    if (c->nf_n == c->nf_cap) {
        uint64_t nc = c->nf_cap ? c->nf_cap * 2 : 64;
        tz_felt *nn = realloc(c->nfs, nc * sizeof *nn);
        if (!nn)
            return TZ_ENOMEM;
        c->nfs = nn;
        c->nf_cap = nc;
    }
    if ((c->nf_n + 1) * 2 > c->nf_slot_cap) {
        uint64_t nc = c->nf_slot_cap ? c->nf_slot_cap * 2 : 128;
        uint64_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return TZ_ENOMEM;
        for (uint64_t k = 0; k < c->nf_n; k++) {
            uint64_t s = nf_key(&c->nfs[k]) & (nc - 1);
            while (ns[s])
                s = (s + 1) & (nc - 1);
            ns[s] = k + 1;
        }
        free(c->nf_slots);
        c->nf_slots = ns;
        c->nf_slot_cap = nc;
    }
    c->nfs[c->nf_n] = *nf;
    uint64_t s = nf_key(nf) & (c->nf_slot_cap - 1);
    while (c->nf_slots[s])
        s = (s + 1) & (c->nf_slot_cap - 1);
    c->nf_slots[s] = c->nf_n + 1;
    c->nf_n++;
    return TZ_OK;
}

bool sim_chain_has_nf(const sim_chain *c, const sim_block *b, const tz_felt *nf)
{
    uint64_t idx;
    return nf_find(c, nf, &idx) && idx < b->nf_count;
}

const sim_balance *sim_chain_balance(const sim_block *b, const tz_felt *pkh)
{
    if (!b->bal)
        return NULL;
    size_t lo = 0, hi = b->bal->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = memcmp(b->bal->e[mid].pkh.b, pkh->b, 32);
        if (r == 0)
            return &b->bal->e[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------ paid notes */

static tz_status paid_add(sim_chain *c, const sim_paid_note *p)
{
    if (c->npaid == c->paidcap) {
        size_t nc = c->paidcap ? c->paidcap * 2 : 64;
        sim_paid_note *np = realloc(c->paid, nc * sizeof *np);
        if (!np)
            return TZ_ENOMEM;
        c->paid = np;
        c->paidcap = nc;
    }
    c->paid[c->npaid++] = *p;
    return TZ_OK;
}

sim_paid_note *sim_chain_paid(sim_chain *c, size_t *n)
{
    pthread_rwlock_rdlock(&c->lock);
    sim_paid_note *out = malloc((c->npaid ? c->npaid : 1) * sizeof *out);
    *n = 0;
    if (out) {
        memcpy(out, c->paid, c->npaid * sizeof *out);
        *n = c->npaid;
    }
    pthread_rwlock_unlock(&c->lock);
    return out;
}

/* ------------------------------------------------------------------ cache */

static void cache_key(uint8_t key[32], const sim_gen_params *p)
{
    uint8_t h[32];
    uint8_t nb[8];
    tz_put_u64le(nb, p->leaves);
    tz_hash_part parts[3] = {{GEN_VERSION, strlen(GEN_VERSION)}, {p->seed, strlen(p->seed) + 1},
                             {nb, 8}};
    tz_blake2s(h, NULL, parts, 3);
    for (size_t k = 0; k < p->npays; k++) {
        uint8_t cb[16];
        tz_put_u64le(cb, p->pays[k].count);
        tz_put_u64le(cb + 8, p->pays[k].value);
        const tz_payment_address *a = &p->pays[k].to;
        tz_hash_part q[9] = {{h, 32},          {a->d_j.b, 32},      {a->auth_root.b, 32},
                             {a->auth_pub_seed.b, 32}, {a->nk_tag.b, 32}, {a->ek_v, TZ_KEM_EK_BYTES},
                             {a->ek_d, TZ_KEM_EK_BYTES}, {cb, 16},  {"pay", 3}};
        tz_blake2s(h, NULL, q, 9);
    }
    memcpy(key, h, 32);
}

static void cache_path(char *out, size_t cap, const char *dir, const uint8_t key[32])
{
    char hex[65];
    tz_hex_encode(hex, key, 16);
    snprintf(out, cap, "%s/tzel-sim-%s.chain", dir, hex);
}

/* Maps a valid cache file; TZ_ENOTFOUND when absent or unusable. */
static tz_status cache_load(sim_chain *c, const char *path, const uint8_t key[32], uint64_t n,
                            tz_frontier *fr, tz_felt *root)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TZ_ENOTFOUND;
    struct stat st;
    size_t want = CACHE_HEADER + (size_t)n * SIM_NOTE_BYTES + CACHE_TAIL;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != want) {
        close(fd);
        return TZ_ENOTFOUND;
    }
    uint8_t *m = mmap(NULL, want, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return TZ_ENOTFOUND;
    if (memcmp(m, CACHE_MAGIC, 8) != 0 || tz_get_u64le(m + 8) != n ||
        memcmp(m + 16, key, 32) != 0) {
        munmap(m, want);
        return TZ_ENOTFOUND;
    }
    const uint8_t *t = m + CACHE_HEADER + (size_t)n * SIM_NOTE_BYTES;
    fr->size = tz_get_u64le(t);
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        memcpy(fr->branch[l].b, t + 8 + 32 * l, 32);
    memcpy(root->b, t + 8 + 32 * TZ_TREE_DEPTH, 32);
    if (fr->size != n) {
        munmap(m, want);
        return TZ_ENOTFOUND;
    }
    c->base_map = m;
    c->base_map_len = want;
    c->base_is_map = true;
    c->base = m + CACHE_HEADER;
    c->base_n = n;
    return TZ_OK;
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Writes the cache atomically (temp file, fsync, rename). */
static tz_status cache_store(const char *dir, const char *path, const uint8_t key[32],
                             const uint8_t *notes, uint64_t n, const tz_frontier *fr,
                             const tz_felt *root, tz_error *err)
{
    mkdir(dir, 0755);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return tz_error_set(err, TZ_EIO, "cannot create %s: %s", tmp, strerror(errno));
    uint8_t hdr[CACHE_HEADER] = {0};
    memcpy(hdr, CACHE_MAGIC, 8);
    tz_put_u64le(hdr + 8, n);
    memcpy(hdr + 16, key, 32);
    uint8_t tail[CACHE_TAIL];
    tz_put_u64le(tail, fr->size);
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        memcpy(tail + 8 + 32 * l, fr->branch[l].b, 32);
    memcpy(tail + 8 + 32 * TZ_TREE_DEPTH, root->b, 32);
    bool ok = write_all(fd, hdr, sizeof hdr) && write_all(fd, notes, (size_t)n * SIM_NOTE_BYTES) &&
              write_all(fd, tail, sizeof tail) && fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            e = errno;
        unlink(tmp);
        return tz_error_set(err, TZ_EIO, "cannot write chain cache %s: %s", path, strerror(e));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return TZ_OK;
}

/* ------------------------------------------------------------------- init */

static void make_stranger(sim_chain *c, unsigned k, tz_payment_address *a)
{
    uint8_t seed[TZ_KEM_SEED_BYTES];
    tz_kem_keypair kp;
    derive(seed, c, "stranger-v1", k, NULL, 0);
    derive(seed + 32, c, "stranger-v2", k, NULL, 0);
    tz_kem_keygen(&kp, seed);
    memcpy(a->ek_v, kp.ek, TZ_KEM_EK_BYTES);
    derive(seed, c, "stranger-d1", k, NULL, 0);
    derive(seed + 32, c, "stranger-d2", k, NULL, 0);
    tz_kem_keygen(&kp, seed);
    memcpy(a->ek_d, kp.ek, TZ_KEM_EK_BYTES);
    tz_kem_keypair_wipe(&kp);
    derive_felt(&a->d_j, c, "stranger-dj", k);
    derive_felt(&a->auth_root, c, "stranger-ar", k);
    derive_felt(&a->auth_pub_seed, c, "stranger-ps", k);
    derive_felt(&a->nk_tag, c, "stranger-nt", k);
}

tz_status sim_chain_init(sim_chain *c, const sim_gen_params *p, tz_error *err)
{
    memset(c, 0, sizeof *c);
    /* Writers first: a steady stream of reads must not starve blocks. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&c->wmu, NULL);
    tz_hash_part sp[2] = {{"tzel-sim-seed", 13}, {p->seed, strlen(p->seed)}};
    tz_blake2s(c->seed, NULL, sp, 2);
    tz_default_auth_domain(&c->auth_domain);
    derive_felt(&c->outgoing_seed, c, "sender-outgoing", 0);
    for (unsigned k = 0; k < 8; k++)
        make_stranger(c, k, &c->strangers[k]);

    uint8_t h[32];
    static const uint8_t sr1[3] = {6, 124, 117}, kt1[3] = {2, 90, 121};
    derive(h, c, "rollup", 0, NULL, 0);
    sim_b58check(c->rollup_address, sizeof c->rollup_address, sr1, 3, h, 20);
    derive(h, c, "ticketer", 0, NULL, 0);
    sim_b58check(c->ticketer, sizeof c->ticketer, kt1, 3, h, 20);

    c->keep = p->keep < 64 ? 64 : p->keep;
    c->ring = calloc(c->keep, sizeof *c->ring);
    if (!c->ring) {
        sim_chain_free(c);
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    }

    uint64_t n = p->leaves;
    uint64_t total_paid = 0;
    for (size_t k = 0; k < p->npays; k++)
        total_paid += p->pays[k].count;
    if (total_paid > n) {
        sim_chain_free(c);
        return tz_error_set(err, TZ_EINVAL,
                            "--pay asks for %" PRIu64 " notes but --leaves is %" PRIu64,
                            total_paid, n);
    }
    if (n > (UINT64_C(1) << 26)) {
        sim_chain_free(c);
        return tz_error_set(err, TZ_EINVAL, "--leaves %" PRIu64 " is too large", n);
    }

    /* Which leaves are paid: round-robin over the --pay list, spread evenly. */
    int32_t *assign = NULL;
    if (n > 0) {
        assign = malloc((size_t)n * sizeof *assign);
        if (!assign) {
            sim_chain_free(c);
            return tz_error_set(err, TZ_ENOMEM, "out of memory");
        }
        for (uint64_t i = 0; i < n; i++)
            assign[i] = -1;
        uint64_t left[256] = {0};
        size_t np = p->npays < 256 ? p->npays : 256;
        for (size_t k = 0; k < np; k++)
            left[k] = p->pays[k].count;
        uint64_t jn = 0;
        while (jn < total_paid) {
            for (size_t k = 0; k < np && jn < total_paid; k++) {
                if (!left[k])
                    continue;
                left[k]--;
                uint64_t pos = (2 * jn + 1) * n / (2 * total_paid);
                assign[pos] = (int32_t)k;
                jn++;
            }
        }
    }

    uint8_t key[32];
    char path[4200] = "";
    cache_key(key, p);
    tz_frontier fr;
    tz_felt root;
    bool loaded = false;
    if (p->cache_dir && n > 0) {
        cache_path(path, sizeof path, p->cache_dir, key);
        if (cache_load(c, path, key, n, &fr, &root) == TZ_OK) {
            loaded = true;
            if (p->verbose)
                fprintf(stderr, "tzel-rollup-sim: loaded %" PRIu64 " notes from %s\n", n, path);
        }
    }
    if (!loaded) {
        uint8_t *notes = NULL;
        if (n > 0) {
            notes = malloc((size_t)n * SIM_NOTE_BYTES);
            if (!notes) {
                free(assign);
                sim_chain_free(c);
                return tz_error_set(err, TZ_ENOMEM, "out of memory for %" PRIu64 " notes", n);
            }
            gen_job j = {.c = c, .first = 0, .n = n, .assign = assign, .pays = p->pays,
                         .dest = notes, .verbose = p->verbose};
            gen_run(&j, p->threads);
        }
        tz_frontier_init(&fr);
        root = *tz_merkle_zero(TZ_TREE_DEPTH);
        for (uint64_t i = 0; i < n; i++) {
            tz_felt cm;
            memcpy(cm.b, notes + i * SIM_NOTE_BYTES, 32);
            if (tz_frontier_append(&fr, &cm, &root) != TZ_OK)
                break;
        }
        c->base = notes;
        c->base_map = notes;
        c->base_n = n;
        if (p->cache_dir && n > 0) {
            tz_status st = cache_store(p->cache_dir, path, key, notes, n, &fr, &root, err);
            if (st != TZ_OK) {
                free(assign);
                sim_chain_free(c);
                return st;
            }
            if (p->verbose)
                fprintf(stderr, "tzel-rollup-sim: wrote chain cache %s\n", path);
        }
    }
    c->n_leaves = n;

    /* Paid-note bookkeeping (cheap: no encryption). */
    for (uint64_t i = 0; i < n; i++) {
        if (assign[i] < 0)
            continue;
        const sim_pay *py = &p->pays[assign[i]];
        uint8_t r[32];
        sim_paid_note pn = {.index = i, .pay = (size_t)assign[i], .v = py->value};
        leaf_rand(c, i, &py->to, r);
        leaf_rseed(r, &pn.rseed);
        memcpy(pn.cm.b, sim_leaf(c, i), 32);
        if (paid_add(c, &pn) != TZ_OK) {
            free(assign);
            sim_chain_free(c);
            return tz_error_set(err, TZ_ENOMEM, "out of memory");
        }
    }
    free(assign);

    sim_block b = {.level = 1, .fr = fr, .root = root, .nf_count = 0, .bal = NULL};
    c->level_at_start = 1;
    push_block(c, &b);
    return TZ_OK;
}

void sim_chain_free(sim_chain *c)
{
    if (c->base_is_map) {
        if (c->base_map)
            munmap(c->base_map, c->base_map_len);
    } else {
        free(c->base_map);
    }
    for (size_t s = 0; s < c->nsegs; s++)
        free(c->segs[s]);
    free(c->segs);
    free(c->nfs);
    free(c->nf_slots);
    if (c->ring) {
        for (size_t a = 0; a < c->nblocks; a++)
            bal_unref(c->ring[(c->head_pos + c->keep - a) % c->keep].bal);
    }
    free(c->ring);
    free(c->paid);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->wmu);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------- writers */

static sim_block next_block(const sim_chain *c)
{
    sim_block b = *sim_chain_head(c);
    if (b.bal)
        b.bal->refs++;
    return b;
}

tz_status sim_chain_append(sim_chain *c, uint64_t n, const tz_payment_address *to, uint64_t v,
                           uint64_t *first_index, tz_error *err)
{
    if (n > 100000)
        return tz_error_set(err, TZ_EINVAL, "count %" PRIu64 " too large (max 100000)", n);
    pthread_mutex_lock(&c->wmu);
    uint64_t first = c->n_leaves;
    uint8_t *notes = n ? malloc((size_t)n * SIM_NOTE_BYTES) : NULL;
    if (n && !notes) {
        pthread_mutex_unlock(&c->wmu);
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    }
    if (n) {
        gen_job j = {.c = c, .first = first, .n = n, .to = to, .value = v, .dest = notes};
        gen_run(&j, n >= 64 ? 0 : 1);
    }
    pthread_rwlock_wrlock(&c->lock);
    tz_status st = store_leaves(c, notes, n);
    sim_block b = next_block(c);
    for (uint64_t k = 0; st == TZ_OK && k < n; k++) {
        tz_felt cm;
        memcpy(cm.b, notes + k * SIM_NOTE_BYTES, 32);
        st = tz_frontier_append(&b.fr, &cm, &b.root);
        if (st == TZ_OK && to) {
            sim_paid_note pn = {.index = first + k, .pay = SIZE_MAX, .v = v, .cm = cm};
            uint8_t r[32];
            leaf_rand(c, first + k, to, r);
            leaf_rseed(r, &pn.rseed);
            st = paid_add(c, &pn);
        }
    }
    if (st == TZ_OK) {
        push_block(c, &b);
    } else {
        bal_unref(b.bal);
        /* Leaves stored past the head are harmless: the next append
         * overwrites nothing, n_leaves only counts stored bytes. Keep the
         * invariant n_leaves == head size by rolling back the count. */
        c->n_leaves = sim_chain_head(c)->fr.size;
    }
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->wmu);
    free(notes);
    if (st != TZ_OK)
        return tz_error_set(err, st, "append failed (%s)", tz_status_name(st));
    if (first_index)
        *first_index = first;
    return TZ_OK;
}

tz_status sim_chain_add_nullifiers(sim_chain *c, const tz_felt *nfs, size_t n, tz_error *err)
{
    pthread_mutex_lock(&c->wmu);
    pthread_rwlock_wrlock(&c->lock);
    tz_status st = TZ_OK;
    sim_block b = next_block(c);
    for (size_t k = 0; st == TZ_OK && k < n; k++)
        st = nf_insert(c, &nfs[k]);
    b.nf_count = c->nf_n;
    push_block(c, &b);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->wmu);
    return st == TZ_OK ? TZ_OK : tz_error_set(err, st, "out of memory");
}

tz_status sim_chain_deposit(sim_chain *c, const tz_felt *pkh, uint64_t amount, bool drain,
                            tz_error *err)
{
    pthread_mutex_lock(&c->wmu);
    pthread_rwlock_wrlock(&c->lock);
    const sim_block *h = sim_chain_head(c);
    size_t old_n = h->bal ? h->bal->n : 0;
    sim_balances *nb = malloc(sizeof *nb + (old_n + 1) * sizeof(sim_balance));
    if (!nb) {
        pthread_rwlock_unlock(&c->lock);
        pthread_mutex_unlock(&c->wmu);
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    }
    nb->refs = 1;
    nb->n = 0;
    bool done = false;
    tz_status st = TZ_OK;
    for (size_t k = 0; k <= old_n; k++) {
        const sim_balance *e = k < old_n ? &h->bal->e[k] : NULL;
        int r = e ? memcmp(e->pkh.b, pkh->b, 32) : 1;
        if (!done && r >= 0) {
            sim_balance x = {.pkh = *pkh};
            uint64_t cur = (r == 0 && !e->empty) ? e->amount : 0;
            if (drain || amount == 0) {
                x.empty = true;
            } else if (cur + amount < cur) {
                st = TZ_EINVAL;
            } else {
                x.amount = cur + amount;
            }
            nb->e[nb->n++] = x;
            done = true;
            if (r == 0)
                continue;
        }
        if (e)
            nb->e[nb->n++] = *e;
    }
    if (st != TZ_OK) {
        free(nb);
        pthread_rwlock_unlock(&c->lock);
        pthread_mutex_unlock(&c->wmu);
        return tz_error_set(err, st, "deposit balance overflow");
    }
    sim_block b = next_block(c);
    bal_unref(b.bal);
    b.bal = nb;
    push_block(c, &b);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->wmu);
    return TZ_OK;
}

tz_status sim_chain_advance(sim_chain *c, tz_error *err)
{
    (void)err;
    pthread_mutex_lock(&c->wmu);
    pthread_rwlock_wrlock(&c->lock);
    sim_block b = next_block(c);
    push_block(c, &b);
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->wmu);
    return TZ_OK;
}
