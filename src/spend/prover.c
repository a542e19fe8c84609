/* Running the prover, locally or through a proving service (prover.h). */
#include "spend/prover.h"

#include <errno.h>
#include <jansson.h>
#include <spawn.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rpc/proving.h"
#include "spend/bundle.h"
#include "spend/proc.h"
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

/* `BIN EXE --program-hash`: its stdout, trimmed, into *hash (new). */
static tz_status local_program_hash(const tz_prover *p, const char *exe, char **hash,
                                    tz_error *err)
{
    char *argv[] = {(char *)p->bin, (char *)exe, "--program-hash", NULL};
    char *out = NULL, *errout = NULL;
    int status = 0;
    tz_status st = tz_proc_capture(argv, &out, &errout, &status, err);
    if (st) {
        tz_error_prefix(err, "reprove --program-hash");
        return st;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        st = tz_error_set(err, TZ_ESTATE, "reprove --program-hash failed: %.300s",
                          tz_proc_trim(errout));
    else if (!(*hash = strdup(tz_proc_trim(out))))
        st = tz_error_set(err, TZ_ENOMEM, "prover: out of memory");
    free(out);
    free(errout);
    return st;
}

/* The proof through p->service_url (prover.h). */
static tz_status run_service(const tz_prover *p, const char *circuit, const char *exe,
                             const char *args_text, size_t n,
                             tz_kmsg_proof *out, tz_error *err)
{
    const tz_prover_hooks *h = p->hooks;
    char *hash = NULL, *job = NULL, *bundle = NULL;
    json_t *b = NULL;
    tz_error e2 = {0};
    tz_status st = tz_proving_program_hash(p->service_url, circuit, &hash, &e2);
    if (st) {
        if (h && h->warn) {
            char msg[sizeof e2.msg + 128];
            snprintf(msg, sizeof msg,
                     "proving-service: /v1/programs lookup failed (%s), falling back to local "
                     "reprove --program-hash",
                     e2.msg);
            h->warn(h->ctx, msg);
        }
        if ((st = local_program_hash(p, exe, &hash, err)))
            goto out;
    }
    if (h && h->announce)
        h->announce(h->ctx, circuit, n, p->service_url);
    if ((st = tz_proving_submit(p->service_url, hash, args_text, &job, err)))
        goto out;
    if (h && h->started)
        h->started(h->ctx, p->service_url, job, hash);
    if ((st = tz_proving_wait(p->service_url, job, &b, err)))
        goto out;
    if (!(bundle = json_dumps(b, JSON_COMPACT))) {
        st = tz_error_set(err, TZ_ENOMEM, "prover: out of memory");
        goto out;
    }
    if ((st = tz_bundle_parse(out, bundle, strlen(bundle), err)))
        tz_error_prefix(err, "the proving service's bundle");
out:
    json_decref(b);
    free(bundle);
    free(job);
    free(hash);
    return st;
}

/* The local prover on the arguments text json (prover.h). */
static tz_status run_local(const tz_prover *p, const char *circuit, const char *exe,
                           const char *json, size_t json_len, size_t n, tz_kmsg_proof *out,
                           tz_error *err)
{
    const tz_prover_hooks *h = p->hooks;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], args_path[4200] = "", out_path[4200] = "";
    snprintf(dir, sizeof dir, "%s/tzel-prove-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return tz_error_set(err, TZ_EIO, "cannot create a folder for the prover's files in %s: %s",
                            tmp && *tmp ? tmp : "/tmp", strerror(errno));
    snprintf(args_path, sizeof args_path, "%s/arguments.json", dir);
    snprintf(out_path, sizeof out_path, "%s/bundle.json", dir);
    char *bundle = NULL;
    size_t blen = 0;
    tz_status st = tz_atomic_write(args_path, json, json_len, 0600, err);
    if (st == TZ_OK) {
        char *argv[] = {(char *)p->bin, (char *)exe, "--arguments-file", args_path, "--output",
                        out_path,       NULL};
        if (h && h->started)
            h->started(h->ctx, "local:reprove", "", "");
        if (h && h->announce)
            h->announce(h->ctx, circuit, n, NULL);
        st = spawn_wait(argv, err);
    }
    if (st == TZ_OK && ((st = tz_read_file(out_path, TZ_BUNDLE_MAX_TEXT, &bundle, &blen, err)) ||
                        (st = tz_bundle_parse(out, bundle, blen, err))))
        tz_error_prefix(err, "the prover's bundle");
    free(bundle);
    unlink(args_path);
    unlink(out_path);
    rmdir(dir);
    return st;
}

tz_status tz_prover_run(const tz_prover *p, const char *circuit, const tz_felt *args, size_t n,
                        tz_kmsg_proof *out, tz_error *err)
{
    if (!circuit_known(circuit))
        return tz_error_set(err, TZ_EINVAL, "unknown circuit %s", circuit);
    char exe[8192], *json = NULL;
    size_t json_len = 0;
    snprintf(exe, sizeof exe, "%s/%s.executable.json", p->exe_dir, circuit);
    tz_status st = tz_prover_args_json(args, n, &json, &json_len, err);
    if (st == TZ_OK)
        st = p->service_url ? run_service(p, circuit, exe, json, n, out, err)
                            : run_local(p, circuit, exe, json, json_len, n, out, err);
    if (json) /* witness secrets */
        sodium_memzero(json, json_len);
    free(json);
    return st;
}
