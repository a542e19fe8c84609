/* The public statement of each spend circuit (SPENDS.md sections 4, 6 and
 * 8): its public outputs, the sighash every input signs, and the
 * bootloader output preimage a proof carries.
 *
 * Public outputs, in order (L felts; u64 values as little-endian felts):
 *   transfer: auth_domain, root, nf_0..nf_{N-1}, fee, cm_1, cm_2, cm_3,
 *             mh_1, mh_2, mh_3                                (L = N + 9)
 *   unshield: auth_domain, root, nf_0..nf_{N-1}, v_pub, fee,
 *             recipient_id, cm_change, mh_change, cm_fee, mh_fee (L = N + 9)
 *   shield:   auth_domain, pubkey_hash, v, fee, producer_fee,
 *             cm_recipient, cm_producer, mh_recipient, mh_producer (L = 9)
 * The sighash is the sighSP__ left fold over the circuit tag (felt 0x01
 * transfer, 0x02 unshield, 0x03 shield) followed by exactly these outputs.
 * The preimage of a proof is [1, 3 + L, program_hash, L, outputs...].
 * Pure functions, no allocation. */
#ifndef TZ_CORE_SIGHASH_H
#define TZ_CORE_SIGHASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/kmsg.h"
#include "core/status.h"

#define TZ_PUBOUT_MAX (TZ_KMSG_MAX_INPUTS + 9)  /* 16 */
#define TZ_PREIMAGE_MAX (4 + TZ_PUBOUT_MAX)     /* 20 */

typedef enum tz_circuit {
    TZ_CIRCUIT_TRANSFER = 1,
    TZ_CIRCUIT_UNSHIELD = 2,
    TZ_CIRCUIT_SHIELD = 3,
} tz_circuit;

typedef struct tz_transfer_public {
    tz_felt auth_domain, root;
    size_t n_nf; /* 1..7 */
    tz_felt nf[TZ_KMSG_MAX_INPUTS];
    uint64_t fee;
    tz_felt cm[3], mh[3]; /* recipient, change, producer */
} tz_transfer_public;

typedef struct tz_unshield_public {
    tz_felt auth_domain, root;
    size_t n_nf; /* 1..7 */
    tz_felt nf[TZ_KMSG_MAX_INPUTS];
    uint64_t v_pub, fee;
    tz_felt recipient_id;          /* tz_unshield_recipient_id */
    tz_felt cm_change, mh_change;  /* both zero without change */
    tz_felt cm_fee, mh_fee;
} tz_unshield_public;

typedef struct tz_shield_public {
    tz_felt auth_domain, pubkey_hash;
    uint64_t v, fee, producer_fee;
    tz_felt cm_recipient, cm_producer, mh_recipient, mh_producer;
} tz_shield_public;

/* Writes the public outputs into out[] and returns L, or returns 0 (out
 * untouched) when n_nf is outside 1..7. */
size_t tz_pubout_transfer(tz_felt out[TZ_PUBOUT_MAX], const tz_transfer_public *p);
size_t tz_pubout_unshield(tz_felt out[TZ_PUBOUT_MAX], const tz_unshield_public *p);
size_t tz_pubout_shield(tz_felt out[TZ_PUBOUT_MAX], const tz_shield_public *p);

/* The sighash of a statement into *out: TZ_OK, or TZ_EINVAL (out
 * untouched) when n_nf is outside 1..7. */
tz_status tz_sighash_transfer(tz_felt *out, const tz_transfer_public *p) TZ_WUR;
tz_status tz_sighash_unshield(tz_felt *out, const tz_unshield_public *p) TZ_WUR;
void tz_sighash_shield(tz_felt *out, const tz_shield_public *p);

/* recipient_id of an unshield: H(recipient with leading and trailing
 * Unicode White_Space removed), as the kernel hashes the recipient after
 * trimming it. s[0..len) is UTF-8 (not checked). */
void tz_unshield_recipient_id(tz_felt *out, const char *s, size_t len);

/* The statements a kernel message claims, under the rollup's auth_domain:
 * memo hashes from its ciphertexts (mh_change zero without a change note),
 * recipient_id from its recipient. Transfer and unshield return TZ_EINVAL
 * (out untouched) when n_nf is outside 1..7. */
tz_status tz_transfer_public_from_kmsg(tz_transfer_public *out, const tz_felt *auth_domain,
                                       const tz_kmsg_transfer *m) TZ_WUR;
tz_status tz_unshield_public_from_kmsg(tz_unshield_public *out, const tz_felt *auth_domain,
                                       const tz_kmsg_unshield *m) TZ_WUR;
void tz_shield_public_from_kmsg(tz_shield_public *out, const tz_felt *auth_domain,
                                const tz_kmsg_shield *m);

/* Writes [1, 3 + L, program_hash, L, outputs[0..L)] into out[] (room for
 * L + 4 felts) and returns L + 4; returns 0 when L > TZ_PUBOUT_MAX. */
size_t tz_preimage_build(tz_felt *out, const tz_felt *program_hash, const tz_felt *outputs,
                         size_t L);

/* Splits a single-task bootloader preimage: TZ_OK with *program_hash,
 * *outputs (pointing into pre) and *n_outputs; TZ_EINVAL with a message
 * when it has fewer than 4 felts, a task count other than 1, a size felt
 * other than n - 1, or an output count other than n - 4 (counts must fit
 * in u64: bytes 8..31 zero). Outputs untouched on failure. */
tz_status tz_preimage_parse(const tz_felt *pre, size_t n, tz_felt *program_hash,
                            const tz_felt **outputs, size_t *n_outputs, tz_error *err) TZ_WUR;

/* Checks that pre[0..n) is exactly the preimage of outputs[0..L) under
 * program_hash: TZ_OK, TZ_EINVAL when it does not parse
 * (tz_preimage_parse), TZ_EMISMATCH naming the program hash, the output
 * count or the first differing output index. */
tz_status tz_preimage_check(const tz_felt *pre, size_t n, const tz_felt *program_hash,
                            const tz_felt *outputs, size_t L, tz_error *err) TZ_WUR;

#endif
