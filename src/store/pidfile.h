/* The content of `<wallet>.lock` and `<wallet>.yield` (WALLET_FILE.md),
 * and the one rule that decides whether the PID in such a file still
 * names its owner. The lock, the yield sentinel and the daemon's guard all
 * judge through tz_pid_file_owner.
 *
 * Written form: the owner's PID and a newline, "<pid>\n", exactly what the
 * reference writes; the reference reads the whole trimmed content as a u32
 * and treats the file as stale when /proc/<pid> does not exist.
 *
 * A PID outlives its process: once the process is gone the kernel may give
 * the number to another one. So the named process is the owner only when
 * it is alive AND started no later than the file was last modified
 * (st_mtim), give or take TZ_PID_START_SLACK_MS for clock resolution. A
 * live process that started later holds a recycled PID: the file is stale.
 *
 * Older tzel-c files hold "<pid> <starttime>" (starttime: field 22 of
 * /proc/<pid>/stat, clock ticks after boot). They are still read, and
 * judged by comparing the recorded start time; they are never written. */
#ifndef TZ_STORE_PIDFILE_H
#define TZ_STORE_PIDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "core/status.h"

/* How much later than the file's mtime the named process may seem to have
 * started and still own it: start times count clock ticks (typically 10 ms), file
 * times come from a coarse clock, and the wall clock may have been
 * adjusted a little since the file was written. */
#define TZ_PID_START_SLACK_MS 2000

/* Lock and sentinel files larger than this are not PID files. */
#define TZ_PID_FILE_MAX_BYTES 4096

typedef enum {
    TZ_PID_OWNER,         /* alive and started before the file was written,
                             or no way to tell (the conservative answer) */
    TZ_PID_DEAD,          /* no such process */
    TZ_PID_STARTED_AFTER, /* alive, but started after the file's mtime */
    TZ_PID_OTHER_START,   /* alive, but not at the start time the file records */
} tz_pid_verdict;

/* THE ownership rule. Probes `pid` with kill(pid, 0), reads
 * /proc/<pid>/stat and the clocks; writes nothing. `recorded_start_or_0`
 * is the start time of the two-field form (0: none); `file_mtime` is the
 * file's st_mtim (NULL: judge by existence and the recorded start time
 * only). Returns TZ_PID_DEAD for pid <= 0, a missing process or one that
 * has exited and waits to be reaped (a zombie: its parent, or a lazy init
 * that adopted it, has not waited for it yet);
 * TZ_PID_OTHER_START when a start time is recorded and differs;
 * TZ_PID_STARTED_AFTER when none is recorded and the process started more
 * than TZ_PID_START_SLACK_MS after *file_mtime; otherwise TZ_PID_OWNER
 * (also when the process exists but its start time or the clocks cannot
 * be read: a PID that cannot be shown recycled is kept). */
tz_pid_verdict tz_pid_file_owner(pid_t pid, unsigned long long recorded_start_or_0,
                                 const struct timespec *file_mtime);

/* True when tz_pid_file_owner(pid, starttime_or_0, NULL) is TZ_PID_OWNER:
 * process `pid` exists and, when `starttime_or_0` is non-zero, started at
 * that time. Never true for pid <= 0. */
bool tz_pid_alive(pid_t pid, unsigned long long starttime_or_0);

/* Start time (clock ticks after boot, field 22 of /proc/<pid>/stat) of
 * process `pid` into *out. Returns TZ_OK, TZ_ENOTFOUND (no such process)
 * or TZ_EPARSE; *out untouched on failure. */
tz_status tz_proc_starttime(pid_t pid, unsigned long long *out) TZ_WUR;

/* Wall-clock (CLOCK_REALTIME) time at which process `pid` started: its
 * start ticks over sysconf(_SC_CLK_TCK) after the boot time, taken as
 * CLOCK_REALTIME - CLOCK_BOOTTIME now. Returns TZ_OK, TZ_ENOTFOUND (no
 * such process), TZ_EPARSE (unreadable stat) or TZ_EINVAL (clocks or
 * clock-tick rate unavailable); *out untouched on failure. */
tz_status tz_proc_start_wall(pid_t pid, struct timespec *out) TZ_WUR;

/* Parses "<pid>" or "<pid> <starttime>" (surrounding whitespace allowed,
 * nothing else) from the first line of `text`. Returns true and fills
 * *pid / *starttime (0 when absent) on success. */
bool tz_parse_pid_line(const char *text, pid_t *pid, unsigned long long *starttime);

/* Writes the content of a PID file owned by `pid`, "<pid>\n", into `buf`
 * (NUL-terminated). Returns its length (without the NUL), or -1 when pid
 * <= 0 or it does not fit (buf then unspecified). */
int tz_pid_file_format(char *buf, size_t n, pid_t pid);

/* One PID file as read. */
typedef struct tz_pid_file {
    char *text;                        /* the bytes read, NUL-terminated (owned) */
    size_t len;                        /* bytes in text */
    struct stat sb;                    /* fstat of the file read (mtime, inode) */
    bool has_pid;                      /* the first line is a PID line */
    pid_t pid;                         /* the PID it names; -1 when !has_pid */
    unsigned long long recorded_start; /* two-field form's start time, else 0 */
    tz_pid_verdict verdict;            /* tz_pid_file_owner's answer when has_pid */
} tz_pid_file;

/* Reads `path` (at most TZ_PID_FILE_MAX_BYTES) into *out, parses it and,
 * when it names a PID, judges it with tz_pid_file_owner against the mtime
 * of the very file read. Returns TZ_OK, TZ_ENOTFOUND (no such file),
 * TZ_EIO or TZ_ENOMEM (also for a larger file); on failure *out holds no
 * allocation (text NULL). Release with tz_pid_file_release. */
tz_status tz_pid_file_read(const char *path, tz_pid_file *out, tz_error *err) TZ_WUR;

/* Reads `path` again to see whether it still is the file `f` was read
 * from, so that removing it removes what was judged and not a successor
 * holding the same PID. Returns TZ_OK (same inode, same mtime, same bytes),
 * TZ_ENOTFOUND (gone) or TZ_EMISMATCH (replaced, rewritten, or unreadable).
 * Writes nothing. */
tz_status tz_pid_file_recheck(const char *path, const tz_pid_file *f) TZ_WUR;

/* Frees f->text (NULL afterwards). NULL or an empty f is a no-op. */
void tz_pid_file_release(tz_pid_file *f);

/* Says in words what `verdict` means for `pid` in a file named `noun`
 * ("lock", "sentinel"), e.g. "pid 42 no longer exists" or "pid 42 is
 * alive but started after the lock was written (recycled PID)". Writes
 * into `buf` (truncated to n, NUL-terminated) and returns buf. */
const char *tz_pid_why(pid_t pid, tz_pid_verdict verdict, const char *noun, char *buf, size_t n);

#endif
