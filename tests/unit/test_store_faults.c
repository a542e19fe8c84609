/* The disk fault matrix: ENOSPC, EIO and EDQUOT injected (through the fsys
 * table) at each step of every save -- open, write, fsync, rename (or link
 * for the files created exclusively) and the folder fsync -- of the wallet,
 * its floor, the yield sentinel, the lock, the daemon's token file and a
 * watch wallet.
 * Each time: the save fails with TZ_EIO, the message names the step, the
 * file and the error; the file holds its previous content whole (or, once
 * the rename is done, the new content whole; a file being created is
 * absent), it still loads, no temp file is left, and the same save without
 * the fault succeeds. Prints a JSON line with the counts (the README's
 * reliability rows). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/token.h"
#include "store/watch.h"
#include "store/fsys.h"
#include "store/lock.h"
#include "store/sentinel.h"
#include "store/wallet.h"
#include "tz_test_util.h"

static char dir[256];
static char wallet_path[512];

/* ---- an fsys table failing the first `want_step` call on one file ---- */
#define MAX_FD 256
static char fd_subject[MAX_FD]; /* 1: the descriptor is the target's (file or temp) */
static int cur_subject;         /* the last path named belonged to the target */
static const char *want_step;   /* "open", "write", "fsync", "rename", "link", "fsync_dir" */
static int want_errno, injected;
static char target_base[128];   /* e.g. "wallet.json.lock" */

/* The target file itself or one of its temp files ".<base>.tmp.". */
static int is_subject(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t n = strlen(target_base);
    if (!strcmp(name, target_base))
        return 1;
    return name[0] == '.' && !strncmp(name + 1, target_base, n) &&
           !strncmp(name + 1 + n, ".tmp.", 5);
}

static int fail_here(const char *step, int subject)
{
    if (injected || !want_step || strcmp(step, want_step) || !subject)
        return 0;
    injected = 1;
    errno = want_errno;
    return 1;
}

static int f_open(const char *p, int flags, mode_t mode)
{
    cur_subject = is_subject(p);
    if (fail_here("open", cur_subject))
        return -1;
    int fd = tz_fsys_default()->open(p, flags, mode);
    if (fd >= 0 && fd < MAX_FD)
        fd_subject[fd] = (char)cur_subject;
    return fd;
}
static ssize_t f_write(int fd, const void *b, size_t n)
{
    if (fail_here("write", fd >= 0 && fd < MAX_FD && fd_subject[fd]))
        return -1;
    return tz_fsys_default()->write(fd, b, n);
}
static int f_fsync(int fd)
{
    if (fail_here("fsync", fd >= 0 && fd < MAX_FD && fd_subject[fd]))
        return -1;
    return tz_fsys_default()->fsync(fd);
}
static int f_rename(const char *a, const char *b)
{
    cur_subject = is_subject(b);
    if (fail_here("rename", cur_subject))
        return -1;
    return tz_fsys_default()->rename(a, b);
}
static int f_link(const char *a, const char *b)
{
    cur_subject = is_subject(b);
    if (fail_here("link", cur_subject))
        return -1;
    return tz_fsys_default()->link(a, b);
}
static int f_fsync_dir(const char *d)
{
    if (fail_here("fsync_dir", cur_subject))
        return -1;
    return tz_fsys_default()->fsync_dir(d);
}

static void install(const char *base_suffix, const char *step, int err_no)
{
    tz_fsys t = *tz_fsys_default();
    t.open = f_open;
    t.write = f_write;
    t.fsync = f_fsync;
    t.rename = f_rename;
    t.link = f_link;
    t.fsync_dir = f_fsync_dir;
    snprintf(target_base, sizeof target_base, "wallet.json%s", base_suffix);
    memset(fd_subject, 0, sizeof fd_subject);
    cur_subject = 0;
    want_step = step;
    want_errno = err_no;
    injected = 0;
    tz_fsys_set(&t);
}

/* ---- the files and the saves under test ---- */
static const char *old_wallet =
    "{\n"
    "  \"master_sk\": \"0500000000000000000000000000000000000000000000000000000000000000\",\n"
    "  \"addr_counter\": 0,\n"
    "  \"notes\": [],\n"
    "  \"scanned\": 3\n"
    "}";

static void companion(char *out, size_t cap, const char *suffix)
{
    snprintf(out, cap, "%s%s", wallet_path, suffix);
}

static tz_status load_wallet(tz_wallet **w, tz_error *err)
{
    return tz_wallet_load(wallet_path, w, err, NULL);
}

