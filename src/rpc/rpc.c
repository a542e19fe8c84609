/* Rollup node client core: a libcurl multi handle driving a fixed pool of
 * easy handles, one per allowed in-flight request, and what every read
 * shares: URL checks, the one classifier of answers, body parsing and the
 * wording of errors.
 *
 * Every operation (reads.c, notes.c) is a small state machine plugged into
 * one event loop (tz_rpc_run): `next` hands out the next request to issue,
 * `done` consumes a finished transfer. On the first error or on
 * cancellation the loop removes every in-flight transfer at once (libcurl
 * closes their connections) and returns; nothing is awaited. Bodies go
 * into capped buffers (base/buf.h): a node cannot make us hold more than
 * TZ_RPC_BODY_MAX bytes per transfer. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "rpc/rpc_int.h"

#define KEY_MAX 400
/* A request on a new connection unanswered after this many of the lowest
 * round trips seen (or TZ_RPC_ACCEPT_WAIT_SECS, if longer) is taken as a
 * connection the node did not accept. */
#define ACCEPT_WAIT_RTTS 10
/* Bodies above this are not kept allocated between requests. */
#define BODY_KEEP (64u << 10)
#define POLL_MS 10
/* Between two curl_multi_perform calls the loop normally spends at most a
 * poll (POLL_MS) and the handling of what completed; a longer gap is a
 * stall of ours, and the answers read after it do not time the node. */
#define LOOP_STALL_SECS 0.025

/* ---- global init ------------------------------------------------------ */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc;
static void global_init(void) { g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

tz_status tz_rpc_global_init(tz_error *err)
{
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK)
        return tz_error_set(err, TZ_EHTTP, "curl_global_init: %s", curl_easy_strerror(g_init_rc));
    return TZ_OK;
}

/* ---- bodies ----------------------------------------------------------- */

size_t tz_rpc_on_body(char *data, size_t sz, size_t nmemb, void *userp)
{
    tz_buf *b = userp;
    size_t n = sz * nmemb;
    if (!tz_buf_append(b, data, n) || b->dropped)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    return n;
}

static void xfer_reset(tz_rpc_xfer *x)
{
    tz_buf_reset(&x->body, BODY_KEEP);
    x->http = 0;
    x->errbuf[0] = '\0';
    x->retry = false;
}

/* ---- client ----------------------------------------------------------- */

/* curl's socket callbacks: they count the connections open. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *a)
{
    (void)purpose;
    tz_rpc *c = clientp;
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd != CURL_SOCKET_BAD)
        c->sockets_open++;
    return fd;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    tz_rpc *c = clientp;
    if (c->sockets_open)
        c->sockets_open--;
    return close(fd);
}

/* libcurl's URL parser accepts the base (host present; no query or
 * fragment, which would swallow the paths appended to it). */
