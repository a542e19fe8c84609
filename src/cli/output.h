/* Everything tzel-wallet shows the user (docs/json-output.md).
 *
 * stdout carries the command's product: with --json exactly one envelope
 * {"command":…,"result"|"error":…,"schema_version":1} (compact, keys sorted
 * at every level, like the reference's serde_json); without --json the
 * human text of tz_out_text. stderr carries everything else: human text in
 * --json mode, warnings, errors, progress. Not thread-safe: call from the
 * thread that runs the command (progress updates included). */
#ifndef TZ_CLI_OUTPUT_H
#define TZ_CLI_OUTPUT_H

#include <jansson.h>
#include <stdint.h>

#include "command.h"

/* Short name of an exit code ("OK", "USAGE", ...); "FAILURE" for unknown. */
const char *tz_exit_name(int code);

/* Finishes a successful command. With --json prints the envelope with
 * `result` (reference stolen; NULL prints an empty object) on stdout;
 * without --json releases `result`. u64 values built with tz_json_u64()
 * are printed as plain numbers. Returns TZ_EXIT_OK, or TZ_EXIT_IO when
 * stdout cannot be written. */
int tz_out_result(const tz_cli *cli, json_t *result);

/* Reports a failure: "error: <message>" on one line on stderr and, with
 * --json, the error envelope on stdout. Returns exit_code so a command can
 * `return tz_out_fail(...)`. The message should be one line. */
int tz_out_fail(const tz_cli *cli, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "warning: <message>" on stderr (a leading "warning: " in the message is
 * not doubled). */
void tz_out_warn(const tz_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The human form of a command's product: stdout without --json, stderr
 * with --json. A newline is appended. */
void tz_out_text(const tz_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Informational line on stderr whatever the mode (newline appended). */
void tz_out_info(const tz_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Pretty-prints `v` (not stolen) followed by a newline on `f`, u64 markers
 * restored. Returns 0, or -1 when out of memory or on a write error. */
/* One phase event of a spend, on stderr whatever the output mode, as the
 * reference emits them for tools that follow an operation:
 * {"event":"phase","phase":PHASE,"ts":"YYYY-MM-DDTHH:MM:SSZ","detail":DETAIL}.
 * Takes the reference to detail (NULL: {}). */
void tz_out_phase(const char *phase, json_t *detail);

int tz_out_json_pretty(FILE *f, const json_t *v);

/* Progress display on stderr. Drawn only when stderr is a TTY: a bar with
 * percentage, count, rate (units per second) and ETA, redrawn at most
 * about 10 times a second, erased or completed by tz_progress_finish.
 * When stderr is not a TTY nothing is drawn (tz_progress_finish prints
 * nothing either). All functions accept NULL (no-op). */
typedef struct tz_progress tz_progress;

/* Starts a display for `total` units named `unit` (e.g. "leaves"),
 * labelled `label`. Returns NULL when nothing will be drawn or memory is
 * short (callers just pass the NULL on). Owned by the caller until
 * tz_progress_finish. */
tz_progress *tz_progress_start(const tz_cli *cli, const char *label, uint64_t total,
                               const char *unit);

/* Sets the number of units done so far (monotonic; may change total with
 * tz_progress_set_total). Cheap when nothing needs redrawing. */
void tz_progress_update(tz_progress *p, uint64_t done);
void tz_progress_set_total(tz_progress *p, uint64_t total);

/* Sets a short note drawn after the ETA (e.g. "12 in flight"; "" for
 * none), shown from the next redraw. */
void tz_progress_set_note(tz_progress *p, const char *note);

/* Ends the display (final state drawn, then a newline) and frees it. */
void tz_progress_finish(tz_progress *p);

#endif
