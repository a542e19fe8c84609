/* Rollup node client: a libcurl multi handle driving a fixed pool of easy
 * handles, one per allowed in-flight request.
 *
 * Every operation is a small state machine plugged into one event loop
 * (run()): `next` hands out the next request to issue, `done` consumes a
 * finished transfer. On the first error or on cancellation the loop removes
 * every in-flight transfer at once (libcurl closes their connections) and
 * returns; nothing is awaited. */
#include "rpc/rpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 768
#define BASE_MAX 256
#define KEY_MAX 400
/* Largest body we read: a 4 MiB value in hex, quoted, plus slack. */
#define BODY_MAX ((size_t)TZ_RPC_MAX_VALUE * 2 + 4096)
/* Bodies above this are not kept allocated between requests. */
#define BODY_KEEP (64u << 10)
#define NOTE_CHUNK 1024u
#define POLL_MS 10

enum { VALUES_UNKNOWN = -1, VALUES_NO = 0, VALUES_YES = 1 };

typedef struct xfer {
    CURL *easy;
    bool busy;
    char url[URL_MAX];
    char errbuf[CURL_ERROR_SIZE];
    char *body;          /* NUL-terminated */
    size_t len, cap;
    bool too_big;
    long http;
    /* what the request is for, set by the operation */
    size_t slot;
    uint32_t kind;
    uint32_t chunk;
} xfer;

struct tz_rpc {
    char base[BASE_MAX];
    unsigned conc;
    CURLM *multi;
    xfer *x;
    volatile int *cancel;
    bool use_values;
    int values_state;
    tz_rpc_stats stats;
};

/* ---- global init ------------------------------------------------------ */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc;
static void global_init(void) { g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- body buffer ------------------------------------------------------ */

static size_t on_body(char *data, size_t sz, size_t nmemb, void *userp)
{
    xfer *x = userp;
    size_t n = sz * nmemb;
    if (n > BODY_MAX - x->len) {
        x->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (x->len + n + 1 > x->cap) {
        size_t nc = x->cap ? x->cap : 4096;
        while (nc < x->len + n + 1)
            nc *= 2;
        if (nc > BODY_MAX + 1)
            nc = BODY_MAX + 1;
        char *nb = realloc(x->body, nc);
        if (!nb)
            return 0;
        x->body = nb;
        x->cap = nc;
    }
    memcpy(x->body + x->len, data, n);
    x->len += n;
    x->body[x->len] = '\0';
    return n;
}

static void body_reset(xfer *x)
{
    if (x->cap > BODY_KEEP) {
        free(x->body);
        x->body = NULL;
        x->cap = 0;
    }
    x->len = 0;
    if (x->body)
        x->body[0] = '\0';
    x->too_big = false;
    x->http = 0;
    x->errbuf[0] = '\0';
}

/* ---- client ----------------------------------------------------------- */

tz_rpc *tz_rpc_new(const char *base_url, unsigned concurrency, tz_error *err)
{
    if (!base_url || concurrency < 1 || concurrency > TZ_RPC_MAX_CONCURRENCY) {
        tz_error_set(err, TZ_EINVAL, "rollup client: concurrency must be 1..%d",
                     TZ_RPC_MAX_CONCURRENCY);
        return NULL;
    }
    size_t bl = strlen(base_url);
    while (bl > 0 && base_url[bl - 1] == '/')
        bl--;
    if (bl == 0 || bl >= BASE_MAX ||
        (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)) {
        tz_error_set(err, TZ_EINVAL, "rollup node URL must be http(s)://host[:port], got '%s'",
                     base_url);
        return NULL;
    }
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK) {
        tz_error_set(err, TZ_EHTTP, "curl_global_init: %s", curl_easy_strerror(g_init_rc));
        return NULL;
    }
    tz_rpc *c = calloc(1, sizeof *c);
    if (!c) {
        tz_error_set(err, TZ_ENOMEM, "rollup client: out of memory");
        return NULL;
    }
    memcpy(c->base, base_url, bl);
    c->base[bl] = '\0';
    c->conc = concurrency;
    c->use_values = true;
    c->values_state = VALUES_UNKNOWN;
    c->x = calloc(concurrency, sizeof *c->x);
    c->multi = curl_multi_init();
    if (!c->x || !c->multi)
        goto oom;
    long conc_l = (long)concurrency;
    if (curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING) ||
        curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc_l) ||
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conc_l) ||
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, conc_l)) {
        tz_error_set(err, TZ_EHTTP, "rollup client: curl_multi_setopt failed");
        tz_rpc_free(c);
        return NULL;
    }
    for (unsigned i = 0; i < concurrency; i++) {
        xfer *x = &c->x[i];
        x->easy = curl_easy_init();
        if (!x->easy)
            goto oom;
        CURL *e = x->easy;
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(e, CURLOPT_PRIVATE, x);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BODY_MAX);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        /* a node that stalls for a minute is down, not slow */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "tzel-c");
    }
    return c;
oom:
    tz_error_set(err, TZ_ENOMEM, "rollup client: out of memory");
    tz_rpc_free(c);
    return NULL;
}

void tz_rpc_free(tz_rpc *c)
{
    if (!c)
        return;
    if (c->x) {
        for (unsigned i = 0; i < c->conc; i++) {
            xfer *x = &c->x[i];
            if (x->easy) {
                if (x->busy && c->multi)
                    curl_multi_remove_handle(c->multi, x->easy);
                curl_easy_cleanup(x->easy);
            }
            free(x->body);
        }
        free(c->x);
    }
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c);
}

