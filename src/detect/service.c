/* tzel-detect's rounds and HTTP API (service.h): one epoll event loop
 * (libmicrohttpd) that answers only what is quick (health, refusals); the
 * routes that read files or run a round are answered from worker threads,
 * a bounded number at a time, and every connection has a request deadline
 * it cannot extend (net/conns.h), as tzel-walletd's. */
#include "service.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/conns.h"
#include "net/token.h"
#include "store/jsonnum.h"
#include "store/watch.h"

/* Connections served at once; the waiting one nearest its deadline is
 * evicted when EVICT_MARGIN of them are left (net/conns.h). */
#define CONNECTIONS_MAX 512
#define EVICT_MARGIN 16
/* A request (headers and body) must arrive within this of its connection
 * waiting for it, however it trickles (unless request_timeout_secs says). */
#define REQUEST_TIMEOUT_SECS 10
/* Requests answered off the event loop at once (status, wallets, sync). */
#define SLOW_MAX 16

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

/* Decodes %XX (a wallet file name in ?wallet= may need it), unless the
 * decoded text would hold a NUL: "/v1/status%00x" must not reach the
 * routes as "/v1/status", so such text is left as it came (and matches no
 * route or wallet). Returns the length of the text left in str. */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *str)
{
    (void)cls;
    (void)c;
    char *copy = strdup(str);
    if (!copy)
        return strlen(str);
    size_t n = MHD_http_unescape(copy);
    if (strlen(copy) == n)
        memcpy(str, copy, n + 1);
    free(copy);
    return strlen(str);
}

/* A request whose answer is made off the event loop (status and wallets
 * read files, sync runs a round): the route, then the answer the worker
 * left for the loop to send. */
typedef struct slow_req {
    tz_detect_svc *s;
    struct MHD_Connection *c;
    enum { SLOW_STATUS, SLOW_SYNC, SLOW_WALLETS } route;
    long wallet;
    bool ready;
    unsigned status;
    json_t *json; /* the answer: JSON, or text when NULL */
    char *text;
} slow_req;

/* Records the worker's answer: JSON (stolen) or text. */
static void slow_set(slow_req *r, unsigned status, json_t *json, const char *text)
{
    r->status = status;
    r->json = json;
    r->text = json ? NULL : strdup(text ? text : "out of memory");
}

static void *slow_main(void *arg)
{
    slow_req *r = arg;
    tz_detect_svc *s = r->s;
    tz_error err = {0};
    if (r->route == SLOW_STATUS) {
        json_t *st = status_of(s, (size_t)r->wallet, &err);
        slow_set(r, st ? 200 : 500, st, err.msg);
    } else if (r->route == SLOW_WALLETS) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < s->n; i++) {
            tz_error e = {0};
            json_t *st = status_of(s, i, &e);
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(s->names[i]));
            json_object_set_new(o, "status", st ? st : json_null());
            if (!st)
                json_object_set_new(o, "error", json_string(e.msg));
            json_array_append_new(a, o);
        }
        slow_set(r, 200, json_pack("{s:o}", "wallets", a), NULL);
    } else {
        tz_detect_item copy;
        tz_status st = tz_detect_round(s, (size_t)r->wallet, &copy, &err);
        json_t *status = NULL;
        if (st != TZ_OK) {
            slow_set(r, st == TZ_ECANCEL ? 503 : 502, NULL, err.msg);
        } else if (copy.st != TZ_OK) {
            slow_set(r, 502, NULL, copy.error);
        } else if (!(status = status_of(s, (size_t)r->wallet, &err))) {
            slow_set(r, 500, NULL, err.msg);
        } else {
            json_t *summary = json_object();
            json_object_set_new(summary, "found", tz_json_u64(copy.found));
            json_object_set_new(summary, "next_cursor", tz_json_u64(copy.next_cursor));
            json_t *o = json_object();
            json_object_set_new(o, "summary", summary);
            json_object_set_new(o, "status", status);
            slow_set(r, 200, o, NULL);
        }
    }
    pthread_mutex_lock(&s->slow_mu);
    r->ready = true;
    s->slow_running--;
    MHD_resume_connection(r->c);
    pthread_cond_broadcast(&s->slow_cv);
    pthread_mutex_unlock(&s->slow_mu);
    return NULL;
}

/* Suspends the connection and answers it from a worker thread, at most
 * SLOW_MAX at a time (503 beyond: a crowd of clients cannot make threads
 * without bound). */
