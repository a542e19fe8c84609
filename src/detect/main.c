/* tzel-detect: serves many watch wallets from one pass over the chain
 * (docs/watch.md). Parses the command line, resolves the wallets, the
 * rollup node, the token and the listen address, then runs a background
 * round every --interval-secs until SIGTERM/SIGINT, which ends the round
 * in progress at a checkpoint (exit 0). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
#include "base/num.h"
#include "net/listen.h"
#include "net/token.h"
#include "service.h"
#include "store/profile.h"
#include "store/watch.h"
#include "store/wallet_path.h"

enum { EXIT_OK_ = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_WALLET = 3, EXIT_NETWORK = 5 };

static const char usage[] =
    "Usage: tzel-detect --wallet PATH [--wallet PATH ...] [--bind HOST:PORT]\n"
    "                   [--interval-secs N] [--token-file FILE] [--rollup-node-url URL]\n"
    "                   [--request-timeout-secs N]\n"
    "\n"
    "Serves watch wallets (tzel-wallet watch init) over HTTP and scans the chain for\n"
    "all of them in one pass every N seconds: each leaf is fetched once and tried\n"
    "for every wallet whose cursor is below it.\n"
    "\n"
    "  --wallet PATH          a watch wallet (repeatable); served as ?wallet=<file name>\n"
    "  --bind HOST:PORT       listen address (default 127.0.0.1:8789; port 0 picks one)\n"
    "  --interval-secs N      seconds between background rounds (default 5; 0 counts as 1)\n"
    "  --token-file FILE      bearer token file (created 0600 when missing): every /v1\n"
    "                         route then needs Authorization: Bearer <token>. Without it\n"
    "                         only a loopback --bind is accepted\n"
    "  --rollup-node-url URL  else $TZEL_ROLLUP_NODE_URL, else the first wallet's profile\n"
    "  --request-timeout-secs N  a client must send its whole request (headers and\n"
    "                         body) within N s of connecting or of its previous answer,\n"
    "                         however it trickles (default 10, 1 to 3600)\n"
    "\n"
    "Routes: GET /healthz, GET /v1/status, POST /v1/sync, GET /v1/wallets.\n"
    "Sync tunables: TZEL_SYNC_CHECKPOINT_EVERY, TZEL_SYNC_CONCURRENCY,\n"
    "TZEL_SYNC_MAX_CONCURRENCY, TZEL_SYNC_THREADS (tzel-wallet sync --help).\n"
    "exit codes: 0 stopped cleanly, 1 failure, 2 usage, 3 wallet or token file, 5 node\n";

static tz_detect_svc svc;
static uint64_t interval_secs = 5;

static void fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "tzel-detect: error: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
}

/* Background rounds until stop. */
static void *rounds_main(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&svc.stop, __ATOMIC_SEQ_CST)) {
        tz_error err = {0};
        double t0 = tz_mono_secs();
        tz_status st = tz_detect_round(&svc, 0, NULL, &err);
        fprintf(stderr, "tzel-detect: round %llu: %.2f s\n", (unsigned long long)svc.rounds,
                tz_mono_secs() - t0);
        if (st != TZ_OK && st != TZ_ECANCEL)
            fprintf(stderr, "tzel-detect: round failed: %s\n", err.msg);
        for (uint64_t k = 0; k < interval_secs * 10 && !svc.stop; k++) {
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *bind = "127.0.0.1:8789", *token_file = NULL, *url_flag = NULL;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    size_t n = 0;
    enum { O_WALLET = 256, O_BIND, O_INTERVAL, O_TOKEN, O_URL, O_REQT };
    static const struct option longopts[] = {
        {"wallet", required_argument, NULL, O_WALLET},
        {"bind", required_argument, NULL, O_BIND},
        {"interval-secs", required_argument, NULL, O_INTERVAL},
        {"token-file", required_argument, NULL, O_TOKEN},
        {"rollup-node-url", required_argument, NULL, O_URL},
        {"request-timeout-secs", required_argument, NULL, O_REQT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case O_WALLET: paths[n++] = optarg; break;
        case O_BIND: bind = optarg; break;
        case O_TOKEN: token_file = optarg; break;
        case O_URL: url_flag = optarg; break;
        case O_INTERVAL:
            if (!tz_parse_u64(optarg, 86400, &interval_secs)) {
                fail("--interval-secs must be a whole number of seconds, got \"%s\"%s", optarg,
                     "");
                free(paths);
                return EXIT_USAGE;
            }
            if (interval_secs == 0)
                interval_secs = 1;
            break;
        case O_REQT: {
            uint64_t v = 0;
            if (!tz_parse_u64(optarg, 3600, &v) || v == 0) {
                fail("--request-timeout-secs must be a whole number of seconds from 1 to 3600, "
                     "got \"%s\"%s", optarg, "");
                free(paths);
                return EXIT_USAGE;
            }
            svc.request_timeout_secs = (unsigned)v;
            break;
        }
        case 'h': fputs(usage, stdout); free(paths); return EXIT_OK_;
        default: fputs(usage, stderr); free(paths); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fail("unexpected argument \"%s\"%s", argv[optind], "");
        free(paths);
        return EXIT_USAGE;
    }
    if (n == 0) {
        fail("--wallet PATH is required%s%s", "", "");
        fputs(usage, stderr);
        free(paths);
        return EXIT_USAGE;
    }

    struct sockaddr_storage ss;
    char host[256], why[256];
    if (!tz_listen_parse(bind, &ss, host, sizeof host, why, sizeof why)) {
        fail("--bind %s: %s", bind, why);
        free(paths);
        return EXIT_USAGE;
    }
    if (!token_file && !tz_listen_is_loopback(&ss)) {
        fail("refusing to listen on %s without --token-file: %s", host,
             "the API is open without a token, so it listens on loopback only");
        free(paths);
        return EXIT_USAGE;
    }
    tz_sync_config cfg;
    tz_error err = {0};
    if (tz_sync_config_resolve(NULL, NULL, NULL, NULL, &cfg, &err) != TZ_OK) {
        fail("%s%s", err.msg, "");
        return EXIT_USAGE;
    }

    /* The wallets: resolved once, each must load now. */
    svc.items = calloc(n, sizeof *svc.items);
    svc.names = calloc(n, sizeof *svc.names);
    if (!svc.items || !svc.names)
        return EXIT_FAIL;
    for (size_t i = 0; i < n; i++) {
        char *p = NULL;
        bool exists = false;
        if (tz_wallet_path_resolve(paths[i], &p, &exists, &err) != TZ_OK || !exists) {
            fail("watch wallet %s: %s", paths[i], exists ? err.msg : "no such file");
            return EXIT_WALLET;
        }
        tz_watch *w = NULL;
        if (tz_watch_load(p, &w, &err) != TZ_OK) {
            fail("%s%s", err.msg, "");
            return EXIT_WALLET;
        }
        tz_watch_free(w);
        svc.items[i].path = p;
        const char *slash = strrchr(p, '/');
        svc.names[i] = slash ? slash + 1 : p;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(svc.names[k], svc.names[i])) {
                fail("two wallets are named %s: ?wallet= could not tell them apart%s",
                     svc.names[i], "");
                return EXIT_USAGE;
            }
    }
    svc.n = n;
    svc.cfg = cfg;

    char *url = NULL;
    if (tz_profile_resolve_url(url_flag, svc.items[0].path, &url, NULL, &err) != TZ_OK) {
        fail("%s%s", err.msg, "");
        return err.code == TZ_ENOTFOUND || err.code == TZ_EINVAL ? EXIT_USAGE : EXIT_WALLET;
    }
    if (!(svc.rpc = tz_rpc_new(url, cfg.concurrency, &err))) {
        fail("rollup node %s: %s", url, err.msg);
        return EXIT_USAGE;
    }
    tz_rpc_set_adaptive(svc.rpc, cfg.auto_concurrency);

    static char token[TZ_TOKEN_HEX_LEN + 1];
    if (token_file) {
        if (tz_token_load_or_create(token_file, token, &err) != TZ_OK) {
            fail("%s%s", err.msg, "");
            return EXIT_WALLET;
        }
        svc.token = token;
    }

    /* Signals are taken synchronously by this thread. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&svc.round_mu, NULL);

    uint16_t port = 0;
    if (tz_detect_http_start(&svc, (const struct sockaddr *)&ss, &port, &err) != TZ_OK) {
        fail("--bind %s: %s", bind, err.msg);
        return EXIT_USAGE;
    }
    if (ss.ss_family == AF_INET6)
        printf("Detection service listening on http://[%s]:%u\n", host, port);
    else
        printf("Detection service listening on http://%s:%u\n", host, port);
    fflush(stdout);
    fprintf(stderr, "tzel-detect: %zu watch wallet(s), rollup node %s, a round every %llu s%s\n",
            n, url, (unsigned long long)interval_secs, svc.token ? ", token required" : "");
    free(url);

    pthread_t bg;
    int rc = EXIT_OK_;
    if (pthread_create(&bg, NULL, rounds_main, NULL) != 0) {
        fail("cannot start the round thread%s%s", "", "");
        rc = EXIT_FAIL;
    } else {
        int sig = 0;
        sigwait(&sigs, &sig);
        __atomic_store_n(&svc.stop, 1, __ATOMIC_SEQ_CST);
        pthread_join(bg, NULL);
        fprintf(stderr, "tzel-detect: stopped by signal %d after %llu round(s)\n", sig,
                (unsigned long long)svc.rounds);
    }
    tz_detect_http_stop(&svc);
    tz_rpc_free(svc.rpc);
    for (size_t i = 0; i < n; i++)
        free((char *)svc.items[i].path);
    free(svc.items);
    free(svc.names);
    free(paths);
    return rc;
}
