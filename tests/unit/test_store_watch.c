/* Watch wallet files: material parsing and its refusals, the reference's
 * serialization, unknown keys, exact u64, records in leaf order without
 * duplicates, rollback to the verified state, the status. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/jsonnum.h"
#include "store/watch.h"
#include "tz_test_util.h"

static char dir[256], path[512];

#define F1 "0101010101010101010101010101010101010101010101010101010101010101"
#define F2 "0202020202020202020202020202020202020202020202020202020202020202"
#define FBIG "00000000000000000000000000000000000000000000000000000000000000f8"

static tz_status from_text(const char *text, tz_watch **w, tz_error *err)
{
    return tz_watch_from_material(path, text, strlen(text), "m.json", w, err);
}

static void test_material_refusals(void)
{
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"mode\":\"spend\",\"version\":1}", "field mode"},
        {"{\"version\":1,\"outgoing_seed\":\"" F1 "\"}", "field mode: missing"},
        {"{\"mode\":\"outgoing\",\"version\":2,\"outgoing_seed\":\"" F1 "\"}", "field version"},
        {"{\"mode\":\"outgoing\",\"outgoing_seed\":\"" F1 "\"}", "field version: missing"},
        {"{\"mode\":\"outgoing\",\"version\":1,\"outgoing_seed\":\"zz" F1 "\"}",
         "field outgoing_seed"},
        {"{\"mode\":\"outgoing\",\"version\":1,\"outgoing_seed\":\"" FBIG "\"}",
         "field outgoing_seed: felt out of range"},
        {"{\"mode\":\"detect\",\"version\":1,\"detect_root\":\"" F1 "\"}",
         "field addr_count: missing"},
        {"{\"mode\":\"detect\",\"version\":1,\"detect_root\":\"" F1 "\",\"addr_count\":-1}",
         "field addr_count"},
        {"{\"mode\":\"view\",\"version\":1,\"incoming_seed\":\"" F1 "\"}",
         "field addresses: missing"},
        {"{\"mode\":\"view\",\"version\":1,\"incoming_seed\":\"" F1 "\",\"addresses\":["
         "{\"index\":1,\"d_j\":\"" F1 "\",\"auth_root\":\"" F1 "\",\"auth_pub_seed\":\"" F1
         "\",\"nk_tag\":\"" F1 "\"},"
         "{\"index\":0,\"d_j\":\"" F1 "\",\"auth_root\":\"" F1 "\",\"auth_pub_seed\":\"" F1
         "\",\"nk_tag\":\"" F1 "\"}]}",
         "field addresses[1].index: address records must be in increasing index order"},
        {"{\"mode\":\"view\",\"version\":1,\"incoming_seed\":\"" F1 "\",\"addresses\":["
         "{\"index\":0,\"d_j\":\"" F1 "\",\"auth_root\":\"" F1 "\",\"auth_pub_seed\":\"" F1
         "\"}]}",
         "field addresses[0].nk_tag: missing"},
        {"[1,2]", "expected a JSON object"},
        {"{\"mode\":", "watch material m.json"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tz_watch *w = NULL;
        tz_error err = {0};
        CHECK_MSG(from_text(bad[i].text, &w, &err) != TZ_OK && !w, "case %zu", i);
        CHECK_MSG(strstr(err.msg, bad[i].needle) != NULL, "case %zu: %s", i, err.msg);
    }
}

/* A fresh detect file is the reference's bytes plus our tzel_c_sync. */
static void test_fresh_layout(void)
{
    tz_watch *w = NULL;
    tz_error err = {0};
    CHECK(from_text("{\"addr_count\":2,\"mode\":\"detect\",\"detect_root\":\"" F1
                    "\",\"version\":1,\"extra\":true}",
                    &w, &err) == TZ_OK);
    char *text = NULL;
    size_t len = 0;
    CHECK(tz_watch_dump(w, &text, &len, &err) == TZ_OK);
    const char *want = "{\n  \"mode\": \"detect\",\n  \"version\": 1,\n  \"detect_root\": \"" F1
                       "\",\n  \"addr_count\": 2,\n  \"scanned\": 0,\n  \"matches\": [],\n"
                       "  \"tzel_c_sync\": {\n    \"frontier_size\": 0\n  }\n}";
    CHECK_MSG(text && !strncmp(text, want, strlen(want)), "%s", text ? text : "");
    free(text);
    CHECK(tz_watch_save(w, true, &err) == TZ_OK);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    /* exclusive creation refuses an existing file and leaves it */
    CHECK(tz_watch_save(w, true, &err) == TZ_EEXIST);
    CHECK(strstr(err.msg, "already exists; pass --force to overwrite") != NULL);
    tz_watch_free(w);
    unlink(path);
}

