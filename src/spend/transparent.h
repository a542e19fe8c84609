/* The transparent prover: the statement each spend circuit proves
 * (SPENDS.md section 9), checked in the clear with the core functions,
 * and a "proof" that is the prover arguments themselves, so anyone holding
 * it re-runs the same checks. It has the bundle shape of a real prover
 * (spend/bundle.h) and stands in for one in tests and in the simulator.
 *
 * NOT zero-knowledge: proof_bytes is the whole witness (nk_spend, rseed,
 * note values and positions, one-time signatures). Never send such a
 * proof to a real rollup.
 *
 * Bundle of a statement:
 *   proof_bytes     = the argument list (core/provarg.h, element 0 = the
 *                     count), each felt as its 32 little-endian bytes;
 *   output_preimage = [1, 3 + L, program_hash, L, public outputs]
 *                     (core/sighash.h), with the fixed program hashes
 *                     H("tzel-transparent-transfer"),
 *                     H("tzel-transparent-unshield"),
 *                     H("tzel-transparent-shield")
 *                     (core/hash.h tz_hash over the ASCII bytes, no NUL,
 *                     truncated below 2^251 like every hash output).
 *
 * Checks, in this order (the first that fails is named in the message):
 *   transfer / unshield: 1 <= N <= 7; every key_idx < 2^16 and pos < 2^48;
 *     transfer: each output cm opens to its fields; unshield: without
 *     change the change block is zero; producer / fee note value > 0;
 *     value balance in 128 bits (inputs = outputs + fee); then per input:
 *     the cm rebuilt from (d_j, v, rseed, owner tag of auth_root,
 *     auth_pub_seed, H_nktg(nk_spend)) is a member of root at pos over the
 *     48 siblings (bit i of pos = 1: right child), nf = H_nf(nk_spend,
 *     H_nf(cm, pos)), and the WOTS chain ends recovered from the sighash
 *     digits and the signature, L-tree hashed to a leaf, lead along the 16
 *     auth siblings to auth_root.
 *   shield: key_idx < 2^16; the recipient and producer commitments open;
 *     producer_fee > 0; pubkey_hash = fold(4, auth_domain, auth_root,
 *     auth_pub_seed, blind); the WOTS signature of the sighash leads to
 *     auth_root. (The circuit has no value balance: the kernel debits the
 *     deposit pool.)
 * The circuit also checks these; the order here is chosen so a single
 * wrong field is reported by its own check (a wrong input value fails the
 * balance, not the membership that would also fail). Memo hashes pass
 * through; distinct nullifiers are the kernel's check.
 *
 * Pure functions except the proof buffers tz_transparent_prove allocates.
 * Intermediate values that derive from secrets are wiped. */
#ifndef TZ_SPEND_TRANSPARENT_H
#define TZ_SPEND_TRANSPARENT_H

#include <stddef.h>

#include "core/felt.h"
#include "core/kmsg.h"
#include "core/provarg.h"
#include "core/sighash.h"
#include "core/status.h"

/* The fixed program hash of circuit c into *out (zero for an unknown c). */
void tz_transparent_program_hash(tz_felt *out, tz_circuit c);

/* The circuit of a prover executable path: its last component must be
 * run_transfer.executable.json, run_unshield.executable.json or
 * run_shield.executable.json (the file need not exist). TZ_OK with *c,
 * or TZ_EINVAL with a message (*c untouched). */
tz_status tz_transparent_circuit_of_exe(const char *path, tz_circuit *c, tz_error *err) TZ_WUR;

/* Check the statement of a parsed witness. TZ_OK with the circuit's public
 * outputs in *pub; TZ_EMISMATCH with a message naming the first failed
 * check (*pub untouched, nothing else written). */
tz_status tz_transparent_check_transfer(const tz_transfer_witness *w, tz_transfer_public *pub,
                                        tz_error *err) TZ_WUR;
tz_status tz_transparent_check_unshield(const tz_unshield_witness *w, tz_unshield_public *pub,
                                        tz_error *err) TZ_WUR;
tz_status tz_transparent_check_shield(const tz_shield_witness *w, tz_shield_public *pub,
                                      tz_error *err) TZ_WUR;

/* Parse args[0..n) as circuit c's argument list (core/provarg.h) and
 * check its statement. TZ_OK with the public outputs in outputs[0..*L);
 * TZ_EINVAL (the list does not parse) or TZ_EMISMATCH (a check fails) with
 * a message; outputs and *L untouched on failure. */
tz_status tz_transparent_check_args(tz_circuit c, const tz_felt *args, size_t n,
                                    tz_felt outputs[TZ_PUBOUT_MAX], size_t *L,
                                    tz_error *err) TZ_WUR;

/* The transparent proof of a valid statement: TZ_OK with *out owning new
 * buffers (tz_kmsg_proof_free; the bytes hold the witness: wipe them
 * before freeing when that matters), or the status of
 * tz_transparent_check_args, or TZ_ENOMEM; *out untouched on failure. */
tz_status tz_transparent_prove(tz_circuit c, const tz_felt *args, size_t n, tz_kmsg_proof *out,
                               tz_error *err) TZ_WUR;

/* Verifies a transparent proof of circuit c: proof_bytes must be a whole
 * number of felts (at most TZ_PROVARG_MAX) forming c's argument list,
 * its statement must hold, and the preimage must be exactly
 * [1, 3 + L, program_hash(c), L, the recomputed outputs]. TZ_OK, or
 * TZ_EINVAL (malformed proof_bytes or preimage), TZ_EMISMATCH (a
 * statement check, the program hash or an output differs) with a
 * message. */
tz_status tz_transparent_verify(tz_circuit c, const tz_kmsg_proof *p, tz_error *err) TZ_WUR;

#endif
