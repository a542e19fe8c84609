/* Filling and prefixing error messages, and status names (status.h). */
#include "core/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

tz_status tz_error_set(tz_error *err, tz_status code, const char *fmt, ...)
{
    int saved_errno = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    errno = saved_errno;
    return code;
}

tz_status tz_error_prefix(tz_error *err, const char *fmt, ...)
{
    if (!err)
        return TZ_EINVAL;
    int saved_errno = errno;
    char prefix[TZ_ERROR_MSG_MAX];
    char old[TZ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t plen = strnlen(prefix, sizeof err->msg - 3);
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    size_t room = sizeof err->msg - plen - 3;
    size_t olen = strnlen(old, room);
    memcpy(err->msg + plen + 2, old, olen);
    err->msg[plen + 2 + olen] = '\0';
    errno = saved_errno;
    return err->code;
}

const char *tz_status_name(tz_status st)
{
    switch (st) {
    case TZ_OK: return "OK";
    case TZ_EINVAL: return "EINVAL";
    case TZ_ENOMEM: return "ENOMEM";
    case TZ_EIO: return "EIO";
    case TZ_ECRYPTO: return "ECRYPTO";
    case TZ_ENOTFOUND: return "ENOTFOUND";
    case TZ_EHTTP: return "EHTTP";
    case TZ_ELOCKED: return "ELOCKED";
    case TZ_EPARSE: return "EPARSE";
    case TZ_EMISMATCH: return "EMISMATCH";
    case TZ_ECANCEL: return "ECANCEL";
    case TZ_ESTATE: return "ESTATE";
    case TZ_EEXIST: return "EEXIST";
    default: return "EUNKNOWN";
    }
}
