/* The daemon's HTTP API and status page (http.h), served from one event
 * loop (libmicrohttpd's internal epoll thread). Nothing here waits: a
 * request is decided from its headers when it can be (tz_req_head), else
 * from its capped body (tz_req_decide); a read that needs a `tzel-wallet`
 * run suspends its connection and goes to a worker (offload.h); every
 * connection has an absolute deadline for its request (conns.h). */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/num.h"
#include "net/conns.h"
#include "fast.h"
#include "jobs.h"
#include "offload.h"
#include "request.h"
#include "status_page.h"

/* Per connection: libmicrohttpd's read buffer, headers and response
 * headers live in this much memory (larger headers are refused by it). */
#define CONNECTION_MEMORY (32u << 10)
/* Connections registered beyond this share of the limit evict the oldest
 * waiting one (conns.h), so the limit itself is never what refuses. */
#define EVICT_MARGIN 16

enum { QUEUE_BALANCE, QUEUE_ADDRESSES, QUEUES };

struct tz_http {
    struct MHD_Daemon *mhd;
    const tz_wd_config *cfg;
    tz_lanes *lanes;
    const char *token;
    tz_conns *conns;
    tz_offload *offload;
    atomic_bool quiesced;
    pthread_mutex_t log_mu;
    time_t log_second;
    unsigned long log_dropped;
};

/* Per request: the body gathered across calls, and the answer a worker
 * prepared while the connection was suspended. */
typedef struct request {
    tz_offload_item work; /* first: the worker hands it back */
    tz_http *h;
    struct MHD_Connection *conn;
    const char *fast;
    tz_buf body;
    bool ready;           /* a worker filled status and answer */
    unsigned status;
    json_t *answer;
} request;

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *text, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (strncmp(type, "text/html", 9) == 0) {
        /* The page loads nothing from elsewhere and talks only to us. */
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src "
                                "'unsafe-inline'; connect-src 'self'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    }
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"tzel-walletd\"");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends `body` (reference stolen) as JSON. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!s) {
        static const char nomem[] = "{\"error\":{\"code\":\"NOMEM\",\"message\":\"out of memory\"}}";
        return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", nomem,
                         sizeof nomem - 1);
    }
    enum MHD_Result ret = send_text(c, status, "application/json", s, strlen(s));
    free(s);
    return ret;
}

static json_t *error_json(const char *code, const char *message)
{
    return json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                  const char *message)
{
    return send_json(c, status, error_json(code, message));
}

static enum MHD_Result submit(tz_http *h, struct MHD_Connection *c, tz_job *job)
{
    if (!job)
        return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "NOMEM", "out of memory");
    if (atomic_load(&h->quiesced)) {
        tz_job_free(job);
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "STOPPING",
                          "the daemon is stopping and accepts no new jobs");
    }
    long id;
    tz_status st = tz_lanes_submit(h->lanes, job, &id);
    if (st == TZ_ECANCEL)
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "STOPPING",
                          "the daemon is stopping and accepts no new jobs");
    if (st)
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "BUSY",
                          "too many jobs are queued; wait for some to finish");
    return send_json(c, MHD_HTTP_ACCEPTED,
                     json_pack("{s:I, s:s}", "job", (json_int_t)id, "phase", "queued"));
}

/* The lanes' status plus the connections' counters. */
static json_t *status_json(tz_http *h)
{
    json_t *o = tz_lanes_status_json(h->lanes);
    tz_conns_stats s = tz_conns_get_stats(h->conns);
    if (o)
        json_object_set_new(o, "http",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "connections",
                                      (json_int_t)s.open, "accepted", (json_int_t)s.accepted,
                                      "timed_out", (json_int_t)s.timed_out, "evicted",
                                      (json_int_t)s.evicted, "max_connections",
                                      (json_int_t)h->cfg->max_connections));
    return o;
}

/* A worker's part of fast reads: one run for the whole batch (the same
 * subcommand), or 503 when stopping; then each connection goes back to
 * the event loop with its own copy of the answer. */
