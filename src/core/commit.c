/* Commitments, nullifiers and folds: thin compositions of BLAKE2s. */
#include "core/commit.h"

#include <sodium.h>
#include <string.h>

#include "core/hash.h"

void tz_note_rcm(tz_felt *rcm, const tz_felt *rseed)
{
    tz_felt tag, htag;
    tz_felt_tag(&tag, "rcm");
    tz_hash(&htag, tag.b, sizeof tag.b);
    tz_hash2(rcm, &htag, rseed);
}

void tz_owner_tag(tz_felt *out, const tz_felt *auth_root, const tz_felt *pub_seed,
                  const tz_felt *nk_tag)
{
    tz_hash_part parts[3] = {{auth_root->b, 32}, {pub_seed->b, 32}, {nk_tag->b, 32}};
    tz_hash_parts(out, TZ_P_OWNR, parts, 3);
}

void tz_note_cm(tz_felt *cm, const tz_felt *d_j, uint64_t v, const tz_felt *rcm,
                const tz_felt *owner_tag)
{
    uint8_t buf[128];
    memset(buf, 0, sizeof buf);
    memcpy(buf, d_j->b, 32);
    tz_put_u64le(buf + 32, v);
    memcpy(buf + 64, rcm->b, 32);
    memcpy(buf + 96, owner_tag->b, 32);
    tz_hash_p(cm, TZ_P_CMMT, buf, sizeof buf);
    sodium_memzero(buf, sizeof buf);
}

void tz_note_cm_from_rseed(tz_felt *cm, const tz_felt *d_j, uint64_t v,
                           const tz_felt *rseed, const tz_felt *owner_tag)
{
    tz_felt rcm;
    tz_note_rcm(&rcm, rseed);
    tz_note_cm(cm, d_j, v, &rcm, owner_tag);
    sodium_memzero(&rcm, sizeof rcm);
}

void tz_note_nullifier(tz_felt *nf, const tz_felt *nk_spend, const tz_felt *cm, uint64_t pos)
{
    tz_felt posf, cm_pos;
    tz_felt_from_u64(&posf, pos);
    tz_hash_part p1[2] = {{cm->b, 32}, {posf.b, 32}};
    tz_hash_parts(&cm_pos, TZ_P_NULF, p1, 2);
    tz_hash_part p2[2] = {{nk_spend->b, 32}, {cm_pos.b, 32}};
    tz_hash_parts(nf, TZ_P_NULF, p2, 2);
}

void tz_memo_ct_hash(tz_felt *out, const tz_enc_note *n)
{
    uint8_t tag[2];
    tz_put_u16le(tag, n->tag);
    tz_hash_part parts[6] = {
        {n->ct_d, sizeof n->ct_d},
        {tag, sizeof tag},
        {n->ct_v, sizeof n->ct_v},
        {n->nonce, sizeof n->nonce},
        {n->encrypted_data, sizeof n->encrypted_data},
        {n->outgoing_ct, sizeof n->outgoing_ct},
    };
    tz_hash_parts(out, TZ_P_MEMO, parts, 6);
}

void tz_sighash_fold(tz_felt *out, const tz_felt *a, const tz_felt *b)
{
    tz_hash_part parts[2] = {{a->b, 32}, {b->b, 32}};
    tz_hash_parts(out, TZ_P_SIGH, parts, 2);
}

void tz_sighash_fold_list(tz_felt *out, const tz_felt *items, size_t n)
{
    if (n == 0) {
        memset(out, 0, sizeof *out);
        return;
    }
    tz_felt acc = items[0];
    for (size_t i = 1; i < n; i++)
        tz_sighash_fold(&acc, &acc, &items[i]);
    *out = acc;
}

void tz_deposit_pubkey_hash(tz_felt *out, const tz_felt *auth_domain, const tz_felt *auth_root,
                            const tz_felt *pub_seed, const tz_felt *blind)
{
    tz_felt items[5];
    memset(&items[0], 0, sizeof items[0]);
    items[0].b[0] = 0x04;
    items[1] = *auth_domain;
    items[2] = *auth_root;
    items[3] = *pub_seed;
    items[4] = *blind;
    tz_sighash_fold_list(out, items, 5);
    sodium_memzero(items, sizeof items);
}

void tz_deposit_recipient(char out[TZ_DEPOSIT_RECIPIENT_CHARS], const tz_felt *pubkey_hash)
{
    memcpy(out, "deposit:", 8);
    tz_felt_to_hex(out + 8, pubkey_hash);
}

void tz_deposit_blind(tz_felt *out, const tz_felt *master_sk, uint32_t j, uint64_t nonce)
{
    static const char label[] = "tzel-deposit-blind";
    uint8_t jb[4], nb[8];
    tz_put_u32le(jb, j);
    tz_put_u64le(nb, nonce);
    tz_hash_part parts[4] = {
        {label, sizeof label - 1}, {master_sk->b, 32}, {jb, 4}, {nb, 8}};
    tz_hash_parts(out, NULL, parts, 4);
}

void tz_account_id(tz_felt *out, const void *s, size_t len)
{
    tz_hash(out, s, len);
}

void tz_default_auth_domain(tz_felt *out)
{
    static const char label[] = "tzel-auth-domain-local-dev-v1";
    tz_hash(out, label, sizeof label - 1);
}
