/* Fast lane: answers that never wait for the wallet lock. Balance and
 * addresses come from `tzel-wallet --json balance|addresses` runs (read-only
 * commands take no lock and see the old or the new wallet file, never a
 * mix), cached until the wallet file changes. The daemon never reads the
 * wallet file itself: it holds the master secret. */
#ifndef TZ_DAEMON_FAST_H
#define TZ_DAEMON_FAST_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"

/* Runs (or answers from cache) the read-only `subcommand`. Returns the
 * HTTP status and sets *body (new reference): 200 with the command's
 * result, or 502 with {"error":{"code","message","exit","stderr"}}. Thread-safe. */
int tz_fast_read(const tz_wd_config *cfg, const char *subcommand, json_t **body);

/* Answers `subcommand` from the cache without running anything: true and
 * *body (new reference, status 200) when the cached answer still matches
 * the wallet file; false otherwise (tz_fast_read must run it). Never
 * blocks on a running child. Thread-safe. */
bool tz_fast_cached(const tz_wd_config *cfg, const char *subcommand, json_t **body);

/* {"bytes":N,"mtime_ms":T} of the wallet file (stat only, never read), or
 * NULL when it does not exist. New reference (the caller may add keys).
 * Thread-safe. */
json_t *tz_fast_wallet_file(const tz_wd_config *cfg);

/* Releases the caches (at exit). */
void tz_fast_cleanup(void);

#endif
