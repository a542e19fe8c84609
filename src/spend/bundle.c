/* Proof bundle JSON: strict parse and compact write (bundle.h). */
#include "spend/bundle.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static tz_status bad(tz_error *err, const char *why)
{
    return tz_error_set(err, TZ_EPARSE, "proof bundle: %s", why);
}

/* Hex without "0x", either case, even length, into out[len / 2]. */
static int hex_bytes(uint8_t *out, const char *s, size_t len)
{
    size_t n = 0;
    if (len % 2 || (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
        return 0;
    return tz_hex_decode(out, len / 2, &n, s, len) == TZ_OK && n == len / 2;
}

tz_status tz_bundle_parse(tz_kmsg_proof *out, const char *text, size_t len, tz_error *err)
{
    json_error_t jerr;
    tz_kmsg_proof p = {0};
    tz_status rc = TZ_OK;
    const char *key;
    json_t *val;
    if (!text || len > TZ_BUNDLE_MAX_TEXT)
        return bad(err, "missing or longer than the largest proof");
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return tz_error_set(err, TZ_EPARSE, "proof bundle: line %d column %d: %s", jerr.line,
                            jerr.column, jerr.text);
    if (!json_is_object(doc)) {
        rc = bad(err, "not a JSON object");
        goto out;
    }
    json_object_foreach(doc, key, val) {
        if (strcmp(key, "proof_bytes") && strcmp(key, "output_preimage")) {
            rc = tz_error_set(err, TZ_EPARSE, "proof bundle: unknown field \"%s\"", key);
            goto out;
        }
    }
    const json_t *pb = json_object_get(doc, "proof_bytes");
    const json_t *op = json_object_get(doc, "output_preimage");
    if (!json_is_string(pb) || !json_is_array(op)) {
        rc = bad(err, "proof_bytes (string) and output_preimage (array) are required");
        goto out;
    }
    size_t hlen = json_string_length(pb);
    if (hlen / 2 > TZ_KMSG_MAX_PROOF_BYTES) {
        rc = bad(err, "proof_bytes over 8 MiB");
        goto out;
    }
    size_t count = json_array_size(op);
    if (count > TZ_KMSG_MAX_PREIMAGE) {
        rc = bad(err, "output_preimage over 1024 felts");
        goto out;
    }
    p.bytes = malloc(hlen / 2 ? hlen / 2 : 1);
    p.preimage = malloc(count ? count * sizeof(tz_felt) : 1);
    if (!p.bytes || !p.preimage) {
        rc = tz_error_set(err, TZ_ENOMEM, "proof bundle: out of memory");
        goto out;
    }
    if (!hex_bytes(p.bytes, json_string_value(pb), hlen)) {
        rc = bad(err, "proof_bytes is not hex");
        goto out;
    }
    p.len = hlen / 2;
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(op, i);
        if (!json_is_string(e) || json_string_length(e) != TZ_FELT_HEX ||
            !hex_bytes(p.preimage[i].b, json_string_value(e), TZ_FELT_HEX)) {
            rc = tz_error_set(err, TZ_EPARSE,
                              "proof bundle: output_preimage[%zu] is not 64 hex characters", i);
            goto out;
        }
    }
    p.n_preimage = count;
out:
    json_decref(doc);
    if (rc)
        tz_kmsg_proof_free(&p);
    else
        *out = p;
    return rc;
}

tz_status tz_bundle_json(const tz_kmsg_proof *p, char **out, size_t *out_len, tz_error *err)
{
    static const char head[] = "{\"proof_bytes\":\"", mid[] = "\",\"output_preimage\":[";
    if (!p || p->len > TZ_KMSG_MAX_PROOF_BYTES || p->n_preimage > TZ_KMSG_MAX_PREIMAGE ||
        (p->len && !p->bytes) || (p->n_preimage && !p->preimage))
        return tz_error_set(err, TZ_EINVAL, "proof bundle: proof over the kernel's caps");
    size_t cap = sizeof head + 2 * p->len + sizeof mid + p->n_preimage * (TZ_FELT_HEX + 3) + 3;
    char *buf = malloc(cap), *o = buf;
    if (!buf)
        return tz_error_set(err, TZ_ENOMEM, "proof bundle: out of memory");
    memcpy(o, head, sizeof head - 1);
    o += sizeof head - 1;
    tz_hex_encode(o, p->bytes, p->len);
    o += 2 * p->len;
    memcpy(o, mid, sizeof mid - 1);
    o += sizeof mid - 1;
    for (size_t i = 0; i < p->n_preimage; i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        tz_felt_to_hex(o, &p->preimage[i]);
        o += TZ_FELT_HEX;
        *o++ = '"';
    }
    *o++ = ']';
    *o++ = '}';
    *o = '\0';
    *out = buf;
    *out_len = (size_t)(o - buf);
    return TZ_OK;
}
