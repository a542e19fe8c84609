/* The BDS traversal state (store/bds.h) and key reservation
 * (tz_wallet_reserve_key) against the reference wallet's data:
 * tests/data/ref_base_wallet_bds.json is the reference's own fixture (fresh
 * states of addresses 0..2), tests/data/ref_bds_steps.json the states the
 * reference's code reaches from address 0's fresh state after N keys.
 * Every reserved path is checked by folding it from its leaf to the
 * fixture's auth_root. One full-tree derivation (address 0, ~10 s). */
#include <sys/stat.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/keys.h"
#include "core/xmss.h"
#include "store/address.h"
#include "store/bds.h"
#include "store/wallet.h"
#include "tz_test.h"
#include "tz_test_util.h"

static char dir[256];
static json_t *fixture, *steps;
static tz_keys keys;
static tz_felt ask0, ps0, root0;

static json_t *load_data(const char *name)
{
    char p[1024];
    const char *src = getenv("TZ_SOURCE_DIR");
    snprintf(p, sizeof p, "%s/tests/data/%s", src ? src : ".", name);
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    if (!j)
        fprintf(stderr, "%s: %s\n", p, e.text);
    return j;
}

static json_t *fixture_bds(size_t addr)
{
    return json_object_get(json_array_get(json_object_get(fixture, "addresses"), addr), "bds");
}

/* Compact text of a JSON value (keys in their order). */
static int same_json(const json_t *a, const json_t *b)
{
    char *x = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
    char *y = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    int eq = x && y && !strcmp(x, y);
    if (!eq && x && y) {
        size_t i = 0;
        while (x[i] && x[i] == y[i])
            i++;
        fprintf(stderr, "json differs at byte %zu:\n ours: %.160s\n  ref: %.160s\n", i,
                x + (i > 40 ? i - 40 : 0), y + (i > 40 ? i - 40 : 0));
    }
    free(x);
    free(y);
    return eq;
}

static int path_ok(uint32_t key_idx, const tz_felt path[TZ_BDS_DEPTH])
{
    tz_felt leaf, root;
    tz_xmss_leaf(&leaf, &ask0, &ps0, key_idx);
    tz_bds_fold(&root, &leaf, key_idx, path, &ps0);
    return tz_felt_eq(&root, &root0);
}

/* Parse then serialize gives back the reference's text, for every state. */
static void test_round_trip(void)
{
    tz_error err = {0};
    for (size_t a = 0; a < 3; a++) {
        tz_bds s;
        CHECK_MSG(tz_bds_parse(&s, fixture_bds(a), "fixture", &err) == TZ_OK, "%s", err.msg);
        json_t *j = tz_bds_to_json(&s);
        CHECK(j && same_json(j, fixture_bds(a)));
        json_decref(j);
    }
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(steps, "states"), i, st) {
        tz_bds s;
        CHECK_MSG(tz_bds_parse(&s, st, "steps", &err) == TZ_OK, "%s", err.msg);
        json_t *j = tz_bds_to_json(&s);
        CHECK_MSG(j && same_json(j, st), "state %zu", i);
        json_decref(j);
    }
}

/* From the reference's fresh state, each reserved key is the next index,
 * its path folds to auth_root, and the state after N keys is the
 * reference's, byte for byte (across the 2^8 and 2^10 boundaries). */
static void test_advance_matches_reference(void)
{
    tz_error err = {0};
    tz_bds s;
    CHECK(tz_bds_parse(&s, fixture_bds(0), "fixture", &err) == TZ_OK);
    json_t *states = json_object_get(steps, "states");
    size_t mark = 1, n_marks = json_array_size(states);
    uint32_t last = (uint32_t)json_integer_value(
        json_object_get(json_array_get(states, n_marks - 1), "next_index"));
    int bad_paths = 0, compared = 0;
    for (uint32_t n = 1; n <= last; n++) {
        uint32_t k = 99999;
        tz_felt path[TZ_BDS_DEPTH];
        if (tz_bds_next(&s, &ask0, &ps0, &k, path, &err) != TZ_OK) {
            CHECK_MSG(0, "step %u: %s", n, err.msg);
            return;
        }
        if (k != n - 1 || !path_ok(k, path))
            bad_paths++;
        json_t *want = json_array_get(states, mark);
        if (mark < n_marks &&
            json_integer_value(json_object_get(want, "next_index")) == (json_int_t)n) {
            json_t *got = tz_bds_to_json(&s);
            CHECK_MSG(got && same_json(got, want), "state after %u keys", n);
            json_decref(got);
            mark++;
            compared++;
        }
    }
    CHECK_MSG(bad_paths == 0, "%d bad paths", bad_paths);
    CHECK(compared == (int)n_marks - 1 && compared >= 20);
}

