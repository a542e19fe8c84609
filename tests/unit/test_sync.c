/* Sync engine pieces that need no rollup node: tunables (K, concurrency,
 * threads; flag > env > default; stable refusals; saturating cursor), and
 * the pipeline against an in-process leaf source delivering real notes out
 * of order: results in leaf order, the same with 1 and 4 workers, memory
 * bounded by the window, errors surfacing at once, malformed leaves
 * refused in turn, cancellation. Finalize against a tiny in-process
 * durable-state server: the reference's pending spend, pool pruning and
 * `Synced:` pool figure rules. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/keys.h"
#include "core/note.h"
#include "core/wire.h"
#include "core/commit.h"
#include "store/wallet.h"
#include "sync/finalize.h"
#include "sync/state.h"
#include "sync/pipeline.h"
#include "sync/sync.h"
#include "tz_test.h"

/* ---- tunables ------------------------------------------------------------ */

static void test_config(void)
{
    tz_sync_config c;
    tz_error e = {0};
    unsetenv("TZEL_SYNC_CHECKPOINT_EVERY");
    unsetenv("TZEL_SYNC_CONCURRENCY");
    unsetenv("TZEL_SYNC_THREADS");

    unsetenv("TZEL_SYNC_MAX_CONCURRENCY");
    /* the default is adaptive, up to 64 in flight (issue 12; it was 4) */
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, NULL, &c, &e) == TZ_OK);
    CHECK(c.checkpoint_every == 250 && c.auto_concurrency && c.concurrency == 64 &&
          c.threads >= 1);
    CHECK(!c.warn_concurrency);

    memset(&c, 0x5a, sizeof c);
    tz_sync_config before = c;
    CHECK(tz_sync_config_resolve("0", NULL, NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK_MSG(!strcmp(e.msg, "--checkpoint-every must be a positive integer (got \"0\")"), "%s",
              e.msg);
    CHECK(!memcmp(&c, &before, sizeof c)); /* untouched on failure */
    CHECK(tz_sync_config_resolve("ten", NULL, NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK(strstr(e.msg, "--checkpoint-every must be a positive integer") != NULL);
    CHECK(tz_sync_config_resolve("-5", NULL, NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK(tz_sync_config_resolve("7x", NULL, NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK(tz_sync_config_resolve("", NULL, NULL, NULL, &c, &e) == TZ_EINVAL);

    CHECK(tz_sync_config_resolve("7", NULL, NULL, NULL, &c, &e) == TZ_OK && c.checkpoint_every == 7);
    /* Far above u64: refused with the stable message (it used to be
     * clamped silently to 2^64 - 1); 2^64 - 1 itself is one big batch. */
    CHECK(tz_sync_config_resolve("99999999999999999999999", NULL, NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK_MSG(strstr(e.msg, "--checkpoint-every must be a positive integer (got "
                            "\"99999999999999999999999\")") != NULL, "%s", e.msg);
    CHECK(tz_sync_config_resolve("18446744073709551615", NULL, NULL, NULL, &c, &e) == TZ_OK);
    CHECK(c.checkpoint_every == UINT64_MAX);

    setenv("TZEL_SYNC_CHECKPOINT_EVERY", "0", 1);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK_MSG(!strcmp(e.msg, "TZEL_SYNC_CHECKPOINT_EVERY must be a positive integer (got \"0\")"),
              "%s", e.msg);
    CHECK(tz_sync_config_resolve("11", NULL, NULL, NULL, &c, &e) == TZ_OK && c.checkpoint_every == 11);
    setenv("TZEL_SYNC_CHECKPOINT_EVERY", "33", 1);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, NULL, &c, &e) == TZ_OK && c.checkpoint_every == 33);
    unsetenv("TZEL_SYNC_CHECKPOINT_EVERY");

    CHECK(tz_sync_config_resolve(NULL, "0", NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK(tz_sync_config_resolve(NULL, "129", NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK(strstr(e.msg, "128") != NULL);
    CHECK(tz_sync_config_resolve(NULL, "128", NULL, NULL, &c, &e) == TZ_OK && c.concurrency == 128);
    CHECK(c.warn_concurrency);
    CHECK(tz_sync_config_resolve(NULL, "96", NULL, NULL, &c, &e) == TZ_OK && !c.warn_concurrency);
    CHECK(tz_sync_config_resolve(NULL, "97", NULL, NULL, &c, &e) == TZ_OK && c.warn_concurrency);
    setenv("TZEL_SYNC_CONCURRENCY", "200", 1);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK(strstr(e.msg, "TZEL_SYNC_CONCURRENCY") != NULL);
    CHECK(tz_sync_config_resolve(NULL, "16", NULL, NULL, &c, &e) == TZ_OK && c.concurrency == 16);
    unsetenv("TZEL_SYNC_CONCURRENCY");

    /* auto, flag or environment, any case; a number pins it */
    CHECK(tz_sync_config_resolve(NULL, "auto", NULL, NULL, &c, &e) == TZ_OK && c.auto_concurrency &&
          c.concurrency == 64);
    CHECK(tz_sync_config_resolve(NULL, "8", NULL, NULL, &c, &e) == TZ_OK && !c.auto_concurrency &&
          c.concurrency == 8);
    CHECK(tz_sync_config_resolve(NULL, "autox", NULL, NULL, &c, &e) == TZ_EINVAL);
    CHECK_MSG(strstr(e.msg, "--concurrency must be a positive integer or \"auto\" (got \"autox\")") != NULL, "%s",
              e.msg);
    setenv("TZEL_SYNC_CONCURRENCY", "AUTO", 1);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, NULL, &c, &e) == TZ_OK && c.auto_concurrency);
    CHECK(tz_sync_config_resolve(NULL, "3", NULL, NULL, &c, &e) == TZ_OK && c.concurrency == 3);
    unsetenv("TZEL_SYNC_CONCURRENCY");
    /* --max-concurrency: auto's ceiling, 1..128, ignored when pinned */
    CHECK(tz_sync_config_resolve(NULL, NULL, "24", NULL, &c, &e) == TZ_OK && c.auto_concurrency &&
          c.concurrency == 24);
    CHECK(tz_sync_config_resolve(NULL, "5", "24", NULL, &c, &e) == TZ_OK && c.concurrency == 5);
    CHECK(tz_sync_config_resolve(NULL, NULL, "129", NULL, &c, &e) == TZ_EINVAL);
    CHECK(strstr(e.msg, "--max-concurrency is 129") != NULL);
    CHECK(tz_sync_config_resolve(NULL, NULL, "0", NULL, &c, &e) == TZ_EINVAL);
    setenv("TZEL_SYNC_MAX_CONCURRENCY", "100", 1);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, NULL, &c, &e) == TZ_OK && c.concurrency == 100 &&
          c.warn_concurrency);
    unsetenv("TZEL_SYNC_MAX_CONCURRENCY");

    setenv("TZEL_SYNC_THREADS", "3", 1);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, NULL, &c, &e) == TZ_OK && c.threads == 3);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, "1", &c, &e) == TZ_OK && c.threads == 1);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, "0", &c, &e) == TZ_EINVAL);
    CHECK(tz_sync_config_resolve(NULL, NULL, NULL, "100000", &c, &e) == TZ_EINVAL);
    unsetenv("TZEL_SYNC_THREADS");

    CHECK(tz_sync_batch_end(0, 250, 1000) == 250);
    CHECK(tz_sync_batch_end(900, 250, 1000) == 1000);
    CHECK(tz_sync_batch_end(10, UINT64_MAX, 1000) == 1000);
    CHECK(tz_sync_batch_end(UINT64_MAX - 1, 5, UINT64_MAX) == UINT64_MAX);
    CHECK(tz_sync_batch_end(5, UINT64_MAX - 2, UINT64_MAX) == UINT64_MAX);
}

/* ---- an in-process chain ------------------------------------------------- */

#define N_LEAVES 160

typedef struct chain {
    uint8_t (*bytes)[TZ_PUBLISHED_NOTE_BYTES];
    tz_felt cm[N_LEAVES];
    bool mine[N_LEAVES];
    size_t which[N_LEAVES];
    uint64_t value[N_LEAVES];
} chain;

typedef struct fake_src {
    const chain *ch;
    unsigned shuffle;        /* permute within blocks of this size */
    int64_t fail_at;         /* return TZ_EHTTP on reaching this index, -1 never */
    int64_t bad_at;          /* deliver a truncated note here, -1 never */
    unsigned delay_us;       /* per note */
    uint64_t delivered;
    volatile int *cancel;
} fake_src;

static tz_status fake_fetch(void *src, uint64_t start, uint64_t end, tz_rpc_note_cb cb,
                            void *cb_ctx, tz_error *err)
{
    fake_src *s = src;
    unsigned blk = s->shuffle ? s->shuffle : 1;
    uint64_t order[64];
    for (uint64_t b = start; b < end; b += blk) {
        uint64_t n = end - b < blk ? end - b : blk;
        for (uint64_t i = 0; i < n; i++)
            order[i] = b + i;
        for (uint64_t i = n; i > 1; i--) { /* reverse-ish deterministic shuffle */
            uint64_t j = (i * 7 + b) % i;
            uint64_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t idx = order[i];
            if (s->cancel && *s->cancel)
                return tz_error_set(err, TZ_ECANCEL, "cancelled");
            if ((int64_t)idx == s->fail_at)
                return tz_error_set(err, TZ_EHTTP, "GET http://fake/notes/%llu: HTTP 503",
                                    (unsigned long long)idx);
            if (s->delay_us) {
                struct timespec ts = {0, (long)s->delay_us * 1000};
                nanosleep(&ts, NULL);
            }
            size_t len = (int64_t)idx == s->bad_at ? 100 : TZ_PUBLISHED_NOTE_BYTES;
            if (cb(cb_ctx, idx, s->ch->bytes[idx], len))
                return tz_error_set(err, TZ_ECANCEL, "stopped by callback");
            s->delivered++;
        }
    }
    return TZ_OK;
}

static void make_chain(chain *ch, tz_note_receiver *rs, size_t n_rs, tz_note_receiver *other)
{
    ch->bytes = malloc(N_LEAVES * sizeof *ch->bytes);
    tz_payment_address *pa = malloc(sizeof *pa);
    for (size_t i = 0; i < N_LEAVES; i++) {
        const tz_note_receiver *to = other;
        ch->mine[i] = (i % 9 == 4) || i == 0 || i == N_LEAVES - 1;
        ch->which[i] = i % n_rs;
        if (ch->mine[i])
            to = &rs[ch->which[i]];
        tz_note_receiver_address(to, pa);
        tz_published_note pn;
        tz_felt rseed;
        uint8_t cd[32], cv[32];
        randombytes_buf(rseed.b, 32);
        tz_felt_truncate(&rseed);
        randombytes_buf(cd, 32);
        randombytes_buf(cv, 32);
        ch->value[i] = 1000 + i;
        if (tz_note_encrypt(&pn.enc, &pn.cm, pa, ch->value[i], &rseed, NULL, cd, cv, NULL) ||
            tz_wire_encode_published_note(ch->bytes[i], &pn)) {
            fprintf(stderr, "cannot build the test chain\n");
            exit(2);
        }
        ch->cm[i] = pn.cm;
    }
    free(pa);
}

typedef struct collected {
    uint64_t n;
    bool in_order;
    uint64_t n_mine;
    bool mine_ok;
} collected;

static tz_status drain(tz_pipeline *p, const chain *ch, uint64_t start, collected *c,
                       tz_error *err)
{
    c->n = 0;
    c->in_order = true;
    c->n_mine = 0;
    c->mine_ok = true;
    for (;;) {
        tz_leaf_result l;
        bool got = false;
        tz_status st = tz_pipeline_next(p, 50, &l, &got, err);
        if (st)
            return st;
        if (!got) {
            if (tz_pipeline_done(p))
                return TZ_OK;
            continue;
        }
        if (l.index != start + c->n)
            c->in_order = false;
        if (!tz_felt_eq(&l.cm, &ch->cm[l.index]))
            c->in_order = false;
        if (l.mine != ch->mine[l.index])
            c->mine_ok = false;
        if (l.mine) {
            c->n_mine++;
            if (l.which != ch->which[l.index] || l.plain.v != ch->value[l.index])
                c->mine_ok = false;
        }
        sodium_memzero(&l.plain, sizeof l.plain);
        c->n++;
    }
}

/* A pluggable trial: every third leaf is "of interest", its hit carries
 * the index and the cm's first byte, so the merger can check that each
 * hit arrives with its own leaf. */
typedef struct trial_hit {
    uint64_t index;
    uint8_t cm0;
    uint8_t pad[300];
} trial_hit;

static bool every_third(void *ctx, uint64_t index, const tz_published_note *pn, void *hit)
{
    (*(int *)ctx)++; /* one worker in this test: counts the trials */
    trial_hit *h = hit;
    if (index % 3)
        return false;
    h->index = index;
    h->cm0 = pn->cm.b[0];
    memset(h->pad, 0xab, sizeof h->pad);
    return true;
}

static void test_pipeline_trial(const chain *ch)
{
    int calls = 0;
    volatile int cancel = 0;
    fake_src s = {.ch = ch, .shuffle = 16, .fail_at = -1, .bad_at = -1, .cancel = &cancel};
    tz_pipeline_cfg pc = {.source = fake_fetch, .source_ctx = &s, .start = 0, .end = N_LEAVES,
                          .trial = every_third, .trial_ctx = &calls,
                          .hit_bytes = sizeof(trial_hit), .threads = 1, .window = 8,
                          .cancel_flag = &cancel};
    tz_pipeline *p = NULL;
    tz_error e = {0};
    CHECK(tz_pipeline_start(&pc, &p, &e) == TZ_OK);
    uint64_t n = 0, hits = 0;
    bool ok = true;
    for (;;) {
        tz_leaf_result l;
        bool got = false;
        if (tz_pipeline_next(p, 50, &l, &got, &e) != TZ_OK) {
            ok = false;
            break;
        }
        if (!got) {
            if (tz_pipeline_done(p))
                break;
            continue;
        }
        const trial_hit *h = l.hit;
        if (l.index != n || l.mine != (l.index % 3 == 0) || (l.mine && !h) || (!l.mine && h))
            ok = false;
        if (l.mine && (h->index != l.index || h->cm0 != l.cm.b[0] || h->pad[299] != 0xab))
            ok = false;
        hits += l.mine;
        n++;
    }
    CHECK(ok && n == N_LEAVES && hits == (N_LEAVES + 2) / 3);
    CHECK(calls == N_LEAVES); /* one worker: every leaf tried once */
    tz_pipeline_free(p);
    /* a hit size without a trial is refused */
    pc.trial = NULL;
    CHECK(tz_pipeline_start(&pc, &p, &e) == TZ_EINVAL);
}

static void test_pipeline(const chain *ch, tz_note_receiver *rs, size_t n_rs)
{
    uint64_t expect_mine = 0;
    for (size_t i = 0; i < N_LEAVES; i++)
        expect_mine += ch->mine[i];

    /* Out-of-order delivery, 1 and 4 workers, small windows: every leaf
     * once, in order, the same notes found. */
    unsigned threads[] = {1, 4};
    for (size_t t = 0; t < 2; t++) {
        volatile int cancel = 0;
        fake_src s = {.ch = ch, .shuffle = 16, .fail_at = -1, .bad_at = -1, .cancel = &cancel};
        tz_pipeline_cfg pc = {.source = fake_fetch, .source_ctx = &s, .start = 0,
                              .end = N_LEAVES, .receivers = rs, .n_receivers = n_rs,
                              .threads = threads[t], .window = 8, .cancel_flag = &cancel};
        tz_pipeline *p = NULL;
        tz_error e = {0};
        CHECK(tz_pipeline_start(&pc, &p, &e) == TZ_OK);
        collected c;
        CHECK_MSG(drain(p, ch, 0, &c, &e) == TZ_OK, "%s", e.msg);
        CHECK(c.n == N_LEAVES && c.in_order);
        CHECK(c.mine_ok && c.n_mine == expect_mine);
        /* window 8 plus at most one shuffle block out of order */
        CHECK_MSG(tz_pipeline_peak_held(p) <= 8 + 16, "peak %zu", tz_pipeline_peak_held(p));
        tz_pipeline_free(p);
    }

    /* A sub-range. */
    {
        fake_src s = {.ch = ch, .shuffle = 4, .fail_at = -1, .bad_at = -1};
        tz_pipeline_cfg pc = {.source = fake_fetch, .source_ctx = &s, .start = 37, .end = 90,
                              .receivers = rs, .n_receivers = n_rs, .threads = 2,
                              .window = 32};
        tz_pipeline *p = NULL;
        tz_error e = {0};
        CHECK(tz_pipeline_start(&pc, &p, &e) == TZ_OK);
        collected c;
        CHECK(drain(p, ch, 37, &c, &e) == TZ_OK);
        CHECK(c.n == 53 && c.in_order && c.mine_ok);
        tz_pipeline_free(p);
    }

    /* An empty range finishes at once. */
    {
        fake_src s = {.ch = ch, .fail_at = -1, .bad_at = -1};
        tz_pipeline_cfg pc = {.source = fake_fetch, .source_ctx = &s, .start = 5, .end = 5,
                              .receivers = rs, .n_receivers = n_rs, .threads = 2, .window = 4};
        tz_pipeline *p = NULL;
        tz_error e = {0};
        CHECK(tz_pipeline_start(&pc, &p, &e) == TZ_OK);
        collected c;
        CHECK(drain(p, ch, 5, &c, &e) == TZ_OK && c.n == 0);
        tz_pipeline_free(p);
    }

    /* The source fails at leaf 100 (delivered in shuffled blocks of 8, so
     * some of 96..99 never come): the contiguous prefix it delivered is
     * handed out in order, then the error with its message. */
    {
        volatile int cancel = 0;
        fake_src s = {.ch = ch, .shuffle = 8, .fail_at = 100, .bad_at = -1, .cancel = &cancel};
        tz_pipeline_cfg pc = {.source = fake_fetch, .source_ctx = &s, .start = 0,
                              .end = N_LEAVES, .receivers = rs, .n_receivers = n_rs,
                              .threads = 2, .window = 64, .cancel_flag = &cancel};
        tz_pipeline *p = NULL;
        tz_error e = {0};
        CHECK(tz_pipeline_start(&pc, &p, &e) == TZ_OK);
        collected c;
        tz_status st = drain(p, ch, 0, &c, &e);
        CHECK(st == TZ_EHTTP);
        CHECK(strstr(e.msg, "503") != NULL && strstr(e.msg, "http://fake/notes/100") != NULL);
        CHECK_MSG(c.n <= 100 && c.n >= 96 && c.in_order, "%llu handed out",
                  (unsigned long long)c.n);
        CHECK(cancel == 1); /* the rpc client's flag was raised */
        CHECK(s.delivered < N_LEAVES);
        tz_pipeline_free(p);
    }

    /* A malformed leaf is refused when its turn comes, naming it. */
    {
        fake_src s = {.ch = ch, .shuffle = 1, .fail_at = -1, .bad_at = 42};
        tz_pipeline_cfg pc = {.source = fake_fetch, .source_ctx = &s, .start = 0,
                              .end = N_LEAVES, .receivers = rs, .n_receivers = n_rs,
                              .threads = 2, .window = 16};
        tz_pipeline *p = NULL;
        tz_error e = {0};
        CHECK(tz_pipeline_start(&pc, &p, &e) == TZ_OK);
        collected c;
        CHECK(drain(p, ch, 0, &c, &e) == TZ_EPARSE);
        CHECK(c.n == 42 && c.in_order);
        CHECK_MSG(strstr(e.msg, "leaf 42") != NULL, "%s", e.msg);
        tz_pipeline_free(p);
    }

    /* Cancel mid-stream with a slow source: next reports TZ_ECANCEL and
     * free returns promptly without the source finishing. */
    {
        volatile int cancel = 0;
        fake_src s = {.ch = ch, .shuffle = 1, .fail_at = -1, .bad_at = -1, .delay_us = 2000,
                      .cancel = &cancel};
        tz_pipeline_cfg pc = {.source = fake_fetch, .source_ctx = &s, .start = 0,
                              .end = N_LEAVES, .receivers = rs, .n_receivers = n_rs,
                              .threads = 2, .window = 16, .cancel_flag = &cancel};
        tz_pipeline *p = NULL;
        tz_error e = {0};
        CHECK(tz_pipeline_start(&pc, &p, &e) == TZ_OK);
        uint64_t got_n = 0;
        while (got_n < 5) {
            tz_leaf_result l;
            bool got = false;
            if (tz_pipeline_next(p, 100, &l, &got, &e) != TZ_OK)
                break;
            got_n += got;
        }
        CHECK(got_n == 5);
        tz_pipeline_cancel(p);
        tz_leaf_result l;
        bool got = true;
        tz_status st = tz_pipeline_next(p, 10, &l, &got, &e);
        /* leaves already finished may still come out; then the cancel */
        while (st == TZ_OK && got)
            st = tz_pipeline_next(p, 10, &l, &got, &e);
        CHECK(st == TZ_ECANCEL);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        tz_pipeline_free(p);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        CHECK_MSG(ms < 100, "free took %.1f ms", ms);
        CHECK(s.delivered < N_LEAVES);
    }
}


/* ---- finalize against a durable-state server ----------------------------- */

#define KV_MAX 32
typedef struct kv_srv {
    int lfd, port;
    pthread_t acceptor;
    const char *keys[KV_MAX], *vals[KV_MAX]; /* value: hex (maybe ""), absent -> null */
    size_t n;
    atomic_int balance_reads;
    const char *fail_part; /* a key containing this answers fail_status (NULL: none) */
    int fail_status;
} kv_srv;

typedef struct kv_conn {
    kv_srv *s;
    int fd;
} kv_conn;

static void *kv_conn_main(void *arg)
{
    kv_conn *c = arg;
    char buf[8192];
    size_t have = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            ssize_t r = have < sizeof buf ? recv(c->fd, buf + have, sizeof buf - have, 0) : -1;
            if (r <= 0)
                goto done;
            have += (size_t)r;
        }
        char path[4096] = "";
        sscanf(buf, "GET %4095s", path);
        const char *k = strstr(path, "?key=");
        const char *val = NULL;
        if (k) {
            k += 5;
            if (strstr(k, "deposits/balance/"))
                atomic_fetch_add(&c->s->balance_reads, 1);
            for (size_t i = 0; i < c->s->n; i++)
                if (!strcmp(c->s->keys[i], k))
                    val = c->s->vals[i];
        }
        char body[4200], resp[4400];
        int status = 200;
        if (k && c->s->fail_part && strstr(k, c->s->fail_part)) {
            status = c->s->fail_status;
            snprintf(body, sizeof body, "[{\"kind\":\"temporary\",\"msg\":\"injected\"}]");
        } else if (val) {
            snprintf(body, sizeof body, "\"%s\"", val);
        } else {
            snprintf(body, sizeof body, "null");
        }
        int len = snprintf(resp, sizeof resp,
                           "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                           "Content-Length: %zu\r\n\r\n%s",
                           status, strlen(body), body);
        if (send(c->fd, resp, (size_t)len, MSG_NOSIGNAL) != len)
            goto done;
        size_t used = (size_t)(end + 4 - buf);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
done:
    close(c->fd);
    free(c);
    return NULL;
}

