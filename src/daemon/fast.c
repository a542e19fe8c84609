/* The fast lane (fast.h): read-only `tzel-wallet` runs answered from a
 * cache keyed on the wallet file's identity, one child per command at a
 * time. */
#include "fast.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jobs.h"
#include "runner.h"

#define READ_TIMEOUT_MS 20000

typedef struct file_key {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    bool valid;
} file_key;

typedef struct cache_entry {
    const char *subcommand;
    file_key key;
    json_t *body;
    pthread_mutex_t run_mu; /* one child per subcommand at a time */
} cache_entry;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cache_entry cache[2] = {
    {"balance", {0}, NULL, PTHREAD_MUTEX_INITIALIZER},
    {"addresses", {0}, NULL, PTHREAD_MUTEX_INITIALIZER},
};

static bool key_of(const char *path, file_key *k)
{
    struct stat sb;
    memset(k, 0, sizeof *k);
    if (stat(path, &sb) != 0)
        return false;
    k->dev = sb.st_dev;
    k->ino = sb.st_ino;
    k->size = sb.st_size;
    k->mtime = sb.st_mtim;
    k->valid = true;
    return true;
}

static bool key_eq(const file_key *a, const file_key *b)
{
    return a->valid && b->valid && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static cache_entry *entry_for(const char *subcommand)
{
    for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++)
        if (strcmp(cache[i].subcommand, subcommand) == 0)
            return &cache[i];
    return NULL;
}

static bool cached(cache_entry *ce, const file_key *k, json_t **body)
{
    bool hit = false;
    pthread_mutex_lock(&cache_mu);
    if (ce && ce->body && key_eq(&ce->key, k)) {
        *body = json_incref(ce->body);
        hit = true;
    }
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static int read_uncached(const tz_wd_config *cfg, const char *subcommand, cache_entry *ce,
                         const file_key *before_in, json_t **body);

bool tz_fast_cached(const tz_wd_config *cfg, const char *subcommand, json_t **body)
{
    file_key now;
    key_of(cfg->wallet_path, &now);
    return cached(entry_for(subcommand), &now, body);
}

int tz_fast_read(const tz_wd_config *cfg, const char *subcommand, json_t **body)
{
    file_key before;
    key_of(cfg->wallet_path, &before);
    cache_entry *ce = entry_for(subcommand);
    if (cached(ce, &before, body))
        return 200;
    if (!ce)
        return read_uncached(cfg, subcommand, NULL, &before, body);
    /* Concurrent requests (several open pages) share one child: the
     * second waits for the first and then finds its answer cached. */
    pthread_mutex_lock(&ce->run_mu);
    key_of(cfg->wallet_path, &before);
    int http = cached(ce, &before, body) ? 200 : read_uncached(cfg, subcommand, ce, &before, body);
    pthread_mutex_unlock(&ce->run_mu);
    return http;
}

static int read_uncached(const tz_wd_config *cfg, const char *subcommand, cache_entry *ce,
                         const file_key *before_in, json_t **body)
{
    file_key before = *before_in;
    char *argv[] = {(char *)cfg->wallet_bin, "-w", (char *)cfg->wallet_path, "--json",
                    (char *)subcommand, NULL};
    tz_run_opts o = {.bin = cfg->wallet_bin, .argv = argv, .timeout_ms = READ_TIMEOUT_MS};
    tz_run_result r = {0};
    tz_error e = {0};
    tz_status st = tz_run(&o, &r, &e);
    const json_t *result = r.envelope ? json_object_get(r.envelope, "result") : NULL;
    int http;
    if (st == TZ_OK && r.exit_code == 0 && result) {
        *body = json_incref((json_t *)result);
        http = 200;
        /* Cache only when the file did not change under the run. */
        file_key after;
        key_of(cfg->wallet_path, &after);
        if (ce && key_eq(&before, &after)) {
            pthread_mutex_lock(&cache_mu);
            json_decref(ce->body);
            ce->body = json_incref(*body);
            ce->key = before;
            pthread_mutex_unlock(&cache_mu);
        }
    } else {
        const char *code = "FAILURE";
        char *msg = st ? strdup(e.msg)
                       : tz_job_explain(r.exit_code, r.term_signal, r.timed_out,
                                        READ_TIMEOUT_MS / 1000, r.envelope, r.err.data, 0, &code);
        if (st)
            code = "EXEC";
        *body = json_pack("{s:{s:s, s:s, s:i, s:s}}", "error", "code", code, "message",
                          msg ? msg : "tzel-wallet failed", "exit", r.exit_code, "stderr",
                          r.err.data ? r.err.data : "");
        free(msg);
        http = 502;
    }
    tz_run_result_free(&r);
    return http;
}

json_t *tz_fast_wallet_file(const tz_wd_config *cfg)
{
    file_key k;
    if (!key_of(cfg->wallet_path, &k))
        return NULL;
    return json_pack("{s:I, s:I}", "bytes", (json_int_t)k.size, "mtime_ms",
                     (json_int_t)k.mtime.tv_sec * 1000 + k.mtime.tv_nsec / 1000000);
}

void tz_fast_cleanup(void)
{
    pthread_mutex_lock(&cache_mu);
    for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++) {
        json_decref(cache[i].body);
        cache[i].body = NULL;
    }
    pthread_mutex_unlock(&cache_mu);
}
