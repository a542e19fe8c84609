/* tzel-detect's rounds and HTTP API (service.h). */
#include "service.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/token.h"
#include "store/jsonnum.h"
#include "store/watch.h"

#define CONNECTIONS_MAX 64

tz_status tz_detect_round(tz_detect_svc *s, size_t which, tz_detect_item *out, tz_error *err)
{
    pthread_mutex_lock(&s->round_mu);
    tz_sync_hooks hooks = {.stop = &s->stop};
    tz_sync_result res;
    tz_status st = tz_detect_pass(s->items, s->n, s->rpc, &s->cfg, &hooks, &res, err);
    s->rounds++;
    /* each wallet's failure, said while the items are this round's */
    for (size_t i = 0; st == TZ_OK && i < s->n; i++)
        if (s->items[i].st != TZ_OK)
            fprintf(stderr, "tzel-detect: %s: %s\n", s->names[i], s->items[i].error);
    if (out && which < s->n)
        *out = s->items[which];
    pthread_mutex_unlock(&s->round_mu);
    return st;
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"tzel-detect\"");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return send_body(c, status, "text/plain; charset=utf-8", text);
}

/* Sends `v` (stolen) as compact JSON, like serde_json's. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *v)
{
    char *s = v ? tz_json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(v);
    if (!s)
        return send_text(c, 500, "out of memory");
    enum MHD_Result r = send_body(c, status, "application/json", s);
    free(s);
    return r;
}

/* The wallet ?wallet= names (or the only one). Returns its index, or -1
 * with the answer sent. */
static long pick(tz_detect_svc *s, struct MHD_Connection *c, enum MHD_Result *ret)
{
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wallet");
    if (!name) {
        if (s->n == 1)
            return 0;
        *ret = send_text(c, 400, "several wallets are served: name one with ?wallet=NAME "
                                 "(GET /v1/wallets lists them)");
        return -1;
    }
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return (long)i;
    char msg[400];
    snprintf(msg, sizeof msg, "no watch wallet named %.200s is served", name);
    *ret = send_text(c, 404, msg);
    return -1;
}

/* The status of wallet i read from its file (no lock, like watch show);
 * NULL with the error in err. */
static json_t *status_of(tz_detect_svc *s, size_t i, tz_error *err)
{
    tz_watch *w = NULL;
    if (tz_watch_load(s->items[i].path, &w, err) != TZ_OK)
        return NULL;
    json_t *st = tz_watch_status_json(w);
    tz_watch_free(w);
    if (!st)
        tz_error_set(err, TZ_ENOMEM, "out of memory");
    return st;
}

static enum MHD_Result get_status(tz_detect_svc *s, struct MHD_Connection *c)
{
    enum MHD_Result ret = MHD_NO;
    long i = pick(s, c, &ret);
    if (i < 0)
        return ret;
    tz_error err = {0};
    json_t *st = status_of(s, (size_t)i, &err);
    return st ? send_json(c, 200, st) : send_text(c, 500, err.msg);
}

static enum MHD_Result post_sync(tz_detect_svc *s, struct MHD_Connection *c)
{
    enum MHD_Result ret = MHD_NO;
    long i = pick(s, c, &ret);
    if (i < 0)
        return ret;
    tz_error err = {0};
    tz_detect_item copy;
    tz_status st = tz_detect_round(s, (size_t)i, &copy, &err);
    if (st != TZ_OK)
        return send_text(c, st == TZ_ECANCEL ? 503 : 502, err.msg);
    const tz_detect_item *it = &copy;
    if (it->st != TZ_OK)
        return send_text(c, 502, it->error);
    json_t *status = status_of(s, (size_t)i, &err);
    if (!status)
        return send_text(c, 500, err.msg);
    json_t *summary = json_object();
    json_object_set_new(summary, "found", tz_json_u64(it->found));
    json_object_set_new(summary, "next_cursor", tz_json_u64(it->next_cursor));
    json_t *o = json_object();
    json_object_set_new(o, "summary", summary);
    json_object_set_new(o, "status", status);
    return send_json(c, 200, o);
}

static enum MHD_Result get_wallets(tz_detect_svc *s, struct MHD_Connection *c)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->n; i++) {
        tz_error err = {0};
        json_t *st = status_of(s, i, &err);
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(s->names[i]));
        json_object_set_new(e, "status", st ? st : json_null());
        if (!st)
            json_object_set_new(e, "error", json_string(err.msg));
        json_array_append_new(a, e);
    }
    return send_json(c, 200, json_pack("{s:o}", "wallets", a));
}

static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *str)
{
    (void)cls;
    (void)c;
    /* decode %XX in query values (a file name may need them) */
    return MHD_http_unescape(str);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    tz_detect_svc *s = cls;
    (void)version;
    (void)upload;
    static int seen;
    if (!*state) { /* headers only so far */
        *state = &seen;
        return MHD_YES;
    }
    if (*upload_size) { /* a body is not used: read and drop it */
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/healthz"))
        return get ? send_text(c, 200, "ok") : send_text(c, 405, "method not allowed");
    if (strncmp(url, "/v1/", 4) != 0)
        return send_text(c, 404, "not found");
    if (s->token &&
        !tz_token_check(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                        s->token))
        return send_text(c, 401, "missing or wrong bearer token");
    if (!strcmp(url, "/v1/status"))
        return get ? get_status(s, c) : send_text(c, 405, "method not allowed");
    if (!strcmp(url, "/v1/sync"))
        return post ? post_sync(s, c) : send_text(c, 405, "method not allowed");
    if (!strcmp(url, "/v1/wallets"))
        return get ? get_wallets(s, c) : send_text(c, 405, "method not allowed");
    return send_text(c, 404, "not found");
}

tz_status tz_detect_http_start(tz_detect_svc *s, const struct sockaddr *addr, uint16_t *port,
                               tz_error *err)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, addr,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                              MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, MHD_OPTION_END);
    if (!s->mhd)
        return tz_error_set(err, TZ_EIO, "cannot listen on the requested address: %s",
                            errno ? strerror(errno) : "libmicrohttpd refused it");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : 0;
    return TZ_OK;
}

void tz_detect_http_stop(tz_detect_svc *s)
{
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}
