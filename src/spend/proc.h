/* Running a helper program of a spend and reading what it prints: the
 * prover's `--program-hash`, octez-client's `show address`. */
#ifndef TZ_SPEND_PROC_H
#define TZ_SPEND_PROC_H

#include <stddef.h>

#include "core/status.h"

/* The most bytes of each stream kept; the rest is read and dropped. */
#define TZ_PROC_OUTPUT_MAX 65536

/* Runs argv (argv[0] searched in PATH when it has no '/'; stdin from
 * /dev/null), reads its stdout into *out and its stderr into *errout
 * (each a new NUL-terminated string, at most TZ_PROC_OUTPUT_MAX bytes
 * kept) and waits for it: *status is its waitpid status. TZ_OK once it
 * ran, whatever its exit; TZ_ESTATE when it cannot be started ("failed to
 * start <argv[0]>: <reason>"); TZ_EIO, TZ_ENOMEM. Nothing allocated on
 * failure. */
tz_status tz_proc_capture(char *const argv[], char **out, char **errout, int *status,
                          tz_error *err) TZ_WUR;

/* s without its leading and trailing ASCII white space, in place: the
 * start of the trimmed text (s's end is cut with a NUL). */
char *tz_proc_trim(char *s);

#endif
