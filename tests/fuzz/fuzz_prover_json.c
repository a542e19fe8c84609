/* The prover-argument parsers (spend/prover_json.h): a JSON array of
 * "0x..." felts, and one felt in that form. What parses must render back
 * to the same felts (the text may differ: white space). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "spend/prover_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tz_error err = {0};
    tz_felt f;
    if (tz_felt_from_0x(&f, (const char *)data, size) == TZ_OK) {
        char back[TZ_FELT_0X_CHARS];
        tz_felt_to_0x(back, &f);
        FZ_ASSERT(strlen(back) == size && memcmp(back, data, size) == 0);
    }

    static tz_felt args[CAP], again[CAP];
    size_t n = 0, m = 0;
    if (tz_prover_args_parse_json(args, CAP, &n, (const char *)data, size, &err) != TZ_OK)
        return 0;
    FZ_ASSERT(n <= CAP);
    char *text = NULL;
    size_t len = 0;
    FZ_ASSERT(tz_prover_args_json(args, n, &text, &len, &err) == TZ_OK);
    FZ_ASSERT(tz_prover_args_parse_json(again, CAP, &m, text, len, &err) == TZ_OK);
    FZ_ASSERT(m == n && memcmp(again, args, n * sizeof *args) == 0);
    free(text);
    return 0;
}