/* The wallet: the old file, then a save of a changed one. */
static void wallet_prepare(void)
{
    char f[600];
    companion(f, sizeof f, ".xmss-floor");
    unlink(f);
    tz_test_put_file(wallet_path, old_wallet, 0600);
}
static tz_status wallet_save(tz_error *err)
{
    tz_wallet *w = NULL;
    tz_status st = load_wallet(&w, err);
    if (st)
        return st;
    w->scanned = 1000;
    st = tz_wallet_save(w, err);
    tz_wallet_free(w);
    return st;
}
static int wallet_valid(const char *text)
{
    tz_wallet *w = NULL;
    tz_error err;
    int ok = text && load_wallet(&w, &err) == TZ_OK;
    tz_wallet_free(w);
    return ok;
}

/* The floor: a floor at addr_counter 1, then a save at 2. */
static void floor_prepare(void)
{
    wallet_prepare();
    tz_wallet *w = NULL;
    tz_error err;
    if (load_wallet(&w, &err) != TZ_OK)
        exit(2);
    w->addr_counter = 1;
    if (tz_wallet_save(w, &err) != TZ_OK) {
        fprintf(stderr, "floor_prepare: %s\n", err.msg);
        exit(2);
    }
    tz_wallet_free(w);
}
static tz_status floor_save(tz_error *err)
{
    tz_wallet *w = NULL;
    tz_status st = load_wallet(&w, err);
    if (st)
        return st;
    w->addr_counter = 2;
    st = tz_wallet_save(w, err);
    tz_wallet_free(w);
    return st;
}
static int json_valid(const char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    int ok = json_is_object(j);
    json_decref(j);
    return ok;
}

/* The sentinel: another PID's, then ours raised over it. */
static void sentinel_prepare(void)
{
    char f[600];
    companion(f, sizeof f, ".yield");
    tz_test_put_file(f, "4242\n", 0600);
}
static tz_status sentinel_save(tz_error *err)
{
    return tz_sentinel_raise(wallet_path, getpid(), err);
}
static int pid_line_valid(const char *text)
{
    return text && strlen(text) > 1 && text[strlen(text) - 1] == '\n' &&
           strspn(text, "0123456789") == strlen(text) - 1;
}

/* The lock: none, then taken (and released again on success). */
static void lock_prepare(void)
{
    char f[600];
    companion(f, sizeof f, ".lock");
    unlink(f);
}
static tz_status lock_save(tz_error *err)
{
    tz_lock *l = NULL;
    tz_status st = tz_lock_acquire(wallet_path, &l, err);
    if (st == TZ_OK) {
        char f[600];
        companion(f, sizeof f, ".lock");
        char *t = tz_test_get_file(f);
        CHECK(pid_line_valid(t));
        free(t);
        tz_lock_release(l);
    }
    return st;
}

/* The daemon's token file: none, then created. */
static void token_prepare(void)
{
    char f[600];
    companion(f, sizeof f, ".walletd-token");
    unlink(f);
}
static tz_status token_save(tz_error *err)
{
    char f[600], tok[TZ_TOKEN_HEX_LEN + 1];
    companion(f, sizeof f, ".walletd-token");
    return tz_token_load_or_create(f, tok, err);
}
static int token_valid(const char *text)
{
    return text && strlen(text) == TZ_TOKEN_HEX_LEN + 1 &&
           strspn(text, "0123456789abcdef") == TZ_TOKEN_HEX_LEN;
}

/* A watch wallet (store/watch.h): a detect file at cursor 12, then a save
 * at 1000. */
static const char *old_watch =
    "{\n"
    "  \"mode\": \"detect\",\n"
    "  \"version\": 1,\n"
    "  \"detect_root\": \"1111111111111111111111111111111111111111111111111111111111111101\",\n"
    "  \"addr_count\": 2,\n"
    "  \"scanned\": 12,\n"
    "  \"matches\": []\n"
    "}";
static void watch_prepare(void)
{
    char f[600];
    companion(f, sizeof f, ".watch.json");
    tz_test_put_file(f, old_watch, 0600);
}
static tz_status watch_save(tz_error *err)
{
    char f[600];
    companion(f, sizeof f, ".watch.json");
    tz_watch *w = NULL;
    tz_status st = tz_watch_load(f, &w, err);
    if (st)
        return st;
    tz_watch_set_scan(w, w->scanned + 988, NULL);
    st = tz_watch_save(w, false, err);
    tz_watch_free(w);
    return st;
}
static int watch_valid(const char *text)
{
    char f[600];
    companion(f, sizeof f, ".watch.json");
    tz_watch *w = NULL;
    tz_error err;
    int ok = text && tz_watch_load(f, &w, &err) == TZ_OK;
    tz_watch_free(w);
    return ok;
}