void tz_rpc_set_cancel_flag(tz_rpc *c, volatile int *flag) { c->cancel = flag; }

void tz_rpc_set_use_values(tz_rpc *c, bool use) { c->use_values = use; }

void tz_rpc_get_stats(const tz_rpc *c, tz_rpc_stats *out)
{
    *out = c->stats;
    out->values_route = c->values_state;
}

/* ---- URLs ------------------------------------------------------------- */

static bool block_ok(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n >= TZ_BLOCK_HASH_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return false;
    }
    return true;
}

static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 2 || n > KEY_MAX || k[0] != '/' || k[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        if (ch == '/') {
            if (i > 0 && k[i - 1] == '/')
                return false;
            continue;
        }
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static tz_status check_args(const char *block, const char *key, tz_error *err)
{
    if (!block || !block_ok(block))
        return tz_error_set(err, TZ_EINVAL, "bad block reference '%s'", block ? block : "(null)");
    if (key && !key_ok(key))
        return tz_error_set(err, TZ_EINVAL, "bad durable key '%s'", key);
    return TZ_OK;
}

/* route is one of value, length, subkeys, values */
static void durable_url(const tz_rpc *c, char *out, const char *block, const char *route,
                        const char *key)
{
    snprintf(out, URL_MAX, "%s/global/block/%s/durable/wasm_2_0_0/%s?key=%s", c->base, block,
             route, key);
}

/* ---- event loop ------------------------------------------------------- */

typedef struct op {
    /* Fills x->url, x->slot, x->kind, x->chunk for the next request to
     * issue. Returns true if there is one. */
    bool (*next)(void *ctx, tz_rpc *c, xfer *x);
    /* Consumes a finished transfer (HTTP status in x->http). */
    tz_status (*done)(void *ctx, tz_rpc *c, xfer *x, tz_error *err);
    void *ctx;
} op;

static void account(tz_rpc *c, xfer *x)
{
    long nc = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK && nc > 0)
        c->stats.connections += (uint64_t)nc;
    c->stats.requests++;
}

/* Removes every in-flight transfer without waiting for it. */
static void abandon_all(tz_rpc *c)
{
    for (unsigned i = 0; i < c->conc; i++) {
        xfer *x = &c->x[i];
        if (!x->busy)
            continue;
        account(c, x);
        curl_multi_remove_handle(c->multi, x->easy);
        x->busy = false;
        body_reset(x);
    }
}

static bool cancelled(const tz_rpc *c) { return c->cancel && *c->cancel; }

static tz_status run(tz_rpc *c, const op *o, tz_error *err)
{
    unsigned active = 0;
    tz_status st = TZ_OK;
    for (;;) {
        if (cancelled(c)) {
            st = tz_error_set(err, TZ_ECANCEL, "rollup requests cancelled");
            goto fail;
        }
        /* fill free transfers */
        for (unsigned i = 0; i < c->conc && active < c->conc; i++) {
            xfer *x = &c->x[i];
            if (x->busy)
                continue;
            body_reset(x);
            if (!o->next(o->ctx, c, x))
                break;
            curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
            CURLMcode mc = curl_multi_add_handle(c->multi, x->easy);
            if (mc != CURLM_OK) {
                st = tz_error_set(err, TZ_EHTTP, "GET %s: %s", x->url, curl_multi_strerror(mc));
                goto fail;
            }
            x->busy = true;
            active++;
        }
        if (active == 0)
            return TZ_OK;
        int running = 0;
        CURLMcode mc = curl_multi_perform(c->multi, &running);
        if (mc != CURLM_OK) {
            st = tz_error_set(err, TZ_EHTTP, "rollup client: %s", curl_multi_strerror(mc));
            goto fail;
        }
        bool finished_any = false;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
            xfer *x = (xfer *)(void *)priv;
            CURLcode rc = m->data.result;
            account(c, x);
            curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->http);
            curl_multi_remove_handle(c->multi, x->easy);
            x->busy = false;
            active--;
            finished_any = true;
            c->stats.bytes += x->len;
            if (rc != CURLE_OK) {
                if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED)
                    st = tz_error_set(err, TZ_ENOMEM,
                                      "GET %s: response body exceeds %zu bytes (values above "
                                      "4 MiB are refused)",
                                      x->url, (size_t)BODY_MAX);
                else
                    st = tz_error_set(err, TZ_EHTTP, "GET %s: %s%s%s", x->url,
                                      curl_easy_strerror(rc), x->errbuf[0] ? ": " : "",
                                      x->errbuf);
                goto fail;
            }
            st = o->done(o->ctx, c, x, err);
            if (st)
                goto fail;
            if (cancelled(c)) {
                st = tz_error_set(err, TZ_ECANCEL, "rollup requests cancelled");
                goto fail;
            }
        }
        if (!finished_any && active > 0) {
            mc = curl_multi_poll(c->multi, NULL, 0, POLL_MS, NULL);
            if (mc != CURLM_OK) {
                st = tz_error_set(err, TZ_EHTTP, "rollup client: %s", curl_multi_strerror(mc));
                goto fail;
            }
        }
    }
fail:
    abandon_all(c);
    return st;
}

/* ---- body parsing ----------------------------------------------------- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* Error for a status the operation does not expect. Appends a short,
 * printable excerpt of the body (the node's JSON error list). */
