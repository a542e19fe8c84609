/* The network profile `<wallet>.network.json` (profile.h): loading and
 * validating it, the rollup node URL, writing the URL back. */
#include "base/path.h"
#include "store/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "store/atomic.h"
#include "store/fsys.h"
#include "store/jsonnum.h"

#define PROFILE_MAX_BYTES ((size_t)1 << 20)
#define ENV_URL "TZEL_ROLLUP_NODE_URL"

void tz_profile_free(tz_profile *p)
{
    if (!p)
        return;
    json_decref(p->doc); /* may hold a bearer token: not wiped by jansson */
    free(p->path);
    free(p);
}

tz_status tz_profile_load(const char *wallet_path, tz_profile **out, tz_error *err)
{
    tz_status st;
    char *text = NULL;
    size_t len = 0;
    tz_profile *p = calloc(1, sizeof *p);
    if (!p || !(p->path = tz_path_companion(wallet_path, TZ_PROFILE_SUFFIX))) {
        free(p);
        return tz_error_set(err, TZ_ENOMEM, "load network profile: out of memory");
    }
    st = tz_read_file(p->path, PROFILE_MAX_BYTES, &text, &len, err);
    if (st == TZ_ENOTFOUND)
        tz_error_set(err, st, "network profile %s not found", p->path);
    if (st)
        goto out;
    char what[TZ_ERROR_MSG_MAX / 2];
    snprintf(what, sizeof what, "network profile %s", p->path);
    if ((st = tz_json_load_exact(text, len, what, &p->doc, err)))
        goto out;
    json_t *u = json_object_get(p->doc, "rollup_node_url");
    if (!json_is_object(p->doc) || !json_is_string(u) || !*json_string_value(u) ||
        strlen(json_string_value(u)) != json_string_length(u)) {
        st = tz_error_set(err, TZ_EPARSE,
                          "network profile %s: field rollup_node_url: expected a non-empty "
                          "string",
                          p->path);
        goto out;
    }
    p->rollup_node_url = json_string_value(u);
    *out = p;
    p = NULL;
out:
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    tz_profile_free(p);
    return st;
}

tz_status tz_profile_write_url(const char *wallet_path, const char *url, tz_error *err)
{
    if (!url || !*url)
        return tz_error_set(err, TZ_EINVAL, "network profile: empty rollup node URL");
    json_t *doc = NULL;
    char *oldtext = NULL;
    size_t oldlen = 0;
    char *path = tz_path_companion(wallet_path, TZ_PROFILE_SUFFIX), *text = NULL;
    size_t len = 0;
    tz_status st = TZ_OK;
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "network profile: out of memory");
    /* Keep every field of an existing profile that is a JSON object, even
     * one without a usable URL yet. */
    if (tz_read_file(path, PROFILE_MAX_BYTES, &oldtext, &oldlen, NULL) == TZ_OK &&
        tz_json_load_exact(oldtext, oldlen, path, &doc, NULL) == TZ_OK && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    if (oldtext) {
        sodium_memzero(oldtext, oldlen);
        free(oldtext);
    }
    if (!doc)
        doc = json_object();
    if (!doc || json_object_set_new(doc, "rollup_node_url", json_string(url))) {
        st = tz_error_set(err, TZ_ENOMEM, "network profile %s: out of memory", path);
        goto out;
    }
    if ((st = tz_json_dump_exact(doc, &text, &len, err)))
        goto out;
    st = tz_atomic_write(path, text, len, 0600, err);
out:
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    json_decref(doc);
    free(path);
    return st;
}

tz_status tz_profile_resolve_url(const char *flag_url, const char *wallet_path, char **out,
                                 const char **source, tz_error *err)
{
    const char *env = getenv(ENV_URL);
    const char *url = NULL, *src = NULL;
    tz_profile *p = NULL;
    if (flag_url && !*flag_url)
        return tz_error_set(err, TZ_EINVAL, "--rollup-node-url must not be empty");
    if (flag_url) {
        url = flag_url;
        src = "flag";
    } else if (env && *env) {
        url = env;
        src = "env";
    } else {
        tz_status st = tz_profile_load(wallet_path, &p, err);
        if (st == TZ_ENOTFOUND)
            return tz_error_set(err, TZ_ENOTFOUND,
                                "no rollup node URL: pass --rollup-node-url, set " ENV_URL
                                ", or run init with --rollup-node-url to write "
                                "%s.network.json",
                                wallet_path);
        if (st)
            return st;
        url = p->rollup_node_url;
        src = "profile";
    }
    char *copy = strdup(url);
    tz_profile_free(p);
    if (!copy)
        return tz_error_set(err, TZ_ENOMEM, "rollup node URL: out of memory");
    *out = copy;
    if (source)
        *source = src;
    return TZ_OK;
}
