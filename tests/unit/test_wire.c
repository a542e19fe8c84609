/* Canonical wire codecs: protocol_v1.json "wire_encoding", every entry of
 * canonical_wire_v1.json (rebuilt from its inputs with the key, KEM, note
 * and commitment functions), round trips and malformed input. */
#include <jansson.h>
#include <sodium.h>

#include "core/commit.h"
#include "core/felt.h"
#include "core/hash.h"
#include "core/kem.h"
#include "core/keys.h"
#include "core/note.h"
#include "core/wire.h"
#include "tz_test_util.h"

static size_t nchecked; /* vector fields checked */

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* Compares bytes with the hex string o[k] (full length). */
static void check_hex(const uint8_t *got, size_t len, json_t *o, const char *k, const char *what)
{
    const char *want = jstr(o, k);
    char *hex = malloc(2 * len + 1);
    CHECK(hex != NULL);
    if (!hex)
        return;
    tz_hex_encode(hex, got, len);
    CHECK_MSG(want && strcmp(hex, want) == 0, "%s.%s differs (len %zu, want len %zu)", what, k,
              len, want ? strlen(want) / 2 : 0);
    free(hex);
    nchecked++;
}

static void check_felt(const tz_felt *got, json_t *o, const char *k, const char *what)
{
    check_hex(got->b, TZ_FELT_BYTES, o, k, what);
}

/* Decodes o[k] (hex) into a fresh buffer; *len set. Caller frees. */
static uint8_t *hex_bytes(json_t *o, const char *k, size_t *len)
{
    const char *s = jstr(o, k);
    size_t n = s ? strlen(s) : 0;
    uint8_t *b = malloc(n / 2 + 1);
    if (!b || !s || tz_hex_decode(b, n / 2 + 1, len, s, n) != TZ_OK) {
        free(b);
        return NULL;
    }
    return b;
}

static tz_felt felt_hex(const char *s)
{
    tz_felt f;
    memset(&f, 0, sizeof f);
    CHECK(s && tz_felt_from_hex(&f, s) == TZ_OK);
    return f;
}

/* The reference's deterministic test note (protocol_v1 wire_encoding). */
static void pattern_note(tz_enc_note *e)
{
    for (size_t i = 0; i < TZ_KEM_CT_BYTES; i++) {
        e->ct_d[i] = (uint8_t)(i % 256);
        e->ct_v[i] = (uint8_t)((i + 50) % 256);
    }
    for (size_t i = 0; i < TZ_NOTE_DATA_BYTES; i++)
        e->encrypted_data[i] = (uint8_t)((i + 100) % 256);
    e->tag = 42;
    memset(e->nonce, 0xAA, sizeof e->nonce);
    memset(e->outgoing_ct, 0xBB, sizeof e->outgoing_ct);
}

static void address_of(tz_payment_address *pa, const tz_keys *keys, uint32_t j,
                       const tz_felt *auth_root)
{
    tz_addr_keys ak;
    tz_kem_keypair kp;
    tz_addr_keys_derive(&ak, keys, j);
    pa->d_j = ak.d_j;
    pa->auth_root = *auth_root;
    pa->auth_pub_seed = ak.auth_pub_seed;
    pa->nk_tag = ak.nk_tag;
    tz_kem_keygen(&kp, ak.seed_v);
    memcpy(pa->ek_v, kp.ek, TZ_KEM_EK_BYTES);
    tz_kem_keygen(&kp, ak.seed_d);
    memcpy(pa->ek_d, kp.ek, TZ_KEM_EK_BYTES);
    tz_kem_keypair_wipe(&kp);
    tz_addr_keys_wipe(&ak);
}

