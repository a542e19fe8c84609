/* Network profile: load, write keeping other fields, URL precedence. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/fsys.h"
#include "store/profile.h"
#include "tz_test.h"

static char dir[256], wallet[512], prof[600];

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static char *get_file(const char *path)
{
    char *t = NULL;
    size_t n;
    if (tz_read_file(path, 1 << 20, &t, &n, NULL) != TZ_OK)
        return NULL;
    return t;
}

static void test_load_write(void)
{
    tz_error err = {0};
    tz_profile *p = NULL;
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_ENOTFOUND);
    CHECK(strstr(err.msg, prof) != NULL);

    CHECK(tz_profile_write_url(wallet, "http://127.0.0.1:8932", &err) == TZ_OK);
    char *t = get_file(prof);
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
    put_file(prof, ref);
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_OK);
    CHECK(p && !strcmp(p->rollup_node_url, "https://old.example"));
    CHECK(p && !strcmp(json_string_value(json_object_get(p->doc, "network")), "shadownet"));
    tz_profile_free(p);
    p = NULL;
    CHECK(tz_profile_write_url(wallet, "https://new.example", &err) == TZ_OK);
    t = get_file(prof);
    CHECK(t && strstr(t, "\"rollup_node_url\": \"https://new.example\",\n  \"rollup_address\"") &&
          strstr(t, "\"dal_fee\": 18446744073709551615") && strstr(t, "\"operator_bearer_token\""));
    free(t);

    /* Missing or bad URL. */
    put_file(prof, "{\"network\": \"shadownet\"}");
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_EPARSE);
    CHECK(strstr(err.msg, "rollup_node_url") && strstr(err.msg, prof));
    put_file(prof, "{\"rollup_node_url\": 5}");
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_EPARSE);
    put_file(prof, "{\"rollup_node_url\": \"\"}");
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_EPARSE);
    put_file(prof, "{\"rollup_node_url\": \"http://x\"");
    CHECK(tz_profile_load(wallet, &p, &err) == TZ_EPARSE);
    CHECK(p == NULL);
    /* Writing over a profile without a URL keeps its other fields. */
    put_file(prof, "{\"network\": \"shadownet\"}");
    CHECK(tz_profile_write_url(wallet, "http://y", &err) == TZ_OK);
    t = get_file(prof);
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
    CHECK(tz_profile_resolve_url("", wallet, &url, &src, &err) == TZ_OK);
    CHECK(url && !strcmp(url, "http://env"));
    free(url);
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
    put_file(prof, "not json");
    CHECK(tz_profile_resolve_url(NULL, wallet, &url, &src, &err) == TZ_EPARSE);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/tz-unit-store-profile-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(wallet, sizeof wallet, "%s/wallet.json", dir);
    snprintf(prof, sizeof prof, "%s.network.json", wallet);
    test_load_write();
    test_resolve();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return tz_test_done("store_profile");
}
