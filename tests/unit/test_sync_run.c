/* tz_sync_run on its own: the engine (no CLI) against a real simulator
 * process, for a wallet built here: it finds exactly the paid notes in
 * leaf order with a checkpoint every K leaves, verifies the root, keeps a
 * spend path per note, yields to a live sentinel after its first batch,
 * resumes, and returns to the verified state when a leaf was forged. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/keys.h"
#include "core/witness.h"
#include "rpc/rpc.h"
#include "store/wallet.h"
#include "sync/sync.h"
#include "tz_test_util.h"

static char dir[256], url[128];
static pid_t sim_pid;

static const char *SK = "0000000000000000000000000000000000000000000000000000000000000101";
static const char *ROOT = "0000000000000000000000000000000000000000000000000000000000000202";

/* Runs `cmd` (a shell line) and returns its stdout (malloc'd). */
static char *run_out(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    return pclose(p) == 0 ? strdup(buf) : NULL;
}

/* Starts tzel-rollup-sim paying address 0 of SK `pays` notes among `leaves`. */
static int start_sim(const char *bin, int leaves, int pays)
{
    char cmd[1024], addr[512];
    snprintf(addr, sizeof addr, "%s/addr.json", dir);
    snprintf(cmd, sizeof cmd, "%s --make-address %s:0:%s", bin, SK, ROOT);
    char *a = run_out(cmd);
    if (!a)
        return -1;
    tz_test_put_file(addr, a, 0600);
    free(a);
    int fds[2];
    if (pipe(fds))
        return -1;
    char leaves_s[16], pay[600];
    snprintf(leaves_s, sizeof leaves_s, "%d", leaves);
    snprintf(pay, sizeof pay, "%s:%d", addr, pays);
    sim_pid = fork();
    if (sim_pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        execl(bin, bin, "--port", "0", "--leaves", leaves_s, "--pay", pay, "--seed", "syncrun",
              "--threads", "2", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *u = strstr(line, "listening on ");
        if (u) {
            snprintf(url, sizeof url, "%s", u + 13);
            url[strcspn(url, "\n")] = '\0';
            return 0; /* the pipe stays open: the simulator may keep writing */
        }
    }
    return -1;
}

/* POST /sim/<op> with a JSON body to the simulator's control API (a
 * minimal HTTP/1.1 client: one request, connection closed); true on 200. */
static bool sim_post(const char *op, const char *body)
{
    int port = atoi(strrchr(url, ':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    char req[1024], resp[256] = "";
    int n = snprintf(req, sizeof req,
                     "POST /sim/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     op, strlen(body), body);
    bool ok = send(fd, req, (size_t)n, MSG_NOSIGNAL) == n;
    ssize_t got = ok ? recv(fd, resp, sizeof resp - 1, MSG_WAITALL) : -1;
    close(fd);
    return got > 12 && !strncmp(resp + 9, "200", 3);
}

/* A wallet of SK with address 0's record (auth_root ROOT), saved at `path`. */
static tz_wallet *make_wallet(const char *path)
{
    tz_felt sk, root;
    CHECK(tz_felt_from_hex(&sk, SK) == TZ_OK && tz_felt_from_hex(&root, ROOT) == TZ_OK);
    tz_keys keys;
    tz_addr_keys ak;
    tz_keys_derive(&keys, &sk);
    tz_addr_keys_derive(&ak, &keys, 0);
    tz_wallet_address a = {.index = 0, .d_j = ak.d_j, .auth_root = root,
                           .auth_pub_seed = ak.auth_pub_seed, .nk_tag = ak.nk_tag};
    tz_addr_keys_wipe(&ak);
    tz_keys_wipe(&keys);
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_new(path, &sk, &w, &err) == TZ_OK);
    CHECK(w && tz_wallet_add_address(w, &a) == TZ_OK);
    if (w)
        w->addr_counter = 1;
    CHECK(w && tz_wallet_save(w, &err) == TZ_OK);
    return w;
}

typedef struct seen {
    int found, checkpoints, yields;
    uint64_t last_index, last_checkpoint;
    bool in_order;
} seen;

static void on_event(void *ctx, const tz_sync_event *ev)
{
    seen *s = ctx;
    if (ev->type == TZ_SYNC_EV_FOUND) {
        s->in_order = s->in_order && (s->found == 0 || ev->index > s->last_index);
        s->last_index = ev->index;
        s->found++;
    } else if (ev->type == TZ_SYNC_EV_CHECKPOINT) {
        s->checkpoints++;
        s->last_checkpoint = ev->scanned;
    } else if (ev->type == TZ_SYNC_EV_YIELD) {
        s->yields++;
    }
}

static tz_status sync_once(tz_wallet *w, tz_rpc *rpc, uint64_t k, seen *s, tz_sync_result *res,
                           tz_error *err)
{
    tz_sync_config cfg = {.checkpoint_every = k, .concurrency = 8, .threads = 2};
    tz_sync_hooks hooks = {.on_event = on_event, .ctx = s};
    memset(s, 0, sizeof *s);
    s->in_order = true;
    return tz_sync_run(w, rpc, &cfg, &hooks, res, err);
}

static void test_run(void)
{
    char path[512], yield[600];
    snprintf(path, sizeof path, "%s/w.json", dir);
    snprintf(yield, sizeof yield, "%s.yield", path);
    tz_wallet *w = make_wallet(path);
    tz_error err = {0};
    tz_rpc *rpc = tz_rpc_new(url, 8, &err);
    CHECK(rpc != NULL);
    if (!w || !rpc)
        return;
    seen s;
    tz_sync_result res;

    /* A live sentinel (ours) at the start: one batch, then the yield. */
    char mine[32];
    snprintf(mine, sizeof mine, "%ld\n", (long)getpid());
    tz_test_put_file(yield, mine, 0600);
    CHECK(sync_once(w, rpc, 50, &s, &res, &err) == TZ_OK);
    CHECK_MSG(res.yielded && s.yields == 1 && res.scanned == 50 && !res.finalized,
              "yielded %d scanned %llu", res.yielded, (unsigned long long)res.scanned);
    unlink(yield);
    tz_wallet_free(w);
    w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK && w && w->scanned == 50);
    if (!w)
        return;

    /* Resumed: the rest, a checkpoint every 50, the notes in leaf order. */
    CHECK(sync_once(w, rpc, 50, &s, &res, &err) == TZ_OK);
    CHECK_MSG(res.finalized && res.verified && res.scanned == 300 && res.tree_size == 300,
              "%s", err.msg);
    CHECK(s.in_order && s.checkpoints >= 5 && s.last_checkpoint == 300);
    CHECK_MSG(w->n_notes == 4, "%zu notes", w->n_notes);
    CHECK(w->sync.n_witnesses == w->n_notes);
    for (size_t i = 0; i < w->sync.n_witnesses; i++) {
        tz_felt r;
        tz_witness_root(&w->sync.witnesses[i], &r);
        CHECK(tz_felt_eq(&r, &res.root));
    }
    /* Idempotent: nothing new, nothing doubled. */
    CHECK(sync_once(w, rpc, 50, &s, &res, &err) == TZ_OK && res.found == 0 && w->n_notes == 4);

    /* A forged leaf past the verified state: back to it, then repaired. */
    CHECK(sim_post("append", "{\"count\":40}"));
    CHECK(sim_post("fault", "{\"tamper_note\":320}"));
    CHECK(sync_once(w, rpc, 10, &s, &res, &err) == TZ_EMISMATCH);
    CHECK_MSG(strstr(err.msg, "returned to its last verified state") && w->scanned == 300,
              "%s", err.msg);
    CHECK(sim_post("fault/clear", "{}"));
    CHECK(sync_once(w, rpc, 10, &s, &res, &err) == TZ_OK && res.verified && w->scanned == 340);
    CHECK(w->n_notes == 4 && w->sync.n_witnesses == 4);
    tz_wallet_free(w);
    tz_rpc_free(rpc);
}

int main(void)
{
    const char *bindir = getenv("TZ_BIN_DIR");
    if (!bindir) {
        fprintf(stderr, "TZ_BIN_DIR is not set (ctest sets it)\n");
        return 2;
    }
    if (tz_test_mkdtemp(dir, sizeof dir, "sync-run") != 0)
        return 2;
    char bin[512];
    snprintf(bin, sizeof bin, "%s/tzel-rollup-sim", bindir);
    CHECK(start_sim(bin, 300, 4) == 0);
    if (sim_pid > 0 && url[0])
        test_run();
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
    }
    tz_test_rmtree(dir);
    return tz_test_done("sync_run");
}
