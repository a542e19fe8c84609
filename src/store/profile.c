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

const char *const tz_profile_fields[] = {
    "network",        "rollup_node_url",       "rollup_address", "bridge_ticketer",
    "dal_fee",        "dal_fee_address",       "operator_url",   "operator_bearer_token",
    "source_alias",   "public_account",        "octez_client_bin", "octez_client_dir",
    "octez_node_endpoint", "octez_protocol",   "burn_cap",       NULL,
};

const char *tz_profile_str(const tz_profile *p, const char *key)
{
    json_t *v = p ? json_object_get(p->doc, key) : NULL;
    return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
}

const json_t *tz_profile_get(const tz_profile *p, const char *key)
{
    return p ? json_object_get(p->doc, key) : NULL;
}

bool tz_profile_u64(const tz_profile *p, const char *key, uint64_t *out)
{
    return p && tz_json_get_u64(json_object_get(p->doc, key), out);
}

json_t *tz_profile_display(const tz_profile *p, bool redact)
{
    json_t *o = json_object();
    for (size_t i = 0; o && tz_profile_fields[i]; i++) {
        const char *k = tz_profile_fields[i];
        json_t *v = json_object_get(p->doc, k);
        if (!v && !strcmp(k, "octez_client_bin"))
            v = json_string("octez-client");
        else if (!v && !strcmp(k, "burn_cap"))
            v = json_string("1");
        else if (v && redact && !strcmp(k, "operator_bearer_token"))
            v = json_string("<redacted>");
        else if (v)
            json_incref(v);
        if (v && json_object_set_new(o, k, v)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

tz_status tz_profile_validate(const json_t *profile, tz_error *err)
{
    uint64_t fee;
    json_t *f = json_object_get(profile, "dal_fee");
    if (f && (!tz_json_get_u64(f, &fee) || fee == 0))
        return tz_error_set(err, TZ_EINVAL, "dal_fee must be greater than zero");
    json_t *u = json_object_get(profile, "operator_url");
    json_t *t = json_object_get(profile, "operator_bearer_token");
    bool has_url = json_is_string(u);
    bool has_token = false;
    if (json_is_string(t))
        for (const char *c = json_string_value(t); *c && !has_token; c++)
            has_token = *c != ' ' && *c != '\t' && *c != '\n' && *c != '\r';
    if (has_url && !has_token)
        return tz_error_set(err, TZ_EINVAL,
                            "operator_url requires operator_bearer_token; pass both or neither");
    if (!has_url && has_token)
        return tz_error_set(err, TZ_EINVAL,
                            "operator_bearer_token requires operator_url; pass both or neither");
    return TZ_OK;
}

tz_status tz_profile_save(const char *wallet_path, const json_t *profile, tz_error *err)
{
    tz_status st = tz_profile_validate(profile, err);
    if (st)
        return st;
    char *path = tz_path_companion(wallet_path, TZ_PROFILE_SUFFIX), *text = NULL;
    size_t len = 0;
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "network profile: out of memory");
    if ((st = tz_json_dump_exact(profile, &text, &len, err)) == TZ_OK)
        st = tz_atomic_write(path, text, len, 0600, err);
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    free(path);
    return st;
}
