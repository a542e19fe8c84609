/* Worker queues (offload.h): one mutex and condition variable per queue,
 * one thread each, taking the whole queue as a batch. */
#include "offload.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started;
    bool stop;
    tz_offload_item *head, *tail;
} queue;

struct tz_offload {
    size_t n;
    queue q[];
};

static void *queue_main(void *arg)
{
    queue *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->cv, &q->mu);
        tz_offload_item *batch = q->head;
        if (!batch)
            break; /* stopping, queue empty */
        q->head = q->tail = NULL;
        bool cancelled = q->stop;
        pthread_mutex_unlock(&q->mu);
        batch->run(batch, cancelled);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

tz_status tz_offload_start(size_t nqueues, tz_offload **out, tz_error *err)
{
    if (nqueues == 0)
        nqueues = 1;
    tz_offload *o = calloc(1, sizeof *o + nqueues * sizeof(queue));
    if (!o)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    o->n = nqueues;
    for (size_t i = 0; i < nqueues; i++) {
        pthread_mutex_init(&o->q[i].mu, NULL);
        pthread_cond_init(&o->q[i].cv, NULL);
    }
    for (size_t i = 0; i < nqueues; i++) {
        int rc = pthread_create(&o->q[i].thread, NULL, queue_main, &o->q[i]);
        if (rc != 0) {
            tz_offload_stop(o);
            return tz_error_set(err, TZ_EIO, "cannot start a thread: %s", strerror(rc));
        }
        o->q[i].started = true;
    }
    *out = o;
    return TZ_OK;
}

tz_status tz_offload_post(tz_offload *o, size_t queue_no, tz_offload_item *item)
{
    queue *q = &o->q[queue_no < o->n ? queue_no : o->n - 1];
    pthread_mutex_lock(&q->mu);
    if (q->stop) {
        pthread_mutex_unlock(&q->mu);
        return TZ_ECANCEL;
    }
    item->next = NULL;
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return TZ_OK;
}

void tz_offload_stop(tz_offload *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        pthread_mutex_lock(&o->q[i].mu);
        o->q[i].stop = true;
        pthread_cond_signal(&o->q[i].cv);
        pthread_mutex_unlock(&o->q[i].mu);
    }
    for (size_t i = 0; i < o->n; i++) {
        if (o->q[i].started)
            pthread_join(o->q[i].thread, NULL);
        pthread_cond_destroy(&o->q[i].cv);
        pthread_mutex_destroy(&o->q[i].mu);
    }
    free(o);
}
