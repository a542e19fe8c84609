/* Exact JSON numbers (jsonnum.h): u64 values beyond 2^63 kept through a
 * load and a save, and serde_json's pretty layout. */
#include "store/jsonnum.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/buf.h"
#include "base/num.h"

#define MARK "tzel-c-number:"
#define MARK_LEN (sizeof(MARK) - 1)
/* The marker as it appears in jansson's output: "\u0000tzel-c-number:" */
#define MARK_OUT "\\u0000" MARK
#define MARK_OUT_LEN (sizeof(MARK_OUT) - 1)

/* Appends to a wiping buffer; a failure is sticky (tz_buf.failed). */
static void buf_put(tz_buf *b, const char *s, size_t n)
{
    (void)tz_buf_append(b, s, n);
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Length of a valid JSON number literal at s[0..n), 0 if none. Sets
 * *is_int when it has neither fraction nor exponent. */
static size_t number_len(const char *s, size_t n, bool *is_int)
{
    size_t i = 0;
    *is_int = true;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return 0;
    if (s[i] == '0') {
        i++;
    } else {
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && s[i] == '.') {
        *is_int = false;
        i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *is_int = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i;
}

/* True when the integer literal s[0..n) fits in int64. */
static bool fits_int64(const char *s, size_t n)
{
    bool neg = s[0] == '-';
    const char *d = s + neg;
    size_t dn = n - neg;
    const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
    if (dn != 19)
        return dn < 19;
    return memcmp(d, lim, 19) <= 0;
}

/* Length of the string token starting at s[0] == '"' (quotes included),
 * or 0 when it does not end within n. */
static size_t string_len(const char *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

tz_status tz_json_load_exact(const char *text, size_t len, const char *what, json_t **out,
                             tz_error *err)
{
    tz_buf b = TZ_BUF_INIT(0, true);
    size_t i = 0;
    while (i < len) {
        char c = text[i];
        if (c == '"') {
            size_t sl = string_len(text + i, len - i);
            if (!sl) { /* unterminated: let the parser report it */
                buf_put(&b, text + i, len - i);
                break;
            }
            buf_put(&b, text + i, sl);
            i += sl;
        } else if (c == '-' || is_digit(c)) {
            bool is_int;
            size_t nl = number_len(text + i, len - i, &is_int);
            if (nl == 0) {
                buf_put(&b, text + i, 1);
                i++;
                continue;
            }
            if (is_int && fits_int64(text + i, nl)) {
                buf_put(&b, text + i, nl);
            } else {
                buf_put(&b, "\"" MARK_OUT, 1 + MARK_OUT_LEN);
                buf_put(&b, text + i, nl);
                buf_put(&b, "\"", 1);
            }
            i += nl;
        } else {
            size_t j = i;
            while (j < len && text[j] != '"' && text[j] != '-' && !is_digit(text[j]))
                j++;
            buf_put(&b, text + i, j - i);
            i = j;
        }
    }
    if (b.failed) {
        tz_buf_free(&b);
        return tz_error_set(err, TZ_ENOMEM, "%s: out of memory", what);
    }
    json_error_t jerr;
    json_t *doc =
        json_loadb(b.data ? b.data : "", b.len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    tz_buf_free(&b);
    if (!doc) {
        if (len == 0)
            return tz_error_set(err, TZ_EPARSE, "%s: empty file", what);
        return tz_error_set(err, TZ_EPARSE, "%s: not valid JSON (truncated or corrupt?): %s at line %d column %d",
                            what, jerr.text, jerr.line, jerr.column);
    }
    *out = doc;
    return TZ_OK;
}

static int dump_cb(const char *s, size_t n, void *data)
{
    tz_buf *b = data;
    return tz_buf_append(b, s, n) ? 0 : -1;
}

/* Copies a dumped string token, writing the hex digits of its \uXXXX
 * escapes in lower case: jansson writes control characters as \u001F,
 * serde_json (the reference) as \u001f. Everything else jansson writes
 * already matches serde_json: \" \\ \b \f \n \r \t, '/' unescaped,
 * non-ASCII and 0x7f raw. */
static void put_string_serde(tz_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n)
            continue;
        if (s[i + 1] != 'u' || i + 6 > n) {
            i++; /* skip the escaped character */
            continue;
        }
        buf_put(b, s + start, i + 2 - start);
        char hex[4];
        for (size_t k = 0; k < 4; k++) {
            char c = s[i + 2 + k];
            hex[k] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
        }
        buf_put(b, hex, 4);
        i += 5;
        start = i + 1;
    }
    buf_put(b, s + start, n - start);
}

/* Dumps `doc` with jansson `flags` and restores every marker string to its
 * literal; with `serde`, other strings get serde_json's escapes. */
static tz_status dump(const json_t *doc, size_t flags, bool serde, char **out, size_t *len,
                      tz_error *err)
{
    tz_buf raw = TZ_BUF_INIT(0, true), res = TZ_BUF_INIT(0, true);
    tz_status st = TZ_OK;
    if (json_dump_callback(doc, dump_cb, &raw, flags | JSON_ENCODE_ANY) != 0 || raw.failed) {
        st = tz_error_set(err, TZ_ENOMEM, "serialize JSON: out of memory");
        goto out;
    }
    size_t i = 0;
    while (i < raw.len) {
        const char *s = raw.data + i;
        if (*s == '"') {
            size_t sl = string_len(s, raw.len - i);
            if (!sl)
                sl = raw.len - i;
            bool is_int;
            size_t inner = sl >= 2 ? sl - 2 : 0;
            if (inner > MARK_OUT_LEN && memcmp(s + 1, MARK_OUT, MARK_OUT_LEN) == 0 &&
                number_len(s + 1 + MARK_OUT_LEN, inner - MARK_OUT_LEN, &is_int) ==
                    inner - MARK_OUT_LEN)
                buf_put(&res, s + 1 + MARK_OUT_LEN, inner - MARK_OUT_LEN);
            else if (serde)
                put_string_serde(&res, s, sl);
            else
                buf_put(&res, s, sl);
            i += sl;
        } else {
            size_t j = i;
            while (j < raw.len && raw.data[j] != '"')
                j++;
            buf_put(&res, s, j - i);
            i = j;
        }
    }
    if (res.failed || !res.data) {
        st = tz_error_set(err, TZ_ENOMEM, "serialize JSON: out of memory");
        goto out;
    }
    *out = tz_buf_steal(&res, len);
out:
    tz_buf_free(&raw);
    tz_buf_free(&res);
    return st;
}

tz_status tz_json_dump_exact(const json_t *doc, char **out, size_t *len, tz_error *err)
{
    return dump(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER, true, out, len, err);
}

char *tz_json_dumps(const json_t *v, size_t flags)
{
    char *out = NULL;
    size_t len;
    return dump(v, flags, false, &out, &len, NULL) == TZ_OK ? out : NULL;
}

bool tz_json_get_u64(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return false;
        *out = (uint64_t)i;
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n <= 1 + MARK_LEN || s[0] != '\0' || memcmp(s + 1, MARK, MARK_LEN) != 0)
        return false;
    const char *d = s + 1 + MARK_LEN;
    size_t dn = n - 1 - MARK_LEN;
    if (dn > 20)
        return false;
    uint64_t acc = 0;
    for (size_t k = 0; k < dn; k++) {
        if (!is_digit(d[k]))
            return false;
        unsigned dig = (unsigned)(d[k] - '0');
        if (acc > (UINT64_MAX - dig) / 10)
            return false;
        acc = acc * 10 + dig;
    }
    if (dn > 1 && d[0] == '0')
        return false;
    *out = acc;
    return true;
}

json_t *tz_json_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char tmp[1 + MARK_LEN + 21];
    tmp[0] = '\0';
    memcpy(tmp + 1, MARK, MARK_LEN);
    int k = snprintf(tmp + 1 + MARK_LEN, 21, "%llu", (unsigned long long)v);
    return json_stringn(tmp, 1 + MARK_LEN + (size_t)k);
}

json_t *tz_json_u128(unsigned __int128 v)
{
    if (v <= (unsigned __int128)UINT64_MAX)
        return tz_json_u64((uint64_t)v);
    char tmp[1 + MARK_LEN + TZ_U128_DEC_MAX];
    tmp[0] = '\0';
    memcpy(tmp + 1, MARK, MARK_LEN);
    size_t n = strlen(tz_u128_dec(tmp + 1 + MARK_LEN, v));
    return json_stringn(tmp, 1 + MARK_LEN + n);
}
