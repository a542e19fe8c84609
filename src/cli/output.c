/* Envelopes, human text, warnings, errors and the progress display. */
#include "output.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "store/jsonnum.h"

const char *tz_exit_name(int code)
{
    switch (code) {
    case TZ_EXIT_OK: return "OK";
    case TZ_EXIT_USAGE: return "USAGE";
    case TZ_EXIT_WALLET: return "WALLET";
    case TZ_EXIT_LOCKED: return "LOCKED";
    case TZ_EXIT_NETWORK: return "NETWORK";
    case TZ_EXIT_CHAIN: return "CHAIN";
    case TZ_EXIT_IO: return "IO";
    default: return "FAILURE";
    }
}

int tz_out_json_pretty(FILE *f, const json_t *v)
{
    char *s = tz_json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s)
        return -1;
    int rc = (fputs(s, f) < 0 || fputc('\n', f) == EOF) ? -1 : 0;
    sodium_memzero(s, strlen(s));
    free(s);
    return fflush(f) ? -1 : rc;
}

static int print_envelope(const tz_cli *cli, const char *key, json_t *body)
{
    json_t *env = json_object();
    if (!env) {
        json_decref(body);
        return -1;
    }
    json_object_set_new(env, "schema_version", json_integer(1));
    json_object_set_new(env, "command", json_string(cli->command ? cli->command : ""));
    json_object_set_new(env, key, body ? body : json_object());
    /* The reference's serde_json keeps objects in sorted maps: keys sorted
     * bytewise at every level, no spaces. */
    char *s = tz_json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(env);
    if (!s)
        return -1;
    int rc = (fputs(s, stdout) < 0 || fputc('\n', stdout) == EOF) ? -1 : 0;
    sodium_memzero(s, strlen(s));
    free(s);
    return fflush(stdout) ? -1 : rc;
}

int tz_out_result(const tz_cli *cli, json_t *result)
{
    if (!cli->json) {
        json_decref(result);
        return fflush(stdout) ? TZ_EXIT_IO : TZ_EXIT_OK;
    }
    if (print_envelope(cli, "result", result)) {
        fprintf(stderr, "error: cannot write the result to stdout\n");
        return TZ_EXIT_IO;
    }
    return TZ_EXIT_OK;
}

int tz_out_fail(const tz_cli *cli, int exit_code, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line: a message built from nested errors must not break it. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fflush(stdout);
    fprintf(stderr, "error: %s\n", msg);
    if (cli && cli->json) {
        json_t *e = json_object();
        if (e) {
            json_object_set_new(e, "code", json_string(tz_exit_name(exit_code)));
            json_object_set_new(e, "exit", json_integer(exit_code));
            json_object_set_new(e, "message", json_string(msg));
        }
        print_envelope(cli, "error", e);
    }
    return exit_code;
}

void tz_out_warn(const tz_cli *cli, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *m = msg;
    if (!strncmp(m, "warning: ", 9))
        m += 9;
    fprintf(stderr, "warning: %s\n", m);
}

static void vline(FILE *f, const char *fmt, va_list ap)
{
    vfprintf(f, fmt, ap);
    fputc('\n', f);
}

void tz_out_text(const tz_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(cli && cli->json ? stderr : stdout, fmt, ap);
    va_end(ap);
}

void tz_out_info(const tz_cli *cli, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(stderr, fmt, ap);
    va_end(ap);
}

void tz_out_phase(const char *phase, json_t *detail)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:o}", "event", "phase", "phase", phase, "ts", ts,
                           "detail", detail ? detail : json_object());
    char *s = ev ? tz_json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s) {
        fflush(stdout);
        fprintf(stderr, "%s\n", s);
        fflush(stderr);
    }
    free(s);
    json_decref(ev);
}

/* ---- progress ------------------------------------------------------------ */

struct tz_progress {
    char label[64];
    char unit[24];
    char note[32];
    uint64_t total, done;
    double t0, last_draw;
};

static void human_rate(char *out, size_t cap, double r)
{
    if (r >= 1e6)
        snprintf(out, cap, "%.1fM", r / 1e6);
    else if (r >= 1e4)
        snprintf(out, cap, "%.1fk", r / 1e3);
    else
        snprintf(out, cap, "%.0f", r);
}

static void human_secs(char *out, size_t cap, double s)
{
    if (s < 0 || s > 1e7)
        snprintf(out, cap, "?");
    else if (s < 60)
        snprintf(out, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(out, cap, "%dh%02dm", (int)(s / 3600), ((int)s / 60) % 60);
}

static void draw(tz_progress *p, double t)
{
    enum { WIDTH = 28 };
    double frac = p->total ? (double)p->done / (double)p->total : 0.0;
    if (frac > 1.0)
        frac = 1.0;
    char bar[WIDTH + 1];
    int fill = (int)(frac * WIDTH);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    double el = t - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0.0;
    char rs[32], es[32];
    human_rate(rs, sizeof rs, rate);
    if (rate > 0 && p->total >= p->done)
        human_secs(es, sizeof es, (double)(p->total - p->done) / rate);
    else
        snprintf(es, sizeof es, "?");
    fprintf(stderr, "\r%s [%s] %3.0f%% %llu/%llu %s %s/s ETA %s%s%s\033[K", p->label, bar,
            frac * 100.0, (unsigned long long)p->done, (unsigned long long)p->total, p->unit,
            rs, es, p->note[0] ? ", " : "", p->note);
    fflush(stderr);
    p->last_draw = t;
}

tz_progress *tz_progress_start(const tz_cli *cli, const char *label, uint64_t total,
                               const char *unit)
{
    (void)cli;
    if (!isatty(STDERR_FILENO))
        return NULL;
    tz_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total;
    p->t0 = tz_mono_secs();
    draw(p, p->t0);
    return p;
}

void tz_progress_set_note(tz_progress *p, const char *note)
{
    if (p)
        snprintf(p->note, sizeof p->note, "%s", note ? note : "");
}

void tz_progress_set_total(tz_progress *p, uint64_t total)
{
    if (p)
        p->total = total;
}

void tz_progress_update(tz_progress *p, uint64_t done)
{
    if (!p)
        return;
    p->done = done;
    double t = tz_mono_secs();
    if (t - p->last_draw >= 0.1)
        draw(p, t);
}

void tz_progress_finish(tz_progress *p)
{
    if (!p)
        return;
    draw(p, tz_mono_secs());
    fputc('\n', stderr);
    fflush(stderr);
    free(p);
}