static tz_status http_error(const xfer *x, tz_error *err)
{
    char snip[161];
    size_t n = 0;
    for (size_t i = 0; i < x->len && n < sizeof snip - 1; i++) {
        char ch = x->body[i];
        if (ch == '\n' || ch == '\r')
            ch = ' ';
        if ((unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e)
            ch = '?';
        snip[n++] = ch;
    }
    while (n > 0 && snip[n - 1] == ' ')
        n--;
    snip[n] = '\0';
    return tz_error_set(err, TZ_EHTTP, "GET %s: HTTP %ld%s%s", x->url, x->http, n ? ": " : "",
                        snip);
}

/* Locates the hex text of a `value` body: a JSON string (optionally
 * 0x-prefixed) or bare hex. Sets *is_null for JSON null. */
static tz_status body_hex(const xfer *x, const char **hex, size_t *hexlen, bool *is_null,
                          tz_error *err)
{
    const char *p = x->body ? x->body : "", *e = p + x->len;
    p = skip_ws(p, e);
    while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t'))
        e--;
    *is_null = false;
    if (p == e)
        return tz_error_set(err, TZ_EPARSE, "GET %s: empty body", x->url);
    if ((size_t)(e - p) == 4 && memcmp(p, "null", 4) == 0) {
        *is_null = true;
        return TZ_OK;
    }
    if (e - p >= 2 && *p == '"' && e[-1] == '"') {
        p++;
        e--;
    } else if (p < e && (*p == '"' || e[-1] == '"')) {
        return tz_error_set(err, TZ_EPARSE, "GET %s: malformed JSON string body", x->url);
    }
    if (e - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;
    for (const char *q = p; q < e; q++) {
        char ch = *q;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return tz_error_set(err, TZ_EPARSE, "GET %s: value is not hex (byte 0x%02x at %zu)",
                                x->url, (unsigned char)ch, (size_t)(q - x->body));
    }
    if ((e - p) % 2)
        return tz_error_set(err, TZ_EPARSE, "GET %s: value has an odd number of hex digits",
                            x->url);
    if ((size_t)(e - p) / 2 > TZ_RPC_MAX_VALUE)
        return tz_error_set(err, TZ_ENOMEM, "GET %s: value of %zu bytes exceeds 4 MiB", x->url,
                            (size_t)(e - p) / 2);
    *hex = p;
    *hexlen = (size_t)(e - p);
    return TZ_OK;
}

/* Decodes `hexlen` validated hex digits into a fresh buffer (>= 1 byte). */
static tz_status hex_dup(const char *hex, size_t hexlen, uint8_t **out, size_t *len,
                         const char *url, tz_error *err)
{
    uint8_t *b = malloc(hexlen / 2 + 1);
    if (!b)
        return tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", url);
    size_t n = 0;
    if (tz_hex_decode(b, hexlen / 2, &n, hex, hexlen) != TZ_OK) {
        free(b);
        return tz_error_set(err, TZ_EPARSE, "GET %s: malformed hex value", url);
    }
    *out = b;
    *len = n;
    return TZ_OK;
}

static json_t *body_json(const xfer *x, tz_error *err, tz_status *st)
{
    json_error_t je;
    json_t *j = json_loadb(x->body ? x->body : "", x->len, JSON_DECODE_ANY, &je);
    if (!j)
        *st = tz_error_set(err, TZ_EPARSE, "GET %s: malformed JSON body: %s", x->url, je.text);
    else
        *st = TZ_OK;
    return j;
}

/* ---- single GET ------------------------------------------------------- */

typedef struct single {
    const char *url;
    bool issued;
    xfer copy;        /* status and body handed over from the transfer */
} single;

static bool single_next(void *ctx, tz_rpc *c, xfer *x)
{
    single *s = ctx;
    if (s->issued)
        return false;
    s->issued = true;
    snprintf(x->url, URL_MAX, "%s", s->url);
    return true;
}

static tz_status single_done(void *ctx, tz_rpc *c, xfer *x, tz_error *err)
{
    single *s = ctx;
    /* take the body so the caller can parse it after the loop */
    s->copy.http = x->http;
    s->copy.body = x->body;
    s->copy.len = x->len;
    s->copy.cap = x->cap;
    memcpy(s->copy.url, x->url, URL_MAX);
    x->body = NULL;
    x->len = x->cap = 0;
    return TZ_OK;
}

/* Performs one GET; on TZ_OK *s holds the status and body (free
 * s->copy.body). */
static tz_status get1(tz_rpc *c, const char *url, single *s, tz_error *err)
{
    memset(s, 0, sizeof *s);
    s->url = url;
    op o = {single_next, single_done, s};
    tz_status st = run(c, &o, err);
    if (st) {
        free(s->copy.body);
        s->copy.body = NULL;
    }
    return st;
}

/* GETs `url` and parses a 200 answer's body as JSON (any value). Returns
 * the value (the caller decrefs it), or NULL with *st set to the transfer's
 * error, the HTTP status's error (http_error) or TZ_EPARSE. The body is
 * freed either way. */
static json_t *get_json(tz_rpc *c, const char *url, tz_status *st, tz_error *err)
{
    single s;
    json_t *j = NULL;
    if ((*st = get1(c, url, &s, err)))
        return NULL;
    if (s.copy.http != 200)
        *st = http_error(&s.copy, err);
    else
        j = body_json(&s.copy, err, st);
    free(s.copy.body);
    return j;
}

tz_status tz_rpc_head_hash(tz_rpc *c, char out[TZ_BLOCK_HASH_MAX], tz_error *err)
{
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s/global/block/head/hash", c->base);
    tz_status st;
    json_t *j = get_json(c, url, &st, err);
    if (!j)
        return st;
    const char *h = json_string_value(j);
    if (!h || !block_ok(h) || h[0] != 'B') {
        st = tz_error_set(err, TZ_EPARSE, "GET %s: expected a B... block hash", url);
    } else {
        snprintf(out, TZ_BLOCK_HASH_MAX, "%s", h);
    }
    json_decref(j);
    return st;
}

tz_status tz_rpc_rollup_address(tz_rpc *c, char out[TZ_ROLLUP_ADDRESS_MAX], tz_error *err)
{
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s/global/smart_rollup_address", c->base);
    tz_status st;
    json_t *j = get_json(c, url, &st, err);
    if (!j)
        return st;
    const char *a = json_string_value(j);
    if (!a || strncmp(a, "sr1", 3) != 0 || strlen(a) >= TZ_ROLLUP_ADDRESS_MAX || !block_ok(a))
        st = tz_error_set(err, TZ_EPARSE, "GET %s: expected an sr1... address", url);
    else
        snprintf(out, TZ_ROLLUP_ADDRESS_MAX, "%s", a);
    json_decref(j);
    return st;
}

tz_status tz_rpc_block_level(tz_rpc *c, const char *block, int64_t *out, tz_error *err)
{
    tz_status st = check_args(block, NULL, err);
    if (st)
        return st;
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s/global/block/%s/level", c->base, block);
    json_t *j = get_json(c, url, &st, err);
    if (!j)
        return st;
    if (!json_is_integer(j))
        st = tz_error_set(err, TZ_EPARSE, "GET %s: expected a JSON integer", url);
    else
        *out = (int64_t)json_integer_value(j);
    json_decref(j);
    return st;
}

tz_status tz_rpc_read_value(tz_rpc *c, const char *block, const char *key, uint8_t **out,
                            size_t *len, tz_error *err)
{
    tz_status st = check_args(block, key, err);
    if (st)
        return st;
    char url[URL_MAX];
    durable_url(c, url, block, "value", key);
    single s;
    if ((st = get1(c, url, &s, err)))
        return st;
    if (s.copy.http == 404) {
        st = tz_error_set(err, TZ_ENOTFOUND, "GET %s: key absent (HTTP 404)", url);
    } else if (s.copy.http != 200) {
        st = http_error(&s.copy, err);
    } else {
        const char *hex = NULL;
        size_t hexlen = 0;
        bool is_null;
        st = body_hex(&s.copy, &hex, &hexlen, &is_null, err);
        if (!st && is_null)
            st = tz_error_set(err, TZ_ENOTFOUND, "GET %s: key absent", url);
        else if (!st)
            st = hex_dup(hex, hexlen, out, len, url, err);
    }
    free(s.copy.body);
    return st;
}

tz_status tz_rpc_read_u64(tz_rpc *c, const char *block, const char *key, uint64_t *out,
                          tz_error *err)
{
    uint8_t *b = NULL;
    size_t n = 0;
    tz_status st = tz_rpc_read_value(c, block, key, &b, &n, err);
    if (st)
        return st;
    if (n != 8)
        st = tz_error_set(err, TZ_EPARSE, "durable u64 at %s has %zu bytes, expected 8", key, n);
    else
        *out = tz_get_u64le(b);
    free(b);
    return st;
}

tz_status tz_rpc_read_felt(tz_rpc *c, const char *block, const char *key, tz_felt *out,
                           tz_error *err)
{
    uint8_t *b = NULL;
    size_t n = 0;
    tz_status st = tz_rpc_read_value(c, block, key, &b, &n, err);
    if (st)
        return st;
    if (n != TZ_FELT_BYTES)
        st = tz_error_set(err, TZ_EPARSE, "durable felt at %s has %zu bytes, expected %d", key,
                          n, TZ_FELT_BYTES);
    else
        memcpy(out->b, b, TZ_FELT_BYTES);
    free(b);
    return st;
}

/* Parses a decimal string or a JSON number as a length. */
static tz_status parse_length(const xfer *x, uint64_t *out, bool *is_null, tz_error *err)
{
    tz_status st;
    json_t *j = body_json(x, err, &st);
    if (!j)
        return st;
    *is_null = false;
    st = TZ_OK;
    if (json_is_null(j)) {
        *is_null = true;
    } else if (json_is_integer(j) && json_integer_value(j) >= 0) {
        *out = (uint64_t)json_integer_value(j);
    } else if (json_is_string(j)) {
        const char *s = json_string_value(j);
        size_t n = json_string_length(j);
        uint64_t v = 0;
        if (n == 0 || n > 20)
            st = TZ_EPARSE;
        for (size_t i = 0; !st && i < n; i++) {
            if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
                st = TZ_EPARSE;
            else
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (!st)
            *out = v;
    } else {
        st = TZ_EPARSE;
    }
    json_decref(j);
    if (st)
        return tz_error_set(err, TZ_EPARSE, "GET %s: length is not a decimal integer", x->url);
    return TZ_OK;
}

tz_status tz_rpc_read_length(tz_rpc *c, const char *block, const char *key, uint64_t *out,
                             tz_error *err)
{
    tz_status st = check_args(block, key, err);
    if (st)
        return st;
    char url[URL_MAX];
    durable_url(c, url, block, "length", key);
    single s;
    if ((st = get1(c, url, &s, err)))
        return st;
    if (s.copy.http == 404) {
        st = tz_error_set(err, TZ_ENOTFOUND, "GET %s: key absent (HTTP 404)", url);
    } else if (s.copy.http != 200) {
        st = http_error(&s.copy, err);
    } else {
        bool is_null = false;
        uint64_t v = 0;
        st = parse_length(&s.copy, &v, &is_null, err);
        if (!st && is_null)
            st = tz_error_set(err, TZ_ENOTFOUND, "GET %s: key absent", url);
        else if (!st)
            *out = v;
    }
    free(s.copy.body);
    return st;
}

void tz_rpc_free_names(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

tz_status tz_rpc_read_subkeys(tz_rpc *c, const char *block, const char *key, char ***names,
                              size_t *n, tz_error *err)
{
    tz_status st = check_args(block, key, err);
    if (st)
        return st;
    char url[URL_MAX];
    durable_url(c, url, block, "subkeys", key);
    single s;
    if ((st = get1(c, url, &s, err)))
        return st;
    char **v = NULL;
    size_t cnt = 0;
    json_t *j = NULL;
    if (s.copy.http == 404) {
        /* absent key on a tolerant node: empty listing */
    } else if (s.copy.http != 200) {
        st = http_error(&s.copy, err);
    } else if ((j = body_json(&s.copy, err, &st))) {
        if (!json_is_array(j)) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: expected a JSON array", url);
        } else {
            size_t m = json_array_size(j);
            v = calloc(m ? m : 1, sizeof *v);
            if (!v)
                st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", url);
            for (size_t i = 0; !st && i < m; i++) {
                const char *name = json_string_value(json_array_get(j, i));
                if (!name)
                    st = tz_error_set(err, TZ_EPARSE, "GET %s: subkey %zu is not a string", url,
                                      i);
                else if (!(v[cnt] = strdup(name)))
                    st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", url);
                else
                    cnt++;
            }
        }
        json_decref(j);
    }
    free(s.copy.body);
    if (st) {
        tz_rpc_free_names(v, cnt);
        return st;
    }
    if (!v && !(v = calloc(1, sizeof *v)))
        return tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", url);
    *names = v;
    *n = cnt;
    return TZ_OK;
}

/* ---- batch of values -------------------------------------------------- */

typedef struct batch {
    const char *block;
    const char *const *keys;
    size_t n, next;
    uint8_t **out;
    size_t *lens;
    bool *present;
    bool absent_ok;
} batch;

static bool batch_next(void *ctx, tz_rpc *c, xfer *x)
{
    batch *b = ctx;
    if (b->next >= b->n)
        return false;
    x->slot = b->next++;
    durable_url(c, x->url, b->block, "value", b->keys[x->slot]);
    return true;
}

static tz_status batch_done(void *ctx, tz_rpc *c, xfer *x, tz_error *err)
{
    batch *b = ctx;
    size_t i = x->slot;
    bool is_null = x->http == 404;
    const char *hex = NULL;
    size_t hexlen = 0;
    if (x->http != 200 && x->http != 404)
        return http_error(x, err);
    if (x->http == 200) {
        tz_status st = body_hex(x, &hex, &hexlen, &is_null, err);
        if (st)
            return st;
    }
    if (is_null) {
        if (!b->absent_ok)
            return tz_error_set(err, TZ_ENOTFOUND, "GET %s: key absent%s", x->url,
                                x->http == 404 ? " (HTTP 404)" : "");
        b->present[i] = false;
        b->lens[i] = 0;
        return TZ_OK;
    }
    tz_status st = hex_dup(hex, hexlen, &b->out[i], &b->lens[i], x->url, err);
    if (!st && b->present)
        b->present[i] = true;
    return st;
}

tz_status tz_rpc_read_blobs(tz_rpc *c, const char *block, const char *const *keys, size_t n,
                            uint8_t **out, size_t *lens, bool *present, tz_error *err)
{
    tz_status st = check_args(block, NULL, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        if ((st = check_args(block, keys[i], err)))
            return st;
        out[i] = NULL;
        lens[i] = 0;
        if (present)
            present[i] = false;
    }
    batch b = {block, keys, n, 0, out, lens, present, present != NULL};
    op o = {batch_next, batch_done, &b};
    st = run(c, &o, err);
    if (st) {
        for (size_t i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    }
    return st;
}

/* Reads fixed-size values through tz_rpc_read_blobs, `width` bytes each. */
static tz_status read_fixed(tz_rpc *c, const char *block, const char *const *keys, size_t n,
                            size_t width, void (*store)(void *out, size_t i, const uint8_t *b),
                            void *outv, bool *present, tz_error *err)
{
    uint8_t **bufs = calloc(n ? n : 1, sizeof *bufs);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    bool *pres = calloc(n ? n : 1, sizeof *pres);
    tz_status st = TZ_OK;
    if (!bufs || !lens || !pres) {
        st = tz_error_set(err, TZ_ENOMEM, "rollup batch read: out of memory");
        goto out;
    }
    st = tz_rpc_read_blobs(c, block, keys, n, bufs, lens, present ? pres : NULL, err);
    if (st)
        goto out;
    for (size_t i = 0; i < n && !st; i++) {
        if (present && !pres[i]) {
            present[i] = false;
            continue;
        }
        if (lens[i] != width) {
            st = tz_error_set(err, TZ_EPARSE, "durable value at %s has %zu bytes, expected %zu",
                              keys[i], lens[i], width);
            break;
        }
        store(outv, i, bufs[i]);
        if (present)
            present[i] = true;
    }
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
out:
    free(bufs);
    free(lens);
    free(pres);
    return st;
}

static void store_felt(void *out, size_t i, const uint8_t *b)
{
    memcpy(((tz_felt *)out)[i].b, b, TZ_FELT_BYTES);
}

static void store_u64(void *out, size_t i, const uint8_t *b)
{
    ((uint64_t *)out)[i] = tz_get_u64le(b);
}

tz_status tz_rpc_read_felts(tz_rpc *c, const char *block, const char *const *keys, size_t n,
                            tz_felt *out, bool *present, tz_error *err)
{
    return read_fixed(c, block, keys, n, TZ_FELT_BYTES, store_felt, out, present, err);
}

tz_status tz_rpc_read_u64s(tz_rpc *c, const char *block, const char *const *keys, size_t n,
                           uint64_t *out, bool *present, tz_error *err)
{
    return read_fixed(c, block, keys, n, 8, store_u64, out, present, err);
}

/* ---- notes ------------------------------------------------------------ */

enum phase {
    P_VALUES_TOP,    /* values?key=notes/<i>: len or the direct value */
    P_VALUES_CHUNKS, /* values?key=notes/<i>/chunk: every chunk */
    P_LEN,           /* value?key=notes/<i>/len */
    P_DIRECT,        /* value?key=notes/<i> */
    P_CHUNKS,        /* value?key=notes/<i>/chunk/<n>, in parallel */
};

typedef struct note {
    bool used;
    uint64_t index;
    enum phase phase;
    bool want;          /* the phase's single request is not issued yet */
    unsigned inflight;
    uint64_t total;
    uint32_t nchunks, next_chunk, chunks_done;
    uint8_t *buf;
} note;

typedef struct fetch {
    const char *block;
    uint64_t next_index, end;
    note *notes;
    size_t nslots, used;
    tz_rpc_note_cb cb;
    void *cb_ctx;
    bool probing;        /* the values probe is in flight: issue nothing else */
} fetch;

static void note_key(char *out, size_t cap, uint64_t index, const char *suffix)
{
    snprintf(out, cap, TZ_STATE_PREFIX "notes/%016" PRIx64 "%s", index, suffix);
}

static void note_url(const tz_rpc *c, char *url, const char *block, const note *n,
                     enum phase ph, uint32_t chunk)
{
    char key[128], sfx[32];
    switch (ph) {
    case P_VALUES_TOP:
        note_key(key, sizeof key, n->index, "");
        durable_url(c, url, block, "values", key);
        break;
    case P_VALUES_CHUNKS:
        note_key(key, sizeof key, n->index, "/chunk");
        durable_url(c, url, block, "values", key);
        break;
    case P_LEN:
        note_key(key, sizeof key, n->index, "/len");
        durable_url(c, url, block, "value", key);
        break;
    case P_DIRECT:
        note_key(key, sizeof key, n->index, "");
        durable_url(c, url, block, "value", key);
        break;
    case P_CHUNKS:
        snprintf(sfx, sizeof sfx, "/chunk/%08" PRIx32, chunk);
        note_key(key, sizeof key, n->index, sfx);
        durable_url(c, url, block, "value", key);
        break;
    }
}

static void note_release(fetch *f, note *n)
{
    free(n->buf);
    memset(n, 0, sizeof *n);
    f->used--;
}

static bool use_values(const tz_rpc *c)
{
    return c->use_values && c->values_state != VALUES_NO;
}

static bool fetch_next(void *ctx, tz_rpc *c, xfer *x)
{
    fetch *f = ctx;
    if (f->probing)
        return false;
    /* 1. work of notes already started, lowest index first */
    note *best = NULL;
    for (size_t i = 0; i < f->nslots; i++) {
        note *n = &f->notes[i];
        if (!n->used)
            continue;
        bool pending = n->want || (n->phase == P_CHUNKS && n->next_chunk < n->nchunks);
        if (pending && (!best || n->index < best->index))
            best = n;
    }
    if (best) {
        x->slot = (size_t)(best - f->notes);
        x->kind = best->phase;
        if (best->want) {
            best->want = false;
            x->chunk = 0;
        } else {
            x->chunk = best->next_chunk++;
        }
        best->inflight++;
        note_url(c, x->url, f->block, best, best->phase, x->chunk);
        return true;
    }
    /* 2. a new note, if a slot is free and it is not too far past the
     * lowest note still in progress: a stalled note must not let the
     * others run ahead without bound (the caller reorders what we deliver,
     * so its memory grows with the distance) */
    if (f->next_index >= f->end || f->used >= f->nslots)
        return false;
    for (size_t i = 0; i < f->nslots; i++)
        if (f->notes[i].used && f->next_index - f->notes[i].index >= 2 * f->nslots)
            return false;
    size_t s = 0;
    while (f->notes[s].used)
        s++;
    note *n = &f->notes[s];
    memset(n, 0, sizeof *n);
    n->used = true;
    n->index = f->next_index++;
    n->phase = use_values(c) ? P_VALUES_TOP : P_LEN;
    n->inflight = 1;
    f->used++;
    if (n->phase == P_VALUES_TOP && c->values_state == VALUES_UNKNOWN)
        f->probing = true;
    x->slot = s;
    x->kind = n->phase;
    x->chunk = 0;
    note_url(c, x->url, f->block, n, n->phase, 0);
    return true;
}

static tz_status deliver(fetch *f, note *n, const uint8_t *bytes, size_t len, tz_error *err)
{
    uint64_t index = n->index;
    int stop = f->cb(f->cb_ctx, index, bytes, len);
    note_release(f, n);
    if (stop)
        return tz_error_set(err, TZ_ECANCEL, "note fetch stopped by the caller after note %" PRIu64,
                            index);
    return TZ_OK;
}

/* A value of `total` bytes split into chunks: allocate and count. */
static tz_status start_chunks(const xfer *x, note *n, uint64_t total, tz_error *err)
{
    /* A PublishedNote is 3,487 bytes: a node claiming far more would make
     * every note in flight allocate it. */
    if (total > TZ_RPC_MAX_NOTE)
        return tz_error_set(err, TZ_EPARSE,
                            "GET %s: note %" PRIu64 " claims %" PRIu64
                            " bytes, more than the %u a note may have",
                            x->url, n->index, total, TZ_RPC_MAX_NOTE);
    n->total = total;
    n->nchunks = (uint32_t)((total + NOTE_CHUNK - 1) / NOTE_CHUNK);
    n->next_chunk = n->chunks_done = 0;
    n->buf = malloc(total ? total : 1);
    if (!n->buf)
        return tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", x->url);
    return TZ_OK;
}

/* Decodes chunk `k` (hex) into its place; checks its exact size. */
static tz_status put_chunk(const xfer *x, note *n, uint32_t k, const char *hex, size_t hexlen,
                           tz_error *err)
{
    if (k >= n->nchunks)
        return tz_error_set(err, TZ_EPARSE, "GET %s: chunk %" PRIu32 " beyond the %" PRIu32
                            " chunks of note %" PRIu64, x->url, k, n->nchunks, n->index);
    size_t off = (size_t)k * NOTE_CHUNK;
    size_t want = n->total - off < NOTE_CHUNK ? (size_t)(n->total - off) : NOTE_CHUNK;
    if (hexlen != 2 * want)
        return tz_error_set(err, TZ_EPARSE,
                            "GET %s: chunk %" PRIu32 " of note %" PRIu64
                            " has %zu bytes, expected %zu",
                            x->url, k, n->index, hexlen / 2, want);
    if (tz_hex_decode(n->buf + off, want, NULL, hex, hexlen) != TZ_OK)
        return tz_error_set(err, TZ_EPARSE, "GET %s: malformed hex in chunk", x->url);
    return TZ_OK;
}

/* Validates one hex string from a `values` listing. */
static tz_status listing_hex(const xfer *x, json_t *v, const char **hex, size_t *hexlen,
                             tz_error *err)
{
    const char *s = json_string_value(v);
    if (!s)
        return tz_error_set(err, TZ_EPARSE, "GET %s: listing value is not a string", x->url);
    size_t n = json_string_length(v);
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return tz_error_set(err, TZ_EPARSE, "GET %s: listing value is not hex", x->url);
    }
    if (n % 2)
        return tz_error_set(err, TZ_EPARSE, "GET %s: listing value has odd length", x->url);
    *hex = s;
    *hexlen = n;
    return TZ_OK;
}

static tz_status values_top(fetch *f, tz_rpc *c, xfer *x, note *n, tz_error *err)
{
    tz_status st;
    json_t *j = body_json(x, err, &st);
    if (!j)
        return st;
    json_t *direct = NULL, *len = NULL;
    if (!json_is_array(j)) {
        st = tz_error_set(err, TZ_EPARSE, "GET %s: expected a JSON array", x->url);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *e = json_array_get(j, i);
        const char *k = json_string_value(json_object_get(e, "key"));
        json_t *v = json_object_get(e, "value");
        if (!k || !v) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: listing entry %zu lacks key or value",
                              x->url, i);
            goto out;
        }
        if (k[0] == '\0')
            direct = v;
        else if (strcmp(k, "len") == 0)
            len = v;
    }
    const char *hex;
    size_t hexlen;
    if (direct) {
        if ((st = listing_hex(x, direct, &hex, &hexlen, err)))
            goto out;
        uint8_t *b = NULL;
        size_t bl = 0;
        if ((st = hex_dup(hex, hexlen, &b, &bl, x->url, err)))
            goto out;
        n->buf = b;
        st = deliver(f, n, b, bl, err);
    } else if (len) {
        uint8_t lb[8];
        if ((st = listing_hex(x, len, &hex, &hexlen, err)))
            goto out;
        if (hexlen != 16 || tz_hex_decode(lb, 8, NULL, hex, hexlen) != TZ_OK) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: note %" PRIu64 " len is not a u64",
                              x->url, n->index);
            goto out;
        }
        if ((st = start_chunks(x, n, tz_get_u64le(lb), err)))
            goto out;
        if (n->nchunks == 0) {
            st = deliver(f, n, n->buf, 0, err);
        } else {
            n->phase = P_VALUES_CHUNKS;
            n->want = true;
        }
    } else {
        /* neither listed: a node that does not list a node's own value */
        n->phase = P_DIRECT;
        n->want = true;
    }
