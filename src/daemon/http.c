/* The daemon's HTTP API and status page (http.h): capped request bodies
 * gathered, decided by request.h (routes, token, JSON bodies), answered
 * as JSON. */
#include "http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "fast.h"
#include "jobs.h"
#include "request.h"
#include "status_page.h"

#define BODY_MAX (64u << 10)
#define CONNECTIONS_MAX 64

struct tz_http {
    struct MHD_Daemon *mhd;
    const tz_wd_config *cfg;
    tz_lanes *lanes;
    const char *token;
    atomic_bool quiesced;
};

/* Per-request state: the POST body gathered across calls. */
typedef struct request {
    tz_buf body;
    bool too_large;
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

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
                                  const char *message)
{
    return send_json(c, status,
                     json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
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

/* Sends what tz_req_decide decided. */
static enum MHD_Result answer(tz_http *h, struct MHD_Connection *c, tz_req *d)
{
    switch (d->action) {
    case TZ_REQ_PAGE:
        return send_text(c, MHD_HTTP_OK, "text/html; charset=utf-8", tz_status_page_html,
                         tz_status_page_len);
    case TZ_REQ_STATUS:
        return send_json(c, MHD_HTTP_OK, tz_lanes_status_json(h->lanes));
    case TZ_REQ_FAST: {
        json_t *body = NULL;
        int status = tz_fast_read(h->cfg, d->fast, &body);
        return send_json(c, (unsigned)status, body);
    }
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    tz_http *h = cls;
    request *rq = *req_cls;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        rq->body.max = BODY_MAX;
        rq->body.truncate = true;
        *req_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!tz_buf_append(&rq->body, upload_data, *upload_data_size))
            return MHD_NO;
        if (rq->body.dropped)
            rq->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }

    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    tz_req d;
    tz_req_decide(method, url, auth, h->token, rq->body.data, rq->body.len, rq->too_large, &d);
    return answer(h, c, &d);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *rq = *req_cls;
    if (rq) {
        tz_buf_free(&rq->body);
        free(rq);
        *req_cls = NULL;
    }
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
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, addr,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                              MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, MHD_OPTION_END);
    if (!h->mhd) {
        free(h);
        return tz_error_set(err, TZ_EIO, "cannot listen on the requested address: %s",
                            errno ? strerror(errno) : "libmicrohttpd refused it");
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
    MHD_stop_daemon(h->mhd);
    free(h);
}
