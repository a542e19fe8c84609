#include "store/floor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/keys.h"
#include "store/atomic.h"
#include "store/fsys.h"
#include "store/jsonnum.h"

#define FLOOR_MAX_BYTES ((size_t)16 << 20)

static char *floor_path(const char *wallet_path)
{
    size_t n = strlen(wallet_path) + sizeof ".xmss-floor";
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s.xmss-floor", wallet_path);
    return p;
}

static void fingerprint(tz_felt *out, const tz_wallet *w)
{
    tz_wallet_fingerprint(out, &w->master_sk);
}

/* Sets m[key] = max(m[key], v). */
static int raise_entry(json_t *m, uint32_t index, uint64_t v)
{
    char key[16];
    uint64_t cur;
    snprintf(key, sizeof key, "%u", (unsigned)index);
    json_t *e = json_object_get(m, key);
    if (e && tz_json_get_u64(e, &cur) && cur >= v)
        return 0;
    return json_object_set_new(m, key, json_integer((json_int_t)v));
}

tz_status tz_floor_write(tz_wallet *w, tz_error *err)
{
    tz_status st = TZ_OK;
    char *path = floor_path(w->path), *text = NULL;
    size_t len = 0;
    json_t *doc = json_object(), *m = json_object();
    int rc = !path || !doc || !m;
    if (!rc) {
        tz_felt fp;
        char hex[TZ_FELT_HEX + 1];
        fingerprint(&fp, w);
        tz_felt_to_hex(hex, &fp);
        rc |= json_object_set_new(doc, "wallet_fingerprint", json_string(hex));
        rc |= json_object_set_new(doc, "addr_counter", json_integer(w->addr_counter));
        const char *k;
        json_t *v;
        uint64_t x;
        json_object_foreach(json_object_get(w->doc, "wots_key_indices"), k, v)
        {
            if (tz_json_get_u64(v, &x))
                rc |= json_object_set_new(m, k, json_integer((json_int_t)x));
        }
        for (size_t i = 0; i < w->n_addresses; i++) {
            json_t *ni = json_object_get(
                json_object_get(w->addr_objs ? w->addr_objs[i] : NULL, "bds"), "next_index");
            if (ni && tz_json_get_u64(ni, &x))
                rc |= raise_entry(m, w->addresses[i].index, x);
            else
                rc |= raise_entry(m, w->addresses[i].index, 0);
        }
        rc |= json_object_set(doc, "wots_key_indices", m);
    }
    if (rc) {
        st = tz_error_set(err, TZ_ENOMEM, "write xmss floor: out of memory");
        goto out;
    }
    if ((st = tz_json_dump_exact(doc, &text, &len, err)))
        goto out;
    /* Unchanged since our last write and still there: nothing to do. */
    uint8_t digest[32];
    struct stat sb;
    crypto_generichash(digest, sizeof digest, (const unsigned char *)text, len, NULL, 0);
    if (w->floor_len == len && sodium_memcmp(digest, w->floor_digest, sizeof digest) == 0 &&
        stat(path, &sb) == 0 && (size_t)sb.st_size == len)
        goto out;
    st = tz_atomic_write(path, text, len, 0600, err);
    if (st == TZ_OK) {
        memcpy(w->floor_digest, digest, sizeof digest);
        w->floor_len = len;
    } else {
        w->floor_len = 0;
    }
out:
    free(text);
    json_decref(m);
    json_decref(doc);
    free(path);
    return st;
}

tz_status tz_floor_check(const tz_wallet *w, tz_error *err)
{
    tz_status st;
    char *path = floor_path(w->path), *text = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "check xmss floor: out of memory");
    st = tz_read_file(path, FLOOR_MAX_BYTES, &text, &len, err);
    if (st == TZ_ENOTFOUND) {
        st = TZ_OK;
        goto out;
    }
    if (st)
        goto out;
    char what[TZ_ERROR_MSG_MAX / 2];
    snprintf(what, sizeof what, "xmss floor %s", path);
    if ((st = tz_json_load_exact(text, len, what, &doc, err)))
        goto out;
    json_t *fpj = json_object_get(doc, "wallet_fingerprint");
    json_t *acj = json_object_get(doc, "addr_counter");
    json_t *m = json_object_get(doc, "wots_key_indices");
    tz_felt fp, mine;
    uint64_t ac;
    if (!json_is_object(doc) || !json_is_string(fpj) ||
        tz_felt_from_hex(&fp, json_string_value(fpj)) != TZ_OK ||
        strlen(json_string_value(fpj)) != TZ_FELT_HEX || !tz_json_get_u64(acj, &ac) ||
        ac > UINT32_MAX || (m && !json_is_object(m))) {
        st = tz_error_set(err, TZ_EPARSE,
                          "xmss floor %s is malformed (expected wallet_fingerprint, "
                          "addr_counter, wots_key_indices)",
                          path);
        goto out;
    }
    fingerprint(&mine, w);
    if (!tz_felt_eq(&fp, &mine))
        goto out; /* another wallet's floor: not ours to enforce */
    if (w->addr_counter < ac) {
        st = tz_error_set(err, TZ_ESTATE,
                          "wallet %s appears to be restored from a stale backup: addr_counter "
                          "%u is behind the durable XMSS floor %llu (%s); refusing to load it "
                          "so one-time keys are not reused",
                          w->path, (unsigned)w->addr_counter, (unsigned long long)ac, path);
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        uint64_t need;
        char *end = NULL;
        unsigned long idx = strtoul(k, &end, 10);
        if (!*k || *end || idx > UINT32_MAX || !tz_json_get_u64(v, &need)) {
            st = tz_error_set(err, TZ_EPARSE, "xmss floor %s: bad wots_key_indices entry \"%s\"",
                              path, k);
            goto out;
        }
        uint32_t cur = tz_wallet_wots_next(w, (uint32_t)idx);
        if (cur < need) {
            st = tz_error_set(err, TZ_ESTATE,
                              "wallet %s appears to be restored from a stale backup: address "
                              "%lu next one-time key index %u is behind the durable XMSS floor "
                              "%llu (%s); refusing to load it so one-time keys are not reused",
                              w->path, idx, (unsigned)cur, (unsigned long long)need, path);
            goto out;
        }
    }
out:
    json_decref(doc);
    free(text);
    free(path);
    return st;
}
