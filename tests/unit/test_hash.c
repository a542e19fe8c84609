/* BLAKE2s vectors (protocol_v1.json "blake2s") and felt helpers. */
#include <jansson.h>

#include "core/felt.h"
#include "core/hash.h"
#include "tz_test_util.h"

int main(void)
{
    json_t *root = tz_test_vectors("protocol_v1.json");
    if (!root)
        return tz_test_done("hash");

    json_t *arr = json_object_get(root, "blake2s");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *in = json_string_value(json_object_get(e, "input"));
        const char *outhex = json_string_value(json_object_get(e, "output"));
        const char *pers = json_string_value(json_object_get(e, "personal"));
        uint8_t buf[4096];
        size_t len = 0;
        CHECK(tz_hex_decode(buf, sizeof buf, &len, in, strlen(in)) == TZ_OK);
        uint8_t out[32];
        tz_hash_part part = {buf, len};
        tz_blake2s(out, pers[0] ? pers : NULL, &part, 1);
        char hex[65];
        tz_hex_encode(hex, out, 32);
        CHECK_MSG(strcmp(hex, outhex) == 0, "blake2s[%zu] personal=%s got %s want %s", i, pers, hex, outhex);
        n++;
    }
    printf("blake2s vectors checked: %zu\n", n);
    CHECK(n == json_array_size(arr) && n > 0);

    tz_felt t;
    tz_felt_tag(&t, "spend");
    char hex[65];
    tz_felt_to_hex(hex, &t);
    CHECK(strncmp(hex, "646e657073000000", 16) == 0);

    tz_felt f;
    CHECK(tz_felt_from_hex(&f, "zz") == TZ_EINVAL);
    CHECK(tz_felt_from_hex(&f, "0000000000000000000000000000000000000000000000000000000000000g00") == TZ_EINVAL);
    CHECK(tz_felt_from_hex(&f, hex) == TZ_OK && tz_felt_eq(&f, &t));
    json_decref(root);
    return tz_test_done("hash");
}