/* tz_address_derive (tz_bds_init) gives the reference's fresh record. */
static void test_fresh_derivation(void)
{
    tz_wallet_address a;
    json_t *bds = NULL;
    tz_error err = {0};
    CHECK(tz_address_derive(&keys, 0, 0, NULL, NULL, &a, &bds, &err) == TZ_OK);
    json_t *ra = json_array_get(json_object_get(fixture, "addresses"), 0);
    CHECK(tz_felt_eq(&a.auth_root, &root0));
    CHECK(tz_test_felt_is_hex(&a.d_j, json_string_value(json_object_get(ra, "d_j")), "d_j"));
    CHECK(tz_test_felt_is_hex(&a.nk_tag, json_string_value(json_object_get(ra, "nk_tag")),
                              "nk_tag"));
    CHECK(bds && same_json(bds, fixture_bds(0)));
    json_decref(bds);
}

/* The last key empties the path; then every reservation is refused. */
static void test_exhaustion(void)
{
    tz_error err = {0};
    tz_bds s, before;
    CHECK(tz_bds_parse(&s, fixture_bds(0), "fixture", &err) == TZ_OK);
    s.next_index = TZ_XMSS_LEAVES - 1; /* the last step computes nothing */
    uint32_t k = 0;
    tz_felt path[TZ_BDS_DEPTH];
    CHECK(tz_bds_next(&s, &ask0, &ps0, &k, path, &err) == TZ_OK);
    CHECK(k == TZ_XMSS_LEAVES - 1 && s.next_index == TZ_XMSS_LEAVES && !s.has_path);
    json_t *j = tz_bds_to_json(&s);
    CHECK(j && json_array_size(json_object_get(j, "auth_path")) == 0);
    CHECK(json_integer_value(json_object_get(j, "next_index")) == 65536);
    tz_bds back;
    CHECK(tz_bds_parse(&back, j, "x", &err) == TZ_OK && back.next_index == 65536);
    json_decref(j);
    before = s;
    k = 7;
    CHECK(tz_bds_next(&s, &ask0, &ps0, &k, path, &err) == TZ_ESTATE);
    CHECK_MSG(strstr(err.msg, "XMSS keys exhausted"), "%s", err.msg);
    CHECK(k == 7 && !memcmp(&s, &before, sizeof s));
}

/* Sets bds[key] (a path of object keys and array positions "k/3/k2") to
 * the JSON text `val`, or removes it when val is NULL; expects the parse
 * to fail with a message containing `want`. */
static void expect_bad(const char *key, const char *val, const char *want)
{
    json_t *b = json_deep_copy(fixture_bds(0));
    char buf[128];
    snprintf(buf, sizeof buf, "%s", key);
    json_t *parent = b;
    char *tok = strtok(buf, "/"), *next;
    while ((next = strtok(NULL, "/"))) {
        parent = json_is_array(parent) ? json_array_get(parent, (size_t)atoi(tok))
                                       : json_object_get(parent, tok);
        tok = next;
    }
    json_t *v = val ? json_loads(val, JSON_DECODE_ANY, NULL) : NULL;
    if (json_is_array(parent))
        json_array_set_new(parent, (size_t)atoi(tok), v);
    else if (v)
        json_object_set_new(parent, tok, v);
    else
        json_object_del(parent, tok);
    tz_bds s;
    memset(&s, 0xAB, sizeof s);
    tz_bds ref = s;
    tz_error err = {0};
    CHECK_MSG(tz_bds_parse(&s, b, "address 0 bds", &err) == TZ_EPARSE, "%s", key);
    CHECK_MSG(strstr(err.msg, want) && !strncmp(err.msg, "address 0 bds: ", 15), "%s: %s", key,
              err.msg);
    CHECK(!memcmp(&s, &ref, sizeof s));
    json_decref(b);
}