static void test_roundtrip(void)
{
    /* a view file as the reference (or a later tool) could have written it:
     * u64 max values, a memo, unknown keys at every level */
    const char *text =
        "{\"mode\":\"view\",\"version\":1,\"incoming_seed\":\"" F1 "\",\"addresses\":["
        "{\"index\":3,\"d_j\":\"" F1 "\",\"auth_root\":\"" F2 "\",\"auth_pub_seed\":\"" F1
        "\",\"nk_tag\":\"" F2 "\",\"label\":\"shop\"}],"
        "\"scanned\":18446744073709551615,\"future\":[1,2],"
        "\"notes\":[{\"index\":18446744073709551614,\"addr_index\":3,\"cm\":\"" F2
        "\",\"value\":18446744073709551615,\"memo\":\"6869\",\"seen\":\"x\"},"
        "{\"index\":18446744073709551615,\"addr_index\":3,\"cm\":\"" F1
        "\",\"value\":18446744073709551615}]}";
    tz_test_put_file(path, text, 0600);
    tz_watch *w = NULL;
    tz_error err = {0};
    CHECK_MSG(tz_watch_load(path, &w, &err) == TZ_OK, "%s", err.msg);
    if (!w)
        return;
    CHECK(w->mode == TZ_WATCH_VIEW && w->n_addrs == 1 && w->addrs[0].index == 3);
    CHECK(w->scanned == UINT64_MAX && w->n_recs == 2 && w->recs[0].memo_len == 2);
    CHECK(w->recs[1].memo_len == 0); /* the reference defaults the memo */
    CHECK(!w->has_frontier);
    CHECK(tz_watch_save(w, false, &err) == TZ_OK);
    char *got = tz_test_get_file(path);
    const char *want =
        "{\n  \"mode\": \"view\",\n  \"version\": 1,\n  \"incoming_seed\": \"" F1 "\",\n"
        "  \"addresses\": [\n    {\n      \"index\": 3,\n      \"d_j\": \"" F1 "\",\n"
        "      \"auth_root\": \"" F2 "\",\n      \"auth_pub_seed\": \"" F1 "\",\n"
        "      \"nk_tag\": \"" F2 "\",\n      \"label\": \"shop\"\n    }\n  ],\n"
        "  \"scanned\": 18446744073709551615,\n  \"notes\": [\n    {\n"
        "      \"index\": 18446744073709551614,\n      \"addr_index\": 3,\n"
        "      \"cm\": \"" F2 "\",\n      \"value\": 18446744073709551615,\n"
        "      \"memo\": \"6869\",\n      \"seen\": \"x\"\n    },\n    {\n"
        "      \"index\": 18446744073709551615,\n      \"addr_index\": 3,\n"
        "      \"cm\": \"" F1 "\",\n      \"value\": 18446744073709551615,\n"
        "      \"memo\": \"\"\n    }\n  ],\n  \"future\": [\n    1,\n    2\n  ],\n"
        "  \"tzel_c_sync\": {\n    \"frontier_size\": 0\n  }\n}";
    CHECK_MSG(got && !strcmp(got, want), "%s", got ? got : "");
    free(got);

    /* status: exact u128 total, notes in order */
    json_t *st = tz_watch_status_json(w);
    char *s = tz_json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *head = "{\"mode\":\"view\",\"scanned\":18446744073709551615,"
                       "\"tracked\":2,\"incoming_total\":36893488147419103230,"
                       "\"outgoing_total\":0,\"spend_status\":"
                       "\"unavailable_without_spend_key\",\"notes\":[{\"index\":";
    CHECK_MSG(s && !strncmp(s, head, strlen(head)), "%s", s ? s : "");
    free(s);
    json_decref(st);
    tz_watch_free(w);
}

