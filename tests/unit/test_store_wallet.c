/* Wallet file: load/save round trips (unknown fields, u64 max, reference
 * fixture), refusal of bad files, permission warning, xmss floor, our
 * sync state. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "store/fsys.h"
#include "store/jsonnum.h"
#include "store/wallet.h"
#include "store/wallet_path.h"
#include "tz_test_util.h"

static char dir[256];

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static int warn_calls;
static char warn_last[1024];
static void warn_cb(const char *msg)
{
    warn_calls++;
    snprintf(warn_last, sizeof warn_last, "%s", msg);
}

static const char *felt_a = "1111111111111111111111111111111111111111111111111111111111111101";
static const char *felt_b = "2222222222222222222222222222222222222222222222222222222222222202";

/* A small wallet with unknown fields at several depths and u64 max values. */
static char *make_wallet_text(const char *v, const char *extra_top)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "{\n"
             "  \"master_sk\": \"%s\",\n"
             "  \"addresses\": [\n"
             "    {\n"
             "      \"index\": 0,\n"
             "      \"d_j\": \"%s\",\n"
             "      \"auth_root\": \"%s\",\n"
             "      \"auth_pub_seed\": \"%s\",\n"
             "      \"nk_tag\": \"%s\",\n"
             "      \"bds\": {\n"
             "        \"next_index\": 3,\n"
             "        \"auth_path\": [\n"
             "          \"%s\"\n"
             "        ],\n"
             "        \"keep\": [\n"
             "          {\n"
             "            \"present\": false,\n"
             "            \"value\": \"%s\"\n"
             "          }\n"
             "        ],\n"
             "        \"treehash\": [],\n"
             "        \"retain\": [\n"
             "          {\n"
             "            \"nodes\": [],\n"
             "            \"next\": 0\n"
             "          }\n"
             "        ],\n"
             "        \"future_bds_field\": 1.50\n"
             "      },\n"
             "      \"label\": \"savings\"\n"
             "    }\n"
             "  ],\n"
             "  \"addr_counter\": 1,\n"
             "  \"notes\": [\n"
             "    {\n"
             "      \"nk_spend\": \"%s\",\n"
             "      \"nk_tag\": \"%s\",\n"
             "      \"auth_root\": \"%s\",\n"
             "      \"d_j\": \"%s\",\n"
             "      \"v\": %s,\n"
             "      \"rseed\": \"%s\",\n"
             "      \"cm\": \"%s\",\n"
             "      \"index\": 7,\n"
             "      \"addr_index\": 0,\n"
             "      \"memo_hint\": \"héllo \\\"quoted\\\" \\u0001\"\n"
             "    }\n"
             "  ],\n"
             "  \"scanned\": 18446744073709551615,\n"
             "  \"wots_key_indices\": {\n"
             "    \"0\": 3\n"
             "  },\n"
             "  \"pending_spends\": [],\n"
             "  \"pending_deposits\": [\n"
             "    {\n"
             "      \"pubkey_hash\": \"%s\",\n"
             "      \"blind\": \"%s\",\n"
             "      \"address_index\": 0,\n"
             "      \"auth_domain\": \"%s\",\n"
             "      \"amount\": 18446744073709551615,\n"
             "      \"operation_hash\": null,\n"
             "      \"shielded_cm\": \"%s\"\n"
             "    }\n"
             "  ],\n"
             "  \"deposit_nonce\": 18446744073709551615,\n"
             "  \"future\": {\n"
             "    \"nested\": [\n"
             "      1,\n"
             "      -5,\n"
             "      2.50,\n"
             "      1e400,\n"
             "      123456789012345678901234567890,\n"
             "      {\n"
             "        \"x\": null,\n"
             "        \"y\": true\n"
             "      }\n"
             "    ],\n"
             "    \"s\": \"tzel\"\n"
             "  }%s\n"
             "}",
             felt_a, felt_b, felt_a, felt_b, felt_a, felt_b, felt_a, felt_b, felt_a, felt_b,
             felt_a, v, felt_b, felt_a, felt_a, felt_b, felt_a, felt_b, extra_top);
    return buf;
}

static json_t *parse_exact(const char *text)
{
    json_t *doc = NULL;
    if (tz_json_load_exact(text, strlen(text), "test", &doc, NULL) != TZ_OK)
        return NULL;
    return doc;
}

static int count_temps(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void test_round_trip_unknown_and_u64(void)
{
    char path[512];
    path_in(path, sizeof path, "rt.json");
    const char *orig = make_wallet_text("18446744073709551615", "");
    tz_test_put_file(path, orig, 0600);

    tz_error err = {0};
    tz_wallet *w = NULL;
    tz_status st = tz_wallet_load(path, &w, &err, warn_cb);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    if (st)
        return;
    CHECK(w->n_notes == 1 && w->notes[0].v == UINT64_MAX);
    CHECK(w->scanned == UINT64_MAX);
    CHECK(w->deposit_nonce == UINT64_MAX);
    CHECK(w->n_deposits == 1 && w->deposits[0].amount == UINT64_MAX);
    CHECK(w->deposits[0].has_shielded_cm);
    CHECK(w->n_addresses == 1 && w->addresses[0].index == 0);
    CHECK(w->notes[0].index == 7);
    CHECK(tz_wallet_wots_next(w, 0) == 3);

    /* Several save/load cycles: the text is identical to the original
     * (same layout as serde's pretty printer), unknown fields included. */
    for (int cycle = 0; cycle < 3; cycle++) {
        st = tz_wallet_save(w, &err);
        CHECK_MSG(st == TZ_OK, "%s", err.msg);
        tz_wallet_free(w);
        w = NULL;
        char *now = tz_test_get_file(path);
        CHECK_MSG(now && strcmp(now, orig) == 0, "cycle %d:\n%s", cycle, now ? now : "(null)");
        free(now);
        st = tz_wallet_load(path, &w, &err, NULL);
        CHECK_MSG(st == TZ_OK, "%s", err.msg);
        if (st)
            return;
        CHECK(w->notes[0].v == UINT64_MAX && w->deposits[0].amount == UINT64_MAX);
    }
    /* Mutating typed fields keeps the unknown keys of the same objects. */
    w->notes[0].v = 5;
    w->deposits[0].amount = (uint64_t)INT64_MAX + 1;
    w->scanned = 9;
    st = tz_wallet_save(w, &err);
    CHECK(st == TZ_OK);
    char *now = tz_test_get_file(path);
    json_t *doc = now ? parse_exact(now) : NULL;
    json_t *ref = parse_exact(orig);
    CHECK(doc && ref);
    if (doc && ref) {
        json_t *n0 = json_array_get(json_object_get(doc, "notes"), 0);
        CHECK(json_integer_value(json_object_get(n0, "v")) == 5);
        CHECK(json_equal(json_object_get(n0, "memo_hint"),
                         json_object_get(json_array_get(json_object_get(ref, "notes"), 0),
                                         "memo_hint")));
        CHECK(json_equal(json_object_get(doc, "future"), json_object_get(ref, "future")));
        CHECK(json_equal(json_object_get(doc, "addresses"), json_object_get(ref, "addresses")));
        CHECK(json_integer_value(json_object_get(doc, "scanned")) == 9);
    }
    CHECK(now && strstr(now, "\"amount\": 9223372036854775808,"));
    CHECK(now && strstr(now, "1e400") && strstr(now, "2.50") &&
          strstr(now, "123456789012345678901234567890"));
    json_decref(doc);
    json_decref(ref);
    free(now);
    tz_wallet_free(w);
}

static void test_reference_fixture(void)
{
    const char *src = getenv("TZ_SOURCE_DIR");
    char fix[512], path[512];
    snprintf(fix, sizeof fix, "%s/tests/data/wallet_ref_bds.json", src ? src : ".");
    char *orig = tz_test_get_file(fix);
    CHECK_MSG(orig != NULL, "fixture %s missing", fix);
    if (!orig)
        return;
    path_in(path, sizeof path, "ref.json");
    tz_test_put_file(path, orig, 0600);
    tz_error err = {0};
    tz_wallet *w = NULL;
    tz_status st = tz_wallet_load(path, &w, &err, NULL);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    if (st) {
        free(orig);
        return;
    }
    CHECK(w->n_addresses == 2 && w->addr_counter == 2);
    CHECK(w->n_notes == 2 && w->notes[0].v == 1000000 && w->notes[1].index == 17 &&
          w->notes[1].addr_index == 1);
    CHECK(w->scanned == 42 && w->deposit_nonce == 2);
    CHECK(w->n_spends == 2 && w->spends[0].n_nullifiers == 2 && w->spends[1].n_nullifiers == 1);
    CHECK(w->n_deposits == 2 && w->deposits[0].has_shielded_cm &&
          !w->deposits[1].has_shielded_cm && w->deposits[1].amount == 70);
    CHECK(tz_wallet_wots_next(w, 0) == 2 && tz_wallet_wots_next(w, 1) == 0);
    CHECK(!w->sync.has_frontier && w->sync.nullifiers_checked == 0);
    char hex[65];
    tz_felt_to_hex(hex, &w->notes[0].nk_tag);
    CHECK(strstr(orig, hex) != NULL);

    /* Saving without changes reproduces the reference's bytes. */
    st = tz_wallet_save(w, &err);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    char *now = tz_test_get_file(path);
    CHECK(now && strcmp(now, orig) == 0);
    free(now);

    /* Removing a note, a spend and a deposit keeps the others intact. */
    tz_wallet_remove_note(w, 0);
    tz_wallet_remove_spend(w, 0);
    tz_wallet_remove_deposit(w, 1);
    st = tz_wallet_save(w, &err);
    CHECK(st == TZ_OK);
    tz_wallet_free(w);
    w = NULL;
    st = tz_wallet_load(path, &w, &err, NULL);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    if (!st) {
        CHECK(w->n_notes == 1 && w->notes[0].index == 17);
        CHECK(w->n_spends == 1 && w->spends[0].n_nullifiers == 1);
        CHECK(w->n_deposits == 1 && w->deposits[0].has_shielded_cm);
        json_t *sp = json_array_get(json_object_get(w->doc, "pending_spends"), 0);
        CHECK(!strcmp(json_string_value(json_object_get(sp, "description")), "unshield 10"));
        CHECK(json_object_get(sp, "operation_hash") == NULL);
        json_t *a0 = json_array_get(json_object_get(w->doc, "addresses"), 0);
        CHECK(json_array_size(json_object_get(json_object_get(a0, "bds"), "auth_path")) == 16);
    }
    tz_wallet_free(w);
    free(orig);
}

static void expect_refused(const char *name, const char *text, tz_status want,
                           const char *needle)
{
    char path[512];
    path_in(path, sizeof path, name);
    if (text)
        tz_test_put_file(path, text, 0600);
    tz_error err = {0};
    tz_wallet *w = (tz_wallet *)0x1;
    tz_status st = tz_wallet_load(path, &w, &err, NULL);
    CHECK_MSG(st == want, "%s: got %d (%s)", name, st, err.msg);
    CHECK_MSG(w == (tz_wallet *)0x1, "%s: out touched", name);
    CHECK_MSG(strstr(err.msg, path) != NULL, "%s: message lacks path: %s", name, err.msg);
    if (needle)
        CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message lacks '%s': %s", name, needle,
                  err.msg);
    /* The reference's wording starts the message. */
    if (want == TZ_ENOTFOUND)
        CHECK_MSG(!strncmp(err.msg, "read wallet: No such file or directory (os error 2): ", 53),
                  "%s: %s", name, err.msg);
    if (want == TZ_EPARSE)
        CHECK_MSG(!strncmp(err.msg, "parse wallet: ", 14), "%s: %s", name, err.msg);
    if (text) {
        char *after = tz_test_get_file(path);
        CHECK_MSG(after && !strcmp(after, text), "%s: file changed", name);
        free(after);
    }
}

