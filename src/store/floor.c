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
    size_t n = strlen(wallet_path) + sizeof TZ_FLOOR_SUFFIX;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s" TZ_FLOOR_SUFFIX, wallet_path);
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

static int index_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return a < b ? -1 : a > b;
}

/* A new object with m's entries (keys are u32 decimal) in ascending
 * numeric order: the reference writes a HashMap (order varies per run), so
 * ours is deterministic. Returns 0 or -1 (out of memory). */
static int sorted_copy(const json_t *m, json_t **out)
{
    size_t n = json_object_size(m), k = 0;
    uint32_t *idx = calloc(n ? n : 1, sizeof *idx);
    json_t *res = json_object();
    if (!idx || !res) {
        free(idx);
        json_decref(res);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)m, key, v)
    {
        if (k < n)
            idx[k++] = (uint32_t)strtoul(key, NULL, 10);
    }
    qsort(idx, k, sizeof *idx, index_cmp);
    int rc = 0;
    for (size_t i = 0; !rc && i < k; i++) {
        char kb[16];
        snprintf(kb, sizeof kb, "%u", (unsigned)idx[i]);
        v = json_object_get(m, kb);
        rc = v ? json_object_set(res, kb, v) : 0;
    }
    free(idx);
    if (rc) {
        json_decref(res);
        return -1;
    }
    *out = res;
    return 0;
}

tz_status tz_floor_write(tz_wallet *w, tz_error *err)
{
    tz_status st = TZ_OK;
    char *path = floor_path(w->path), *text = NULL;
    size_t len = 0;
    json_t *doc = json_object(), *m = json_object(), *sorted = NULL;
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
        rc |= sorted_copy(m, &sorted);
        if (!rc)
            rc |= json_object_set_new(doc, "wots_key_indices", sorted);
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
    snprintf(what, sizeof what, "parse xmss floor: %s", path);
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
                          "parse xmss floor: %s: malformed (expected wallet_fingerprint, "
                          "addr_counter, wots_key_indices)",
                          path);
        goto out;
    }
    fingerprint(&mine, w);
    if (!tz_felt_eq(&fp, &mine))
        goto out; /* another wallet's floor: not ours to enforce */
    if (w->addr_counter < ac) {
        st = tz_error_set(err, TZ_ESTATE,
                          "wallet appears to be restored from a stale backup: addr_counter %u "
                          "is behind durable XMSS floor %llu \xe2\x80\x94 refusing to load %s so "
                          "one-time keys are not reused (floor file %s)",
                          (unsigned)w->addr_counter, (unsigned long long)ac, w->path, path);
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
        uint32_t cur = tz_wallet_wots_next(w, (uint32_t)idx);
        if (cur < need) {
            st = tz_error_set(err, TZ_ESTATE,
                              "wallet appears to be restored from a stale backup: address %lu "
                              "next_wots_index %u is behind durable XMSS floor %llu \xe2\x80\x94 "
                              "refusing to load %s so one-time keys are not reused (floor "
                              "file %s)",
                              idx, (unsigned)cur, (unsigned long long)need, w->path, path);
            goto out;
        }
    }
out:
    json_decref(doc);
    free(text);
    free(path);
    return st;
}
