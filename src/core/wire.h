/* Canonical binary encodings (PROTOCOL.md "Canonical binary"): fixed-size
 * Tezos Data Encoding of PaymentAddress, EncryptedNote, PublishedNote and
 * NoteMemo, no length prefixes. Decoders take (buf, len), accept exactly one
 * length, reject a detection tag >= 2^10, never read past buf + len and
 * leave the output untouched on failure. No allocation. */
#ifndef TZ_CORE_WIRE_H
#define TZ_CORE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "core/types.h"

/* Sizes: TZ_PAYMENT_ADDRESS_BYTES, TZ_ENC_NOTE_BYTES, TZ_PUBLISHED_NOTE_BYTES
 * and TZ_NOTE_MEMO_WIRE_BYTES in core/types.h. */

/* NoteMemo: a published note with its leaf index. */
typedef struct tz_note_memo {
    uint64_t index;
    tz_published_note note;
} tz_note_memo;

/* Encoders write exactly the named number of bytes into out. The note
 * encoders return TZ_EINVAL (out untouched) when enc->tag >= 2^10,
 * otherwise TZ_OK. */
void tz_wire_encode_address(uint8_t out[TZ_PAYMENT_ADDRESS_BYTES], const tz_payment_address *a);
tz_status tz_wire_encode_enc_note(uint8_t out[TZ_ENC_NOTE_BYTES],
                                  const tz_enc_note *enc) TZ_WUR;
tz_status tz_wire_encode_published_note(uint8_t out[TZ_PUBLISHED_NOTE_BYTES],
                                        const tz_published_note *pn) TZ_WUR;
tz_status tz_wire_encode_note_memo(uint8_t out[TZ_NOTE_MEMO_WIRE_BYTES],
                                   const tz_note_memo *m) TZ_WUR;

/* Decoders: TZ_OK, or TZ_EINVAL when buf is NULL, len differs from the
 * encoding's size, or the tag is >= 2^10; *out is written only on success. */
tz_status tz_wire_decode_address(tz_payment_address *out, const uint8_t *buf, size_t len) TZ_WUR;
tz_status tz_wire_decode_enc_note(tz_enc_note *out, const uint8_t *buf, size_t len) TZ_WUR;
tz_status tz_wire_decode_published_note(tz_published_note *out, const uint8_t *buf,
                                        size_t len) TZ_WUR;
tz_status tz_wire_decode_note_memo(tz_note_memo *out, const uint8_t *buf, size_t len) TZ_WUR;

/* The same decoders reading hexlen hex characters (either case, optional
 * "0x"): TZ_EINVAL on a non-hex character, an odd or wrong length, or what
 * the binary decoder rejects; *out untouched on failure. */
tz_status tz_wire_decode_address_hex(tz_payment_address *out, const char *hex,
                                     size_t hexlen) TZ_WUR;
tz_status tz_wire_decode_enc_note_hex(tz_enc_note *out, const char *hex, size_t hexlen) TZ_WUR;
tz_status tz_wire_decode_published_note_hex(tz_published_note *out, const char *hex,
                                            size_t hexlen) TZ_WUR;
tz_status tz_wire_decode_note_memo_hex(tz_note_memo *out, const char *hex, size_t hexlen) TZ_WUR;

#endif
