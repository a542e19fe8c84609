/* The simulator's versioned chain (chain.h): leaf storage (a base region,
 * malloc'd or mapped from the cache, then fixed-size segments), the ring
 * of recent blocks and block-id resolution, the nullifier list and its
 * hash index, refcounted deposit-balance tables, the paid-note list, and
 * the writers, which serialise on wmu, make their notes outside the lock
 * and publish each new block under the write lock. */
#include "chain.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/b58.h"
#include "base/num.h"
#include "chain_internal.h"

/* Doubles the capacity *cap (from `first` when 0) of the array arr of
 * `size`-byte items. Returns the moved array, or NULL when memory is short
 * (arr and *cap untouched). */
static void *grow(void *arr, size_t *cap, size_t size, size_t first)
{
    size_t nc = *cap ? *cap * 2 : first;
    void *na = realloc(arr, nc * size);
    if (na)
        *cap = nc;
    return na;
}

/* Makes room for `extra` more items in arr (n used of *cap). Returns
 * false when memory is short (arr untouched). */
static bool reserve(void **arr, uint64_t n, size_t *cap, size_t size, size_t extra)
{
    while (n + extra > *cap) {
        void *na = grow(*arr, cap, size, 64);
        if (!na)
            return false;
        *arr = na;
    }
    return true;
}

/* Records the root of block b when it differs from the last recorded one
 * (room reserved by the caller: reserve(roots, .., 1)). */
