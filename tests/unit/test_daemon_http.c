/* The pieces of the daemon's HTTP serving that keep hostile clients from
 * locking it: connection deadlines that trickling cannot extend and
 * eviction at the limit (conns.h), worker queues for reads the event loop
 * must not wait for (offload.h), and requests decided from their headers
 * before any body is read (request.h tz_req_head). */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "net/conns.h"
#include "offload.h"
#include "request.h"
#include "tz_test.h"

/* Whether the peer of `fd` saw its stream end (EOF) within `ms`. */
static bool peer_ended(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return false;
    char b;
    return recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

static void test_deadline_not_extended(void)
{
    tz_conns *cs = NULL;
    tz_error e = {0};
    CHECK(tz_conns_start(300, 100, &cs, &e) == TZ_OK);
    int sp[2], quiet[2], busy[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, quiet) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, busy) == 0);
    int64_t t0 = tz_mono_ms();
    tz_conn *a = tz_conns_add(cs, sp[0]);
    tz_conn *q = tz_conns_add(cs, quiet[0]);
    tz_conn *b = tz_conns_add(cs, busy[0]);
    tz_conns_busy(cs, b); /* being answered: no deadline */
    /* The client trickles a byte every 40 ms for a second: it is cut at
     * its deadline all the same (an idle timeout would never fire). */
    int64_t cut_at = -1;
    for (int i = 0; i < 25 && cut_at < 0; i++) {
        if (send(sp[1], "x", 1, MSG_NOSIGNAL) != 1 || peer_ended(sp[1], 40))
            cut_at = tz_mono_ms() - t0;
    }
    CHECK_MSG(cut_at >= 280 && cut_at < 1000, "cut after %lld ms, deadline 300",
              (long long)cut_at);
    CHECK(peer_ended(quiet[1], 500));
    CHECK(!peer_ended(busy[1], 200));
    /* Answered: it waits for its next request with a fresh deadline. */
    tz_conns_wait(cs, b);
    CHECK(!peer_ended(busy[1], 150));
    CHECK(peer_ended(busy[1], 800));
    tz_conns_stats st = tz_conns_get_stats(cs);
    CHECK(st.open == 3 && st.accepted == 3 && st.timed_out == 3 && st.evicted == 0);
    tz_conns_remove(cs, a);
    tz_conns_remove(cs, q);
    tz_conns_remove(cs, b);
    CHECK(tz_conns_get_stats(cs).open == 0);
    tz_conns_stop(cs);
    for (int i = 0; i < 2; i++) {
        close(sp[i]);
        close(quiet[i]);
        close(busy[i]);
    }
}

static void test_eviction(void)
{
    tz_conns *cs = NULL;
    tz_error e = {0};
    CHECK(tz_conns_start(60000, 3, &cs, &e) == TZ_OK);
    int s[5][2];
    tz_conn *c[5];
    for (int i = 0; i < 5; i++) {
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s[i]) == 0);
        if (i == 1) {
            c[i] = tz_conns_add(cs, s[i][0]);
            tz_conns_busy(cs, c[i]); /* never evicted while answered */
            continue;
        }
        c[i] = tz_conns_add(cs, s[i][0]);
    }
    /* 5 registered, room for 3: the 4th evicted the oldest waiting (0),
     * the 5th the next waiting one (2); the busy one stays. */
    CHECK(peer_ended(s[0][1], 500));
    CHECK(!peer_ended(s[1][1], 50));
    CHECK(peer_ended(s[2][1], 500));
    CHECK(!peer_ended(s[3][1], 50));
    CHECK(!peer_ended(s[4][1], 50));
    CHECK(tz_conns_get_stats(cs).evicted == 2);
    for (int i = 0; i < 5; i++)
        tz_conns_remove(cs, c[i]);
    tz_conns_stop(cs);
    for (int i = 0; i < 5; i++) {
        close(s[i][0]);
        close(s[i][1]);
    }
}

typedef struct item {
    tz_offload_item it; /* first */
    int id;
    int *log;
    int *n;
    bool cancelled;
    pthread_mutex_t *mu;
    int sleep_ms;
} item;

static int batches;

/* Logs each item of the batch; sleeps first if the first item says so. */
static void item_run(tz_offload_item *first, bool cancelled)
{
    item *x0 = (item *)first;
    if (!cancelled && x0->sleep_ms)
        usleep((useconds_t)x0->sleep_ms * 1000);
    pthread_mutex_lock(x0->mu);
    batches++;
    for (tz_offload_item *it = first; it; it = it->next) {
        item *x = (item *)it;
        x->cancelled = cancelled;
        x->log[(*x->n)++] = x->id;
    }
    pthread_mutex_unlock(x0->mu);
}

