/* Network profile: load, write keeping other fields, URL precedence. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/fsys.h"
#include "store/profile.h"
#include "tz_test_util.h"

static char dir[256], wallet[512], prof[600];

static void test_load_write(void)
{
    tz_error err = {0};
    tz_profile *p = NULL;
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_ENOTFOUND);
    CHECK(strstr(err.msg, prof) != NULL);

    CHECK(tz_profile_write_url(wallet, "http://127.0.0.1:8932", &err) == TZ_OK);
    char *t = tz_test_get_file(prof);
    CHECK_MSG(t && !strcmp(t, "{\n  \"rollup_node_url\": \"http://127.0.0.1:8932\"\n}"), "%s",
              t ? t : "(none)");
    free(t);
    struct stat sb;
    CHECK(stat(prof, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_OK);
    CHECK(p && !strcmp(p->rollup_node_url, "http://127.0.0.1:8932"));
    tz_profile_free(p);
    p = NULL;

    /* A reference profile: every other field is kept, in place. */
    const char *ref = "{\n"
                      "  \"network\": \"shadownet\",\n"
                      "  \"rollup_node_url\": \"https://old.example\",\n"
                      "  \"rollup_address\": \"sr1abc\",\n"
                      "  \"dal_fee\": 18446744073709551615,\n"
                      "  \"operator_bearer_token\": \"secret\"\n"
                      "}";
    tz_test_put_file(prof, ref, 0);
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_OK);
    CHECK(p && !strcmp(p->rollup_node_url, "https://old.example"));
    CHECK(p && !strcmp(json_string_value(json_object_get(p->doc, "network")), "shadownet"));
    tz_profile_free(p);
    p = NULL;
    CHECK(tz_profile_write_url(wallet, "https://new.example", &err) == TZ_OK);
    t = tz_test_get_file(prof);
    CHECK(t && strstr(t, "\"rollup_node_url\": \"https://new.example\",\n  \"rollup_address\"") &&
          strstr(t, "\"dal_fee\": 18446744073709551615") && strstr(t, "\"operator_bearer_token\""));
    free(t);

    /* Missing or bad URL. */
    tz_test_put_file(prof, "{\"network\": \"shadownet\"}", 0);
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_EPARSE);
    CHECK(strstr(err.msg, "rollup_node_url") && strstr(err.msg, prof));
    tz_test_put_file(prof, "{\"rollup_node_url\": 5}", 0);
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_EPARSE);
    tz_test_put_file(prof, "{\"rollup_node_url\": \"\"}", 0);
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_EPARSE);
    tz_test_put_file(prof, "{\"rollup_node_url\": \"http://x\"", 0);
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_EPARSE);
    CHECK(p == NULL);
    /* Writing over a profile without a URL keeps its other fields. */
    tz_test_put_file(prof, "{\"network\": \"shadownet\"}", 0);
    CHECK(tz_profile_write_url(wallet, "http://y", &err) == TZ_OK);
    t = tz_test_get_file(prof);
    CHECK(t && strstr(t, "shadownet") && strstr(t, "http://y"));
    free(t);
    CHECK(tz_profile_write_url(wallet, "", &err) == TZ_EINVAL);
}

static void test_resolve(void)
{
    tz_error err = {0};
    char *url = NULL;
    const char *src = NULL;
    CHECK(tz_profile_write_url(wallet, "http://profile", &err) == TZ_OK);
    unsetenv("TZEL_ROLLUP_NODE_URL");
    CHECK(tz_profile_resolve_url(NULL, wallet, &url, &src, &err) == TZ_OK);
    CHECK(url && !strcmp(url, "http://profile") && !strcmp(src, "profile"));
    free(url);
    setenv("TZEL_ROLLUP_NODE_URL", "http://env", 1);
    CHECK(tz_profile_resolve_url(NULL, wallet, &url, &src, &err) == TZ_OK);
    CHECK(url && !strcmp(url, "http://env") && !strcmp(src, "env"));
    free(url);
    /* An empty flag is a mistake, not "no flag" (issue 14: it was ignored). */
    url = NULL;
    CHECK(tz_profile_resolve_url("", wallet, &url, &src, &err) == TZ_EINVAL && url == NULL);
    CHECK(strstr(err.msg, "--rollup-node-url must not be empty") != NULL);
    CHECK(tz_profile_resolve_url("http://flag", wallet, &url, &src, &err) == TZ_OK);
    CHECK(url && !strcmp(url, "http://flag") && !strcmp(src, "flag"));
    free(url);
    setenv("TZEL_ROLLUP_NODE_URL", "", 1);
    CHECK(tz_profile_resolve_url(NULL, wallet, &url, &src, &err) == TZ_OK);
    CHECK(url && !strcmp(url, "http://profile"));
    free(url);
    unsetenv("TZEL_ROLLUP_NODE_URL");
    unlink(prof);
    url = NULL;
    CHECK(tz_profile_resolve_url(NULL, wallet, &url, &src, &err) == TZ_ENOTFOUND);
    CHECK(url == NULL);
    CHECK_MSG(strstr(err.msg, "--rollup-node-url") && strstr(err.msg, "TZEL_ROLLUP_NODE_URL"),
              "%s", err.msg);
    tz_test_put_file(prof, "not json", 0);
    CHECK(tz_profile_resolve_url(NULL, wallet, &url, &src, &err) == TZ_EPARSE);
}

int main(void)
{
    if (tz_test_mkdtemp(dir, sizeof dir, "store-profile") != 0)
        return 2;
    snprintf(wallet, sizeof wallet, "%s/wallet.json", dir);
    snprintf(prof, sizeof prof, "%s.network.json", wallet);
    test_load_write();
    test_resolve();
    tz_test_rmtree(dir);
    return tz_test_done("store_profile");
}
