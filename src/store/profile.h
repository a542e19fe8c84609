/* `<wallet>.network.json`: the network profile (WALLET_FILE.md). Only
 * `rollup_node_url` is required; every other field is kept as found. */
#ifndef TZ_STORE_PROFILE_H
#define TZ_STORE_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

/* Appended to the wallet path to name the profile. */
#define TZ_PROFILE_SUFFIX ".network.json"

typedef struct tz_profile {
    char *path;                  /* <wallet>.network.json */
    json_t *doc;                 /* the whole document */
    const char *rollup_node_url; /* points into doc */
} tz_profile;

/* The reference's profile fields, in its serialization order: required
 * strings, then dal_fee (u64) and dal_fee_address (a PaymentAddress object),
 * the operator pair (both or neither), the account and octez-client
 * settings (octez_client_bin defaults to "octez-client", burn_cap to "1"). */
extern const char *const tz_profile_fields[];

/* A non-empty string field of the profile, or NULL (also for p == NULL). */
const char *tz_profile_str(const tz_profile *p, const char *key);

/* Any field of the profile (borrowed from the profile, NULL when absent or
 * p is NULL), e.g. the dal_fee_address object. */
const json_t *tz_profile_get(const tz_profile *p, const char *key);

/* A u64 field (dal_fee) into *out; false when absent or not a u64. */
bool tz_profile_u64(const tz_profile *p, const char *key, uint64_t *out);

/* The profile as the reference prints it: the known fields that are
 * present (plus the two defaults), in its order, unknown fields left out;
 * with `redact`, the bearer token shown as "<redacted>". A new object
 * (NULL when out of memory). */
json_t *tz_profile_display(const tz_profile *p, bool redact);

/* Checks a profile object as the reference does before saving it:
 * dal_fee > 0 when present, operator_url and operator_bearer_token (not
 * blank) both or neither. TZ_OK or TZ_EINVAL with the reference's words. */
tz_status tz_profile_validate(const json_t *profile, tz_error *err) TZ_WUR;

/* Validates and writes `profile` (not stolen) as `<wallet_path>.network.json`
 * (serde's pretty layout, atomic, mode 0600). TZ_OK, TZ_EINVAL, TZ_EIO,
 * TZ_ENOMEM; the old profile intact on failure. */
tz_status tz_profile_save(const char *wallet_path, const json_t *profile, tz_error *err) TZ_WUR;

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