static void test_offload(void)
{
    tz_offload *o = NULL;
    tz_error e = {0};
    CHECK(tz_offload_start(2, &o, &e) == TZ_OK);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    int log[8], n = 0;
    item xs[6];
    for (int i = 0; i < 6; i++)
        xs[i] = (item){.it.run = item_run, .id = i, .log = log, .n = &n, .mu = &mu};
    /* Queue 0 is slow (its first batch takes 300 ms); queue 1 is not
     * held up by it. */
    xs[0].sleep_ms = 300;
    CHECK(tz_offload_post(o, 0, &xs[0].it) == TZ_OK);
    usleep(50000);
    /* These two arrive while the first runs: one batch after it. */
    CHECK(tz_offload_post(o, 0, &xs[1].it) == TZ_OK);
    CHECK(tz_offload_post(o, 0, &xs[4].it) == TZ_OK);
    CHECK(tz_offload_post(o, 1, &xs[2].it) == TZ_OK);
    usleep(100000);
    pthread_mutex_lock(&mu);
    CHECK(n == 1 && log[0] == 2);
    pthread_mutex_unlock(&mu);
    usleep(400000);
    pthread_mutex_lock(&mu);
    CHECK(n == 4 && log[1] == 0 && log[2] == 1 && log[3] == 4 && batches == 3);
    pthread_mutex_unlock(&mu);
    CHECK(!xs[0].cancelled && !xs[1].cancelled && !xs[4].cancelled);
    /* Stopping: the running batch finishes, the queued one is cancelled. */
    xs[3].sleep_ms = 200;
    CHECK(tz_offload_post(o, 1, &xs[3].it) == TZ_OK);
    usleep(50000);
    CHECK(tz_offload_post(o, 1, &xs[5].it) == TZ_OK);
    tz_offload_stop(o);
    CHECK(n == 6);
    CHECK(log[4] == 3 && !xs[3].cancelled);
    CHECK(log[5] == 5 && xs[5].cancelled);
}

static const char token[TZ_TOKEN_HEX_LEN + 1] =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
#define AUTH "Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void test_head(void)
{
    tz_req d;
    /* No body: decided at once. */
    CHECK(tz_req_head("GET", "/api/status", AUTH, token, NULL, false, 0, &d));
    CHECK(d.action == TZ_REQ_STATUS);
    CHECK(tz_req_head("GET", "/api/status", NULL, token, NULL, false, 0, &d));
    CHECK(d.action == TZ_REQ_ERROR && d.status == 401);
    /* A 10 MB body: 401 without the token, 413 with it, never read. */
    CHECK(tz_req_head("POST", "/api/jobs", "Bearer x", token, "application/json", true,
                      10000000, &d));
    CHECK(d.action == TZ_REQ_ERROR && d.status == 401);
    CHECK(tz_req_head("POST", "/api/jobs", AUTH, token, "application/json", true, 10000000, &d));
    CHECK(d.action == TZ_REQ_ERROR && d.status == 413);
    CHECK(!tz_req_head("POST", "/api/jobs", AUTH, token, "application/json", true,
                       TZ_REQ_BODY_MAX, &d));
    /* Chunked: read, capped by the caller. */
    CHECK(!tz_req_head("POST", "/api/deposit", AUTH, token, NULL, true, UINT64_MAX, &d));
    /* Not JSON: 415. */
    const char *wrong[] = {"text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonx", ""};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        CHECK(tz_req_head("POST", "/api/deposit", AUTH, token, wrong[i], true, 10, &d));
        CHECK_MSG(d.action == TZ_REQ_ERROR && d.status == 415, "%s", wrong[i]);
    }
    CHECK(!tz_req_head("POST", "/api/deposit", AUTH, token, "Application/JSON; charset=utf-8",
                       true, 10, &d));
    /* A route that takes no body is answered without reading it. */
    CHECK(tz_req_head("GET", "/api/jobs/1", AUTH, token, "application/json", true, 10, &d));
    CHECK(d.action == TZ_REQ_JOB && d.job_id == 1);
    CHECK(tz_req_head("POST", "/api/receive", AUTH, token, "application/json", true, 10, &d));
    CHECK(d.action == TZ_REQ_SUBMIT && d.job);
    tz_job_free(d.job);
    /* The page ignores a body. */
    CHECK(tz_req_head("GET", "/", NULL, token, "text/plain", true, 10, &d));
    CHECK(d.action == TZ_REQ_PAGE);
}

int main(void)
{
    test_head();
    test_offload();
    test_deadline_not_extended();
    test_eviction();
    return tz_test_done("daemon_http");
}