static char *replace_once(const char *s, const char *from, const char *to)
{
    static char buf[16384];
    const char *p = strstr(s, from);
    if (!p) {
        fprintf(stderr, "replace_once: '%s' not found\n", from);
        exit(2);
    }
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    return buf;
}

static void test_bad_files(void)
{
    char good[8192];
    snprintf(good, sizeof good, "%s", make_wallet_text("10", ""));
    expect_refused("missing.json", NULL, TZ_ENOTFOUND, "not found");
    expect_refused("empty.json", "", TZ_EPARSE, "empty");
    expect_refused("blank.json", "  \n\n", TZ_EPARSE, "empty");
    char half[4096];
    snprintf(half, sizeof half, "%.*s", (int)(strlen(good) / 2), good);
    expect_refused("torn.json", half, TZ_EPARSE, "not valid JSON");
    expect_refused("text.json", "this is not json", TZ_EPARSE, "not valid JSON");
    expect_refused("array.json", "[1, 2]", TZ_EPARSE, "object");

    char shortfelt[96];
    snprintf(shortfelt, sizeof shortfelt, "\"cm\": \"%.63s\"", felt_a);
    char longfelt[96];
    snprintf(longfelt, sizeof longfelt, "\"cm\": \"%s0\"", felt_a);
    char cmfield[96];
    snprintf(cmfield, sizeof cmfield, "\"cm\": \"%s\"", felt_a);
    expect_refused("short.json", replace_once(good, cmfield, shortfelt), TZ_EPARSE,
                   "notes[0].cm");
    expect_refused("long.json", replace_once(good, cmfield, longfelt), TZ_EPARSE, "notes[0].cm");
    char nonhex[96];
    snprintf(nonhex, sizeof nonhex, "\"cm\": \"%.63sg\"", felt_a);
    expect_refused("nonhex.json", replace_once(good, cmfield, nonhex), TZ_EPARSE, "notes[0].cm");
    expect_refused("prefixed.json",
                   replace_once(good, "\"master_sk\": \"11", "\"master_sk\": \"0x"), TZ_EPARSE,
                   "master_sk");
    expect_refused("type.json", replace_once(good, "\"addr_counter\": 1", "\"addr_counter\": \"1\""),
                   TZ_EPARSE, "addr_counter");
    expect_refused("neg.json", replace_once(good, "\"v\": 10", "\"v\": -10"), TZ_EPARSE,
                   "notes[0].v");
    expect_refused("big.json", replace_once(good, "\"v\": 10", "\"v\": 18446744073709551616"),
                   TZ_EPARSE, "notes[0].v");
    expect_refused("real.json", replace_once(good, "\"v\": 10", "\"v\": 10.0"), TZ_EPARSE,
                   "notes[0].v");
    expect_refused("u32.json", replace_once(good, "\"addr_counter\": 1", "\"addr_counter\": 4294967296"),
                   TZ_EPARSE, "addr_counter");
    expect_refused("nomaster.json", replace_once(good, "\"master_sk\"", "\"master_sk_\""),
                   TZ_EPARSE, "master_sk");
    expect_refused("notesobj.json", replace_once(good, "\"notes\": [", "\"notes\": {\"x\": ["),
                   TZ_EPARSE, NULL);
    expect_refused("dup.json", replace_once(good, "\"addr_counter\": 1", "\"addr_counter\": 1, \"addr_counter\": 2"),
                   TZ_EPARSE, NULL);
    expect_refused("wots.json", replace_once(good, "\"0\": 3", "\"x\": 3"), TZ_EPARSE,
                   "wots_key_indices");
    expect_refused("deposit.json",
                   replace_once(good, "\"operation_hash\": null", "\"operation_hash\": 5"),
                   TZ_EPARSE, "pending_deposits[0].operation_hash");
    expect_refused("sync.json", replace_once(good, "\"future\"", "\"tzel_c_sync\": {\"frontier\": [\"00\"]}, \"future\""),
                   TZ_EPARSE, "tzel_c_sync.frontier");
}

static void test_permission_warning(void)
{
    char path[512];
    path_in(path, sizeof path, "perm.json");
    tz_test_put_file(path, make_wallet_text("1", ""), 0600);
    tz_error err;
    tz_wallet *w = NULL;
    warn_calls = 0;
    CHECK(tz_wallet_load(path, &w, &err, warn_cb) == TZ_OK);
    CHECK(warn_calls == 0);
    tz_wallet_free(w);
    chmod(path, 0644);
    w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, warn_cb) == TZ_OK);
    CHECK(warn_calls == 1 && strstr(warn_last, path) && strstr(warn_last, "644"));
    /* A save makes it private again. */
    CHECK(w && tz_wallet_save(w, &err) == TZ_OK);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    tz_wallet_free(w);
}