static enum MHD_Result slow(tz_detect_svc *s, struct MHD_Connection *c, void **state, int route,
                            long wallet)
{
    slow_req *r = calloc(1, sizeof *r);
    if (!r)
        return send_text(c, 500, "out of memory");
    r->s = s;
    r->c = c;
    r->route = route;
    r->wallet = wallet;
    pthread_mutex_lock(&s->slow_mu);
    if (s->slow_running >= SLOW_MAX || s->slow_closed) {
        pthread_mutex_unlock(&s->slow_mu);
        free(r);
        return send_text(c, 503, "busy: too many requests in progress, retry");
    }
    s->slow_running++;
    MHD_suspend_connection(c);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, slow_main, r);
    pthread_attr_destroy(&attr);
    if (e) {
        s->slow_running--;
        slow_set(r, 503, NULL, "busy: cannot start a worker, retry");
        r->ready = true;
        MHD_resume_connection(c);
    }
    pthread_mutex_unlock(&s->slow_mu);
    *state = r;
    return MHD_YES;
}

/* The request state of a request answered on the loop (a slow one's is
 * its slow_req). */
static int plain;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    tz_detect_svc *s = cls;
    (void)version;
    (void)upload;
    if (!*state) { /* headers only so far */
        *state = &plain;
        /* No route takes a body: one announced is refused before a byte
         * of it is read (libmicrohttpd then closes the connection). */
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *te =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if (te || (cl && cl[strspn(cl, "0")] != '\0'))
            return send_text(c, 413, "request bodies are not accepted");
        return MHD_YES;
    }
    if (*state != &plain) { /* a slow answer, back from its worker */
        slow_req *r = *state;
        pthread_mutex_lock(&s->slow_mu);
        bool ready = r->ready;
        pthread_mutex_unlock(&s->slow_mu);
        if (!ready)
            return MHD_YES;
        enum MHD_Result ret = r->json ? send_json(c, r->status, r->json)
                                      : send_text(c, r->status, r->text);
        r->json = NULL;
        return ret;
    }
    if (*upload_size) { /* not announced (cannot happen): dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tz_conns_busy(s->conns, ci ? ci->socket_context : NULL);
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/healthz"))
        return get ? send_text(c, 200, "ok") : send_text(c, 405, "method not allowed");
    if (s->token && strncmp(url, "/v1/", 4) == 0 &&
        !tz_token_check(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                        s->token))
        return send_text(c, 401, "missing or wrong bearer token");
    enum MHD_Result ret = MHD_NO;
    if (!strcmp(url, "/v1/status") || !strcmp(url, "/v1/sync")) {
        bool sync = !strcmp(url, "/v1/sync");
        if (sync ? !post : !get)
            return send_text(c, 405, "method not allowed");
        long i = pick(s, c, &ret);
        if (i < 0)
            return ret;
        return slow(s, c, state, sync ? SLOW_SYNC : SLOW_STATUS, i);
    }
    if (!strcmp(url, "/v1/wallets"))
        return get ? slow(s, c, state, SLOW_WALLETS, 0) : send_text(c, 405, "method not allowed");
    return send_text(c, 404, "not found");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    tz_detect_svc *s = cls;
    if (*state && *state != &plain) {
        slow_req *r = *state;
        json_decref(r->json);
        free(r->text);
        free(r);
    }
    *state = NULL;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tz_conns_wait(s->conns, ci ? ci->socket_context : NULL);
}

/* Connections opened and closed: their request deadlines (net/conns.h),
 * before libmicrohttpd closes the socket. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    tz_detect_svc *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? tz_conns_add(s->conns, ci->connect_fd) : NULL;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        tz_conns_remove(s->conns, *socket_context);
        *socket_context = NULL;
    }
}

tz_status tz_detect_http_start(tz_detect_svc *s, const struct sockaddr *addr, uint16_t *port,
                               tz_error *err)
{
    pthread_mutex_init(&s->slow_mu, NULL);
    pthread_cond_init(&s->slow_cv, NULL);
    s->slow_running = 0;
    s->slow_closed = false;
    unsigned deadline = s->request_timeout_secs ? s->request_timeout_secs : REQUEST_TIMEOUT_SECS;
    tz_status st = tz_conns_start((int64_t)deadline * 1000,
                                  CONNECTIONS_MAX - EVICT_MARGIN, &s->conns, err);
    if (st)
        return st;
    /* No library log: hostile clients would turn it into a flood. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, addr,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                              MHD_OPTION_CONNECTION_TIMEOUT, deadline,
                              MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, MHD_OPTION_END);
    if (!s->mhd) {
        int e = errno;
        tz_conns_stop(s->conns);
        s->conns = NULL;
        return tz_error_set(err, TZ_EIO, "cannot listen on the requested address: %s",
                            e ? strerror(e) : "libmicrohttpd refused it");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : 0;
    return TZ_OK;
}

void tz_detect_http_stop(tz_detect_svc *s)
{
    if (!s->mhd)
        return;
    /* libmicrohttpd stops only with no connection suspended: wait for the
     * workers (a round ends at its next checkpoint once s->stop is set). */
    pthread_mutex_lock(&s->slow_mu);
    s->slow_closed = true;
    while (s->slow_running > 0)
        pthread_cond_wait(&s->slow_cv, &s->slow_mu);
    pthread_mutex_unlock(&s->slow_mu);
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    tz_conns_stop(s->conns);
    s->conns = NULL;
}
