/* Prover argument lists as JSON arrays of "0x..." felts (prover_json.h). */
#include "spend/prover_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void tz_felt_to_0x(char out[TZ_FELT_0X_CHARS], const tz_felt *f)
{
    static const char digits[] = "0123456789abcdef";
    char *o = out;
    *o++ = '0';
    *o++ = 'x';
    int started = 0;
    for (int i = TZ_FELT_BYTES - 1; i >= 0; i--) {
        int nib[2] = {f->b[i] >> 4, f->b[i] & 15};
        for (int k = 0; k < 2; k++) {
            if (!started && nib[k] == 0)
                continue;
            started = 1;
            *o++ = digits[nib[k]];
        }
    }
    if (!started)
        *o++ = '0';
    *o = '\0';
}

static int lower_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

tz_status tz_felt_from_0x(tz_felt *out, const char *s, size_t len)
{
    if (!s || len < 3 || len > 2 + TZ_FELT_HEX || s[0] != '0' || s[1] != 'x')
        return TZ_EINVAL;
    const char *d = s + 2;
    size_t nd = len - 2;
    if (nd > 1 && d[0] == '0')
        return TZ_EINVAL; /* leading zero */
    tz_felt f;
    memset(&f, 0, sizeof f);
    for (size_t i = 0; i < nd; i++) {
        int v = lower_hex(d[nd - 1 - i]); /* i-th nibble from the least significant */
        if (v < 0)
            return TZ_EINVAL;
        f.b[i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
    }
    *out = f;
    return TZ_OK;
}

tz_status tz_prover_args_json(const tz_felt *args, size_t n, char **out, size_t *out_len,
                              tz_error *err)
{
    size_t cap = 2 + n * (TZ_FELT_0X_CHARS + 2) + 1;
    char *buf = malloc(cap), *p = buf;
    if (!buf)
        return tz_error_set(err, TZ_ENOMEM, "prover arguments: out of memory");
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        char one[TZ_FELT_0X_CHARS];
        tz_felt_to_0x(one, &args[i]);
        size_t l = strlen(one);
        if (i)
            *p++ = ',';
        *p++ = '"';
        memcpy(p, one, l);
        p += l;
        *p++ = '"';
    }
    *p++ = ']';
    *p = '\0';
    *out = buf;
    *out_len = (size_t)(p - buf);
    return TZ_OK;
}

tz_status tz_prover_args_parse_json(tz_felt *out, size_t cap, size_t *n, const char *text,
                                    size_t len, tz_error *err)
{
    json_error_t jerr;
    tz_status rc = TZ_OK;
    if (!text)
        return tz_error_set(err, TZ_EPARSE, "prover arguments: no text");
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return tz_error_set(err, TZ_EPARSE, "prover arguments: line %d column %d: %s", jerr.line,
                            jerr.column, jerr.text);
    if (!json_is_array(doc)) {
        rc = tz_error_set(err, TZ_EPARSE, "prover arguments: not a JSON array");
        goto out;
    }
    size_t count = json_array_size(doc);
    if (count > cap) {
        rc = tz_error_set(err, TZ_EPARSE, "prover arguments: %zu elements, at most %zu", count,
                          cap);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(doc, i);
        if (!json_is_string(e) ||
            tz_felt_from_0x(&out[i], json_string_value(e), json_string_length(e)) != TZ_OK) {
            rc = tz_error_set(err, TZ_EPARSE,
                              "prover arguments: element %zu is not a \"0x\" felt string", i);
            goto out;
        }
    }
    *n = count;
out:
    json_decref(doc);
    return rc;
}
