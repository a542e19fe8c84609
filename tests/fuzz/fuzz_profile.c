/* The network-profile loader (store/profile.h tz_profile_load): the input
 * is `<wallet>.network.json`. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "store/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024], wallet[1024];
    fz_write(path, sizeof path, "w.json" TZ_PROFILE_SUFFIX, data, size);
    snprintf(wallet, sizeof wallet, "%s/w.json", fz_scratch());
    tz_profile *p = NULL;
    tz_error err = {0};
    if (tz_profile_load(wallet, &p, &err) == TZ_OK) {
        FZ_ASSERT(p->rollup_node_url && p->rollup_node_url[0]);
        tz_profile_free(p);
    }
    return 0;
}
