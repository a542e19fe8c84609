/* tzel-walletd: keeps one wallet synced in the background and runs the
 * operations a user asks for over a local HTTP API, preempting the sync
 * through the cooperative-yield sentinel (docs/daemon.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "config.h"
#include "fast.h"
#include "http.h"
#include "lanes.h"
#include "store/wallet_path.h"
#include "net/listen.h"
#include "net/token.h"

enum {
    EXIT_OK_ = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_WALLET = 3,
    EXIT_IO = 7, /* as tzel-wallet (base/exit.h): a file could not be written */
};

static const char usage[] =
    "usage: tzel-walletd --wallet PATH [options]\n"
    "\n"
    "Keeps the wallet synced in the background (tzel-wallet sync) and serves a\n"
    "local HTTP API and status page; operations that need the wallet lock make\n"
    "the sync yield (cooperative-yield sentinel <wallet>.yield).\n"
    "\n"
    "options:\n"
    "  -w, --wallet PATH          the wallet file (required)\n"
    "  --listen HOST:PORT         address to serve on (default 127.0.0.1:8933;\n"
    "                             port 0 picks a free port)\n"
    "  --allow-remote             allow a non-loopback --listen address\n"
    "  --token-file FILE          bearer token file, created 0600 on first start\n"
    "                             (default <wallet>.walletd-token)\n"
    "  --interval-secs N          pause between syncs once at the head (default 10)\n"
    "  --wallet-bin PATH          tzel-wallet to run (default: next to tzel-walletd)\n"
    "  --job-timeout-secs N       stop a job's command after N s (default 300)\n"
    "  --lock-timeout-secs N      a job waits at most N s for the wallet lock (default 60)\n"
    "  --yield-timeout-secs N     stop a sync that has not yielded N s after a job\n"
    "                             asked it to (default 60)\n"
    "  --rpc-timeout-secs N       passed to each sync: the longest one request to the\n"
    "                             rollup node may take (default 30)\n"
    "  --request-timeout-secs N   a client must send its whole request (headers and\n"
    "                             body) within N s of connecting or of its previous\n"
    "                             answer, however it trickles (default 10)\n"
    "  --reprove-bin BIN, --executables-dir DIR, --proving-service-url URL\n"
    "                             the prover of the spends (send, unshield, shield),\n"
    "                             given to each job's tzel-wallet; a job's own\n"
    "                             options after its command still win\n"
    "  -h, --help                 this text\n"
    "\n"
    "The environment (TZEL_ROLLUP_NODE_URL, TZEL_SYNC_CHECKPOINT_EVERY,\n"
    "TZEL_SYNC_CONCURRENCY, TZEL_SYNC_THREADS) is passed to tzel-wallet.\n"
    "SIGTERM or SIGINT: stop accepting jobs, stop the sync, exit 0.\n"
    "\n"
    "exit codes: 0 stopped cleanly, 1 failure, 2 usage, 3 wallet or token file,\n"
    "7 the token file could not be written\n";

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* HTTP connections served at once, when the open-file limit allows. */
#define CONNECTIONS_WANTED 1024u
/* Descriptors kept for everything else: the listener, the event loop,
 * the children's pipes, inotify, the token and sentinel files. */
#define FDS_RESERVED 64u

/* Raises the open-file limit toward what CONNECTIONS_WANTED needs (up to
 * the hard limit) and returns how many connections fit under it. */
static unsigned connections_allowed(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 64;
    rlim_t want = CONNECTIONS_WANTED + FDS_RESERVED;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = old;
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
        return rl.rlim_cur > FDS_RESERVED + 16 ? (unsigned)(rl.rlim_cur - FDS_RESERVED) : 16;
    return CONNECTIONS_WANTED;
}

static char *default_wallet_bin(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = '\0';
    char *dir = dirname(self);
    char *out = NULL;
    if (asprintf(&out, "%s/tzel-wallet", dir) < 0)
        return NULL;
    return out;
}

