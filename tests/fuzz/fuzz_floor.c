/* The xmss-floor parser (store/floor.h tz_floor_check): the input is
 * `<wallet>.xmss-floor`, checked against a fixed wallet state whose
 * fingerprint is 0x0101...01 (seeds use it, so the fuzzer gets past the
 * "another wallet's floor" exit). */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "store/floor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const tz_floor_entry entries[] = {
    {.index = 0, .current = 5, .floor = 5},
    {.index = 2, .current = 1, .floor = 9},
    {.index = 7, .current = UINT64_MAX, .floor = UINT64_MAX},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char floor_path[1024], wallet_path[1024];
    fz_write(floor_path, sizeof floor_path, "w.json.xmss-floor", data, size);
    snprintf(wallet_path, sizeof wallet_path, "%s/w.json", fz_scratch());
    tz_floor_state s = {.wallet_path = wallet_path, .addr_counter = 8, .entries = entries,
                        .n = sizeof entries / sizeof *entries};
    memset(s.fingerprint.b, 0x01, sizeof s.fingerprint.b);
    tz_error err = {0};
    tz_status st = tz_floor_check(&s, &err);
    FZ_ASSERT(st == TZ_OK || st == TZ_ESTATE || st == TZ_EPARSE);
    return 0;
}
