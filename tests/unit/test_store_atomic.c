/* Atomic durable save under injected failures and simulated crashes at
 * every file-system step (through the fsys table); the sweep of temp files
 * that killed writers left behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/atomic.h"
#include "store/fsys.h"
#include "store/wallet.h"
#include "store/wallet_path.h"
#include "tz_test_util.h"

static char dir[256];

/* ---- an fsys table that fails or crashes at call number `target` ---- */
static int calls, target, fail_errno, crash_mode;
static int paused_fd = -1; /* crash_mode 2: a byte is written here, then pause */
static const char *last_step;
static const char *injected_step; /* the step the failure was injected at */
static int wallet_renamed; /* the rename onto the wallet path succeeded */
static char wallet_path[512];
static int short_writes, zero_write, eexist_left;
static char opened[8][512];
static int n_opened;
static mode_t opened_mode[8];
static int opened_flags[8];

static char trace[512];

static int hook(const char *step)
{
    calls++;
    last_step = step;
    if (strlen(trace) + strlen(step) + 2 < sizeof trace) {
        strcat(trace, step);
        strcat(trace, " ");
    }
    if (calls != target)
        return 0;
    injected_step = step;
    if (crash_mode == 2) { /* a live writer stopped before this step */
        if (write(paused_fd, "p", 1) != 1)
            _exit(4);
        for (;;)
            pause();
    }
    if (crash_mode)
        _exit(0); /* the process dies before this step happens */
    errno = fail_errno;
    return -1;
}

static int f_open(const char *p, int flags, mode_t mode)
{
    if (hook("open"))
        return -1;
    if (eexist_left > 0) {
        eexist_left--;
        errno = EEXIST;
        return -1;
    }
    if (n_opened < 8) {
        snprintf(opened[n_opened], sizeof opened[0], "%s", p);
        opened_mode[n_opened] = mode;
        opened_flags[n_opened] = flags;
        n_opened++;
    }
    return tz_fsys_default()->open(p, flags, mode);
}
static ssize_t f_write(int fd, const void *b, size_t n)
{
    if (hook("write"))
        return -1;
    if (zero_write)
        return 0;
    if (short_writes && n > 3)
        n = 3;
    return tz_fsys_default()->write(fd, b, n);
}
static int f_fsync(int fd) { return hook("fsync") ? -1 : tz_fsys_default()->fsync(fd); }
static int f_fchmod(int fd, mode_t m) { return hook("fchmod") ? -1 : tz_fsys_default()->fchmod(fd, m); }
static int f_close(int fd)
{
    if (hook("close")) {
        tz_fsys_default()->close(fd); /* the descriptor is gone anyway */
        errno = fail_errno;
        return -1;
    }
    return tz_fsys_default()->close(fd);
}
static int f_rename(const char *a, const char *b)
{
    if (hook("rename"))
        return -1;
    int rc = tz_fsys_default()->rename(a, b);
    if (rc == 0 && !strcmp(b, wallet_path))
        wallet_renamed = 1;
    return rc;
}
static int f_unlink(const char *p) { return hook("unlink") ? -1 : tz_fsys_default()->unlink(p); }
static int f_chmod(const char *p, mode_t m) { return hook("chmod") ? -1 : tz_fsys_default()->chmod(p, m); }
static int f_link(const char *a, const char *b) { return hook("link") ? -1 : tz_fsys_default()->link(a, b); }
static int f_fsync_dir(const char *d) { return hook("fsync_dir") ? -1 : tz_fsys_default()->fsync_dir(d); }

static void install(int tgt, int err_no, int crash)
{
    static const tz_fsys t = {.open = f_open,
                              .write = f_write,
                              .fsync = f_fsync,
                              .fchmod = f_fchmod,
                              .chmod = f_chmod,
                              .close = f_close,
                              .rename = f_rename,
                              .link = f_link,
                              .unlink = f_unlink,
                              .fsync_dir = f_fsync_dir};
    calls = 0;
    target = tgt;
    fail_errno = err_no;
    crash_mode = crash;
    wallet_renamed = 0;
    short_writes = zero_write = eexist_left = 0;
    n_opened = 0;
    last_step = injected_step = NULL;
    trace[0] = '\0';
    tz_fsys_set(&t);
}

/* ---- helpers ---- */
static int count_temps(int remove)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strstr(e->d_name, ".tmp.")) {
            n++;
            if (remove) {
                char p[600];
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                unlink(p);
            }
        }
    }
    if (d)
        closedir(d);
    return n;
}

