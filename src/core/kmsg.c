/* Kernel inbox messages: encoder and strict decoder (kmsg.h). The decoder
 * parses the whole message with borrowed pointers into the input first and
 * copies the proof out only once everything is known to be well formed. */
#include "core/kmsg.h"

#include <stdlib.h>
#include <string.h>

#include "core/wire.h"

/* The reference kernel's caps on the dyn wrappers, in bytes. */
#define CAP_ENC_DYN (2 * TZ_KEM_CT_BYTES + TZ_NOTE_NONCE_BYTES + TZ_NOTE_DATA_BYTES + \
                     TZ_NOTE_OUT_BYTES + 32)                       /* 3,485 */
#define CAP_PROOF_DYN ((size_t)TZ_KMSG_MAX_PROOF_BYTES + TZ_KMSG_MAX_PREIMAGE * 64 + 4096)
#define CAP_NF_DYN ((size_t)256 * 1024)
#define CAP_TRANSFER_DYN (5 * 32 + CAP_PROOF_DYN + 3 * CAP_ENC_DYN + 65536)
#define CAP_UNSHIELD_DYN (4 * 32 + CAP_PROOF_DYN + 2 * CAP_ENC_DYN + 65536)
#define CAP_DAL_LIST_DYN ((size_t)64 * 1024)
#define CAP_DAL_ITEMS_DYN 256

_Static_assert(CAP_DAL_ITEMS_DYN / TZ_KMSG_DAL_CHUNK_BYTES == TZ_KMSG_MAX_DAL_CHUNKS,
               "15 chunk pointers fit in the 256-byte list");
_Static_assert(CAP_ENC_DYN >= TZ_ENC_NOTE_BYTES, "a note fits its dyn cap");

/* ---- UTF-8 ---------------------------------------------------------- */

bool tz_kmsg_utf8_valid(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0; /* no overlong */
            if (c == 0xED)
                hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90; /* no overlong */
            if (c == 0xF4)
                hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += n + 1;
    }
    return true;
}

const char *tz_kmsg_kind_name(int kind)
{
    switch (kind) {
    case TZ_KMSG_SHIELD: return "shield";
    case TZ_KMSG_TRANSFER: return "transfer";
    case TZ_KMSG_UNSHIELD: return "unshield";
    case TZ_KMSG_DAL_POINTER: return "dal_pointer";
    default: return NULL;
    }
}

tz_kmsg_proof *tz_kmsg_proof_of(tz_kmsg *m)
{
    if (!m)
        return NULL;
    switch (m->kind) {
    case TZ_KMSG_SHIELD: return &m->u.shield.proof;
    case TZ_KMSG_TRANSFER: return &m->u.transfer.proof;
    case TZ_KMSG_UNSHIELD: return &m->u.unshield.proof;
    default: return NULL;
    }
}

void tz_kmsg_free(tz_kmsg *m) { tz_kmsg_proof_free(tz_kmsg_proof_of(m)); }

void tz_kmsg_proof_free(tz_kmsg_proof *p)
{
    if (!p)
        return;
    free(p->bytes);
    free(p->preimage);
    p->bytes = NULL;
    p->preimage = NULL;
    p->len = 0;
    p->n_preimage = 0;
}

/* ---- sizes and checks shared by the encoder ------------------------- */

static size_t proof_body_len(const tz_kmsg_proof *p) { return 8 + p->len + 32 * p->n_preimage; }
static size_t nf_list_len(size_t n) { return 4 + 4 + 32 * n; }
#define ENC_LEN (4 + TZ_ENC_NOTE_BYTES)

static tz_status check_proof(const tz_kmsg_proof *p, tz_error *err)
{
    if (p->len > TZ_KMSG_MAX_PROOF_BYTES || (p->len && !p->bytes))
        return tz_error_set(err, TZ_EINVAL, "kernel message: proof of %zu bytes (cap %u)", p->len,
                            TZ_KMSG_MAX_PROOF_BYTES);
    if (p->n_preimage > TZ_KMSG_MAX_PREIMAGE || (p->n_preimage && !p->preimage))
        return tz_error_set(err, TZ_EINVAL, "kernel message: output preimage of %zu felts (cap %d)",
                            p->n_preimage, TZ_KMSG_MAX_PREIMAGE);
    return TZ_OK;
}

