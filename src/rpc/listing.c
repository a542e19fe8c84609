/* `values` listings (listing.h). jansson parses a note's listing in a few
 * microseconds per kilobyte, copying and checking every character of the
 * hex; in a sync at 0 ms that was a fifth of the wallet's CPU. The plain
 * form is scanned here without copies; everything else (escapes,
 * non-ASCII, other members, other types, malformed JSON) is jansson's. */
#include "rpc/listing.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static bool add(tz_listing *l, const char *key, size_t key_len, const char *value,
                size_t value_len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap * 2;
        tz_listing_entry *e = l->e == l->small ? malloc(cap * sizeof *e)
                                               : realloc(l->e, cap * sizeof *e);
        if (!e)
            return false;
        if (l->e == l->small)
            memcpy(e, l->small, sizeof l->small);
        l->e = e;
        l->cap = cap;
    }
    l->e[l->n++] = (tz_listing_entry){.key = key, .key_len = key_len, .value = value,
                                         .value_len = value_len};
    return true;
}

static size_t skip_ws(const char *b, size_t i, size_t len)
{
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

/* A plain string at b[*i] (at its opening quote): its content's offset and
 * length; *i past the closing quote. */
static bool plain_string(const char *b, size_t len, size_t *i, size_t *off, size_t *n)
{
    if (*i >= len || b[*i] != '"')
        return false;
    size_t s = *i + 1, k = s;
    while (k < len) {
        unsigned char c = (unsigned char)b[k];
        if (c == '"')
            break;
        if (c == '\\' || c < 0x20 || c >= 0x80)
            return false;
        k++;
    }
    if (k >= len)
        return false;
    *off = s;
    *n = k - s;
    *i = k + 1;
    return true;
}

/* One member "name": "string" at b[*i]; which is 0 for key, 1 for value. */
static bool plain_member(const char *b, size_t len, size_t *i, int *which, size_t *off,
                         size_t *n)
{
    size_t no, nn;
    if (!plain_string(b, len, i, &no, &nn))
        return false;
    if (nn == 3 && memcmp(b + no, "key", 3) == 0)
        *which = 0;
    else if (nn == 5 && memcmp(b + no, "value", 5) == 0)
        *which = 1;
    else
        return false;
    *i = skip_ws(b, *i, len);
    if (*i >= len || b[*i] != ':')
        return false;
    *i = skip_ws(b, *i + 1, len);
    return plain_string(b, len, i, off, n);
}

/* The in-place scan: false (nothing written to body, l->n back to 0) when
 * the body is not in the plain form or memory runs out. */
static bool scan_plain(tz_listing *l, char *b, size_t len)
{
    size_t i = skip_ws(b, 0, len);
    if (i >= len || b[i] != '[')
        return false;
    i = skip_ws(b, i + 1, len);
    bool first = true;
    while (i < len && b[i] != ']') {
        if (!first) {
            if (b[i] != ',')
                goto fail;
            i = skip_ws(b, i + 1, len);
        }
        first = false;
        if (i >= len || b[i] != '{')
            goto fail;
        i = skip_ws(b, i + 1, len);
        size_t off[2] = {0, 0}, n[2] = {0, 0};
        bool have[2] = {false, false};
        for (int m = 0; m < 2; m++) {
            if (m == 1) {
                if (i >= len || b[i] != ',')
                    goto fail;
                i = skip_ws(b, i + 1, len);
            }
            int which;
            size_t o, k;
            if (!plain_member(b, len, &i, &which, &o, &k) || have[which])
                goto fail;
            have[which] = true;
            off[which] = o;
            n[which] = k;
            i = skip_ws(b, i, len);
        }
        if (i >= len || b[i] != '}')
            goto fail;
        i = skip_ws(b, i + 1, len);
        if (!add(l, b + off[0], n[0], b + off[1], n[1]))
            goto fail;
    }
    if (i >= len || skip_ws(b, i + 1, len) != len)
        goto fail;
    /* plain: terminate each key in place (over its closing quote) */
    for (size_t k = 0; k < l->n; k++)
        b[l->e[k].key - b + (ptrdiff_t)l->e[k].key_len] = '\0';
    return true;
fail:
    l->n = 0;
    return false;
}

tz_status tz_listing_parse(tz_listing *l, char *body, size_t len, const char *url,
                           tz_error *err)
{
    memset(l, 0, sizeof *l);
    l->e = l->small;
    l->cap = sizeof l->small / sizeof l->small[0];
    if (body && scan_plain(l, body, len))
        return TZ_OK;
    json_error_t je;
    l->j = json_loadb(body ? body : "", body ? len : 0, JSON_DECODE_ANY, &je);
    if (!l->j)
        return tz_error_set(err, TZ_EPARSE, "GET %s: malformed JSON body: %s", url, je.text);
    if (!json_is_array(l->j))
        return tz_error_set(err, TZ_EPARSE, "GET %s: expected a JSON array", url);
    for (size_t i = 0; i < json_array_size(l->j); i++) {
        json_t *e = json_array_get(l->j, i);
        const char *k = json_string_value(json_object_get(e, "key"));
        json_t *v = json_object_get(e, "value");
        if (!k || !v)
            return tz_error_set(err, TZ_EPARSE, "GET %s: listing entry %zu lacks key or value",
                                url, i);
        size_t vlen = json_is_string(v) ? json_string_length(v) : 0;
        if (!add(l, k, strlen(k), json_string_value(v), vlen))
            return tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", url);
    }
    return TZ_OK;
}

void tz_listing_free(tz_listing *l)
{
    if (l->e != l->small)
        free(l->e);
    json_decref(l->j);
    memset(l, 0, sizeof *l);
}
