/* Note encryption, detection and acceptance on top of kem.c, commit.c,
 * BLAKE2s and libsodium's ChaCha20-Poly1305 (IETF). */
#include "core/note.h"

#include <sodium.h>
#include <string.h>

#include "core/commit.h"
#include "core/hash.h"

_Static_assert(TZ_NOTE_DATA_BYTES == TZ_NOTE_PLAIN_BYTES + crypto_aead_chacha20poly1305_IETF_ABYTES,
               "note AEAD size");
_Static_assert(TZ_NOTE_OUT_BYTES == TZ_NOTE_OUT_PLAIN_BYTES + crypto_aead_chacha20poly1305_IETF_ABYTES,
               "outgoing AEAD size");
_Static_assert(TZ_NOTE_NONCE_BYTES == crypto_aead_chacha20poly1305_IETF_NPUBBYTES, "nonce size");
_Static_assert(crypto_aead_chacha20poly1305_IETF_KEYBYTES == TZ_FELT_BYTES, "key size");

tz_status tz_note_receiver_init(tz_note_receiver *r, const tz_keys *keys, uint32_t j,
                                const tz_felt *auth_root)
{
    if (!r)
        return TZ_EINVAL;
    sodium_memzero(r, sizeof *r);
    if (!keys || !auth_root)
        return TZ_EINVAL;

    tz_addr_keys ak;
    tz_addr_keys_derive(&ak, keys, j);
    r->index = j;
    r->d_j = ak.d_j;
    r->auth_root = *auth_root;
    r->auth_pub_seed = ak.auth_pub_seed;
    r->nk_tag = ak.nk_tag;
    r->nk_spend = ak.nk_spend;
    tz_owner_tag(&r->owner_tag, &r->auth_root, &r->auth_pub_seed, &r->nk_tag);
    tz_kem_keygen(&r->kv, ak.seed_v);
    tz_kem_keygen(&r->kd, ak.seed_d);
    tz_note_receiver_ready(r);
    tz_addr_keys_wipe(&ak);
    return TZ_OK;
}

void tz_note_receiver_ready(tz_note_receiver *r)
{
    tz_kem_detect_key_init(&r->kd_ready, r->kd.dk);
    r->kd_ready_set = true;
}

void tz_note_receiver_wipe(tz_note_receiver *r)
{
    if (r)
        sodium_memzero(r, sizeof *r);
}

void tz_note_receiver_address(const tz_note_receiver *r, tz_payment_address *out)
{
    out->d_j = r->d_j;
    out->auth_root = r->auth_root;
    out->auth_pub_seed = r->auth_pub_seed;
    out->nk_tag = r->nk_tag;
    memcpy(out->ek_v, r->kv.ek, TZ_KEM_EK_BYTES);
    memcpy(out->ek_d, r->kd.ek, TZ_KEM_EK_BYTES);
}

uint16_t tz_note_tag_from_ss(const uint8_t ss_d[TZ_KEM_SS_BYTES])
{
    tz_felt t;
    tz_hash(&t, ss_d, TZ_KEM_SS_BYTES);
    uint16_t tag = (uint16_t)((t.b[0] | ((unsigned)t.b[1] << 8)) & (TZ_NOTE_TAG_LIMIT - 1));
    sodium_memzero(&t, sizeof t);
    return tag;
}

bool tz_note_detect(const tz_note_receiver *r, const tz_enc_note *n)
{
    uint8_t ss[TZ_KEM_SS_BYTES];
    tz_kem_decaps_detect(ss, n->ct_d, r->kd.dk);
    uint16_t diff = (uint16_t)(tz_note_tag_from_ss(ss) ^ n->tag);
    sodium_memzero(ss, sizeof ss);
    /* constant time: 0 -> 1, anything else -> 0 */
    uint32_t d = diff;
    return (bool)(((d - 1u) >> 31) & 1u);
}

