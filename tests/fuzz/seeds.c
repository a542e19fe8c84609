/* Writes the generated part of the seed corpora (tests/fuzz/corpus/):
 * small valid kernel messages, bundles, prover arguments, wire encodings
 * from shared/vectors/canonical_wire_v1.json, and the files the store
 * reads. Deterministic; run after changing a format:
 *
 *   build/bin/fuzz-seeds tests/fuzz/corpus ../shared/vectors
 *
 * Hand-written edge cases live beside the generated files (names not
 * starting with "gen-"). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/kmsg.h"
#include "core/wire.h"
#include "spend/bundle.h"
#include "spend/prover_json.h"

static const char *root;

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/gen-%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void put_str(const char *target, const char *name, const char *s)
{
    put(target, name, s, strlen(s));
}

/* The selector byte then data (targets whose first byte picks a path). */
static void put_sel(const char *target, const char *name, uint8_t sel, const void *data,
                    size_t len)
{
    uint8_t *b = malloc(len + 1);
    b[0] = sel;
    memcpy(b + 1, data, len);
    put(target, name, b, len + 1);
    free(b);
}

static void fill_note(tz_enc_note *e, uint8_t seed)
{
    memset(e, seed, sizeof *e);
    e->tag = (uint16_t)(seed * 3 % 1024);
}

static void put_kmsg(const char *name, const tz_kmsg *m)
{
    uint8_t *enc = NULL;
    size_t len = 0;
    tz_error err = {0};
    if (tz_kmsg_encode(m, &enc, &len, &err) != TZ_OK) {
        fprintf(stderr, "encode %s: %s\n", name, err.msg);
        exit(1);
    }
    put("kmsg", name, enc, len);
    free(enc);
}

static void kmsg_seeds(void)
{
    static uint8_t bytes[5] = {0x70, 0x71, 0x72, 0x73, 0x74};
    static tz_felt pre[3];
    for (int i = 0; i < 3; i++)
        pre[i].b[0] = (uint8_t)(i + 1);
    tz_kmsg_proof proof = {bytes, sizeof bytes, pre, 3};
    static tz_kmsg m;

    memset(&m, 0, sizeof m);
    m.kind = TZ_KMSG_SHIELD;
    memset(m.u.shield.pubkey_hash.b, 1, 32);
    m.u.shield.fee = 100000;
    m.u.shield.v = 5;
    m.u.shield.producer_fee = 1;
    m.u.shield.proof = proof;
    memset(m.u.shield.client_cm.b, 2, 32);
    fill_note(&m.u.shield.client_enc, 3);
    memset(m.u.shield.producer_cm.b, 4, 32);
    fill_note(&m.u.shield.producer_enc, 5);
    put_kmsg("shield", &m);

    memset(&m, 0, sizeof m);
    m.kind = TZ_KMSG_TRANSFER;
    memset(m.u.transfer.root.b, 1, 32);
    m.u.transfer.n_nf = 2;
    memset(m.u.transfer.nf[0].b, 2, 32);
    memset(m.u.transfer.nf[1].b, 3, 32);
    m.u.transfer.fee = 7;
    for (int i = 0; i < 3; i++) {
        memset(m.u.transfer.cm[i].b, 4 + i, 32);
        fill_note(&m.u.transfer.enc[i], (uint8_t)(8 + i));
    }
    m.u.transfer.proof = proof;
    put_kmsg("transfer", &m);

    for (int with_change = 0; with_change < 2; with_change++) {
        memset(&m, 0, sizeof m);
        m.kind = TZ_KMSG_UNSHIELD;
        tz_kmsg_unshield *u = &m.u.unshield;
        memset(u->root.b, 1, 32);
        u->n_nf = 1;
        memset(u->nf[0].b, 2, 32);
        u->v_pub = 5;
        u->fee = 6;
        strcpy(u->recipient, "tz1\xc3\xa9t\xe2\x82\xac");
        u->recipient_len = strlen(u->recipient);
        memset(u->cm_change.b, with_change ? 7 : 0, 32);
        u->proof = proof;
        u->has_enc_change = with_change;
        if (with_change)
            fill_note(&u->enc_change, 8);
        memset(u->cm_fee.b, 9, 32);
        fill_note(&u->enc_fee, 10);
        put_kmsg(with_change ? "unshield-change" : "unshield", &m);
    }

    memset(&m, 0, sizeof m);
    m.kind = TZ_KMSG_DAL_POINTER;
    m.u.dal.kind = TZ_KMSG_DAL_TRANSFER;
    m.u.dal.n_chunks = 2;
    m.u.dal.chunks[0] = (tz_kmsg_dal_chunk){77, 3, 126000};
    m.u.dal.chunks[1] = (tz_kmsg_dal_chunk){78, 4, 5};
    memset(m.u.dal.payload_hash.b, 0x5A, 32);
    m.u.dal.payload_len = 126005;
    put_kmsg("dal", &m);

    /* the same proof as a bundle, and prover arguments */
    char *text = NULL;
    size_t len = 0;
    tz_error err = {0};
    if (tz_bundle_json(&proof, &text, &len, &err) != TZ_OK)
        exit(1);
    put("bundle", "small.json", text, len);
    free(text);
    tz_felt args[4] = {{{0}}};
    args[1].b[0] = 1;
    memset(args[2].b, 0xff, 31);
    args[2].b[31] = 0x07;
    args[3].b[5] = 0x42;
    if (tz_prover_args_json(args, 4, &text, &len, &err) != TZ_OK)
        exit(1);
    put("prover_json", "args.json", text, len);
    free(text);
}

