/* Watch wallets on the sync engine (watch_sync.h): keys, per-mode trials,
 * records, and one watch wallet's run. */
#include "sync/watch_sync.h"

#include <inttypes.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/commit.h"
#include "core/keys.h"
#include "sync/finalize.h"

/* What a trial hands the merger (only the mode's part is copied). */
typedef struct watch_hit {
    uint32_t addr_index;
    union {
        tz_note_plain plain;    /* view */
        tz_note_outgoing out;   /* outgoing */
    } u;
} watch_hit;

size_t tz_watch_hit_bytes(tz_watch_mode m)
{
    switch (m) {
    case TZ_WATCH_DETECT: return offsetof(watch_hit, u);
    case TZ_WATCH_VIEW: return offsetof(watch_hit, u) + sizeof(tz_note_plain);
    case TZ_WATCH_OUTGOING: return offsetof(watch_hit, u) + sizeof(tz_note_outgoing);
    }
    return sizeof(watch_hit);
}

tz_status tz_watch_keys_init(tz_watch_keys *k, const tz_watch *w, tz_error *err)
{
    memset(k, 0, sizeof *k);
    k->mode = w->mode;
    if (w->mode == TZ_WATCH_OUTGOING) {
        k->outgoing_seed = w->key;
        return TZ_OK;
    }
    size_t n = w->mode == TZ_WATCH_DETECT ? w->addr_count : w->n_addrs;
    if (n == 0)
        return TZ_OK;
    if (!(k->rs = calloc(n, sizeof *k->rs)))
        return tz_error_set(err, TZ_ENOMEM, "watch sync: out of memory for %zu address keys", n);
    tz_felt view_root, detect_root = w->key;
    if (w->mode == TZ_WATCH_VIEW)
        tz_keys_view_roots(&view_root, &detect_root, &w->key);
    uint8_t seed[TZ_KEM_SEED_BYTES];
    for (size_t i = 0; i < n; i++) {
        tz_note_receiver *r = &k->rs[i];
        if (w->mode == TZ_WATCH_DETECT) {
            r->index = (uint32_t)i;
        } else {
            const tz_watch_addr *a = &w->addrs[i];
            r->index = a->index;
            r->d_j = a->d_j;
            r->auth_root = a->auth_root;
            r->auth_pub_seed = a->auth_pub_seed;
            r->nk_tag = a->nk_tag;
            tz_owner_tag(&r->owner_tag, &r->auth_root, &r->auth_pub_seed, &r->nk_tag);
            tz_mlkem_seed(seed, &view_root, "mlkem-v", "mlkem-v2", r->index);
            tz_kem_keygen(&r->kv, seed);
        }
        tz_mlkem_seed(seed, &detect_root, "mlkem-d", "mlkem-d2", r->index);
        tz_kem_keygen(&r->kd, seed);
        tz_note_receiver_ready(r);
        k->n++;
    }
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(&view_root, sizeof view_root);
    sodium_memzero(&detect_root, sizeof detect_root);
    return TZ_OK;
}

void tz_watch_keys_wipe(tz_watch_keys *k)
{
    if (k->rs)
        sodium_memzero(k->rs, k->n * sizeof *k->rs);
    free(k->rs);
    sodium_memzero(k, sizeof *k);
}

bool tz_watch_trial(const tz_watch_keys *k, const tz_published_note *pn,
                    const tz_kem_ct_ready *ready, void *hit)
{
    watch_hit *h = hit;
    tz_kem_ct_ready own;
    if (!ready && k->mode != TZ_WATCH_OUTGOING && k->n > 0) {
        tz_kem_detect_prepare(&own, pn->enc.ct_d);
        ready = &own;
    }
    switch (k->mode) {
    case TZ_WATCH_DETECT:
        for (size_t i = 0; i < k->n; i++) {
            if (tz_note_detect_ready(&k->rs[i], ready, pn->enc.tag)) {
                h->addr_index = k->rs[i].index;
                return true;
            }
        }
        return false;
    case TZ_WATCH_VIEW:
        for (size_t i = 0; i < k->n; i++) {
            if (!tz_note_detect_ready(&k->rs[i], ready, pn->enc.tag))
                continue;
            if (tz_note_open(&k->rs[i], &pn->cm, &pn->enc, &h->u.plain) == TZ_OK) {
                h->addr_index = k->rs[i].index;
                return true;
            }
        }
        return false;
    case TZ_WATCH_OUTGOING:
        return tz_note_outgoing_decrypt(&h->u.out, &k->outgoing_seed, &pn->cm,
                                        pn->enc.outgoing_ct) == TZ_OK;
    }
    return false;
}

