/* Connection deadlines (conns.h): a list of records under one mutex and a
 * sweeper thread sleeping until the nearest deadline. Records are kept in
 * registration order; a few thousand at most, so scans are linear. */
#include "net/conns.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/clock.h"

typedef enum { CONN_WAITING, CONN_BUSY, CONN_CLOSING } conn_state;

struct tz_conn {
    tz_conn *prev, *next;
    int fd;
    conn_state state;
    int64_t deadline; /* CONN_WAITING: monotonic ms */
};

struct tz_conns {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t sweeper;
    bool stop;
    bool sleeping_forever; /* the sweeper waits with no deadline in sight */
    int64_t wait_ms;
    size_t evict_at;
    tz_conn *head, *tail;
    tz_conns_stats stats;
};

/* mu held: ends the connection's stream so the server closes it. */
static void cut(tz_conn *c)
{
    shutdown(c->fd, SHUT_RDWR);
    c->state = CONN_CLOSING;
}

static void sleep_until(tz_conns *cs, int64_t deadline)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t left = deadline - tz_mono_ms();
    if (left < 1)
        left = 1;
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&cs->cv, &cs->mu, &ts);
}

static void *sweep_main(void *arg)
{
    tz_conns *cs = arg;
    pthread_mutex_lock(&cs->mu);
    while (!cs->stop) {
        int64_t now = tz_mono_ms(), next = INT64_MAX;
        for (tz_conn *c = cs->head; c; c = c->next) {
            if (c->state != CONN_WAITING)
                continue;
            if (c->deadline <= now) {
                cut(c);
                cs->stats.timed_out++;
            } else if (c->deadline < next) {
                next = c->deadline;
            }
        }
        cs->sleeping_forever = next == INT64_MAX;
        if (cs->sleeping_forever)
            pthread_cond_wait(&cs->cv, &cs->mu);
        else
            sleep_until(cs, next);
    }
    pthread_mutex_unlock(&cs->mu);
    return NULL;
}

tz_status tz_conns_start(int64_t wait_ms, size_t evict_at, tz_conns **out, tz_error *err)
{
    tz_conns *cs = calloc(1, sizeof *cs);
    if (!cs)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    cs->wait_ms = wait_ms > 0 ? wait_ms : 1;
    cs->evict_at = evict_at ? evict_at : 1;
    pthread_mutex_init(&cs->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cs->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&cs->sweeper, NULL, sweep_main, cs);
    if (rc != 0) {
        pthread_cond_destroy(&cs->cv);
        pthread_mutex_destroy(&cs->mu);
        free(cs);
        return tz_error_set(err, TZ_EIO, "cannot start a thread: %s", strerror(rc));
    }
    *out = cs;
    return TZ_OK;
}

/* mu held: a fresh deadline for c; wakes a sweeper that had none. Later
 * deadlines than every other (the wait is the same for all), so a sweeper
 * already sleeping toward one wakes in time. */
static void start_waiting(tz_conns *cs, tz_conn *c)
{
    c->state = CONN_WAITING;
    c->deadline = tz_mono_ms() + cs->wait_ms;
    if (cs->sleeping_forever) {
        cs->sleeping_forever = false;
        pthread_cond_signal(&cs->cv);
    }
}

tz_conn *tz_conns_add(tz_conns *cs, int fd)
{
    tz_conn *c = calloc(1, sizeof *c);
    if (!c) {
        shutdown(fd, SHUT_RDWR);
        return NULL;
    }
    c->fd = fd;
    pthread_mutex_lock(&cs->mu);
    c->prev = cs->tail;
    if (cs->tail)
        cs->tail->next = c;
    else
        cs->head = c;
    cs->tail = c;
    cs->stats.open++;
    cs->stats.accepted++;
    start_waiting(cs, c);
    if (cs->stats.open > cs->evict_at) {
        /* Make room: the waiting connection nearest its deadline goes. */
        tz_conn *victim = NULL;
        for (tz_conn *o = cs->head; o; o = o->next)
            if (o != c && o->state == CONN_WAITING && (!victim || o->deadline < victim->deadline))
                victim = o;
        if (victim) {
            cut(victim);
            cs->stats.evicted++;
        }
    }
    pthread_mutex_unlock(&cs->mu);
    return c;
}

void tz_conns_busy(tz_conns *cs, tz_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&cs->mu);
    if (c->state == CONN_WAITING)
        c->state = CONN_BUSY;
    pthread_mutex_unlock(&cs->mu);
}

void tz_conns_wait(tz_conns *cs, tz_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&cs->mu);
    if (c->state != CONN_CLOSING)
        start_waiting(cs, c);
    pthread_mutex_unlock(&cs->mu);
}

void tz_conns_remove(tz_conns *cs, tz_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&cs->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        cs->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        cs->tail = c->prev;
    cs->stats.open--;
    pthread_mutex_unlock(&cs->mu);
    free(c);
}

tz_conns_stats tz_conns_get_stats(tz_conns *cs)
{
    pthread_mutex_lock(&cs->mu);
    tz_conns_stats s = cs->stats;
    pthread_mutex_unlock(&cs->mu);
    return s;
}

void tz_conns_stop(tz_conns *cs)
{
    if (!cs)
        return;
    pthread_mutex_lock(&cs->mu);
    cs->stop = true;
    pthread_cond_signal(&cs->cv);
    pthread_mutex_unlock(&cs->mu);
    pthread_join(cs->sweeper, NULL);
    for (tz_conn *c = cs->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    pthread_cond_destroy(&cs->cv);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
}