static void *kv_accept_main(void *arg)
{
    kv_srv *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        kv_conn *c = malloc(sizeof *c);
        c->s = s;
        c->fd = fd;
        pthread_t t;
        if (pthread_create(&t, NULL, kv_conn_main, c)) {
            close(fd);
            free(c);
            continue;
        }
        pthread_detach(t);
    }
}

static void kv_start(kv_srv *s)
{
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) || listen(s->lfd, 64))
        abort();
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->acceptor, NULL, kv_accept_main, s);
}

static void kv_stop(kv_srv *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
}

static tz_felt felt_of(uint8_t b)
{
    tz_felt f;
    memset(f.b, b, sizeof f.b);
    f.b[31] = 0;
    return f;
}

static char g_keybuf[KV_MAX][160];
static char g_valbuf[KV_MAX][80];

static void kv_put(kv_srv *s, const char *key, const char *hexval)
{
    snprintf(g_keybuf[s->n], sizeof g_keybuf[0], "%s", key);
    snprintf(g_valbuf[s->n], sizeof g_valbuf[0], "%s", hexval);
    s->keys[s->n] = g_keybuf[s->n];
    s->vals[s->n] = g_valbuf[s->n];
    s->n++;
}

static void kv_put_pool(kv_srv *s, uint8_t b, const char *hexval)
{
    char key[160], hex[TZ_FELT_HEX + 1];
    tz_felt f = felt_of(b);
    tz_felt_to_hex(hex, &f);
    snprintf(key, sizeof key, TZ_STATE_PREFIX "deposits/balance/%s", hex);
    kv_put(s, key, hexval);
}

