/* The simulator's kernel: applies a TzEL kernel message (core/kmsg.h) to
 * the chain as one new block, with the checks of SPENDS.md section 8. The
 * only proof system it accepts is the transparent one
 * (spend/transparent.h): a message whose preimage names any other program
 * hash is rejected. */
#ifndef TZ_SIM_KERNEL_H
#define TZ_SIM_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "core/status.h"

#define SIM_MIN_TX_FEE UINT64_C(100000)
#define SIM_BASE_TXS_PER_LEVEL 2
#define SIM_MAX_FEE_STEP 6

/* The fee a private transaction (transfer or unshield) must pay when
 * `count` have already been applied in its level:
 * 100000 << min(max(count - 1, 0), 6). */
uint64_t sim_kernel_required_fee(uint64_t count);

/* Decodes payload[0..len) and applies it to c. `kind` is the kind the
 * submitter named (a tz_kmsg_kind), or 0 for any. TZ_OK with *level the
 * new block's level; otherwise the reason in err (the state is untouched
 * and *level is the head's level): TZ_EINVAL for a message that does not
 * decode or a kind other than named, TZ_EMISMATCH for a failed kernel
 * check, TZ_ENOMEM. */
tz_status sim_kernel_apply(sim_chain *c, const uint8_t *payload, size_t len, int kind,
                           uint64_t *level, tz_error *err) TZ_WUR;

#endif
