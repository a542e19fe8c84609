/* PID files (pidfile.h): reading a lock or sentinel with its mtime, the
 * one rule that tells a live owner from a dead or recycled PID, and the
 * words for each verdict. */
#include "store/pidfile.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/fsys.h"

#define NS_PER_SEC 1000000000LL
/* Start times beyond this many seconds after boot (~31 years) are not
 * believed: no conversion, so no verdict of recycling either. */
#define MAX_UPTIME_SECS 1000000000ULL

/* Reads /proc/<pid>/stat: the state letter (field 3) into *state and the
 * start time (field 22) into *ticks. TZ_ENOTFOUND when there is no such
 * process, TZ_EPARSE when the file cannot be read or parsed. */
static tz_status proc_stat(pid_t pid, char *state, unsigned long long *ticks)
{
    char path[64], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    tz_status st = tz_read_file(path, TZ_PID_FILE_MAX_BYTES, &text, &len, NULL);
    if (st)
        return st == TZ_ENOTFOUND ? TZ_ENOTFOUND : TZ_EPARSE;
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
     * so count fields from the last ')'; field 3 (state) comes next. */
    char *p = strrchr(text, ')');
    st = TZ_EPARSE;
    if (p) {
        p++;
        for (int field = 3; field <= 22; field++) {
            while (*p == ' ')
                p++;
            if (!*p)
                break;
            if (field == 3)
                *state = *p;
            if (field == 22) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(p, &end, 10);
                if (end != p && errno == 0 && (*end == ' ' || *end == '\n' || !*end)) {
                    *ticks = v;
                    st = TZ_OK;
                }
                break;
            }
            while (*p && *p != ' ')
                p++;
        }
    }
    free(text);
    return st;
}

tz_status tz_proc_starttime(pid_t pid, unsigned long long *out)
{
    char state;
    return proc_stat(pid, &state, out);
}

/* Boot time plus `ticks` clock ticks, as wall-clock time. False when the
 * clocks or the tick rate cannot be read, or `ticks` is not believable. */
static bool ticks_to_wall(unsigned long long ticks, struct timespec *out)
{
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec real, boot;
    if (hz <= 0 || clock_gettime(CLOCK_REALTIME, &real) != 0 ||
        clock_gettime(CLOCK_BOOTTIME, &boot) != 0)
        return false;
    unsigned long long secs = ticks / (unsigned long long)hz;
    unsigned long long frac = ticks % (unsigned long long)hz;
    if (secs > MAX_UPTIME_SECS)
        return false;
    int64_t boot_ns = ((int64_t)real.tv_sec - boot.tv_sec) * NS_PER_SEC + real.tv_nsec -
                      boot.tv_nsec;
    int64_t ns = boot_ns + (int64_t)secs * NS_PER_SEC + (int64_t)(frac * NS_PER_SEC / hz);
    if (ns < 0)
        return false;
    out->tv_sec = (time_t)(ns / NS_PER_SEC);
    out->tv_nsec = (long)(ns % NS_PER_SEC);
    return true;
}

tz_status tz_proc_start_wall(pid_t pid, struct timespec *out)
{
    unsigned long long ticks;
    tz_status st = tz_proc_starttime(pid, &ticks);
    if (st)
        return st;
    return ticks_to_wall(ticks, out) ? TZ_OK : TZ_EINVAL;
}

