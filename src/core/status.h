/* Status codes and error messages shared by every layer.
 *
 * Every fallible function returns a tz_status: 0 on success, a negative
 * TZ_E* value on failure. Functions that can explain a failure take a
 * `tz_error *err` (may be NULL) and fill its message; they never print and
 * never exit. */
#ifndef TZ_CORE_STATUS_H
#define TZ_CORE_STATUS_H

#include <stddef.h>

#define TZ_WUR __attribute__((warn_unused_result))

typedef int tz_status;

enum {
    TZ_OK = 0,
    TZ_EINVAL = -1,    /* bad argument or malformed input */
    TZ_ENOMEM = -2,    /* allocation failed or a hard size limit was hit */
    TZ_EIO = -3,       /* file-system error (errno in the message) */
    TZ_ECRYPTO = -4,   /* authentication or decapsulation failure */
    TZ_ENOTFOUND = -5, /* absent key / file / note */
    TZ_EHTTP = -6,     /* HTTP status >= 400 or transport failure */
    TZ_ELOCKED = -7,   /* wallet lock held by a live process */
    TZ_EPARSE = -8,    /* JSON or encoding could not be parsed */
    TZ_EMISMATCH = -9, /* verified value differs (root, floor, cm) */
    TZ_ECANCEL = -10,  /* operation cancelled (yield, signal) */
    TZ_ESTATE = -11,   /* inconsistent state (e.g. stale backup) */
    TZ_EEXIST = -12,   /* the file to create exclusively exists */
};

#define TZ_ERROR_MSG_MAX 1024

typedef struct tz_error {
    tz_status code;
    char msg[TZ_ERROR_MSG_MAX];
} tz_error;

/* Fills `err` (if non-NULL) with `code` and a printf-formatted message and
 * returns `code`, so callers can write `return tz_error_set(err, ...)`.
 * errno is preserved. */
tz_status tz_error_set(tz_error *err, tz_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an already filled message. Returns err->code. */
tz_status tz_error_prefix(tz_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A short constant name for a status ("EINVAL", ...). */
const char *tz_status_name(tz_status st);

#endif
