/* The xmss floor file (floor.h): written from the state the wallet builds,
 * skipped when unchanged, and checked on load against a stale backup. */
#include "base/path.h"
#include "store/floor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "store/atomic.h"
#include "store/fsys.h"
#include "store/jsonnum.h"

#define FLOOR_MAX_BYTES ((size_t)16 << 20)

tz_status tz_floor_write(const tz_floor_state *s, tz_floor_cache *cache, tz_error *err)
{
    tz_status st = TZ_OK;
    char *path = tz_path_companion(s->wallet_path, TZ_FLOOR_SUFFIX), *text = NULL;
    size_t len = 0;
    json_t *doc = json_object(), *m = json_object();
    int rc = !path || !doc || !m;
    if (!rc) {
        char hex[TZ_FELT_HEX + 1];
        tz_felt_to_hex(hex, &s->fingerprint);
        rc |= json_object_set_new(doc, "wallet_fingerprint", json_string(hex));
        rc |= json_object_set_new(doc, "addr_counter", json_integer(s->addr_counter));
        for (size_t i = 0; i < s->n; i++) {
            char key[16];
            snprintf(key, sizeof key, "%u", (unsigned)s->entries[i].index);
            rc |= json_object_set_new(m, key, tz_json_u64(s->entries[i].floor));
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
    if (cache->len == len && sodium_memcmp(digest, cache->digest, sizeof digest) == 0 &&
        stat(path, &sb) == 0 && (size_t)sb.st_size == len)
        goto out;
    st = tz_atomic_write(path, text, len, 0600, err);
    if (st == TZ_OK) {
        memcpy(cache->digest, digest, sizeof digest);
        cache->len = len;
    } else {
        cache->len = 0;
    }
out:
    free(text);
    json_decref(m);
    json_decref(doc);
    free(path);
    return st;
}

/* The state's `current` for address `index`, 0 when it has none. */
static uint64_t current_of(const tz_floor_state *s, uint32_t index)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->entries[mid].index == index)
            return s->entries[mid].current;
        if (s->entries[mid].index < index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

tz_status tz_floor_check(const tz_floor_state *s, tz_error *err)
{
    tz_status st;
    const char *wpath = s->wallet_path;
    char *path = tz_path_companion(wpath, TZ_FLOOR_SUFFIX), *text = NULL;
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
    snprintf(what, sizeof what, "parse xmss floor: %s", path);
    if ((st = tz_json_load_exact(text, len, what, &doc, err)))
        goto out;
    json_t *fpj = json_object_get(doc, "wallet_fingerprint");
    json_t *acj = json_object_get(doc, "addr_counter");
    json_t *m = json_object_get(doc, "wots_key_indices");
    tz_felt fp;
    uint64_t ac;
    if (!json_is_object(doc) || !json_is_string(fpj) ||
        tz_felt_from_hex(&fp, json_string_value(fpj)) != TZ_OK ||
        strlen(json_string_value(fpj)) != TZ_FELT_HEX || !tz_json_get_u64(acj, &ac) ||
        ac > UINT32_MAX || (m && !json_is_object(m))) {
        st = tz_error_set(err, TZ_EPARSE,
                          "parse xmss floor: %s: malformed (expected wallet_fingerprint, "
                          "addr_counter, wots_key_indices)",
                          path);
        goto out;
    }
    if (!tz_felt_eq(&fp, &s->fingerprint))
        goto out; /* another wallet's floor: not ours to enforce */
    if (s->addr_counter < ac) {
        st = tz_error_set(err, TZ_ESTATE,
                          "wallet appears to be restored from a stale backup: addr_counter %u "
                          "is behind durable XMSS floor %llu \xe2\x80\x94 refusing to load %s so "
                          "one-time keys are not reused (floor file %s)",
                          (unsigned)s->addr_counter, (unsigned long long)ac, wpath, path);
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
            st = tz_error_set(err, TZ_EPARSE,
                              "parse xmss floor: %s: bad wots_key_indices entry \"%s\"", path,
                              k);
            goto out;
        }
        uint64_t cur = current_of(s, (uint32_t)idx);
        if (cur < need) {
            st = tz_error_set(err, TZ_ESTATE,
                              "wallet appears to be restored from a stale backup: address %lu "
                              "next_wots_index %llu is behind durable XMSS floor %llu "
                              "\xe2\x80\x94 refusing to load %s so one-time keys are not "
                              "reused (floor file %s)",
                              idx, (unsigned long long)cur, (unsigned long long)need, wpath,
                              path);
            goto out;
        }
    }
out:
    json_decref(doc);
    free(text);
    free(path);
    return st;
}