int main(int argc, char **argv)
{
    tz_wd_config cfg = {.interval_secs = 10,
                        .job_timeout_secs = 300,
                        .lock_timeout_secs = 60,
                        .yield_timeout_secs = 60,
                        .request_timeout_secs = 10};
    const char *listen_spec = "127.0.0.1:8933";
    const char *token_file = NULL;
    bool allow_remote = false;
    enum { O_LISTEN = 256, O_TOKEN, O_INTERVAL, O_REMOTE, O_BIN, O_JOBT, O_LOCKT, O_YIELDT,
           O_RPCT, O_REQT, O_REPROVE, O_EXEDIR, O_PROVSVC };
    static const struct option longopts[] = {
        {"wallet", required_argument, NULL, 'w'},
        {"listen", required_argument, NULL, O_LISTEN},
        {"token-file", required_argument, NULL, O_TOKEN},
        {"interval-secs", required_argument, NULL, O_INTERVAL},
        {"allow-remote", no_argument, NULL, O_REMOTE},
        {"wallet-bin", required_argument, NULL, O_BIN},
        {"job-timeout-secs", required_argument, NULL, O_JOBT},
        {"lock-timeout-secs", required_argument, NULL, O_LOCKT},
        {"yield-timeout-secs", required_argument, NULL, O_YIELDT},
        {"rpc-timeout-secs", required_argument, NULL, O_RPCT},
        {"request-timeout-secs", required_argument, NULL, O_REQT},
        {"reprove-bin", required_argument, NULL, O_REPROVE},
        {"executables-dir", required_argument, NULL, O_EXEDIR},
        {"proving-service-url", required_argument, NULL, O_PROVSVC},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+w:h", longopts, NULL)) != -1) {
        int *target = NULL;
        const char *what = NULL;
        switch (opt) {
        case 'w': cfg.wallet_path = optarg; break;
        case O_LISTEN: listen_spec = optarg; break;
        case O_TOKEN: token_file = optarg; break;
        case O_REMOTE: allow_remote = true; break;
        case O_BIN: cfg.wallet_bin = optarg; break;
        case O_REPROVE: cfg.reprove_bin = optarg; break;
        case O_EXEDIR: cfg.executables_dir = optarg; break;
        case O_PROVSVC: cfg.proving_service_url = optarg; break;
        case O_INTERVAL: target = &cfg.interval_secs; what = "--interval-secs"; break;
        case O_JOBT: target = &cfg.job_timeout_secs; what = "--job-timeout-secs"; break;
        case O_LOCKT: target = &cfg.lock_timeout_secs; what = "--lock-timeout-secs"; break;
        case O_YIELDT: target = &cfg.yield_timeout_secs; what = "--yield-timeout-secs"; break;
        case O_RPCT: target = &cfg.rpc_timeout_secs; what = "--rpc-timeout-secs"; break;
        case O_REQT: target = &cfg.request_timeout_secs; what = "--request-timeout-secs"; break;
        case 'h': fputs(usage, stdout); return EXIT_OK_;
        default:
            fprintf(stderr,
                    "tzel-walletd: error: unknown option or missing value: %s (see "
                    "tzel-walletd --help)\n",
                    argv[optind - 1]);
            return EXIT_USAGE;
        }
        if (target && !parse_int(optarg, target == &cfg.interval_secs ? 0 : 1, 86400, target)) {
            fprintf(stderr, "tzel-walletd: error: %s must be a whole number of seconds, got \"%s\"\n",
                    what, optarg);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tzel-walletd: error: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!cfg.wallet_path) {
        fprintf(stderr, "tzel-walletd: error: --wallet PATH is required\n%s", usage);
        return EXIT_USAGE;
    }

    struct sockaddr_storage ss;
    char host[256], why[256];
    if (!tz_listen_parse(listen_spec, &ss, host, sizeof host, why, sizeof why)) {
        fprintf(stderr, "tzel-walletd: error: --listen %s: %s\n", listen_spec, why);
        return EXIT_USAGE;
    }
    if (!tz_listen_is_loopback(&ss) && !allow_remote) {
        fprintf(stderr,
                "tzel-walletd: error: refusing to listen on %s: not a loopback address; the API "
                "controls a wallet, so expose it only on purpose with --allow-remote\n",
                host);
        return EXIT_USAGE;
    }

    if (!tz_listen_is_loopback(&ss))
        fprintf(stderr,
                "tzel-walletd: warning: serving on %s, which is not a loopback address: anyone "
                "who can reach it and holds the token controls this wallet, over plain HTTP\n",
                host);

    /* Resolved once, like tzel-wallet does: the sentinel, the lock we
     * watch, the token and the path given to every child are then named
     * after the same file as the children's own lock and floor. */
    char *wallet_owned = NULL;
    bool wallet_exists = false;
    tz_error err = {0};
    if (tz_wallet_path_resolve(cfg.wallet_path, &wallet_owned, &wallet_exists, &err) != TZ_OK) {
        fprintf(stderr, "tzel-walletd: error: %s\n", err.msg);
        return EXIT_WALLET;
    }
    if (!wallet_exists && strcmp(wallet_owned, cfg.wallet_path)) {
        fprintf(stderr,
                "tzel-walletd: error: wallet path %s is a symlink to %s, which does not exist "
                "(a dangling link: fix the link, or pass --wallet PATH)\n",
                cfg.wallet_path, wallet_owned);
        free(wallet_owned);
        return EXIT_WALLET;
    }
    cfg.wallet_path = wallet_owned;
    struct stat sb;
    if (stat(cfg.wallet_path, &sb) != 0) {
        fprintf(stderr,
                "tzel-walletd: error: no wallet at %s (%s); create one with `tzel-wallet -w %s "
                "init`\n",
                cfg.wallet_path, strerror(errno), cfg.wallet_path);
        free(wallet_owned);
        return EXIT_WALLET;
    }
    char *bin_owned = NULL;
    if (!cfg.wallet_bin) {
        bin_owned = default_wallet_bin();
        cfg.wallet_bin = bin_owned;
    }
    if (!cfg.wallet_bin || access(cfg.wallet_bin, X_OK) != 0) {
        fprintf(stderr,
                "tzel-walletd: error: cannot execute tzel-wallet at %s; pass --wallet-bin PATH\n",
                cfg.wallet_bin ? cfg.wallet_bin : "(unknown: /proc/self/exe unreadable)");
        free(bin_owned);
        free(wallet_owned);
        return EXIT_FAIL;
    }

    char *token_owned = NULL;
    if (!token_file) {
        if (!(token_owned = tz_path_companion(cfg.wallet_path, TZ_TOKEN_SUFFIX))) {
            free(bin_owned);
            free(wallet_owned);
            return EXIT_FAIL;
        }
        token_file = token_owned;
    }
    static char token[TZ_TOKEN_HEX_LEN + 1];
    tz_status tst = tz_token_load_or_create(token_file, token, &err);
    if (tst != TZ_OK) {
        fprintf(stderr, "tzel-walletd: error: %s\n", err.msg);
        free(token_owned);
        free(bin_owned);
        free(wallet_owned);
        return tst == TZ_EIO ? EXIT_IO : EXIT_WALLET;
    }

    /* Signals are taken synchronously by this thread; every thread created
     * from here on inherits the mask (children get it cleared). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    cfg.max_connections = connections_allowed();
    if (cfg.max_connections < CONNECTIONS_WANTED)
        fprintf(stderr,
                "tzel-walletd: warning: the open-file limit allows %u HTTP connections, not %u "
                "(raise `ulimit -n`)\n",
                cfg.max_connections, CONNECTIONS_WANTED);

    int rc = EXIT_OK_;
    tz_lanes *lanes = NULL;
    tz_http *http = NULL;
    uint16_t port = 0;
    if (tz_lanes_start(&cfg, &lanes, &err) != TZ_OK ||
        tz_http_start(&cfg, lanes, token, (const struct sockaddr *)&ss, &http, &port, &err) !=
            TZ_OK) {
        fprintf(stderr, "tzel-walletd: error: %s (--listen %s)\n", err.msg, listen_spec);
        rc = EXIT_FAIL;
        goto out;
    }
    fprintf(stderr, "tzel-walletd: wallet %s, tzel-wallet %s, token in %s\n", cfg.wallet_path,
            cfg.wallet_bin, token_file);
    if (ss.ss_family == AF_INET6)
        fprintf(stderr, "tzel-walletd listening on http://[%s]:%u\n", host, (unsigned)port);
    else
        fprintf(stderr, "tzel-walletd listening on http://%s:%u\n", host, (unsigned)port);
    fflush(stderr);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
        ;
    fprintf(stderr, "tzel-walletd: %s received, stopping\n", strsignal(sig));
    tz_http_quiesce(http);

out:
    if (lanes)
        tz_lanes_stop(lanes);
    tz_http_stop(http);
    tz_lanes_free(lanes);
    tz_fast_cleanup();
    if (rc == EXIT_OK_)
        fprintf(stderr, "tzel-walletd: stopped\n");
    free(token_owned);
    free(bin_owned);
    free(wallet_owned);
    return rc;
}
