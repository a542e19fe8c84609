/* Operator client (operator.h): one blocking libcurl easy transfer per
 * call, its body in a capped buffer (base/buf.h). Separate from the rollup
 * node client's pool: the operator is another server, called rarely. */
#include "rpc/operator.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "rpc/rpc_int.h"

#define HEALTH_TIMEOUT_SECS 30L

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

tz_status tz_operator_health(const char *base_url, char **out, tz_error *err)
{
    size_t bl = strlen(base_url);
    while (bl && base_url[bl - 1] == '/')
        bl--;
    char *url = malloc(bl + sizeof "/healthz");
    tz_buf body = TZ_BUF_INIT(TZ_OPERATOR_HEALTH_MAX, false);
    CURL *h = NULL;
    tz_status st = TZ_OK;
    if (!url) {
        st = tz_error_set(err, TZ_ENOMEM, "operator health: out of memory");
        goto out;
    }
    memcpy(url, base_url, bl);
    memcpy(url + bl, "/healthz", sizeof "/healthz");
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
