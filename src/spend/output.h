/* One output note of a spend, as every circuit takes it: its opening
 * (the circuit's witness), its ciphertext and its memo hash. */
#ifndef TZ_SPEND_OUTPUT_H
#define TZ_SPEND_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/note.h"
#include "core/provarg.h"
#include "core/status.h"
#include "core/types.h"

/* Builds a note of value v to `to`: a fresh random rseed (below 2^251)
 * and KEM coins, the ciphertext *enc with its outgoing recovery part
 * under outgoing_seed and `role`, the memo (NULL: the default memo, else
 * memo_len <= 1024 bytes, padded), then o's cm and memo hash. Returns
 * TZ_OK or the encryption's error; the coins are wiped. */
tz_status tz_spend_output_make(tz_spend_output *o, tz_enc_note *enc, const tz_payment_address *to,
                               uint64_t v, const uint8_t *memo, size_t memo_len,
                               const tz_felt *outgoing_seed, tz_out_role role) TZ_WUR;

#endif