static void root_record(sim_chain *c, sim_block *b)
{
    if (c->roots_n == 0 || memcmp(c->roots[c->roots_n - 1].b, b->root.b, 32) != 0)
        c->roots[c->roots_n++] = b->root;
    b->roots_count = c->roots_n;
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
                uint8_t **ns = grow(c->segs, &c->segcap, sizeof *ns, 16);
                if (!ns)
                    return TZ_ENOMEM;
                c->segs = ns;
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
    sim_gen_derive(h, c, "block", b->level, buf, sizeof buf);
    static const uint8_t prefix[2] = {1, 52};
    tz_b58check(b->hash, sizeof b->hash, prefix, 2, h, 32);
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

/* Puts value v in the first free slot of nf's probe sequence in the
 * open-addressed table slots[cap] (cap a power of two, never full). */
static void nf_slot_put(uint64_t *slots, uint64_t cap, const tz_felt *nf, uint64_t v)
{
    uint64_t s = nf_key(nf) & (cap - 1);
    while (slots[s])
        s = (s + 1) & (cap - 1);
    slots[s] = v;
}

/* Makes room for `extra` more nullifiers (list and index), so that the
 * next `extra` nf_insert calls cannot fail. Returns TZ_OK or TZ_ENOMEM
 * (nothing changed that matters: only capacities grow). */
static tz_status nf_reserve(sim_chain *c, uint64_t extra)
{
    void *arr = c->nfs;
    bool ok = reserve(&arr, c->nf_n, &c->nf_cap, sizeof(tz_felt), (size_t)extra);
    c->nfs = arr;
    if (!ok)
        return TZ_ENOMEM;
    if ((c->nf_n + extra) * 2 > c->nf_slot_cap) {
        uint64_t nc = c->nf_slot_cap ? c->nf_slot_cap : 128;
        while ((c->nf_n + extra) * 2 > nc)
            nc *= 2;
        uint64_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return TZ_ENOMEM;
        for (uint64_t k = 0; k < c->nf_n; k++)
            nf_slot_put(ns, nc, &c->nfs[k], k + 1);
        free(c->nf_slots);
        c->nf_slots = ns;
        c->nf_slot_cap = nc;
    }
    return TZ_OK;
}

static tz_status nf_insert(sim_chain *c, const tz_felt *nf)
{
    uint64_t dummy;
    if (nf_find(c, nf, &dummy))
        return TZ_OK;
    tz_status st = nf_reserve(c, 1);
    if (st != TZ_OK)
        return st;
    c->nfs[c->nf_n] = *nf;
    nf_slot_put(c->nf_slots, c->nf_slot_cap, nf, c->nf_n + 1);
    c->nf_n++;
    return TZ_OK;
}

bool sim_chain_has_nf(const sim_chain *c, const sim_block *b, const tz_felt *nf)
{
    uint64_t idx;
    return nf_find(c, nf, &idx) && idx < b->nf_count;
}

bool sim_chain_has_root(const sim_chain *c, const sim_block *b, const tz_felt *root)
{
    for (uint64_t i = b->roots_count; i-- > 0;)
        if (memcmp(c->roots[i].b, root->b, 32) == 0)
            return true;
    return false;
}

bool sim_chain_has_shield(const sim_chain *c, const sim_block *b, const tz_felt *cm)
{
    for (uint64_t i = 0; i < b->shield_count; i++)
        if (memcmp(c->shields[i].b, cm->b, 32) == 0)
            return true;
    return false;
}

uint64_t sim_chain_fee_count(const sim_block *b, uint64_t level)
{
    return b->fee_level == level ? b->fee_count : 0;
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

/* Records stored leaf i, paid to `to` with value v for --pay entry `pay`
 * (SIZE_MAX: /sim/append), with its cm and opening. The caller holds the
 * write lock or has c to itself. Returns TZ_OK or TZ_ENOMEM (nothing
 * recorded). */
static tz_status paid_add(sim_chain *c, uint64_t i, size_t pay, const tz_payment_address *to,
                          uint64_t v)
{
    if (c->npaid == c->paidcap) {
        sim_paid_note *np = grow(c->paid, &c->paidcap, sizeof *np, 64);
        if (!np)
            return TZ_ENOMEM;
        c->paid = np;
    }
    sim_paid_note *pn = &c->paid[c->npaid++];
    pn->index = i;
    pn->pay = pay;
    sim_leaf_opening(c, i, to, v, &pn->v, &pn->rseed);
    memcpy(pn->cm.b, sim_leaf(c, i), 32);
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

/* ------------------------------------------------------------------- init */

/* Puts the p->leaves initial notes in c->base: mapped from the cache when
 * it holds them, otherwise generated (and then cached); writes their
 * frontier and root. On failure c->base may hold the notes (freed with c). */
static tz_status init_base(sim_chain *c, const sim_gen_params *p, const int32_t *assign,
                           tz_frontier *fr, tz_felt *root, tz_error *err)
{
    uint64_t n = p->leaves;
    uint8_t key[32];
    char path[4200] = "";
    sim_cache_key(key, p);
    if (p->cache_dir && n > 0) {
        sim_cache_path(path, sizeof path, p->cache_dir, key);
        if (sim_cache_load(c, path, key, n, fr, root) == TZ_OK) {
            if (p->verbose)
                fprintf(stderr, "tzel-rollup-sim: loaded %" PRIu64 " notes from %s\n", n, path);
            return TZ_OK;
        }
    }
    uint8_t *notes = NULL;
    if (n > 0) {
        notes = malloc((size_t)n * SIM_NOTE_BYTES);
        if (!notes)
            return tz_error_set(err, TZ_ENOMEM, "out of memory for %" PRIu64 " notes", n);
        sim_gen_initial(c, p, assign, notes);
    }
    tz_frontier_init(fr);
    *root = *tz_merkle_zero(TZ_TREE_DEPTH);
    for (uint64_t i = 0; i < n; i++) {
        tz_felt cm;
        memcpy(cm.b, notes + i * SIM_NOTE_BYTES, 32);
        if (tz_frontier_append(fr, &cm, root) != TZ_OK)
            break;
    }
    c->base = notes;
    c->base_map = notes;
    c->base_n = n;
    if (p->cache_dir && n > 0) {
        tz_status st = sim_cache_store(p->cache_dir, path, key, notes, n, fr, root, err);
        if (st != TZ_OK)
            return st;
        if (p->verbose)
            fprintf(stderr, "tzel-rollup-sim: wrote chain cache %s\n", path);
    }
    return TZ_OK;
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
    sim_gen_seed(c, p->seed);

    c->keep = p->keep < 64 ? 64 : p->keep;
    c->ring = calloc(c->keep, sizeof *c->ring);
    if (!c->ring) {
        sim_chain_free(c);
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    }
    int32_t *assign = NULL;
    tz_frontier fr;
    tz_felt root;
    tz_status st = sim_gen_assign(p, &assign, err);
    if (st == TZ_OK)
        st = init_base(c, p, assign, &fr, &root, err);
    if (st != TZ_OK) {
        free(assign);
        sim_chain_free(c);
        return st;
    }
    uint64_t n = p->leaves;
    c->n_leaves = n;

    /* Paid-note bookkeeping (cheap: no encryption). */
    for (uint64_t i = 0; i < n; i++) {
        if (assign[i] < 0)
            continue;
        const sim_pay *py = &p->pays[assign[i]];
        if (paid_add(c, i, (size_t)assign[i], &py->to, py->value) != TZ_OK) {
            free(assign);
            sim_chain_free(c);
            return tz_error_set(err, TZ_ENOMEM, "out of memory");
        }
    }
    free(assign);

    sim_block b = {.level = 1, .fr = fr, .root = root, .nf_count = 0, .bal = NULL};
    void *roots = NULL;
    if (!reserve(&roots, 0, &c->roots_cap, sizeof(tz_felt), 1)) {
        sim_chain_free(c);
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    }
    c->roots = roots;
    root_record(c, &b);
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
    free(c->roots);
    free(c->wds);
    free(c->shields);
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
    return sim_chain_append_from(c, n, to, v, NULL, first_index, err);
}

tz_status sim_chain_append_from(sim_chain *c, uint64_t n, const tz_payment_address *to,
                                uint64_t v, const sim_sender *sender, uint64_t *first_index,
                                tz_error *err)
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
    if (n)
        sim_gen_notes(c, first, n, to, v, sender, notes);
    pthread_rwlock_wrlock(&c->lock);
    void *ra = c->roots;
    bool room = reserve(&ra, c->roots_n, &c->roots_cap, sizeof(tz_felt), 1);
    c->roots = ra;
    tz_status st = room ? store_leaves(c, notes, n) : TZ_ENOMEM;
    sim_block b = next_block(c);
    for (uint64_t k = 0; st == TZ_OK && k < n; k++) {
        tz_felt cm;
        memcpy(cm.b, notes + k * SIM_NOTE_BYTES, 32);
        st = tz_frontier_append(&b.fr, &cm, &b.root);
        if (st == TZ_OK && to)
            st = paid_add(c, first + k, SIZE_MAX, to, v);
    }
    if (st == TZ_OK) {
        root_record(c, &b);
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

/* A copy of table old (may be NULL) with pkh's entry set to amount, or to
 * the empty value when empty; NULL when memory is short. */
static sim_balances *bal_set(const sim_balances *old, const tz_felt *pkh, uint64_t amount,
                             bool empty)
{
    size_t old_n = old ? old->n : 0;
    sim_balances *nb = malloc(sizeof *nb + (old_n + 1) * sizeof(sim_balance));
    if (!nb)
        return NULL;
    nb->refs = 1;
    nb->n = 0;
    bool done = false;
    for (size_t k = 0; k <= old_n; k++) {
        const sim_balance *e = k < old_n ? &old->e[k] : NULL;
        int r = e ? memcmp(e->pkh.b, pkh->b, 32) : 1;
        if (!done && r >= 0) {
            nb->e[nb->n++] = (sim_balance){.pkh = *pkh, .amount = empty ? 0 : amount,
                                           .empty = empty};
            done = true;
            if (r == 0)
                continue;
        }
        if (e)
            nb->e[nb->n++] = *e;
    }
    return nb;
}

tz_status sim_chain_commit(sim_chain *c, sim_check_fn check, void *ctx, uint64_t *level,
                           tz_error *err)
{
    pthread_mutex_lock(&c->wmu);
    /* Only writers change the chain and they hold wmu: reading without the
     * read lock is safe here. */
    const sim_block *h = sim_chain_head(c);
    sim_effects eff;
    memset(&eff, 0, sizeof eff);
    *level = h->level;
    tz_status st = check(ctx, c, h, h->level + 1, &eff, err);
    if (st != TZ_OK) {
        pthread_mutex_unlock(&c->wmu);
        return st;
    }
    sim_balances *nb = NULL;
    if (eff.debit_pkh) {
        const sim_balance *e = sim_chain_balance(h, eff.debit_pkh);
        uint64_t cur = e && !e->empty ? e->amount : 0;
        if (cur < eff.debit) {
            pthread_mutex_unlock(&c->wmu);
            return tz_error_set(err, TZ_EINVAL, "pool balance %" PRIu64 " below %" PRIu64, cur,
                                eff.debit);
        }
        nb = bal_set(h->bal, eff.debit_pkh, cur - eff.debit, cur == eff.debit);
        if (!nb)
            goto oom;
    }
    /* Room first, so nothing below fails halfway (store_leaves aside,
     * which leaves the head untouched). */
    void *ra = c->roots, *wa = c->wds, *sa = c->shields;
    bool room = reserve(&ra, c->roots_n, &c->roots_cap, sizeof(tz_felt), 1);
    c->roots = ra;
    room = room && reserve(&wa, c->wd_n, &c->wd_cap, sizeof(sim_withdrawal), 1);
    c->wds = wa;
    room = room && reserve(&sa, c->sh_n, &c->sh_cap, sizeof(tz_felt), 1);
    c->shields = sa;
    if (!room || nf_reserve(c, eff.n_nfs) != TZ_OK)
        goto oom;

    pthread_rwlock_wrlock(&c->lock);
    st = store_leaves(c, eff.notes, eff.n_notes);
    sim_block b = next_block(c);
    for (size_t k = 0; st == TZ_OK && k < eff.n_notes; k++) {
        tz_felt cm;
        memcpy(cm.b, eff.notes + k * SIM_NOTE_BYTES, 32);
        st = tz_frontier_append(&b.fr, &cm, &b.root);
    }
    if (st != TZ_OK) {
        bal_unref(b.bal);
        c->n_leaves = sim_chain_head(c)->fr.size;
        pthread_rwlock_unlock(&c->lock);
        pthread_mutex_unlock(&c->wmu);
        bal_unref(nb);
        return tz_error_set(err, st, "applying the message failed (%s)", tz_status_name(st));
    }
    if (eff.n_notes)
        root_record(c, &b);
    for (size_t k = 0; k < eff.n_nfs; k++)
        (void)nf_insert(c, &eff.nfs[k]); /* room reserved: cannot fail */
    b.nf_count = c->nf_n;
    if (eff.wd)
        c->wds[c->wd_n++] = *eff.wd;
    b.wd_count = c->wd_n;
    if (eff.shield_cm)
        c->shields[c->sh_n++] = *eff.shield_cm;
    b.shield_count = c->sh_n;
    if (nb) {
        bal_unref(b.bal);
        b.bal = nb;
    }
    if (eff.private_tx) {
        b.fee_count = sim_chain_fee_count(h, h->level + 1) + 1;
        b.fee_level = h->level + 1;
    }
    push_block(c, &b);
    *level = b.level;
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->wmu);
    return TZ_OK;
oom:
    pthread_mutex_unlock(&c->wmu);
    bal_unref(nb);
    return tz_error_set(err, TZ_ENOMEM, "out of memory");
}
