/* The simulator's HTTP front (server.h): libmicrohttpd with an internal
 * epoll thread pool, request bodies accumulated in a capped tz_buf, the
 * answer helpers the routes share, latency and the node's capacity served
 * by suspending a connection and resuming it from one timer thread, the
 * connection counters and latency statistics, and the delivery of a
 * prepared answer (whole, truncated by a fault, or dropped).
 *
 * Capacity: the rollup routes are one FIFO server of --capacity-rps R
 * requests per second. A request is served 1/R s after the previous one
 * was (or at once when the node is idle), then answered after the
 * latency: when more than R requests per second arrive, they queue and
 * the latency clients see grows with the queue. The routes live in server_rpc.c and
 * server_control.c. */
#include "server_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "core/felt.h"

/* ------------------------------------------------------ JSON body pieces */

void sim_buf_jstr(tz_buf *b, const char *s)
{
    tz_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            tz_buf_append(b, e, 2);
        } else if (ch < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", ch);
            tz_buf_puts(b, e);
        } else {
            tz_buf_append(b, &ch, 1);
        }
    }
    tz_buf_append(b, "\"", 1);
}

void sim_buf_hex(tz_buf *b, const uint8_t *v, size_t n, bool malformed)
{
    char hx[2 * 64 + 1];
    tz_buf_append(b, "\"", 1);
    for (size_t off = 0; off < n; off += 64) {
        size_t k = n - off < 64 ? n - off : 64;
        tz_hex_encode(hx, v + off, k);
        if (malformed && off == 0)
            hx[0] = hx[1] = 'z';
        tz_buf_append(b, hx, 2 * k);
    }
    tz_buf_append(b, "\"", 1);
}

/* ---------------------------------------------------------------- answers */

/* Replaces r's answer by status, ctype and body[len] (taken). */
static void reply(sim_req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    free(r->resp);
    r->status = status;
    r->ctype = ctype;
    r->resp = body;
    r->resp_len = len;
}

void sim_reply_buf(sim_req *r, unsigned status, tz_buf *b)
{
    tz_buf_append(b, "\n", 1);
    if (b->failed) {
        tz_buf_free(b);
        reply(r, 500, NULL, NULL, 0);
        return;
    }
    size_t len;
    char *body = tz_buf_steal(b, &len);
    reply(r, status, "application/json", body, len);
}

void sim_reply_empty(sim_req *r, unsigned status)
{
    reply(r, status, NULL, NULL, 0);
}

void sim_reply_text(sim_req *r, unsigned status, const char *msg)
{
    char *p = strdup(msg);
    reply(r, status, "text/plain", p, p ? strlen(p) : 0);
}

void sim_reply_failure(sim_req *r, const char *msg)
{
    tz_buf b = {0};
    tz_buf_puts(&b, "[{\"kind\":\"temporary\",\"id\":\"failure\",\"msg\":");
    sim_buf_jstr(&b, msg);
    tz_buf_puts(&b, "}]");
    sim_reply_buf(r, 500, &b);
}

void sim_reply_json(sim_req *r, unsigned status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) {
        sim_reply_empty(r, 500);
        return;
    }
    tz_buf b = {0};
    tz_buf_puts(&b, s);
    free(s);
    sim_reply_buf(r, status, &b);
}

void sim_reply_error(sim_req *r, unsigned status, const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(msg));
    sim_reply_json(r, status, o);
}

/* ------------------------------------------------------------- latency */

int64_t sim_now_us(void) { return (int64_t)(tz_mono_secs() * 1e6); }

static void latency_record(sim_server *s, int64_t us)
{
    if (us < 0)
        us = 0;
    sim_latency_stats *l = &s->lat;
    atomic_fetch_add(&l->n, 1);
    atomic_fetch_add(&l->sum_us, (uint_fast64_t)us);
    uint_fast64_t m = atomic_load(&l->max_us);
    while ((uint_fast64_t)us > m && !atomic_compare_exchange_weak(&l->max_us, &m, (uint_fast64_t)us)) {
    }
    int64_t b = us / SIM_LAT_BUCKET_US;
    atomic_fetch_add(&l->hist[b < SIM_LAT_BUCKETS ? b : SIM_LAT_BUCKETS - 1], 1);
}