static void fast_run(tz_offload_item *first, bool cancelled)
{
    request *head = (request *)first;
    json_t *body = NULL;
    int status = MHD_HTTP_SERVICE_UNAVAILABLE;
    if (cancelled)
        body = error_json("STOPPING", "the daemon is stopping");
    else
        status = tz_fast_read(head->h->cfg, head->fast, &body);
    for (tz_offload_item *it = first, *next; it; it = next) {
        next = it->next;
        request *rq = (request *)it;
        rq->status = (unsigned)status;
        rq->answer = body ? json_deep_copy(body) : NULL;
        rq->ready = true;
        MHD_resume_connection(rq->conn);
    }
    json_decref(body);
}

/* A fast read: from the cache at once, else on a worker while the
 * connection is suspended (the event loop keeps serving the others). */
static enum MHD_Result fast(tz_http *h, struct MHD_Connection *c, request *rq, const char *sub)
{
    json_t *body = NULL;
    if (tz_fast_cached(h->cfg, sub, &body))
        return send_json(c, MHD_HTTP_OK, body);
    rq->fast = sub;
    rq->work.run = fast_run;
    MHD_suspend_connection(c);
    size_t q = strcmp(sub, "balance") == 0 ? QUEUE_BALANCE : QUEUE_ADDRESSES;
    if (tz_offload_post(h->offload, q, &rq->work) != TZ_OK) {
        rq->status = MHD_HTTP_SERVICE_UNAVAILABLE;
        rq->answer = error_json("STOPPING", "the daemon is stopping");
        rq->ready = true;
        MHD_resume_connection(c);
    }
    return MHD_YES;
}

/* Sends what tz_req_head or tz_req_decide decided. */
static enum MHD_Result answer(tz_http *h, struct MHD_Connection *c, request *rq, tz_req *d)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tz_conns_busy(h->conns, ci ? ci->socket_context : NULL);
    switch (d->action) {
    case TZ_REQ_PAGE:
        return send_text(c, MHD_HTTP_OK, "text/html; charset=utf-8", tz_status_page_html,
                         tz_status_page_len);
    case TZ_REQ_STATUS:
        return send_json(c, MHD_HTTP_OK, status_json(h));
    case TZ_REQ_FAST:
        return fast(h, c, rq, d->fast);
    case TZ_REQ_SUBMIT:
        return submit(h, c, d->job);
    case TZ_REQ_JOBS:
        return send_json(c, MHD_HTTP_OK, tz_lanes_jobs_json(h->lanes, 50));
    case TZ_REQ_JOB: {
        json_t *j = tz_lanes_job_json(h->lanes, d->job_id);
        if (!j)
            return send_error(c, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such job");
        return send_json(c, MHD_HTTP_OK, j);
    }
    case TZ_REQ_ERROR:
    default:
        return send_error(c, d->status, d->code, d->message);
    }
}

/* libmicrohttpd's unescape callback, doing nothing: no route or argument
 * of this API needs percent-decoding, and decoding would let "1%00abc"
 * reach a route as "1" (tz_parse_u64 then sees the raw text and refuses
 * it). Returns the length unchanged. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* The body the headers announce: *len its Content-Length, UINT64_MAX when
 * chunked (or unreadable, which libmicrohttpd refuses before us). */