static void protocol_wire(json_t *proto)
{
    json_t *w = json_object_get(proto, "wire_encoding");
    tz_felt msk = felt_hex(jstr(json_object_get(proto, "key_hierarchy"), "master_sk"));
    tz_felt ar0 = felt_hex(jstr(json_array_get(json_object_get(proto, "addresses"), 0), "auth_root"));
    tz_keys keys;
    tz_keys_derive(&keys, &msk);

    static tz_payment_address pa, pa2;
    static uint8_t buf[TZ_NOTE_MEMO_WIRE_BYTES];
    address_of(&pa, &keys, 0, &ar0);
    tz_wire_encode_address(buf, &pa);
    check_hex(buf, TZ_PAYMENT_ADDRESS_BYTES, w, "payment_address", "wire_encoding");
    CHECK(tz_wire_decode_address(&pa2, buf, TZ_PAYMENT_ADDRESS_BYTES) == TZ_OK);
    CHECK(memcmp(&pa, &pa2, sizeof pa) == 0);

    static tz_enc_note en, en2;
    pattern_note(&en);
    CHECK(tz_wire_encode_enc_note(buf, &en) == TZ_OK);
    check_hex(buf, TZ_ENC_NOTE_BYTES, w, "encrypted_note", "wire_encoding");

    static tz_published_note pn, pn2;
    tz_hash(&pn.cm, "wire-test-cm", 12);
    pn.enc = en;
    CHECK(tz_wire_encode_published_note(buf, &pn) == TZ_OK);
    check_hex(buf, TZ_PUBLISHED_NOTE_BYTES, w, "published_note", "wire_encoding");

    static tz_note_memo nm, nm2;
    nm.index = 42;
    nm.note = pn;
    CHECK(tz_wire_encode_note_memo(buf, &nm) == TZ_OK);
    check_hex(buf, TZ_NOTE_MEMO_WIRE_BYTES, w, "note_memo", "wire_encoding");

    /* decoding the vectors' hex gives back the structs */
    const char *s;
    s = jstr(w, "payment_address");
    CHECK(s && tz_wire_decode_address_hex(&pa2, s, strlen(s)) == TZ_OK && memcmp(&pa, &pa2, sizeof pa) == 0);
    s = jstr(w, "encrypted_note");
    CHECK(s && tz_wire_decode_enc_note_hex(&en2, s, strlen(s)) == TZ_OK && memcmp(&en, &en2, sizeof en) == 0);
    s = jstr(w, "published_note");
    CHECK(s && tz_wire_decode_published_note_hex(&pn2, s, strlen(s)) == TZ_OK && memcmp(&pn, &pn2, sizeof pn) == 0);
    s = jstr(w, "note_memo");
    CHECK(s && tz_wire_decode_note_memo_hex(&nm2, s, strlen(s)) == TZ_OK && memcmp(&nm, &nm2, sizeof nm) == 0);
    printf("protocol_v1 wire_encoding entries checked: %zu\n", json_object_size(w));
    tz_keys_wipe(&keys);
}

