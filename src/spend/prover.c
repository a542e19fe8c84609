/* Running the local prover (prover.h). */
#include "spend/prover.h"

#include <errno.h>
#include <spawn.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spend/bundle.h"
#include "spend/prover_json.h"
#include "store/atomic.h"
#include "store/fsys.h"

extern char **environ;

static bool circuit_known(const char *c)
{
    return !strcmp(c, "run_transfer") || !strcmp(c, "run_unshield") || !strcmp(c, "run_shield");
}

/* Runs argv with stdout on our stderr and waits for it. */
static tz_status spawn_wait(char *const argv[], tz_error *err)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa))
        return tz_error_set(err, TZ_ENOMEM, "prover: out of memory");
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e)
        return tz_error_set(err, TZ_ESTATE, "cannot run the prover %s: %s", argv[0],
                            strerror(e));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return tz_error_set(err, TZ_ESTATE, "the prover %s: wait: %s", argv[0],
                                strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return TZ_OK;
    return tz_error_set(err, TZ_ESTATE, "the prover %s failed (%s %d)", argv[0],
                        WIFEXITED(status) ? "exit" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

tz_status tz_prover_run(const tz_prover *p, const char *circuit, const tz_felt *args, size_t n,
                        tz_kmsg_proof *out, tz_error *err)
{
    if (!circuit_known(circuit))
        return tz_error_set(err, TZ_EINVAL, "unknown circuit %s", circuit);
    const char *tmp = getenv("TMPDIR");
    char dir[4096], args_path[4200] = "", out_path[4200] = "", exe[8192];
    snprintf(dir, sizeof dir, "%s/tzel-prove-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return tz_error_set(err, TZ_EIO, "cannot create a folder for the prover's files in %s: %s",
                            tmp && *tmp ? tmp : "/tmp", strerror(errno));
    snprintf(args_path, sizeof args_path, "%s/arguments.json", dir);
    snprintf(out_path, sizeof out_path, "%s/bundle.json", dir);
    snprintf(exe, sizeof exe, "%s/%s.executable.json", p->exe_dir, circuit);
    char *json = NULL, *bundle = NULL;
    size_t json_len = 0, blen = 0;
    tz_status st = tz_prover_args_json(args, n, &json, &json_len, err);
    if (st == TZ_OK)
        st = tz_atomic_write(args_path, json, json_len, 0600, err);
    if (st == TZ_OK) {
        char *argv[] = {(char *)p->bin, exe, "--arguments-file", args_path, "--output",
                        out_path, NULL};
        st = spawn_wait(argv, err);
    }
    if (st == TZ_OK && ((st = tz_read_file(out_path, TZ_BUNDLE_MAX_TEXT, &bundle, &blen, err)) ||
                        (st = tz_bundle_parse(out, bundle, blen, err))))
        tz_error_prefix(err, "the prover's bundle");
    if (json)
        sodium_memzero(json, json_len);
    free(json);
    free(bundle);
    unlink(args_path);
    unlink(out_path);
    rmdir(dir);
    return st;
}