tz_status tz_watch_merge_hit(tz_watch *w, uint64_t index, const tz_felt *cm, const void *hit,
                             bool *added)
{
    const watch_hit *h = hit;
    tz_watch_record r;
    memset(&r, 0, sizeof r);
    r.index = index;
    r.cm = *cm;
    switch (w->mode) {
    case TZ_WATCH_DETECT:
        r.addr_index = h->addr_index;
        break;
    case TZ_WATCH_VIEW:
        r.addr_index = h->addr_index;
        r.value = h->u.plain.v;
        r.memo_len = TZ_NOTE_MEMO_BYTES;
        while (r.memo_len > 0 && h->u.plain.memo[r.memo_len - 1] == 0)
            r.memo_len--;
        memcpy(r.memo, h->u.plain.memo, r.memo_len);
        break;
    case TZ_WATCH_OUTGOING:
        r.role = h->u.out.role;
        r.value = h->u.out.v;
        r.rseed = h->u.out.rseed;
        r.d_j = h->u.out.d_j;
        r.auth_root = h->u.out.auth_root;
        r.auth_pub_seed = h->u.out.auth_pub_seed;
        r.nk_tag = h->u.out.nk_tag;
        break;
    }
    tz_status st = tz_watch_add_record(w, &r, added);
    sodium_memzero(&r, sizeof r);
    return st;
}

bool tz_watch_frontier(const tz_watch *w, tz_frontier *fr)
{
    if (w->scanned == 0) {
        tz_frontier_init(fr);
        return true;
    }
    if (!w->has_frontier || w->frontier_size != w->scanned)
        return false;
    fr->size = w->frontier_size;
    memcpy(fr->branch, w->frontier, sizeof fr->branch);
    return true;
}

/* ------------------------------------------------------------ one wallet */

typedef struct run {
    tz_scan sc;
    tz_watch *w;
    tz_watch_keys keys;
    tz_frontier fr;
    bool has_fr;
    bool verified_now;
} run;

static bool trial(void *ctx, uint64_t index, const tz_published_note *pn, void *hit)
{
    (void)index;
    return tz_watch_trial(ctx, pn, NULL, hit);
}

static tz_status merge(void *ctx, tz_leaf_result *l, tz_error *err)
{
    run *r = ctx;
    if (r->has_fr && tz_frontier_push(&r->fr, &l->cm) != TZ_OK)
        return tz_error_set(err, TZ_EPARSE, "leaf %" PRIu64 ": the commitment tree is full",
                            l->index);
    if (!l->mine)
        return TZ_OK;
    bool added = false;
    if (tz_watch_merge_hit(r->w, l->index, &l->cm, l->hit, &added) != TZ_OK)
        return tz_error_set(err, TZ_ENOMEM, "watch sync: cannot record leaf %" PRIu64,
                            l->index);
    if (added) {
        const watch_hit *h = l->hit;
        r->sc.res->found++;
        tz_sync_event ev = {.type = TZ_SYNC_EV_FOUND, .cm = &l->cm, .index = l->index,
                            .found = r->sc.res->found, .pid = -1,
                            .v = r->w->mode == TZ_WATCH_VIEW       ? h->u.plain.v
                                 : r->w->mode == TZ_WATCH_OUTGOING ? h->u.out.v
                                                                   : 0};
        tz_scan_emit(&r->sc, &ev);
    }
    return TZ_OK;
}

