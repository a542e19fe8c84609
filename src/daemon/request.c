/* Deciding the daemon's HTTP requests (request.h): routes, the bearer
 * token, body size, JSON bodies. */
#include "request.h"

#include <jansson.h>
#include <limits.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "base/num.h"

static const char too_large_message[] = "the request body is larger than 64 KiB";

static void error(tz_req *out, unsigned status, const char *code, const char *message)
{
    out->action = TZ_REQ_ERROR;
    out->status = status;
    out->code = code;
    snprintf(out->message, sizeof out->message, "%s", message);
}

/* Parses the request body as a JSON object ({} when empty); NULL with the
 * reason in why otherwise. */
static json_t *body_json(const char *body, size_t len, char *why, size_t cap)
{
    if (!len)
        return json_object();
    json_error_t je;
    json_t *v = json_loadb(body, len, 0, &je);
    if (!v) {
        snprintf(why, cap, "the request body is not JSON: %s", je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        snprintf(why, cap, "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

static void submit(tz_req *out, tz_job *job)
{
    out->action = TZ_REQ_SUBMIT;
    out->job = job;
}

static void deposit(tz_req *out, const char *body, size_t len)
{
    char why[256];
    json_t *b = body_json(body, len, why, sizeof why);
    if (!b)
        return error(out, 400, "BAD_REQUEST", why);
    json_t *amount = json_object_get(b, "amount");
    char num[32] = "";
    if (json_is_integer(amount) && json_integer_value(amount) > 0) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(amount));
    } else if (json_is_string(amount)) {
        /* u64 amounts above 2^63 travel as decimal strings; positive and
         * within u64, as the CLI will demand */
        uint64_t v = 0;
        if (tz_parse_u64(json_string_value(amount), UINT64_MAX, &v) && v > 0)
            snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    }
    json_decref(b);
    if (!num[0])
        return error(out, 400, "BAD_REQUEST",
                     "\"amount\" must be a positive integer (or a decimal string)");
    const char *args[] = {"deposit", "--amount", num, "--prepare-only"};
    submit(out, tz_job_new("deposit", args, 4));
}

static void run_job(tz_req *out, const char *body, size_t len)
{
    char why[256];
    json_t *b = body_json(body, len, why, sizeof why);
    if (!b)
        return error(out, 400, "BAD_REQUEST", why);
    tz_job *job = NULL;
    tz_error e = {0};
    tz_status st = tz_job_from_args_json(json_object_get(b, "args"), &job, &e);
    json_decref(b);
    if (st)
        return error(out, 400, "BAD_REQUEST", e.msg);
    submit(out, job);
}

static void api(tz_req *out, const char *method, const char *path, const char *body, size_t len)
{
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(path, "/status") == 0) {
        if (!get)
            return error(out, 405, "METHOD", "use GET");
        out->action = TZ_REQ_STATUS;
        return;
    }
    if (strcmp(path, "/balance") == 0 || strcmp(path, "/addresses") == 0) {
        if (!get)
            return error(out, 405, "METHOD", "use GET");
        out->action = TZ_REQ_FAST;
        out->fast = strcmp(path, "/balance") == 0 ? "balance" : "addresses";
        return;
    }
    if (strcmp(path, "/receive") == 0) {
        if (!post)
            return error(out, 405, "METHOD", "use POST");
        const char *args[] = {"receive"};
        return submit(out, tz_job_new("receive", args, 1));
    }
    if (strcmp(path, "/deposit") == 0) {
        if (!post)
            return error(out, 405, "METHOD", "use POST");
        return deposit(out, body, len);
    }
    if (strcmp(path, "/jobs") == 0) {
        if (get) {
            out->action = TZ_REQ_JOBS;
            return;
        }
        if (!post)
            return error(out, 405, "METHOD", "use GET or POST");
        return run_job(out, body, len);
    }
    if (strncmp(path, "/jobs/", 6) == 0) {
        if (!get)
            return error(out, 405, "METHOD", "use GET");
        /* The id as the daemon writes it: digits, no sign, no leading zero
         * (the path is not percent-decoded: see http.c keep_escapes). */
        const char *ids = path + 6;
        uint64_t id = 0;
        if (ids[0] == '0' || !tz_parse_u64(ids, LONG_MAX, &id) || id == 0)
            return error(out, 404, "NOT_FOUND", "no such job");
        out->action = TZ_REQ_JOB;
        out->job_id = (long)id;
        return;
    }
    error(out, 404, "NOT_FOUND", "no such API route");
}

static bool is_api(const char *url)
{
    return strcmp(url, "/api") == 0 || strncmp(url, "/api/", 5) == 0;
}

void tz_req_decide(const char *method, const char *url, const char *auth,
                   const char token[TZ_TOKEN_HEX_LEN + 1], const char *body, size_t body_len,
                   bool too_large, tz_req *out)
{
    memset(out, 0, sizeof *out);
    if (!body)
        body_len = 0;
    if (is_api(url)) {
        if (!tz_token_check(auth, token))
            return error(out, 401, "UNAUTHORIZED",
                         auth ? "wrong bearer token"
                              : "missing bearer token: send \"Authorization: Bearer <token>\" "
                                "with the token from the daemon's token file");
        if (too_large)
            return error(out, 413, "TOO_LARGE", too_large_message);
        return api(out, method, url + 4, body, body_len);
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return error(out, 405, "METHOD", "use GET");
        out->action = TZ_REQ_PAGE;
        return;
    }
    error(out, 404, "NOT_FOUND", "no such page");
}

/* "application/json", any case, optionally followed by parameters. */
static bool is_json_type(const char *type)
{
    static const char json[] = "application/json";
    size_t n = sizeof json - 1;
    if (strncasecmp(type, json, n) != 0)
        return false;
    type += n;
    while (*type == ' ' || *type == '\t')
        type++;
    return *type == '\0' || *type == ';';
}

bool tz_req_head(const char *method, const char *url, const char *auth,
                 const char token[TZ_TOKEN_HEX_LEN + 1], const char *content_type, bool has_body,
                 uint64_t body_len, tz_req *out)
{
    memset(out, 0, sizeof *out);
    if (!has_body || !is_api(url)) {
        tz_req_decide(method, url, auth, token, NULL, 0, false, out);
        return true;
    }
    if (!tz_token_check(auth, token)) {
        tz_req_decide(method, url, auth, token, NULL, 0, false, out);
        return true;
    }
    if (body_len != UINT64_MAX && body_len > TZ_REQ_BODY_MAX) {
        error(out, 413, "TOO_LARGE", too_large_message);
        return true;
    }
    if (content_type && !is_json_type(content_type)) {
        error(out, 415, "UNSUPPORTED_MEDIA_TYPE",
              "the request body must be JSON, sent with \"Content-Type: application/json\"");
        return true;
    }
    bool post = strcmp(method, "POST") == 0;
    if (post && (strcmp(url, "/api/deposit") == 0 || strcmp(url, "/api/jobs") == 0))
        return false;
    tz_req_decide(method, url, auth, token, NULL, 0, false, out);
    return true;
}