bool tz_note_detect_ready(const tz_note_receiver *r, const tz_kem_ct_ready *ct_d, uint16_t tag)
{
    uint8_t ss[TZ_KEM_SS_BYTES];
    if (r->kd_ready_set)
        tz_kem_decaps_detect_key(ss, ct_d, &r->kd_ready);
    else
        tz_kem_decaps_detect_ready(ss, ct_d, r->kd.dk);
    uint16_t diff = (uint16_t)(tz_note_tag_from_ss(ss) ^ tag);
    sodium_memzero(ss, sizeof ss);
    uint32_t d = diff;
    return (bool)(((d - 1u) >> 31) & 1u);
}

/* AEAD key = H(ss_v) as a truncated felt. */
static void note_key(tz_felt *key, const uint8_t ss_v[TZ_KEM_SS_BYTES])
{
    tz_hash(key, ss_v, TZ_KEM_SS_BYTES);
}

static void encode_plain(uint8_t pt[TZ_NOTE_PLAIN_BYTES], uint64_t v, const tz_felt *rseed,
                         const uint8_t *memo)
{
    tz_put_u64le(pt, v);
    memcpy(pt + 8, rseed->b, 32);
    if (memo)
        memcpy(pt + 40, memo, TZ_NOTE_MEMO_BYTES);
    else
        tz_note_memo_pad(pt + 40, NULL, 0);
}

void tz_note_memo_pad(uint8_t memo[TZ_NOTE_MEMO_BYTES], const uint8_t *data, size_t len)
{
    memset(memo, 0, TZ_NOTE_MEMO_BYTES);
    if (!data) {
        memo[0] = TZ_NOTE_DEFAULT_MEMO_BYTE;
        return;
    }
    if (len > TZ_NOTE_MEMO_BYTES)
        len = TZ_NOTE_MEMO_BYTES;
    if (len)
        memcpy(memo, data, len);
}

void tz_note_seal(uint8_t nonce[TZ_NOTE_NONCE_BYTES], uint8_t data[TZ_NOTE_DATA_BYTES],
                  const uint8_t ss_v[TZ_KEM_SS_BYTES], uint64_t v, const tz_felt *rseed,
                  const uint8_t *memo)
{
    uint8_t pt[TZ_NOTE_PLAIN_BYTES];
    uint8_t digest[32];
    tz_felt key;
    encode_plain(pt, v, rseed, memo);
    note_key(&key, ss_v);
    tz_hash_part parts[2] = {{key.b, sizeof key.b}, {pt, sizeof pt}};
    tz_blake2s(digest, TZ_P_MNON, parts, 2);
    memcpy(nonce, digest, TZ_NOTE_NONCE_BYTES);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(data, &clen, pt, sizeof pt, NULL, 0, NULL, nonce,
                                              key.b);
    sodium_memzero(pt, sizeof pt);
    sodium_memzero(digest, sizeof digest);
    sodium_memzero(&key, sizeof key);
}

tz_status tz_note_unseal(tz_note_plain *out, const uint8_t ss_v[TZ_KEM_SS_BYTES],
                         const uint8_t nonce[TZ_NOTE_NONCE_BYTES],
                         const uint8_t data[TZ_NOTE_DATA_BYTES])
{
    uint8_t pt[TZ_NOTE_PLAIN_BYTES];
    tz_felt key;
    unsigned long long plen = 0;
    note_key(&key, ss_v);
    int rc = crypto_aead_chacha20poly1305_ietf_decrypt(pt, &plen, NULL, data, TZ_NOTE_DATA_BYTES,
                                                       NULL, 0, nonce, key.b);
    sodium_memzero(&key, sizeof key);
    if (rc != 0 || plen != sizeof pt) {
        sodium_memzero(pt, sizeof pt);
        sodium_memzero(out, sizeof *out);
        return TZ_ECRYPTO;
    }
    out->v = tz_get_u64le(pt);
    memcpy(out->rseed.b, pt + 8, 32);
    memcpy(out->memo, pt + 40, TZ_NOTE_MEMO_BYTES);
    sodium_memzero(pt, sizeof pt);
    return TZ_OK;
}