static bool url_well_formed(const char *base_url, size_t bl)
{
    char tmp[TZ_RPC_BASE_MAX];
    memcpy(tmp, base_url, bl);
    tmp[bl] = '\0';
    CURLU *u = curl_url();
    if (!u)
        return false;
    bool ok = curl_url_set(u, CURLUPART_URL, tmp, 0) == CURLUE_OK;
    char *part = NULL;
    if (ok && (curl_url_get(u, CURLUPART_HOST, &part, 0) != CURLUE_OK || !part || !*part))
        ok = false;
    curl_free(part);
    part = NULL;
    if (ok && curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK)
        ok = false;
    curl_free(part);
    part = NULL;
    if (ok && curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
        ok = false;
    curl_free(part);
    curl_url_cleanup(u);
    return ok;
}

tz_rpc *tz_rpc_new(const char *base_url, unsigned concurrency, tz_error *err)
{
    if (!base_url || concurrency < 1 || concurrency > TZ_RPC_MAX_CONCURRENCY) {
        tz_error_set(err, TZ_EINVAL, "rollup client: concurrency must be 1..%d",
                     TZ_RPC_MAX_CONCURRENCY);
        return NULL;
    }
    size_t bl = strlen(base_url);
    while (bl > 0 && base_url[bl - 1] == '/')
        bl--;
    if (bl == 0 || bl >= TZ_RPC_BASE_MAX ||
        (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)) {
        tz_error_set(err, TZ_EINVAL, "rollup node URL must be http(s)://host[:port], got '%s'",
                     base_url);
        return NULL;
    }
    if (!url_well_formed(base_url, bl)) {
        tz_error_set(err, TZ_EINVAL, "rollup node URL is malformed: '%s'", base_url);
        return NULL;
    }
    if (tz_rpc_global_init(err))
        return NULL;
    tz_rpc *c = calloc(1, sizeof *c);
    if (!c) {
        tz_error_set(err, TZ_ENOMEM, "rollup client: out of memory");
        return NULL;
    }
    memcpy(c->base, base_url, bl);
    c->base[bl] = '\0';
    c->conc = concurrency;
    c->limit_now = concurrency;
    c->use_values = true;
    c->values_state = TZ_RPC_VALUES_UNKNOWN;
    c->timeout_secs = TZ_RPC_TIMEOUT_DEFAULT;
    c->x = calloc(concurrency, sizeof *c->x);
    c->multi = curl_multi_init();
    if (!c->x || !c->multi)
        goto oom;
    long conc_l = (long)concurrency;
    if (curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING) ||
        curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc_l) ||
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conc_l) ||
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, conc_l)) {
        tz_error_set(err, TZ_EHTTP, "rollup client: curl_multi_setopt failed");
        tz_rpc_free(c);
        return NULL;
    }
    for (unsigned i = 0; i < concurrency; i++) {
        tz_rpc_xfer *x = &c->x[i];
        x->body.max = TZ_RPC_BODY_MAX;
        x->body.truncate = true;
        x->easy = curl_easy_init();
        if (!x->easy)
            goto oom;
        CURL *e = x->easy;
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, tz_rpc_on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &x->body);
        curl_easy_setopt(e, CURLOPT_PRIVATE, x);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TZ_RPC_BODY_MAX);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        /* a node that stalls for a minute is down, not slow */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "tzel-c");
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
    }
    return c;
oom:
    tz_error_set(err, TZ_ENOMEM, "rollup client: out of memory");
    tz_rpc_free(c);
    return NULL;
}

void tz_rpc_free(tz_rpc *c)
{
    if (!c)
        return;
    if (c->x) {
        for (unsigned i = 0; i < c->conc; i++) {
            tz_rpc_xfer *x = &c->x[i];
            if (x->easy) {
                if (x->busy && c->multi)
                    curl_multi_remove_handle(c->multi, x->easy);
                curl_easy_cleanup(x->easy);
            }
            tz_buf_free(&x->body);
        }
        free(c->x);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c);
}

void tz_rpc_set_cancel_flag(tz_rpc *c, volatile int *flag) { c->cancel = flag; }

void tz_rpc_set_use_values(tz_rpc *c, bool use) { c->use_values = use; }

void tz_rpc_set_timeout(tz_rpc *c, unsigned secs)
{
    c->timeout_secs = secs < 1 ? 1 : secs > TZ_RPC_TIMEOUT_MAX ? TZ_RPC_TIMEOUT_MAX : secs;
}

void tz_rpc_set_adaptive(tz_rpc *c, bool on)
{
    c->adaptive = on;
    if (on) {
        tz_limiter_cfg lc = {.max = c->conc};
        tz_limiter_init(&c->lim, &lc);
        c->conn_ceiling = 0;
        c->limit_now = tz_limiter_limit(&c->lim);
    } else {
        c->limit_now = c->conc;
    }
}

unsigned tz_rpc_inflight_limit(const tz_rpc *c) { return c->limit_now; }

void tz_rpc_get_stats(const tz_rpc *c, tz_rpc_stats *out)
{
    *out = c->stats;
    out->values_route = c->values_state;
}

/* ---- URLs ------------------------------------------------------------- */

