/* Proving-service client (SPENDS.md §6): the HTTP API the reference's
 * `--proving-service-url` speaks. GET /v1/programs names each circuit's
 * program hash; POST /v1/jobs {"program_hash", "arguments"} answers a
 * job_id; GET /v1/jobs/<id>?wait=30[&if_state_changed_from=<status>]
 * long-polls the job: queued, running, done (with "proof_bundle") or
 * failed (with "error": {"message"}). Every call: 5 s to connect, 35 s in
 * all. */
#ifndef TZ_RPC_PROVING_H
#define TZ_RPC_PROVING_H

#include <jansson.h>

#include "core/status.h"

/* Most polls of one job (60 x 30 s: 30 minutes), and most consecutive
 * answers without a status, as the reference. */
#define TZ_PROVING_POLL_CAP 60
#define TZ_PROVING_MAX_UNKNOWN 3

/* The program hash the service registers for `circuit` (its "name"):
 * TZ_OK with *hash a new string; TZ_EHTTP (the call failed), TZ_EPARSE
 * (no "programs" array, or the circuit's entry has no string
 * program_hash), TZ_ENOTFOUND ("proving-service has no registered program
 * named '<circuit>' (found <n> programs)"), TZ_ENOMEM. */
tz_status tz_proving_program_hash(const char *url, const char *circuit, char **hash,
                                  tz_error *err) TZ_WUR;

/* POSTs the job {"program_hash": program_hash, "arguments": args_json}
 * (args_json: the text of a JSON array, wiped from the body after the
 * call) to <url>/v1/jobs: TZ_OK with *job_id a new string;
 * TZ_EHTTP ("proving-service submit failed: ..."), TZ_EPARSE (no string
 * job_id), TZ_ENOMEM. */
tz_status tz_proving_submit(const char *url, const char *program_hash, const char *args_json,
                            char **job_id, tz_error *err) TZ_WUR;

/* Polls job `job_id` until it is done: TZ_OK with *bundle its
 * "proof_bundle" (a new reference, for spend/bundle.h). Fails with the
 * reference's messages: TZ_ESTATE when the service reports the job failed
 * ("proving-service reported failure: <message>"), answers no status
 * TZ_PROVING_MAX_UNKNOWN times in a row, answers a status it does not
 * define, or the job is not done after TZ_PROVING_POLL_CAP polls;
 * TZ_EPARSE when a done answer has no proof_bundle; TZ_EHTTP when a poll
 * fails ("proving-service poll failed: ..."); TZ_ENOMEM. */
tz_status tz_proving_wait(const char *url, const char *job_id, json_t **bundle,
                          tz_error *err) TZ_WUR;

#endif
