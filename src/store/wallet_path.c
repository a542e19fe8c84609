/* Where a wallet's files live (wallet_path.h): resolving a symlinked
 * wallet path once, and sweeping the temp files killed writers left. */
#include "store/wallet_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "store/atomic.h"
#include "store/floor.h"
#include "store/lock.h"
#include "store/profile.h"
#include "store/sentinel.h"

/* The companions written through tz_atomic_write or tz_atomic_create
 * ("" is the wallet). */
static const char *const atomic_suffixes[] = {"", TZ_FLOOR_SUFFIX, TZ_PROFILE_SUFFIX,
                                              TZ_SENTINEL_SUFFIX, TZ_LOCK_SUFFIX};

/* The target of symlink `link` (size hint `size` from lstat) as a new
 * string, or NULL with errno set. */
static char *read_link(const char *link, off_t size)
{
    size_t cap = size > 0 && size < PATH_MAX ? (size_t)size + 1 : PATH_MAX;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf)
            return NULL;
        ssize_t n = readlink(link, buf, cap);
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if ((size_t)n < cap) {
            buf[n] = '\0';
            return buf;
        }
        free(buf); /* changed meanwhile, or longer than the hint */
        if (cap >= (size_t)16 * PATH_MAX) {
            errno = ENAMETOOLONG;
            return NULL;
        }
        cap *= 2;
    }
}

/* `target` taken from the folder of `link` (as is when absolute). */
static char *link_next(const char *link, const char *target)
{
    if (target[0] == '/')
        return strdup(target);
    char *dir = tz_path_dirname(link, NULL), *next = NULL;
    if (dir && asprintf(&next, "%s/%s", dir, target) < 0)
        next = NULL;
    free(dir);
    return next;
}

static tz_status loop_error(tz_error *err, const char *given)
{
    return tz_error_set(err, TZ_EINVAL,
                        "wallet path %s: too many levels of symbolic links (a symlink loop?)",
                        given);
}

tz_status tz_wallet_path_resolve(const char *given, char **out, bool *exists, tz_error *err)
{
    tz_status st = TZ_OK;
    char *cur = strdup(given), *dir = NULL, *real = NULL, *res = NULL;
    bool found = false;
    unsigned hops = 0;

    if (!cur)
        return tz_error_set(err, TZ_ENOMEM, "wallet path %s: out of memory", given);
    for (;;) {
        struct stat sb;
        if (lstat(cur, &sb) != 0) {
            if (errno == ELOOP) {
                st = loop_error(err, given);
                goto out;
            }
            if (errno != ENOENT && errno != ENOTDIR) {
                st = tz_error_set(err, TZ_EIO, "wallet path %s: %s: %s", given, cur,
                                  strerror(errno));
                goto out;
            }
            break; /* nothing there */
        }
        if (!S_ISLNK(sb.st_mode)) {
            found = true;
            break;
        }
        if (++hops > TZ_WALLET_PATH_HOPS_MAX) {
            st = loop_error(err, given);
            goto out;
        }
        char *target = read_link(cur, sb.st_size);
        if (!target) {
            if (errno == ENOMEM)
                st = tz_error_set(err, TZ_ENOMEM, "wallet path %s: out of memory", given);
            else
                st = tz_error_set(err, TZ_EIO, "wallet path %s: read symlink %s: %s", given,
                                  cur, strerror(errno));
            goto out;
        }
        char *next = link_next(cur, target);
        free(target);
        if (!next) {
            st = tz_error_set(err, TZ_ENOMEM, "wallet path %s: out of memory", given);
            goto out;
        }
        free(cur);
        cur = next;
    }
    if (hops == 0) {
        res = cur;
        cur = NULL;
        goto done;
    }
    /* The chain ends at `cur`: its folder made canonical, its name kept. */
    const char *base = NULL;
    if (!(dir = tz_path_dirname(cur, &base))) {
        st = tz_error_set(err, TZ_ENOMEM, "wallet path %s: out of memory", given);
        goto out;
    }
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
        st = tz_error_set(err, TZ_EINVAL, "wallet path %s is a symlink to %s, which names no file",
                          given, cur);
        goto out;
    }
    if (!(real = realpath(dir, NULL))) {
        if (errno == ENOENT || errno == ENOTDIR)
            st = tz_error_set(err, TZ_ENOTFOUND,
                              "wallet path %s is a symlink to %s, whose folder does not exist",
                              given, cur);
        else if (errno == ELOOP)
            st = loop_error(err, given);
        else
            st = tz_error_set(err, TZ_EIO, "wallet path %s: resolve folder %s: %s", given, dir,
                              strerror(errno));
        goto out;
    }
    if (asprintf(&res, "%s/%s", strcmp(real, "/") ? real : "", base) < 0) {
        res = NULL;
        st = tz_error_set(err, TZ_ENOMEM, "wallet path %s: out of memory", given);
        goto out;
    }
done:
    *out = res;
    if (exists)
        *exists = found;
out:
    free(real);
    free(dir);
    free(cur);
    return st;
}

tz_status tz_wallet_path_sweep(const char *wallet_path, size_t *removed, tz_error *err)
{
    tz_status first = TZ_OK;
    size_t total = 0;
    for (size_t i = 0; i < sizeof atomic_suffixes / sizeof atomic_suffixes[0]; i++) {
        char *path = NULL;
        size_t n = 0;
        tz_error e = {0};
        tz_status st;
        if (!(path = tz_path_companion(wallet_path, atomic_suffixes[i]))) {
            st = tz_error_set(&e, TZ_ENOMEM, "sweep temp files of %s: out of memory",
                              wallet_path);
        } else {
            st = tz_atomic_sweep_stale(path, &n, &e);
        }
        free(path);
        total += n;
        if (st && !first) {
            first = st;
            if (err)
                *err = e;
        }
    }
    if (removed)
        *removed = total;
    return first;
}