bool tz_rpc_block_ok(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n >= TZ_BLOCK_HASH_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return false;
    }
    return true;
}

static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 2 || n > KEY_MAX || k[0] != '/' || k[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        if (ch == '/') {
            if (i > 0 && k[i - 1] == '/')
                return false;
            continue;
        }
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

tz_status tz_rpc_check_args(const char *block, const char *key, tz_error *err)
{
    if (!block || !tz_rpc_block_ok(block))
        return tz_error_set(err, TZ_EINVAL, "bad block reference '%s'", block ? block : "(null)");
    if (key && !key_ok(key))
        return tz_error_set(err, TZ_EINVAL, "bad durable key '%s'", key);
    return TZ_OK;
}

void tz_rpc_durable_url(const tz_rpc *c, char *out, const char *block, const char *route,
                        const char *key)
{
    snprintf(out, TZ_RPC_URL_MAX, "%s/global/block/%s/durable/wasm_2_0_0/%s?key=%s", c->base,
             block, route, key);
}

/* ---- event loop ------------------------------------------------------- */

static void account(tz_rpc *c, tz_rpc_xfer *x)
{
    long nc = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK && nc > 0)
        c->stats.connections += (uint64_t)nc;
    c->stats.requests++;
}

/* Removes every in-flight transfer without waiting for it. */
static void abandon_all(tz_rpc *c)
{
    for (unsigned i = 0; i < c->conc; i++) {
        tz_rpc_xfer *x = &c->x[i];
        x->retry = false;
        if (!x->busy)
            continue;
        account(c, x);
        curl_multi_remove_handle(c->multi, x->easy);
        x->busy = false;
        xfer_reset(x);
    }
}

static bool cancelled(const tz_rpc *c) { return c->cancel && *c->cancel; }

/* The error of a transfer curl could not complete. */
static tz_status transfer_error(const tz_rpc *c, const tz_rpc_xfer *x, CURLcode rc,
                                tz_error *err)
{
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return tz_error_set(err, TZ_EHTTP,
                            "GET %s: no complete answer within %u s (--rpc-timeout-secs): %s%s%s",
                            x->url, c->timeout_secs, curl_easy_strerror(rc),
                            x->errbuf[0] ? ": " : "", x->errbuf);
    if (x->body.dropped || rc == CURLE_FILESIZE_EXCEEDED) /* the node's answer is wrong */
        return tz_error_set(err, TZ_EPARSE,
                            "GET %s: response body exceeds %zu bytes (values above 4 MiB are "
                            "refused)",
                            x->url, (size_t)TZ_RPC_BODY_MAX);
    return tz_error_set(err, TZ_EHTTP, "GET %s: %s%s%s", x->url, curl_easy_strerror(rc),
                        x->errbuf[0] ? ": " : "", x->errbuf);
}

/* ---- adaptive concurrency -------------------------------------------- */

/* The in-flight limit: the limiter's, never above the connections the
 * node was seen to accept. */
static unsigned cap_now(const tz_rpc *c)
{
    unsigned l = c->adaptive ? tz_limiter_limit(&c->lim) : c->conc;
    return c->conn_ceiling && l > c->conn_ceiling ? c->conn_ceiling : l;
}

static void limiter_set(tz_rpc *c) { c->limit_now = cap_now(c); }

/* What a finished transfer tells the limiter: its latency (the request's
 * round trip to `done_at`, when curl saw it complete, connection setup
 * excluded), or a refusal. A latency is not a sample when the event loop
 * itself `stalled` before it read the answer (a callback blocked on a
 * full queue, or this process waited for a core): the answer may have
 * waited on us, not on the node. */
