/* Kernel messages (core/kmsg.h): the reference's verified bridge flow
 * encoded byte for byte as an independent encoder does
 * (tests/data/bridge_flow_kmsg.json), decoded back to the fixture's
 * fields and re-encoded identically; then truncations, trailing bytes,
 * flipped length fields, bad tags, options, counts and UTF-8, each of which
 * must fail and leave the output untouched. */
#include <jansson.h>

#include "core/hash.h"
#include "core/kmsg.h"
#include "core/wire.h"
#include "tz_test_bridge.h"

static const char *const KINDS[3] = {"shield", "transfer", "unshield"};

/* Decoding must fail and leave *out as it was. */
static int rejects(const uint8_t *buf, size_t len)
{
    static tz_kmsg out, before;
    memset(&out, 0xA5, sizeof out);
    before = out;
    tz_error err = {0};
    tz_status st = tz_kmsg_decode(&out, buf, len, &err);
    if (st == TZ_OK) {
        tz_kmsg_free(&out);
        return 0;
    }
    return st == TZ_EINVAL && err.msg[0] && memcmp(&out, &before, sizeof out) == 0;
}

static int proof_eq(const tz_kmsg_proof *a, const tz_kmsg_proof *b)
{
    return a->len == b->len && a->n_preimage == b->n_preimage &&
           (!a->len || memcmp(a->bytes, b->bytes, a->len) == 0) &&
           (!a->n_preimage ||
            memcmp(a->preimage, b->preimage, a->n_preimage * sizeof(tz_felt)) == 0);
}

static int note_eq(const tz_enc_note *a, const tz_enc_note *b)
{
    uint8_t x[TZ_ENC_NOTE_BYTES], y[TZ_ENC_NOTE_BYTES];
    return tz_wire_encode_enc_note(x, a) == TZ_OK && tz_wire_encode_enc_note(y, b) == TZ_OK &&
           memcmp(x, y, sizeof x) == 0;
}

/* Field-by-field equality of two messages of the same kind. */
static int msg_eq(const tz_kmsg *a, const tz_kmsg *b)
{
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case TZ_KMSG_SHIELD: {
        const tz_kmsg_shield *x = &a->u.shield, *y = &b->u.shield;
        return tz_felt_eq(&x->pubkey_hash, &y->pubkey_hash) && x->fee == y->fee &&
               x->v == y->v && x->producer_fee == y->producer_fee &&
               proof_eq(&x->proof, &y->proof) && tz_felt_eq(&x->client_cm, &y->client_cm) &&
               note_eq(&x->client_enc, &y->client_enc) &&
               tz_felt_eq(&x->producer_cm, &y->producer_cm) &&
               note_eq(&x->producer_enc, &y->producer_enc);
    }
    case TZ_KMSG_TRANSFER: {
        const tz_kmsg_transfer *x = &a->u.transfer, *y = &b->u.transfer;
        int ok = tz_felt_eq(&x->root, &y->root) && x->n_nf == y->n_nf && x->fee == y->fee &&
                 proof_eq(&x->proof, &y->proof);
        for (size_t i = 0; ok && i < x->n_nf; i++)
            ok = tz_felt_eq(&x->nf[i], &y->nf[i]);
        for (int i = 0; ok && i < 3; i++)
            ok = tz_felt_eq(&x->cm[i], &y->cm[i]) && note_eq(&x->enc[i], &y->enc[i]);
        return ok;
    }
    case TZ_KMSG_UNSHIELD: {
        const tz_kmsg_unshield *x = &a->u.unshield, *y = &b->u.unshield;
        int ok = tz_felt_eq(&x->root, &y->root) && x->n_nf == y->n_nf &&
                 x->v_pub == y->v_pub && x->fee == y->fee &&
                 x->recipient_len == y->recipient_len &&
                 memcmp(x->recipient, y->recipient, x->recipient_len) == 0 &&
                 tz_felt_eq(&x->cm_change, &y->cm_change) && proof_eq(&x->proof, &y->proof) &&
                 x->has_enc_change == y->has_enc_change &&
                 (!x->has_enc_change || note_eq(&x->enc_change, &y->enc_change)) &&
                 tz_felt_eq(&x->cm_fee, &y->cm_fee) && note_eq(&x->enc_fee, &y->enc_fee);
        for (size_t i = 0; ok && i < x->n_nf; i++)
            ok = tz_felt_eq(&x->nf[i], &y->nf[i]);
        return ok;
    }
    case TZ_KMSG_DAL_POINTER:
        return memcmp(&a->u.dal, &b->u.dal, sizeof a->u.dal) == 0;
    }
    return 0;
}

