/* The reference's verified bridge flow (tests/data/verified_bridge_flow.json,
 * a shield, a transfer and an unshield with real STARK proofs; origin in
 * tests/data/gen_bridge_flow_kmsg.py) as kernel messages built field by
 * field from the JSON. Header-only, for test_kmsg.c and test_spend.c. */
#ifndef TZ_TEST_BRIDGE_H
#define TZ_TEST_BRIDGE_H

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/kmsg.h"
#include "tz_test_util.h"

/* Loads tests/data/<name> (records a failed check when it cannot). */
static inline json_t *tz_test_data_json(const char *name)
{
    const char *src = getenv("TZ_SOURCE_DIR");
    char path[512];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/tests/data/%s", src ? src : ".", name);
    json_t *doc = json_load_file(path, 0, &jerr);
    CHECK_MSG(doc != NULL, "cannot load %s: %s", path, jerr.text);
    return doc;
}

static inline int bridge_note(const json_t *o, tz_enc_note *e)
{
    json_int_t tag = json_integer_value(json_object_get(o, "tag"));
    e->tag = (uint16_t)tag;
    return json_is_integer(json_object_get(o, "tag")) && tag >= 0 && tag < 1024 &&
           tz_test_hex(o, "ct_d", e->ct_d, sizeof e->ct_d) &&
           tz_test_hex(o, "ct_v", e->ct_v, sizeof e->ct_v) &&
           tz_test_hex(o, "nonce", e->nonce, sizeof e->nonce) &&
           tz_test_hex(o, "encrypted_data", e->encrypted_data, sizeof e->encrypted_data) &&
           tz_test_hex(o, "outgoing_ct", e->outgoing_ct, sizeof e->outgoing_ct);
}

/* The fixture's {"type": "Stark", proof_bytes, output_preimage} into a
 * malloc'd proof (tz_kmsg_proof_free). */
static inline int bridge_proof(const json_t *o, tz_kmsg_proof *p)
{
    const char *hex = json_string_value(json_object_get(o, "proof_bytes"));
    const json_t *pre = json_object_get(o, "output_preimage");
    if (!hex || !json_is_array(pre))
        return 0;
    size_t hl = strlen(hex), n = 0;
    p->bytes = malloc(hl / 2 + 1);
    p->n_preimage = json_array_size(pre);
    p->preimage = malloc(p->n_preimage * sizeof(tz_felt) + 1);
    if (!p->bytes || !p->preimage || tz_hex_decode(p->bytes, hl / 2, &n, hex, hl) != TZ_OK)
        return 0;
    p->len = n;
    for (size_t i = 0; i < p->n_preimage; i++) {
        const char *f = json_string_value(json_array_get(pre, i));
        if (!f || tz_felt_from_hex(&p->preimage[i], f) != TZ_OK)
            return 0;
    }
    return 1;
}

static inline uint64_t bridge_u64(const json_t *o, const char *key)
{
    return (uint64_t)json_integer_value(json_object_get(o, key));
}

static inline int bridge_nfs(const json_t *arr, tz_felt *nf, size_t *n)
{
    *n = json_array_size(arr);
    if (*n < 1 || *n > TZ_KMSG_MAX_INPUTS)
        return 0;
    for (size_t i = 0; i < *n; i++) {
        const char *h = json_string_value(json_array_get(arr, i));
        if (!h || tz_felt_from_hex(&nf[i], h) != TZ_OK)
            return 0;
    }
    return 1;
}

/* Fills *m (zeroed first) with fixture[kind] for kind "shield", "transfer"
 * or "unshield"; 1 on success. Free with tz_kmsg_free. */
static inline int tz_test_bridge_msg(const json_t *fx, const char *kind, tz_kmsg *m)
{
    const json_t *o = json_object_get(fx, kind);
    memset(m, 0, sizeof *m);
    if (!o)
        return 0;
    if (!strcmp(kind, "shield")) {
        tz_kmsg_shield *s = &m->u.shield;
        m->kind = TZ_KMSG_SHIELD;
        s->fee = bridge_u64(o, "fee");
        s->v = bridge_u64(o, "v");
        s->producer_fee = bridge_u64(o, "producer_fee");
        return tz_test_felt(o, "pubkey_hash", &s->pubkey_hash) &&
               tz_test_felt(o, "client_cm", &s->client_cm) &&
               tz_test_felt(o, "producer_cm", &s->producer_cm) &&
               bridge_note(json_object_get(o, "client_enc"), &s->client_enc) &&
               bridge_note(json_object_get(o, "producer_enc"), &s->producer_enc) &&
               bridge_proof(json_object_get(o, "proof"), &s->proof);
    }
    if (!strcmp(kind, "transfer")) {
        tz_kmsg_transfer *t = &m->u.transfer;
        m->kind = TZ_KMSG_TRANSFER;
        t->fee = bridge_u64(o, "fee");
        return tz_test_felt(o, "root", &t->root) &&
               bridge_nfs(json_object_get(o, "nullifiers"), t->nf, &t->n_nf) &&
               tz_test_felt(o, "cm_1", &t->cm[0]) && tz_test_felt(o, "cm_2", &t->cm[1]) &&
               tz_test_felt(o, "cm_3", &t->cm[2]) &&
               bridge_note(json_object_get(o, "enc_1"), &t->enc[0]) &&
               bridge_note(json_object_get(o, "enc_2"), &t->enc[1]) &&
               bridge_note(json_object_get(o, "enc_3"), &t->enc[2]) &&
               bridge_proof(json_object_get(o, "proof"), &t->proof);
    }
    if (!strcmp(kind, "unshield")) {
        tz_kmsg_unshield *u = &m->u.unshield;
        m->kind = TZ_KMSG_UNSHIELD;
        u->v_pub = bridge_u64(o, "v_pub");
        u->fee = bridge_u64(o, "fee");
        const char *r = json_string_value(json_object_get(o, "recipient"));
        if (!r || strlen(r) > TZ_KMSG_MAX_RECIPIENT_BYTES)
            return 0;
        u->recipient_len = strlen(r);
        memcpy(u->recipient, r, u->recipient_len + 1);
        const json_t *ch = json_object_get(o, "enc_change");
        u->has_enc_change = !json_is_null(ch);
        if (u->has_enc_change && !bridge_note(ch, &u->enc_change))
            return 0;
        return tz_test_felt(o, "root", &u->root) &&
               bridge_nfs(json_object_get(o, "nullifiers"), u->nf, &u->n_nf) &&
               tz_test_felt(o, "cm_change", &u->cm_change) &&
               tz_test_felt(o, "cm_fee", &u->cm_fee) &&
               bridge_note(json_object_get(o, "enc_fee"), &u->enc_fee) &&
               bridge_proof(json_object_get(o, "proof"), &u->proof);
    }
    return 0;
}

#endif