/* The q-quantile (0 < q <= 1) of the histogram, in ms: the middle of its
 * bucket. */
static double latency_quantile(const uint_fast64_t *h, uint64_t n, double q)
{
    uint64_t want = (uint64_t)(q * (double)n + 0.5), seen = 0;
    if (want < 1)
        want = 1;
    for (size_t b = 0; b < SIM_LAT_BUCKETS; b++) {
        seen += h[b];
        if (seen >= want)
            return ((double)b + 0.5) * SIM_LAT_BUCKET_US / 1000.0;
    }
    return (double)SIM_LAT_BUCKETS * SIM_LAT_BUCKET_US / 1000.0;
}

json_t *sim_latency_json(sim_server *s)
{
    sim_latency_stats *l = &s->lat;
    uint_fast64_t *h = malloc(sizeof(uint_fast64_t) * SIM_LAT_BUCKETS);
    uint64_t n = 0;
    for (size_t b = 0; h && b < SIM_LAT_BUCKETS; b++) {
        h[b] = atomic_load(&l->hist[b]);
        n += h[b];
    }
    double sum = (double)atomic_load(&l->sum_us) / 1000.0;
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    json_object_set_new(o, "sum_ms", json_real(sum));
    json_object_set_new(o, "mean_ms", json_real(n ? sum / (double)n : 0));
    json_object_set_new(o, "p50_ms", json_real(h && n ? latency_quantile(h, n, 0.50) : 0));
    json_object_set_new(o, "p90_ms", json_real(h && n ? latency_quantile(h, n, 0.90) : 0));
    json_object_set_new(o, "p99_ms", json_real(h && n ? latency_quantile(h, n, 0.99) : 0));
    json_object_set_new(o, "max_ms", json_real((double)atomic_load(&l->max_us) / 1000.0));
    free(h);
    return o;
}

void sim_latency_reset(sim_server *s)
{
    sim_latency_stats *l = &s->lat;
    for (size_t b = 0; b < SIM_LAT_BUCKETS; b++)
        atomic_store(&l->hist[b], 0);
    atomic_store(&l->n, 0);
    atomic_store(&l->sum_us, 0);
    atomic_store(&l->max_us, 0);
}

static void heap_push(sim_server *s, sim_pending p)
{
    if (s->nheap == s->heapcap) {
        size_t nc = s->heapcap ? s->heapcap * 2 : 256;
        sim_pending *nh = realloc(s->heap, nc * sizeof *nh);
        if (!nh) {
            /* Cannot delay: resume right away. */
            MHD_resume_connection(p.conn);
            return;
        }
        s->heap = nh;
        s->heapcap = nc;
    }
    size_t i = s->nheap++;
    s->heap[i] = p;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (s->heap[up].deadline <= s->heap[i].deadline)
            break;
        sim_pending t = s->heap[up];
        s->heap[up] = s->heap[i];
        s->heap[i] = t;
        i = up;
    }
}

static sim_pending heap_pop(sim_server *s)
{
    sim_pending top = s->heap[0];
    s->heap[0] = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && s->heap[l].deadline < s->heap[m].deadline)
            m = l;
        if (r < s->nheap && s->heap[r].deadline < s->heap[m].deadline)
            m = r;
        if (m == i)
            break;
        sim_pending t = s->heap[m];
        s->heap[m] = s->heap[i];
        s->heap[i] = t;
        i = m;
    }
    return top;
}

bool sim_park(sim_server *s, struct MHD_Connection *conn, int64_t deadline)
{
    pthread_mutex_lock(&s->tmu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->tmu);
        return false;
    }
    MHD_suspend_connection(conn);
    /* the heap's deadlines are sim_now_us microseconds, on the same clock */
    heap_push(s, (sim_pending){.deadline = deadline * 1000, .conn = conn});
    pthread_cond_signal(&s->tcv);
    pthread_mutex_unlock(&s->tmu);
    return true;
}

static int by_deadline(const void *a, const void *b)
{
    int64_t x = ((const sim_pending *)a)->deadline, y = ((const sim_pending *)b)->deadline;
    return x < y ? -1 : x > y;
}

