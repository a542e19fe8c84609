/* The `values` listing parser (rpc/listing.h), differentially: whatever
 * the body, tz_listing_parse succeeds exactly when jansson alone reads it
 * as a listing, with the same entries (keys, string values, non-string
 * values), whether it took the in-place scan or jansson's path. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rpc/listing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact copy, so ASan sees any read past the body's end */
    char *body = malloc(size ? size : 1);
    if (!body)
        return 0;
    memcpy(body, data, size);
    tz_listing l;
    tz_error err = {0};
    tz_status st = tz_listing_parse(&l, body, size, "http://node.invalid/values", &err);

    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    bool ref_ok = j && json_is_array(j);
    for (size_t i = 0; ref_ok && i < json_array_size(j); i++) {
        json_t *e = json_array_get(j, i);
        ref_ok = json_string_value(json_object_get(e, "key")) && json_object_get(e, "value");
    }
    if (st != TZ_OK) {
        FZ_ASSERT(!ref_ok);
        FZ_ASSERT(err.msg[0] && err.msg[sizeof err.msg - 1] == '\0');
    } else {
        FZ_ASSERT(ref_ok && l.n == json_array_size(j));
        for (size_t i = 0; i < l.n; i++) {
            json_t *e = json_array_get(j, i);
            json_t *k = json_object_get(e, "key"), *v = json_object_get(e, "value");
            FZ_ASSERT(l.e[i].key_len == json_string_length(k) &&
                      memcmp(l.e[i].key, json_string_value(k), l.e[i].key_len) == 0 &&
                      l.e[i].key[l.e[i].key_len] == '\0');
            if (json_is_string(v))
                FZ_ASSERT(l.e[i].value && l.e[i].value_len == json_string_length(v) &&
                          memcmp(l.e[i].value, json_string_value(v), l.e[i].value_len) == 0);
            else
                FZ_ASSERT(!l.e[i].value);
        }
    }
    json_decref(j);
    tz_listing_free(&l);
    free(body);
    return 0;
}
