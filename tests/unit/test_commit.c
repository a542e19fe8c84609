/* Commitments and folds: protocol_v1.json sections notes, memo_ct_hash,
 * sighash, account_ids, and commitment_u64_max_v1.json; deposit ids. */
#include <jansson.h>

#include "core/commit.h"
#include "core/hash.h"
#include "tz_test_util.h"

static size_t check_notes(const json_t *root)
{
    const json_t *arr = json_object_get(root, "notes");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        tz_felt d_j, rseed, auth_root, pub_seed, nk_tag, nk_spend;
        tz_felt rcm_w, otag_w, cm_w, nf_w, rcm, otag, cm, cm2, nf;
        CHECK(tz_test_felt(e, "d_j", &d_j) && tz_test_felt(e, "rseed", &rseed));
        CHECK(tz_test_felt(e, "auth_root", &auth_root) && tz_test_felt(e, "auth_pub_seed", &pub_seed));
        CHECK(tz_test_felt(e, "nk_tag", &nk_tag) && tz_test_felt(e, "nk_spend", &nk_spend));
        CHECK(tz_test_felt(e, "rcm", &rcm_w) && tz_test_felt(e, "owner_tag", &otag_w));
        CHECK(tz_test_felt(e, "cm", &cm_w) && tz_test_felt(e, "nf", &nf_w));
        uint64_t v = tz_test_u64_str(e, "v");
        uint64_t pos = (uint64_t)json_integer_value(json_object_get(e, "pos"));

        tz_note_rcm(&rcm, &rseed);
        CHECK_MSG(tz_felt_eq(&rcm, &rcm_w), "notes[%zu] rcm", i);
        tz_owner_tag(&otag, &auth_root, &pub_seed, &nk_tag);
        CHECK_MSG(tz_felt_eq(&otag, &otag_w), "notes[%zu] owner_tag", i);
        tz_note_cm(&cm, &d_j, v, &rcm_w, &otag_w);
        CHECK_MSG(tz_felt_eq(&cm, &cm_w), "notes[%zu] cm", i);
        tz_note_cm_from_rseed(&cm2, &d_j, v, &rseed, &otag);
        CHECK(tz_felt_eq(&cm2, &cm_w));
        tz_note_nullifier(&nf, &nk_spend, &cm_w, pos);
        CHECK_MSG(tz_felt_eq(&nf, &nf_w), "notes[%zu] nf", i);

        /* every input matters */
        tz_note_cm(&cm2, &d_j, v + 1, &rcm_w, &otag_w);
        CHECK(!tz_felt_eq(&cm2, &cm_w));
        tz_note_nullifier(&nf, &nk_spend, &cm_w, pos + 1);
        CHECK(!tz_felt_eq(&nf, &nf_w));
        n++;
    }
    CHECK(n == 3 && n == json_array_size(arr));
    return n;
}

static size_t check_u64_max(void)
{
    json_t *v = tz_test_vectors("commitment_u64_max_v1.json");
    if (!v)
        return 0;
    tz_felt d_j, rcm, otag, vf, cm_w, cm;
    CHECK(tz_test_felt(v, "d_j", &d_j) && tz_test_felt(v, "rcm", &rcm));
    CHECK(tz_test_felt(v, "owner_tag", &otag) && tz_test_felt(v, "value_felt", &vf));
    CHECK(tz_test_felt(v, "cm", &cm_w));
    uint64_t value = tz_get_u64le(vf.b);
    CHECK(value == UINT64_MAX);
    tz_note_cm(&cm, &d_j, value, &rcm, &otag);
    CHECK_MSG(tz_felt_eq(&cm, &cm_w), "commitment_u64_max cm");
    json_decref(v);
    return 1;
}

static size_t check_memo_ct_hash(const json_t *root)
{
    const json_t *v = json_object_get(root, "memo_ct_hash");
    static tz_enc_note n;
    tz_felt want, got;
    CHECK(tz_test_hex(v, "ct_d", n.ct_d, sizeof n.ct_d) && tz_test_hex(v, "ct_v", n.ct_v, sizeof n.ct_v));
    CHECK(tz_test_hex(v, "nonce", n.nonce, sizeof n.nonce));
    CHECK(tz_test_hex(v, "encrypted_data", n.encrypted_data, sizeof n.encrypted_data));
    CHECK(tz_test_hex(v, "outgoing_ct", n.outgoing_ct, sizeof n.outgoing_ct));
    CHECK(tz_test_felt(v, "memo_ct_hash", &want));
    n.tag = (uint16_t)json_integer_value(json_object_get(v, "tag"));
    tz_memo_ct_hash(&got, &n);
    CHECK_MSG(tz_felt_eq(&got, &want), "memo_ct_hash");
    /* each field is bound, including the tag and the outgoing ciphertext */
    n.tag ^= 1;
    tz_memo_ct_hash(&got, &n);
    CHECK(!tz_felt_eq(&got, &want));
    n.tag ^= 1;
    n.outgoing_ct[184] ^= 1;
    tz_memo_ct_hash(&got, &n);
    CHECK(!tz_felt_eq(&got, &want));
    return 1;
}