typedef struct {
    const char *name, *suffix;
    void (*prepare)(void);
    tz_status (*save)(tz_error *err);
    int (*valid)(const char *text); /* the file's content is whole and usable */
    int creates;                    /* created exclusively: link, absent before */
} target;

static const target targets[] = {
    {"wallet", "", wallet_prepare, wallet_save, wallet_valid, 0},
    {"floor", ".xmss-floor", floor_prepare, floor_save, json_valid, 0},
    {"sentinel", ".yield", sentinel_prepare, sentinel_save, pid_line_valid, 0},
    {"lock", ".lock", lock_prepare, lock_save, pid_line_valid, 1},
    {"token", ".walletd-token", token_prepare, token_save, token_valid, 1},
    {"watch", ".watch.json", watch_prepare, watch_save, watch_valid, 0},
};

/* The step as the fsys table calls it, and the words its message uses. */
static const struct {
    const char *step, *words;
} steps[] = {{"open", "create temp file for"}, {"write", "write "},
             {"fsync", "fsync "},              {"rename", "rename "},
             {"fsync_dir", "fsync folder"}};

static const int errnos[] = {ENOSPC, EIO, EDQUOT};
static const char *const errno_names[] = {"ENOSPC", "EIO", "EDQUOT"};

static int count_temps(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static int injected_by_errno[3], injected_total, matrix_cells;

static void run_cell(const target *t, size_t s, size_t e)
{
    char path[600];
    companion(path, sizeof path, t->suffix);
    const char *step = steps[s].step;
    if (t->creates && !strcmp(step, "rename"))
        step = "link";
    const char *words = !strcmp(step, "link") ? "link " : steps[s].words;

    t->prepare();
    char *before = tz_test_get_file(path);
    install(t->suffix, step, errnos[e]);
    tz_error err = {0};
    tz_status st = t->save(&err);
    int fired = injected;
    tz_fsys_set(NULL);
    char *after = tz_test_get_file(path);
    matrix_cells++;

    CHECK_MSG(fired, "%s %s: the fault never fired", t->name, step);
    if (!fired)
        goto out;
    injected_total++;
    injected_by_errno[e]++;
    CHECK_MSG(st == TZ_EIO, "%s %s %s: status %d (%s)", t->name, step, errno_names[e], st,
              err.msg);
    CHECK_MSG(strstr(err.msg, words) && strstr(err.msg, path) &&
                  strstr(err.msg, strerror(errnos[e])),
              "%s %s %s: message %s", t->name, step, errno_names[e], err.msg);
    if (t->creates) {
        /* Nothing half-made: no file at all. */
        CHECK_MSG(!after, "%s %s: a file was left behind: %s", t->name, step, after);
    } else if (!strcmp(step, "fsync_dir")) {
        /* The rename is done: the new content, whole. */
        CHECK_MSG(t->valid(after) && before && strcmp(after, before),
                  "%s %s: not the new content whole", t->name, step);
    } else {
        CHECK_MSG(before && after && !strcmp(before, after), "%s %s %s: previous file changed",
                  t->name, step, errno_names[e]);
        CHECK_MSG(t->valid(after), "%s %s: previous file unusable", t->name, step);
    }
    CHECK_MSG(count_temps() == 0, "%s %s: temp file left", t->name, step);

    /* The next run, without the fault, recovers. */
    st = t->save(&err);
    CHECK_MSG(st == TZ_OK, "%s %s: the next save failed: %s", t->name, step, err.msg);
    free(after);
    after = tz_test_get_file(path);
    if (!t->creates || strcmp(t->name, "lock"))
        CHECK_MSG(t->valid(after), "%s %s: not valid after recovery", t->name, step);
out:
    free(before);
    free(after);
}

int main(void)
{
    if (tz_test_mkdtemp(dir, sizeof dir, "store-faults") != 0)
        return 2;
    snprintf(wallet_path, sizeof wallet_path, "%s/wallet.json", dir);
    tz_test_put_file(wallet_path, old_wallet, 0600);
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++)
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++)
            for (size_t e = 0; e < sizeof errnos / sizeof errnos[0]; e++)
                run_cell(&targets[t], s, e);
    printf("{\"disk_faults\":{\"files\":%zu,\"steps\":%zu,\"cells\":%d,\"injected\":%d,"
           "\"ENOSPC\":%d,\"EIO\":%d,\"EDQUOT\":%d}}\n",
           sizeof targets / sizeof targets[0], sizeof steps / sizeof steps[0], matrix_cells,
           injected_total, injected_by_errno[0], injected_by_errno[1], injected_by_errno[2]);
    tz_test_rmtree(dir);
    return tz_test_done("store_faults");
}