static tz_status check_nf(size_t n, tz_error *err)
{
    if (n < 1 || n > TZ_KMSG_MAX_INPUTS)
        return tz_error_set(err, TZ_EINVAL, "kernel message: %zu nullifiers (1..%d)", n,
                            TZ_KMSG_MAX_INPUTS);
    return TZ_OK;
}

static tz_status check_tag(const tz_enc_note *e, const char *what, tz_error *err)
{
    if (e->tag >= TZ_NOTE_TAG_LIMIT)
        return tz_error_set(err, TZ_EINVAL, "kernel message: %s: detection tag %u >= 2^10", what,
                            e->tag);
    return TZ_OK;
}

/* Validates *m and returns its encoded size through *len. */
static tz_status check_and_size(const tz_kmsg *m, size_t *len, tz_error *err)
{
    tz_status rc;
    size_t n = 3;
    if (!m)
        return tz_error_set(err, TZ_EINVAL, "kernel message: NULL");
    switch (m->kind) {
    case TZ_KMSG_SHIELD: {
        const tz_kmsg_shield *s = &m->u.shield;
        if ((rc = check_proof(&s->proof, err)) ||
            (rc = check_tag(&s->client_enc, "client note", err)) ||
            (rc = check_tag(&s->producer_enc, "producer note", err)))
            return rc;
        n += 32 + 24 + 4 + proof_body_len(&s->proof) + 2 * (32 + TZ_ENC_NOTE_BYTES);
        break;
    }
    case TZ_KMSG_TRANSFER: {
        const tz_kmsg_transfer *t = &m->u.transfer;
        if ((rc = check_nf(t->n_nf, err)) || (rc = check_proof(&t->proof, err)))
            return rc;
        for (int i = 0; i < 3; i++)
            if ((rc = check_tag(&t->enc[i], "output note", err)))
                return rc;
        n += 4 + 32 + nf_list_len(t->n_nf) + 8 + 96 + 4 + proof_body_len(&t->proof) + 3 * ENC_LEN;
        break;
    }
    case TZ_KMSG_UNSHIELD: {
        const tz_kmsg_unshield *u = &m->u.unshield;
        if ((rc = check_nf(u->n_nf, err)) || (rc = check_proof(&u->proof, err)) ||
            (rc = check_tag(&u->enc_fee, "fee note", err)) ||
            (u->has_enc_change && (rc = check_tag(&u->enc_change, "change note", err))))
            return rc;
        if (u->recipient_len > TZ_KMSG_MAX_RECIPIENT_BYTES ||
            !tz_kmsg_utf8_valid(u->recipient, u->recipient_len))
            return tz_error_set(err, TZ_EINVAL,
                                "kernel message: recipient of %zu bytes is not UTF-8 of at "
                                "most %d bytes",
                                u->recipient_len, TZ_KMSG_MAX_RECIPIENT_BYTES);
        n += 4 + 32 + nf_list_len(u->n_nf) + 16 + 4 + u->recipient_len + 32 + 4 +
             proof_body_len(&u->proof) + 1 + (u->has_enc_change ? ENC_LEN : 0) + 32 + ENC_LEN;
        break;
    }
    case TZ_KMSG_DAL_POINTER: {
        const tz_kmsg_dal_pointer *d = &m->u.dal;
        if (d->kind > TZ_KMSG_DAL_CONFIGURE_BRIDGE)
            return tz_error_set(err, TZ_EINVAL, "kernel message: DAL payload kind %u", d->kind);
        if (d->n_chunks < 1 || d->n_chunks > TZ_KMSG_MAX_DAL_CHUNKS)
            return tz_error_set(err, TZ_EINVAL, "kernel message: %zu DAL chunks (1..%d)",
                                d->n_chunks, TZ_KMSG_MAX_DAL_CHUNKS);
        n += 1 + 8 + TZ_KMSG_DAL_CHUNK_BYTES * d->n_chunks + 32 + 8;
        break;
    }
    default:
        return tz_error_set(err, TZ_EINVAL, "kernel message: unknown kind %d", (int)m->kind);
    }
    *len = n;
    return TZ_OK;
}