/* Offsets of the u32 big-endian length fields of an encoded message,
 * derived from its layout; returns their number. */
static size_t length_fields(const tz_kmsg *m, size_t off[16])
{
    size_t n = 0, p = 3;
    const tz_kmsg_proof *pf = NULL;
    size_t nn = 0;
    if (m->kind == TZ_KMSG_SHIELD) {
        pf = &m->u.shield.proof;
        p += 32 + 24;
    } else {
        const int tr = m->kind == TZ_KMSG_TRANSFER;
        nn = tr ? m->u.transfer.n_nf : m->u.unshield.n_nf;
        pf = tr ? &m->u.transfer.proof : &m->u.unshield.proof;
        off[n++] = p; /* body dyn */
        p += 4 + 32;
        off[n++] = p;     /* nullifiers dyn */
        off[n++] = p + 4; /* nullifier list dyn */
        p += 8 + 32 * nn;
        if (tr) {
            p += 8 + 96;
        } else {
            p += 16;
            off[n++] = p; /* recipient */
            p += 4 + m->u.unshield.recipient_len + 32;
        }
    }
    off[n++] = p;     /* proof dyn */
    off[n++] = p + 4; /* proof length */
    p += 8 + pf->len;
    off[n++] = p; /* preimage count */
    p += 4 + 32 * pf->n_preimage;
    if (m->kind == TZ_KMSG_TRANSFER) {
        for (int i = 0; i < 3; i++, p += 4 + TZ_ENC_NOTE_BYTES)
            off[n++] = p;
    } else if (m->kind == TZ_KMSG_UNSHIELD) {
        p += 1;
        if (m->u.unshield.has_enc_change) {
            off[n++] = p;
            p += 4 + TZ_ENC_NOTE_BYTES;
        }
        off[n++] = p + 32; /* fee note dyn */
    }
    return n;
}