tz_status tz_note_open(const tz_note_receiver *r, const tz_felt *cm, const tz_enc_note *n,
                       tz_note_plain *out)
{
    uint8_t ss[TZ_KEM_SS_BYTES];
    tz_kem_decaps(ss, n->ct_v, r->kv.dk);
    tz_status st = tz_note_unseal(out, ss, n->nonce, n->encrypted_data);
    sodium_memzero(ss, sizeof ss);
    if (st != TZ_OK)
        return st;
    tz_felt got;
    tz_note_cm_from_rseed(&got, &r->d_j, out->v, &out->rseed, &r->owner_tag);
    if (!tz_felt_eq(&got, cm)) {
        sodium_memzero(out, sizeof *out);
        return TZ_EMISMATCH;
    }
    return TZ_OK;
}

tz_status tz_note_trial(const tz_note_receiver *rs, size_t n_rs, const tz_published_note *pn,
                        size_t *which, tz_note_plain *out)
{
    /* the ciphertext's half of every detection, once for all addresses */
    tz_kem_ct_ready ready;
    if (n_rs > 0)
        tz_kem_detect_prepare(&ready, pn->enc.ct_d);
    for (size_t i = 0; i < n_rs; i++) {
        if (!tz_note_detect_ready(&rs[i], &ready, pn->enc.tag))
            continue;
        if (tz_note_open(&rs[i], &pn->cm, &pn->enc, out) == TZ_OK) {
            if (which)
                *which = i;
            return TZ_OK;
        }
    }
    sodium_memzero(out, sizeof *out);
    return TZ_ENOTFOUND;
}

static void encode_outgoing(uint8_t pt[TZ_NOTE_OUT_PLAIN_BYTES], const tz_note_outgoing *o)
{
    pt[0] = o->role;
    tz_put_u64le(pt + 1, o->v);
    memcpy(pt + 9, o->rseed.b, 32);
    memcpy(pt + 41, o->d_j.b, 32);
    memcpy(pt + 73, o->auth_root.b, 32);
    memcpy(pt + 105, o->auth_pub_seed.b, 32);
    memcpy(pt + 137, o->nk_tag.b, 32);
}

static void outgoing_key_nonce(tz_felt *key, uint8_t nonce[TZ_NOTE_NONCE_BYTES],
                               const tz_felt *outgoing_seed, const tz_felt *cm)
{
    tz_hash_part kp[2] = {{outgoing_seed->b, 32}, {cm->b, 32}};
    tz_hash_parts(key, TZ_P_OVKK, kp, 2);
    uint8_t digest[32];
    tz_hash_part np[2] = {{key->b, 32}, {cm->b, 32}};
    tz_blake2s(digest, TZ_P_OVKN, np, 2);
    memcpy(nonce, digest, TZ_NOTE_NONCE_BYTES);
    sodium_memzero(digest, sizeof digest);
}

void tz_note_outgoing_encrypt(uint8_t ct[TZ_NOTE_OUT_BYTES], const tz_felt *outgoing_seed,
                              const tz_felt *cm, const tz_note_outgoing *pt)
{
    uint8_t buf[TZ_NOTE_OUT_PLAIN_BYTES];
    uint8_t nonce[TZ_NOTE_NONCE_BYTES];
    tz_felt key;
    encode_outgoing(buf, pt);
    outgoing_key_nonce(&key, nonce, outgoing_seed, cm);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(ct, &clen, buf, sizeof buf, NULL, 0, NULL, nonce,
                                              key.b);
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(&key, sizeof key);
}

const char *tz_out_role_name(uint8_t role)
{
    switch (role) {
    case TZ_OUT_SHIELD_OUTPUT: return "shield_output";
    case TZ_OUT_PRODUCER_FEE: return "producer_fee";
    case TZ_OUT_TRANSFER_RECIPIENT: return "transfer_recipient";
    case TZ_OUT_TRANSFER_CHANGE: return "transfer_change";
    case TZ_OUT_UNSHIELD_CHANGE: return "unshield_change";
    default: return NULL;
    }
}

