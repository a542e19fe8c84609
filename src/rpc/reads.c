/* Rollup node reads that are not the note fetch: the head hash, the rollup
 * address, a block's level, and durable values (one value, u64, felt,
 * length, subkeys, and batches of values read concurrently).
 *
 * A single read runs one GET through the client's event loop and parses
 * the answer afterwards; a batch parses each answer as it arrives. Either
 * way tz_rpc_classify decides what is a value, what is absent and what is
 * an HTTP error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/rpc_int.h"

/* ---- single GET ------------------------------------------------------- */

typedef struct single {
    const char *url;
    bool issued;
    tz_rpc_xfer reply; /* URL, status and body handed over by the transfer */
} single;

static bool single_next(void *ctx, tz_rpc *c, tz_rpc_xfer *x)
{
    single *s = ctx;
    if (s->issued)
        return false;
    s->issued = true;
    snprintf(x->url, TZ_RPC_URL_MAX, "%s", s->url);
    return true;
}

static tz_status single_done(void *ctx, tz_rpc *c, tz_rpc_xfer *x, tz_error *err)
{
    single *s = ctx;
    /* take the body so the caller can parse it after the loop */
    s->reply.http = x->http;
    memcpy(s->reply.url, x->url, TZ_RPC_URL_MAX);
    s->reply.body = x->body;
    (void)tz_buf_steal(&x->body, NULL); /* the transfer lets go of it */
    return TZ_OK;
}

/* Performs one GET of `url` and classifies the answer (tz_rpc_classify
 * with `absent_if`). On TZ_OK, s->reply holds the URL, the status and the
 * body: release with tz_buf_free(&s->reply.body). On failure nothing is
 * held. */
static tz_status get1(tz_rpc *c, const char *url, unsigned absent_if, single *s, bool *absent,
                      tz_error *err)
{
    memset(s, 0, sizeof *s);
    s->url = url;
    tz_rpc_op o = {single_next, single_done, s};
    tz_status st = tz_rpc_run(c, &o, err);
    if (!st)
        st = tz_rpc_classify(&s->reply, absent_if, absent, err);
    if (st)
        tz_buf_free(&s->reply.body);
    return st;
}

/* get1 for the durable `route` of `key` at `block`, the arguments checked
 * first (TZ_EINVAL, nothing sent). */
static tz_status get_durable(tz_rpc *c, const char *block, const char *route, const char *key,
                             unsigned absent_if, single *s, bool *absent, tz_error *err)
{
    tz_status st = tz_rpc_check_args(block, key, err);
    if (st)
        return st;
    char url[TZ_RPC_URL_MAX];
    tz_rpc_durable_url(c, url, block, route, key);
    return get1(c, url, absent_if, s, absent, err);
}

/* get_durable for a read where absence is an error: a 404 or null answer
 * is TZ_ENOTFOUND "GET <url>: key absent[ (HTTP 404)]", nothing held. */
static tz_status get_present(tz_rpc *c, const char *block, const char *route, const char *key,
                             single *s, tz_error *err)
{
    bool absent;
    tz_status st = get_durable(c, block, route, key, TZ_RPC_ABSENT_404 | TZ_RPC_ABSENT_NULL, s,
                               &absent, err);
    if (!st && absent) {
        st = tz_rpc_absent_error(&s->reply, err);
        tz_buf_free(&s->reply.body);
    }
    return st;
}

/* Copies the answer's body, a JSON string that `ok` accepts, into out
 * (cap bytes, room checked by `ok`); otherwise TZ_EPARSE "expected
 * <what>". out untouched on failure. */
static tz_status parse_string(const tz_rpc_xfer *x, bool (*ok)(const char *s), const char *what,
                              char *out, size_t cap, tz_error *err)
{
    tz_status st;
    json_t *j = tz_rpc_body_json(x, err, &st);
    if (!j)
        return st;
    const char *s = json_string_value(j);
    if (!s || !ok(s))
        st = tz_error_set(err, TZ_EPARSE, "GET %s: expected %s", x->url, what);
    else
        snprintf(out, cap, "%s", s);
    json_decref(j);
    return st;
}

static bool is_block_hash(const char *s) { return tz_rpc_block_ok(s) && s[0] == 'B'; }

static bool is_rollup_address(const char *s)
{
    return strncmp(s, "sr1", 3) == 0 && strlen(s) < TZ_ROLLUP_ADDRESS_MAX && tz_rpc_block_ok(s);
}

tz_status tz_rpc_parse_head_hash(const tz_rpc_xfer *x, char out[TZ_BLOCK_HASH_MAX], tz_error *err)
{
    return parse_string(x, is_block_hash, "a B... block hash", out, TZ_BLOCK_HASH_MAX, err);
}