size_t tz_kmsg_encoded_len(const tz_kmsg *m)
{
    size_t n = 0;
    return check_and_size(m, &n, NULL) == TZ_OK ? n : 0;
}

/* ---- writer ---------------------------------------------------------- */

typedef struct wr {
    uint8_t *p;
    bool bad; /* a note refused to encode (cannot happen after the checks) */
} wr;

static void put(wr *w, const void *src, size_t n)
{
    if (n)
        memcpy(w->p, src, n);
    w->p += n;
}

static void put_u8(wr *w, uint8_t v) { *w->p++ = v; }

static void put_u32be(wr *w, size_t v)
{
    w->p[0] = (uint8_t)(v >> 24);
    w->p[1] = (uint8_t)(v >> 16);
    w->p[2] = (uint8_t)(v >> 8);
    w->p[3] = (uint8_t)v;
    w->p += 4;
}

static void put_u64(wr *w, uint64_t v)
{
    tz_put_u64le(w->p, v);
    w->p += 8;
}

static void put_felt(wr *w, const tz_felt *f) { put(w, f->b, TZ_FELT_BYTES); }

static void put_note(wr *w, const tz_enc_note *e)
{
    if (tz_wire_encode_enc_note(w->p, e) != TZ_OK)
        w->bad = true;
    w->p += TZ_ENC_NOTE_BYTES;
}

static void put_enc(wr *w, const tz_enc_note *e)
{
    put_u32be(w, TZ_ENC_NOTE_BYTES);
    put_note(w, e);
}

static void put_proof(wr *w, const tz_kmsg_proof *p)
{
    put_u32be(w, proof_body_len(p));
    put_u32be(w, p->len);
    put(w, p->bytes, p->len);
    put_u32be(w, p->n_preimage);
    for (size_t i = 0; i < p->n_preimage; i++)
        put_felt(w, &p->preimage[i]);
}

static void put_nfs(wr *w, const tz_felt *nf, size_t n)
{
    put_u32be(w, 4 + 32 * n);
    put_u32be(w, 32 * n);
    for (size_t i = 0; i < n; i++)
        put_felt(w, &nf[i]);
}