static size_t check_sighash(const json_t *root)
{
    const json_t *arr = json_object_get(root, "sighash");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const json_t *items = json_object_get(e, "items");
        size_t k = json_array_size(items);
        tz_felt it[16], want, got;
        CHECK(k > 0 && k <= 16);
        if (k == 0 || k > 16)
            continue;
        for (size_t m = 0; m < k; m++) {
            const char *s = json_string_value(json_array_get(items, m));
            CHECK(s && tz_felt_from_hex(&it[m], s) == TZ_OK);
        }
        CHECK(tz_test_felt(e, "result", &want));
        tz_sighash_fold_list(&got, it, k);
        CHECK_MSG(tz_felt_eq(&got, &want), "sighash[%zu]", i);
        /* the same fold step by step */
        tz_felt acc = it[0];
        for (size_t m = 1; m < k; m++)
            tz_sighash_fold(&acc, &acc, &it[m]);
        CHECK(tz_felt_eq(&acc, &want));
        n++;
    }
    CHECK(n == 3 && n == json_array_size(arr));
    return n;
}

static size_t check_account_ids(const json_t *root)
{
    const json_t *arr = json_object_get(root, "account_ids");
    size_t i, n = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const json_t *s = json_object_get(e, "string");
        tz_felt want, got;
        CHECK(json_is_string(s) && tz_test_felt(e, "id", &want));
        tz_account_id(&got, json_string_value(s), json_string_length(s));
        CHECK_MSG(tz_felt_eq(&got, &want), "account_ids[%zu]", i);
        n++;
    }
    CHECK(n == 4 && n == json_array_size(arr));
    return n;
}

static void check_deposit(void)
{
    tz_felt dom, root, ps, blind, blind2, ph, ph2, ms, t;
    tz_default_auth_domain(&dom);
    tz_hash(&t, "tzel-auth-domain-local-dev-v1", 29);
    CHECK(tz_felt_eq(&dom, &t));
    tz_felt_from_u64(&root, 11);
    tz_felt_from_u64(&ps, 22);
    tz_felt_from_u64(&ms, 33);

    /* blind = H("tzel-deposit-blind" || master_sk || u32le j || u64le nonce) */
    uint8_t buf[18 + 32 + 4 + 8];
    memcpy(buf, "tzel-deposit-blind", 18);
    memcpy(buf + 18, ms.b, 32);
    tz_put_u32le(buf + 50, 3);
    tz_put_u64le(buf + 54, 7);
    tz_hash(&t, buf, sizeof buf);
    tz_deposit_blind(&blind, &ms, 3, 7);
    CHECK(tz_felt_eq(&blind, &t));
    tz_deposit_blind(&blind2, &ms, 3, 8);
    CHECK(!tz_felt_eq(&blind, &blind2));
    tz_deposit_blind(&blind2, &ms, 4, 7);
    CHECK(!tz_felt_eq(&blind, &blind2));

    /* pubkey_hash = fold(0x04, domain, root, pub_seed, blind) */
    tz_felt items[5];
    tz_felt_from_u32(&items[0], 4);
    items[1] = dom, items[2] = root, items[3] = ps, items[4] = blind;
    tz_felt acc = items[0];
    for (int k = 1; k < 5; k++)
        tz_sighash_fold(&acc, &acc, &items[k]);
    tz_deposit_pubkey_hash(&ph, &dom, &root, &ps, &blind);
    CHECK(tz_felt_eq(&ph, &acc));
    tz_deposit_pubkey_hash(&ph2, &dom, &root, &ps, &blind2);
    CHECK(!tz_felt_eq(&ph, &ph2));

    char rec[TZ_DEPOSIT_RECIPIENT_CHARS], hex[65];
    tz_deposit_recipient(rec, &ph);
    tz_felt_to_hex(hex, &ph);
    CHECK(strncmp(rec, "deposit:", 8) == 0 && strcmp(rec + 8, hex) == 0 && strlen(rec) == 72);
}

int main(void)
{
    json_t *root = tz_test_vectors("protocol_v1.json");
    if (!root)
        return tz_test_done("commit");
    printf("notes vectors checked: %zu\n", check_notes(root));
    printf("commitment_u64_max vectors checked: %zu\n", check_u64_max());
    printf("memo_ct_hash vectors checked: %zu\n", check_memo_ct_hash(root));
    printf("sighash vectors checked: %zu\n", check_sighash(root));
    printf("account_ids vectors checked: %zu\n", check_account_ids(root));
    check_deposit();
    json_decref(root);
    return tz_test_done("commit");
}
