/* Many watch wallets, one pass over the chain (pass.h). */
#include "pass.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "core/merkle.h"
#include "store/lock.h"
#include "store/watch.h"
#include "sync/finalize.h"
#include "sync/scan.h"
#include "sync/watch_sync.h"

/* A wallet taking part in the pass. */
typedef struct member {
    tz_detect_item *item;
    tz_lock *lock;
    tz_watch *w;
    tz_watch_keys keys;
    bool has_keys;
    uint64_t start;       /* its cursor when the pass began */
    uint64_t cursor;      /* every leaf below is merged into w */
    uint64_t saved;
    tz_frontier fr;
    bool has_fr;
    bool active;          /* still scanning (not failed, not yielded) */
    size_t off;           /* its part of a leaf's hit bytes: flag, then the trial's */
} member;

typedef struct pass {
    tz_scan sc;
    member *m;
    size_t n;
    size_t hit_bytes;
    double last_look;     /* when the sentinels were last looked at */
} pass;

/* Looking at N sentinels costs N opens: between checkpoints they are
 * looked at every N ms (at most every 50 ms), not every 1 ms. */
#define LOOK_EVERY_SECS_PER_WALLET 0.001
#define LOOK_EVERY_SECS_MAX 0.05

static void fail_item(member *m, tz_status st, const char *msg)
{
    m->active = false;
    m->item->st = st;
    snprintf(m->item->error, sizeof m->item->error, "%s", msg);
}

/* Worker threads: every active wallet whose cursor is at or below the leaf. */
static bool trial(void *ctx, uint64_t index, const tz_published_note *pn, void *hit)
{
    const pass *p = ctx;
    bool any = false;
    /* the ciphertext's half of every detection, once for all wallets */
    tz_kem_ct_ready ready;
    tz_kem_detect_prepare(&ready, pn->enc.ct_d);
    for (size_t i = 0; i < p->n; i++) {
        const member *m = &p->m[i];
        if (!m->has_keys || index < m->start)
            continue;
        unsigned char *h = (unsigned char *)hit + m->off;
        if (tz_watch_trial(&m->keys, pn, &ready, h + 1)) {
            h[0] = 1;
            any = true;
        }
    }
    return any;
}

static tz_status merge(void *ctx, tz_leaf_result *l, tz_error *err)
{
    pass *p = ctx;
    for (size_t i = 0; i < p->n; i++) {
        member *m = &p->m[i];
        if (!m->active || l->index < m->cursor)
            continue;
        if (m->has_fr && tz_frontier_push(&m->fr, &l->cm) != TZ_OK) {
            fail_item(m, TZ_EPARSE, "the commitment tree is full");
            continue;
        }
        const unsigned char *h = l->hit ? (const unsigned char *)l->hit + m->off : NULL;
        if (l->mine && h && h[0]) {
            bool added = false;
            if (tz_watch_merge_hit(m->w, l->index, &l->cm, h + 1, &added) != TZ_OK)
                return tz_error_set(err, TZ_ENOMEM, "detect: cannot record leaf %" PRIu64,
                                    l->index);
            m->item->found += added;
            p->sc.res->found += added;
        }
        m->cursor = l->index + 1;
    }
    return TZ_OK;
}

/* Saves one wallet at its cursor. */
static tz_status save_member(member *m, bool verified, tz_error *err)
{
    if (m->has_fr)
        tz_frontier_settle(&m->fr); /* the branches the kernel stores */
    tz_watch_set_scan(m->w, m->cursor, m->has_fr ? m->fr.branch : NULL);
    if (verified)
        tz_watch_mark_verified(m->w);
    tz_status st = tz_watch_save(m->w, false, err);
    if (st == TZ_OK)
        m->saved = m->cursor;
    return st;
}

/* A checkpoint: every active wallet that moved since its last save. A
 * wallet whose save fails drops out of the pass (its file keeps the
 * previous checkpoint); the others go on. */
static tz_status save(void *ctx, uint64_t cursor, tz_error *err)
{
    pass *p = ctx;
    (void)cursor;
    (void)err;
    for (size_t i = 0; i < p->n; i++) {
        member *m = &p->m[i];
        tz_error e;
        if (m->active && m->cursor > m->saved && save_member(m, false, &e) != TZ_OK)
            fail_item(m, e.code, e.msg);
    }
    return TZ_OK;
}

/* Each active wallet's sentinel: a live one makes that wallet save its
 * prefix and leave the pass; the pass stops only when none is left. */
static bool should_yield(void *ctx, long *pid)
{
    pass *p = ctx;
    double t = tz_mono_secs(), every = LOOK_EVERY_SECS_PER_WALLET * (double)p->n;
    if (t - p->last_look < (every < LOOK_EVERY_SECS_MAX ? every : LOOK_EVERY_SECS_MAX))
        return false;
    p->last_look = t;
    size_t active = 0;
    for (size_t i = 0; i < p->n; i++) {
        member *m = &p->m[i];
        if (!m->active)
            continue;
        long who = -1;
        if (m->cursor > m->start && tz_scan_sentinel_live(&p->sc, m->item->path, &who)) {
            tz_error e;
            if (m->cursor > m->saved && save_member(m, false, &e) != TZ_OK) {
                fail_item(m, e.code, e.msg);
                continue;
            }
            m->active = false;
            m->item->yielded = true;
            *pid = who;
            continue;
        }
        active++;
    }
    return active == 0;
}

