/* The canonical wire decoders (core/wire.h): PaymentAddress,
 * EncryptedNote, PublishedNote and NoteMemo, binary and hex. The first
 * byte picks the decoder, the rest is its input. Whatever decodes must
 * encode back to the same bytes. */
#include <stdint.h>
#include <string.h>

#include "core/wire.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[TZ_NOTE_MEMO_WIRE_BYTES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned pick = data[0] & 7;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    bool hex = pick & 4;
    const char *h = (const char *)in;
    tz_status st;
    switch (pick & 3) {
    case 0: {
        tz_payment_address a;
        st = hex ? tz_wire_decode_address_hex(&a, h, n) : tz_wire_decode_address(&a, in, n);
        if (!st) {
            tz_wire_encode_address(buf, &a);
            FZ_ASSERT(hex || memcmp(buf, in, n) == 0);
        }
        break;
    }
    case 1: {
        tz_enc_note e;
        st = hex ? tz_wire_decode_enc_note_hex(&e, h, n) : tz_wire_decode_enc_note(&e, in, n);
        if (!st) {
            FZ_ASSERT(tz_wire_encode_enc_note(buf, &e) == TZ_OK);
            FZ_ASSERT(hex || memcmp(buf, in, n) == 0);
        }
        break;
    }
    case 2: {
        tz_published_note p;
        st = hex ? tz_wire_decode_published_note_hex(&p, h, n)
                 : tz_wire_decode_published_note(&p, in, n);
        if (!st) {
            FZ_ASSERT(tz_wire_encode_published_note(buf, &p) == TZ_OK);
            FZ_ASSERT(hex || memcmp(buf, in, n) == 0);
        }
        break;
    }
    default: {
        tz_note_memo m;
        st = hex ? tz_wire_decode_note_memo_hex(&m, h, n) : tz_wire_decode_note_memo(&m, in, n);
        if (!st) {
            FZ_ASSERT(tz_wire_encode_note_memo(buf, &m) == TZ_OK);
            FZ_ASSERT(hex || memcmp(buf, in, n) == 0);
        }
        break;
    }
    }
    return 0;
}
