/* `<wallet>.network.json`: the network profile (WALLET_FILE.md). Only
 * `rollup_node_url` is required; every other field is kept as found. */
#ifndef TZ_STORE_PROFILE_H
#define TZ_STORE_PROFILE_H

#include <jansson.h>

#include "core/status.h"

/* Appended to the wallet path to name the profile. */
#define TZ_PROFILE_SUFFIX ".network.json"

typedef struct tz_profile {
    char *path;                  /* <wallet>.network.json */
    json_t *doc;                 /* the whole document */
    const char *rollup_node_url; /* points into doc */
} tz_profile;

/* Loads `<wallet_path>.network.json`. On success *out owns a new profile.
 * Errors: TZ_ENOTFOUND, TZ_EIO, TZ_EPARSE (not JSON, not an object,
 * rollup_node_url missing, empty or not a string), TZ_ENOMEM. */
tz_status tz_profile_load(const char *wallet_path, tz_profile **out, tz_error *err) TZ_WUR;

/* Writes `<wallet_path>.network.json` (atomic, mode 0600) with
 * rollup_node_url = url, keeping every other field of an existing
 * well-formed profile. Returns TZ_OK, TZ_EINVAL (empty url), TZ_EIO,
 * TZ_ENOMEM; the old profile is intact on failure. */
tz_status tz_profile_write_url(const char *wallet_path, const char *url, tz_error *err) TZ_WUR;

/* Resolves the rollup node URL: `flag_url` (--rollup-node-url) if non-NULL
 * (an empty one is TZ_EINVAL, "--rollup-node-url must not be empty"), else
 * $TZEL_ROLLUP_NODE_URL if set and non-empty, else the profile's
 * rollup_node_url. *out is a new string (free()); *source (may be NULL) is
 * set to "flag", "env" or "profile". Errors: TZ_EINVAL, TZ_ENOTFOUND (no
 * source gives a URL; the message says how to give one), the profile's
 * load errors, TZ_ENOMEM. */
tz_status tz_profile_resolve_url(const char *flag_url, const char *wallet_path, char **out,
                                 const char **source, tz_error *err) TZ_WUR;

/* Releases `p`. NULL is a no-op. */
void tz_profile_free(tz_profile *p);

#endif