tz_status tz_rpc_parse_rollup_address(const tz_rpc_xfer *x, char out[TZ_ROLLUP_ADDRESS_MAX],
                                      tz_error *err)
{
    return parse_string(x, is_rollup_address, "an sr1... address", out, TZ_ROLLUP_ADDRESS_MAX,
                        err);
}

tz_status tz_rpc_parse_level(const tz_rpc_xfer *x, int64_t *out, tz_error *err)
{
    tz_status st;
    json_t *j = tz_rpc_body_json(x, err, &st);
    if (!j)
        return st;
    if (!json_is_integer(j))
        st = tz_error_set(err, TZ_EPARSE, "GET %s: expected a JSON integer", x->url);
    else
        *out = (int64_t)json_integer_value(j);
    json_decref(j);
    return st;
}

/* GETs `url` (any status but 200 is an error) and parses the answer with
 * `parse` into out. */
static tz_status get_parsed(tz_rpc *c, const char *url,
                            tz_status (*parse)(const tz_rpc_xfer *x, void *out, tz_error *err),
                            void *out, tz_error *err)
{
    single s;
    bool absent;
    tz_status st = get1(c, url, 0, &s, &absent, err);
    if (st)
        return st;
    st = parse(&s.reply, out, err);
    tz_buf_free(&s.reply.body);
    return st;
}

static tz_status head_hash_cb(const tz_rpc_xfer *x, void *out, tz_error *err)
{
    return tz_rpc_parse_head_hash(x, out, err);
}

static tz_status rollup_address_cb(const tz_rpc_xfer *x, void *out, tz_error *err)
{
    return tz_rpc_parse_rollup_address(x, out, err);
}

static tz_status level_cb(const tz_rpc_xfer *x, void *out, tz_error *err)
{
    return tz_rpc_parse_level(x, out, err);
}

tz_status tz_rpc_head_hash(tz_rpc *c, char out[TZ_BLOCK_HASH_MAX], tz_error *err)
{
    char url[TZ_RPC_URL_MAX];
    snprintf(url, sizeof url, "%s/global/block/head/hash", c->base);
    return get_parsed(c, url, head_hash_cb, out, err);
}

tz_status tz_rpc_rollup_address(tz_rpc *c, char out[TZ_ROLLUP_ADDRESS_MAX], tz_error *err)
{
    char url[TZ_RPC_URL_MAX];
    snprintf(url, sizeof url, "%s/global/smart_rollup_address", c->base);
    return get_parsed(c, url, rollup_address_cb, out, err);
}

tz_status tz_rpc_block_level(tz_rpc *c, const char *block, int64_t *out, tz_error *err)
{
    tz_status st = tz_rpc_check_args(block, NULL, err);
    if (st)
        return st;
    char url[TZ_RPC_URL_MAX];
    snprintf(url, sizeof url, "%s/global/block/%s/level", c->base, block);
    return get_parsed(c, url, level_cb, out, err);
}

/* ---- one value -------------------------------------------------------- */

tz_status tz_rpc_value_bytes(const tz_rpc_xfer *x, uint8_t **out, size_t *len, tz_error *err)
{
    const char *hex = NULL;
    size_t hexlen = 0;
    tz_status st = tz_rpc_body_hex(x, &hex, &hexlen, err);
    if (st)
        return st;
    return tz_rpc_hex_dup(hex, hexlen, out, len, x->url, err);
}

tz_status tz_rpc_read_value(tz_rpc *c, const char *block, const char *key, uint8_t **out,
                            size_t *len, tz_error *err)
{
    single s;
    tz_status st = get_present(c, block, "value", key, &s, err);
    if (st)
        return st;
    st = tz_rpc_value_bytes(&s.reply, out, len, err);
    tz_buf_free(&s.reply.body);
    return st;
}

/* A value of exactly `width` bytes into out (untouched on failure); another
 * length is TZ_EPARSE naming `what` and the key. */
static tz_status read_exact(tz_rpc *c, const char *block, const char *key, size_t width,
                            const char *what, uint8_t *out, tz_error *err)
{
    uint8_t *b = NULL;
    size_t n = 0;
    tz_status st = tz_rpc_read_value(c, block, key, &b, &n, err);
    if (st)
        return st;
    if (n != width)
        st = tz_error_set(err, TZ_EPARSE, "durable %s at %s has %zu bytes, expected %zu", what,
                          key, n, width);
    else
        memcpy(out, b, width);
    free(b);
    return st;
}

