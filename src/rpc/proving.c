/* Proving-service client (proving.h), on one blocking JSON call per
 * request (jsonhttp.h). */
#include "rpc/proving.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/jsonhttp.h"
#include "rpc/rpc_int.h"

#define TIMEOUT_SECS 35L
#define ANSWER_MAX (64u << 20) /* a STARK bundle is a few hundred KB in hex */

tz_status tz_proving_program_hash(const char *url, const char *circuit, char **hash, tz_error *err)
{
    char *u = tz_http_url(url, "/v1/programs");
    if (!u)
        return tz_error_set(err, TZ_ENOMEM, "proving-service: out of memory");
    json_t *ans = NULL;
    tz_status st = tz_http_json(u, NULL, NULL, TIMEOUT_SECS, ANSWER_MAX, &ans, err);
    json_t *progs = json_object_get(ans, "programs");
    if (st)
        goto out;
    if (!json_is_array(progs)) {
        st = tz_error_set(err, TZ_EPARSE, "GET %s: response missing 'programs' array", u);
        goto out;
    }
    size_t i;
    json_t *p;
    json_array_foreach(progs, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        if (!name || strcmp(name, circuit))
            continue;
        const char *h = json_string_value(json_object_get(p, "program_hash"));
        if (!h) {
            st =
                tz_error_set(err, TZ_EPARSE, "GET %s: program %s missing program_hash", u, circuit);
        } else if (!(*hash = strdup(h))) {
            st = tz_error_set(err, TZ_ENOMEM, "proving-service: out of memory");
        }
        goto out;
    }
    st = tz_error_set(err, TZ_ENOTFOUND,
                      "proving-service has no registered program named '%s' (found %zu "
                      "programs)",
                      circuit, json_array_size(progs));
out:
    json_decref(ans);
    free(u);
    return st;
}

tz_status tz_proving_submit(const char *url, const char *program_hash, const char *args_json,
                            char **job_id, tz_error *err)
{
    char *u = tz_http_url(url, "/v1/jobs"), *body = NULL, *ph = NULL;
    json_t *phj = json_string(program_hash);
    json_t *ans = NULL;
    tz_status st = TZ_OK;
    /* the body is written here, not by jansson, so that the arguments
     * (witness secrets) live in one buffer that is wiped */
    if (!u || !phj || !(ph = json_dumps(phj, JSON_ENCODE_ANY)) ||
        asprintf(&body, "{\"program_hash\":%s,\"arguments\":%s}", ph, args_json) < 0) {
        body = NULL;
        st = tz_error_set(err, TZ_ENOMEM, "proving-service: out of memory");
        goto out;
    }
    if ((st = tz_http_json(u, NULL, body, TIMEOUT_SECS, ANSWER_MAX, &ans, err))) {
        tz_error_prefix(err, "proving-service submit failed");
        goto out;
    }
    const char *id = json_string_value(json_object_get(ans, "job_id"));
    if (!id)
        st = tz_error_set(err, TZ_EPARSE, "proving-service: POST %s missing job_id", u);
    else if (!(*job_id = strdup(id)))
        st = tz_error_set(err, TZ_ENOMEM, "proving-service: out of memory");
out:
    if (body) {
        memset(body, 0, strlen(body));
        free(body);
    }
    free(ph);
    json_decref(phj);
    json_decref(ans);
    free(u);
    return st;
}

tz_status tz_proving_wait(const char *url, const char *job_id, json_t **bundle, tz_error *err)
{
    tz_status st = tz_rpc_global_init(err);
    if (st)
        return st;
    CURL *h = curl_easy_init();
    char *esc = h ? curl_easy_escape(h, job_id, 0) : NULL;
    char *route = NULL, *base = NULL;
    if (!esc || asprintf(&route, "/v1/jobs/%s", esc) < 0 || !(base = tz_http_url(url, route))) {
        route = NULL;
        st = tz_error_set(err, TZ_ENOMEM, "proving-service: out of memory");
        goto out;
    }
    const char *last = NULL; /* the status last seen, for the long poll */
    int unknown = 0;
    for (int poll = 0; poll < TZ_PROVING_POLL_CAP; poll++) {
        char *u = NULL;
        if (asprintf(&u, "%s?wait=30%s%s", base, last ? "&if_state_changed_from=" : "",
                     last ? last : "") < 0) {
            st = tz_error_set(err, TZ_ENOMEM, "proving-service: out of memory");
            goto out;
        }
        json_t *ans = NULL;
        st = tz_http_json(u, NULL, NULL, TIMEOUT_SECS, ANSWER_MAX, &ans, err);
        free(u);
        if (st) {
            tz_error_prefix(err, "proving-service poll failed");
            goto out;
        }
        const char *s = json_string_value(json_object_get(ans, "status"));
        if (!s)
            s = "unknown";
        if (!strcmp(s, "done")) {
            json_t *b = json_object_get(ans, "proof_bundle");
            if (b)
                *bundle = json_incref(b);
            else
                st = tz_error_set(err, TZ_EPARSE,
                                  "proving-service: done response missing proof_bundle");
            json_decref(ans);
            goto out;
        }
        if (!strcmp(s, "failed")) {
            const char *m =
                json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
            st = tz_error_set(err, TZ_ESTATE, "proving-service reported failure: %s",
                              m ? m : "unknown");
            json_decref(ans);
            goto out;
        }
        if (!strcmp(s, "queued") || !strcmp(s, "running")) {
            last = !strcmp(s, "queued") ? "queued" : "running";
            unknown = 0;
        } else if (!strcmp(s, "unknown")) {
            if (++unknown >= TZ_PROVING_MAX_UNKNOWN) {
                st = tz_error_set(err, TZ_ESTATE,
                                  "proving-service: job %s stuck reporting status=unknown for "
                                  "%d consecutive polls",
                                  job_id, unknown);
                json_decref(ans);
                goto out;
            }
        } else {
            st = tz_error_set(err, TZ_ESTATE, "proving-service: unknown status '%.100s'", s);
            json_decref(ans);
            goto out;
        }
        json_decref(ans);
    }
    st = tz_error_set(err, TZ_ESTATE,
                      "proving-service: job %s did not complete within poll budget (%d "
                      "iterations x 30 s wait)",
                      job_id, TZ_PROVING_POLL_CAP);
out:
    free(base);
    free(route);
    curl_free(esc);
    if (h)
        curl_easy_cleanup(h);
    return st;
}