static bool process_exists(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* True when a process that started `ticks` after boot started no later
 * than TZ_PID_START_SLACK_MS after `mtime` (or when that cannot be told). */
static bool started_by(unsigned long long ticks, const struct timespec *mtime)
{
    struct timespec started;
    if (!ticks_to_wall(ticks, &started))
        return true;
    /* difftime: no overflow whatever mtime a file was given. */
    double after_ms = difftime(started.tv_sec, mtime->tv_sec) * 1000.0 +
                      (double)(started.tv_nsec - mtime->tv_nsec) / 1e6;
    return after_ms <= TZ_PID_START_SLACK_MS;
}

tz_pid_verdict tz_pid_file_owner(pid_t pid, unsigned long long recorded_start_or_0,
                                 const struct timespec *file_mtime)
{
    if (pid <= 0 || !process_exists(pid))
        return TZ_PID_DEAD;
    unsigned long long ticks;
    char state = 0;
    if (proc_stat(pid, &state, &ticks) != TZ_OK)
        /* Gone meanwhile, or no readable /proc (then a recycled PID cannot
         * be told apart: keep the conservative answer). */
        return process_exists(pid) ? TZ_PID_OWNER : TZ_PID_DEAD;
    /* A zombie has exited: it holds nothing and writes nothing more, even
     * while a lazy init (a container's PID 1) has not reaped it yet. */
    if (state == 'Z' || state == 'X')
        return TZ_PID_DEAD;
    if (recorded_start_or_0)
        return ticks == recorded_start_or_0 ? TZ_PID_OWNER : TZ_PID_OTHER_START;
    if (!file_mtime || started_by(ticks, file_mtime))
        return TZ_PID_OWNER;
    return TZ_PID_STARTED_AFTER;
}

bool tz_pid_alive(pid_t pid, unsigned long long starttime_or_0)
{
    return tz_pid_file_owner(pid, starttime_or_0, NULL) == TZ_PID_OWNER;
}

static bool parse_ull(const char **p, unsigned long long *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (~0ull - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    *p = s;
    return true;
}

bool tz_parse_pid_line(const char *text, pid_t *pid, unsigned long long *starttime)
{
    const char *p = text;
    unsigned long long a, b = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!parse_ull(&p, &a) || a == 0 || a > 0x7fffffffull)
        return false;
    if (*p == ' ' || *p == '\t') {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p >= '0' && *p <= '9' && !parse_ull(&p, &b))
            return false;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    if (*p != '\0' && *p != '\n')
        return false;
    *pid = (pid_t)a;
    *starttime = b;
    return true;
}

int tz_pid_file_format(char *buf, size_t n, pid_t pid)
{
    if (pid <= 0)
        return -1;
    int len = snprintf(buf, n, "%ld\n", (long)pid);
    return len < 0 || (size_t)len >= n ? -1 : len;
}

tz_status tz_pid_file_read(const char *path, tz_pid_file *out, tz_error *err)
{
    memset(out, 0, sizeof *out);
    out->pid = -1;
    tz_status st = tz_read_file_stat(path, TZ_PID_FILE_MAX_BYTES, &out->text, &out->len,
                                     &out->sb, err);
    if (st)
        return st;
    pid_t pid;
    unsigned long long start;
    out->has_pid = tz_parse_pid_line(out->text, &pid, &start);
    if (out->has_pid) {
        out->pid = pid;
        out->recorded_start = start;
        out->verdict = tz_pid_file_owner(pid, start, &out->sb.st_mtim);
    }
    return TZ_OK;
}

tz_status tz_pid_file_recheck(const char *path, const tz_pid_file *f)
{
    char *text = NULL;
    size_t len = 0;
    struct stat sb;
    tz_status st = tz_read_file_stat(path, TZ_PID_FILE_MAX_BYTES, &text, &len, &sb, NULL);
    if (st == TZ_ENOTFOUND)
        return TZ_ENOTFOUND;
    bool same = st == TZ_OK && sb.st_dev == f->sb.st_dev && sb.st_ino == f->sb.st_ino &&
                sb.st_mtim.tv_sec == f->sb.st_mtim.tv_sec &&
                sb.st_mtim.tv_nsec == f->sb.st_mtim.tv_nsec && len == f->len &&
                memcmp(text, f->text, len) == 0;
    free(text);
    return same ? TZ_OK : TZ_EMISMATCH;
}

void tz_pid_file_release(tz_pid_file *f)
{
    if (!f)
        return;
    free(f->text);
    f->text = NULL;
}

const char *tz_pid_why(pid_t pid, tz_pid_verdict verdict, const char *noun, char *buf, size_t n)
{
    switch (verdict) {
    case TZ_PID_DEAD:
        snprintf(buf, n, "pid %ld no longer exists", (long)pid);
        break;
    case TZ_PID_STARTED_AFTER:
        snprintf(buf, n, "pid %ld is alive but started after the %s was written (recycled PID)",
                 (long)pid, noun);
        break;
    case TZ_PID_OTHER_START:
        snprintf(buf, n,
                 "pid %ld is alive but did not start at the time the %s records (recycled PID)",
                 (long)pid, noun);
        break;
    case TZ_PID_OWNER:
    default:
        snprintf(buf, n, "pid %ld is alive and started before the %s was written", (long)pid,
                 noun);
        break;
    }
    return buf;
}
