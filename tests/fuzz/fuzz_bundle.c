/* The proof-bundle parser (spend/bundle.h). A bundle that parses must
 * render and parse again to the same proof. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "spend/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tz_error err = {0};
    tz_kmsg_proof p = {0}, q = {0};
    if (tz_bundle_parse(&p, (const char *)data, size, &err) != TZ_OK)
        return 0;
    char *text = NULL;
    size_t len = 0;
    FZ_ASSERT(tz_bundle_json(&p, &text, &len, &err) == TZ_OK);
    FZ_ASSERT(tz_bundle_parse(&q, text, len, &err) == TZ_OK);
    FZ_ASSERT(q.len == p.len && (!p.len || memcmp(q.bytes, p.bytes, p.len) == 0));
    FZ_ASSERT(q.n_preimage == p.n_preimage &&
              (!p.n_preimage ||
               memcmp(q.preimage, p.preimage, p.n_preimage * sizeof *p.preimage) == 0));
    free(text);
    tz_kmsg_proof_free(&p);
    tz_kmsg_proof_free(&q);
    return 0;
}
