/* The local prover, through the reference's interface (SPENDS.md §6):
 * `BIN DIR/<circuit>.executable.json --arguments-file F --output F`, where
 * F are files in a private temporary folder. The real `reprove` and
 * tzel-transparent-prover have this command line. */
#ifndef TZ_SPEND_PROVER_H
#define TZ_SPEND_PROVER_H

#include <stddef.h>

#include "core/kmsg.h"
#include "core/status.h"
#include "core/types.h"

typedef struct tz_prover {
    const char *bin;     /* found through PATH when it has no '/' */
    const char *exe_dir; /* the folder of the *.executable.json files */
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
 * untouched on failure. */
tz_status tz_prover_run(const tz_prover *p, const char *circuit, const tz_felt *args, size_t n,
                        tz_kmsg_proof *out, tz_error *err) TZ_WUR;

#endif
