/* Running a helper program and reading what it prints (proc.h). */
#include "spend/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"

extern char **environ;

/* Reads what fd has now into b (a truncating buffer); false at EOF or on
 * an error. */
static bool drain(int fd, tz_buf *b)
{
    char chunk[4096];
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (r <= 0)
        return false;
    tz_buf_append(b, chunk, (size_t)r);
    return true;
}

/* b's text as a new string ("" when empty), or NULL. */
static char *take(tz_buf *b)
{
    char *s = tz_buf_steal(b, NULL);
    return s ? s : strdup("");
}

tz_status tz_proc_capture(char *const argv[], char **out, char **errout, int *status, tz_error *err)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe(po) || pipe(pe)) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
        }
        return tz_error_set(err, TZ_EIO, "%s: pipe: %s", argv[0], strerror(e));
    }
    posix_spawn_file_actions_t fa;
    tz_status st = TZ_OK;
    pid_t pid = -1;
    if (posix_spawn_file_actions_init(&fa)) {
        st = tz_error_set(err, TZ_ENOMEM, "%s: out of memory", argv[0]);
    } else {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, po[1], 1);
        posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
        posix_spawn_file_actions_addclose(&fa, po[0]);
        posix_spawn_file_actions_addclose(&fa, pe[0]);
        int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (e)
            st = tz_error_set(err, TZ_ESTATE, "failed to start %s: %s", argv[0], strerror(e));
    }
    close(po[1]);
    close(pe[1]);
    tz_buf bo = {.max = TZ_PROC_OUTPUT_MAX, .truncate = true};
    tz_buf be = {.max = TZ_PROC_OUTPUT_MAX, .truncate = true};
    if (st == TZ_OK) {
        struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        tz_buf *bufs[2] = {&bo, &be};
        int open_fds = 2;
        while (open_fds > 0) {
            if (poll(fds, 2, -1) < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            for (int i = 0; i < 2; i++)
                if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                    !drain(fds[i].fd, bufs[i])) {
                    fds[i].fd = -1;
                    open_fds--;
                }
        }
        while (waitpid(pid, status, 0) < 0)
            if (errno != EINTR) {
                st = tz_error_set(err, TZ_ESTATE, "%s: wait: %s", argv[0], strerror(errno));
                break;
            }
    }
    close(po[0]);
    close(pe[0]);
    if (st == TZ_OK) {
        *out = take(&bo);
        *errout = take(&be);
        if (!*out || !*errout) {
            free(*out);
            free(*errout);
            *out = *errout = NULL;
            st = tz_error_set(err, TZ_ENOMEM, "%s: out of memory", argv[0]);
        }
    }
    tz_buf_free(&bo);
    tz_buf_free(&be);
    return st;
}

char *tz_proc_trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
                 s[n - 1] == '\v' || s[n - 1] == '\f'))
        s[--n] = '\0';
    return s;
}
