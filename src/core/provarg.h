/* Prover arguments of the three spend circuits (SPENDS.md section 6): the
 * witness of a transfer, unshield or shield as the flat felt array the
 * Cairo executables read (element 0 = the number of elements after it; u64
 * values and indices as little-endian felts). spend/prover_json.h renders
 * it as the JSON array of "0x..." strings; this module fixes the order.
 *
 *   run_transfer: 1 + 4 + 206 N + 24 elements:
 *     count, N, auth_domain, root, fee;
 *     per input: nf, nk_spend, auth_root, auth_pub_seed, key_idx, d_j, v,
 *       rseed, pos;  then every input's 48 cm siblings, every input's 16
 *       auth siblings, every input's 133 WOTS chains (input by input);
 *     outputs 1..3 (recipient, change, producer): cm, d_j, v, rseed,
 *       auth_root, auth_pub_seed, nk_tag, mh
 *   run_unshield: 1 + 6 + 206 N + 15 elements:
 *     count, N, auth_domain, root, v_pub, fee, recipient_id; the same input
 *     blocks; has_change; change d_j, v, rseed, auth_root, auth_pub_seed,
 *     nk_tag, mh (seven zeros without change); producer, the same seven
 *   run_shield: 1 + 170 elements:
 *     count, auth_domain, pubkey_hash, v, fee, producer_fee, cm_recipient,
 *     cm_producer, mh_recipient, mh_producer, auth_root, auth_pub_seed,
 *     nk_tag, d_j, rseed, blind, key_idx; 133 WOTS chains; 16 auth
 *     siblings; producer auth_root, auth_pub_seed, nk_tag, d_j, rseed
 *
 * Every element is below 2^251 (hash outputs, random seeds, small
 * integers); builders refuse a witness that breaks this and parsers a list
 * that does. Pure functions, no allocation. The witnesses hold secrets
 * (nk_spend, rseed, blind, signatures of one-time keys): wipe them. */
#ifndef TZ_CORE_PROVARG_H
#define TZ_CORE_PROVARG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/kmsg.h"
#include "core/status.h"
#include "core/xmss.h"

#define TZ_CM_DEPTH 48
#define TZ_PROVARG_INPUT (9 + TZ_CM_DEPTH + TZ_XMSS_HEIGHT + TZ_WOTS_CHAINS) /* 206 */
#define TZ_PROVARG_TRANSFER_LEN(n) (1 + 4 + TZ_PROVARG_INPUT * (n) + 24)
#define TZ_PROVARG_UNSHIELD_LEN(n) (1 + 6 + TZ_PROVARG_INPUT * (n) + 15)
#define TZ_PROVARG_SHIELD_LEN (1 + 16 + TZ_WOTS_CHAINS + TZ_XMSS_HEIGHT + 5) /* 171 */
#define TZ_PROVARG_MAX TZ_PROVARG_TRANSFER_LEN(TZ_KMSG_MAX_INPUTS)         /* 1471 */

/* One spent note with everything its membership and signature need. */
typedef struct tz_spend_input {
    tz_felt nf, nk_spend, auth_root, auth_pub_seed;
    uint32_t key_idx; /* one-time key, < 2^16 */
    tz_felt d_j;
    uint64_t v;
    tz_felt rseed;
    uint64_t pos;                        /* leaf index, < 2^48 */
    tz_felt cm_path[TZ_CM_DEPTH];        /* commitment siblings, leaf to root */
    tz_felt auth_path[TZ_XMSS_HEIGHT];   /* auth-tree siblings, leaf to root */
    tz_felt sig[TZ_WOTS_CHAINS];         /* WOTS chains over the sighash */
} tz_spend_input;

/* The opening of an output note. `cm` is an argument of run_transfer and
 * run_shield only; run_unshield computes it in the circuit. */
typedef struct tz_spend_output {
    tz_felt cm, d_j;
    uint64_t v;
    tz_felt rseed, auth_root, auth_pub_seed, nk_tag, mh;
} tz_spend_output;

typedef struct tz_transfer_witness {
    tz_felt auth_domain, root;
    uint64_t fee;
    size_t n; /* 1..7 */
    tz_spend_input in[TZ_KMSG_MAX_INPUTS];
    tz_spend_output out[3]; /* recipient, change, producer */
} tz_transfer_witness;

typedef struct tz_unshield_witness {
    tz_felt auth_domain, root;
    uint64_t v_pub, fee;
    tz_felt recipient_id;
    size_t n; /* 1..7 */
    tz_spend_input in[TZ_KMSG_MAX_INPUTS];
    bool has_change;          /* without change, `change` is all zero */
    tz_spend_output change;   /* cm not an argument */
    tz_spend_output producer; /* cm not an argument */
} tz_unshield_witness;

/* recipient.v is the shielded amount v, producer.v the producer fee. */
typedef struct tz_shield_witness {
    tz_felt auth_domain, pubkey_hash;
    uint64_t fee;
    tz_spend_output recipient, producer;
    tz_felt blind;
    uint32_t key_idx; /* < 2^16 */
    tz_felt sig[TZ_WOTS_CHAINS];
    tz_felt auth_path[TZ_XMSS_HEIGHT];
} tz_shield_witness;

/* Builders: write the argument list into out[0..cap) and its length into
 * *n_out. TZ_OK, or TZ_EINVAL with a message (out may be partly written)
 * when n is outside 1..7, cap is too small, key_idx >= 2^16, pos >= 2^48,
 * an unshield without change has a non-zero change block, or an element
 * is not below 2^251. */
tz_status tz_provarg_transfer(tz_felt *out, size_t cap, size_t *n_out,
                              const tz_transfer_witness *w, tz_error *err) TZ_WUR;
tz_status tz_provarg_unshield(tz_felt *out, size_t cap, size_t *n_out,
                              const tz_unshield_witness *w, tz_error *err) TZ_WUR;
tz_status tz_provarg_shield(tz_felt *out, size_t cap, size_t *n_out,
                            const tz_shield_witness *w, tz_error *err) TZ_WUR;

/* Parsers, the exact inverse: TZ_OK with *w filled, or TZ_EINVAL with a
 * message (w untouched) when element 0 is not n - 1, N is outside 1..7 or
 * disagrees with n, a u64 element has bytes 8..31 set, key_idx >= 2^16,
 * pos >= 2^48, has_change is not 0 or 1, a change block without change is
 * not all zero, or an element is not below 2^251. */
tz_status tz_provarg_transfer_parse(tz_transfer_witness *w, const tz_felt *args, size_t n,
                                    tz_error *err) TZ_WUR;
tz_status tz_provarg_unshield_parse(tz_unshield_witness *w, const tz_felt *args, size_t n,
                                    tz_error *err) TZ_WUR;
tz_status tz_provarg_shield_parse(tz_shield_witness *w, const tz_felt *args, size_t n,
                                  tz_error *err) TZ_WUR;

#endif