/* Lock, load, keys. A wallet that cannot join fails alone. */
static void join(member *m, tz_detect_item *it)
{
    memset(m, 0, sizeof *m);
    m->item = it;
    tz_error e = {0};
    tz_status st = tz_lock_acquire(it->path, &m->lock, &e);
    if (st == TZ_OK)
        st = tz_watch_load(it->path, &m->w, &e);
    if (st == TZ_OK)
        st = tz_watch_keys_init(&m->keys, m->w, &e);
    if (st != TZ_OK) {
        fail_item(m, st, e.msg);
        return;
    }
    m->has_keys = true;
    m->start = m->cursor = m->saved = m->w->scanned;
    m->has_fr = tz_watch_frontier(m->w, &m->fr);
    m->active = true;
    it->ran = true;
}

static void leave(member *m)
{
    if (m->has_keys)
        tz_watch_keys_wipe(&m->keys);
    if (m->w)
        m->item->next_cursor = m->w->scanned;
    tz_watch_free(m->w);
    tz_lock_release(m->lock);
}

/* End of the range for one wallet: root check, save (or return to its
 * last verified state). */
static void finish(pass *p, member *m, const tz_chain_heads *heads)
{
    tz_finalize_out fo;
    memset(&fo, 0, sizeof fo);
    tz_error e = {0};
    tz_status st = TZ_OK;
    if (m->has_fr) {
        tz_finalize_in fin = {.rpc = p->sc.rpc, .block = p->sc.res->block,
                              .tree_size = p->sc.res->tree_size, .frontier = &m->fr,
                              .have_root = true, .root_present = heads->root_present,
                              .chain_root = heads->root};
        st = tz_sync_check_root(&fin, &fo, &e);
    }
    if (fo.root_mismatch) {
        uint64_t from, to;
        size_t dropped;
        tz_watch_rollback_unverified(m->w, &from, &to, &dropped);
        tz_error serr;
        if (tz_watch_save(m->w, false, &serr) != TZ_OK)
            st = serr.code;
        size_t n = strlen(e.msg);
        snprintf(e.msg + n, sizeof e.msg - n,
                 ". The watch wallet returned to its last verified state: cursor %" PRIu64
                 " -> %" PRIu64 ", %zu record(s) past it dropped",
                 from, to, dropped);
        fail_item(m, TZ_EMISMATCH, e.msg);
        return;
    }
    if (st == TZ_OK && (st = save_member(m, fo.verified, &e)) == TZ_OK) {
        m->item->verified = fo.verified;
        return;
    }
    fail_item(m, st, e.msg);
}

tz_status tz_detect_pass(tz_detect_item *items, size_t n, tz_rpc *rpc,
                         const tz_sync_config *cfg, const tz_sync_hooks *hooks,
                         tz_sync_result *res, tz_error *err)
{
    pass p = {.n = n};
    if (!(p.m = calloc(n ? n : 1, sizeof *p.m)))
        return tz_error_set(err, TZ_ENOMEM, "detect: out of memory");
    uint64_t lo = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        tz_detect_item *it = &items[i];
        it->ran = it->yielded = it->verified = false;
        it->st = TZ_OK;
        it->error[0] = '\0';
        it->found = it->next_cursor = 0;
        join(&p.m[i], it);
        if (p.m[i].active) {
            p.m[i].off = p.hit_bytes;
            p.hit_bytes += 1 + tz_watch_hit_bytes(p.m[i].w->mode);
            if (p.m[i].start < lo)
                lo = p.m[i].start;
        }
    }
    if (lo == UINT64_MAX)
        lo = 0;
    tz_chain_heads heads;
    tz_status st = tz_scan_begin(&p.sc, NULL, 0, rpc, cfg, hooks, res, &heads, err);
    if (st != TZ_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        member *m = &p.m[i];
        if (m->active && m->start > res->tree_size) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "watch wallet cursor %" PRIu64 " is ahead of rollup tree size %" PRIu64
                     " (block %s)",
                     m->start, res->tree_size, res->block);
            fail_item(m, TZ_EMISMATCH, msg);
        }
    }
    lo = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (p.m[i].active && p.m[i].start < lo)
            lo = p.m[i].start;
    if (lo == UINT64_MAX) /* nobody to scan for */
        goto out;
    tz_scan_reset(&p.sc, lo);
    tz_scan_ops ops = {.trial = trial, .trial_ctx = &p, .hit_bytes = p.hit_bytes,
                       .merge = merge, .save = save, .should_yield = should_yield, .ctx = &p};
    if (p.sc.cursor < res->tree_size) {
        st = tz_scan_range(&p.sc, &ops, err);
        if (st != TZ_OK || res->yielded)
            goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (p.m[i].active)
            finish(&p, &p.m[i], &heads);
    res->finalized = true;
out:
    for (size_t i = 0; i < n; i++)
        leave(&p.m[i]);
    free(p.m);
    return st;
}
