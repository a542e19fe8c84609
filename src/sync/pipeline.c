/* Fetcher thread -> reorder buffer -> worker pool -> in-order merger. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/wire.h"
#include "sync/pipeline.h"

/* Out-of-order distance the reorder ring accepts before failing: far more
 * than any source keeping a few hundred requests in flight produces. */
#define MAX_RING (1u << 20)

enum { LEAF_QUEUED = 1, LEAF_BUSY, LEAF_DONE };

typedef struct leaf {
    uint64_t index;
    int state;
    size_t raw_len;
    bool decoded;
    bool mine;
    size_t which;
    struct leaf *next;          /* work queue / free list */
    tz_published_note pn;
    tz_note_plain plain;
    unsigned char hit[];        /* cfg.hit_bytes */
} leaf;

struct tz_pipeline {
    tz_pipeline_cfg cfg;
    pthread_mutex_t mu;
    pthread_cond_t space, work, ready;
    leaf **ring;
    size_t cap;                 /* power of two */
    uint64_t base;              /* next index the merger takes */
    size_t held, peak;
    uint64_t delivered;
    leaf *wq_head, *wq_tail;
    leaf *free_list;
    size_t n_free;
    bool cancelled, fetch_done;
    bool draining;              /* the source failed: hand out the finished prefix, then fail */
    tz_status fail;
    tz_error fail_err;
    pthread_t fetcher;
    bool fetcher_started;
    pthread_t *workers;
    unsigned n_workers;
    unsigned char *hit_out;     /* the merger's copy of the last hit */
};

static void leaf_release(tz_pipeline *p, leaf *l)
{
    /* Caller holds mu. */
    sodium_memzero(&l->plain, sizeof l->plain);
    sodium_memzero(l->hit, p->cfg.hit_bytes);
    if (p->n_free < p->cfg.window) {
        l->next = p->free_list;
        p->free_list = l;
        p->n_free++;
    } else {
        free(l);
    }
}

static void fail_locked(tz_pipeline *p, tz_status st, const tz_error *e)
{
    if (p->fail == TZ_OK) {
        p->fail = st;
        if (e)
            p->fail_err = *e;
        else
            tz_error_set(&p->fail_err, st, "sync pipeline failed (%s)", tz_status_name(st));
        p->fail_err.code = st;
    }
    p->cancelled = true;
    if (p->cfg.cancel_flag)
        __atomic_store_n(p->cfg.cancel_flag, 1, __ATOMIC_SEQ_CST);
    pthread_cond_broadcast(&p->space);
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->ready);
}

/* Makes the ring hold index i (caller holds mu). */
static tz_status ring_fit(tz_pipeline *p, uint64_t i)
{
    uint64_t dist = i - p->base;
    if (dist < p->cap)
        return TZ_OK;
    if (dist >= MAX_RING)
        return TZ_ENOMEM;
    size_t ncap = p->cap;
    while (ncap <= dist)
        ncap *= 2;
    leaf **nr = calloc(ncap, sizeof *nr);
    if (!nr)
        return TZ_ENOMEM;
    for (size_t k = 0; k < p->cap; k++) {
        leaf *l = p->ring[k];
        if (l)
            nr[l->index & (ncap - 1)] = l;
    }
    free(p->ring);
    p->ring = nr;
    p->cap = ncap;
    return TZ_OK;
}