static bool announced_body(struct MHD_Connection *c, uint64_t *len)
{
    *len = 0;
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        *len = UINT64_MAX;
        return true;
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl)
        return false;
    if (!tz_parse_u64(cl, UINT64_MAX, len))
        *len = UINT64_MAX;
    return *len > 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    (void)version;
    tz_http *h = cls;
    request *rq = *req_cls;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    tz_req d;
    if (!rq) {
        /* The headers are complete: decide now if they are enough, so a
         * refused body is never read. */
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        rq->h = h;
        rq->conn = c;
        rq->body.max = TZ_REQ_BODY_MAX;
        *req_cls = rq;
        uint64_t len;
        bool has_body = announced_body(c, &len);
        const char *type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (tz_req_head(method, url, auth, h->token, type, has_body, len, &d))
            return answer(h, c, rq, &d);
        return MHD_YES;
    }
    if (rq->ready) {
        json_t *body = rq->answer;
        rq->answer = NULL;
        rq->ready = false;
        return send_json(c, rq->status, body);
    }
    if (*upload_data_size) {
        /* Only a chunked body can grow past the cap (a Content-Length
         * above it was refused with 413): the connection is closed. */
        if (!tz_buf_append(&rq->body, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    tz_req_decide(method, url, auth, h->token, rq->body.data, rq->body.len, false, &d);
    return answer(h, c, rq, &d);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    tz_http *h = cls;
    request *rq = *req_cls;
    if (rq) {
        tz_buf_free(&rq->body);
        json_decref(rq->answer);
        free(rq);
        *req_cls = NULL;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tz_conns_wait(h->conns, ci ? ci->socket_context : NULL);
}

/* Connections opened and closed: their deadlines (conns.h). Called before
 * libmicrohttpd closes the socket. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    tz_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? tz_conns_add(h->conns, ci->connect_fd) : NULL;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        tz_conns_remove(h->conns, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd's messages on stderr, at most one a second: a crowd of
 * hostile clients must not turn into a flood of log lines. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
    tz_http *h = cls;
    time_t now = time(NULL);
    pthread_mutex_lock(&h->log_mu);
    if (now == h->log_second) {
        h->log_dropped++;
        pthread_mutex_unlock(&h->log_mu);
        return;
    }
    unsigned long dropped = h->log_dropped;
    h->log_second = now;
    h->log_dropped = 0;
    pthread_mutex_unlock(&h->log_mu);
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    if (dropped)
        fprintf(stderr, "tzel-walletd: http: %s (%lu similar messages not shown)\n", line,
                dropped);
    else
        fprintf(stderr, "tzel-walletd: http: %s\n", line);
}

tz_status tz_http_start(const tz_wd_config *cfg, tz_lanes *lanes,
                        const char token[TZ_TOKEN_HEX_LEN + 1], const struct sockaddr *addr,
                        tz_http **out, uint16_t *port, tz_error *err)
{
    tz_http *h = calloc(1, sizeof *h);
    if (!h)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    h->cfg = cfg;
    h->lanes = lanes;
    h->token = token;
    atomic_init(&h->quiesced, false);
    pthread_mutex_init(&h->log_mu, NULL);
    unsigned limit = cfg->max_connections ? cfg->max_connections : 64;
    unsigned timeout = cfg->request_timeout_secs > 0 ? (unsigned)cfg->request_timeout_secs : 10;
    tz_status st = tz_conns_start((int64_t)timeout * 1000,
                                  limit > 2 * EVICT_MARGIN ? limit - EVICT_MARGIN : limit,
                                  &h->conns, err);
    if (st == TZ_OK)
        st = tz_offload_start(QUEUES, &h->offload, err);
    if (st != TZ_OK) {
        tz_conns_stop(h->conns);
        pthread_mutex_destroy(&h->log_mu);
        free(h);
        return st;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    h->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
        MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
        MHD_OPTION_END);
    if (!h->mhd) {
        int e = errno;
        tz_offload_stop(h->offload);
        tz_conns_stop(h->conns);
        pthread_mutex_destroy(&h->log_mu);
        free(h);
        return tz_error_set(err, TZ_EIO, "cannot listen on the requested address: %s",
                            e ? strerror(e) : "libmicrohttpd refused it");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : 0;
    *out = h;
    return TZ_OK;
}

void tz_http_quiesce(tz_http *h)
{
    if (h)
        atomic_store(&h->quiesced, true);
}

void tz_http_stop(tz_http *h)
{
    if (!h)
        return;
    /* Every suspended connection is resumed (answered or with 503) before
     * the server stops: libmicrohttpd requires it. */
    tz_offload_stop(h->offload);
    MHD_stop_daemon(h->mhd);
    tz_conns_stop(h->conns);
    pthread_mutex_destroy(&h->log_mu);
    free(h);
}