void sim_release_parked(sim_server *s)
{
    pthread_mutex_lock(&s->tmu);
    int64_t now = sim_now_us();
    for (size_t i = 0; i < s->nheap; i++)
        if (s->heap[i].deadline > now + 3600LL * 1000000)
            s->heap[i].deadline = now;
    /* a sorted array is a min-heap */
    if (s->nheap > 1)
        qsort(s->heap, s->nheap, sizeof *s->heap, by_deadline);
    pthread_cond_signal(&s->tcv);
    pthread_mutex_unlock(&s->tmu);
}

static void *timer_main(void *arg)
{
    sim_server *s = arg;
    pthread_mutex_lock(&s->tmu);
    for (;;) {
        if (s->stopping) {
            while (s->nheap)
                MHD_resume_connection(heap_pop(s).conn);
            break;
        }
        int64_t now = sim_now_us();
        while (s->nheap && s->heap[0].deadline <= now)
            MHD_resume_connection(heap_pop(s).conn);
        if (s->nheap) {
            /* sim_now_us reads CLOCK_MONOTONIC, the clock of tcv. */
            int64_t dl = s->heap[0].deadline;
            struct timespec ts = {.tv_sec = (time_t)(dl / 1000000),
                                  .tv_nsec = (long)(dl % 1000000) * 1000};
            pthread_cond_timedwait(&s->tcv, &s->tmu, &ts);
        } else {
            pthread_cond_wait(&s->tcv, &s->tmu);
        }
    }
    pthread_mutex_unlock(&s->tmu);
    return NULL;
}

/* ---------------------------------------------------------- connections */

bool sim_conn_is_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

/* ------------------------------------------------------------- delivery */

/* A truncated answer: the full Content-Length, half the body, then an
 * error that closes the connection. */
typedef struct trunc_ctx {
    char *body;
    size_t len;
} trunc_ctx;

static ssize_t trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    trunc_ctx *t = cls;
    size_t half = t->len / 2;
    if (pos >= half)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = half - (size_t)pos < max ? half - (size_t)pos : max;
    memcpy(buf, t->body + pos, n);
    return (ssize_t)n;
}

static void trunc_free(void *cls)
{
    trunc_ctx *t = cls;
    free(t->body);
    free(t);
}