static tz_status save(void *ctx, uint64_t cursor, tz_error *err)
{
    run *r = ctx;
    if (r->has_fr)
        tz_frontier_settle(&r->fr); /* the branches the kernel stores */
    tz_watch_set_scan(r->w, cursor, r->has_fr ? r->fr.branch : NULL);
    if (r->verified_now)
        tz_watch_mark_verified(r->w);
    return tz_watch_save(r->w, false, err);
}

static void load_scan_state(run *r)
{
    tz_scan_reset(&r->sc, r->w->scanned);
    r->has_fr = tz_watch_frontier(r->w, &r->fr);
}

tz_status tz_watch_sync_run(tz_watch *w, tz_rpc *rpc, const tz_sync_config *cfg,
                            const tz_sync_hooks *hooks, tz_sync_result *res, tz_error *err)
{
    if (!w)
        return tz_error_set(err, TZ_EINVAL, "watch sync: invalid arguments");
    run r = {.w = w};
    tz_chain_heads heads;
    tz_status st = tz_scan_begin(&r.sc, w->path, w->scanned, rpc, cfg, hooks, res, &heads, err);
    if (st != TZ_OK)
        return st;
    tz_scan_ops ops = {.trial = trial,
                       .hit_bytes = tz_watch_hit_bytes(w->mode),
                       .merge = merge,
                       .save = save,
                       .ctx = &r};
    bool have_keys = false;
    load_scan_state(&r);
    for (int pass = 0;; pass++) {
        if (r.sc.cursor < res->tree_size) {
            if (!have_keys && (st = tz_watch_keys_init(&r.keys, w, err)) != TZ_OK)
                goto out;
            have_keys = true;
            ops.trial_ctx = &r.keys;
            st = tz_scan_range(&r.sc, &ops, err);
            if (st != TZ_OK || res->yielded)
                goto out;
            tz_scan_progress(&r.sc, true);
        }
        tz_finalize_out fo;
        memset(&fo, 0, sizeof fo);
        uint64_t started = r.sc.run_start;
        if (r.has_fr) {
            tz_finalize_in fin = {.rpc = rpc, .block = res->block, .tree_size = res->tree_size,
                                  .frontier = &r.fr, .have_root = true,
                                  .root_present = heads.root_present, .chain_root = heads.root};
            st = tz_sync_check_root(&fin, &fo, err);
        }
        if (fo.root_mismatch) {
            uint64_t from, to;
            size_t dropped;
            tz_error serr;
            tz_watch_rollback_unverified(w, &from, &to, &dropped);
            if (tz_watch_save(w, false, &serr) != TZ_OK) {
                size_t n = strlen(err->msg);
                snprintf(err->msg + n, sizeof err->msg - n,
                         "; returning to the last verified state failed: %s", serr.msg);
                st = err->code = serr.code;
                goto out;
            }
            load_scan_state(&r);
            if (pass == 0 && to < started) {
                tz_scan_warnf(&r.sc, "%s; leaves [%" PRIu64 ", %" PRIu64 ") were scanned by an "
                              "earlier run: scanning again from the last verified state",
                              err->msg, to, started);
                res->found = 0;
                continue;
            }
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n,
                     ". The watch wallet returned to its last verified state: cursor %" PRIu64
                     " -> %" PRIu64 ", %zu record(s) past it dropped; the next sync against "
                     "an honest node scans those leaves again",
                     from, to, dropped);
            st = TZ_EMISMATCH;
            goto out;
        }
        if (st != TZ_OK)
            goto out;
        r.verified_now = fo.verified;
        if ((st = tz_scan_checkpoint(&r.sc, &ops, err)) != TZ_OK)
            goto out;
        res->finalized = true;
        res->verified = fo.verified;
        res->root = fo.root;
        break;
    }
out:
    if (have_keys)
        tz_watch_keys_wipe(&r.keys);
    return st;
}
