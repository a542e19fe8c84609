/* One blocking JSON call over HTTP (jsonhttp.h). */
#include "rpc/jsonhttp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "rpc/rpc_int.h"

char *tz_http_url(const char *base_url, const char *route)
{
    size_t bl = strlen(base_url);
    while (bl && base_url[bl - 1] == '/')
        bl--;
    char *url = NULL;
    return asprintf(&url, "%.*s%s", (int)bl, base_url, route) < 0 ? NULL : url;
}

tz_status tz_http_json(const char *url, const char *token, const char *body, long timeout_s,
                       size_t max, json_t **out, tz_error *err)
{
    const char *method = body ? "POST" : "GET";
    char *auth = NULL;
    tz_buf answer = TZ_BUF_INIT(max, false);
    struct curl_slist *hdrs = NULL;
    CURL *h = NULL;
    tz_status st = TZ_OK;
    if (token && asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
        auth = NULL;
        goto oom;
    }
    if ((st = tz_rpc_global_init(err)))
        goto out;
    if (!(h = curl_easy_init()) ||
        !(hdrs = curl_slist_append(hdrs, "Content-Type: application/json")) ||
        (auth && !(hdrs = curl_slist_append(hdrs, auth))))
        goto oom;
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tz_rpc_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        st = tz_error_set(err, TZ_EHTTP, "HTTP error: %s %s: %s", method, url,
                          curl_easy_strerror(cc));
        goto out;
    }
    if (status >= 400) {
        st = tz_error_set(err, TZ_EHTTP, "HTTP error: %s %s: status %ld: %.200s", method, url,
                          status, answer.data ? answer.data : "");
        goto out;
    }
    json_error_t je;
    json_t *ans =
        answer.data ? json_loads(answer.data, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!ans) {
        st = tz_error_set(err, TZ_EPARSE, "%s %s: the answer is not JSON: %.200s", method, url,
                          answer.data ? answer.data : "");
        goto out;
    }
    *out = ans;
    goto out;
oom:
    st = tz_error_set(err, TZ_ENOMEM, "%s %s: out of memory", method, url);
out:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    tz_buf_free(&answer);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    return st;
}