/* canonical_wire_v1.json: every field of every section. */
static void canonical_wire(json_t *cw)
{
    size_t before = nchecked;
    json_t *in = json_object_get(cw, "inputs");
    json_t *jpa = json_object_get(cw, "payment_address");
    json_t *jen = json_object_get(cw, "encrypted_note");
    json_t *jpn = json_object_get(cw, "published_note");
    json_t *jnm = json_object_get(cw, "note_memo");
    json_t *jd = json_object_get(cw, "derived");
    CHECK(json_integer_value(json_object_get(cw, "version")) == 3);

    tz_felt msk = felt_hex(jstr(in, "master_sk"));
    uint32_t j = (uint32_t)json_integer_value(json_object_get(in, "address_index"));
    uint64_t v = (uint64_t)json_integer_value(json_object_get(in, "value"));
    uint64_t pos = (uint64_t)json_integer_value(json_object_get(in, "nullifier_pos"));
    tz_felt rseed = felt_hex(jstr(in, "rseed"));
    uint8_t coins_d[32], coins_v[32], memo_raw[TZ_NOTE_MEMO_BYTES], memo[TZ_NOTE_MEMO_BYTES];
    size_t n = 0, memo_len = 0;
    const char *s = jstr(in, "detect_ephemeral");
    CHECK(s && tz_hex_decode(coins_d, 32, &n, s, strlen(s)) == TZ_OK && n == 32);
    s = jstr(in, "view_ephemeral");
    CHECK(s && tz_hex_decode(coins_v, 32, &n, s, strlen(s)) == TZ_OK && n == 32);
    s = jstr(in, "memo_hex");
    CHECK(s && tz_hex_decode(memo_raw, sizeof memo_raw, &memo_len, s, strlen(s)) == TZ_OK);
    tz_note_memo_pad(memo, memo_raw, memo_len);

    tz_keys keys;
    tz_keys_derive(&keys, &msk);

    /* payment_address: the file's auth_root is a constant of the reference
     * generator (not the root derived from master_sk), taken as given */
    tz_felt auth_root = felt_hex(jstr(jpa, "auth_root"));
    static tz_payment_address pa, pa2;
    static uint8_t buf[TZ_NOTE_MEMO_WIRE_BYTES];
    address_of(&pa, &keys, j, &auth_root);
    check_felt(&pa.d_j, jpa, "d_j", "payment_address");
    check_felt(&pa.auth_root, jpa, "auth_root", "payment_address");
    check_felt(&pa.auth_pub_seed, jpa, "auth_pub_seed", "payment_address");
    check_felt(&pa.nk_tag, jpa, "nk_tag", "payment_address");
    check_hex(pa.ek_v, TZ_KEM_EK_BYTES, jpa, "ek_v", "payment_address");
    check_hex(pa.ek_d, TZ_KEM_EK_BYTES, jpa, "ek_d", "payment_address");
    tz_wire_encode_address(buf, &pa);
    check_hex(buf, TZ_PAYMENT_ADDRESS_BYTES, jpa, "canonical_hex", "payment_address");
    s = jstr(jpa, "canonical_hex");
    CHECK(s && tz_wire_decode_address_hex(&pa2, s, strlen(s)) == TZ_OK && memcmp(&pa, &pa2, sizeof pa) == 0);

    /* encrypted_note: rebuilt with the given ephemerals, no outgoing ct */
    static tz_enc_note en, en2;
    tz_felt cm;
    CHECK(tz_note_encrypt(&en, &cm, &pa, v, &rseed, memo, coins_d, coins_v, NULL) == TZ_OK);
    check_hex(en.ct_d, TZ_KEM_CT_BYTES, jen, "ct_d", "encrypted_note");
    check_hex(en.ct_v, TZ_KEM_CT_BYTES, jen, "ct_v", "encrypted_note");
    check_hex(en.encrypted_data, TZ_NOTE_DATA_BYTES, jen, "encrypted_data", "encrypted_note");
    CHECK_MSG(en.tag == json_integer_value(json_object_get(jen, "tag")), "tag %u", en.tag);
    nchecked++;
    tz_felt mh;
    tz_memo_ct_hash(&mh, &en);
    check_felt(&mh, jen, "memo_ct_hash", "encrypted_note");
    CHECK(tz_wire_encode_enc_note(buf, &en) == TZ_OK);
    check_hex(buf, TZ_ENC_NOTE_BYTES, jen, "canonical_hex", "encrypted_note");
    s = jstr(jen, "canonical_hex");
    CHECK(s && tz_wire_decode_enc_note_hex(&en2, s, strlen(s)) == TZ_OK && memcmp(&en, &en2, sizeof en) == 0);

    /* published_note */
    static tz_published_note pn, pn2;
    tz_felt rcm, otag, cm2;
    tz_note_rcm(&rcm, &rseed);
    tz_owner_tag(&otag, &pa.auth_root, &pa.auth_pub_seed, &pa.nk_tag);
    tz_note_cm(&cm2, &pa.d_j, v, &rcm, &otag);
    CHECK(tz_felt_eq(&cm, &cm2));
    check_felt(&cm, jpn, "cm", "published_note");
    pn.cm = cm;
    pn.enc = en;
    CHECK(tz_wire_encode_published_note(buf, &pn) == TZ_OK);
    check_hex(buf, TZ_PUBLISHED_NOTE_BYTES, jpn, "canonical_hex", "published_note");
    s = jstr(jpn, "canonical_hex");
    CHECK(s && tz_wire_decode_published_note_hex(&pn2, s, strlen(s)) == TZ_OK && memcmp(&pn, &pn2, sizeof pn) == 0);

    /* note_memo */
    static tz_note_memo nm, nm2;
    nm.index = pos;
    nm.note = pn;
    CHECK(json_integer_value(json_object_get(jnm, "index")) == (json_int_t)pos);
    nchecked++;
    check_felt(&cm, jnm, "cm", "note_memo");
    CHECK(tz_wire_encode_note_memo(buf, &nm) == TZ_OK);
    check_hex(buf, TZ_NOTE_MEMO_WIRE_BYTES, jnm, "canonical_hex", "note_memo");
    s = jstr(jnm, "canonical_hex");
    CHECK(s && tz_wire_decode_note_memo_hex(&nm2, s, strlen(s)) == TZ_OK && memcmp(&nm, &nm2, sizeof nm) == 0);

    /* derived: the address opens the decoded note and finds v, rseed; nf */
    static tz_note_receiver rcv;
    tz_note_plain plain;
    CHECK(tz_note_receiver_init(&rcv, &keys, j, &auth_root) == TZ_OK);
    CHECK(tz_note_detect(&rcv, &nm2.note.enc));
    CHECK(tz_note_open(&rcv, &nm2.note.cm, &nm2.note.enc, &plain) == TZ_OK);
    CHECK(plain.v == (uint64_t)json_integer_value(json_object_get(jd, "value")));
    nchecked++;
    check_felt(&plain.rseed, jd, "rseed", "derived");
    CHECK(memcmp(plain.memo, memo, sizeof memo) == 0);
    tz_felt nf;
    tz_note_nullifier(&nf, &rcv.nk_spend, &nm2.note.cm, nm2.index);
    check_felt(&nf, jd, "nullifier", "derived");
    tz_note_receiver_wipe(&rcv);
    sodium_memzero(&plain, sizeof plain);
    tz_keys_wipe(&keys);

    /* every leaf field of every section was compared */
    size_t fields = 0;
    const char *k;
    json_t *sec;
    json_object_foreach(cw, k, sec) {
        if (strcmp(k, "inputs") != 0 && strcmp(k, "version") != 0)
            fields += json_object_size(sec);
    }
    CHECK_MSG(nchecked - before == fields, "checked %zu of %zu fields", nchecked - before, fields);
    printf("canonical_wire_v1 fields checked: %zu of %zu (sections payment_address, encrypted_note, "
           "published_note, note_memo, derived; inputs used; version)\n",
           nchecked - before, fields);
}