static void test_new_wallet_layout(void)
{
    char path[512];
    path_in(path, sizeof path, "new.json");
    tz_felt sk;
    CHECK(tz_felt_from_hex(&sk, felt_a) == TZ_OK);
    tz_wallet *w = NULL;
    tz_error err;
    CHECK(tz_wallet_new(path, &sk, &w, &err) == TZ_OK);
    if (!w)
        return;
    tz_wallet_address a = {.index = 0};
    CHECK(tz_felt_from_hex(&a.d_j, felt_b) == TZ_OK);
    a.auth_root = a.auth_pub_seed = a.nk_tag = a.d_j;
    CHECK(tz_wallet_add_address(w, &a) == TZ_OK);
    tz_wallet_address b = a;
    b.index = 1;
    CHECK(tz_wallet_add_address(w, &b) == TZ_OK);
    CHECK(tz_wallet_set_address_bds(w, 1, json_pack("{s:i, s:[]}", "next_index", 5,
                                                    "auth_path")) == TZ_OK);
    CHECK(tz_wallet_wots_next(w, 1) == 5 && tz_wallet_wots_next(w, 0) == 0);
    CHECK(tz_wallet_set_address_bds(w, 7, json_object()) == TZ_EINVAL);
    CHECK(tz_wallet_set_address_bds(w, 0, json_array()) == TZ_EINVAL);
    w->addr_counter = 2;
    tz_wallet_note n = {.v = 42, .index = 3, .addr_index = 0};
    n.cm = a.d_j;
    CHECK(tz_wallet_add_note(w, &n) == TZ_OK);
    tz_pending_deposit d = {.address_index = 0, .amount = UINT64_MAX};
    CHECK(tz_wallet_add_deposit(w, &d) == TZ_OK);
    tz_felt nf[2] = {a.d_j, sk};
    CHECK(tz_wallet_add_spend(w, nf, 2, "send", "opHash") == TZ_OK);
    w->deposit_nonce = 1;
    CHECK_MSG(tz_wallet_save(w, &err) == TZ_OK, "%s", err.msg);
    tz_wallet_free(w);

    char *text = tz_test_get_file(path);
    CHECK(text != NULL);
    if (!text)
        return;
    /* The reference's key order and serde's pretty layout. */
    const char *order[] = {"\"master_sk\"", "\"addresses\"", "\"addr_counter\"", "\"notes\"",
                           "\"scanned\"", "\"wots_key_indices\"", "\"pending_spends\"",
                           "\"pending_deposits\"", "\"deposit_nonce\""};
    const char *prev = text;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *p = strstr(text, order[i]);
        CHECK_MSG(p && p >= prev, "key %s out of order", order[i]);
        if (p)
            prev = p;
    }
    CHECK(!strncmp(text, "{\n  \"master_sk\": \"", 18));
    CHECK(text[strlen(text) - 1] == '}');
    CHECK(strstr(text, "\"bds\": {}"));
    CHECK(strstr(text, "\"nk_tag\": \"2222222222222222222222222222222222222222222222222222222222222202\",\n"
                       "      \"bds\": {\n        \"next_index\": 5,\n        \"auth_path\": []\n      }"));
    /* Adding addresses records nothing in wots_key_indices (the reference
     * fills it in on the next load, see test_wots_on_load). */
    CHECK(strstr(text, "\"wots_key_indices\": {},\n"));
    CHECK(strstr(text, "\"amount\": 18446744073709551615,\n      \"operation_hash\": null"));
    CHECK(strstr(text, "\"description\": \"send\",\n      \"operation_hash\": \"opHash\""));
    CHECK(!strstr(text, "tzel_c_sync"));
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    free(text);

    /* The floor file records H(master_sk). */
    char fpath[600];
    snprintf(fpath, sizeof fpath, "%s.xmss-floor", path);
    char *floor = tz_test_get_file(fpath);
    tz_felt fp;
    char hex[65];
    tz_hash(&fp, sk.b, 32);
    tz_felt_to_hex(hex, &fp);
    CHECK(floor && strstr(floor, hex) && strstr(floor, "\"addr_counter\": 2") &&
          strstr(floor, "\"1\": 5"));
    CHECK(stat(fpath, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    free(floor);
}

static void test_floor(void)
{
    char path[512], fpath[600];
    path_in(path, sizeof path, "floor.json");
    snprintf(fpath, sizeof fpath, "%s.xmss-floor", path);
    char v1[8192];
    snprintf(v1, sizeof v1, "%s", make_wallet_text("1", ""));
    tz_test_put_file(path, v1, 0600);
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    if (!w)
        return;
    /* The wallet moves on: one more address, address 0 used a key. */
    w->addr_counter = 2;
    json_object_set_new(json_object_get(w->doc, "wots_key_indices"), "0", json_integer(4));
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    tz_wallet_free(w);
    w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    tz_wallet_free(w);
    w = NULL;

    /* Restoring the old backup is refused: addr_counter behind. */
    tz_test_put_file(path, v1, 0600);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_ESTATE);
    CHECK_MSG(!strncmp(err.msg,
                       "wallet appears to be restored from a stale backup: addr_counter 1 is "
                       "behind durable XMSS floor 2 \xe2\x80\x94 ",
                       strlen("wallet appears to be restored from a stale backup: addr_counter 1 "
                              "is behind durable XMSS floor 2 \xe2\x80\x94 ")) &&
                  strstr(err.msg, path),
              "%s", err.msg);
    CHECK(w == NULL);

    /* addr_counter caught up but the one-time key index is behind. */
    tz_test_put_file(path, replace_once(v1, "\"addr_counter\": 1", "\"addr_counter\": 2"), 0600);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_ESTATE);
    CHECK_MSG(!strncmp(err.msg,
                       "wallet appears to be restored from a stale backup: address 0 "
                       "next_wots_index 3 is behind durable XMSS floor 4 \xe2\x80\x94 ",
                       strlen("wallet appears to be restored from a stale backup: address 0 "
                              "next_wots_index 3 is behind durable XMSS floor 4 "
                              "\xe2\x80\x94 ")),
              "%s", err.msg);

    /* Another wallet's floor is not enforced. */
    tz_test_put_file(path, replace_once(v1, "\"master_sk\": \"11", "\"master_sk\": \"33"), 0600);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    tz_wallet_free(w);
    w = NULL;

    /* A malformed floor refuses the load. */
    tz_test_put_file(path, v1, 0600);
    tz_test_put_file(fpath, "{\"wallet_fingerprint\": 5}", 0600);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_EPARSE);
    CHECK_MSG(!strncmp(err.msg, "parse xmss floor: ", 18), "%s", err.msg);
    unlink(fpath);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    tz_wallet_free(w);
}