static void limiter_feed(tz_rpc *c, const tz_rpc_xfer *x, CURLcode rc, double done_at,
                         bool stalled)
{
    if (rc == CURLE_OK) {
        /* what the accept check needs, in both modes */
        long nc = 0;
        if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK && nc > 0)
            c->conns_answered += (uint64_t)nc;
        if (x->t_start > c->answered_issue_max)
            c->answered_issue_max = x->t_start;
    }
    if (!c->adaptive)
        return;
    switch (rc) {
    case CURLE_OK:
        break;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        tz_limiter_drop(&c->lim);
        limiter_set(c);
        return;
    default:
        return;
    }
    if (x->http == 429 || x->http == 503) {
        tz_limiter_drop(&c->lim);
        limiter_set(c);
        return;
    }
    /* from issue to completion, minus the connection's setup */
    curl_off_t conn = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &conn) != CURLE_OK)
        conn = 0;
    if (stalled)
        return;
    double rtt = done_at - x->t_start - (double)conn / 1e6;
    if (rtt <= 0)
        rtt = 1e-6;
    tz_limiter_sample(&c->lim, rtt);
    limiter_set(c);
}

/* The lowest round trip of an answered request (both modes). */
static void rtt_note(tz_rpc *c, const tz_rpc_xfer *x, CURLcode rc, double done_at)
{
    if (rc != CURLE_OK || x->http != 200)
        return;
    double rtt = done_at - x->t_start;
    if (rtt > 0 && (c->rtt_min == 0 || rtt < c->rtt_min))
        c->rtt_min = rtt;
}

/* Abandons every request that went out on a new connection and has had
 * no answer for the accept wait while a request issued after it was
 * answered: the node did not accept that connection (it waits in the
 * listen backlog, as Octez leaves connections beyond about 100), and
 * would never serve it while our other connections stay open. The
 * request is marked to be issued again, the limiter (when adaptive)
 * counts a drop, and the requests in flight are held, in both modes, to
 * the connections still open once those are closed (never above the
 * connections the node answered on). Returns the number abandoned. A
 * node that is only slow is not affected: no later request of ours
 * overtakes the waiting one. */
static unsigned abandon_unaccepted(tz_rpc *c)
{
    double wait = c->rtt_min * ACCEPT_WAIT_RTTS;
    if (wait < TZ_RPC_ACCEPT_WAIT_SECS)
        wait = TZ_RPC_ACCEPT_WAIT_SECS;
    double now = tz_mono_secs();
    unsigned n = 0;
    for (unsigned i = 0; i < c->conc; i++) {
        tz_rpc_xfer *x = &c->x[i];
        if (!x->busy || now - x->t_start < wait || c->answered_issue_max <= x->t_start)
            continue;
        /* on a new connection (or still connecting: the backlog is
         * full) and nothing of the answer yet */
        long nc = 0, code = 0;
        curl_off_t got = 0, sent_at = 0;
        if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nc) != CURLE_OK ||
            curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &sent_at) != CURLE_OK ||
            (nc < 1 && sent_at != 0) ||
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 0 ||
            curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &got) != CURLE_OK || got != 0)
            continue;
        account(c, x);
        curl_multi_remove_handle(c->multi, x->easy); /* closes the connection */
        x->busy = false;
        tz_buf_reset(&x->body, BODY_KEEP);
        x->retry = true;
        if (c->adaptive)
            tz_limiter_drop(&c->lim);
        n++;
    }
    if (n) {
        /* the node serves no more connections than it answered on */
        uint64_t held = c->sockets_open;
        if (held > c->conns_answered)
            held = c->conns_answered;
        if (held < 1)
            held = 1;
        if (!c->conn_ceiling || held < c->conn_ceiling)
            c->conn_ceiling = (unsigned)held;
        if (c->adaptive)
            tz_limiter_cap(&c->lim, c->conn_ceiling);
        limiter_set(c);
    }
    return n;
}

/* Issues x's request (x->url set): adds it to the multi handle. */
static tz_status issue(tz_rpc *c, tz_rpc_xfer *x, tz_error *err)
{
    double now = tz_mono_secs();
    if (!x->retry)
        x->t_first = now;
    /* what is left of the request's time (a re-issue does not restart it) */
    double left_ms = ((double)c->timeout_secs - (now - x->t_first)) * 1000.0;
    if (left_ms < 1.0)
        return tz_error_set(err, TZ_EHTTP,
                            "GET %s: no complete answer within %u s (--rpc-timeout-secs): the "
                            "node accepted no connection that answered",
                            x->url, c->timeout_secs);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)left_ms);
    curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
    CURLMcode mc = curl_multi_add_handle(c->multi, x->easy);
    if (mc != CURLM_OK)
        return tz_error_set(err, TZ_EHTTP, "GET %s: %s", x->url, curl_multi_strerror(mc));
    x->busy = true;
    x->retry = false;
    x->t_start = now;
    return TZ_OK;
}