static void check_malformed(const tz_kmsg *m, const uint8_t *enc, size_t len, const char *kind)
{
    uint8_t *buf = malloc(len + 8);
    if (!buf)
        return;
    memcpy(buf, enc, len);

    /* every truncation */
    size_t bad = 0;
    for (size_t cut = 0; cut < len; cut++)
        if (!rejects(buf, cut))
            bad++;
    CHECK_MSG(bad == 0, "%s: %zu truncations accepted", kind, bad);

    /* trailing bytes */
    for (size_t extra = 1; extra <= 8; extra++) {
        memset(buf + len, (int)extra, extra);
        CHECK_MSG(rejects(buf, len + extra), "%s: %zu trailing bytes accepted", kind, extra);
    }

    /* every bit of every length field, and an absurd value */
    size_t off[16];
    size_t nf = length_fields(m, off);
    CHECK(nf >= 3);
    for (size_t f = 0; f < nf; f++) {
        uint32_t v = (uint32_t)buf[off[f]] << 24 | (uint32_t)buf[off[f] + 1] << 16 |
                     (uint32_t)buf[off[f] + 2] << 8 | buf[off[f] + 3];
        CHECK_MSG(v <= len, "%s: offset %zu does not hold a length (%u)", kind, off[f], v);
        for (int bit = 0; bit < 32; bit++) {
            buf[off[f] + 3 - bit / 8] ^= (uint8_t)(1u << (bit % 8));
            CHECK_MSG(rejects(buf, len), "%s: length at %zu with bit %d flipped accepted", kind,
                      off[f], bit);
            buf[off[f] + 3 - bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        memset(buf + off[f], 0xFF, 4);
        CHECK(rejects(buf, len));
        memcpy(buf + off[f], enc + off[f], 4);
    }
    CHECK(memcmp(buf, enc, len) == 0);

    /* version and tag */
    buf[0] = 16;
    CHECK(rejects(buf, len));
    buf[0] = enc[0];
    static const uint8_t tags[] = {0, 1, 5, 7, 255, 2, 3, 4};
    for (size_t i = 0; i < sizeof tags; i++) {
        if (tags[i] == enc[2])
            continue;
        buf[2] = tags[i];
        CHECK_MSG(rejects(buf, len), "%s: read as tag %u", kind, tags[i]);
    }
    buf[2] = enc[2];
    free(buf);
}

static void test_bridge_flow(void)
{
    json_t *fx = tz_test_data_json("verified_bridge_flow.json");
    json_t *want = tz_test_data_json("bridge_flow_kmsg.json");
    if (!fx || !want)
        goto out;
    for (int k = 0; k < 3; k++) {
        const json_t *w = json_object_get(want, KINDS[k]);
        tz_kmsg m, d;
        tz_error err = {0};
        uint8_t *enc = NULL, *again = NULL;
        size_t len = 0, len2 = 0;
        int built = tz_test_bridge_msg(fx, KINDS[k], &m);
        CHECK_MSG(built, "fixture %s", KINDS[k]);
        if (!built) {
            tz_kmsg_free(&m);
            continue;
        }
        tz_status st = tz_kmsg_encode(&m, &enc, &len, &err);
        CHECK_MSG(st == TZ_OK, "%s: %s", KINDS[k], err.msg);
        if (st) {
            tz_kmsg_free(&m);
            continue;
        }
        CHECK(tz_kmsg_encoded_len(&m) == len);

        /* byte-exact against the independent encoding */
        uint8_t digest[32];
        char hex[65];
        tz_hash_part part = {enc, len};
        tz_blake2s(digest, NULL, &part, 1);
        tz_hex_encode(hex, digest, 32);
        CHECK_MSG((json_int_t)len == json_integer_value(json_object_get(w, "len")),
                  "%s: %zu bytes", KINDS[k], len);
        const char *wd = json_string_value(json_object_get(w, "blake2s"));
        CHECK_MSG(wd && strcmp(hex, wd) == 0, "%s: blake2s %s", KINDS[k], hex);
        const char *head = json_string_value(json_object_get(w, "head_hex"));
        char got_head[193];
        tz_hex_encode(got_head, enc, 96);
        CHECK(head && strcmp(head, got_head) == 0);
        CHECK(enc[0] == 17 && enc[1] == 0 && enc[2] == (uint8_t)m.kind);

        /* decode: the fixture's fields, then the same bytes again */
        st = tz_kmsg_decode(&d, enc, len, &err);
        CHECK_MSG(st == TZ_OK, "%s decode: %s", KINDS[k], err.msg);
        if (st == TZ_OK) {
            CHECK_MSG(msg_eq(&m, &d), "%s: decoded fields differ", KINDS[k]);
            CHECK(tz_kmsg_encode(&d, &again, &len2, &err) == TZ_OK);
            CHECK(again && len2 == len && memcmp(again, enc, len) == 0);
            free(again);
            if (d.kind == TZ_KMSG_SHIELD)
                CHECK(d.u.shield.fee == 100000 && d.u.shield.v == 400000 &&
                      d.u.shield.producer_fee == 1 && d.u.shield.proof.n_preimage == 13);
            if (d.kind == TZ_KMSG_TRANSFER)
                CHECK(d.u.transfer.n_nf == 1 && d.u.transfer.fee == 100000 &&
                      d.u.transfer.proof.n_preimage == 14);
            if (d.kind == TZ_KMSG_UNSHIELD)
                CHECK(d.u.unshield.n_nf == 1 && d.u.unshield.v_pub == 99999 &&
                      !d.u.unshield.has_enc_change && tz_felt_is_zero(&d.u.unshield.cm_change) &&
                      strcmp(d.u.unshield.recipient, "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx") == 0);
            check_malformed(&d, enc, len, KINDS[k]);
            tz_kmsg_free(&d);
            CHECK(d.u.shield.proof.bytes == NULL || d.kind != TZ_KMSG_SHIELD);
        }
        free(enc);
        tz_kmsg_free(&m);
    }
out:
    json_decref(fx);
    json_decref(want);
}

/* A small transfer/unshield to mutate byte by byte. */
static void small_proof(tz_kmsg_proof *p, uint8_t *bytes, tz_felt *pre)
{
    for (int i = 0; i < 5; i++)
        bytes[i] = (uint8_t)(0x70 + i);
    for (int i = 0; i < 3; i++) {
        memset(pre[i].b, 0, 32);
        pre[i].b[0] = (uint8_t)(i + 1);
    }
    p->bytes = bytes;
    p->len = 5;
    p->preimage = pre;
    p->n_preimage = 3;
}

static void fill_note(tz_enc_note *e, uint8_t seed)
{
    memset(e, seed, sizeof *e);
    e->tag = (uint16_t)(seed * 3 % 1024);
}

static tz_kmsg *small_unshield(uint8_t *bytes, tz_felt *pre, int with_change)
{
    static tz_kmsg m;
    memset(&m, 0, sizeof m);
    m.kind = TZ_KMSG_UNSHIELD;
    tz_kmsg_unshield *u = &m.u.unshield;
    memset(u->root.b, 1, 32);
    u->n_nf = 2;
    memset(u->nf[0].b, 2, 32);
    memset(u->nf[1].b, 3, 32);
    u->v_pub = 5;
    u->fee = 6;
    strcpy(u->recipient, "tz1\xc3\xa9t\xe2\x82\xac");
    u->recipient_len = strlen(u->recipient);
    memset(u->cm_change.b, with_change ? 7 : 0, 32);
    small_proof(&u->proof, bytes, pre);
    u->has_enc_change = with_change;
    if (with_change)
        fill_note(&u->enc_change, 8);
    memset(u->cm_fee.b, 9, 32);
    fill_note(&u->enc_fee, 10);
    return &m;
}

/* Every single-byte change of a small message either fails or decodes to a
 * message that encodes back to exactly the changed bytes. */
static void check_canonical(const uint8_t *enc, size_t len, const char *what)
{
    uint8_t *buf = malloc(len);
    size_t accepted = 0, bad = 0;
    if (!buf)
        return;
    memcpy(buf, enc, len);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x41;
        tz_kmsg d;
        uint8_t *re = NULL;
        size_t rl = 0;
        if (tz_kmsg_decode(&d, buf, len, NULL) == TZ_OK) {
            accepted++;
            if (tz_kmsg_encode(&d, &re, &rl, NULL) != TZ_OK || rl != len ||
                memcmp(re, buf, len) != 0)
                bad++;
            free(re);
            tz_kmsg_free(&d);
        }
        buf[i] ^= 0x41;
    }
    CHECK_MSG(bad == 0, "%s: %zu changed messages not canonical", what, bad);
    CHECK(accepted > 0 && accepted < len);
    for (size_t cut = 0; cut < len; cut++)
        if (!rejects(buf, cut))
            bad++;
    CHECK_MSG(bad == 0, "%s: truncation accepted", what);
    free(buf);
}

static void test_small_messages(void)
{
    uint8_t bytes[5];
    tz_felt pre[3];
    tz_error err = {0};
    for (int with_change = 0; with_change < 2; with_change++) {
        tz_kmsg *m = small_unshield(bytes, pre, with_change);
        uint8_t *enc = NULL;
        size_t len = 0;
        CHECK(tz_kmsg_encode(m, &enc, &len, &err) == TZ_OK);
        if (!enc)
            continue;
        tz_kmsg d;
        CHECK(tz_kmsg_decode(&d, enc, len, &err) == TZ_OK);
        CHECK(msg_eq(m, &d));
        CHECK(d.u.unshield.recipient[d.u.unshield.recipient_len] == '\0');
        tz_kmsg_free(&d);
        check_canonical(enc, len, with_change ? "unshield with change" : "unshield");

        size_t off[16];
        size_t nf = length_fields(m, off);
        size_t opt = off[nf - (with_change ? 3 : 2)] + 4 + m->u.unshield.proof.n_preimage * 32;
        /* the option byte: only 0x00 and 0xFF */
        CHECK(enc[opt] == (with_change ? 0xFF : 0x00));
        uint8_t keep = enc[opt];
        enc[opt] = 0x01;
        CHECK(rejects(enc, len));
        enc[opt] = keep;
        /* recipient not UTF-8 */
        size_t r = off[3] + 4;
        CHECK(enc[r] == 't');
        CHECK(enc[r + 3] == 0xC3 && enc[r + 4] == 0xA9);
        enc[r + 4] = 'A'; /* 0xC3 'A': a broken sequence */
        CHECK(rejects(enc, len));
        enc[r + 4] = 0xA9;
        /* fee note tag >= 2^10 (tag bytes right after ct_d) */
        size_t tag = len - TZ_ENC_NOTE_BYTES + TZ_KEM_CT_BYTES;
        uint8_t t1 = enc[tag + 1];
        enc[tag + 1] = 0x04;
        CHECK(rejects(enc, len));
        enc[tag + 1] = t1;
        CHECK(tz_kmsg_decode(&d, enc, len, NULL) == TZ_OK);
        tz_kmsg_free(&d);
        free(enc);
    }

    /* nullifier counts 0 and 8: refused by the encoder; crafted bytes refused */
    tz_kmsg *m = small_unshield(bytes, pre, 0);
    uint8_t *enc = NULL;
    size_t len = 0;
    m->u.unshield.n_nf = 0;
    CHECK(tz_kmsg_encode(m, &enc, &len, &err) == TZ_EINVAL && enc == NULL);
    m->u.unshield.n_nf = 8;
    CHECK(tz_kmsg_encode(m, &enc, &len, &err) == TZ_EINVAL);
    m->u.unshield.n_nf = 7;
    CHECK(tz_kmsg_encode(m, &enc, &len, &err) == TZ_OK);
    if (enc) {
        /* splice an eighth nullifier in: grow the three enclosing lengths */
        uint8_t *big = malloc(len + 32);
        size_t nl = 43 + 4; /* list content starts after both nullifier lengths */
        memcpy(big, enc, nl + 7 * 32);
        memset(big + nl + 7 * 32, 0x33, 32);
        memcpy(big + nl + 8 * 32, enc + nl + 7 * 32, len - nl - 7 * 32);
        for (size_t f = 0; f < 3; f++) {
            size_t o = f == 0 ? 3 : f == 1 ? 39 : 43;
            uint32_t v = (uint32_t)big[o] << 24 | (uint32_t)big[o + 1] << 16 |
                         (uint32_t)big[o + 2] << 8 | big[o + 3];
            v += 32;
            big[o] = (uint8_t)(v >> 24);
            big[o + 1] = (uint8_t)(v >> 16);
            big[o + 2] = (uint8_t)(v >> 8);
            big[o + 3] = (uint8_t)v;
        }
        tz_error e2 = {0};
        tz_kmsg d;
        CHECK(tz_kmsg_decode(&d, big, len + 32, &e2) == TZ_EINVAL);
        CHECK(strstr(e2.msg, "8 nullifiers") != NULL);
        free(big);
        free(enc);
    }
    m->u.unshield.n_nf = 2;
    /* recipient caps and UTF-8 on encode */
    m->u.unshield.recipient_len = TZ_KMSG_MAX_RECIPIENT_BYTES + 1;
    CHECK(tz_kmsg_encode(m, &enc, &len, &err) == TZ_EINVAL);
    strcpy(m->u.unshield.recipient, "\xed\xa0\x80"); /* a surrogate */
    m->u.unshield.recipient_len = 3;
    CHECK(tz_kmsg_encode(m, &enc, &len, &err) == TZ_EINVAL);
    m->u.unshield.enc_fee.tag = 1024;
    strcpy(m->u.unshield.recipient, "x");
    m->u.unshield.recipient_len = 1;
    CHECK(tz_kmsg_encode(m, &enc, &len, &err) == TZ_EINVAL);
    CHECK(tz_kmsg_encoded_len(m) == 0);
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"", 1}, {"tz1abc", 1}, {"\xc3\xa9", 1}, {"\xe2\x82\xac", 1}, {"\xf0\x9f\x98\x80", 1},
        {"\xf4\x8f\xbf\xbf", 1}, {"\xc0\xaf", 0}, {"\xc1\xbf", 0}, {"\xe0\x80\xaf", 0},
        {"\xed\xa0\x80", 0}, {"\xf0\x80\x80\xaf", 0}, {"\xf4\x90\x80\x80", 0}, {"\xf5\x80", 0},
        {"\x80", 0}, {"\xc3", 0}, {"\xe2\x82", 0}, {"a\xffz", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_MSG(tz_kmsg_utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok, "utf8 %zu",
                  i);
    CHECK(tz_kmsg_utf8_valid("a\0b", 3)); /* NUL is a code point */
}

static void test_dal_pointer(void)
{
    tz_kmsg m;
    memset(&m, 0, sizeof m);
    m.kind = TZ_KMSG_DAL_POINTER;
    m.u.dal.kind = TZ_KMSG_DAL_TRANSFER;
    m.u.dal.n_chunks = 2;
    m.u.dal.chunks[0] = (tz_kmsg_dal_chunk){.published_level = 77, .slot_index = 3, .payload_len = 126000};
    m.u.dal.chunks[1] = (tz_kmsg_dal_chunk){.published_level = 78, .slot_index = 4, .payload_len = 5};
    memset(m.u.dal.payload_hash.b, 0x5A, 32);
    m.u.dal.payload_len = 126005;
    uint8_t *enc = NULL;
    size_t len = 0;
    tz_error err = {0};
    CHECK(tz_kmsg_encode(&m, &enc, &len, &err) == TZ_OK);
    CHECK(len == 3 + 1 + 8 + 34 + 32 + 8);
    if (enc) {
        static const uint8_t head[] = {0x11, 0x00, 0x06, 0x01, 0, 0, 0, 38, 0, 0, 0, 34,
                                       77,   0,    0,    0,    0, 0, 0, 0,  3};
        CHECK(memcmp(enc, head, sizeof head) == 0);
        tz_kmsg d;
        CHECK(tz_kmsg_decode(&d, enc, len, &err) == TZ_OK && msg_eq(&m, &d));
        CHECK(tz_kmsg_proof_of(&d) == NULL);
        tz_kmsg_free(&d); /* nothing to free */
        for (size_t cut = 0; cut < len; cut++)
            CHECK(rejects(enc, cut));
        enc[3] = 5; /* unknown payload kind */
        CHECK(rejects(enc, len));
        enc[3] = 1;
        enc[11] = 33; /* list not a whole number of chunk pointers */
        enc[7] = 37;
        CHECK(rejects(enc, len - 1));
        free(enc);
    }
    m.u.dal.n_chunks = 0;
    CHECK(tz_kmsg_encode(&m, &enc, &len, &err) == TZ_EINVAL);
    m.u.dal.n_chunks = 16;
    CHECK(tz_kmsg_encode(&m, &enc, &len, &err) == TZ_EINVAL);
    m.u.dal.n_chunks = 15;
    CHECK(tz_kmsg_encode(&m, &enc, &len, &err) == TZ_OK);
    if (enc) {
        tz_kmsg d;
        CHECK(tz_kmsg_decode(&d, enc, len, &err) == TZ_OK && d.u.dal.n_chunks == 15);
        free(enc);
    }
    /* an empty list and a 16-chunk list (over the 256-byte cap) */
    uint8_t raw[3 + 1 + 8 + 16 * 17 + 40];
    memset(raw, 0, sizeof raw);
    raw[0] = 17;
    raw[2] = 6;
    raw[7] = 4; /* outer dyn: 4, inner dyn: 0 */
    CHECK(rejects(raw, 3 + 1 + 8 + 40));
    raw[6] = 1;
    raw[7] = 20; /* outer 276 */
    raw[10] = 1;
    raw[11] = 16; /* inner 272 = 16 chunks */
    CHECK(rejects(raw, sizeof raw));
}

static void test_proof_caps(void)
{
    /* a shield whose proof claims 8 MiB + 1 and one with 1025 felts */
    uint8_t raw[3 + 56 + 12];
    memset(raw, 0, sizeof raw);
    raw[0] = 17;
    raw[2] = 2;
    size_t p = 3 + 56;
    raw[p + 3] = 8;                                   /* proof dyn of 8 */
    raw[p + 4] = 0x00, raw[p + 5] = 0x80, raw[p + 7] = 1; /* len 0x00800001 */
    CHECK(rejects(raw, sizeof raw));
    raw[p + 5] = 0, raw[p + 7] = 0;
    raw[p + 10] = 0x04, raw[p + 11] = 0x01; /* count 1025 */
    CHECK(rejects(raw, sizeof raw));
    tz_kmsg m;
    memset(&m, 0, sizeof m);
    m.kind = TZ_KMSG_SHIELD;
    m.u.shield.proof.len = TZ_KMSG_MAX_PROOF_BYTES + 1;
    m.u.shield.proof.bytes = raw;
    uint8_t *enc = NULL;
    size_t len = 0;
    CHECK(tz_kmsg_encode(&m, &enc, &len, NULL) == TZ_EINVAL);
    m.u.shield.proof.len = 0;
    m.u.shield.proof.n_preimage = TZ_KMSG_MAX_PREIMAGE + 1;
    CHECK(tz_kmsg_encode(&m, &enc, &len, NULL) == TZ_EINVAL);
    m.u.shield.proof.n_preimage = 0;
    m.u.shield.proof.bytes = NULL;
    CHECK(tz_kmsg_encode(&m, &enc, &len, NULL) == TZ_OK); /* an empty proof encodes */
    if (enc) {
        tz_kmsg d;
        CHECK(tz_kmsg_decode(&d, enc, len, NULL) == TZ_OK && d.u.shield.proof.len == 0);
        tz_kmsg_free(&d);
        free(enc);
    }
    CHECK(rejects(NULL, 0));
    CHECK(tz_kmsg_decode(NULL, raw, sizeof raw, NULL) == TZ_EINVAL);
    CHECK(strcmp(tz_kmsg_kind_name(TZ_KMSG_UNSHIELD), "unshield") == 0 && !tz_kmsg_kind_name(5));
}

int main(void)
{
    test_utf8();
    test_bridge_flow();
    test_small_messages();
    test_dal_pointer();
    test_proof_caps();
    return tz_test_done("test_kmsg");
}