static void test_sync_state(void)
{
    char path[512];
    path_in(path, sizeof path, "sync.json");
    tz_test_put_file(path, replace_once(make_wallet_text("1", ""), "\"scanned\": 18446744073709551615",
                                "\"scanned\": 5"), 0600);
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    if (!w)
        return;
    tz_felt fr[48];
    for (int i = 0; i < 48; i++)
        tz_felt_from_u32(&fr[i], (uint32_t)i * 7 + 1);
    tz_wallet_reset_cursor(w, 100, fr);
    w->sync.nullifiers_checked = (uint64_t)INT64_MAX + 5;
    tz_felt cm1, cm2;
    tz_felt_from_u32(&cm1, 11);
    tz_felt_from_u32(&cm2, 12);
    CHECK(tz_wallet_observe_cm(w, &cm1) == TZ_OK);
    CHECK(tz_wallet_observe_cm(w, &cm1) == TZ_OK);
    CHECK(tz_wallet_observe_cm(w, &cm2) == TZ_OK);
    CHECK(w->sync.n_observed_cms == 2);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    tz_wallet_free(w);
    w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    if (!w)
        return;
    CHECK(w->scanned == 100 && w->sync.has_frontier && w->sync.frontier_size == 100);
    CHECK(memcmp(w->sync.frontier, fr, sizeof fr) == 0);
    CHECK(w->sync.nullifiers_checked == (uint64_t)INT64_MAX + 5);
    CHECK(tz_wallet_cm_observed(w, &cm1) && tz_wallet_cm_observed(w, &cm2));
    CHECK(json_is_string(json_object_get(json_object_get(w->doc, "future"), "s")));
    /* Another program moved `scanned` without knowing our key: the
     * frontier no longer matches the cursor and is dropped. */
    tz_wallet_free(w);
    w = NULL;
    char *text = tz_test_get_file(path);
    CHECK(text != NULL);
    if (!text)
        return;
    tz_test_put_file(path, replace_once(text, "\"scanned\": 100", "\"scanned\": 120"), 0600);
    free(text);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    if (!w)
        return;
    CHECK(!w->sync.has_frontier && w->scanned == 120);
    CHECK(tz_wallet_cm_observed(w, &cm2));
    tz_wallet_reset_cursor(w, 0, NULL);
    CHECK(w->scanned == 0 && !w->sync.has_frontier && w->sync.nullifiers_checked == 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    text = tz_test_get_file(path);
    CHECK(text && !strstr(text, "\"frontier\"") && strstr(text, "\"frontier_size\": 0"));
    free(text);
    tz_wallet_free(w);
}

/* The last verified state: saved, loaded, and what a rollback returns to. */
static void test_verified_rollback(void)
{
    char path[512];
    path_in(path, sizeof path, "verified.json");
    tz_felt sk, fr1[48], fr2[48], cm1, cm2;
    tz_felt_from_u32(&sk, 99);
    for (int i = 0; i < 48; i++) {
        tz_felt_from_u32(&fr1[i], (uint32_t)i + 1);
        tz_felt_from_u32(&fr2[i], (uint32_t)i + 1000);
    }
    tz_felt_from_u32(&cm1, 21);
    tz_felt_from_u32(&cm2, 22);
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_new(path, &sk, &w, &err) == TZ_OK);
    if (!w)
        return;
    uint64_t leaves[3] = {3, 50, 150};
    for (int i = 0; i < 3; i++) {
        tz_wallet_note n = {.v = 10, .index = leaves[i]};
        tz_felt_from_u32(&n.cm, (uint32_t)leaves[i]);
        CHECK(tz_wallet_add_note(w, &n) == TZ_OK);
    }
    tz_wallet_set_scan(w, 100, fr1);
    CHECK(tz_wallet_observe_cm(w, &cm1) == TZ_OK);
    w->sync.nullifiers_checked = 7;
    CHECK(tz_wallet_mark_verified(w) == TZ_OK);
    tz_wallet_set_scan(w, 200, fr2);
    CHECK(tz_wallet_observe_cm(w, &cm2) == TZ_OK);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    tz_wallet_free(w);
    w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    if (!w)
        return;
    CHECK(w->sync.has_verified && w->sync.verified_size == 100 &&
          w->sync.verified_observed == 1 &&
          memcmp(w->sync.verified_frontier, fr1, sizeof fr1) == 0);
    tz_wallet_rollback rb;
    tz_wallet_rollback_unverified(w, &rb);
    CHECK(rb.from == 200 && rb.to == 100 && rb.notes_dropped == 1 && rb.observed_dropped == 1);
    CHECK(w->scanned == 100 && w->sync.has_frontier && w->sync.frontier_size == 100 &&
          memcmp(w->sync.frontier, fr1, sizeof fr1) == 0);
    CHECK(w->n_notes == 2 && w->notes[0].index == 3 && w->notes[1].index == 50);
    CHECK(tz_wallet_cm_observed(w, &cm1) && !tz_wallet_cm_observed(w, &cm2));
    CHECK(w->sync.nullifiers_checked == 7);
    /* A reset forgets the verified state; a rollback then returns to the
     * empty tree and re-reads every nullifier. */
    tz_wallet_reset_cursor(w, 120, fr2);
    CHECK(!w->sync.has_verified);
    w->sync.nullifiers_checked = 9;
    tz_wallet_rollback_unverified(w, &rb);
    tz_felt zero[48];
    memset(zero, 0, sizeof zero);
    CHECK(rb.from == 120 && rb.to == 0 && rb.notes_dropped == 2 && w->n_notes == 0);
    CHECK(w->scanned == 0 && w->sync.has_frontier && w->sync.nullifiers_checked == 0 &&
          memcmp(w->sync.frontier, zero, sizeof zero) == 0 && w->sync.n_observed_cms == 0);
    /* A verified record beyond the cursor (edited file) is not trusted. */
    tz_wallet_set_scan(w, 40, fr1);
    CHECK(tz_wallet_mark_verified(w) == TZ_OK);
    CHECK(w->sync.has_verified && w->sync.verified_size == 40);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    tz_wallet_free(w);
    w = NULL;
    char *text = tz_test_get_file(path);
    CHECK(text != NULL);
    if (!text)
        return;
    tz_test_put_file(path, replace_once(text, "\"scanned\": 40", "\"scanned\": 30"), 0600);
    free(text);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    CHECK(w && !w->sync.has_verified && w->sync.verified_size == 0);
    tz_wallet_free(w);
}

/* Note witnesses: saved and loaded exactly, a malformed one dropped on
 * load (not trusted), a spent note's witness removed with it, the verified
 * copy restored by a rollback. */
static void test_witnesses(void)
{
    char path[512];
    path_in(path, sizeof path, "witness.json");
    tz_felt sk, leaf[40];
    tz_felt_from_u32(&sk, 7);
    for (int i = 0; i < 40; i++)
        tz_felt_from_u32(&leaf[i], (uint32_t)(1000 + i));
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_new(path, &sk, &w, &err) == TZ_OK);
    if (!w)
        return;
    tz_frontier f;
    tz_frontier_init(&f);
    for (int i = 0; i < 40; i++) {
        CHECK(tz_wallet_witness_append(w, (uint64_t)i, &leaf[i]) == 0);
        if (i == 5 || i == 22) {
            tz_wallet_note n = {.v = 1, .cm = leaf[i], .index = (uint64_t)i};
            CHECK(tz_wallet_add_note(w, &n) == TZ_OK);
            CHECK(tz_wallet_witness_start(w, &f, &leaf[i]) == TZ_OK);
            CHECK(tz_wallet_witness_start(w, &f, &leaf[i]) == TZ_OK); /* once only */
        }
        CHECK(tz_frontier_append(&f, &leaf[i], NULL) == TZ_OK);
    }
    tz_wallet_set_scan(w, 40, f.branch);
    tz_felt root;
    CHECK(tz_frontier_root(&f, &root) == TZ_OK);
    CHECK(w->sync.n_witnesses == 2 && tz_wallet_witness_check(w, 40, &root) == 0);
    CHECK(tz_wallet_mark_verified(w) == TZ_OK && w->sync.n_verified_witnesses == 2);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    tz_witness saved[2];
    memcpy(saved, w->sync.witnesses, sizeof saved);
    tz_wallet_free(w);
    w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    if (!w)
        return;
    CHECK(w->sync.n_witnesses == 2 && w->sync.n_verified_witnesses == 2);
    for (int i = 0; i < 2; i++) {
        tz_felt a, b;
        tz_witness_root(&w->sync.witnesses[i], &a);
        tz_witness_root(&saved[i], &b);
        CHECK(tz_felt_eq(&a, &b) && tz_felt_eq(&a, &root) && w->sync.witnesses[i].size == 40);
    }
    /* a lie past the verified state and back */
    tz_felt other;
    tz_felt_from_u32(&other, 5);
    CHECK(tz_wallet_witness_append(w, 40, &other) == 0);
    CHECK(w->sync.witnesses[0].size == 41);
    tz_wallet_rollback rb;
    tz_wallet_rollback_unverified(w, &rb);
    CHECK(rb.to == 40 && w->sync.n_witnesses == 2 && w->sync.witnesses[0].size == 40);
    /* a spent note takes its witness along */
    tz_wallet_remove_note(w, 0);
    CHECK(w->sync.n_witnesses == 1 && w->sync.witnesses[0].pos == 22);
    /* a gap drops a witness; a check against another root drops it too */
    CHECK(tz_wallet_witness_append(w, 45, &other) == 1 && w->sync.n_witnesses == 0);
    tz_wallet_free(w);
    w = NULL;
    /* a malformed entry is dropped on load, the wallet still loads */
    char *text = tz_test_get_file(path);
    CHECK(text != NULL);
    if (!text)
        return;
    char *p = strstr(text, "\"cursor_n\": ");
    CHECK(p != NULL);
    if (p)
        p[12] = '9'; /* an inconsistent size */
    tz_test_put_file(path, text, 0600);
    free(text);
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    CHECK(w && w->sync.n_witnesses == 1);
    tz_wallet_free(w);
}