tz_status tz_rpc_run(tz_rpc *c, const tz_rpc_op *o, tz_error *err)
{
    unsigned active = 0;
    double perf_end = 0; /* when the last curl_multi_perform returned */
    tz_status st = TZ_OK;
    for (;;) {
        if (cancelled(c)) {
            st = tz_error_set(err, TZ_ECANCEL, "rollup requests cancelled");
            goto fail;
        }
        unsigned cap = cap_now(c);
        /* requests to issue again first, then new ones */
        for (unsigned i = 0; i < c->conc && active < cap; i++) {
            tz_rpc_xfer *x = &c->x[i];
            if (x->busy || !x->retry)
                continue;
            if ((st = issue(c, x, err)))
                goto fail;
            active++;
        }
        for (unsigned i = 0; i < c->conc && active < cap; i++) {
            tz_rpc_xfer *x = &c->x[i];
            if (x->busy || x->retry)
                continue;
            xfer_reset(x);
            if (!o->next(o->ctx, c, x))
                break;
            if ((st = issue(c, x, err)))
                goto fail;
            active++;
        }
        if (active == 0)
            return TZ_OK;
        int running = 0;
        double perf_start = tz_mono_secs();
        bool stalled = perf_end > 0 && perf_start - perf_end > LOOP_STALL_SECS;
        CURLMcode mc = curl_multi_perform(c->multi, &running);
        perf_end = tz_mono_secs();
        if (mc != CURLM_OK) {
            st = tz_error_set(err, TZ_EHTTP, "rollup client: %s", curl_multi_strerror(mc));
            goto fail;
        }
        unsigned finished = 0;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            tz_rpc_xfer *x = (tz_rpc_xfer *)(void *)priv;
            CURLcode rc = m->data.result;
            account(c, x);
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->http);
            limiter_feed(c, x, rc, perf_end, stalled);
            rtt_note(c, x, rc, perf_end);
            curl_multi_remove_handle(c->multi, x->easy);
            x->busy = false;
            active--;
            finished++;
            c->stats.bytes += x->body.len;
            if (rc != CURLE_OK) {
                st = transfer_error(c, x, rc, err);
                goto fail;
            }
            st = o->done(o->ctx, c, x, err);
            if (st)
                goto fail;
            if (cancelled(c)) {
                st = tz_error_set(err, TZ_ECANCEL, "rollup requests cancelled");
                goto fail;
            }
        }
        active -= abandon_unaccepted(c);
        if (!finished && active > 0) {
            mc = curl_multi_poll(c->multi, NULL, 0, POLL_MS, NULL);
            if (mc != CURLM_OK) {
                st = tz_error_set(err, TZ_EHTTP, "rollup client: %s", curl_multi_strerror(mc));
                goto fail;
            }
        }
    }
fail:
    abandon_all(c);
    return st;
}

/* ---- answers ---------------------------------------------------------- */