tz_status tz_rpc_read_u64(tz_rpc *c, const char *block, const char *key, uint64_t *out,
                          tz_error *err)
{
    uint8_t b[8];
    tz_status st = read_exact(c, block, key, sizeof b, "u64", b, err);
    if (!st)
        *out = tz_get_u64le(b);
    return st;
}

tz_status tz_rpc_read_felt(tz_rpc *c, const char *block, const char *key, tz_felt *out,
                           tz_error *err)
{
    return read_exact(c, block, key, TZ_FELT_BYTES, "felt", out->b, err);
}

/* ---- length and subkeys ----------------------------------------------- */

tz_status tz_rpc_parse_length(const tz_rpc_xfer *x, uint64_t *out, tz_error *err)
{
    tz_status st;
    json_t *j = tz_rpc_body_json(x, err, &st);
    if (!j)
        return st;
    st = TZ_OK;
    if (json_is_integer(j) && json_integer_value(j) >= 0) {
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
    single s;
    tz_status st = get_present(c, block, "length", key, &s, err);
    if (st)
        return st;
    st = tz_rpc_parse_length(&s.reply, out, err);
    tz_buf_free(&s.reply.body);
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

tz_status tz_rpc_parse_names(const tz_rpc_xfer *x, char ***names, size_t *cnt, tz_error *err)
{
    tz_status st;
    json_t *j = tz_rpc_body_json(x, err, &st);
    if (!j)
        return st;
    if (!json_is_array(j)) {
        st = tz_error_set(err, TZ_EPARSE, "GET %s: expected a JSON array", x->url);
    } else {
        size_t m = json_array_size(j);
        char **v = calloc(m ? m : 1, sizeof *v);
        if (!v)
            st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", x->url);
        for (size_t i = 0; !st && i < m; i++) {
            const char *name = json_string_value(json_array_get(j, i));
            if (!name)
                st = tz_error_set(err, TZ_EPARSE, "GET %s: subkey %zu is not a string", x->url,
                                  i);
            else if (!(v[*cnt] = strdup(name)))
                st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", x->url);
            else
                (*cnt)++;
        }
        *names = v;
    }
    json_decref(j);
    return st;
}

tz_status tz_rpc_read_subkeys(tz_rpc *c, const char *block, const char *key, char ***names,
                              size_t *n, tz_error *err)
{
    single s;
    bool absent;
    /* an absent key on a tolerant node (404) is an empty listing */
    tz_status st = get_durable(c, block, "subkeys", key, TZ_RPC_ABSENT_404, &s, &absent, err);
    if (st)
        return st;
    char **v = NULL;
    size_t cnt = 0;
    if (!absent)
        st = tz_rpc_parse_names(&s.reply, &v, &cnt, err);
    if (!st && !v && !(v = calloc(1, sizeof *v)))
        st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", s.reply.url);
    tz_buf_free(&s.reply.body);
    if (st) {
        tz_rpc_free_names(v, cnt);
        return st;
    }
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

static bool batch_next(void *ctx, tz_rpc *c, tz_rpc_xfer *x)
{
    batch *b = ctx;
    if (b->next >= b->n)
        return false;
    x->slot = b->next++;
    tz_rpc_durable_url(c, x->url, b->block, "value", b->keys[x->slot]);
    return true;
}

static tz_status batch_done(void *ctx, tz_rpc *c, tz_rpc_xfer *x, tz_error *err)
{
    batch *b = ctx;
    size_t i = x->slot;
    bool absent;
    tz_status st = tz_rpc_classify(x, TZ_RPC_ABSENT_404 | TZ_RPC_ABSENT_NULL, &absent, err);
    if (st)
        return st;
    if (absent) {
        if (!b->absent_ok)
            return tz_rpc_absent_error(x, err);
        b->present[i] = false;
        b->lens[i] = 0;
        return TZ_OK;
    }
    st = tz_rpc_value_bytes(x, &b->out[i], &b->lens[i], err);
    if (!st && b->present)
        b->present[i] = true;
    return st;
}

tz_status tz_rpc_read_blobs(tz_rpc *c, const char *block, const char *const *keys, size_t n,
                            uint8_t **out, size_t *lens, bool *present, tz_error *err)
{
    tz_status st = tz_rpc_check_args(block, NULL, err);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        if ((st = tz_rpc_check_args(block, keys[i], err)))
            return st;
        out[i] = NULL;
        lens[i] = 0;
        if (present)
            present[i] = false;
    }
    batch b = {block, keys, n, 0, out, lens, present, present != NULL};
    tz_rpc_op o = {batch_next, batch_done, &b};
    st = tz_rpc_run(c, &o, err);
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