out:
    json_decref(j);
    return st;
}

static tz_status values_chunks(fetch *f, xfer *x, note *n, tz_error *err)
{
    tz_status st;
    json_t *j = body_json(x, err, &st);
    if (!j)
        return st;
    uint8_t *seen = NULL;
    if (!json_is_array(j)) {
        st = tz_error_set(err, TZ_EPARSE, "GET %s: expected a JSON array", x->url);
        goto out;
    }
    seen = calloc(n->nchunks ? n->nchunks : 1, 1);
    if (!seen) {
        st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", x->url);
        goto out;
    }
    uint32_t got = 0;
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *e = json_array_get(j, i);
        const char *k = json_string_value(json_object_get(e, "key"));
        json_t *v = json_object_get(e, "value");
        if (!k || !v) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: listing entry %zu lacks key or value",
                              x->url, i);
            goto out;
        }
        uint32_t kn = 0;
        bool ok = strlen(k) == 8;
        for (int d = 0; ok && d < 8; d++) {
            char ch = k[d];
            int h = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (h < 0)
                ok = false;
            else
                kn = kn << 4 | (uint32_t)h;
        }
        if (!ok) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: unexpected chunk name '%s'", x->url, k);
            goto out;
        }
        if (kn < n->nchunks && seen[kn]) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: chunk '%s' listed twice", x->url, k);
            goto out;
        }
        const char *hex;
        size_t hexlen;
        if ((st = listing_hex(x, v, &hex, &hexlen, err)) ||
            (st = put_chunk(x, n, kn, hex, hexlen, err)))
            goto out;
        seen[kn] = 1;
        got++;
    }
    if (got != n->nchunks) {
        st = tz_error_set(err, TZ_ENOTFOUND,
                          "GET %s: note %" PRIu64 " lists %" PRIu32 " of its %" PRIu32 " chunks",
                          x->url, n->index, got, n->nchunks);
        goto out;
    }
    st = deliver(f, n, n->buf, n->total, err);