static void test_malformed(void)
{
    expect_bad("next_index", NULL, "next_index: missing");
    expect_bad("next_index", "65537", "next_index: expected an integer in range");
    expect_bad("next_index", "-1", "next_index: expected an integer");
    expect_bad("next_index", "\"3\"", "next_index: expected an integer");
    expect_bad("next_index", "65536", "auth_path: expected 0 entries");
    expect_bad("auth_path/3", "\"00\"", "auth_path[3]: expected 64 hex digits");
    expect_bad("auth_path", "[]", "auth_path: expected 16 entries");
    expect_bad("keep", "[]", "keep: expected 16 entries");
    expect_bad("keep/2/present", "1", "keep[2].present: expected a boolean");
    expect_bad("keep/5/value", NULL, "keep[5].value: missing");
    expect_bad("treehash", NULL, "treehash: missing");
    expect_bad("treehash/4/target_height", "5",
               "treehash[4].target_height: expected the instance's level");
    expect_bad("treehash/4/start_idx", "4294967296", "treehash[4].start_idx");
    expect_bad("treehash/6/node", "7", "treehash[6].node: expected an object");
    expect_bad("treehash/6/stack", "[{\"start_idx\": 0, \"height\": 6, \"value\": \"" 
               "0000000000000000000000000000000000000000000000000000000000000000\"}]",
               "treehash[6].stack[0].height: expected a height below");
    expect_bad("retain/14/nodes", "[1]", "retain[14].nodes[0]: expected 64 hex digits");
    expect_bad("retain/14/next", "true", "retain[14].next: expected an integer");
    expect_bad("retain/15", "[]", "retain[15]: expected an object");

    tz_bds s;
    tz_error err = {0};
    json_t *arr = json_array();
    CHECK(tz_bds_parse(&s, arr, "x", &err) == TZ_EPARSE && strstr(err.msg, "expected an object"));
    json_decref(arr);

    /* A state lacking a node it must hold is refused, unchanged. */
    json_t *one = json_array_get(json_object_get(steps, "states"), 1); /* next_index 1 */
    CHECK(tz_bds_parse(&s, one, "x", &err) == TZ_OK && s.next_index == 1);
    s.keep[0].present = false;
    tz_bds before = s;
    uint32_t k = 5;
    tz_felt path[TZ_BDS_DEPTH];
    CHECK(tz_bds_next(&s, &ask0, &ps0, &k, path, &err) == TZ_ESTATE);
    CHECK_MSG(strstr(err.msg, "missing BDS keep node at level 0"), "%s", err.msg);
    CHECK(k == 5 && !memcmp(&s, &before, sizeof s));
}

static char *bds_text_of(const char *file)
{
    json_t *w = json_load_file(file, 0, NULL);
    json_t *b = json_object_get(json_array_get(json_object_get(w, "addresses"), 0), "bds");
    char *t = b ? json_dumps(b, JSON_COMPACT) : NULL;
    json_decref(w);
    return t;
}

/* The reference's wallet file: reserving keys moves bds and
 * wots_key_indices, the save raises the floor, and the file from before
 * the reservation is then refused as a stale backup. */