static bool is_ws(char ch) { return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t'; }

/* The body without the JSON white space around it: [*p, *e). */
static void body_trimmed(const tz_rpc_xfer *x, const char **p, const char **e)
{
    const char *b = x->body.data ? x->body.data : "";
    *p = b;
    *e = b + x->body.len;
    while (*p < *e && is_ws(**p))
        (*p)++;
    while (*e > *p && is_ws((*e)[-1]))
        (*e)--;
}

/* Error for a status the operation does not expect. Appends a short,
 * printable excerpt of the body (the node's JSON error list). */
static tz_status http_error(const tz_rpc_xfer *x, tz_error *err)
{
    char snip[161];
    size_t n = 0;
    for (size_t i = 0; i < x->body.len && n < sizeof snip - 1; i++) {
        char ch = x->body.data[i];
        if (ch == '\n' || ch == '\r')
            ch = ' ';
        if ((unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e)
            ch = '?';
        snip[n++] = ch;
    }
    while (n > 0 && snip[n - 1] == ' ')
        n--;
    snip[n] = '\0';
    return tz_error_set(err, TZ_EHTTP, "GET %s: HTTP %ld%s%s", x->url, x->http, n ? ": " : "",
                        snip);
}

tz_status tz_rpc_classify(const tz_rpc_xfer *x, unsigned absent_if, bool *absent, tz_error *err)
{
    *absent = false;
    if (x->http == 404 && (absent_if & TZ_RPC_ABSENT_404)) {
        *absent = true;
        return TZ_OK;
    }
    if (x->http != 200)
        return http_error(x, err);
    if (absent_if & TZ_RPC_ABSENT_NULL) {
        const char *p, *e;
        body_trimmed(x, &p, &e);
        *absent = e - p == 4 && memcmp(p, "null", 4) == 0;
    }
    return TZ_OK;
}

const char *tz_rpc_absent_how(const tz_rpc_xfer *x)
{
    return x->http == 404 ? " (HTTP 404)" : "";
}

tz_status tz_rpc_absent_error(const tz_rpc_xfer *x, tz_error *err)
{
    return tz_error_set(err, TZ_ENOTFOUND, "GET %s: key absent%s", x->url, tz_rpc_absent_how(x));
}

tz_status tz_rpc_body_hex(const tz_rpc_xfer *x, const char **hex, size_t *hexlen, tz_error *err)
{
    const char *p, *e;
    body_trimmed(x, &p, &e);
    if (p == e)
        return tz_error_set(err, TZ_EPARSE, "GET %s: empty body", x->url);
    if (e - p >= 2 && *p == '"' && e[-1] == '"') {
        p++;
        e--;
    } else if (p < e && (*p == '"' || e[-1] == '"')) {
        return tz_error_set(err, TZ_EPARSE, "GET %s: malformed JSON string body", x->url);
    }
    if (e - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;
    for (const char *q = p; q < e; q++) {
        char ch = *q;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return tz_error_set(err, TZ_EPARSE, "GET %s: value is not hex (byte 0x%02x at %zu)",
                                x->url, (unsigned char)ch, (size_t)(q - x->body.data));
    }
    if ((e - p) % 2)
        return tz_error_set(err, TZ_EPARSE, "GET %s: value has an odd number of hex digits",
                            x->url);
    if ((size_t)(e - p) / 2 > TZ_RPC_MAX_VALUE)
        return tz_error_set(err, TZ_EPARSE, "GET %s: value of %zu bytes exceeds 4 MiB", x->url,
                            (size_t)(e - p) / 2);
    *hex = p;
    *hexlen = (size_t)(e - p);
    return TZ_OK;
}

tz_status tz_rpc_hex_dup(const char *hex, size_t hexlen, uint8_t **out, size_t *len,
                         const char *url, tz_error *err)
{
    uint8_t *b = malloc(hexlen / 2 + 1);
    if (!b)
        return tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", url);
    size_t n = 0;
    if (tz_hex_decode(b, hexlen / 2, &n, hex, hexlen) != TZ_OK) {
        free(b);
        return tz_error_set(err, TZ_EPARSE, "GET %s: malformed hex value", url);
    }
    *out = b;
    *len = n;
    return TZ_OK;
}

json_t *tz_rpc_body_json(const tz_rpc_xfer *x, tz_error *err, tz_status *st)
{
    json_error_t je;
    json_t *j = json_loadb(x->body.data ? x->body.data : "", x->body.len, JSON_DECODE_ANY, &je);
    if (!j)
        *st = tz_error_set(err, TZ_EPARSE, "GET %s: malformed JSON body: %s", x->url, je.text);
    else
        *st = TZ_OK;
    return j;
}
