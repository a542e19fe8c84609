/* What `sync` and `watch sync` show while the engine runs: its events as
 * a TTY progress bar and human lines, or JSON lines on stderr with --json
 * (docs/json-output.md); the stop flag the signals raise; the exit code of
 * a run's status. */
#include "sync_view.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "args.h"
#include "output.h"
#include "store/jsonnum.h"

volatile int tz_sync_stop;

static void on_signal(int sig)
{
    (void)sig;
    tz_sync_stop = 1;
}

void tz_sync_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* JSON progress lines at most this often (the engine reports ~10 Hz for
 * the terminal display). */
#define JSON_PROGRESS_EVERY_SECS 0.25

static void json_line(json_t *o)
{
    if (!o)
        return;
    char *s = tz_json_dumps(o, JSON_COMPACT);
    if (s) {
        fprintf(stderr, "%s\n", s);
        fflush(stderr);
        free(s);
    }
    json_decref(o);
}

json_t *tz_sync_pid_json(long pid)
{
    return pid > 0 ? json_integer(pid) : json_null();
}

/* The reference's line for a new note: value, first 4 bytes of the cm in
 * hex, leaf index. */
static void found_line(const tz_cli *cli, const tz_sync_event *ev)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, ev->cm);
    tz_out_text(cli, "  found: v=%" PRIu64 " cm=%.8s index=%" PRIu64, ev->v, hex, ev->index);
    fflush(stdout); /* line by line, like the reference, also into a pipe */
}

void tz_sync_view_event(void *ctx, const tz_sync_event *ev)
{
    tz_sync_view *v = ctx;
    const tz_cli *cli = v->cli;
    if (ev->type == TZ_SYNC_EV_FOUND && v->no_found)
        return;
    if (ev->type == TZ_SYNC_EV_FOUND) {
        /* A progress bar being drawn on a terminal is erased first (on
         * stderr, so stdout keeps the reference's bytes); it is redrawn
         * at the next update. */
        if (v->bar && isatty(STDERR_FILENO)) {
            fputs("\r\033[K", stderr);
            fflush(stderr);
        }
        found_line(cli, ev); /* human text: stderr with --json */
        return;
    }
    if (cli->json) {
        json_t *o = NULL;
        switch (ev->type) {
        case TZ_SYNC_EV_START:
            o = json_pack("{s:s, s:o, s:o, s:s, s:o, s:s, s:i, s:i, s:i}", "event", "start",
                          "scanned", tz_json_u64(ev->scanned), "tree_size",
                          tz_json_u64(ev->tree_size), "block", ev->block, "checkpoint_every",
                          tz_json_u64(ev->config->checkpoint_every), "concurrency_mode",
                          ev->config->auto_concurrency ? "auto" : "fixed", "concurrency",
                          (int)ev->config->concurrency, "in_flight_limit",
                          (int)ev->inflight_limit, "threads", (int)ev->config->threads);
            break;
        case TZ_SYNC_EV_PROGRESS:
            if (ev->scanned < ev->tree_size &&
                tz_mono_secs() - v->last_json_progress < JSON_PROGRESS_EVERY_SECS)
                return;
            v->last_json_progress = tz_mono_secs();
            o = json_pack("{s:s, s:o, s:o, s:o, s:f, s:o, s:i}", "event", "progress", "scanned",
                          tz_json_u64(ev->scanned), "tree_size", tz_json_u64(ev->tree_size),
                          "found", tz_json_u64(ev->found), "leaves_per_sec",
                          ev->leaves_per_sec, "eta_secs",
                          ev->eta_secs < 0 ? json_null() : json_real(ev->eta_secs),
                          "in_flight_limit", (int)ev->inflight_limit);
            break;
        case TZ_SYNC_EV_CHECKPOINT:
            o = json_pack("{s:s, s:o}", "event", "checkpoint", "scanned",
                          tz_json_u64(ev->scanned));
            break;
        case TZ_SYNC_EV_YIELD:
            o = json_pack("{s:s, s:o}", "event", "yield", "pid", tz_sync_pid_json(ev->pid));
            break;
        case TZ_SYNC_EV_STALE_SENTINEL:
            o = json_pack("{s:s, s:o}", "event", "stale_sentinel", "pid", tz_sync_pid_json(ev->pid));
            break;
        case TZ_SYNC_EV_WARNING:
            o = json_pack("{s:s, s:s}", "event", "warning", "message", ev->message);
            break;
        case TZ_SYNC_EV_FOUND:
            break;
        }
        json_line(o);
        return;
    }
    switch (ev->type) {
    case TZ_SYNC_EV_START:
        tz_out_info(cli, "sync: block %s, leaves [%" PRIu64 ", %" PRIu64 ") to scan", ev->block,
                    ev->scanned, ev->tree_size);
        if (ev->scanned < ev->tree_size) {
            v->bar_base = ev->scanned;
            v->bar = tz_progress_start(cli, v->label ? v->label : "sync", ev->tree_size - ev->scanned, "leaves");
        }
        break;
    case TZ_SYNC_EV_PROGRESS:
        if (v->bar && ev->inflight_limit) {
            char note[32];
            snprintf(note, sizeof note, "%u in flight", ev->inflight_limit);
            tz_progress_set_note(v->bar, note);
        }
        /* fall through */
    case TZ_SYNC_EV_CHECKPOINT:
        if (ev->scanned >= v->bar_base)
            tz_progress_update(v->bar, ev->scanned - v->bar_base);
        break;
    case TZ_SYNC_EV_YIELD:
        tz_progress_finish(v->bar);
        v->bar = NULL;
        if (ev->pid > 0)
            tz_out_info(cli, "sync: yielding the wallet to process %ld (sentinel %s.yield); "
                             "progress saved at leaf %" PRIu64,
                        ev->pid, cli->wallet_path, ev->scanned);
        else
            tz_out_info(cli, "sync: yielding the wallet (sentinel %s.yield holds no PID); "
                             "progress saved at leaf %" PRIu64,
                        cli->wallet_path, ev->scanned);
        break;
    case TZ_SYNC_EV_STALE_SENTINEL:
        break; /* the warning event that follows says it */
    case TZ_SYNC_EV_WARNING:
        tz_out_warn(cli, "%s", ev->message);
        break;
    case TZ_SYNC_EV_FOUND:
        break;
    }
}

int tz_sync_exit_for(tz_status st)
{
    switch (st) {
    case TZ_EIO:
        return TZ_EXIT_IO;
    case TZ_ENOMEM:
    case TZ_ECANCEL:
        return TZ_EXIT_FAILURE;
    default:
        return tz_exit_for_node_status(st);
    }
}

/* Sleeps `secs` seconds or until a signal asks to stop. */
void tz_sync_nap(uint64_t secs)
{
    for (uint64_t i = 0; i < secs && !tz_sync_stop; i++) {
        for (int k = 0; k < 10 && !tz_sync_stop; k++) {
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
        }
    }
}

