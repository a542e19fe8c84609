/* Note commitments, nullifiers, memo hashes, sighash folds, deposit pool
 * ids and account ids (PROTOCOL.md "Notes"). Pure functions, no allocation,
 * cannot fail. Outputs are felts (truncated to 251 bits). */
#ifndef TZ_CORE_COMMIT_H
#define TZ_CORE_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/types.h"

/* "deposit:" + 64 hex + NUL */
#define TZ_DEPOSIT_RECIPIENT_CHARS (8 + TZ_FELT_HEX + 1)

/* rcm = H(H(tag "rcm") || rseed). */
void tz_note_rcm(tz_felt *rcm, const tz_felt *rseed);

/* owner_tag = BLAKE2s_ownr(auth_root || pub_seed || nk_tag). */
void tz_owner_tag(tz_felt *out, const tz_felt *auth_root, const tz_felt *pub_seed,
                  const tz_felt *nk_tag);

/* cm = BLAKE2s_cmmt(d_j || u64le v || 24 zero bytes || rcm || owner_tag). */
void tz_note_cm(tz_felt *cm, const tz_felt *d_j, uint64_t v, const tz_felt *rcm,
                const tz_felt *owner_tag);

/* cm from the opening (d_j, v, rseed, owner_tag): rcm derived from rseed. */
void tz_note_cm_from_rseed(tz_felt *cm, const tz_felt *d_j, uint64_t v,
                           const tz_felt *rseed, const tz_felt *owner_tag);

/* nf = BLAKE2s_nulf(nk_spend || BLAKE2s_nulf(cm || u64felt pos)). */
void tz_note_nullifier(tz_felt *nf, const tz_felt *nk_spend, const tz_felt *cm, uint64_t pos);

/* BLAKE2s_memo(ct_d || tag_le16 || ct_v || nonce || encrypted_data || outgoing_ct). */
void tz_memo_ct_hash(tz_felt *out, const tz_enc_note *n);

/* fold(a, b) = BLAKE2s_sigh(a || b). */
void tz_sighash_fold(tz_felt *out, const tz_felt *a, const tz_felt *b);

/* Left fold over items[0..n): n == 1 returns items[0]; n == 0 writes zero. */
void tz_sighash_fold_list(tz_felt *out, const tz_felt *items, size_t n);

/* Deposit pool id: fold(felt 0x04, auth_domain, auth_root, pub_seed, blind). */
void tz_deposit_pubkey_hash(tz_felt *out, const tz_felt *auth_domain, const tz_felt *auth_root,
                            const tz_felt *pub_seed, const tz_felt *blind);

/* L1 recipient string "deposit:<lowercase hex pubkey_hash>" with NUL. */
void tz_deposit_recipient(char out[TZ_DEPOSIT_RECIPIENT_CHARS], const tz_felt *pubkey_hash);

/* Deterministic deposit blind:
 * H("tzel-deposit-blind" || master_sk || u32le j || u64le nonce). Secret. */
void tz_deposit_blind(tz_felt *out, const tz_felt *master_sk, uint32_t j, uint64_t nonce);

/* Account id of an L1/public identifier: H(bytes of s[0..len)). */
void tz_account_id(tz_felt *out, const void *s, size_t len);

/* Development default auth domain: H("tzel-auth-domain-local-dev-v1"). */
void tz_default_auth_domain(tz_felt *out);

#endif