static void add_dep(tz_wallet *w, uint8_t pool, const tz_felt *cm)
{
    tz_pending_deposit d = {.pubkey_hash = felt_of(pool), .blind = felt_of(0x22),
                            .auth_domain = felt_of(0x33), .amount = 5000};
    if (cm) {
        d.has_shielded_cm = true;
        d.shielded_cm = *cm;
    }
    CHECK(tz_wallet_add_deposit(w, &d) == TZ_OK);
}

/* One finalize of a wallet with a note spent on chain, three pending
 * spends (empty, landed, not landed) and deposits on five pools. */
static void test_finalize_pools(void)
{
    kv_srv s = {0};
    tz_felt nk = felt_of(0x41), cm = felt_of(0x42), nf, unseen = felt_of(0x55);
    tz_note_nullifier(&nf, &nk, &cm, 5);
    char nfhex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(nfhex, &nf);
    kv_put(&s, TZ_STATE_PREFIX "nullifiers/index/0000000000000000", nfhex);
    kv_put_pool(&s, 0xa1, "581b000000000000");  /* 7000 */
    kv_put_pool(&s, 0xa3, "0000000000000000");  /* an entry reading 0 */
    kv_put_pool(&s, 0xa4, "");                  /* drained: empty value */
    kv_start(&s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    tz_error e = {0};
    tz_rpc *rpc = tz_rpc_new(url, 4, &e);
    CHECK(rpc != NULL);

    tz_felt sk = felt_of(0x11);
    tz_wallet *w = NULL;
    CHECK(tz_wallet_new("/nonexistent/w.json", &sk, &w, &e) == TZ_OK);
    tz_wallet_note n = {.nk_spend = nk, .cm = cm, .v = 100, .index = 5};
    CHECK(tz_wallet_add_note(w, &n) == TZ_OK);
    tz_felt other = felt_of(0x44);
    CHECK(tz_wallet_add_spend(w, NULL, 0, "empty", NULL) == TZ_OK);
    CHECK(tz_wallet_add_spend(w, &nf, 1, "landed", NULL) == TZ_OK);
    CHECK(tz_wallet_add_spend(w, &other, 1, "not landed", NULL) == TZ_OK);
    add_dep(w, 0xa1, NULL);    /* funded: kept, counted nowhere */
    add_dep(w, 0xa2, NULL);    /* absent, no cm: awaiting credit */
    add_dep(w, 0xa3, NULL);    /* an entry of 0, no cm: kept, counted nowhere */
    add_dep(w, 0xa4, &cm);     /* drained, cm of the note spent now: pruned */
    add_dep(w, 0xa1, NULL);    /* same pool as the first: read once, summed once */
    add_dep(w, 0xa5, &unseen); /* absent, cm never seen: drained pending scan */
    add_dep(w, 0xa3, &cm);     /* reads 0, cm seen: pruned */

    tz_finalize_in in = {.w = w, .rpc = rpc, .block = "BLtest", .have_root = true,
                         .have_nf_count = true, .nf_count = 1};
    tz_finalize_out o;
    CHECK(tz_sync_finalize(&in, &o, &e) == TZ_OK);
    CHECK_MSG(o.spent == 1 && w->n_notes == 0, "spent %llu", (unsigned long long)o.spent);
    CHECK_MSG(o.spends_dropped == 2 && w->n_spends == 1, "spends dropped %llu",
              (unsigned long long)o.spends_dropped);
    CHECK(w->n_spends == 1 && w->spends[0].n_nullifiers == 1 &&
          tz_felt_eq(&w->spends[0].nullifiers[0], &other));
    CHECK_MSG(o.deposits_pruned == 2 && w->n_deposits == 5, "pruned %llu",
              (unsigned long long)o.deposits_pruned);
    CHECK(o.pool_funded_total == 7000);
    CHECK_MSG(o.pools_awaiting_credit == 1 && o.pools_drained_pending_prune == 1,
              "awaiting %llu drained %llu", (unsigned long long)o.pools_awaiting_credit,
              (unsigned long long)o.pools_drained_pending_prune);
    CHECK_MSG(atomic_load(&s.balance_reads) == 5, "%d pool reads for 5 distinct pools",
              atomic_load(&s.balance_reads));
    CHECK(w->sync.nullifiers_checked == 1);
    tz_wallet_free(w);

    /* balance and check read the same pools with the same definition (the
     * reference's): an 8-byte 0 is an entry, so pool a3 counts as funded,
     * and a deposit is unfunded only when its pool has no entry. */
    CHECK(tz_wallet_new("/nonexistent/w.json", &sk, &w, &e) == TZ_OK);
    add_dep(w, 0xa1, NULL);
    add_dep(w, 0xa2, NULL);
    add_dep(w, 0xa3, NULL);
    add_dep(w, 0xa4, &cm);
    add_dep(w, 0xa1, NULL);
    add_dep(w, 0xa5, &unseen);
    add_dep(w, 0xa3, &cm);
    atomic_store(&s.balance_reads, 0);
    tz_pools pools;
    CHECK(tz_state_read_pools(rpc, "BLtest", w, &pools, &e) == TZ_OK);
    uint64_t awaiting = 9, drained = 9;
    tz_pools_unfunded(&pools, w, NULL, &awaiting, &drained);
    CHECK_MSG(pools.funded == 2 && pools.total == 7000 && awaiting == 1 && drained == 2,
              "funded %llu total %llu awaiting %llu drained %llu",
              (unsigned long long)pools.funded, (unsigned long long)pools.total,
              (unsigned long long)awaiting, (unsigned long long)drained);
    CHECK(pools.has_entry[2] && pools.balance[2] == 0 && tz_pools_drained(&pools, 2));
    CHECK(pools.has_entry[4] && pools.balance[4] == 7000 && !tz_pools_drained(&pools, 4));
    CHECK(!pools.has_entry[3] && tz_pools_drained(&pools, 3));
    CHECK(atomic_load(&s.balance_reads) == 5);
    tz_pools_free(&pools);
    tz_wallet_free(w);

    /* A pool value that is neither empty nor 8 bytes fails, naming it. */
    g_valbuf[1][8] = 0; /* pool a1 now holds 4 bytes */
    CHECK(tz_wallet_new("/nonexistent/w.json", &sk, &w, &e) == TZ_OK);
    add_dep(w, 0xa1, NULL);
    in.w = w;
    CHECK(tz_sync_finalize(&in, &o, &e) == TZ_EPARSE);
    char want[200], hex[TZ_FELT_HEX + 1];
    tz_felt a1 = felt_of(0xa1);
    tz_felt_to_hex(hex, &a1);
    snprintf(want, sizeof want, "deposit balance for pool %s has unexpected length 4", hex);
    CHECK_MSG(strstr(e.msg, want) != NULL, "message %s", e.msg);
    CHECK(w->n_deposits == 1);
    tz_wallet_free(w);
    tz_rpc_free(rpc);
    kv_stop(&s);
}

/* An HTTP error while finalizing (issue 5: any HTTP error fails the run
 * with the URL and status) fails it: the message names the key's URL and
 * the status, and the nullifier cursor does not advance, so the next run
 * reads the same nullifiers again. */
static void test_finalize_http_errors(void)
{
    kv_srv s = {0};
    tz_felt nk = felt_of(0x41), cm = felt_of(0x42), nf;
    tz_note_nullifier(&nf, &nk, &cm, 5);
    char nfhex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(nfhex, &nf);
    kv_put(&s, TZ_STATE_PREFIX "nullifiers/index/0000000000000000", nfhex);
    s.fail_status = 503;
    kv_start(&s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    tz_error e = {0};
    tz_rpc *rpc = tz_rpc_new(url, 4, &e);
    CHECK(rpc != NULL);
    tz_felt sk = felt_of(0x11);
    tz_wallet *w = NULL;
    tz_finalize_in in = {.rpc = rpc, .block = "BLtest", .have_root = true,
                         .have_nf_count = true, .nf_count = 1};
    tz_finalize_out o;

    /* the nullifier read fails */
    s.fail_part = "nullifiers/index/";
    CHECK(tz_wallet_new("/nonexistent/w.json", &sk, &w, &e) == TZ_OK);
    tz_wallet_note n = {.nk_spend = nk, .cm = cm, .v = 100, .index = 5};
    CHECK(tz_wallet_add_note(w, &n) == TZ_OK);
    in.w = w;
    CHECK(tz_sync_finalize(&in, &o, &e) == TZ_EHTTP);
    CHECK_MSG(strstr(e.msg, url) && strstr(e.msg, "nullifiers/index/0000000000000000") &&
                  strstr(e.msg, "HTTP 503"),
              "message %s", e.msg);
    CHECK(w->sync.nullifiers_checked == 0 && w->n_notes == 1 && o.spent == 0);
    tz_wallet_free(w);

    /* the pool read fails */
    s.fail_part = "deposits/balance/";
    CHECK(tz_wallet_new("/nonexistent/w.json", &sk, &w, &e) == TZ_OK);
    add_dep(w, 0xa4, NULL);
    in.w = w;
    CHECK(tz_sync_finalize(&in, &o, &e) == TZ_EHTTP);
    CHECK_MSG(strstr(e.msg, url) && strstr(e.msg, "deposits/balance/") &&
                  strstr(e.msg, "HTTP 503"),
              "message %s", e.msg);
    CHECK(w->n_deposits == 1 && o.deposits_pruned == 0);
    tz_wallet_free(w);
    tz_rpc_free(rpc);
    kv_stop(&s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 2;
    test_config();
    test_finalize_pools();
    test_finalize_http_errors();

    tz_felt sk, other_sk, auth_root;
    memset(&sk, 0x11, sizeof sk);
    memset(&other_sk, 0x22, sizeof other_sk);
    memset(&auth_root, 0x33, sizeof auth_root);
    tz_felt_truncate(&sk);
    tz_felt_truncate(&other_sk);
    tz_felt_truncate(&auth_root);
    tz_keys *keys = malloc(sizeof *keys);
    tz_note_receiver *rs = malloc(3 * sizeof *rs);
    tz_keys_derive(keys, &sk);
    for (uint32_t j = 0; j < 2; j++)
        if (tz_note_receiver_init(&rs[j], keys, j, &auth_root))
            return 2;
    tz_keys_derive(keys, &other_sk);
    if (tz_note_receiver_init(&rs[2], keys, 0, &auth_root))
        return 2;

    chain *ch = calloc(1, sizeof *ch);
    make_chain(ch, rs, 2, &rs[2]);
    test_pipeline(ch, rs, 2);
    test_pipeline_trial(ch);

    for (int j = 0; j < 3; j++)
        tz_note_receiver_wipe(&rs[j]);
    tz_keys_wipe(keys);
    free(keys);
    free(rs);
    free(ch->bytes);
    free(ch);
    return tz_test_done("sync");
}