tz_status tz_note_outgoing_decrypt(tz_note_outgoing *out, const tz_felt *outgoing_seed,
                                   const tz_felt *cm, const uint8_t ct[TZ_NOTE_OUT_BYTES])
{
    uint8_t buf[TZ_NOTE_OUT_PLAIN_BYTES];
    uint8_t nonce[TZ_NOTE_NONCE_BYTES];
    tz_felt key;
    unsigned long long plen = 0;
    tz_status st = TZ_OK;
    outgoing_key_nonce(&key, nonce, outgoing_seed, cm);
    int rc = crypto_aead_chacha20poly1305_ietf_decrypt(buf, &plen, NULL, ct, TZ_NOTE_OUT_BYTES,
                                                       NULL, 0, nonce, key.b);
    sodium_memzero(&key, sizeof key);
    if (rc != 0 || plen != sizeof buf) {
        st = TZ_ECRYPTO;
        goto done;
    }
    if (!tz_out_role_name(buf[0])) {
        st = TZ_EINVAL;
        goto done;
    }
    out->role = buf[0];
    out->v = tz_get_u64le(buf + 1);
    memcpy(out->rseed.b, buf + 9, 32);
    memcpy(out->d_j.b, buf + 41, 32);
    memcpy(out->auth_root.b, buf + 73, 32);
    memcpy(out->auth_pub_seed.b, buf + 105, 32);
    memcpy(out->nk_tag.b, buf + 137, 32);
    tz_felt otag, got;
    tz_owner_tag(&otag, &out->auth_root, &out->auth_pub_seed, &out->nk_tag);
    tz_note_cm_from_rseed(&got, &out->d_j, out->v, &out->rseed, &otag);
    if (!tz_felt_eq(&got, cm))
        st = TZ_EMISMATCH;
done:
    sodium_memzero(buf, sizeof buf);
    if (st != TZ_OK)
        sodium_memzero(out, sizeof *out);
    return st;
}

tz_status tz_note_encrypt_role(tz_enc_note *out, tz_felt *cm_out, const tz_payment_address *to,
                               uint64_t v, const tz_felt *rseed, const uint8_t *memo,
                               const uint8_t coins_d[32], const uint8_t coins_v[32],
                               const tz_felt *outgoing_seed, tz_out_role role)
{
    if (!out || !cm_out || !to || !rseed || !coins_d || !coins_v)
        return TZ_EINVAL;
    if (outgoing_seed && !tz_out_role_name((uint8_t)role))
        return TZ_EINVAL;

    uint8_t ss[TZ_KEM_SS_BYTES];
    tz_kem_encaps(out->ct_d, ss, to->ek_d, coins_d);
    out->tag = tz_note_tag_from_ss(ss);
    tz_kem_encaps(out->ct_v, ss, to->ek_v, coins_v);
    tz_note_seal(out->nonce, out->encrypted_data, ss, v, rseed, memo);
    sodium_memzero(ss, sizeof ss);

    tz_felt otag;
    tz_owner_tag(&otag, &to->auth_root, &to->auth_pub_seed, &to->nk_tag);
    tz_note_cm_from_rseed(cm_out, &to->d_j, v, rseed, &otag);

    if (outgoing_seed) {
        tz_note_outgoing o;
        o.role = (uint8_t)role;
        o.v = v;
        o.rseed = *rseed;
        o.d_j = to->d_j;
        o.auth_root = to->auth_root;
        o.auth_pub_seed = to->auth_pub_seed;
        o.nk_tag = to->nk_tag;
        tz_note_outgoing_encrypt(out->outgoing_ct, outgoing_seed, cm_out, &o);
        sodium_memzero(&o, sizeof o);
    } else {
        memset(out->outgoing_ct, 0, sizeof out->outgoing_ct);
    }
    return TZ_OK;
}

tz_status tz_note_encrypt(tz_enc_note *out, tz_felt *cm_out, const tz_payment_address *to,
                          uint64_t v, const tz_felt *rseed, const uint8_t *memo,
                          const uint8_t coins_d[32], const uint8_t coins_v[32],
                          const tz_felt *outgoing_seed)
{
    return tz_note_encrypt_role(out, cm_out, to, v, rseed, memo, coins_d, coins_v, outgoing_seed,
                                TZ_OUT_SHIELD_OUTPUT);
}