/* Binary (selector 0..3) and hex (4..7) encodings of the four vectors. */
static void wire_seeds(const char *vectors)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/canonical_wire_v1.json", vectors);
    json_error_t je;
    json_t *v = json_load_file(path, 0, &je);
    if (!v) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        exit(1);
    }
    static const char *const names[4] = {"payment_address", "encrypted_note", "published_note",
                                         "note_memo"};
    static uint8_t bin[TZ_NOTE_MEMO_WIRE_BYTES];
    for (int i = 0; i < 4; i++) {
        const char *hex = json_string_value(json_object_get(json_object_get(v, names[i]),
                                                            "canonical_hex"));
        size_t n = 0;
        if (!hex || tz_hex_decode(bin, sizeof bin, &n, hex, strlen(hex)) != TZ_OK)
            exit(1);
        char name[64];
        snprintf(name, sizeof name, "%s.bin", names[i]);
        put_sel("wire", name, (uint8_t)i, bin, n);
        snprintf(name, sizeof name, "%s.hex", names[i]);
        put_sel("wire", name, (uint8_t)(4 + i), hex, strlen(hex));
    }
    json_decref(v);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz-seeds CORPUS_DIR VECTORS_DIR\n");
        return 2;
    }
    root = argv[1];
    kmsg_seeds();
    wire_seeds(argv[2]);

    /* fuzz_floor's wallet has fingerprint 0x0101...01 */
    char fp[65];
    memset(fp, '0', 64);
    for (int i = 0; i < 32; i++)
        fp[2 * i + 1] = '1';
    fp[64] = '\0';
    char text[512];
    snprintf(text, sizeof text,
             "{\"wallet_fingerprint\":\"%s\",\"addr_counter\":8,\"wots_key_indices\":"
             "{\"0\":5,\"2\":1,\"7\":18446744073709551615}}",
             fp);
    put_str("floor", "ok.json", text);
    snprintf(text, sizeof text,
             "{\"wallet_fingerprint\":\"%s\",\"addr_counter\":9,\"wots_key_indices\":{}}", fp);
    put_str("floor", "behind-counter.json", text);
    snprintf(text, sizeof text,
             "{\"wallet_fingerprint\":\"%s\",\"addr_counter\":3,\"wots_key_indices\":"
             "{\"2\":9}}",
             fp);
    put_str("floor", "behind-index.json", text);
    return 0;
}