tz_status tz_kmsg_encode(const tz_kmsg *m, uint8_t **out, size_t *out_len, tz_error *err)
{
    size_t total = 0;
    tz_status rc = check_and_size(m, &total, err);
    if (rc)
        return rc;
    uint8_t *buf = malloc(total);
    if (!buf)
        return tz_error_set(err, TZ_ENOMEM, "kernel message: cannot allocate %zu bytes", total);
    wr w = {buf, false};
    tz_put_u16le(w.p, TZ_KMSG_VERSION);
    w.p += 2;
    put_u8(&w, (uint8_t)m->kind);
    switch (m->kind) {
    case TZ_KMSG_SHIELD: {
        const tz_kmsg_shield *s = &m->u.shield;
        put_felt(&w, &s->pubkey_hash);
        put_u64(&w, s->fee);
        put_u64(&w, s->v);
        put_u64(&w, s->producer_fee);
        put_proof(&w, &s->proof);
        put_felt(&w, &s->client_cm);
        put_note(&w, &s->client_enc);
        put_felt(&w, &s->producer_cm);
        put_note(&w, &s->producer_enc);
        break;
    }
    case TZ_KMSG_TRANSFER: {
        const tz_kmsg_transfer *t = &m->u.transfer;
        put_u32be(&w, total - 7);
        put_felt(&w, &t->root);
        put_nfs(&w, t->nf, t->n_nf);
        put_u64(&w, t->fee);
        for (int i = 0; i < 3; i++)
            put_felt(&w, &t->cm[i]);
        put_proof(&w, &t->proof);
        for (int i = 0; i < 3; i++)
            put_enc(&w, &t->enc[i]);
        break;
    }
    case TZ_KMSG_UNSHIELD: {
        const tz_kmsg_unshield *u = &m->u.unshield;
        put_u32be(&w, total - 7);
        put_felt(&w, &u->root);
        put_nfs(&w, u->nf, u->n_nf);
        put_u64(&w, u->v_pub);
        put_u64(&w, u->fee);
        put_u32be(&w, u->recipient_len);
        put(&w, u->recipient, u->recipient_len);
        put_felt(&w, &u->cm_change);
        put_proof(&w, &u->proof);
        if (u->has_enc_change) {
            put_u8(&w, 0xFF);
            put_enc(&w, &u->enc_change);
        } else {
            put_u8(&w, 0x00);
        }
        put_felt(&w, &u->cm_fee);
        put_enc(&w, &u->enc_fee);
        break;
    }
    case TZ_KMSG_DAL_POINTER: {
        const tz_kmsg_dal_pointer *d = &m->u.dal;
        put_u8(&w, d->kind);
        put_u32be(&w, 4 + TZ_KMSG_DAL_CHUNK_BYTES * d->n_chunks);
        put_u32be(&w, TZ_KMSG_DAL_CHUNK_BYTES * d->n_chunks);
        for (size_t i = 0; i < d->n_chunks; i++) {
            put_u64(&w, d->chunks[i].published_level);
            put_u8(&w, d->chunks[i].slot_index);
            put_u64(&w, d->chunks[i].payload_len);
        }
        put_felt(&w, &d->payload_hash);
        put_u64(&w, d->payload_len);
        break;
    }
    }
    if (w.bad || (size_t)(w.p - buf) != total) { /* the size and the writer disagree */
        free(buf);
        return tz_error_set(err, TZ_EINVAL, "kernel message: internal encoding error");
    }
    *out = buf;
    *out_len = total;
    return TZ_OK;
}

/* ---- reader ---------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p;
    size_t left;
} rd;

/* The proof as found in the input, copied out only on success. */
typedef struct proof_ref {
    const uint8_t *bytes;
    size_t len;
    const uint8_t *preimage;
    size_t n_preimage;
} proof_ref;

static tz_status fail(tz_error *err, const char *what, const char *why)
{
    return tz_error_set(err, TZ_EINVAL, "kernel message: %s: %s", what, why);
}

static tz_status take(rd *r, size_t n, const uint8_t **out, const char *what, tz_error *err)
{
    if (r->left < n)
        return fail(err, what, "truncated");
    *out = r->p;
    r->p += n;
    r->left -= n;
    return TZ_OK;
}

static tz_status get_u8(rd *r, uint8_t *v, const char *what, tz_error *err)
{
    const uint8_t *p = NULL;
    tz_status rc = take(r, 1, &p, what, err);
    if (!rc)
        *v = p[0];
    return rc;
}

static tz_status get_u32be(rd *r, uint32_t *v, const char *what, tz_error *err)
{
    const uint8_t *p = NULL;
    tz_status rc = take(r, 4, &p, what, err);
    if (!rc)
        *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return rc;
}

static tz_status get_u64(rd *r, uint64_t *v, const char *what, tz_error *err)
{
    const uint8_t *p = NULL;
    tz_status rc = take(r, 8, &p, what, err);
    if (!rc)
        *v = tz_get_u64le(p);
    return rc;
}

static tz_status get_felt(rd *r, tz_felt *f, const char *what, tz_error *err)
{
    const uint8_t *p = NULL;
    tz_status rc = take(r, TZ_FELT_BYTES, &p, what, err);
    if (!rc)
        memcpy(f->b, p, TZ_FELT_BYTES);
    return rc;
}