out:
    free(seen);
    json_decref(j);
    return st;
}

static tz_status fetch_done(void *ctx, tz_rpc *c, xfer *x, tz_error *err)
{
    fetch *f = ctx;
    note *n = &f->notes[x->slot];
    n->inflight--;
    const char *hex = NULL;
    size_t hexlen = 0;
    bool is_null = false;
    tz_status st;

    if (x->kind == P_VALUES_TOP || x->kind == P_VALUES_CHUNKS) {
        if (x->http == 401 || x->http == 404) {
            /* not served (ACL or older node): never ask again */
            c->values_state = VALUES_NO;
            f->probing = false;
            if (x->kind == P_VALUES_TOP) {
                n->phase = P_LEN;
                n->want = true;
            } else {
                n->phase = P_CHUNKS;
                n->next_chunk = 0;
            }
            return TZ_OK;
        }
        if (x->http != 200)
            return http_error(x, err);
        c->values_state = VALUES_YES;
        f->probing = false;
        return x->kind == P_VALUES_TOP ? values_top(f, c, x, n, err) : values_chunks(f, x, n, err);
    }

    if (x->http != 200 && x->http != 404)
        return http_error(x, err);
    if (x->http == 404)
        is_null = true;
    else if ((st = body_hex(x, &hex, &hexlen, &is_null, err)))
        return st;

    switch (x->kind) {
    case P_LEN: {
        if (is_null) {
            n->phase = P_DIRECT;
            n->want = true;
            return TZ_OK;
        }
        uint8_t lb[8];
        if (hexlen != 16 || tz_hex_decode(lb, 8, NULL, hex, hexlen) != TZ_OK)
            return tz_error_set(err, TZ_EPARSE, "GET %s: note %" PRIu64 " len is not a u64",
                                x->url, n->index);
        if ((st = start_chunks(x, n, tz_get_u64le(lb), err)))
            return st;
        n->phase = P_CHUNKS;
        if (n->nchunks == 0)
            return deliver(f, n, n->buf, 0, err);
        return TZ_OK;
    }
    case P_DIRECT: {
        if (is_null) {
            char lk[128];
            note_key(lk, sizeof lk, n->index, "/len");
            return tz_error_set(err, TZ_ENOTFOUND,
                                "GET %s: note %" PRIu64 " absent%s (neither %s nor this key "
                                "holds a value) although the tree holds it",
                                x->url, n->index, x->http == 404 ? " (HTTP 404)" : "", lk);
        }
        uint8_t *b = NULL;
        size_t bl = 0;
        if ((st = hex_dup(hex, hexlen, &b, &bl, x->url, err)))
            return st;
        n->buf = b;
        return deliver(f, n, b, bl, err);
    }
    case P_CHUNKS:
        if (is_null)
            return tz_error_set(err, TZ_ENOTFOUND,
                                "GET %s: chunk %" PRIu32 " of note %" PRIu64 " absent%s", x->url,
                                x->chunk, n->index, x->http == 404 ? " (HTTP 404)" : "");
        if ((st = put_chunk(x, n, x->chunk, hex, hexlen, err)))
            return st;
        if (++n->chunks_done == n->nchunks)
            return deliver(f, n, n->buf, n->total, err);
        return TZ_OK;
    default:
        return tz_error_set(err, TZ_EINVAL, "rollup client: bad transfer kind");
    }
}

tz_status tz_rpc_fetch_notes(tz_rpc *c, const char *block, uint64_t start, uint64_t end,
                             tz_rpc_note_cb cb, void *ctx, tz_error *err)
{
    tz_status st = check_args(block, NULL, err);
    if (st)
        return st;
    if (!cb)
        return tz_error_set(err, TZ_EINVAL, "tz_rpc_fetch_notes: no callback");
    if (start >= end)
        return TZ_OK;
    fetch f = {0};
    f.block = block;
    f.next_index = start;
    f.end = end;
    f.cb = cb;
    f.cb_ctx = ctx;
    f.nslots = 2 * (size_t)c->conc;
    f.notes = calloc(f.nslots, sizeof *f.notes);
    if (!f.notes)
        return tz_error_set(err, TZ_ENOMEM, "tz_rpc_fetch_notes: out of memory");
    op o = {fetch_next, fetch_done, &f};
    st = run(c, &o, err);
    for (size_t i = 0; i < f.nslots; i++)
        free(f.notes[i].buf);
    free(f.notes);
    return st;
}
