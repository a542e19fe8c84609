/* Unit tests of the `values` listing parser: the in-place scan of plain
 * bodies gives exactly the entries jansson gives, every other body goes
 * to jansson, and malformed listings are errors naming the URL. */
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/listing.h"
#include "tz_test.h"

#define URL "http://node/x"

/* The entries jansson alone gives (the reference), as "key=value;..." with
 * "key=!" for a non-string value; NULL for a body that is not a listing. */
static char *reference(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    if (!j || !json_is_array(j)) {
        json_decref(j);
        return NULL;
    }
    size_t cap = len * 2 + 16, n = 0;
    char *out = calloc(1, cap);
    for (size_t i = 0; i < json_array_size(j); i++) {
        json_t *e = json_array_get(j, i);
        const char *k = json_string_value(json_object_get(e, "key"));
        json_t *v = json_object_get(e, "value");
        if (!k || !v) {
            free(out);
            json_decref(j);
            return NULL;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s=%s;", k,
                              json_is_string(v) ? json_string_value(v) : "!");
    }
    json_decref(j);
    return out;
}

/* tz_listing_parse of a copy of body, in the same form; *fast says whether
 * the in-place scan took it. */
static char *parsed(const char *body, size_t len, bool *fast, tz_error *err)
{
    char *copy = malloc(len + 1);
    memcpy(copy, body, len);
    tz_listing l;
    tz_status st = tz_listing_parse(&l, copy, len, URL, err);
    char *out = NULL;
    if (st == TZ_OK) {
        size_t cap = len * 2 + 16, n = 0;
        out = calloc(1, cap);
        for (size_t i = 0; i < l.n; i++) {
            CHECK(strlen(l.e[i].key) == l.e[i].key_len);
            n += (size_t)snprintf(out + n, cap - n, "%s=%.*s;", l.e[i].key,
                                  l.e[i].value ? (int)l.e[i].value_len : 1,
                                  l.e[i].value ? l.e[i].value : "!");
        }
        *fast = l.j == NULL;
    }
    tz_listing_free(&l);
    free(copy);
    return out;
}

/* Parses body, checks it against jansson alone, returns whether the
 * in-place scan took it (-1: an error). */
static int agree(const char *body)
{
    size_t len = strlen(body);
    tz_error err = {0};
    bool fast = false;
    char *a = parsed(body, len, &fast, &err);
    char *b = reference(body, len);
    if (!a || !b) {
        CHECK_MSG(!a && !b, "body %s: ours %s, jansson %s", body, a ? a : "error",
                  b ? b : "error");
        if (!a)
            CHECK_MSG(err.code != TZ_OK && strstr(err.msg, URL), "body %s: error '%s'", body,
                      err.msg);
        free(a);
        free(b);
        return -1;
    }
    CHECK_MSG(strcmp(a, b) == 0, "body %s: ours '%s', jansson '%s'", body, a, b);
    free(a);
    free(b);
    return fast;
}

static void test_forms(void)
{
    /* the plain form nodes send: scanned in place */
    CHECK(agree("[{\"key\":\"00000000\",\"value\":\"ab01\"},{\"key\":\"len\",\"value\":\"0x10\"}]") == 1);
    CHECK(agree("[]") == 1);
    CHECK(agree(" [ { \"value\" : \"ff\" , \"key\" : \"\" } ]\n") == 1);
    CHECK(agree("[{\"key\":\"a\",\"value\":\"\"}]") == 1);
    /* anything else: jansson, with the same entries */
    CHECK(agree("[{\"key\":\"a\",\"value\":\"a\\u0062\"}]") == 0);
    CHECK(agree("[{\"key\":\"a\\\"q\",\"value\":\"00\"}]") == 0);
    CHECK(agree("[{\"key\":\"a\",\"value\":5}]") == 0);
    CHECK(agree("[{\"key\":\"a\",\"value\":null}]") == 0);
    CHECK(agree("[{\"key\":\"a\",\"value\":\"00\",\"extra\":1}]") == 0);
    CHECK(agree("[{\"key\":\"a\",\"key\":\"b\",\"value\":\"00\"}]") == 0);
    CHECK(agree("[{\"key\":\"\xc3\xa9\",\"value\":\"00\"}]") == 0);
    /* not listings: errors, as jansson says */
    CHECK(agree("") == -1);
    CHECK(agree("{}") == -1);
    CHECK(agree("[{\"key\":\"a\"}]") == -1);
    CHECK(agree("[{\"value\":\"00\"}]") == -1);
    CHECK(agree("[{\"key\":1,\"value\":\"00\"}]") == -1);
    CHECK(agree("[{\"key\":\"a\",\"value\":\"00\"}] x") == -1);
    CHECK(agree("[{\"key\":\"a\",\"value\":\"00\"},]") == -1);
    CHECK(agree("[{\"key\":\"a\",\"value\":\"00\"}") == -1);
    CHECK(agree("[{\"key\":\"a\",\"value\":\"00") == -1);
    CHECK(agree("[1]") == -1);
}

/* Many entries: beyond the inline array. */
static void test_long(void)
{
    size_t cap = 100 * 64, n = 0;
    char *body = malloc(cap);
    n += (size_t)snprintf(body + n, cap - n, "[");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s{\"key\":\"%08x\",\"value\":\"%04x\"}",
                              i ? "," : "", i, i * 7);
    snprintf(body + n, cap - n, "]");
    CHECK(agree(body) == 1);
    free(body);
}

/* Random mutations of a plain listing: whatever the bytes, ours and
 * jansson's agree (entries or error). */
static void test_mutations(size_t iters)
{
    static const char base[] =
        "[{\"key\":\"00000000\",\"value\":\"0a0b\"},{\"key\":\"00000001\",\"value\":\"ff\"}]";
    static const char alphabet[] = "[]{}\",: \\u0aZ\x80\t";
    size_t fast = 0, slow = 0, errors = 0;
    for (size_t i = 0; i < iters; i++) {
        char body[sizeof base + 8];
        memcpy(body, base, sizeof base);
        size_t len = sizeof base - 1;
        int edits = 1 + (int)randombytes_uniform(3);
        for (int e = 0; e < edits; e++) {
            size_t at = randombytes_uniform((uint32_t)len);
            switch (randombytes_uniform(3)) {
            case 0: /* replace */
                body[at] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
                break;
            case 1: /* delete */
                memmove(body + at, body + at + 1, len - at);
                len--;
                break;
            default: /* insert */
                if (len + 1 < sizeof body) {
                    memmove(body + at + 1, body + at, len - at + 1);
                    body[at] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
                    len++;
                }
            }
            body[len] = '\0';
        }
        if (strlen(body) != len)
            continue; /* no NUL inside: the references compare C strings */
        int r = agree(body);
        if (r == 1)
            fast++;
        else if (r == 0)
            slow++;
        else
            errors++;
    }
    printf("mutations: %zu scanned in place, %zu by jansson, %zu errors; all agree\n", fast,
           slow, errors);
    CHECK(fast > 0 && slow + errors > 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_forms();
    test_long();
    test_mutations(20000);
    return tz_test_done("rpc_listing");
}