/* A dyn of at most `cap` bytes: *inner covers its content, r moves past. */
static tz_status get_dyn(rd *r, size_t cap, rd *inner, const char *what, tz_error *err)
{
    uint32_t n = 0;
    const uint8_t *p = NULL;
    tz_status rc = get_u32be(r, &n, what, err);
    if (rc)
        return rc;
    if (n > cap)
        return tz_error_set(err, TZ_EINVAL, "kernel message: %s: length %u over its cap %zu", what,
                            n, cap);
    if ((rc = take(r, n, &p, what, err)))
        return rc;
    inner->p = p;
    inner->left = n;
    return TZ_OK;
}

static tz_status end(const rd *r, const char *what, tz_error *err)
{
    if (r->left)
        return tz_error_set(err, TZ_EINVAL, "kernel message: %s: %zu trailing bytes", what,
                            r->left);
    return TZ_OK;
}

static tz_status get_note(rd *r, tz_enc_note *e, const char *what, tz_error *err)
{
    const uint8_t *p = NULL;
    tz_status rc = take(r, TZ_ENC_NOTE_BYTES, &p, what, err);
    if (rc)
        return rc;
    if (tz_wire_decode_enc_note(e, p, TZ_ENC_NOTE_BYTES) != TZ_OK)
        return fail(err, what, "detection tag >= 2^10");
    return TZ_OK;
}

static tz_status get_enc(rd *r, tz_enc_note *e, const char *what, tz_error *err)
{
    rd in;
    tz_status rc = get_dyn(r, CAP_ENC_DYN, &in, what, err);
    if (rc)
        return rc;
    if (in.left != TZ_ENC_NOTE_BYTES)
        return fail(err, what, "not an EncryptedNote of 3,455 bytes");
    return get_note(&in, e, what, err);
}

static tz_status get_proof(rd *r, proof_ref *pr, tz_error *err)
{
    rd in;
    uint32_t len = 0, count = 0;
    tz_status rc;
    if ((rc = get_dyn(r, CAP_PROOF_DYN, &in, "proof", err)) ||
        (rc = get_u32be(&in, &len, "proof length", err)))
        return rc;
    if (len > TZ_KMSG_MAX_PROOF_BYTES)
        return fail(err, "proof length", "over 8 MiB");
    if ((rc = take(&in, len, &pr->bytes, "proof bytes", err)) ||
        (rc = get_u32be(&in, &count, "output preimage count", err)))
        return rc;
    if (count > TZ_KMSG_MAX_PREIMAGE)
        return fail(err, "output preimage count", "over 1024");
    if ((rc = take(&in, (size_t)count * 32, &pr->preimage, "output preimage", err)))
        return rc;
    pr->len = len;
    pr->n_preimage = count;
    return end(&in, "proof", err);
}

static tz_status get_nfs(rd *r, tz_felt nf[TZ_KMSG_MAX_INPUTS], size_t *n_nf, tz_error *err)
{
    rd outer, list;
    tz_status rc;
    if ((rc = get_dyn(r, CAP_NF_DYN, &outer, "nullifiers", err)) ||
        (rc = get_dyn(&outer, SIZE_MAX, &list, "nullifier list", err)) ||
        (rc = end(&outer, "nullifiers", err)))
        return rc;
    if (list.left % 32)
        return fail(err, "nullifier list", "not a whole number of felts");
    size_t n = list.left / 32;
    if (n < 1 || n > TZ_KMSG_MAX_INPUTS)
        return tz_error_set(err, TZ_EINVAL, "kernel message: %zu nullifiers (1..%d)", n,
                            TZ_KMSG_MAX_INPUTS);
    for (size_t i = 0; i < n; i++)
        if ((rc = get_felt(&list, &nf[i], "nullifier", err)))
            return rc;
    *n_nf = n;
    return TZ_OK;
}

