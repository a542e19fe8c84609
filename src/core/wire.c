/* Fixed-size canonical encodings and their strict decoders (wire.h). */
#include "core/wire.h"

#include <string.h>

#include "core/felt.h"

_Static_assert(TZ_PAYMENT_ADDRESS_BYTES == 2496, "PaymentAddress is 2,496 bytes");
_Static_assert(TZ_ENC_NOTE_BYTES == TZ_ENC_NOTE_BYTES, "EncryptedNote is 3,455 bytes");
_Static_assert(TZ_PUBLISHED_NOTE_BYTES == TZ_PUBLISHED_NOTE_BYTES,
               "PublishedNote is 3,487 bytes");
_Static_assert(TZ_NOTE_MEMO_WIRE_BYTES == TZ_NOTE_MEMO_WIRE_BYTES, "NoteMemo is 3,495 bytes");

/* Sequential writer/reader over a buffer whose size the caller checked. */
static uint8_t *put(uint8_t *p, const void *src, size_t n)
{
    memcpy(p, src, n);
    return p + n;
}

static const uint8_t *get(void *dst, const uint8_t *p, size_t n)
{
    memcpy(dst, p, n);
    return p + n;
}

void tz_wire_encode_address(uint8_t out[TZ_PAYMENT_ADDRESS_BYTES], const tz_payment_address *a)
{
    uint8_t *p = out;
    p = put(p, a->d_j.b, TZ_FELT_BYTES);
    p = put(p, a->auth_root.b, TZ_FELT_BYTES);
    p = put(p, a->auth_pub_seed.b, TZ_FELT_BYTES);
    p = put(p, a->nk_tag.b, TZ_FELT_BYTES);
    p = put(p, a->ek_v, TZ_KEM_EK_BYTES);
    put(p, a->ek_d, TZ_KEM_EK_BYTES);
}

static void enc_note_put(uint8_t *p, const tz_enc_note *e)
{
    p = put(p, e->ct_d, TZ_KEM_CT_BYTES);
    tz_put_u16le(p, e->tag);
    p += 2;
    p = put(p, e->ct_v, TZ_KEM_CT_BYTES);
    p = put(p, e->nonce, TZ_NOTE_NONCE_BYTES);
    p = put(p, e->encrypted_data, TZ_NOTE_DATA_BYTES);
    put(p, e->outgoing_ct, TZ_NOTE_OUT_BYTES);
}

static void enc_note_get(tz_enc_note *e, const uint8_t *p)
{
    p = get(e->ct_d, p, TZ_KEM_CT_BYTES);
    e->tag = tz_get_u16le(p);
    p += 2;
    p = get(e->ct_v, p, TZ_KEM_CT_BYTES);
    p = get(e->nonce, p, TZ_NOTE_NONCE_BYTES);
    p = get(e->encrypted_data, p, TZ_NOTE_DATA_BYTES);
    get(e->outgoing_ct, p, TZ_NOTE_OUT_BYTES);
}

/* The tag of an encoded EncryptedNote starting at p. */
static uint16_t enc_note_tag(const uint8_t *p) { return tz_get_u16le(p + TZ_KEM_CT_BYTES); }

tz_status tz_wire_encode_enc_note(uint8_t out[TZ_ENC_NOTE_BYTES], const tz_enc_note *enc)
{
    if (enc->tag >= TZ_NOTE_TAG_LIMIT)
        return TZ_EINVAL;
    enc_note_put(out, enc);
    return TZ_OK;
}

tz_status tz_wire_encode_published_note(uint8_t out[TZ_PUBLISHED_NOTE_BYTES],
                                        const tz_published_note *pn)
{
    if (pn->enc.tag >= TZ_NOTE_TAG_LIMIT)
        return TZ_EINVAL;
    memcpy(out, pn->cm.b, TZ_FELT_BYTES);
    enc_note_put(out + TZ_FELT_BYTES, &pn->enc);
    return TZ_OK;
}

