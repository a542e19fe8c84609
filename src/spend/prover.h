/* The prover, through the reference's interfaces (SPENDS.md §6): locally,
 * `BIN DIR/<circuit>.executable.json --arguments-file F --output F`, where
 * F are files in a private temporary folder (the real `reprove` and
 * tzel-transparent-prover have this command line); or a proving service
 * (rpc/proving.h), whose program hash comes from its program list, else
 * from `BIN DIR/<circuit>.executable.json --program-hash`. */
#ifndef TZ_SPEND_PROVER_H
#define TZ_SPEND_PROVER_H

#include <stddef.h>

#include "core/kmsg.h"
#include "core/status.h"
#include "core/types.h"

/* What the caller shows of a proof under way (any member may be NULL). */
typedef struct tz_prover_hooks {
    /* the proof of `circuit` on n arguments is about to be asked for
     * (service_url NULL: locally) */
    void (*announce)(void *ctx, const char *circuit, size_t n, const char *service_url);
    /* proving is under way: prover_url "local:reprove" (job id and program
     * hash "") or the service's, with its job id and program hash */
    void (*started)(void *ctx, const char *prover_url, const char *job_id,
                    const char *program_hash);
    /* the service's program list could not be used: falling back to the
     * local --program-hash */
    void (*warn)(void *ctx, const char *msg);
    void *ctx;
} tz_prover_hooks;

typedef struct tz_prover {
    const char *bin;         /* found through PATH when it has no '/' */
    const char *exe_dir;     /* the folder of the *.executable.json files */
    const char *service_url; /* a proving service, or NULL: the local prover */
    const tz_prover_hooks *hooks; /* may be NULL */
} tz_prover;

/* Proves `circuit` ("run_transfer", "run_unshield" or "run_shield") on
 * args[0..n) (a tz_provarg_* list): writes them as the prover's JSON
 * arguments file (mode 0600, in a new folder under $TMPDIR or /tmp), runs
 * the prover with its stdout sent to our stderr, and parses its bundle
 * strictly (spend/bundle.h). Every file it made is removed and the
 * arguments text, which holds witness secrets, is wiped, whatever
 * happens. Returns TZ_OK with *out owning the proof (tz_kmsg_proof_free);
 * TZ_EIO when the folder or a file cannot be made or read; TZ_ESTATE
 * when the prover cannot be started, exits non-zero or is killed (the
 * message names the binary and the exit status or signal); TZ_EPARSE for
 * a malformed bundle; TZ_EINVAL for an unknown circuit; TZ_ENOMEM. *out
 * untouched on failure. With a service_url: the program hash from the
 * service (or the local binary's --program-hash), the job posted and
 * followed (rpc/proving.h's errors: TZ_EHTTP for a failed call, TZ_ESTATE
 * for a failed or stuck job), and its proof_bundle parsed as strictly. */
tz_status tz_prover_run(const tz_prover *p, const char *circuit, const tz_felt *args, size_t n,
                        tz_kmsg_proof *out, tz_error *err) TZ_WUR;

#endif