static tz_status dec_shield(rd *r, tz_kmsg_shield *s, proof_ref *pr, tz_error *err)
{
    tz_status rc;
    if ((rc = get_felt(r, &s->pubkey_hash, "pubkey_hash", err)) ||
        (rc = get_u64(r, &s->fee, "fee", err)) || (rc = get_u64(r, &s->v, "v", err)) ||
        (rc = get_u64(r, &s->producer_fee, "producer_fee", err)) ||
        (rc = get_proof(r, pr, err)) || (rc = get_felt(r, &s->client_cm, "client_cm", err)) ||
        (rc = get_note(r, &s->client_enc, "client note", err)) ||
        (rc = get_felt(r, &s->producer_cm, "producer_cm", err)) ||
        (rc = get_note(r, &s->producer_enc, "producer note", err)))
        return rc;
    return TZ_OK;
}

static tz_status dec_transfer(rd *r, tz_kmsg_transfer *t, proof_ref *pr, tz_error *err)
{
    rd b;
    tz_status rc;
    if ((rc = get_dyn(r, CAP_TRANSFER_DYN, &b, "transfer", err)) ||
        (rc = get_felt(&b, &t->root, "root", err)) || (rc = get_nfs(&b, t->nf, &t->n_nf, err)) ||
        (rc = get_u64(&b, &t->fee, "fee", err)))
        return rc;
    for (int i = 0; i < 3; i++)
        if ((rc = get_felt(&b, &t->cm[i], "output cm", err)))
            return rc;
    if ((rc = get_proof(&b, pr, err)))
        return rc;
    for (int i = 0; i < 3; i++)
        if ((rc = get_enc(&b, &t->enc[i], "output note", err)))
            return rc;
    return end(&b, "transfer", err);
}

static tz_status dec_unshield(rd *r, tz_kmsg_unshield *u, proof_ref *pr, tz_error *err)
{
    rd b;
    uint32_t rlen = 0;
    const uint8_t *rbytes = NULL;
    uint8_t opt = 0;
    tz_status rc;
    if ((rc = get_dyn(r, CAP_UNSHIELD_DYN, &b, "unshield", err)) ||
        (rc = get_felt(&b, &u->root, "root", err)) || (rc = get_nfs(&b, u->nf, &u->n_nf, err)) ||
        (rc = get_u64(&b, &u->v_pub, "v_pub", err)) || (rc = get_u64(&b, &u->fee, "fee", err)) ||
        (rc = get_u32be(&b, &rlen, "recipient length", err)))
        return rc;
    if (rlen > TZ_KMSG_MAX_RECIPIENT_BYTES)
        return fail(err, "recipient length", "over 1024 bytes");
    if ((rc = take(&b, rlen, &rbytes, "recipient", err)))
        return rc;
    if (!tz_kmsg_utf8_valid((const char *)rbytes, rlen))
        return fail(err, "recipient", "not UTF-8");
    memcpy(u->recipient, rbytes, rlen);
    u->recipient[rlen] = '\0';
    u->recipient_len = rlen;
    if ((rc = get_felt(&b, &u->cm_change, "cm_change", err)) || (rc = get_proof(&b, pr, err)) ||
        (rc = get_u8(&b, &opt, "change note option", err)))
        return rc;
    if (opt != 0x00 && opt != 0xFF)
        return fail(err, "change note option", "neither 0x00 nor 0xFF");
    u->has_enc_change = opt == 0xFF;
    if (u->has_enc_change && (rc = get_enc(&b, &u->enc_change, "change note", err)))
        return rc;
    if (!u->has_enc_change)
        memset(&u->enc_change, 0, sizeof u->enc_change);
    if ((rc = get_felt(&b, &u->cm_fee, "cm_fee", err)) ||
        (rc = get_enc(&b, &u->enc_fee, "fee note", err)))
        return rc;
    return end(&b, "unshield", err);
}

