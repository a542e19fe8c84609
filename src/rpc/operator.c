/* Operator client (operator.h): one blocking libcurl easy transfer per
 * call, its body in a capped buffer (base/buf.h). Separate from the rollup
 * node client's pool: the operator is another server, called rarely. */
#include "rpc/operator.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "rpc/jsonhttp.h"
#include "rpc/rpc_int.h"

#define HEALTH_TIMEOUT_SECS 30L

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

tz_status tz_operator_health(const char *base_url, char **out, tz_error *err)
{
    char *url = tz_http_url(base_url, "/healthz");
    tz_buf body = TZ_BUF_INIT(TZ_OPERATOR_HEALTH_MAX, false);
    CURL *h = NULL;
    tz_status st = TZ_OK;
    if (!url) {
        st = tz_error_set(err, TZ_ENOMEM, "operator health: out of memory");
        goto out;
    }
    if ((st = tz_rpc_global_init(err)))
        goto out;
    if (!(h = curl_easy_init())) {
        st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", url);
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tz_rpc_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, HEALTH_TIMEOUT_SECS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        st = tz_error_set(err, TZ_EHTTP, "HTTP error: %s: %s", url, curl_easy_strerror(cc));
        goto out;
    }
    /* as text: up to a NUL byte, if the operator sent one */
    const char *s = body.data ? body.data : "";
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_space(s[n - 1]))
        n--;
    char *text = strndup(s, n);
    if (!text) {
        st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", url);
        goto out;
    }
    *out = text;
out:
    if (h)
        curl_easy_cleanup(h);
    tz_buf_free(&body);
    free(url);
    return st;
}

/* One call to the operator's submissions API: GET url, or POST `body`
 * (JSON) to it, with the bearer token; *out is the answer's "submission"
 * object (new reference). */
static tz_status exchange(const char *url, const char *token, const char *body, json_t **out,
                          tz_error *err)
{
    json_t *ans = NULL;
    tz_status st = tz_http_json(url, token, body, body ? 60L : 35L, TZ_OPERATOR_ANSWER_MAX, &ans,
                                err);
    if (st)
        return st;
    json_t *sub = json_object_get(ans, "submission");
    if (!json_is_string(json_object_get(sub, "id")) ||
        !json_is_string(json_object_get(sub, "status"))) {
        char *text = json_dumps(ans, JSON_COMPACT);
        st = tz_error_set(err, TZ_EPARSE,
                          "%s %s: the answer has no submission id and status: %.200s",
                          body ? "POST" : "GET", url, text ? text : "");
        free(text);
    } else {
        *out = json_incref(sub);
    }
    json_decref(ans);
    return st;
}

tz_status tz_operator_submit(const char *base_url, const char *token, const char *kind,
                             const char *rollup_address, const uint8_t *payload, size_t len,
                             json_t **out, tz_error *err)
{
    char *url = tz_http_url(base_url, "/v1/rollup/submissions"), *hex = malloc(2 * len + 1),
         *body = NULL;
    json_t *req = NULL;
    tz_status st;
    if (!url || !hex)
        goto oom;
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", payload[i]);
    hex[2 * len] = '\0';
    req = json_pack("{s:s, s:s, s:s}", "kind", kind, "rollup_address", rollup_address,
                    "payload", hex);
    if (!req || !(body = json_dumps(req, JSON_COMPACT)))
        goto oom;
    st = exchange(url, token, body, out, err);
    goto out;
oom:
    st = tz_error_set(err, TZ_ENOMEM, "operator submission: out of memory");
out:
    json_decref(req);
    free(body);
    free(hex);
    free(url);
    return st;
}

tz_status tz_operator_status(const char *base_url, const char *token, const char *id,
                             json_t **out, tz_error *err)
{
    CURL *h = NULL;
    char *esc = NULL, *route = NULL, *url = NULL;
    tz_status st = tz_rpc_global_init(err);
    if (st)
        return st;
    if (!(h = curl_easy_init()) || !(esc = curl_easy_escape(h, id, 0)) ||
        asprintf(&route, "/v1/rollup/submissions/%s", esc) < 0 ||
        !(url = tz_http_url(base_url, route))) {
        st = tz_error_set(err, TZ_ENOMEM, "operator status: out of memory");
    } else {
        st = exchange(url, token, NULL, out, err);
    }
    free(route);
    free(url);
    curl_free(esc);
    if (h)
        curl_easy_cleanup(h);
    return st;
}
