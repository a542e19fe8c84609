/* The wallet session of a command (session.h): lock, load, save, --out. */
#include "session.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/num.h"
#include "base/path.h"
#include "core/note.h"
#include "core/wire.h"
#include "output.h"
#include "store/atomic.h"
#include "store/floor.h"
#include "store/fsys.h"
#include "store/jsonnum.h"
#include "store/lock.h"
#include "store/pidfile.h"
#include "store/profile.h"
#include "store/sentinel.h"
#include "store/wallet_path.h"
#include "args.h"

int tz_cli_session_open(const tz_cli *cli, tz_cli_session *s)
{
    memset(s, 0, sizeof *s);
    int rc = tz_cli_lock(cli, &s->lock);
    if (!rc && (rc = tz_cli_load_wallet(cli, &s->w)) != TZ_EXIT_OK)
        tz_cli_session_close(s);
    return rc;
}

void tz_cli_session_close(tz_cli_session *s)
{
    tz_wallet_free(s->w);
    tz_lock_release(s->lock);
    s->w = NULL;
    s->lock = NULL;
}

static void warn_cb(const char *msg)
{
    tz_out_warn(NULL, "%s", msg);
}

int tz_cli_load_wallet(const tz_cli *cli, tz_wallet **out)
{
    tz_error err = {0};
    tz_status st = tz_wallet_load(cli->wallet_path, out, &err, warn_cb);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    if (st == TZ_ENOTFOUND)
        return tz_out_fail(cli, TZ_EXIT_WALLET,
                           "%s (create one with `tzel-wallet init`, or pass -w PATH)", err.msg);
    if (st == TZ_ENOMEM)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
    return tz_out_fail(cli, TZ_EXIT_WALLET, "%s", err.msg);
}

/* True when `<wallet>.lock` exists and does not (yet) hold a PID line. */
static bool lock_without_pid(const char *wallet_path)
{
    char *path = tz_path_companion(wallet_path, TZ_LOCK_SUFFIX);
    if (!path)
        return false;
    tz_pid_file f;
    bool r = tz_pid_file_read(path, &f, NULL) == TZ_OK && !f.has_pid;
    tz_pid_file_release(&f);
    free(path);
    return r;
}

int tz_cli_lock(const tz_cli *cli, tz_lock **out)
{
    tz_error err = {0};
    tz_status st = tz_lock_acquire(cli->wallet_path, out, &err);
    /* A holder writes its PID just after creating the file: a lock seen
     * in between is looked at again for a moment, so the error can name
     * the holder. */
    for (int i = 0; st == TZ_ELOCKED && i < 10 && lock_without_pid(cli->wallet_path); i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        st = tz_lock_acquire(cli->wallet_path, out, &err);
    }
    if (st == TZ_OK) {
        if (tz_lock_recovered(*out))
            tz_out_warn(cli, "%s", tz_lock_recovered(*out));
        char msg[TZ_ERROR_MSG_MAX + 200];
        if (tz_cli_sweep_stale(cli, msg, sizeof msg))
            tz_out_warn(cli, "%s", msg);
        return TZ_EXIT_OK;
    }
    if (st == TZ_ELOCKED)
        return tz_out_fail(cli, TZ_EXIT_LOCKED, "%s", err.msg);
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "%s", err.msg);
}

bool tz_cli_sweep_stale(const tz_cli *cli, char *msg, size_t cap)
{
    size_t removed = 0;
    tz_error err = {0};
    tz_status st = tz_wallet_path_sweep(cli->wallet_path, &removed, &err);
    if (st)
        snprintf(msg, cap, "could not remove every stale temp file next to %s: %s",
                 cli->wallet_path, err.msg);
    else if (removed)
        snprintf(msg, cap,
                 "removed %zu stale temp file%s left next to %s by an interrupted save",
                 removed, removed == 1 ? "" : "s", cli->wallet_path);
    return st || removed;
}

int tz_cli_save(const tz_cli *cli, tz_wallet *w)
{
    tz_error err = {0};
    tz_status st = tz_wallet_save(w, &err);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "%s", err.msg);
}

int tz_cli_check_out_path(const tz_cli *cli, const char *path)
{
    static const char *const suffixes[] = {"", TZ_FLOOR_SUFFIX, TZ_LOCK_SUFFIX, TZ_PROFILE_SUFFIX,
                                           TZ_SENTINEL_SUFFIX};
    struct stat out_sb;
    if (stat(path, &out_sb) != 0)
        return TZ_EXIT_OK; /* a new file cannot be one of the wallet's */
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char *own = tz_path_companion(cli->wallet_path, suffixes[i]);
        if (!own)
            return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        struct stat sb;
        bool same = stat(own, &sb) == 0 && sb.st_dev == out_sb.st_dev && sb.st_ino == out_sb.st_ino;
        free(own);
        if (same)
            return tz_out_fail(cli, TZ_EXIT_USAGE,
                               "--out %s is the wallet's own file %s%s; choose another file", path,
                               cli->wallet_path, suffixes[i]);
    }
    return TZ_EXIT_OK;
}

int tz_cli_write_private_json(const tz_cli *cli, const char *path, const json_t *v)
{
    char *text = NULL;
    size_t len = 0;
    tz_error err = {0};
    int rc = tz_cli_check_out_path(cli, path);
    if (rc)
        return rc;
    tz_status st = tz_json_dump_exact(v, &text, &len, &err);
    if (st)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
    st = tz_atomic_write(path, text, len, 0600, &err);
    sodium_memzero(text, len);
    free(text);
    if (st)
        return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "write %s: %s",
                           path, err.msg);
    return TZ_EXIT_OK;
}