/* Runs on the fetcher thread for every fetched note. */
static int on_note(void *ctx, uint64_t index, const uint8_t *bytes, size_t len)
{
    tz_pipeline *p = ctx;
    tz_error e;

    pthread_mutex_lock(&p->mu);
    while (!p->cancelled && p->held >= p->cfg.window && p->ring[p->base & (p->cap - 1)])
        pthread_cond_wait(&p->space, &p->mu);
    if (p->cancelled) {
        pthread_mutex_unlock(&p->mu);
        return 1;
    }
    leaf *l = p->free_list;
    if (l) {
        p->free_list = l->next;
        p->n_free--;
    }
    pthread_mutex_unlock(&p->mu);

    if (!l && !(l = malloc(sizeof *l + p->cfg.hit_bytes))) {
        pthread_mutex_lock(&p->mu);
        fail_locked(p, tz_error_set(&e, TZ_ENOMEM, "sync: out of memory for leaf %llu",
                                    (unsigned long long)index), &e);
        pthread_mutex_unlock(&p->mu);
        return 1;
    }
    l->index = index;
    l->raw_len = len;
    l->mine = false;
    l->which = 0;
    l->next = NULL;
    l->decoded = tz_wire_decode_published_note(&l->pn, bytes, len) == TZ_OK;
    l->state = LEAF_QUEUED;

    pthread_mutex_lock(&p->mu);
    tz_status st = TZ_OK;
    if (index < p->base || index < p->cfg.start || index >= p->cfg.end)
        st = tz_error_set(&e, TZ_EINVAL, "sync: source delivered leaf %llu outside [%llu, %llu)",
                          (unsigned long long)index, (unsigned long long)p->base,
                          (unsigned long long)p->cfg.end);
    else if (ring_fit(p, index) != TZ_OK)
        st = tz_error_set(&e, TZ_ENOMEM, "sync: leaf %llu arrived too far out of order",
                          (unsigned long long)index);
    else if (p->ring[index & (p->cap - 1)])
        st = tz_error_set(&e, TZ_EINVAL, "sync: source delivered leaf %llu twice",
                          (unsigned long long)index);
    if (st != TZ_OK) {
        free(l);
        fail_locked(p, st, &e);
        pthread_mutex_unlock(&p->mu);
        return 1;
    }
    p->ring[index & (p->cap - 1)] = l;
    p->held++;
    p->delivered++;
    if (p->held > p->peak)
        p->peak = p->held;
    if (p->wq_tail)
        p->wq_tail->next = l;
    else
        p->wq_head = l;
    p->wq_tail = l;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static void *fetcher_main(void *arg)
{
    tz_pipeline *p = arg;
    tz_error e = {0};
    tz_status st = p->cfg.source(p->cfg.source_ctx, p->cfg.start, p->cfg.end, on_note, p, &e);
    pthread_mutex_lock(&p->mu);
    p->fetch_done = true;
    if (st != TZ_OK && !(st == TZ_ECANCEL && p->cancelled)) {
        if (st == TZ_ECANCEL)
            tz_error_set(&e, TZ_ECANCEL, "sync: fetch cancelled");
        if (p->fail == TZ_OK) {
            /* Workers finish what is queued; the merger takes the
             * contiguous prefix, then gets the error. */
            p->fail = st;
            p->fail_err = e;
            p->fail_err.code = st;
            p->draining = true;
            if (p->cfg.cancel_flag)
                __atomic_store_n(p->cfg.cancel_flag, 1, __ATOMIC_SEQ_CST);
        }
    } else if (st == TZ_OK && p->delivered != p->cfg.end - p->cfg.start) {
        tz_error_set(&e, TZ_EPARSE, "sync: source delivered %llu of %llu leaves",
                     (unsigned long long)p->delivered,
                     (unsigned long long)(p->cfg.end - p->cfg.start));
        fail_locked(p, TZ_EPARSE, &e);
    }
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void *worker_main(void *arg)
{
    tz_pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->cancelled && !p->wq_head && !p->fetch_done)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->cancelled || !p->wq_head)
            break;
        leaf *l = p->wq_head;
        p->wq_head = l->next;
        if (!p->wq_head)
            p->wq_tail = NULL;
        l->next = NULL;
        l->state = LEAF_BUSY;
        pthread_mutex_unlock(&p->mu);

        if (l->decoded && p->cfg.trial) {
            memset(l->hit, 0, p->cfg.hit_bytes);
            l->mine = p->cfg.trial(p->cfg.trial_ctx, l->index, &l->pn, l->hit);
        } else if (l->decoded) {
            size_t which = 0;
            if (tz_note_trial(p->cfg.receivers, p->cfg.n_receivers, &l->pn, &which,
                              &l->plain) == TZ_OK) {
                l->mine = true;
                l->which = which;
            }
        }

        pthread_mutex_lock(&p->mu);
        l->state = LEAF_DONE;
        if (l->index == p->base)
            pthread_cond_signal(&p->ready);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tz_status tz_pipeline_start(const tz_pipeline_cfg *cfg, tz_pipeline **out, tz_error *err)
{
    if (!cfg || !out || !cfg->source || cfg->start > cfg->end || cfg->threads == 0 ||
        cfg->window == 0 || (cfg->n_receivers && !cfg->receivers) ||
        cfg->hit_bytes > TZ_PIPELINE_MAX_HIT || (cfg->hit_bytes && !cfg->trial))
        return tz_error_set(err, TZ_EINVAL, "sync pipeline: invalid configuration");
    tz_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return tz_error_set(err, TZ_ENOMEM, "sync pipeline: out of memory");
    p->cfg = *cfg;
    p->base = cfg->start;
    p->cap = 64;
    while (p->cap < 2 * cfg->window)
        p->cap *= 2;
    p->ring = calloc(p->cap, sizeof *p->ring);
    p->workers = calloc(cfg->threads, sizeof *p->workers);
    p->hit_out = calloc(1, cfg->hit_bytes ? cfg->hit_bytes : 1);
    if (!p->ring || !p->workers || !p->hit_out) {
        free(p->ring);
        free(p->workers);
        free(p->hit_out);
        free(p);
        return tz_error_set(err, TZ_ENOMEM, "sync pipeline: out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->ready, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&p->space, NULL);
    pthread_cond_init(&p->work, NULL);

    if (cfg->start == cfg->end) {
        p->fetch_done = true;
        *out = p;
        return TZ_OK;
    }
    int rc = 0;
    for (unsigned i = 0; i < cfg->threads; i++) {
        rc = pthread_create(&p->workers[i], NULL, worker_main, p);
        if (rc)
            break;
        p->n_workers++;
    }
    if (!rc) {
        rc = pthread_create(&p->fetcher, NULL, fetcher_main, p);
        p->fetcher_started = rc == 0;
    }
    if (rc) {
        tz_pipeline_free(p);
        return tz_error_set(err, TZ_EIO, "sync pipeline: cannot start a thread: %s",
                            strerror(rc));
    }
    *out = p;
    return TZ_OK;
}

tz_status tz_pipeline_next(tz_pipeline *p, unsigned timeout_ms, tz_leaf_result *out,
                           bool *got, tz_error *err)
{
    /* a timespec on the ready condition's clock (CLOCK_MONOTONIC, set at
     * init), as pthread_cond_timedwait wants it: not base/clock.h's */
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    *got = false;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->fail != TZ_OK && !p->draining) {
            tz_status st = p->fail;
            if (err)
                *err = p->fail_err;
            pthread_mutex_unlock(&p->mu);
            return st;
        }
        if (p->base >= p->cfg.end) {
            pthread_mutex_unlock(&p->mu);
            return TZ_OK;
        }
        leaf *l = p->ring[p->base & (p->cap - 1)];
        if (l && l->state == LEAF_DONE) {
            p->ring[p->base & (p->cap - 1)] = NULL;
            p->base++;
            p->held--;
            pthread_cond_signal(&p->space);
            if (!l->decoded) {
                tz_error e;
                tz_error_set(&e, TZ_EPARSE,
                             "leaf %llu: the chain's note is not a PublishedNote "
                             "(%zu bytes, expected %u with a tag below 1024)",
                             (unsigned long long)l->index, l->raw_len,
                             (unsigned)TZ_PUBLISHED_NOTE_BYTES);
                leaf_release(p, l);
                p->draining = false;
                p->fail = TZ_OK;
                fail_locked(p, TZ_EPARSE, &e);
                continue;
            }
            out->index = l->index;
            out->cm = l->pn.cm;
            out->mine = l->mine;
            out->which = l->which;
            if (l->mine)
                out->plain = l->plain;
            else
                memset(&out->plain, 0, sizeof out->plain);
            out->hit = NULL;
            if (l->mine && p->cfg.trial) {
                memcpy(p->hit_out, l->hit, p->cfg.hit_bytes);
                out->hit = p->hit_out;
            }
            leaf_release(p, l);
            *got = true;
            pthread_mutex_unlock(&p->mu);
            return TZ_OK;
        }
        if (p->draining && (!l || p->cancelled)) {
            /* the prefix the source delivered is handed out */
            p->draining = false;
            continue;
        }
        if (p->cancelled) {
            pthread_mutex_unlock(&p->mu);
            return tz_error_set(err, TZ_ECANCEL, "sync: cancelled");
        }
        if (timeout_ms == 0 ||
            pthread_cond_timedwait(&p->ready, &p->mu, &dl) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            return TZ_OK;
        }
    }
}

bool tz_pipeline_done(const tz_pipeline *p)
{
    tz_pipeline *q = (tz_pipeline *)p;
    pthread_mutex_lock(&q->mu);
    bool d = q->base >= q->cfg.end;
    pthread_mutex_unlock(&q->mu);
    return d;
}

size_t tz_pipeline_peak_held(const tz_pipeline *p)
{
    tz_pipeline *q = (tz_pipeline *)p;
    pthread_mutex_lock(&q->mu);
    size_t v = q->peak;
    pthread_mutex_unlock(&q->mu);
    return v;
}

void tz_pipeline_cancel(tz_pipeline *p)
{
    if (!p)
        return;
    if (p->cfg.cancel_flag)
        __atomic_store_n(p->cfg.cancel_flag, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&p->mu);
    p->cancelled = true;
    pthread_cond_broadcast(&p->space);
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->mu);
}

void tz_pipeline_free(tz_pipeline *p)
{
    if (!p)
        return;
    tz_pipeline_cancel(p);
    if (p->fetcher_started)
        pthread_join(p->fetcher, NULL);
    for (unsigned i = 0; i < p->n_workers; i++)
        pthread_join(p->workers[i], NULL);
    for (size_t k = 0; k < p->cap; k++) {
        if (p->ring[k]) {
            sodium_memzero(&p->ring[k]->plain, sizeof p->ring[k]->plain);
            sodium_memzero(p->ring[k]->hit, p->cfg.hit_bytes);
            free(p->ring[k]);
        }
    }
    while (p->free_list) {
        leaf *l = p->free_list;
        p->free_list = l->next;
        free(l);
    }
    free(p->ring);
    free(p->workers);
    sodium_memzero(p->hit_out, p->cfg.hit_bytes);
    free(p->hit_out);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->space);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->ready);
    free(p);
}

tz_status tz_pipeline_rpc_source(void *src, uint64_t start, uint64_t end, tz_rpc_note_cb cb,
                                 void *cb_ctx, tz_error *err)
{
    tz_rpc_source *s = src;
    return tz_rpc_fetch_notes(s->rpc, s->block, start, end, cb, cb_ctx, err);
}