static int fail_rename(const char *from, const char *to)
{
    (void)from;
    (void)to;
    errno = ENOSPC;
    return -1;
}

static void test_save_failure_keeps_old(void)
{
    /* Full failure-injection coverage lives in test_store_atomic; here the
     * wallet-level contract: a failed save leaves file and floor as they
     * were and no temp file. */
    char path[512], fpath[600];
    path_in(path, sizeof path, "fail.json");
    snprintf(fpath, sizeof fpath, "%s.xmss-floor", path);
    const char *orig = make_wallet_text("77", "");
    tz_test_put_file(path, orig, 0600);
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
    if (!w)
        return;
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    char *floor_before = tz_test_get_file(fpath);
    w->addr_counter = 9;
    w->notes[0].v = 1;
    tz_fsys t = *tz_fsys_default();
    t.rename = fail_rename;
    tz_fsys_set(&t);
    tz_status st = tz_wallet_save(w, &err);
    tz_fsys_set(NULL);
    CHECK(st == TZ_EIO);
    CHECK_MSG(strstr(err.msg, "rename") && strstr(err.msg, strerror(ENOSPC)), "%s", err.msg);
    char *now = tz_test_get_file(path);
    char *floor_now = tz_test_get_file(fpath);
    CHECK(now && !strcmp(now, orig));
    CHECK(floor_before && floor_now && !strcmp(floor_before, floor_now));
    CHECK(count_temps() == 0);
    free(now);
    free(floor_now);
    /* The same wallet object saves fine once the disk recovers. */
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    now = tz_test_get_file(path);
    CHECK(now && strstr(now, "\"addr_counter\": 9"));
    free(now);
    tz_wallet_free(w);
    free(floor_before);
}

static void test_exact_numbers(void)
{
    const char *in = "{\n"
                     "  \"a\": -99999999999999999999,\n"
                     "  \"b\": 0.1,\n"
                     "  \"c\": \"x\\\"\\u0000tzel-c-number:5\\\"y\",\n"
                     "  \"d\": 9223372036854775807,\n"
                     "  \"e\": 9223372036854775808,\n"
                     "  \"f\": -9223372036854775808,\n"
                     "  \"g\": -9223372036854775809,\n"
                     "  \"h\": 1E+2\n"
                     "}";
    json_t *doc = NULL;
    tz_error err;
    CHECK(tz_json_load_exact(in, strlen(in), "t", &doc, &err) == TZ_OK);
    if (!doc)
        return;
    uint64_t v = 0;
    CHECK(json_is_integer(json_object_get(doc, "d")));
    CHECK(tz_json_get_u64(json_object_get(doc, "d"), &v) && v == (uint64_t)INT64_MAX);
    CHECK(tz_json_get_u64(json_object_get(doc, "e"), &v) && v == (uint64_t)INT64_MAX + 1);
    CHECK(!tz_json_get_u64(json_object_get(doc, "a"), &v));
    CHECK(!tz_json_get_u64(json_object_get(doc, "b"), &v));
    CHECK(!tz_json_get_u64(json_object_get(doc, "f"), &v));
    CHECK(!tz_json_get_u64(json_object_get(doc, "c"), &v));
    char *out = NULL;
    size_t len = 0;
    CHECK(tz_json_dump_exact(doc, &out, &len, &err) == TZ_OK);
    CHECK_MSG(out && !strcmp(out, in), "%s", out ? out : "(null)");
    free(out);
    json_decref(doc);
    json_t *m = tz_json_u64(UINT64_MAX);
    CHECK(tz_json_get_u64(m, &v) && v == UINT64_MAX);
    json_decref(m);
    m = tz_json_u64(7);
    CHECK(json_is_integer(m) && tz_json_get_u64(m, &v) && v == 7);
    json_decref(m);
    /* Leading zeros and 2^64 are not numbers we accept. */
    CHECK(tz_json_load_exact("[01]", 4, "t", &doc, &err) == TZ_EPARSE);
    m = json_stringn("\0tzel-c-number:18446744073709551616", 35);
    CHECK(!tz_json_get_u64(m, &v));
    json_decref(m);
}

/* Replaces every occurrence-free single substring; aborts if absent. Returns
 * a malloc'd string. */