/* Malformed input: every decoder rejects empty, short, long, NULL and a tag
 * >= 1024, and leaves its output untouched. */
static void negatives(json_t *proto)
{
    json_t *w = json_object_get(proto, "wire_encoding");
    size_t la = 0, le = 0, lp = 0, lm = 0;
    uint8_t *a = hex_bytes(w, "payment_address", &la);
    uint8_t *e = hex_bytes(w, "encrypted_note", &le);
    uint8_t *p = hex_bytes(w, "published_note", &lp);
    uint8_t *m = hex_bytes(w, "note_memo", &lm);
    CHECK(a && e && p && m);
    if (!a || !e || !p || !m)
        goto out;
    CHECK(la == TZ_PAYMENT_ADDRESS_BYTES && la == 2496);
    CHECK(le == TZ_ENC_NOTE_BYTES && le == 3455);
    CHECK(lp == TZ_PUBLISHED_NOTE_BYTES && lp == 3487);
    CHECK(lm == TZ_NOTE_MEMO_WIRE_BYTES && lm == 3495);

    static uint8_t big[TZ_NOTE_MEMO_WIRE_BYTES + 1];
    static tz_payment_address pa, pa0;
    static tz_enc_note en, en0;
    static tz_published_note pn, pn0;
    static tz_note_memo nm, nm0;
    memset(&pa, 0x5a, sizeof pa);
    memset(&en, 0x5a, sizeof en);
    memset(&pn, 0x5a, sizeof pn);
    memset(&nm, 0x5a, sizeof nm);
    pa0 = pa, en0 = en, pn0 = pn, nm0 = nm;
    size_t rejected = 0;
#define REJECT(call)           \
    do {                       \
        CHECK((call) == TZ_EINVAL); \
        rejected++;            \
    } while (0)
    /* lengths: 0, 1, len-1, len+1; NULL buffer */
    memcpy(big, a, la);
    REJECT(tz_wire_decode_address(&pa, big, 0));
    REJECT(tz_wire_decode_address(&pa, big, 1));
    REJECT(tz_wire_decode_address(&pa, big, la - 1));
    REJECT(tz_wire_decode_address(&pa, big, la + 1));
    REJECT(tz_wire_decode_address(&pa, NULL, la));
    memcpy(big, e, le);
    REJECT(tz_wire_decode_enc_note(&en, big, 0));
    REJECT(tz_wire_decode_enc_note(&en, big, le - 1));
    REJECT(tz_wire_decode_enc_note(&en, big, le + 1));
    REJECT(tz_wire_decode_enc_note(&en, big, lp));
    REJECT(tz_wire_decode_enc_note(&en, NULL, le));
    memcpy(big, p, lp);
    REJECT(tz_wire_decode_published_note(&pn, big, 0));
    REJECT(tz_wire_decode_published_note(&pn, big, lp - 1));
    REJECT(tz_wire_decode_published_note(&pn, big, lp + 1));
    REJECT(tz_wire_decode_published_note(&pn, big, le));
    REJECT(tz_wire_decode_published_note(&pn, NULL, lp));
    memcpy(big, m, lm);
    REJECT(tz_wire_decode_note_memo(&nm, big, 0));
    REJECT(tz_wire_decode_note_memo(&nm, big, lm - 1));
    REJECT(tz_wire_decode_note_memo(&nm, big, lm + 1));
    REJECT(tz_wire_decode_note_memo(&nm, big, lp));
    REJECT(tz_wire_decode_note_memo(&nm, NULL, lm));

    /* exact-size heap copies so ASan catches any read past the end */
    uint8_t *ex = malloc(lm);
    CHECK(ex != NULL);
    if (ex) {
        /* tag 1023 is accepted, 1024 and 0xffff rejected */
        static const uint16_t tags[] = {1023, 1024, 1025, 0x8000, 0xffff};
        for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
            int ok = tags[t] < 1024;
            memcpy(ex, e, le);
            tz_put_u16le(ex + TZ_KEM_CT_BYTES, tags[t]);
            tz_status st = tz_wire_decode_enc_note(&en, ex, le);
            CHECK(ok ? st == TZ_OK && en.tag == tags[t] : st == TZ_EINVAL);
            memcpy(ex, p, lp);
            tz_put_u16le(ex + 32 + TZ_KEM_CT_BYTES, tags[t]);
            st = tz_wire_decode_published_note(&pn, ex, lp);
            CHECK(ok ? st == TZ_OK && pn.enc.tag == tags[t] : st == TZ_EINVAL);
            memcpy(ex, m, lm);
            tz_put_u16le(ex + 40 + TZ_KEM_CT_BYTES, tags[t]);
            st = tz_wire_decode_note_memo(&nm, ex, lm);
            CHECK(ok ? st == TZ_OK && nm.note.enc.tag == tags[t] : st == TZ_EINVAL);
            if (ok) {
                pa = pa0, en = en0, pn = pn0, nm = nm0;
            } else {
                rejected += 3;
            }
        }
        free(ex);
    }
    CHECK(memcmp(&pa, &pa0, sizeof pa) == 0);
    CHECK(memcmp(&en, &en0, sizeof en) == 0);
    CHECK(memcmp(&pn, &pn0, sizeof pn) == 0);
    CHECK(memcmp(&nm, &nm0, sizeof nm) == 0);

    /* encoders refuse a tag >= 1024 and leave out alone */
    static tz_enc_note bad;
    static tz_published_note badp;
    static tz_note_memo badm;
    pattern_note(&bad);
    bad.tag = 1024;
    badp.enc = bad;
    badm.note = badp;
    memset(big, 0x77, sizeof big);
    CHECK(tz_wire_encode_enc_note(big, &bad) == TZ_EINVAL && big[0] == 0x77);
    CHECK(tz_wire_encode_published_note(big, &badp) == TZ_EINVAL && big[0] == 0x77);
    CHECK(tz_wire_encode_note_memo(big, &badm) == TZ_EINVAL && big[0] == 0x77);

    /* hex front-ends: odd, non-hex, short, long, 0x prefix */
    const char *hs = jstr(w, "published_note");
    size_t hl = strlen(hs);
    char *h2 = malloc(hl + 3);
    CHECK(h2 != NULL);
    if (h2) {
        REJECT(tz_wire_decode_published_note_hex(&pn, hs, hl - 1));
        REJECT(tz_wire_decode_published_note_hex(&pn, hs, hl - 2));
        REJECT(tz_wire_decode_published_note_hex(&pn, hs, 0));
        REJECT(tz_wire_decode_published_note_hex(&pn, NULL, hl));
        memcpy(h2, hs, hl);
        h2[hl] = '0', h2[hl + 1] = '0';
        REJECT(tz_wire_decode_published_note_hex(&pn, h2, hl + 2));
        h2[10] = 'g';
        REJECT(tz_wire_decode_published_note_hex(&pn, h2, hl));
        REJECT(tz_wire_decode_address_hex(&pa, hs, hl));
        REJECT(tz_wire_decode_enc_note_hex(&en, hs, hl));
        REJECT(tz_wire_decode_note_memo_hex(&nm, hs, hl));
        CHECK(memcmp(&pn, &pn0, sizeof pn) == 0 && memcmp(&pa, &pa0, sizeof pa) == 0);
        h2[0] = '0', h2[1] = 'x';
        memcpy(h2 + 2, hs, hl);
        CHECK(tz_wire_decode_published_note_hex(&pn, h2, hl + 2) == TZ_OK);
        CHECK(tz_wire_decode_published_note(&pn0, p, lp) == TZ_OK && memcmp(&pn, &pn0, sizeof pn) == 0);
        free(h2);
    }
    printf("malformed inputs rejected: %zu\n", rejected);

    /* round trips of random contents */
    size_t rt = 0;
    for (int it = 0; it < 50; it++) {
        static tz_note_memo x, y;
        static uint8_t enc[TZ_NOTE_MEMO_WIRE_BYTES];
        randombytes_buf(&x, sizeof x);
        x.note.enc.tag &= 0x3ff;
        CHECK(tz_wire_encode_note_memo(enc, &x) == TZ_OK);
        CHECK(tz_wire_decode_note_memo(&y, enc, sizeof enc) == TZ_OK);
        CHECK(y.index == x.index && memcmp(&y.note.cm, &x.note.cm, 32) == 0 &&
              memcmp(y.note.enc.ct_d, x.note.enc.ct_d, TZ_KEM_CT_BYTES) == 0 &&
              y.note.enc.tag == x.note.enc.tag &&
              memcmp(y.note.enc.outgoing_ct, x.note.enc.outgoing_ct, TZ_NOTE_OUT_BYTES) == 0 &&
              memcmp(y.note.enc.encrypted_data, x.note.enc.encrypted_data, TZ_NOTE_DATA_BYTES) == 0);
        static tz_payment_address q, r;
        static uint8_t ab[TZ_PAYMENT_ADDRESS_BYTES];
        randombytes_buf(&q, sizeof q);
        tz_wire_encode_address(ab, &q);
        CHECK(tz_wire_decode_address(&r, ab, sizeof ab) == TZ_OK && memcmp(&q, &r, sizeof q) == 0);
        rt++;
    }
    printf("random round trips: %zu\n", rt);
out:
    free(a);
    free(e);
    free(p);
    free(m);
}

int main(void)
{
    json_t *proto = tz_test_vectors("protocol_v1.json");
    json_t *cw = tz_test_vectors("canonical_wire_v1.json");
    if (!proto || !cw) {
        json_decref(proto);
        json_decref(cw);
        return tz_test_done("wire");
    }
    if (sodium_init() < 0)
        CHECK(0);
    protocol_wire(proto);
    canonical_wire(cw);
    negatives(proto);
    printf("vector fields compared: %zu\n", nchecked);
    json_decref(proto);
    json_decref(cw);
    return tz_test_done("wire");
}
