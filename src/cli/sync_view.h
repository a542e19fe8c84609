/* Rendering of the sync engine's events for `sync` and `watch sync`, the
 * signal-raised stop flag and the watch loop's nap (sync_view.c). */
#ifndef TZ_CLI_SYNC_VIEW_H
#define TZ_CLI_SYNC_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "output.h"
#include "sync/sync.h"

/* Raised by SIGINT/SIGTERM once tz_sync_install_signals ran. */
extern volatile int tz_sync_stop;
void tz_sync_install_signals(void);

/* The event sink's state (zero-initialize, set cli). */
typedef struct tz_sync_view {
    const tz_cli *cli;
    tz_progress *bar;
    uint64_t bar_base;
    double last_json_progress;
    bool no_found;         /* no `  found:` lines (watch sync prints none) */
    const char *label;     /* progress bar label, default "sync" */
} tz_sync_view;

/* tz_sync_event_fn: ctx is a tz_sync_view. FOUND prints the reference's
 * `  found: v=V cm=C index=I` line (human text; stderr with --json);
 * the others go to stderr (JSON lines with --json, else a progress bar and
 * informational lines). */
void tz_sync_view_event(void *ctx, const tz_sync_event *ev);

/* The PID of a yield as JSON: the number, or null for none. */
json_t *tz_sync_pid_json(long pid);

/* The exit code of a failed run's status (EIO 7, ENOMEM/ECANCEL 1, else
 * tz_exit_for_node_status). */
int tz_sync_exit_for(tz_status st);

/* Sleeps `secs` seconds or until tz_sync_stop is raised. */
void tz_sync_nap(uint64_t secs);

#endif
