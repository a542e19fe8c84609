/* Key hierarchy against protocol_v1.json: key_hierarchy, addresses (all
 * but the auth root, which test_xmss checks) and mlkem_seeds. */
#include <jansson.h>

#include "core/felt.h"
#include "core/hash.h"
#include "core/keys.h"
#include "tz_test_util.h"

static int felt_matches(const tz_felt *got, json_t *obj, const char *field)
{
    return tz_test_felt_is_hex(got, json_string_value(json_object_get(obj, field)), field);
}

int main(void)
{
    json_t *root = tz_test_vectors("protocol_v1.json");
    if (!root)
        return tz_test_done("keys");

    /* key_hierarchy */
    json_t *kh = json_object_get(root, "key_hierarchy");
    tz_felt msk;
    CHECK(tz_felt_from_hex(&msk, json_string_value(json_object_get(kh, "master_sk"))) == TZ_OK);
    tz_keys keys;
    tz_keys_derive(&keys, &msk);
    size_t nkh = 0;
    CHECK(felt_matches(&keys.master_sk, kh, "master_sk")); nkh++;
    CHECK(felt_matches(&keys.nk, kh, "nk")); nkh++;
    CHECK(felt_matches(&keys.ask_base, kh, "ask_base")); nkh++;
    CHECK(felt_matches(&keys.dsk, kh, "dsk")); nkh++;
    CHECK(felt_matches(&keys.incoming_seed, kh, "incoming_seed")); nkh++;
    CHECK(felt_matches(&keys.outgoing_seed, kh, "outgoing_seed")); nkh++;
    CHECK(felt_matches(&keys.view_root, kh, "view_root")); nkh++;
    CHECK(felt_matches(&keys.detect_root, kh, "detect_root")); nkh++;
    CHECK(nkh == json_object_size(kh));
    printf("key_hierarchy fields checked: %zu\n", nkh);

    /* addresses: everything derivable without the auth tree */
    json_t *addrs = json_object_get(root, "addresses"), *e;
    size_t i, naddr = 0;
    json_array_foreach(addrs, i, e) {
        uint32_t j = (uint32_t)json_integer_value(json_object_get(e, "j"));
        tz_addr_keys ak;
        tz_addr_keys_derive(&ak, &keys, j);
        CHECK(ak.index == j);
        CHECK_MSG(felt_matches(&ak.d_j, e, "d_j"), "address %u", j);
        CHECK_MSG(felt_matches(&ak.nk_spend, e, "nk_spend"), "address %u", j);
        CHECK_MSG(felt_matches(&ak.nk_tag, e, "nk_tag"), "address %u", j);
        CHECK_MSG(felt_matches(&ak.auth_pub_seed, e, "auth_pub_seed"), "address %u", j);
        tz_felt ps, nks, nkt;
        tz_auth_pub_seed(&ps, &ak.ask_j);
        CHECK(tz_felt_eq(&ps, &ak.auth_pub_seed));
        tz_nk_spend(&nks, &keys.nk, &ak.d_j);
        tz_nk_tag(&nkt, &nks);
        CHECK(tz_felt_eq(&nks, &ak.nk_spend) && tz_felt_eq(&nkt, &ak.nk_tag));
        /* the seeds in the address keys equal tz_mlkem_seed's */
        uint8_t sv[TZ_KEM_SEED_BYTES], sd[TZ_KEM_SEED_BYTES];
        tz_mlkem_seed(sv, &keys.view_root, "mlkem-v", "mlkem-v2", j);
        tz_mlkem_seed(sd, &keys.detect_root, "mlkem-d", "mlkem-d2", j);
        CHECK_MEM(sv, ak.seed_v, sizeof sv);
        CHECK_MEM(sd, ak.seed_d, sizeof sd);
        tz_addr_keys_wipe(&ak);
        CHECK(tz_felt_is_zero(&ak.ask_j) && ak.seed_v[0] == 0 && ak.seed_d[63] == 0);
        naddr++;
    }
    CHECK(naddr == json_array_size(addrs) && naddr > 0);
    printf("addresses checked (keys, no auth root): %zu\n", naddr);

    /* mlkem_seeds */
    json_t *seeds = json_object_get(root, "mlkem_seeds");
    size_t nseed = 0;
    json_array_foreach(seeds, i, e) {
        const char *kind = json_string_value(json_object_get(e, "kind"));
        uint32_t j = (uint32_t)json_integer_value(json_object_get(e, "j"));
        const char *want = json_string_value(json_object_get(e, "seed"));
        int view = strcmp(kind, "view") == 0;
        const tz_felt *r = view ? &keys.view_root : &keys.detect_root;
        CHECK_MSG(felt_matches(r, e, "root"), "mlkem_seeds[%zu]", i);
        uint8_t seed[TZ_KEM_SEED_BYTES];
        tz_mlkem_seed(seed, r, view ? "mlkem-v" : "mlkem-d", view ? "mlkem-v2" : "mlkem-d2", j);
        char hex[2 * TZ_KEM_SEED_BYTES + 1];
        tz_hex_encode(hex, seed, sizeof seed);
        CHECK_MSG(want && strcmp(hex, want) == 0, "mlkem_seeds[%zu] %s j=%u got %s", i, kind, j, hex);
        tz_addr_keys ak;
        tz_addr_keys_derive(&ak, &keys, j);
        CHECK_MEM(view ? ak.seed_v : ak.seed_d, seed, sizeof seed);
        tz_addr_keys_wipe(&ak);
        nseed++;
    }
    CHECK(nseed == json_array_size(seeds) && nseed > 0);
    printf("mlkem_seeds checked: %zu\n", nseed);

    /* fingerprint = H(master_sk); different master keys differ */
    tz_felt fp, h, msk2 = msk;
    tz_wallet_fingerprint(&fp, &msk);
    tz_hash(&h, msk.b, sizeof msk.b);
    CHECK(tz_felt_eq(&fp, &h));
    msk2.b[0] ^= 1;
    tz_keys keys2;
    tz_keys_derive(&keys2, &msk2);
    CHECK(!tz_felt_eq(&keys2.nk, &keys.nk) && !tz_felt_eq(&keys2.dsk, &keys.dsk));
    tz_wallet_fingerprint(&h, &msk2);
    CHECK(!tz_felt_eq(&fp, &h));

    /* distinct addresses get distinct keys */
    tz_addr_keys a0, a1;
    tz_addr_keys_derive(&a0, &keys, 0);
    tz_addr_keys_derive(&a1, &keys, 1);
    CHECK(!tz_felt_eq(&a0.d_j, &a1.d_j) && !tz_felt_eq(&a0.ask_j, &a1.ask_j));
    CHECK(memcmp(a0.seed_v, a1.seed_v, TZ_KEM_SEED_BYTES) != 0);
    CHECK(memcmp(a0.seed_v, a0.seed_d, TZ_KEM_SEED_BYTES) != 0);
    tz_addr_keys_wipe(&a0);
    tz_addr_keys_wipe(&a1);

    tz_keys_wipe(&keys);
    tz_keys_wipe(&keys2);
    CHECK(tz_felt_is_zero(&keys.master_sk) && tz_felt_is_zero(&keys.nk) &&
          tz_felt_is_zero(&keys.detect_root));
    json_decref(root);
    return tz_test_done("keys");
}