/* Queues r's prepared answer on conn (or drops the connection). */
static enum MHD_Result deliver(sim_server *s, struct MHD_Connection *conn, sim_req *r)
{
    if (r->act == ACT_DROP || r->act == ACT_HANG)
        return MHD_NO;
    struct MHD_Response *resp;
    if (r->act >= ACT_DRIP) {
        resp = sim_hostile_delivery(s, conn, r);
    } else if (r->act == ACT_TRUNCATE) {
        trunc_ctx *t = malloc(sizeof *t);
        if (!t)
            return MHD_NO;
        t->body = r->resp;
        t->len = r->resp_len;
        r->resp = NULL;
        resp = MHD_create_response_from_callback(t->len, 4096, trunc_reader, t, trunc_free);
        if (!resp) {
            trunc_free(t);
            return MHD_NO;
        }
    } else if (r->resp) {
        resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
        if (resp)
            r->resp = NULL;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---------------------------------------------------- MHD callbacks */

/* Called first with no request state, then once per body chunk, then (and
 * again after a latency resume) with the body complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    sim_server *s = cls;
    sim_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->body.max = SIM_MAX_BODY;
        r->arrival = sim_now_us();
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Past SIM_MAX_BODY (or out of memory) the body is marked failed
         * and the rest discarded: the control API answers 413. */
        tz_buf_append(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->prepared) {
        r->prepared = true;
        bool is_sim = strncmp(url, "/sim/", 5) == 0;
        bool is_op = !is_sim && strncmp(url, "/v1/rollup/submissions", 22) == 0;
        r->node_route = !is_sim && !is_op;
        if (is_sim)
            sim_control_handle(s, conn, r, url, method);
        else if (is_op)
            sim_operator_handle(s, conn, r, url, method);
        else
            sim_rpc_handle(s, conn, r, url, method);
        if (r->act == ACT_HANG) {
            /* Accepted, never answered: parked until the faults are
             * cleared (or the server stops), then closed. */
            r->act = ACT_DROP;
            if (sim_park(s, conn, tz_mono_ms() + 365LL * 24 * 3600 * 1000))
                return MHD_YES;
        }
        int64_t lat = is_sim ? 0 : (int64_t)atomic_load(&s->latency_ms) * 1000;
        unsigned cap = r->node_route ? atomic_load(&s->capacity_rps) : 0;
        if (lat || cap) {
            pthread_mutex_lock(&s->tmu);
            if (!s->stopping) {
                int64_t now = sim_now_us(), ready = now;
                if (cap) {
                    /* one FIFO server: after the requests before this one */
                    int64_t start = s->busy_until > now ? s->busy_until : now;
                    s->busy_until = start + 1000000 / (int64_t)cap;
                    ready = s->busy_until;
                }
                MHD_suspend_connection(conn);
                heap_push(s, (sim_pending){.deadline = ready + lat, .conn = conn});
                pthread_cond_signal(&s->tcv);
                pthread_mutex_unlock(&s->tmu);
                return MHD_YES;
            }
            pthread_mutex_unlock(&s->tmu);
        }
    }
    if (r->node_route) {
        latency_record(s, sim_now_us() - r->arrival);
        r->node_route = false; /* once */
    }
    return deliver(s, conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    sim_req *r = *con_cls;
    if (!r)
        return;
    tz_buf_free(&r->body);
    free(r->resp);
    free(r);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    sim_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&s->accepted, 1);
        uint_fast64_t a = atomic_fetch_add(&s->active, 1) + 1;
        uint_fast64_t p = atomic_load(&s->peak);
        while (a > p && !atomic_compare_exchange_weak(&s->peak, &p, a)) {
        }
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&s->active, 1);
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
    /* MHD reports routine events (client resets, limits) here: keep quiet. */
}

/* ------------------------------------------------------------- lifetime */

tz_status sim_server_start(sim_server **out, sim_chain *c, const sim_server_opts *o,
                           unsigned *port, tz_error *err)
{
    *out = NULL;
    sim_server *s = calloc(1, sizeof *s);
    if (!s)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    s->c = c;
    s->o = *o;
    if (s->o.http_threads == 0)
        s->o.http_threads = 2;
    if (s->o.max_connections == 0)
        s->o.max_connections = 100;
    /* MHD splits the limit across the pool: each worker needs one slot. */
    if (s->o.http_threads > s->o.max_connections)
        s->o.http_threads = s->o.max_connections;
    atomic_store(&s->latency_ms, o->latency_ms);
    atomic_store(&s->capacity_rps, o->capacity_rps);
    pthread_mutex_init(&s->f.mu, NULL);
    sim_hostile_init(&s->h);
    pthread_mutex_init(&s->tmu, NULL);
    pthread_mutex_init(&s->smu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->tcv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->timer, NULL, timer_main, s) != 0) {
        sim_server_stop(s);
        return tz_error_set(err, TZ_ENOMEM, "cannot start the timer thread");
    }
    s->timer_started = true;

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.http_threads,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->d) {
        sim_server_stop(s);
        return tz_error_set(err, TZ_EIO, "cannot listen on 127.0.0.1:%u", o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = di ? di->port : o->port;
    s->port = *port;
    *out = s;
    return TZ_OK;
}

void sim_server_stop(sim_server *s)
{
    if (!s)
        return;
    if (s->timer_started) {
        pthread_mutex_lock(&s->tmu);
        s->stopping = true;
        pthread_cond_signal(&s->tcv);
        pthread_mutex_unlock(&s->tmu);
        pthread_join(s->timer, NULL);
    }
    if (s->d)
        MHD_stop_daemon(s->d);
    free(s->heap);
    sim_operator_free(s);
    pthread_mutex_destroy(&s->smu);
    pthread_mutex_destroy(&s->f.mu);
    sim_hostile_destroy(&s->h);
    pthread_mutex_destroy(&s->tmu);
    pthread_cond_destroy(&s->tcv);
    free(s);
}
