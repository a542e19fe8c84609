/* Unit tests of how the rollup client sorts answers (one classifier for
 * every durable read: a value, absent, or an HTTP error naming the URL and
 * status) and of the operator client's /healthz call, against a small
 * in-process HTTP server that answers canned (status, body) pairs. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "rpc/operator.h"
#include "rpc/rpc.h"
#include "tz_test.h"
#include "tz_test_http.h"

#define BLOCK "BLockHashForAnswersxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define DURABLE "/global/block/" BLOCK "/durable/wasm_2_0_0/"
#define ST "/tzel/v1/state/"

/* ---- canned server ---------------------------------------------------- */

typedef struct route {
    const char *target; /* the request target, exactly */
    int status;
    const char *body;
} route;

/* Bodies of TZ_OPERATOR_HEALTH_MAX and one more bytes, set by main. */
static char *g_full, *g_over;

static route g_routes[] = {
    {DURABLE "value?key=" ST "a404", 404, "[]"},
    {DURABLE "value?key=" ST "anull", 200, " null\n"},
    {DURABLE "value?key=" ST "a500", 500, "[{\"msg\":\"boom\"}]\n"},
    {DURABLE "value?key=" ST "ok", 200, "\"0102\"\n"},
    {DURABLE "length?key=" ST "l404", 404, ""},
    {DURABLE "length?key=" ST "lnull", 200, "null"},
    {DURABLE "length?key=" ST "l503", 503, "busy"},
    {DURABLE "length?key=" ST "ok", 200, "\"2\""},
    {DURABLE "subkeys?key=" ST "snull", 200, "null"},
    {DURABLE "subkeys?key=" ST "s500", 500, ""},
    {DURABLE "subkeys?key=" ST "ok", 200, "[\"a\",\"b\"]"},
    {"/healthz", 200, "  operator ok\r\n"},
    {"/down/healthz", 503, "down"},
    {"/full/healthz", 200, NULL}, /* g_full */
    {"/over/healthz", 200, NULL}, /* g_over */
};
#define N_ROUTES (sizeof g_routes / sizeof g_routes[0])

typedef struct srv {
    int lfd;
    uint16_t port;
    pthread_t thread;
} srv;

/* One request per connection, answered from g_routes (else 404 with an
 * empty body). */
static void serve(int fd)
{
    char buf[8192];
    size_t have = 0;
    while (!memmem(buf, have, "\r\n\r\n", 4)) {
        ssize_t r = have < sizeof buf ? recv(fd, buf + have, sizeof buf - have, 0) : -1;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        have += (size_t)r;
    }
    char target[4096] = "";
    if (sscanf(buf, "GET %4095s", target) != 1)
        return;
    int status = 404;
    const char *body = "";
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (strcmp(g_routes[i].target, target) == 0) {
            status = g_routes[i].status;
            body = g_routes[i].body;
            break;
        }
    }
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      status, strlen(body));
    if (tz_test_send_all(fd, head, (size_t)hl))
        tz_test_send_all(fd, body, strlen(body));
}

static void *srv_main(void *arg)
{
    srv *s = arg;
    int fd;
    while ((fd = tz_test_accept(s->lfd)) >= 0) {
        serve(fd);
        close(fd);
    }
    return NULL;
}

static void srv_start(srv *s)
{
    s->lfd = tz_test_listen(16, &s->port);
    pthread_create(&s->thread, NULL, srv_main, s);
}