static char *replaced(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    if (!p) {
        fprintf(stderr, "replaced: '%s' not found\n", from);
        exit(2);
    }
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *r = malloc(n);
    if (!r)
        exit(2);
    snprintf(r, n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
    return r;
}

static char *fixture_text(const char *name)
{
    const char *src = getenv("TZ_SOURCE_DIR");
    char fix[512];
    snprintf(fix, sizeof fix, "%s/tests/data/%s", src ? src : ".", name);
    char *t = tz_test_get_file(fix);
    CHECK_MSG(t != NULL, "fixture %s missing", fix);
    return t;
}

/* The exact floor text the reference writes for this wallet. */
static void expect_floor(const char *path, const tz_felt *sk, const char *tail)
{
    char fpath[600], hex[65], want[1024];
    snprintf(fpath, sizeof fpath, "%s.xmss-floor", path);
    tz_felt fp;
    tz_hash(&fp, sk->b, 32);
    tz_felt_to_hex(hex, &fp);
    snprintf(want, sizeof want, "{\n  \"wallet_fingerprint\": \"%s\",\n%s}", hex, tail);
    char *got = tz_test_get_file(fpath);
    CHECK_MSG(got && !strcmp(got, want), "floor:\n%s\nwant:\n%s", got ? got : "(null)", want);
    free(got);
}

/* tests/data/ref_init_receive.json is what the reference writes after
 * `init` + one `receive` (wots_key_indices still {}). Our init + receive
 * (two processes: save, load, add the address, save) writes the same
 * bytes; a later load + save records address 0, as the reference does. */
static void test_ref_init_receive(void)
{
    char *ref = fixture_text("ref_init_receive.json");
    if (!ref)
        return;
    json_t *rdoc = parse_exact(ref);
    CHECK(rdoc != NULL);
    if (!rdoc) {
        free(ref);
        return;
    }
    json_t *ra = json_array_get(json_object_get(rdoc, "addresses"), 0);
    tz_felt sk;
    tz_wallet_address a = {.index = 0};
    CHECK(tz_felt_from_hex(&sk, json_string_value(json_object_get(rdoc, "master_sk"))) == TZ_OK);
    CHECK(tz_felt_from_hex(&a.d_j, json_string_value(json_object_get(ra, "d_j"))) == TZ_OK);
    CHECK(tz_felt_from_hex(&a.auth_root, json_string_value(json_object_get(ra, "auth_root"))) ==
          TZ_OK);
    CHECK(tz_felt_from_hex(&a.auth_pub_seed,
                           json_string_value(json_object_get(ra, "auth_pub_seed"))) == TZ_OK);
    CHECK(tz_felt_from_hex(&a.nk_tag, json_string_value(json_object_get(ra, "nk_tag"))) == TZ_OK);

    /* init: the reference's fresh file and floor, byte for byte. */
    char path[512];
    path_in(path, sizeof path, "ref_ir.json");
    tz_error err = {0};
    tz_wallet *w = NULL;
    CHECK(tz_wallet_new(path, &sk, &w, &err) == TZ_OK);
    CHECK_MSG(w && tz_wallet_save(w, &err) == TZ_OK, "%s", err.msg);
    tz_wallet_free(w);
    w = NULL;
    char want_init[512];
    snprintf(want_init, sizeof want_init,
             "{\n  \"master_sk\": \"%s\",\n  \"addresses\": [],\n  \"addr_counter\": 0,\n"
             "  \"notes\": [],\n  \"scanned\": 0,\n  \"wots_key_indices\": {},\n"
             "  \"pending_spends\": [],\n  \"pending_deposits\": [],\n  \"deposit_nonce\": 0\n}",
             json_string_value(json_object_get(rdoc, "master_sk")));
    char *now = tz_test_get_file(path);
    CHECK_MSG(now && !strcmp(now, want_init), "init:\n%s", now ? now : "(null)");
    free(now);
    expect_floor(path, &sk, "  \"addr_counter\": 0,\n  \"wots_key_indices\": {}\n");

    /* receive in a second process: load, derive, save. */
    tz_status st = tz_wallet_load(path, &w, &err, NULL);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    if (st) {
        json_decref(rdoc);
        free(ref);
        return;
    }
    CHECK(tz_wallet_add_address(w, &a) == TZ_OK);
    CHECK(tz_wallet_set_address_bds(w, 0, json_deep_copy(json_object_get(ra, "bds"))) == TZ_OK);
    w->addr_counter = 1;
    CHECK_MSG(tz_wallet_save(w, &err) == TZ_OK, "%s", err.msg);
    tz_wallet_free(w);
    w = NULL;
    now = tz_test_get_file(path);
    CHECK_MSG(now && !strcmp(now, ref), "receive: %zu vs %zu bytes", now ? strlen(now) : 0,
              strlen(ref));
    free(now);
    expect_floor(path, &sk, "  \"addr_counter\": 1,\n  \"wots_key_indices\": {\n    \"0\": 0\n  }\n");

    /* The fixture loaded and saved (as `sync` with nothing new does):
     * identical except that address 0 is now recorded. */
    char *after = replaced(ref, "\"wots_key_indices\": {},", "\"wots_key_indices\": {\n    \"0\": 0\n  },");
    path_in(path, sizeof path, "ref_ir2.json");
    tz_test_put_file(path, ref, 0600);
    for (int cycle = 0; cycle < 2; cycle++) {
        st = tz_wallet_load(path, &w, &err, NULL);
        CHECK_MSG(st == TZ_OK, "%s", err.msg);
        if (st)
            break;
        CHECK(w->n_addresses == 1 && w->addr_counter == 1 && w->n_notes == 0 && w->scanned == 0);
        CHECK(tz_wallet_save(w, &err) == TZ_OK);
        tz_wallet_free(w);
        w = NULL;
        now = tz_test_get_file(path);
        CHECK_MSG(now && !strcmp(now, after), "load+save cycle %d", cycle);
        free(now);
    }
    free(after);
    json_decref(rdoc);
    free(ref);
}

static const char *addr_with_bds(char *buf, size_t cap, unsigned index, int next)
{
    char bds[128] = "";
    if (next >= 0)
        snprintf(bds, sizeof bds, ",\n      \"bds\": {\n        \"next_index\": %d\n      }", next);
    snprintf(buf, cap,
             "    {\n      \"index\": %u,\n      \"d_j\": \"%s\",\n      \"auth_root\": \"%s\",\n"
             "      \"auth_pub_seed\": \"%s\",\n      \"nk_tag\": \"%s\"%s\n    }",
             index, felt_a, felt_b, felt_a, felt_b, bds);
    return buf;
}

/* On load, every address with a bds.next_index is recorded in
 * wots_key_indices (existing keys in place, new ones ascending), after the
 * floor check, which still reads the file's own map first. */
static void test_wots_on_load(void)
{
    char a2[512], a0[512], a5[512], a9[512], text[4096], path[512];
    snprintf(text, sizeof text,
             "{\n  \"master_sk\": \"%s\",\n  \"addresses\": [\n%s,\n%s,\n%s,\n%s\n  ],\n"
             "  \"addr_counter\": 10,\n  \"notes\": [],\n  \"scanned\": 0,\n"
             "  \"wots_key_indices\": {\n    \"7\": 9,\n    \"2\": 1\n  }\n}",
             felt_a, addr_with_bds(a2, sizeof a2, 2, 4), addr_with_bds(a0, sizeof a0, 5, 0),
             addr_with_bds(a5, sizeof a5, 0, 1), addr_with_bds(a9, sizeof a9, 9, -1));
    path_in(path, sizeof path, "wots.json");
    tz_test_put_file(path, text, 0600);
    tz_error err = {0};
    tz_wallet *w = NULL;
    tz_status st = tz_wallet_load(path, &w, &err, NULL);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    if (st)
        return;
    CHECK(tz_wallet_wots_next(w, 2) == 4 && tz_wallet_wots_next(w, 0) == 1 &&
          tz_wallet_wots_next(w, 7) == 9 && tz_wallet_wots_next(w, 5) == 0);
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    tz_wallet_free(w);
    w = NULL;
    char *now = tz_test_get_file(path);
    CHECK_MSG(now && strstr(now, "  \"wots_key_indices\": {\n    \"7\": 9,\n    \"2\": 4,\n"
                                 "    \"0\": 1,\n    \"5\": 0\n  },\n  \"pending_spends\": []"),
              "%s", now ? now : "(null)");
    /* Address 9 has no bds: no entry, and an empty bds is written. */
    CHECK(now && !strstr(now, "\"9\":") && strstr(now, "\"index\": 9,") && strstr(now, "\"bds\": {}"));
    free(now);
    /* The floor's map: ascending indices, max(map, bds) per address (0
     * for an address without bds). */
    tz_felt sk;
    CHECK(tz_felt_from_hex(&sk, felt_a) == TZ_OK);
    expect_floor(path, &sk,
                 "  \"addr_counter\": 10,\n  \"wots_key_indices\": {\n    \"0\": 1,\n"
                 "    \"2\": 4,\n    \"5\": 0,\n    \"7\": 9,\n    \"9\": 0\n  }\n");

    /* A backup whose map says 1 for address 2 is behind the floor (4),
     * even though its bds says 4: the map is read first, as the reference
     * does, before the load rewrites it. */
    tz_test_put_file(path, text, 0600);
    w = (tz_wallet *)0x1;
    st = tz_wallet_load(path, &w, &err, NULL);
    CHECK(st == TZ_ESTATE && w == (tz_wallet *)0x1);
    CHECK_MSG(strstr(err.msg, "address 2 next_wots_index 1 is behind durable XMSS floor 4"), "%s",
              err.msg);
}

/* `tpl` with every "@A" / "@B" replaced by felt_a / felt_b (malloc'd). */
static char *subst(const char *tpl)
{
    size_t cap = strlen(tpl) * 40 + 1, n = 0;
    char *r = malloc(cap);
    if (!r)
        exit(2);
    for (const char *p = tpl; *p; p++) {
        if (p[0] == '@' && (p[1] == 'A' || p[1] == 'B')) {
            const char *f = p[1] == 'A' ? felt_a : felt_b;
            memcpy(r + n, f, 64);
            n += 64;
            p++;
        } else {
            r[n++] = *p;
        }
    }
    r[n] = '\0';
    return r;
}

/* Whatever order a file has, a save writes the reference's keys first in
 * its order (the nine top-level ones always), then unknown keys in their
 * original order; nested objects likewise. A spend's null operation_hash
 * is dropped, a deposit's missing one written as null, a null shielded_cm
 * dropped; strings are escaped as serde_json does. */
static void test_key_order(void)
{
    char *in = subst(
        "{\"zeta\": 1,\n"
        " \"pending_spends\": [{\"extra\": true, \"operation_hash\": null,"
        " \"description\": \"d\\u001F/\\u00e9\\u007f\\\\u001F\", \"nullifiers\": [\"@A\"]},"
        " {\"operation_hash\": \"op1\", \"description\": \"s2\", \"nullifiers\": []}],\n"
        " \"scanned\": 3,\n"
        " \"notes\": [{\"memo\": \"m\", \"v\": 5, \"nk_spend\": \"@A\", \"addr_index\": 0,"
        " \"nk_tag\": \"@B\", \"cm\": \"@A\", \"auth_root\": \"@A\", \"index\": 2, \"d_j\": \"@B\","
        " \"rseed\": \"@A\"}],\n"
        " \"omega\": \"x\",\n"
        " \"addresses\": [{\"label\": \"l\", \"bds\": {\"next_index\": 0}, \"nk_tag\": \"@B\","
        " \"auth_pub_seed\": \"@A\", \"auth_root\": \"@B\", \"d_j\": \"@A\", \"index\": 0}],\n"
        " \"pending_deposits\": [{\"shielded_cm\": null, \"amount\": 7, \"auth_domain\": \"@A\","
        " \"address_index\": 0, \"blind\": \"@B\", \"pubkey_hash\": \"@A\", \"note\": 1},"
        " {\"shielded_cm\": \"@B\", \"operation_hash\": \"oo\", \"amount\": 8, \"auth_domain\": \"@A\","
        " \"address_index\": 0, \"blind\": \"@B\", \"pubkey_hash\": \"@A\"}],\n"
        " \"addr_counter\": 1,\n"
        " \"master_sk\": \"@A\"}");
    char *want = subst("{\n"
                       "  \"master_sk\": \"@A\",\n"
                       "  \"addresses\": [\n"
                       "    {\n"
                       "      \"index\": 0,\n"
                       "      \"d_j\": \"@A\",\n"
                       "      \"auth_root\": \"@B\",\n"
                       "      \"auth_pub_seed\": \"@A\",\n"
                       "      \"nk_tag\": \"@B\",\n"
                       "      \"bds\": {\n"
                       "        \"next_index\": 0\n"
                       "      },\n"
                       "      \"label\": \"l\"\n"
                       "    }\n"
                       "  ],\n"
                       "  \"addr_counter\": 1,\n"
                       "  \"notes\": [\n"
                       "    {\n"
                       "      \"nk_spend\": \"@A\",\n"
                       "      \"nk_tag\": \"@B\",\n"
                       "      \"auth_root\": \"@A\",\n"
                       "      \"d_j\": \"@B\",\n"
                       "      \"v\": 5,\n"
                       "      \"rseed\": \"@A\",\n"
                       "      \"cm\": \"@A\",\n"
                       "      \"index\": 2,\n"
                       "      \"addr_index\": 0,\n"
                       "      \"memo\": \"m\"\n"
                       "    }\n"
                       "  ],\n"
                       "  \"scanned\": 3,\n"
                       "  \"wots_key_indices\": {\n"
                       "    \"0\": 0\n"
                       "  },\n"
                       "  \"pending_spends\": [\n"
                       "    {\n"
                       "      \"nullifiers\": [\n"
                       "        \"@A\"\n"
                       "      ],\n"
                       "      \"description\": \"d\\u001f/\xc3\xa9\x7f\\\\u001F\",\n"
                       "      \"extra\": true\n"
                       "    },\n"
                       "    {\n"
                       "      \"nullifiers\": [],\n"
                       "      \"description\": \"s2\",\n"
                       "      \"operation_hash\": \"op1\"\n"
                       "    }\n"
                       "  ],\n"
                       "  \"pending_deposits\": [\n"
                       "    {\n"
                       "      \"pubkey_hash\": \"@A\",\n"
                       "      \"blind\": \"@B\",\n"
                       "      \"address_index\": 0,\n"
                       "      \"auth_domain\": \"@A\",\n"
                       "      \"amount\": 7,\n"
                       "      \"operation_hash\": null,\n"
                       "      \"note\": 1\n"
                       "    },\n"
                       "    {\n"
                       "      \"pubkey_hash\": \"@A\",\n"
                       "      \"blind\": \"@B\",\n"
                       "      \"address_index\": 0,\n"
                       "      \"auth_domain\": \"@A\",\n"
                       "      \"amount\": 8,\n"
                       "      \"operation_hash\": \"oo\",\n"
                       "      \"shielded_cm\": \"@B\"\n"
                       "    }\n"
                       "  ],\n"
                       "  \"deposit_nonce\": 0,\n"
                       "  \"zeta\": 1,\n"
                       "  \"omega\": \"x\",\n"
                       "  \"tzel_c_sync\": {\n"
                       "    \"frontier_size\": 0,\n"
                       "    \"nullifiers_checked\": 1,\n"
                       "    \"observed_cms\": []\n"
                       "  }\n"
                       "}");
    char path[512];
    path_in(path, sizeof path, "order.json");
    tz_test_put_file(path, in, 0600);
    tz_error err = {0};
    tz_wallet *w = NULL;
    tz_status st = tz_wallet_load(path, &w, &err, NULL);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    if (!st) {
        CHECK(w->n_spends == 2 && w->n_deposits == 2 && !w->deposits[0].has_shielded_cm);
        w->sync.nullifiers_checked = 1; /* our key appears: after all others */
        CHECK(tz_wallet_save(w, &err) == TZ_OK);
        tz_wallet_free(w);
        w = NULL;
        char *now = tz_test_get_file(path);
        CHECK_MSG(now && !strcmp(now, want), "got:\n%s", now ? now : "(null)");
        free(now);
        /* Stable: a second load + save changes nothing. */
        CHECK(tz_wallet_load(path, &w, &err, NULL) == TZ_OK);
        CHECK(w && tz_wallet_save(w, &err) == TZ_OK);
        tz_wallet_free(w);
        now = tz_test_get_file(path);
        CHECK(now && !strcmp(now, want));
        free(now);
    }
    free(in);
    free(want);

    /* A spend added through the API without an operation hash has no
     * operation_hash key; one with a hash keeps it. */
    tz_felt sk;
    CHECK(tz_felt_from_hex(&sk, felt_a) == TZ_OK);
    path_in(path, sizeof path, "spend.json");
    w = NULL;
    CHECK(tz_wallet_new(path, &sk, &w, &err) == TZ_OK);
    if (!w)
        return;
    CHECK(tz_wallet_add_spend(w, &sk, 1, "no hash", NULL) == TZ_OK);
    /* Marked null later (as a caller clearing it might): omitted too. */
    CHECK(tz_wallet_add_spend(w, NULL, 0, "cleared", "opX") == TZ_OK);
    json_object_set_new(w->spends[1].obj, "operation_hash", json_null());
    CHECK(tz_wallet_save(w, &err) == TZ_OK);
    tz_wallet_free(w);
    char *now = tz_test_get_file(path);
    CHECK_MSG(now && !strstr(now, "operation_hash") &&
                  strstr(now, "\"description\": \"no hash\"\n    }") &&
                  strstr(now, "\"description\": \"cleared\"\n    }"),
              "%s", now ? now : "(null)");
    free(now);
}

/* jansson's \u001F becomes serde_json's \u001f; a literal backslash-u in
 * a string is left alone. */
static void test_escapes(void)
{
    json_t *doc = json_pack("{s:s, s:s, s:s}", "c", "\x01\x1f\x7f\b\f\n\r\t\"\\", "s",
                            "a/b \xc3\xa9 \xe2\x80\xa8", "lit", "\\u00AB");
    char *out = NULL;
    size_t len = 0;
    tz_error err;
    CHECK(doc && tz_json_dump_exact(doc, &out, &len, &err) == TZ_OK);
    const char *want = "{\n"
                       "  \"c\": \"\\u0001\\u001f\x7f\\b\\f\\n\\r\\t\\\"\\\\\",\n"
                       "  \"s\": \"a/b \xc3\xa9 \xe2\x80\xa8\",\n"
                       "  \"lit\": \"\\\\u00AB\"\n"
                       "}";
    CHECK_MSG(out && !strcmp(out, want), "%s", out ? out : "(null)");
    /* And it parses back to the same strings. */
    json_t *back = out ? parse_exact(out) : NULL;
    CHECK(back && json_equal(back, doc));
    json_decref(back);
    free(out);
    json_decref(doc);
}

/* The save sequence of the reference: wallet temp (O_EXCL, 0600) written,
 * fsynced, closed, renamed, folder fsynced; then the floor the same way
 * with its own temp name. A bare file name saves in the current folder. */
static char seq[32][600];
static int n_seq;
static void rec(const char *what, const char *a)
{
    if (n_seq < 32)
        snprintf(seq[n_seq++], sizeof seq[0], "%s %s", what, a ? a : "");
}
static int r_open(const char *p, int flags, mode_t mode)
{
    rec(((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL) && mode == 0600) ? "open-excl-0600"
                                                                              : "open-other",
        p);
    return tz_fsys_default()->open(p, flags, mode);
}
static ssize_t r_write(int fd, const void *b, size_t n)
{
    rec("write", NULL);
    return tz_fsys_default()->write(fd, b, n);
}
static int r_fsync(int fd)
{
    rec("fsync", NULL);
    return tz_fsys_default()->fsync(fd);
}
static int r_close(int fd)
{
    rec("close", NULL);
    return tz_fsys_default()->close(fd);
}
static int r_rename(const char *a, const char *b)
{
    rec("rename", b);
    return tz_fsys_default()->rename(a, b);
}
static int r_fsync_dir(const char *d)
{
    rec("fsync_dir", d);
    return tz_fsys_default()->fsync_dir(d);
}

static void test_save_sequence(void)
{
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    tz_felt sk;
    CHECK(tz_felt_from_hex(&sk, felt_b) == TZ_OK);
    tz_wallet *w = NULL;
    tz_error err = {0};
    CHECK(tz_wallet_new("bare.json", &sk, &w, &err) == TZ_OK);
    tz_fsys t = *tz_fsys_default();
    t.open = r_open;
    t.write = r_write;
    t.fsync = r_fsync;
    t.close = r_close;
    t.rename = r_rename;
    t.fsync_dir = r_fsync_dir;
    n_seq = 0;
    tz_fsys_set(&t);
    tz_status st = w ? tz_wallet_save(w, &err) : TZ_EINVAL;
    tz_fsys_set(NULL);
    CHECK_MSG(st == TZ_OK, "%s", err.msg);
    tz_wallet_free(w);
    char tmp_w[64], tmp_f[64];
    snprintf(tmp_w, sizeof tmp_w, "open-excl-0600 ./.bare.json.tmp.%ld.", (long)getpid());
    snprintf(tmp_f, sizeof tmp_f, "open-excl-0600 ./.bare.json.xmss-floor.tmp.%ld.",
             (long)getpid());
    const char *want[] = {tmp_w, "write", "fsync", "close", "rename bare.json", "fsync_dir .",
                          tmp_f, "write", "fsync", "close", "rename bare.json.xmss-floor",
                          "fsync_dir ."};
    size_t nw = sizeof want / sizeof want[0];
    CHECK_MSG(n_seq == (int)nw, "%d calls", n_seq);
    for (size_t i = 0; i < nw && i < (size_t)n_seq; i++)
        CHECK_MSG(!strncmp(seq[i], want[i], strlen(want[i])), "call %zu: '%s', want '%s'", i,
                  seq[i], want[i]);
    struct stat sb;
    CHECK(stat("bare.json", &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(stat("bare.json.xmss-floor", &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(chdir(cwd) == 0);
}

/* tz_wallet_path_resolve on `given`: TZ_OK with *out == want and *exists
 * == want_exists. */
static void expect_resolved(const char *given, const char *want, bool want_exists)
{
    char *out = NULL;
    bool exists = !want_exists;
    tz_error err = {0};
    tz_status st = tz_wallet_path_resolve(given, &out, &exists, &err);
    CHECK_MSG(st == TZ_OK && out && !strcmp(out, want) && exists == want_exists,
              "%s: status %d, got %s (exists %d), want %s: %s", given, st, out ? out : "-",
              exists, want, err.msg);
    free(out);
}

static void expect_unresolved(const char *given, tz_status want, const char *words)
{
    char *out = (char *)"untouched";
    tz_error err = {0};
    tz_status st = tz_wallet_path_resolve(given, &out, NULL, &err);
    CHECK_MSG(st == want && strstr(err.msg, words) && strstr(err.msg, given) &&
                  !strcmp(out, "untouched"),
              "%s: status %d, message %s", given, st, err.msg);
}

/* A symlinked wallet path resolves to the end of its chain; saving through
 * the resolved path updates the target and its floor, the link stays. */
static void test_symlinked_path(void)
{
    char real_dir[600], links[600], rd[PATH_MAX], target[700], want[PATH_MAX + 64];
    path_in(real_dir, sizeof real_dir, "real");
    path_in(links, sizeof links, "links");
    CHECK(mkdir(real_dir, 0700) == 0 && mkdir(links, 0700) == 0);
    CHECK(realpath(real_dir, rd) != NULL);
    snprintf(target, sizeof target, "%s/w.json", real_dir);
    tz_test_put_file(target, make_wallet_text("1", ""), 0600);

    /* Not a symlink, or nothing there: as given. */
    expect_resolved(target, target, true);
    expect_resolved("no-such-wallet.json", "no-such-wallet.json", false);
    char odd[700];
    snprintf(odd, sizeof odd, "%s/./w.json", real_dir);
    expect_resolved(odd, odd, true);

    /* A relative link, and a chain of two (absolute, then relative). */
    char l1[700], l2[700], dl[700], nf[700], lp[700], lp2[700], self[700], dirl[700];
    snprintf(l1, sizeof l1, "%s/l1.json", links);
    snprintf(l2, sizeof l2, "%s/l2.json", links);
    CHECK(symlink("../real/w.json", l1) == 0);
    CHECK(symlink(l1, l2) == 0);
    snprintf(want, sizeof want, "%s/w.json", rd);
    expect_resolved(l1, want, true);
    expect_resolved(l2, want, true);

    /* Dangling: resolves to where the target would be (init creates it). */
    snprintf(dl, sizeof dl, "%s/dangling.json", links);
    CHECK(symlink("../real/new.json", dl) == 0);
    snprintf(want, sizeof want, "%s/new.json", rd);
    expect_resolved(dl, want, false);
    /* ... unless the target's folder is missing. */
    snprintf(nf, sizeof nf, "%s/nofolder.json", links);
    CHECK(symlink("../nowhere/w.json", nf) == 0);
    expect_unresolved(nf, TZ_ENOTFOUND, "folder does not exist");
    /* Loops. */
    snprintf(lp, sizeof lp, "%s/loop-a.json", links);
    snprintf(lp2, sizeof lp2, "%s/loop-b.json", links);
    snprintf(self, sizeof self, "%s/self.json", links);
    CHECK(symlink("loop-b.json", lp) == 0 && symlink("loop-a.json", lp2) == 0);
    CHECK(symlink("self.json", self) == 0);
    expect_unresolved(lp, TZ_EINVAL, "symlink loop");
    expect_unresolved(self, TZ_EINVAL, "symlink loop");
    /* A link to a folder names no file. */
    snprintf(dirl, sizeof dirl, "%s/folder.json", links);
    CHECK(symlink("../real/", dirl) == 0);
    expect_unresolved(dirl, TZ_EINVAL, "names no file");

    /* Saving through the link path itself is refused, nothing written. */
    tz_error err = {0};
    tz_wallet *w = NULL;
    char *before = tz_test_get_file(target);
    CHECK(tz_wallet_load(l2, &w, &err, NULL) == TZ_OK);
    if (w) {
        w->addr_counter = 2;
        CHECK(tz_wallet_save(w, &err) == TZ_EINVAL);
        CHECK_MSG(strstr(err.msg, "symlink") != NULL, "%s", err.msg);
        tz_wallet_free(w);
        w = NULL;
    }
    struct stat sb;
    char *now = tz_test_get_file(target);
    CHECK(lstat(l2, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(before && now && !strcmp(before, now));
    free(now);

    /* Through the resolved path: the target and its floor move on, the
     * links stay links, nothing appears beside them. */
    char *res = NULL, floor_p[PATH_MAX + 80];
    CHECK(tz_wallet_path_resolve(l2, &res, NULL, &err) == TZ_OK);
    CHECK(res && tz_wallet_load(res, &w, &err, NULL) == TZ_OK);
    if (w) {
        w->addr_counter = 2;
        CHECK_MSG(tz_wallet_save(w, &err) == TZ_OK, "%s", err.msg);
        tz_wallet_free(w);
        w = NULL;
    }
    CHECK(lstat(l1, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(lstat(l2, &sb) == 0 && S_ISLNK(sb.st_mode));
    now = tz_test_get_file(target);
    CHECK(now && strstr(now, "\"addr_counter\": 2"));
    free(now);
    snprintf(floor_p, sizeof floor_p, "%s.xmss-floor", target);
    now = tz_test_get_file(floor_p);
    CHECK(now && strstr(now, "\"addr_counter\": 2"));
    free(now);
    snprintf(floor_p, sizeof floor_p, "%s.xmss-floor", l2);
    CHECK(!tz_test_exists(floor_p));
    /* The old target content is now behind its floor: refused. */
    tz_test_put_file(target, before, 0600);
    CHECK(tz_wallet_load(res, &w, &err, NULL) == TZ_ESTATE);
    free(before);
    free(res);
}

int main(void)
{
    if (tz_test_mkdtemp(dir, sizeof dir, "store-wallet") != 0)
        return 2;
    test_exact_numbers();
    test_round_trip_unknown_and_u64();
    test_reference_fixture();
    test_bad_files();
    test_permission_warning();
    test_new_wallet_layout();
    test_floor();
    test_sync_state();
    test_verified_rollback();
    test_witnesses();
    test_save_failure_keeps_old();
    test_ref_init_receive();
    test_wots_on_load();
    test_key_order();
    test_escapes();
    test_save_sequence();
    test_symlinked_path();
    CHECK(count_temps() == 0);
    tz_test_rmtree(dir);
    return tz_test_done("store_wallet");
}