static const char *old_text =
    "{\n"
    "  \"master_sk\": \"0500000000000000000000000000000000000000000000000000000000000000\",\n"
    "  \"addr_counter\": 0,\n"
    "  \"notes\": [],\n"
    "  \"scanned\": 3,\n"
    "  \"keep_me\": {\n"
    "    \"deep\": [\n"
    "      18446744073709551615\n"
    "    ]\n"
    "  }\n"
    "}";

/* Loads the old wallet, changes it, and returns it ready to save. */
static tz_wallet *changed_wallet(void)
{
    tz_test_put_file(wallet_path, old_text, 0600);
    char fpath[600];
    snprintf(fpath, sizeof fpath, "%s.xmss-floor", wallet_path);
    unlink(fpath);
    tz_wallet *w = NULL;
    tz_error err;
    if (tz_wallet_load(wallet_path, &w, &err, NULL) != TZ_OK) {
        fprintf(stderr, "load: %s\n", err.msg);
        exit(2);
    }
    w->scanned = 1000;
    w->addr_counter = 1;
    return w;
}

static void test_atomic_basics(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/plain.txt", dir);
    tz_error err;
    install(0, 0, 0);
    CHECK(tz_atomic_write(path, "hello", 5, 0644, &err) == TZ_OK);
    tz_fsys_set(NULL);
    char *t = tz_test_get_file(path);
    CHECK(t && !strcmp(t, "hello"));
    free(t);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644);
    /* The temp file: same folder, private, exclusive, reference naming. */
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s/.plain.txt.tmp.%ld.", dir, (long)getpid());
    CHECK_MSG(n_opened == 1 && !strncmp(opened[0], prefix, strlen(prefix)), "%s", opened[0]);
    CHECK(opened_mode[0] == 0600);
    CHECK((opened_flags[0] & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL));

    /* Name collisions are retried with another name. */
    install(0, 0, 0);
    eexist_left = 2;
    CHECK(tz_atomic_write(path, "again", 5, 0600, &err) == TZ_OK);
    tz_fsys_set(NULL);
    t = tz_test_get_file(path);
    CHECK(t && !strcmp(t, "again"));
    free(t);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);

    /* Short writes are completed; a write of zero bytes is ENOSPC. */
    install(0, 0, 0);
    short_writes = 1;
    CHECK(tz_atomic_write(path, "0123456789abcdef", 16, 0600, &err) == TZ_OK);
    tz_fsys_set(NULL);
    t = tz_test_get_file(path);
    CHECK(t && !strcmp(t, "0123456789abcdef"));
    free(t);
    install(0, 0, 0);
    zero_write = 1;
    CHECK(tz_atomic_write(path, "xyz", 3, 0600, &err) == TZ_EIO);
    tz_fsys_set(NULL);
    CHECK(strstr(err.msg, strerror(ENOSPC)) != NULL);
    t = tz_test_get_file(path);
    CHECK(t && !strcmp(t, "0123456789abcdef"));
    free(t);
    CHECK(count_temps(0) == 0);

    /* Sixteen collisions in a row: give up, as the reference does. */
    install(0, 0, 0);
    eexist_left = 16;
    CHECK(tz_atomic_write(path, "never", 5, 0600, &err) == TZ_EIO);
    tz_fsys_set(NULL);
    CHECK_MSG(strstr(err.msg, "too many collisions") != NULL, "%s", err.msg);
    CHECK(eexist_left == 0 && n_opened == 0);
    t = tz_test_get_file(path);
    CHECK(t && !strcmp(t, "0123456789abcdef"));
    free(t);

    /* The sixteenth attempt (number 15) is the last one tried. */
    install(0, 0, 0);
    eexist_left = 15;
    CHECK(tz_atomic_write(path, "0123456789abcdef", 16, 0600, &err) == TZ_OK);
    tz_fsys_set(NULL);
    CHECK_MSG(n_opened == 1 && !strcmp(opened[0] + strlen(opened[0]) - 3, ".15"), "%s",
              opened[0]);

    /* A restrictive umask narrows the temp file; the final file gets 0600
     * again after the rename. */
    mode_t old_mask = umask(0277);
    CHECK(tz_atomic_write(path, "masked", 6, 0600, &err) == TZ_OK);
    umask(old_mask);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);

    /* A bare name is saved in the current folder. */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    install(0, 0, 0);
    CHECK(tz_atomic_write("bare.txt", "b", 1, 0600, &err) == TZ_OK);
    tz_fsys_set(NULL);
    CHECK_MSG(n_opened == 1 && !strncmp(opened[0], "./.bare.txt.tmp.", 16), "%s", opened[0]);
    CHECK(chdir(cwd) == 0);
    char bare[600];
    snprintf(bare, sizeof bare, "%s/bare.txt", dir);
    t = tz_test_get_file(bare);
    CHECK(t && !strcmp(t, "b"));
    free(t);
    CHECK(count_temps(0) == 0);

    /* A folder that does not exist: EIO naming the path, nothing created. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope/x.json", dir);
    CHECK(tz_atomic_write(missing, "x", 1, 0600, &err) == TZ_EIO);
    CHECK(strstr(err.msg, missing) != NULL);
}

/* A save failing at each file-system call in turn (EIO and ENOSPC). */
static void test_fail_every_step(void)
{
    tz_error err;
    tz_wallet *w = changed_wallet();
    install(0, 0, 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    int total = calls;
    tz_fsys_set(NULL);
    char *new_text = tz_test_get_file(wallet_path);
    tz_wallet_free(w);
    /* The durable sequence, for the wallet and then for its floor. */
    CHECK_MSG(!strcmp(trace, "open write fsync close rename chmod fsync_dir "
                             "open write fsync close rename chmod fsync_dir "),
              "%s", trace);

    /* Every kind of step of the durable sequence is made to fail. */
    char failed_kinds[256] = " ";
    for (int k = 1; k <= total; k++) {
        for (int e = 0; e < 2; e++) {
            w = changed_wallet();
            install(k, e ? ENOSPC : EIO, 0);
            tz_status st = tz_wallet_save(w, &err);
            const char *step = last_step;
            int renamed = wallet_renamed;
            tz_fsys_set(NULL);
            /* The failing call is the k-th; every later call is cleanup. */
            CHECK_MSG(st == TZ_EIO, "step %d: status %d", k, st);
            CHECK_MSG(strstr(err.msg, strerror(e ? ENOSPC : EIO)) != NULL, "step %d: %s", k,
                      err.msg);
            char *now = tz_test_get_file(wallet_path);
            if (renamed)
                CHECK_MSG(now && new_text && !strcmp(now, new_text), "step %d (%s)", k, step);
            else
                CHECK_MSG(now && !strcmp(now, old_text), "step %d (%s): old file changed", k,
                          step);
            free(now);
            CHECK_MSG(count_temps(1) == 0, "step %d: temp file left", k);
            /* Whatever failed, the wallet still loads. */
            tz_wallet *again = NULL;
            CHECK_MSG(tz_wallet_load(wallet_path, &again, &err, NULL) == TZ_OK, "step %d: %s",
                      k, err.msg);
            tz_wallet_free(again);
            tz_wallet_free(w);
            char kind[32];
            snprintf(kind, sizeof kind, "%s ", injected_step ? injected_step : "?");
            if (!strstr(failed_kinds, kind) && strlen(failed_kinds) + strlen(kind) < 255)
                strcat(failed_kinds, kind);
        }
    }
    static const char *const kinds[] = {"open", "write", "fsync", "close", "rename", "chmod",
                                        "fsync_dir"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char kind[32];
        snprintf(kind, sizeof kind, " %s ", kinds[i]);
        CHECK_MSG(strstr(failed_kinds, kind) != NULL, "no failure injected at %s (failed:%s)",
                  kinds[i], failed_kinds);
    }
    free(new_text);
}

/* A crash before each file-system call: the wallet is the old file or the
 * new one, never a mix, and it loads. */
static void test_crash_every_step(void)
{
    tz_error err;
    tz_wallet *w = changed_wallet();
    install(0, 0, 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    int total = calls;
    tz_fsys_set(NULL);
    char *new_text = tz_test_get_file(wallet_path);
    tz_wallet_free(w);
    int saw_old = 0, saw_new = 0;
    for (int k = 1; k <= total + 1; k++) {
        w = changed_wallet();
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            install(k, 0, 1);
            tz_status st = tz_wallet_save(w, &err);
            _exit(st == TZ_OK ? 0 : 3);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        char *now = tz_test_get_file(wallet_path);
        int is_old = now && !strcmp(now, old_text);
        int is_new = now && new_text && !strcmp(now, new_text);
        CHECK_MSG(is_old || is_new, "crash before call %d: neither old nor new", k);
        saw_old += is_old;
        saw_new += is_new;
        free(now);
        tz_wallet *again = NULL;
        CHECK_MSG(tz_wallet_load(wallet_path, &again, &err, NULL) == TZ_OK, "crash %d: %s", k,
                  err.msg);
        tz_wallet_free(again);
        tz_wallet_free(w);
        count_temps(1); /* a crash may leave a temp file: that is expected */
    }
    CHECK(saw_old > 0 && saw_new > 0);
    free(new_text);
}

/* An unchanged floor is not rewritten; a changed or missing one is. */
static void test_floor_skip(void)
{
    tz_error err;
    char fpath[600];
    snprintf(fpath, sizeof fpath, "%s.xmss-floor", wallet_path);
    tz_wallet *w = changed_wallet();
    install(0, 0, 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    CHECK(calls == 14);
    w->scanned++;
    install(0, 0, 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    CHECK_MSG(!strcmp(trace, "open write fsync close rename chmod fsync_dir "), "%s", trace);
    w->addr_counter++; /* the floor changes */
    install(0, 0, 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    CHECK(calls == 14);
    unlink(fpath); /* someone removed it */
    install(0, 0, 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    CHECK(calls == 14);
    tz_fsys_set(NULL);
    char *t = tz_test_get_file(fpath);
    CHECK(t && strstr(t, "\"addr_counter\": 2"));
    free(t);
    /* A failed floor write is retried by the next save. */
    w->addr_counter++;
    install(9, EIO, 0); /* the floor's fsync (call 9) */
    CHECK(tz_wallet_save(w, &err) == TZ_EIO);
    install(0, 0, 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    CHECK(calls == 14);
    tz_fsys_set(NULL);
    t = tz_test_get_file(fpath);
    CHECK(t && strstr(t, "\"addr_counter\": 3"));
    free(t);
    tz_wallet_free(w);
}

/* A reader process loading the wallet throughout many saves always gets a
 * complete wallet (old or new), never a parse error. */
static void test_concurrent_reader(void)
{
    tz_error err;
    tz_wallet *w = changed_wallet();
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    int saves = tz_test_sanitized() ? 60 : 200;
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(NULL);
    pid_t r = fork();
    if (r == 0) {
        close(pfd[1]);
        int flags = fcntl(pfd[0], F_GETFL);
        fcntl(pfd[0], F_SETFL, flags | O_NONBLOCK);
        long loads = 0;
        for (;;) {
            tz_wallet *rw = NULL;
            tz_error rerr;
            if (tz_wallet_load(wallet_path, &rw, &rerr, NULL) != TZ_OK) {
                fprintf(stderr, "reader: %s\n", rerr.msg);
                _exit(3);
            }
            if (rw->scanned < 1000) {
                fprintf(stderr, "reader: scanned %llu\n", (unsigned long long)rw->scanned);
                _exit(4);
            }
            tz_wallet_free(rw);
            loads++;
            char c;
            if (read(pfd[0], &c, 1) == 0) /* writer done */
                _exit(loads > 0 ? 0 : 5);
        }
    }
    close(pfd[0]);
    for (int i = 0; i < saves; i++) {
        w->scanned = 1000 + (uint64_t)i;
        if (tz_wallet_save(w, &err) != TZ_OK) {
            CHECK_MSG(0, "save %d: %s", i, err.msg);
            break;
        }
    }
    close(pfd[1]);
    int status = 0;
    waitpid(r, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader status %d", status);
    tz_wallet_free(w);
}

/* ---- sweeping the temp files of killed writers ---- */

static void in_dir(char *out, size_t cap, const char *folder, const char *name)
{
    snprintf(out, cap, "%s/%s", folder, name);
}

static int lexists(const char *folder, const char *name)
{
    char p[700];
    struct stat sb;
    in_dir(p, sizeof p, folder, name);
    return lstat(p, &sb) == 0;
}

static void put(const char *folder, const char *name)
{
    char p[700];
    in_dir(p, sizeof p, folder, name);
    tz_test_put_file(p, "{\"master_sk\": \"secret\"}", 0600);
}

/* Only the exact temp names of dead PIDs go; regular files only. */
static void test_sweep_names(void)
{
    char sd[400], w[500], name[300], victim[700];
    snprintf(sd, sizeof sd, "%s/sweep", dir);
    CHECK(mkdir(sd, 0700) == 0);
    in_dir(w, sizeof w, sd, "w.json");
    put(sd, "w.json");
    long dead = (long)tz_test_dead_pid(), dead2 = (long)tz_test_dead_pid();
    pid_t live = tz_test_live_child();

    /* Removed: dead writers' temp files of w.json. */
    const char *gone_fmt[] = {".w.json.tmp.%ld.1712345678901234567.0",
                              ".w.json.tmp.%ld.5.15"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(name, sizeof name, gone_fmt[i], i ? dead2 : dead);
        put(sd, name);
    }
    /* Kept: live writers (a child, ourselves). */
    char live_name[100], own_name[100];
    snprintf(live_name, sizeof live_name, ".w.json.tmp.%ld.99.0", (long)live);
    snprintf(own_name, sizeof own_name, ".w.json.tmp.%ld.99.1", (long)getpid());
    put(sd, live_name);
    put(sd, own_name);
    /* Kept: anything else, even with a dead PID. */
    const char *kept_fmt[] = {
        ".w.json.tmp.%ld.1",          /* a field missing */
        ".w.json.tmp.%ld.1.0.2",      /* a field too many */
        ".w.json.tmp.%ld.1.0~",       /* trailing garbage */
        ".w.json.tmp.%ld..0",         /* an empty field */
        ".w.json.tmp.%ld.1.x",        /* not digits */
        ".w.json.tmp.0%ld.1.0",       /* a PID with a leading zero */
        ".w.json.tmp.+%ld.1.0",       /* a sign */
        ".w.json.TMP.%ld.1.0",        /* another tag */
        "w.json.tmp.%ld.1.0",         /* no leading dot */
        ".x.json.tmp.%ld.1.0",        /* another file's */
        "..w.json.tmp.%ld.1.0",
        ".w.json.xmss-floor.tmp.%ld.1.0", /* a companion's: not this sweep's */
        ".w.jso.tmp.%ld.1.0",
        ".w.json.tmp.%ld.123456789012345678901.0", /* a field longer than a u64 */
    };
    size_t nkept = sizeof kept_fmt / sizeof kept_fmt[0];
    for (size_t i = 0; i < nkept; i++) {
        snprintf(name, sizeof name, kept_fmt[i], dead);
        put(sd, name);
    }
    put(sd, ".w.json.tmp.0.1.0");          /* PID 0 */
    put(sd, ".w.json.tmp.99999999999.1.0"); /* beyond pid_t */
    put(sd, ".w.json.tmp.4294967297.1.0");  /* wraps to 1 in 32 bits */
    /* A folder with a temp name: left alone, with its content. */
    char dname[100], inner[700];
    snprintf(dname, sizeof dname, ".w.json.tmp.%ld.7.0", dead);
    in_dir(inner, sizeof inner, sd, dname);
    CHECK(mkdir(inner, 0700) == 0);
    put(inner, "keep");
    /* A symlink with a temp name: not followed, not removed. */
    char lname[100];
    in_dir(victim, sizeof victim, sd, "victim");
    put(sd, "victim");
    snprintf(lname, sizeof lname, ".w.json.tmp.%ld.8.0", dead);
    in_dir(inner, sizeof inner, sd, lname);
    CHECK(symlink(victim, inner) == 0);

    size_t removed = 99;
    tz_error err = {0};
    CHECK_MSG(tz_atomic_sweep_stale(w, &removed, &err) == TZ_OK, "%s", err.msg);
    CHECK_MSG(removed == 2, "removed %zu", removed);
    for (size_t i = 0; i < 2; i++) {
        snprintf(name, sizeof name, gone_fmt[i], i ? dead2 : dead);
        CHECK_MSG(!lexists(sd, name), "%s not removed", name);
    }
    CHECK(lexists(sd, live_name) && lexists(sd, own_name));
    for (size_t i = 0; i < nkept; i++) {
        snprintf(name, sizeof name, kept_fmt[i], dead);
        CHECK_MSG(lexists(sd, name), "%s removed", name);
    }
    CHECK(lexists(sd, ".w.json.tmp.0.1.0") && lexists(sd, ".w.json.tmp.99999999999.1.0") &&
          lexists(sd, ".w.json.tmp.4294967297.1.0"));
    in_dir(inner, sizeof inner, sd, dname);
    CHECK(lexists(inner, "keep"));
    CHECK(lexists(sd, lname) && lexists(sd, "victim") && lexists(sd, "w.json"));

    /* Again: nothing left to remove. */
    CHECK(tz_atomic_sweep_stale(w, &removed, &err) == TZ_OK && removed == 0);
    /* Once the live writer is gone, its file goes too. */
    tz_test_reap(live);
    CHECK(tz_atomic_sweep_stale(w, &removed, &err) == TZ_OK && removed == 1);
    CHECK(!lexists(sd, live_name) && lexists(sd, own_name));

    /* The wallet sweep covers every companion written atomically. */
    const char *companions[] = {".w.json.tmp.%ld.1.0", ".w.json.xmss-floor.tmp.%ld.1.0",
                                ".w.json.network.json.tmp.%ld.2.0", ".w.json.yield.tmp.%ld.3.0"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(name, sizeof name, companions[i], dead2);
        put(sd, name);
    }
    CHECK(tz_wallet_path_sweep(w, &removed, &err) == TZ_OK);
    /* the four above, and the floor's temp among the names kept before */
    CHECK_MSG(removed == 5, "removed %zu", removed);
    for (size_t i = 0; i < 4; i++) {
        snprintf(name, sizeof name, companions[i], dead2);
        CHECK_MSG(!lexists(sd, name), "%s not removed", name);
    }
    CHECK(lexists(sd, own_name) && lexists(sd, "w.json"));

    /* No folder: nothing to do. A path naming no file: refused. */
    char nowhere[600];
    snprintf(nowhere, sizeof nowhere, "%s/missing/w.json", sd);
    CHECK(tz_atomic_sweep_stale(nowhere, &removed, &err) == TZ_OK && removed == 0);
    CHECK(tz_atomic_sweep_stale("some/dir/", &removed, &err) == TZ_EINVAL);
    tz_test_rmtree(sd);
}

/* A real writer stopped inside a save keeps its temp file while it lives;
 * killed, its file is removed by the next sweep. A writer that died just
 * before its rename leaves the same kind of file. */
static void test_sweep_killed_writer(void)
{
    tz_error err = {0};
    tz_wallet *w = changed_wallet();
    install(0, 0, 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    /* The wallet's own rename: the first in the trace. */
    int rename_call = 0, k = 0;
    for (const char *p = trace; *p; k++) {
        if (!strncmp(p, "rename ", 7)) {
            rename_call = k + 1;
            break;
        }
        p = strchr(p, ' ') + 1;
    }
    tz_fsys_set(NULL);
    CHECK(rename_call > 1);
    count_temps(1);
    char before[1 << 14];
    char *t = tz_test_get_file(wallet_path);
    snprintf(before, sizeof before, "%s", t ? t : "");
    free(t);

    for (int mode = 1; mode <= 2; mode++) {
        int pfd[2];
        CHECK(pipe(pfd) == 0);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            paused_fd = pfd[1];
            install(rename_call, 0, mode);
            w->scanned = 5000;
            _exit(tz_wallet_save(w, &err) == TZ_OK ? 0 : 3);
        }
        close(pfd[1]);
        size_t removed = 9;
        if (mode == 2) {
            char c;
            CHECK(read(pfd[0], &c, 1) == 1); /* stopped before its rename */
            CHECK(count_temps(0) == 1);
            CHECK(tz_wallet_path_sweep(wallet_path, &removed, &err) == TZ_OK && removed == 0);
            CHECK_MSG(count_temps(0) == 1, "a live writer's temp file was removed");
            kill(pid, SIGKILL);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        close(pfd[0]);
        CHECK(count_temps(0) == 1);
        CHECK(tz_wallet_path_sweep(wallet_path, &removed, &err) == TZ_OK);
        CHECK_MSG(removed == 1 && count_temps(0) == 0, "mode %d: removed %zu, left %d", mode,
                  removed, count_temps(0));
        t = tz_test_get_file(wallet_path);
        CHECK_MSG(t && !strcmp(t, before), "mode %d: the wallet changed", mode);
        free(t);
    }
    tz_wallet_free(w);
}

int main(void)
{
    if (tz_test_mkdtemp(dir, sizeof dir, "store-atomic") != 0)
        return 2;
    snprintf(wallet_path, sizeof wallet_path, "%s/wallet.json", dir);
    test_atomic_basics();
    test_fail_every_step();
    test_crash_every_step();
    test_floor_skip();
    test_concurrent_reader();
    test_sweep_names();
    test_sweep_killed_writer();
    tz_test_rmtree(dir);
    return tz_test_done("store_atomic");
}
