/* The daemon's HTTP requests decided without a connection (http.h lists
 * the routes): method, path, Authorization header and body in, what to
 * answer out. http.c gathers the request, asks tz_req_decide and sends the
 * answer; the fuzz target tests/fuzz/fuzz_daemon_request.c drives it
 * directly. */
#ifndef TZ_DAEMON_REQUEST_H
#define TZ_DAEMON_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs.h"
#include "net/token.h"

/* The largest request body kept (job arguments, a deposit amount). */
#define TZ_REQ_BODY_MAX (64u << 10)

typedef enum {
    TZ_REQ_ERROR,  /* answer `status` with {"error":{"code","message"}} */
    TZ_REQ_PAGE,   /* the status page */
    TZ_REQ_STATUS, /* the lanes' status */
    TZ_REQ_FAST,   /* the fast read `fast` ("balance" or "addresses") */
    TZ_REQ_SUBMIT, /* queue `job` (NULL: memory was short) */
    TZ_REQ_JOBS,   /* the recent jobs */
    TZ_REQ_JOB,    /* the job `job_id` */
} tz_req_action;

typedef struct tz_req {
    tz_req_action action;
    unsigned status;   /* TZ_REQ_ERROR: the HTTP status */
    const char *code;  /* TZ_REQ_ERROR: "UNAUTHORIZED", "BAD_REQUEST", ... */
    char message[TZ_ERROR_MSG_MAX]; /* TZ_REQ_ERROR: for the client */
    const char *fast;
    tz_job *job;       /* TZ_REQ_SUBMIT: owned by the caller (tz_job_free) */
    long job_id;       /* TZ_REQ_JOB: >= 1 */
} tz_req;

/* Decides the request `method` `url` (not percent-decoded) with the
 * Authorization header `auth` (NULL when absent) and the body
 * body[0..body_len) (too_large: more than the daemon keeps was sent).
 * Every /api route needs the bearer `token` (checked first), then a body
 * that fits; POST /api/deposit wants {"amount": positive integer or
 * decimal string}, POST /api/jobs {"args": [...]} (tz_job_from_args_json).
 * Fills *out; allocates only out->job. Never fails. */
void tz_req_decide(const char *method, const char *url, const char *auth,
                   const char token[TZ_TOKEN_HEX_LEN + 1], const char *body, size_t body_len,
                   bool too_large, tz_req *out);

/* Decides what the request line and headers alone can decide, before a
 * byte of the body is read. `has_body`: the request announces a body (a
 * Content-Length above 0, or a chunked one); `body_len` its
 * Content-Length (UINT64_MAX when chunked); `content_type` the
 * Content-Type header (NULL when absent). Returns true with *out filled
 * (as tz_req_decide fills it) when the answer is known: a request without
 * a body (decided with an empty one); on /api, a missing or wrong token
 * (401), a body above TZ_REQ_BODY_MAX (413) or a body that is not
 * application/json (415); a route that takes no body (decided without
 * it). Returns false, *out zeroed, when the body must be read first and
 * handed to tz_req_decide (POST /api/deposit and POST /api/jobs).
 * Allocates only out->job. */
bool tz_req_head(const char *method, const char *url, const char *auth,
                 const char token[TZ_TOKEN_HEX_LEN + 1], const char *content_type, bool has_body,
                 uint64_t body_len, tz_req *out);

#endif