static void test_wallet_reserve(void)
{
    char path[512], fpath[600], *orig = json_dumps(fixture, JSON_INDENT(2));
    snprintf(path, sizeof path, "%s/w.json", dir);
    snprintf(fpath, sizeof fpath, "%s.xmss-floor", path);
    tz_test_put_file(path, orig, 0600);
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK_MSG(tz_wallet_load(path, &w, &err, NULL) == TZ_OK, "%s", err.msg);
    if (!w)
        goto out;
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    char *before = tz_test_get_file(path);

    uint32_t k = 99;
    tz_felt p[TZ_BDS_DEPTH];
    CHECK_MSG(tz_wallet_reserve_key(w, 0, &keys, &k, p, &err) == TZ_OK, "%s", err.msg);
    CHECK(k == 0 && path_ok(0, p) && tz_wallet_wots_next(w, 0) == 1);
    CHECK(tz_wallet_reserve_key(w, 0, &keys, &k, p, &err) == TZ_OK);
    CHECK(k == 1 && path_ok(1, p) && tz_wallet_wots_next(w, 0) == 2);
    CHECK(tz_wallet_wots_next(w, 1) == 0);

    /* Refusals leave everything as it is. */
    CHECK(tz_wallet_reserve_key(w, 3, &keys, &k, p, &err) == TZ_EINVAL);
    tz_keys other;
    tz_felt sk2;
    tz_felt_tag(&sk2, "another wallet");
    tz_keys_derive(&other, &sk2);
    CHECK(tz_wallet_reserve_key(w, 0, &other, &k, p, &err) == TZ_EMISMATCH);
    tz_keys_wipe(&other);
    CHECK(tz_wallet_set_wots_index(w, 2, 4) == TZ_OK);
    CHECK(tz_wallet_reserve_key(w, 2, &keys, &k, p, &err) == TZ_ESTATE);
    CHECK_MSG(strstr(err.msg, "would reuse a key"), "%s", err.msg);
    CHECK(tz_wallet_set_wots_index(w, 2, 0) == TZ_OK);
    CHECK(k == 1 && tz_wallet_wots_next(w, 0) == 2);

    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    char *fl = tz_test_get_file(fpath);
    CHECK_MSG(fl && strstr(fl, "\"0\": 2,"), "%s", fl ? fl : "(none)");
    free(fl);
    char *now = tz_test_get_file(path);
    CHECK(now && strstr(now, "\"wots_key_indices\": {\n    \"0\": 2,\n    \"1\": 0,"));
    free(now);
    /* The saved bds is the reference's state after 2 keys. */
    char *bt = bds_text_of(path);
    char *want = json_dumps(json_array_get(json_object_get(steps, "states"), 2), JSON_COMPACT);
    CHECK(bt && want && !strcmp(bt, want));
    free(bt);
    free(want);
    tz_wallet_free(w);
    w = NULL;

    /* Reloaded, it goes on from key 2. */
    CHECK_MSG(tz_wallet_load(path, &w, &err, NULL) == TZ_OK, "%s", err.msg);
    if (w) {
        CHECK(tz_wallet_reserve_key(w, 0, &keys, &k, p, &err) == TZ_OK && k == 2 && path_ok(2, p));
        tz_wallet_free(w);
        w = NULL;
    }

    /* The file from before the reservation is a stale backup now. */
    tz_test_put_file(path, before, 0600);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_ESTATE && !w);
    CHECK_MSG(strstr(err.msg, "stale backup") &&
                  strstr(err.msg, "address 0 next_wots_index 0 is behind durable XMSS floor 2"),
              "%s", err.msg);
    free(before);
out:
    free(orig);
}

/* A record whose bds is missing or exhausted. */
static void test_wallet_reserve_refusals(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/x.json", dir);
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_new(path, &keys.master_sk, &w, &err) == TZ_OK);
    if (!w)
        return;
    tz_wallet_address a = {.index = 0, .auth_pub_seed = ps0, .auth_root = root0};
    CHECK(tz_wallet_add_address(w, &a) == TZ_OK);
    uint32_t k = 42;
    tz_felt p[TZ_BDS_DEPTH];
    CHECK(tz_wallet_reserve_key(w, 0, &keys, &k, p, &err) == TZ_EPARSE);
    CHECK_MSG(strstr(err.msg, "address 0 bds: missing"), "%s", err.msg);
    json_t *b = json_deep_copy(fixture_bds(0));
    json_object_set_new(b, "next_index", json_integer(65536));
    json_object_set_new(b, "auth_path", json_array());
    CHECK(tz_wallet_set_address_bds(w, 0, b) == TZ_OK);
    CHECK(tz_wallet_reserve_key(w, 0, &keys, &k, p, &err) == TZ_ESTATE);
    CHECK_MSG(strstr(err.msg, "XMSS keys exhausted for address 0"), "%s", err.msg);
    CHECK(k == 42 && tz_wallet_wots_next(w, 0) == 65536);
    tz_wallet_free(w);
}

int main(void)
{
    fixture = load_data("ref_base_wallet_bds.json");
    steps = load_data("ref_bds_steps.json");
    if (!fixture || !steps || tz_test_mkdtemp(dir, sizeof dir, "store-bds") != 0)
        return 2;
    tz_felt sk;
    if (!tz_test_felt(fixture, "master_sk", &sk))
        return 2;
    tz_keys_derive(&keys, &sk);
    tz_addr_keys ak;
    tz_addr_keys_derive(&ak, &keys, 0);
    ask0 = ak.ask_j;
    ps0 = ak.auth_pub_seed;
    tz_addr_keys_wipe(&ak);
    json_t *ra = json_array_get(json_object_get(fixture, "addresses"), 0);
    CHECK(tz_test_felt(ra, "auth_root", &root0));

    test_round_trip();
    test_advance_matches_reference();
    test_exhaustion();
    test_malformed();
    test_wallet_reserve();
    test_wallet_reserve_refusals();
    test_fresh_derivation();

    tz_keys_wipe(&keys);
    json_decref(fixture);
    json_decref(steps);
    tz_test_rmtree(dir);
    return tz_test_done("store_bds");
}
