/* The daemon's request parsing (daemon/request.h tz_req_decide, and
 * tz_req_head on the same request line and headers, the body announced
 * with its length, as text/plain when that length is odd): routes, the
 * bearer token header, JSON bodies and job arguments. The input is
 * "METHOD\nURL\nAUTHORIZATION\nBODY": a part that is missing is empty, an
 * Authorization of "-" is an absent header; the first byte of the method
 * line is the too-large flag when it is '!'. The token is 64 'a's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char token[TZ_TOKEN_HEX_LEN + 1] =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/* The next line of [*p, e) as a new C string; *p moves past it. */
static char *line(const char **p, const char *e)
{
    const char *nl = memchr(*p, '\n', (size_t)(e - *p));
    const char *end = nl ? nl : e;
    char *s = fz_cstr((const uint8_t *)*p, (size_t)(end - *p));
    *p = nl ? nl + 1 : e;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *e = p + size;
    char *method = line(&p, e), *url = line(&p, e), *auth = line(&p, e);
    bool too_large = method[0] == '!';
    /* the body: an exact copy, so ASan sees any read past its end */
    size_t blen = (size_t)(e - p);
    char *body = malloc(blen ? blen : 1);
    if (!body)
        abort();
    memcpy(body, p, blen);

    tz_req d;
    tz_req_decide(method + too_large, url, strcmp(auth, "-") == 0 ? NULL : auth, token, body,
                  blen, too_large, &d);
    if (d.action == TZ_REQ_ERROR) {
        FZ_ASSERT(d.status >= 400 && d.status < 600 && d.code && d.message[0]);
    } else if (strncmp(url, "/api", 4) == 0) {
        /* nothing under /api is served without the token */
        FZ_ASSERT(tz_token_check(auth, token));
    }
    if (d.action == TZ_REQ_SUBMIT && d.job) {
        FZ_ASSERT(d.job->args && d.job->args[0]);
        FZ_ASSERT(tz_job_subcommand_allowed(d.job->args[0]));
        tz_job_free(d.job);
    }
    if (d.action == TZ_REQ_JOB)
        FZ_ASSERT(d.job_id >= 1);

    tz_req h;
    const char *a = strcmp(auth, "-") == 0 ? NULL : auth;
    if (tz_req_head(method + too_large, url, a, token, blen & 1 ? "text/plain" : NULL, blen > 0,
                    blen, &h)) {
        if (h.action == TZ_REQ_ERROR)
            FZ_ASSERT(h.status >= 400 && h.status < 600 && h.code && h.message[0]);
        else if (strncmp(url, "/api", 4) == 0)
            FZ_ASSERT(tz_token_check(a, token));
        if (h.action == TZ_REQ_SUBMIT && h.job) {
            FZ_ASSERT(tz_job_subcommand_allowed(h.job->args[0]));
            tz_job_free(h.job);
        }
    } else {
        /* only the two routes that take a body read it, with the token */
        FZ_ASSERT(tz_token_check(a, token) && blen > 0 && blen <= TZ_REQ_BODY_MAX);
        FZ_ASSERT(strcmp(url, "/api/deposit") == 0 || strcmp(url, "/api/jobs") == 0);
    }
    free(body);
    free(auth);
    free(url);
    free(method);
    return 0;
}