tz_status tz_wire_encode_note_memo(uint8_t out[TZ_NOTE_MEMO_WIRE_BYTES], const tz_note_memo *m)
{
    if (m->note.enc.tag >= TZ_NOTE_TAG_LIMIT)
        return TZ_EINVAL;
    tz_put_u64le(out, m->index);
    memcpy(out + 8, m->note.cm.b, TZ_FELT_BYTES);
    enc_note_put(out + 8 + TZ_FELT_BYTES, &m->note.enc);
    return TZ_OK;
}

tz_status tz_wire_decode_address(tz_payment_address *out, const uint8_t *buf, size_t len)
{
    if (!buf || len != TZ_PAYMENT_ADDRESS_BYTES)
        return TZ_EINVAL;
    const uint8_t *p = buf;
    p = get(out->d_j.b, p, TZ_FELT_BYTES);
    p = get(out->auth_root.b, p, TZ_FELT_BYTES);
    p = get(out->auth_pub_seed.b, p, TZ_FELT_BYTES);
    p = get(out->nk_tag.b, p, TZ_FELT_BYTES);
    p = get(out->ek_v, p, TZ_KEM_EK_BYTES);
    get(out->ek_d, p, TZ_KEM_EK_BYTES);
    return TZ_OK;
}

tz_status tz_wire_decode_enc_note(tz_enc_note *out, const uint8_t *buf, size_t len)
{
    if (!buf || len != TZ_ENC_NOTE_BYTES || enc_note_tag(buf) >= TZ_NOTE_TAG_LIMIT)
        return TZ_EINVAL;
    enc_note_get(out, buf);
    return TZ_OK;
}

tz_status tz_wire_decode_published_note(tz_published_note *out, const uint8_t *buf, size_t len)
{
    if (!buf || len != TZ_PUBLISHED_NOTE_BYTES ||
        enc_note_tag(buf + TZ_FELT_BYTES) >= TZ_NOTE_TAG_LIMIT)
        return TZ_EINVAL;
    memcpy(out->cm.b, buf, TZ_FELT_BYTES);
    enc_note_get(&out->enc, buf + TZ_FELT_BYTES);
    return TZ_OK;
}

tz_status tz_wire_decode_note_memo(tz_note_memo *out, const uint8_t *buf, size_t len)
{
    if (!buf || len != TZ_NOTE_MEMO_WIRE_BYTES ||
        enc_note_tag(buf + 8 + TZ_FELT_BYTES) >= TZ_NOTE_TAG_LIMIT)
        return TZ_EINVAL;
    out->index = tz_get_u64le(buf);
    memcpy(out->note.cm.b, buf + 8, TZ_FELT_BYTES);
    enc_note_get(&out->note.enc, buf + 8 + TZ_FELT_BYTES);
    return TZ_OK;
}

/* Hex front-ends: decode into a stack buffer of exactly `size` bytes
 * (anything longer fails in tz_hex_decode), then the binary decoder checks
 * the length and the tag. */
#define HEX_DECODER(name, type, size)                                            \
    tz_status name##_hex(type *out, const char *hex, size_t hexlen)              \
    {                                                                            \
        uint8_t buf[size];                                                       \
        size_t n = 0;                                                            \
        if (!hex || tz_hex_decode(buf, sizeof buf, &n, hex, hexlen) != TZ_OK)    \
            return TZ_EINVAL;                                                    \
        return name(out, buf, n);                                                \
    }

HEX_DECODER(tz_wire_decode_address, tz_payment_address, TZ_PAYMENT_ADDRESS_BYTES)
HEX_DECODER(tz_wire_decode_enc_note, tz_enc_note, TZ_ENC_NOTE_BYTES)
HEX_DECODER(tz_wire_decode_published_note, tz_published_note, TZ_PUBLISHED_NOTE_BYTES)
HEX_DECODER(tz_wire_decode_note_memo, tz_note_memo, TZ_NOTE_MEMO_WIRE_BYTES)
