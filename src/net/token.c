/* The daemon's bearer token file (token.h): created once with 32 random
 * bytes, read back on later starts, compared in constant time. */
#include "net/token.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/atomic.h"

#define TOKEN_BYTES 32

static bool is_hex_token(const char *s, size_t n)
{
    if (n != TZ_TOKEN_HEX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static tz_status load(const char *path, int fd, char out[TZ_TOKEN_HEX_LEN + 1], tz_error *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return tz_error_set(err, TZ_EIO, "cannot stat %s: %s", path, strerror(errno));
    if (sb.st_mode & 077)
        return tz_error_set(err, TZ_EINVAL,
                            "%s is readable by other users (mode %03o); run `chmod 600 %s`",
                            path, (unsigned)(sb.st_mode & 0777), path);
    char buf[TZ_TOKEN_HEX_LEN + 8];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return tz_error_set(err, TZ_EIO, "cannot read %s: %s", path, strerror(errno));
        if (r == 0 || n + (size_t)r >= sizeof buf - 1) {
            n += (size_t)(r > 0 ? r : 0);
            break;
        }
        n += (size_t)r;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    tz_status st = TZ_OK;
    if (!is_hex_token(buf, n))
        st = tz_error_set(err, TZ_EPARSE,
                          "%s does not hold a token (64 lowercase hex characters); remove it to "
                          "generate a new one",
                          path);
    else {
        memcpy(out, buf, TZ_TOKEN_HEX_LEN);
        out[TZ_TOKEN_HEX_LEN] = '\0';
    }
    sodium_memzero(buf, sizeof buf);
    return st;
}

/* Opens and reads the token file; TZ_ENOTFOUND when there is none. */
static tz_status read_token(const char *path, char out[TZ_TOKEN_HEX_LEN + 1], tz_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return TZ_ENOTFOUND;
    if (fd < 0)
        return tz_error_set(err, TZ_EIO, "cannot open %s: %s", path, strerror(errno));
    tz_status st = load(path, fd, out, err);
    close(fd);
    if (st)
        sodium_memzero(out, TZ_TOKEN_HEX_LEN + 1);
    return st;
}

tz_status tz_token_load_or_create(const char *path, char out[TZ_TOKEN_HEX_LEN + 1], tz_error *err)
{
    if (sodium_init() < 0)
        return tz_error_set(err, TZ_EIO, "libsodium could not be initialised");
    tz_status st = read_token(path, out, err);
    if (st != TZ_ENOTFOUND)
        return st;

    unsigned char raw[TOKEN_BYTES];
    char line[TZ_TOKEN_HEX_LEN + 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(line, sizeof line, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    line[TZ_TOKEN_HEX_LEN] = '\n';
    line[TZ_TOKEN_HEX_LEN + 1] = '\0';
    /* Created whole or not at all (a daemon killed meanwhile leaves no
     * empty token file behind); another daemon that created it first wins
     * and its token is read. */
    st = tz_atomic_create(path, line, TZ_TOKEN_HEX_LEN + 1, "token file", err);
    if (st == TZ_EEXIST) {
        st = read_token(path, out, err);
        if (st == TZ_ENOTFOUND)
            st = tz_error_set(err, TZ_EIO, "cannot open %s: it disappeared", path);
    } else if (st == TZ_OK) {
        memcpy(out, line, TZ_TOKEN_HEX_LEN);
        out[TZ_TOKEN_HEX_LEN] = '\0';
    }
    sodium_memzero(line, sizeof line);
    if (st)
        sodium_memzero(out, TZ_TOKEN_HEX_LEN + 1);
    return st;
}

bool tz_token_check(const char *authorization, const char token[TZ_TOKEN_HEX_LEN + 1])
{
    if (!authorization)
        return false;
    const char *p = authorization;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "Bearer ", 7) != 0)
        return false;
    p += 7;
    while (*p == ' ')
        p++;
    size_t n = strlen(p);
    while (n && p[n - 1] == ' ')
        n--;
    if (n != TZ_TOKEN_HEX_LEN)
        return false;
    return sodium_memcmp(p, token, TZ_TOKEN_HEX_LEN) == 0;
}