static tz_watch_record rec(uint64_t index, uint8_t cm)
{
    tz_watch_record r;
    memset(&r, 0, sizeof r);
    r.index = index;
    memset(r.cm.b, cm, sizeof r.cm.b);
    return r;
}

static void test_records_and_rollback(void)
{
    tz_watch *w = NULL;
    tz_error err = {0};
    CHECK(from_text("{\"mode\":\"detect\",\"version\":1,\"detect_root\":\"" F1
                    "\",\"addr_count\":1}",
                    &w, &err) == TZ_OK);
    bool added = false;
    tz_watch_record r = rec(5, 1);
    CHECK(tz_watch_add_record(w, &r, &added) == TZ_OK && added);
    CHECK(tz_watch_add_record(w, &r, &added) == TZ_OK && !added); /* (index, cm) known */
    r = rec(9, 2);
    CHECK(tz_watch_add_record(w, &r, &added) == TZ_OK && added);
    r = rec(7, 3); /* a rescan below the last record keeps leaf order */
    CHECK(tz_watch_add_record(w, &r, &added) == TZ_OK && added);
    r = rec(5, 4); /* another cm at the same leaf */
    CHECK(tz_watch_add_record(w, &r, &added) == TZ_OK && added);
    CHECK(w->n_recs == 4 && w->recs[0].index == 5 && w->recs[1].index == 5 &&
          w->recs[2].index == 7 && w->recs[3].index == 9);

    tz_felt fr[TZ_WATCH_FRONTIER_LEN];
    memset(fr, 7, sizeof fr);
    tz_watch_set_scan(w, 6, fr);
    tz_watch_mark_verified(w);
    memset(fr, 8, sizeof fr);
    tz_watch_set_scan(w, 10, fr);
    uint64_t from = 0, to = 0;
    size_t dropped = 0;
    tz_watch_rollback_unverified(w, &from, &to, &dropped);
    CHECK(from == 10 && to == 6 && dropped == 2 && w->n_recs == 2 && w->scanned == 6);
    CHECK(w->has_frontier && w->frontier[0].b[0] == 7);

    /* saved and loaded, the scan state comes back */
    CHECK(tz_watch_save(w, false, &err) == TZ_OK);
    tz_watch *l = NULL;
    CHECK_MSG(tz_watch_load(path, &l, &err) == TZ_OK, "%s", err.msg);
    CHECK(l && l->n_recs == 2 && l->scanned == 6 && l->has_frontier && l->has_verified &&
          l->verified_size == 6 && l->frontier[47].b[31] == 7);
    tz_watch_free(l);
    tz_watch_free(w);
    unlink(path);
}

static void test_load_refusals(void)
{
    tz_watch *w = NULL;
    tz_error err = {0};
    CHECK(tz_watch_load(path, &w, &err) == TZ_ENOTFOUND);
    tz_test_put_file(path,
                     "{\"mode\":\"outgoing\",\"version\":1,\"outgoing_seed\":\"" F1
                     "\",\"scanned\":1,\"notes\":[{\"index\":0,\"role\":\"nope\"}]}",
                     0600);
    CHECK(tz_watch_load(path, &w, &err) == TZ_EPARSE && !w);
    CHECK_MSG(strstr(err.msg, "notes[0].") != NULL, "%s", err.msg);
    tz_test_put_file(path,
                     "{\"mode\":\"outgoing\",\"version\":1,\"outgoing_seed\":\"" F1 "\"}", 0600);
    CHECK(tz_watch_load(path, &w, &err) == TZ_EPARSE);
    CHECK_MSG(strstr(err.msg, "field scanned: missing") != NULL, "%s", err.msg);
    unlink(path);
}

int main(void)
{
    if (tz_test_mkdtemp(dir, sizeof dir, "watch"))
        return 1;
    snprintf(path, sizeof path, "%s/w.json", dir);
    test_material_refusals();
    test_fresh_layout();
    test_roundtrip();
    test_records_and_rollback();
    test_load_refusals();
    tz_test_rmtree(dir);
    return tz_test_done("store_watch");
}
