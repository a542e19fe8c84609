/* The PID-file readers (store/pidfile.h, sentinel.h, lock.h): the first
 * byte picks the reader, the rest is the file. 0: tz_parse_pid_line on the
 * text; 1: `<wallet>.yield` through tz_sentinel_check; 2: `<wallet>.lock`
 * through tz_lock_acquire (then released). Whatever the file says, the
 * PIDs are only probed (kill 0, /proc), never signalled. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "store/fsys.h"
#include "store/lock.h"
#include "store/pidfile.h"
#include "store/sentinel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int no_fsync(int fd) { return 0; }
static int no_fsync_dir(const char *dir) { return 0; }

/* Durability is not under test: skipping fsync makes a lock acquisition
 * cost a few system calls instead of a disk flush. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    tz_fsys t = *tz_fsys_default();
    t.fsync = no_fsync;
    t.fsync_dir = no_fsync_dir;
    tz_fsys_set(&t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    char path[1024], wallet[1024];
    snprintf(wallet, sizeof wallet, "%s/w.json", fz_scratch());
    tz_error err = {0};
    switch (data[0] % 3) {
    case 0: {
        char *text = fz_cstr(in, n);
        pid_t pid = 0;
        unsigned long long start = 0;
        if (tz_parse_pid_line(text, &pid, &start))
            FZ_ASSERT(pid > 0);
        free(text);
        break;
    }
    case 1: {
        fz_write(path, sizeof path, "w.json.yield", in, n);
        tz_sentinel_state state;
        long pid;
        tz_pid_verdict why;
        tz_status st = tz_sentinel_check(wallet, &state, &pid, &why, &err);
        FZ_ASSERT(st != TZ_OK || state != TZ_SENTINEL_NONE);
        fz_unlink("w.json.yield");
        break;
    }
    default: {
        fz_write(path, sizeof path, "w.json.lock", in, n);
        tz_lock *l = NULL;
        if (tz_lock_acquire(wallet, &l, &err) == TZ_OK)
            tz_lock_release(l);
        fz_unlink("w.json.lock");
        break;
    }
    }
    return 0;
}
