/* bench-simload: a small HTTP/1.1 keep-alive load generator for
 * tzel-rollup-sim. C connections, one thread each, each sending durable
 * `value` reads one at a time (like a wallet's fetch lane) for S seconds.
 * Prints one JSON line: {"connections":C,"seconds":S,"requests":N,
 * "errors":E,"reads_per_sec":R,"p50_ms":..,"p99_ms":..}.
 *
 * usage: bench-simload --port P [--conns C] [--seconds S] [--notes N]
 *   --notes N: cycle over the chunks of notes 0..N-1 (default: tree/size
 *   key only). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned g_port = 8932, g_conns = 8, g_notes = 0;
static double g_seconds = 3.0;
static atomic_bool g_stop;
static atomic_uint_fast64_t g_reqs, g_errs;

#define LAT_BUCKETS 10000 /* 0.1 ms buckets up to 1 s */
static atomic_uint_fast64_t g_lat[LAT_BUCKETS + 1];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads one response; returns the status or -1. buf holds leftovers. */
static int read_response(int fd, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        buf[*have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t hlen = (size_t)(end + 4 - buf);
            int status = 0;
            if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
                return -1;
            size_t clen = 0;
            for (char *p = buf; p < end; p++) {
                if ((*p == 'C' || *p == 'c') && strncasecmp(p, "Content-Length:", 15) == 0) {
                    clen = strtoul(p + 15, NULL, 10);
                    break;
                }
            }
            while (*have < hlen + clen) {
                if (*have >= cap - 1)
                    return -1;
                ssize_t n = read(fd, buf + *have, cap - 1 - *have);
                if (n <= 0)
                    return -1;
                *have += (size_t)n;
            }
            size_t used = hlen + clen;
            memmove(buf, buf + used, *have - used);
            *have -= used;
            return status;
        }
        if (*have >= cap - 1)
            return -1;
        ssize_t n = read(fd, buf + *have, cap - 1 - *have);
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    size_t cap = 16384;
    char *buf = malloc(cap);
    char req[512];
    int fd = -1;
    size_t have = 0;
    uint64_t k = id;
    while (buf && !atomic_load(&g_stop)) {
        if (fd < 0) {
            fd = dial();
            have = 0;
            if (fd < 0) {
                atomic_fetch_add(&g_errs, 1);
                usleep(10000);
                continue;
            }
        }
        int n;
        if (g_notes) {
            uint64_t i = (k / 5) % g_notes, part = k % 5;
            if (part == 0)
                n = snprintf(req, sizeof req,
                             "GET /global/block/head/durable/wasm_2_0_0/value?key=/tzel/v1/state/"
                             "notes/%016llx/len HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                             (unsigned long long)i);
            else
                n = snprintf(req, sizeof req,
                             "GET /global/block/head/durable/wasm_2_0_0/value?key=/tzel/v1/state/"
                             "notes/%016llx/chunk/%08llx HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                             (unsigned long long)i, (unsigned long long)(part - 1));
        } else {
            n = snprintf(req, sizeof req,
                         "GET /global/block/head/durable/wasm_2_0_0/value?key=/tzel/v1/state/"
                         "tree/size HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        }
        k += g_conns;
        double t0 = now_s();
        if (write(fd, req, (size_t)n) != n || read_response(fd, buf, cap, &have) != 200) {
            atomic_fetch_add(&g_errs, 1);
            close(fd);
            fd = -1;
            continue;
        }
        double ms = (now_s() - t0) * 1000.0;
        size_t b = (size_t)(ms * 10.0);
        atomic_fetch_add(&g_lat[b < LAT_BUCKETS ? b : LAT_BUCKETS], 1);
        atomic_fetch_add(&g_reqs, 1);
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

static double percentile(uint64_t total, double q)
{
    uint64_t want = (uint64_t)((double)total * q), acc = 0;
    for (size_t b = 0; b <= LAT_BUCKETS; b++) {
        acc += atomic_load(&g_lat[b]);
        if (acc > want)
            return (double)b / 10.0;
    }
    return 1000.0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            g_port = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns"))
            g_conns = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            g_seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--notes"))
            g_notes = (unsigned)atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench-simload --port P [--conns C] [--seconds S] [--notes N]\n");
            return 2;
        }
    }
    if (g_conns < 1 || g_conns > 1024)
        g_conns = 8;
    pthread_t *th = calloc(g_conns, sizeof *th);
    if (!th)
        return 1;
    unsigned started = 0;
    double t0 = now_s();
    for (unsigned c = 0; c < g_conns; c++)
        if (pthread_create(&th[started], NULL, worker, (void *)(uintptr_t)c) == 0)
            started++;
    struct timespec ts = {.tv_sec = (time_t)g_seconds,
                          .tv_nsec = (long)((g_seconds - (double)(time_t)g_seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&g_stop, true);
    for (unsigned c = 0; c < started; c++)
        pthread_join(th[c], NULL);
    double el = now_s() - t0;
    free(th);
    uint64_t n = atomic_load(&g_reqs);
    printf("{\"connections\":%u,\"seconds\":%.2f,\"requests\":%llu,\"errors\":%llu,"
           "\"reads_per_sec\":%.0f,\"p50_ms\":%.1f,\"p99_ms\":%.1f}\n",
           started, el, (unsigned long long)n, (unsigned long long)atomic_load(&g_errs),
           (double)n / el, percentile(n, 0.5), percentile(n, 0.99));
    return n > 0 ? 0 : 1;
}