static void srv_stop(srv *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

static bool has(const tz_error *err, const char *part) { return strstr(err->msg, part) != NULL; }

static bool ends(const tz_error *err, const char *tail)
{
    size_t n = strlen(err->msg), t = strlen(tail);
    return n >= t && strcmp(err->msg + n - t, tail) == 0;
}

/* ---- tests ------------------------------------------------------------ */

/* value, length and batches: a 404 and a null are both absent (the message
 * tells which), any other status is TZ_EHTTP with the URL, the status and
 * an excerpt of the body. */
static void test_absent_and_errors(tz_rpc *c)
{
    tz_error err = {0};
    uint8_t keep = 0, *b = &keep;
    size_t n = 77;

    CHECK(tz_rpc_read_value(c, BLOCK, ST "a404", &b, &n, &err) == TZ_ENOTFOUND);
    CHECK_MSG(ends(&err, "value?key=" ST "a404: key absent (HTTP 404)"), "%s", err.msg);
    CHECK(b == &keep && n == 77);
    CHECK(tz_rpc_read_value(c, BLOCK, ST "anull", &b, &n, &err) == TZ_ENOTFOUND);
    CHECK_MSG(ends(&err, "value?key=" ST "anull: key absent"), "%s", err.msg);
    CHECK(b == &keep && n == 77);
    CHECK(tz_rpc_read_value(c, BLOCK, ST "a500", &b, &n, &err) == TZ_EHTTP);
    CHECK_MSG(has(&err, "GET http://127.0.0.1:") &&
                  ends(&err, "value?key=" ST "a500: HTTP 500: [{\"msg\":\"boom\"}]"),
              "%s", err.msg);
    CHECK(tz_rpc_read_value(c, BLOCK, ST "ok", &b, &n, &err) == TZ_OK);
    CHECK(b != &keep && n == 2 && b[0] == 1 && b[1] == 2);
    free(b);

    uint64_t u = 99;
    CHECK(tz_rpc_read_length(c, BLOCK, ST "l404", &u, &err) == TZ_ENOTFOUND);
    CHECK_MSG(ends(&err, "length?key=" ST "l404: key absent (HTTP 404)"), "%s", err.msg);
    CHECK(tz_rpc_read_length(c, BLOCK, ST "lnull", &u, &err) == TZ_ENOTFOUND);
    CHECK_MSG(ends(&err, "length?key=" ST "lnull: key absent"), "%s", err.msg);
    CHECK(tz_rpc_read_length(c, BLOCK, ST "l503", &u, &err) == TZ_EHTTP);
    CHECK_MSG(ends(&err, "length?key=" ST "l503: HTTP 503: busy"), "%s", err.msg);
    CHECK(u == 99);
    CHECK(tz_rpc_read_length(c, BLOCK, ST "ok", &u, &err) == TZ_OK && u == 2);

    /* a batch: absent both ways with `present`, an error naming the key
     * without it */
    const char *keys[3] = {ST "a404", ST "anull", ST "ok"};
    uint8_t *out[3];
    size_t lens[3];
    bool present[3];
    CHECK(tz_rpc_read_blobs(c, BLOCK, keys, 3, out, lens, present, &err) == TZ_OK);
    CHECK(!present[0] && !present[1] && present[2] && lens[2] == 2);
    CHECK(out[0] == NULL && out[1] == NULL);
    free(out[2]);
    CHECK(tz_rpc_read_blobs(c, BLOCK, keys, 3, out, lens, NULL, &err) == TZ_ENOTFOUND);
    CHECK_MSG(ends(&err, "value?key=" ST "a404: key absent (HTTP 404)"), "%s", err.msg);
    CHECK(out[0] == NULL && out[1] == NULL && out[2] == NULL);
}

/* subkeys: a 404 is an empty listing, but a null body is not a listing;
 * outside the durable routes a 404 is an error like any other status. */
static void test_subkeys_and_plain_reads(tz_rpc *c)
{
    tz_error err = {0};
    char **names = NULL;
    size_t n = 5;
    CHECK(tz_rpc_read_subkeys(c, BLOCK, ST "s404", &names, &n, &err) == TZ_OK);
    CHECK(names != NULL && n == 0);
    tz_rpc_free_names(names, n);
    names = NULL;
    CHECK(tz_rpc_read_subkeys(c, BLOCK, ST "snull", &names, &n, &err) == TZ_EPARSE);
    CHECK_MSG(ends(&err, "subkeys?key=" ST "snull: expected a JSON array"), "%s", err.msg);
    CHECK(tz_rpc_read_subkeys(c, BLOCK, ST "s500", &names, &n, &err) == TZ_EHTTP);
    CHECK_MSG(ends(&err, "subkeys?key=" ST "s500: HTTP 500"), "%s", err.msg);
    CHECK(names == NULL);
    CHECK(tz_rpc_read_subkeys(c, BLOCK, ST "ok", &names, &n, &err) == TZ_OK);
    CHECK(n == 2 && strcmp(names[0], "a") == 0 && strcmp(names[1], "b") == 0);
    tz_rpc_free_names(names, n);

    char head[TZ_BLOCK_HASH_MAX];
    CHECK(tz_rpc_head_hash(c, head, &err) == TZ_EHTTP);
    CHECK_MSG(ends(&err, "/global/block/head/hash: HTTP 404"), "%s", err.msg);
    int64_t level = 0;
    CHECK(tz_rpc_block_level(c, BLOCK, &level, &err) == TZ_EHTTP);
    CHECK_MSG(ends(&err, "/global/block/" BLOCK "/level: HTTP 404"), "%s", err.msg);
}

/* GET <operator>/healthz: the body trimmed; an HTTP error or a body over
 * 64 KiB is TZ_EHTTP "HTTP error: <url>: <curl's reason>". */
static void test_operator_health(uint16_t port)
{
    char base[96], want[128];
    tz_error err = {0};
    char *out = NULL;

    snprintf(base, sizeof base, "http://127.0.0.1:%u//", (unsigned)port);
    CHECK_MSG(tz_operator_health(base, &out, &err) == TZ_OK, "%s", err.msg);
    CHECK(out && strcmp(out, "operator ok") == 0);
    free(out);
    out = NULL;

    snprintf(base, sizeof base, "http://127.0.0.1:%u/full", (unsigned)port);
    CHECK_MSG(tz_operator_health(base, &out, &err) == TZ_OK, "%s", err.msg);
    CHECK(out && strlen(out) == TZ_OPERATOR_HEALTH_MAX);
    free(out);
    out = NULL;

    const char *bad[] = {"down", "over"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(base, sizeof base, "http://127.0.0.1:%u/%s/", (unsigned)port, bad[i]);
        snprintf(want, sizeof want, "HTTP error: http://127.0.0.1:%u/%s/healthz: ",
                 (unsigned)port, bad[i]);
        CHECK(tz_operator_health(base, &out, &err) == TZ_EHTTP);
        CHECK_MSG(strncmp(err.msg, want, strlen(want)) == 0 && strlen(err.msg) > strlen(want),
                  "%s", err.msg);
        CHECK(out == NULL);
    }
}

/* Nobody listening: the transfer's failure, worded the same way. */
static void test_operator_unreachable(uint16_t closed_port)
{
    char base[64], want[96];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)closed_port);
    snprintf(want, sizeof want, "HTTP error: %s/healthz: ", base);
    tz_error err = {0};
    char *out = NULL;
    CHECK(tz_operator_health(base, &out, &err) == TZ_EHTTP);
    CHECK_MSG(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
    CHECK(out == NULL);
}

int main(void)
{
    g_over = malloc(TZ_OPERATOR_HEALTH_MAX + 2);
    memset(g_over, 'a', TZ_OPERATOR_HEALTH_MAX + 1);
    g_over[TZ_OPERATOR_HEALTH_MAX + 1] = '\0';
    g_full = g_over + 1;
    g_routes[N_ROUTES - 2].body = g_full;
    g_routes[N_ROUTES - 1].body = g_over;

    srv s;
    srv_start(&s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)s.port);
    tz_error err = {0};
    tz_rpc *c = tz_rpc_new(url, 1, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (c) {
        test_absent_and_errors(c);
        test_subkeys_and_plain_reads(c);
        tz_rpc_free(c);
    }
    test_operator_health(s.port);
    srv_stop(&s);
    test_operator_unreachable(s.port);
    free(g_over);
    return tz_test_done("rpc_answers");
}