static tz_status dec_dal(rd *r, tz_kmsg_dal_pointer *d, tz_error *err)
{
    rd outer, list;
    tz_status rc;
    if ((rc = get_u8(r, &d->kind, "DAL payload kind", err)))
        return rc;
    if (d->kind > TZ_KMSG_DAL_CONFIGURE_BRIDGE)
        return fail(err, "DAL payload kind", "unknown");
    if ((rc = get_dyn(r, CAP_DAL_LIST_DYN, &outer, "DAL chunks", err)) ||
        (rc = get_dyn(&outer, CAP_DAL_ITEMS_DYN, &list, "DAL chunk list", err)) ||
        (rc = end(&outer, "DAL chunks", err)))
        return rc;
    if (list.left == 0 || list.left % TZ_KMSG_DAL_CHUNK_BYTES)
        return fail(err, "DAL chunk list", "empty or not a whole number of chunk pointers");
    d->n_chunks = list.left / TZ_KMSG_DAL_CHUNK_BYTES;
    for (size_t i = 0; i < d->n_chunks; i++) {
        tz_kmsg_dal_chunk *c = &d->chunks[i];
        if ((rc = get_u64(&list, &c->published_level, "DAL chunk level", err)) ||
            (rc = get_u8(&list, &c->slot_index, "DAL chunk slot", err)) ||
            (rc = get_u64(&list, &c->payload_len, "DAL chunk length", err)))
            return rc;
    }
    if ((rc = get_felt(r, &d->payload_hash, "DAL payload hash", err)) ||
        (rc = get_u64(r, &d->payload_len, "DAL payload length", err)))
        return rc;
    return TZ_OK;
}

tz_status tz_kmsg_decode(tz_kmsg *out, const uint8_t *buf, size_t len, tz_error *err)
{
    const uint8_t *p = NULL;
    uint8_t tag = 0;
    proof_ref pr = {0};
    tz_status rc;
    if (!out || (!buf && len))
        return tz_error_set(err, TZ_EINVAL, "kernel message: NULL argument");
    rd r = {buf, len};
    if ((rc = take(&r, 2, &p, "version", err)))
        return rc;
    if (tz_get_u16le(p) != TZ_KMSG_VERSION)
        return tz_error_set(err, TZ_EINVAL, "kernel message: version %u, expected %d",
                            tz_get_u16le(p), TZ_KMSG_VERSION);
    if ((rc = get_u8(&r, &tag, "tag", err)))
        return rc;

    tz_kmsg *m = malloc(sizeof *m); /* ~14 KB: kept off the stack */
    if (!m)
        return tz_error_set(err, TZ_ENOMEM, "kernel message: out of memory");
    memset(m, 0, sizeof *m);
    m->kind = (tz_kmsg_kind)tag;
    switch (tag) {
    case TZ_KMSG_SHIELD: rc = dec_shield(&r, &m->u.shield, &pr, err); break;
    case TZ_KMSG_TRANSFER: rc = dec_transfer(&r, &m->u.transfer, &pr, err); break;
    case TZ_KMSG_UNSHIELD: rc = dec_unshield(&r, &m->u.unshield, &pr, err); break;
    case TZ_KMSG_DAL_POINTER: rc = dec_dal(&r, &m->u.dal, err); break;
    case 0:
    case 1:
        rc = tz_error_set(err, TZ_EINVAL,
                          "kernel message: configuration message (tag %u) not supported", tag);
        break;
    default: rc = tz_error_set(err, TZ_EINVAL, "kernel message: unknown tag %u", tag); break;
    }
    if (!rc)
        rc = end(&r, "message", err);

    tz_kmsg_proof *dst = rc ? NULL : tz_kmsg_proof_of(m);
    if (dst) {
        dst->bytes = malloc(pr.len ? pr.len : 1);
        dst->preimage = malloc(pr.n_preimage ? pr.n_preimage * sizeof(tz_felt) : 1);
        if (!dst->bytes || !dst->preimage) {
            tz_kmsg_free(m);
            rc = tz_error_set(err, TZ_ENOMEM, "kernel message: cannot copy a proof of %zu bytes",
                              pr.len);
        } else {
            if (pr.len)
                memcpy(dst->bytes, pr.bytes, pr.len);
            for (size_t i = 0; i < pr.n_preimage; i++)
                memcpy(dst->preimage[i].b, pr.preimage + 32 * i, 32);
            dst->len = pr.len;
            dst->n_preimage = pr.n_preimage;
        }
    }
    if (!rc)
        memcpy(out, m, sizeof *m);
    free(m);
    return rc;
}
