#include "store/wallet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "store/atomic.h"
#include "store/floor.h"
#include "store/fsys.h"
#include "store/jsonnum.h"

#define WALLET_MAX_BYTES ((size_t)1 << 30)
#define SYNC_KEY "tzel_c_sync"
#define FRONTIER_LEN 48

/* ---- parsing helpers ---------------------------------------------------- */

typedef struct pctx {
    const char *path;
    tz_error *err;
} pctx;

static tz_status bad(pctx *c, const char *field, const char *what)
{
    return tz_error_set(c->err, TZ_EPARSE, "parse wallet: %s: field %s: %s", c->path, field,
                        what);
}

static tz_status felt_val(pctx *c, const json_t *v, const char *field, tz_felt *out)
{
    if (!json_is_string(v))
        return bad(c, field, "expected a string of 64 hex characters");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n != TZ_FELT_HEX || strlen(s) != n)
        return bad(c, field, "expected exactly 64 hex characters");
    if (tz_felt_from_hex(out, s) != TZ_OK)
        return bad(c, field, "not a hex string");
    return TZ_OK;
}

static tz_status u64_val(pctx *c, const json_t *v, const char *field, uint64_t *out)
{
    if (!tz_json_get_u64(v, out))
        return bad(c, field, "expected a non-negative integer below 2^64");
    return TZ_OK;
}

static tz_status u32_val(pctx *c, const json_t *v, const char *field, uint32_t *out)
{
    uint64_t x;
    if (!tz_json_get_u64(v, &x) || x > UINT32_MAX)
        return bad(c, field, "expected a non-negative integer below 2^32");
    *out = (uint32_t)x;
    return TZ_OK;
}

/* Required member `key` of `obj`; `prefix` names obj in messages. */
static tz_status member(pctx *c, const json_t *obj, const char *prefix, const char *key,
                        json_t **out, char *field, size_t cap)
{
    snprintf(field, cap, "%s%s%s", prefix, *prefix ? "." : "", key);
    *out = json_object_get(obj, key);
    if (!*out)
        return bad(c, field, "missing");
    return TZ_OK;
}

#define FIELD_MAX 160

static tz_status req_felt(pctx *c, const json_t *obj, const char *prefix, const char *key,
                          tz_felt *out)
{
    char f[FIELD_MAX];
    json_t *v;
    tz_status st = member(c, obj, prefix, key, &v, f, sizeof f);
    return st ? st : felt_val(c, v, f, out);
}

static tz_status req_u64(pctx *c, const json_t *obj, const char *prefix, const char *key,
                         uint64_t *out)
{
    char f[FIELD_MAX];
    json_t *v;
    tz_status st = member(c, obj, prefix, key, &v, f, sizeof f);
    return st ? st : u64_val(c, v, f, out);
}

static tz_status req_u32(pctx *c, const json_t *obj, const char *prefix, const char *key,
                         uint32_t *out)
{
    char f[FIELD_MAX];
    json_t *v;
    tz_status st = member(c, obj, prefix, key, &v, f, sizeof f);
    return st ? st : u32_val(c, v, f, out);
}

/* Optional array member: absent -> *out NULL; present but not an array ->
 * EPARSE. */
static tz_status opt_array(pctx *c, const json_t *obj, const char *key, json_t **out)
{
    *out = json_object_get(obj, key);
    if (*out && !json_is_array(*out))
        return bad(c, key, "expected an array");
    return TZ_OK;
}

static tz_status parse_u32_key(const char *k, uint32_t *out)
{
    if (!*k || strlen(k) > 10)
        return TZ_EINVAL;
    uint64_t acc = 0;
    for (const char *p = k; *p; p++) {
        if (*p < '0' || *p > '9')
            return TZ_EINVAL;
        acc = acc * 10 + (uint64_t)(*p - '0');
    }
    if (acc > UINT32_MAX || (k[0] == '0' && k[1]))
        return TZ_EINVAL;
    *out = (uint32_t)acc;
    return TZ_OK;
}

/* ---- allocation helpers -------------------------------------------------- */

static tz_status grow(void **arr, size_t n, size_t elem)
{
    void *p = realloc(*arr, (n + 1) * elem);
    if (!p)
        return TZ_ENOMEM;
    *arr = p;
    return TZ_OK;
}

static void spend_clear(tz_pending_spend *s)
{
    free(s->nullifiers);
    json_decref(s->obj);
    memset(s, 0, sizeof *s);
}

static void deposit_clear(tz_pending_deposit *d)
{
    json_decref(d->obj);
    sodium_memzero(d, sizeof *d);
}

/* Overwrites every string of a JSON tree in place before it is freed:
 * jansson frees without wiping, and master_sk, nk_spend, rseed and blinds
 * live in the document. Depth-limited (wallet documents are shallow). */
static void wipe_json(json_t *v, int depth)
{
    if (!v || depth > 64)
        return;
    if (json_is_string(v)) {
        char *s = (char *)json_string_value(v);
        sodium_memzero(s, json_string_length(v));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            wipe_json(json_array_get(v, i), depth + 1);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e)
        {
            wipe_json(e, depth + 1);
        }
    }
}

void tz_wallet_free(tz_wallet *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_addresses; i++)
        json_decref(w->addr_objs ? w->addr_objs[i] : NULL);
    for (size_t i = 0; i < w->n_notes; i++) {
        if (w->note_objs) {
            wipe_json(w->note_objs[i], 0);
            json_decref(w->note_objs[i]);
        }
    }
    for (size_t i = 0; i < w->n_spends; i++)
        spend_clear(&w->spends[i]);
    for (size_t i = 0; i < w->n_deposits; i++) {
        wipe_json(w->deposits[i].obj, 0);
        deposit_clear(&w->deposits[i]);
    }
    wipe_json(w->doc, 0);
    json_decref(w->doc);
    if (w->notes)
        sodium_memzero(w->notes, w->n_notes * sizeof *w->notes);
    free(w->addresses);
    free(w->addr_objs);
    free(w->notes);
    free(w->note_objs);
    free(w->spends);
    free(w->deposits);
    free(w->sync.observed_cms);
    free(w->path);
    sodium_memzero(w, sizeof *w);
    free(w);
}

/* ---- loading ------------------------------------------------------------- */

static tz_status load_addresses(pctx *c, tz_wallet *w, const json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return TZ_OK;
    w->addresses = calloc(n, sizeof *w->addresses);
    w->addr_objs = calloc(n, sizeof *w->addr_objs);
    if (!w->addresses || !w->addr_objs)
        return tz_error_set(c->err, TZ_ENOMEM, "wallet %s: out of memory", c->path);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char pre[64];
        snprintf(pre, sizeof pre, "addresses[%zu]", i);
        if (!json_is_object(o))
            return bad(c, pre, "expected an object");
        tz_wallet_address *a = &w->addresses[i];
        tz_status st;
        if ((st = req_u32(c, o, pre, "index", &a->index)) ||
            (st = req_felt(c, o, pre, "d_j", &a->d_j)) ||
            (st = req_felt(c, o, pre, "auth_root", &a->auth_root)) ||
            (st = req_felt(c, o, pre, "auth_pub_seed", &a->auth_pub_seed)) ||
            (st = req_felt(c, o, pre, "nk_tag", &a->nk_tag)))
            return st;
        json_t *bds = json_object_get(o, "bds");
        char f[FIELD_MAX];
        snprintf(f, sizeof f, "%s.bds", pre);
        if (bds && !json_is_object(bds))
            return bad(c, f, "expected an object");
        json_t *ni = json_object_get(bds, "next_index");
        uint32_t dummy;
        snprintf(f, sizeof f, "%s.bds.next_index", pre);
        if (ni && (st = u32_val(c, ni, f, &dummy)))
            return st;
        w->addr_objs[i] = json_incref(o);
        w->n_addresses = i + 1;
    }
    return TZ_OK;
}

static tz_status load_notes(pctx *c, tz_wallet *w, const json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return TZ_OK;
    w->notes = calloc(n, sizeof *w->notes);
    w->note_objs = calloc(n, sizeof *w->note_objs);
    if (!w->notes || !w->note_objs)
        return tz_error_set(c->err, TZ_ENOMEM, "wallet %s: out of memory", c->path);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char pre[64];
        snprintf(pre, sizeof pre, "notes[%zu]", i);
        if (!json_is_object(o))
            return bad(c, pre, "expected an object");
        tz_wallet_note *nt = &w->notes[i];
        tz_status st;
        if ((st = req_felt(c, o, pre, "nk_spend", &nt->nk_spend)) ||
            (st = req_felt(c, o, pre, "nk_tag", &nt->nk_tag)) ||
            (st = req_felt(c, o, pre, "auth_root", &nt->auth_root)) ||
            (st = req_felt(c, o, pre, "d_j", &nt->d_j)) ||
            (st = req_u64(c, o, pre, "v", &nt->v)) ||
            (st = req_felt(c, o, pre, "rseed", &nt->rseed)) ||
            (st = req_felt(c, o, pre, "cm", &nt->cm)) ||
            (st = req_u64(c, o, pre, "index", &nt->index)) ||
            (st = req_u32(c, o, pre, "addr_index", &nt->addr_index)))
            return st;
        w->note_objs[i] = json_incref(o);
        w->n_notes = i + 1;
    }
    return TZ_OK;
}

static tz_status felt_array(pctx *c, const json_t *arr, const char *field, tz_felt **out,
                            size_t *n_out)
{
    if (!json_is_array(arr))
        return bad(c, field, "expected an array of felts");
    size_t n = json_array_size(arr);
    tz_felt *v = NULL;
    if (n) {
        v = calloc(n, sizeof *v);
        if (!v)
            return tz_error_set(c->err, TZ_ENOMEM, "wallet %s: out of memory", c->path);
    }
    for (size_t i = 0; i < n; i++) {
        char f[FIELD_MAX];
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        tz_status st = felt_val(c, json_array_get(arr, i), f, &v[i]);
        if (st) {
            free(v);
            return st;
        }
    }
    *out = v;
    *n_out = n;
    return TZ_OK;
}

static tz_status optional_string(pctx *c, const json_t *o, const char *pre, const char *key,
                                 bool null_ok)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_string(v) || (null_ok && json_is_null(v)))
        return TZ_OK;
    char f[FIELD_MAX];
    snprintf(f, sizeof f, "%s.%s", pre, key);
    return bad(c, f, null_ok ? "expected a string or null" : "expected a string");
}

static tz_status load_spends(pctx *c, tz_wallet *w, const json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return TZ_OK;
    w->spends = calloc(n, sizeof *w->spends);
    if (!w->spends)
        return tz_error_set(c->err, TZ_ENOMEM, "wallet %s: out of memory", c->path);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char pre[64], f[FIELD_MAX];
        snprintf(pre, sizeof pre, "pending_spends[%zu]", i);
        if (!json_is_object(o))
            return bad(c, pre, "expected an object");
        tz_pending_spend *s = &w->spends[i];
        w->n_spends = i + 1;
        s->obj = json_incref(o);
        json_t *v;
        tz_status st;
        if ((st = member(c, o, pre, "nullifiers", &v, f, sizeof f)) ||
            (st = felt_array(c, v, f, &s->nullifiers, &s->n_nullifiers)) ||
            (st = member(c, o, pre, "description", &v, f, sizeof f)))
            return st;
        if (!json_is_string(v))
            return bad(c, f, "expected a string");
        if ((st = optional_string(c, o, pre, "operation_hash", true)))
            return st;
    }
    return TZ_OK;
}

static tz_status load_deposits(pctx *c, tz_wallet *w, const json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return TZ_OK;
    w->deposits = calloc(n, sizeof *w->deposits);
    if (!w->deposits)
        return tz_error_set(c->err, TZ_ENOMEM, "wallet %s: out of memory", c->path);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char pre[64];
        snprintf(pre, sizeof pre, "pending_deposits[%zu]", i);
        if (!json_is_object(o))
            return bad(c, pre, "expected an object");
        tz_pending_deposit *d = &w->deposits[i];
        w->n_deposits = i + 1;
        d->obj = json_incref(o);
        tz_status st;
        if ((st = req_felt(c, o, pre, "pubkey_hash", &d->pubkey_hash)) ||
            (st = req_felt(c, o, pre, "blind", &d->blind)) ||
            (st = req_u32(c, o, pre, "address_index", &d->address_index)) ||
            (st = req_felt(c, o, pre, "auth_domain", &d->auth_domain)) ||
            (st = req_u64(c, o, pre, "amount", &d->amount)) ||
            (st = optional_string(c, o, pre, "operation_hash", true)))
            return st;
        json_t *cm = json_object_get(o, "shielded_cm");
        if (cm && !json_is_null(cm)) {
            char f[FIELD_MAX];
            snprintf(f, sizeof f, "%s.shielded_cm", pre);
            if ((st = felt_val(c, cm, f, &d->shielded_cm)))
                return st;
            d->has_shielded_cm = true;
        }
    }
    return TZ_OK;
}

static tz_status load_wots(pctx *c, const json_t *doc)
{
    json_t *m = json_object_get(doc, "wots_key_indices");
    if (!m)
        return TZ_OK;
    if (!json_is_object(m))
        return bad(c, "wots_key_indices", "expected an object");
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        char f[FIELD_MAX];
        uint32_t x;
        snprintf(f, sizeof f, "wots_key_indices.%s", k);
        if (parse_u32_key(k, &x))
            return bad(c, f, "key is not an address index");
        tz_status st = u32_val(c, v, f, &x);
        if (st)
            return st;
    }
    return TZ_OK;
}

static tz_status frontier_val(pctx *c, const json_t *v, const char *field,
                              tz_felt out[FRONTIER_LEN])
{
    if (!json_is_array(v) || json_array_size(v) != FRONTIER_LEN)
        return bad(c, field, "expected an array of 48 felts");
    for (size_t i = 0; i < FRONTIER_LEN; i++) {
        char f[FIELD_MAX];
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        tz_status st = felt_val(c, json_array_get(v, i), f, &out[i]);
        if (st)
            return st;
    }
    return TZ_OK;
}

/* tzel_c_sync.verified: {"size", "frontier", "observed_cms" (a count)}.
 * One that does not fit the state below it (beyond the cursor, more
 * observed cms than recorded) is not trusted: the base is then the empty
 * tree, as when it is absent. */
static tz_status load_verified(pctx *c, tz_wallet *w, const json_t *v)
{
    tz_sync_state *y = &w->sync;
    uint64_t size = 0, observed = 0;
    tz_status st;
    if (!json_is_object(v))
        return bad(c, SYNC_KEY ".verified", "expected an object");
    if ((st = u64_val(c, json_object_get(v, "size"), SYNC_KEY ".verified.size", &size)) ||
        (st = u64_val(c, json_object_get(v, "observed_cms"), SYNC_KEY ".verified.observed_cms",
                      &observed)) ||
        (st = frontier_val(c, json_object_get(v, "frontier"), SYNC_KEY ".verified.frontier",
                           y->verified_frontier)))
        return st;
    y->has_verified = size <= w->scanned && observed <= y->n_observed_cms;
    y->verified_size = y->has_verified ? size : 0;
    y->verified_observed = y->has_verified ? (size_t)observed : 0;
    if (!y->has_verified)
        memset(y->verified_frontier, 0, sizeof y->verified_frontier);
    return TZ_OK;
}

static tz_status load_sync(pctx *c, tz_wallet *w, const json_t *doc)
{
    json_t *s = json_object_get(doc, SYNC_KEY);
    if (!s)
        return TZ_OK;
    if (!json_is_object(s))
        return bad(c, SYNC_KEY, "expected an object");
    tz_sync_state *y = &w->sync;
    tz_status st;
    json_t *v;
    if ((v = json_object_get(s, "nullifiers_checked")) &&
        (st = u64_val(c, v, SYNC_KEY ".nullifiers_checked", &y->nullifiers_checked)))
        return st;
    uint64_t fsize = 0;
    if ((v = json_object_get(s, "frontier_size")) &&
        (st = u64_val(c, v, SYNC_KEY ".frontier_size", &fsize)))
        return st;
    if ((v = json_object_get(s, "frontier"))) {
        if ((st = frontier_val(c, v, SYNC_KEY ".frontier", y->frontier)))
            return st;
        /* A frontier for another cursor (the file was synced by a program
         * that does not know this key) is not trusted. */
        y->has_frontier = fsize == w->scanned;
        y->frontier_size = y->has_frontier ? fsize : 0;
        if (!y->has_frontier)
            memset(y->frontier, 0, sizeof y->frontier);
    }
    if ((v = json_object_get(s, "observed_cms")) &&
        (st = felt_array(c, v, SYNC_KEY ".observed_cms", &y->observed_cms,
                         &y->n_observed_cms)))
        return st;
    if ((v = json_object_get(s, "verified")))
        return load_verified(c, w, v);
    return TZ_OK;
}

static tz_status parse_doc(pctx *c, tz_wallet *w)
{
    json_t *doc = w->doc, *v;
    tz_status st;
    char f[FIELD_MAX];
    if (!json_is_object(doc))
        return tz_error_set(c->err, TZ_EPARSE, "parse wallet: %s: expected a JSON object",
                            c->path);
    if ((st = req_felt(c, doc, "", "master_sk", &w->master_sk)) ||
        (st = req_u32(c, doc, "", "addr_counter", &w->addr_counter)) ||
        (st = req_u64(c, doc, "", "scanned", &w->scanned)))
        return st;
    if ((st = member(c, doc, "", "notes", &v, f, sizeof f)))
        return st;
    if (!json_is_array(v))
        return bad(c, "notes", "expected an array");
    if ((st = load_notes(c, w, v)))
        return st;
    if ((st = opt_array(c, doc, "addresses", &v)) || (st = load_addresses(c, w, v)) ||
        (st = opt_array(c, doc, "pending_spends", &v)) || (st = load_spends(c, w, v)) ||
        (st = opt_array(c, doc, "pending_deposits", &v)) || (st = load_deposits(c, w, v)) ||
        (st = load_wots(c, doc)))
        return st;
    if ((v = json_object_get(doc, "deposit_nonce")) &&
        (st = u64_val(c, v, "deposit_nonce", &w->deposit_nonce)))
        return st;
    return load_sync(c, w, doc);
}

typedef struct wots_new {
    uint32_t index, next;
    size_t order; /* position in addresses[], for a stable sort */
} wots_new;

static int wots_new_cmp(const void *pa, const void *pb)
{
    const wots_new *a = pa, *b = pb;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* What the reference does on every load once the floor check passed:
 * wots_key_indices["<index>"] = bds.next_index for every address record
 * whose bds has a u32 next_index (later records win for a repeated index).
 * Existing keys keep their position; new keys are appended in ascending
 * address order; entries without an address record stay. Returns 0 or -1
 * (out of memory). */
static int record_wots(tz_wallet *w)
{
    json_t *m = json_object_get(w->doc, "wots_key_indices");
    if (!m) {
        m = json_object();
        if (!m || json_object_set_new(w->doc, "wots_key_indices", m))
            return -1;
    }
    wots_new *add = w->n_addresses ? calloc(w->n_addresses, sizeof *add) : NULL;
    if (w->n_addresses && !add)
        return -1;
    size_t n_add = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < w->n_addresses; i++) {
        uint64_t next;
        json_t *ni = json_object_get(json_object_get(w->addr_objs[i], "bds"), "next_index");
        if (!ni || !tz_json_get_u64(ni, &next) || next > UINT32_MAX)
            continue;
        char key[16];
        snprintf(key, sizeof key, "%u", (unsigned)w->addresses[i].index);
        if (json_object_get(m, key))
            rc = json_object_set_new(m, key, json_integer((json_int_t)next));
        else
            add[n_add++] = (wots_new){w->addresses[i].index, (uint32_t)next, i};
    }
    if (n_add)
        qsort(add, n_add, sizeof *add, wots_new_cmp);
    for (size_t i = 0; !rc && i < n_add; i++) {
        char key[16];
        snprintf(key, sizeof key, "%u", (unsigned)add[i].index);
        rc = json_object_set_new(m, key, json_integer((json_int_t)add[i].next));
    }
    free(add);
    return rc ? -1 : 0;
}

tz_status tz_wallet_load(const char *path, tz_wallet **out, tz_error *err,
                         void (*warn)(const char *msg))
{
    tz_status st;
    char *text = NULL;
    size_t len = 0;
    tz_wallet *w = NULL;
    pctx c = {path, err};

    struct stat sb;
    if (warn && stat(path, &sb) == 0 && (sb.st_mode & 077)) {
        char msg[TZ_ERROR_MSG_MAX];
        snprintf(msg, sizeof msg,
                 "warning: wallet file %s is not private (mode %o); it contains plaintext "
                 "spending keys",
                 path, (unsigned)(sb.st_mode & 0777));
        warn(msg);
    }
    st = tz_read_file(path, WALLET_MAX_BYTES, &text, &len, err);
    if (st) {
        /* The reference's words first ("read wallet: <io error>"), then
         * the path. */
        if (st == TZ_ENOTFOUND)
            tz_error_set(err, st,
                         "read wallet: No such file or directory (os error 2): wallet %s not "
                         "found",
                         path);
        else
            tz_error_prefix(err, "read wallet");
        return st;
    }
    size_t k = 0;
    while (k < len && (text[k] == ' ' || text[k] == '\n' || text[k] == '\t' || text[k] == '\r'))
        k++;
    if (k == len) {
        st = tz_error_set(err, TZ_EPARSE, "parse wallet: %s: empty file", path);
        goto out;
    }
    w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        st = tz_error_set(err, TZ_ENOMEM, "wallet %s: out of memory", path);
        goto out;
    }
    char what[TZ_ERROR_MSG_MAX / 2];
    snprintf(what, sizeof what, "parse wallet: %s", path);
    if ((st = tz_json_load_exact(text, len, what, &w->doc, err)))
        goto out;
    if ((st = parse_doc(&c, w)))
        goto out;
    if ((st = tz_floor_check(w, err)))
        goto out;
    if (record_wots(w)) {
        st = tz_error_set(err, TZ_ENOMEM, "wallet %s: out of memory", path);
        goto out;
    }
    *out = w;
    w = NULL;
out:
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    tz_wallet_free(w);
    return st;
}

tz_status tz_wallet_new(const char *path, const tz_felt *master_sk, tz_wallet **out,
                        tz_error *err)
{
    tz_wallet *w = calloc(1, sizeof *w);
    if (!w)
        return tz_error_set(err, TZ_ENOMEM, "new wallet: out of memory");
    w->path = strdup(path);
    w->doc = json_object();
    w->master_sk = *master_sk;
    /* The reference's field order, so new files look like its files. */
    static const char *const keys[] = {"master_sk",      "addresses",        "addr_counter",
                                       "notes",          "scanned",          "wots_key_indices",
                                       "pending_spends", "pending_deposits", "deposit_nonce"};
    bool ok = w->path && w->doc;
    for (size_t i = 0; ok && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = !strcmp(keys[i], "wots_key_indices") ? json_object()
                    : (!strcmp(keys[i], "addresses") || !strcmp(keys[i], "notes") ||
                       !strcmp(keys[i], "pending_spends") ||
                       !strcmp(keys[i], "pending_deposits"))
                        ? json_array()
                        : json_integer(0);
        ok = json_object_set_new(w->doc, keys[i], v) == 0;
    }
    if (!ok) {
        tz_wallet_free(w);
        return tz_error_set(err, TZ_ENOMEM, "new wallet: out of memory");
    }
    *out = w;
    return TZ_OK;
}

/* ---- saving -------------------------------------------------------------- */

static int set_felt(json_t *o, const char *key, const tz_felt *f)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, f);
    json_t *old = json_object_get(o, key);
    if (json_is_string(old) && json_string_length(old) == TZ_FELT_HEX &&
        memcmp(json_string_value(old), hex, TZ_FELT_HEX) == 0) {
        sodium_memzero(hex, sizeof hex);
        return 0;
    }
    if (json_is_string(old) && old->refcount == 1)
        sodium_memzero((char *)json_string_value(old), json_string_length(old));
    int rc = json_object_set_new(o, key, json_string(hex));
    sodium_memzero(hex, sizeof hex);
    return rc;
}

static json_t *felt_json_array(const tz_felt *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        char hex[TZ_FELT_HEX + 1];
        tz_felt_to_hex(hex, &v[i]);
        if (json_array_append_new(a, json_string(hex))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *obj_or_new(json_t **slot)
{
    if (!*slot)
        *slot = json_object();
    return *slot;
}

/* Moves the members of `o` so the keys of `order` that are present come
 * first, in that order, followed by every other key in its current order
 * (JSON_PRESERVE_ORDER dumps in insertion order, and a re-inserted key goes
 * last). Values are moved, not copied. Returns 0 or -1 (out of memory). */
static int reorder(json_t *o, const char *const *order, size_t n_order)
{
    size_t n = json_object_size(o);
    if (!json_is_object(o) || n == 0)
        return 0;
    const char **keys = calloc(n, sizeof *keys);
    if (!keys)
        return -1;
    size_t m = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < n_order && !known; i++)
            known = !strcmp(k, order[i]);
        if (!known && m < n)
            keys[m++] = k;
    }
    /* The key strings belong to `o`: copy them before members move. */
    char **own = calloc(m ? m : 1, sizeof *own);
    int rc = !own;
    for (size_t i = 0; !rc && i < m; i++)
        rc = !(own[i] = strdup(keys[i]));
    free(keys);
    for (size_t pass = 0; !rc && pass < 2; pass++) {
        size_t cnt = pass == 0 ? n_order : m;
        for (size_t i = 0; !rc && i < cnt; i++) {
            const char *key = pass == 0 ? order[i] : own[i];
            v = json_object_get(o, key);
            if (!v)
                continue;
            json_incref(v);
            json_object_del(o, key);
            rc = json_object_set_new(o, key, v);
        }
    }
    for (size_t i = 0; own && i < m; i++)
        free(own[i]);
    free(own);
    return rc ? -1 : 0;
}

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* The reference's struct field orders (WALLET_FILE.md). */
static const char *const TOP_KEYS[] = {"master_sk",      "addresses",        "addr_counter",
                                       "notes",          "scanned",          "wots_key_indices",
                                       "pending_spends", "pending_deposits", "deposit_nonce"};
static const char *const ADDR_KEYS[] = {"index", "d_j", "auth_root", "auth_pub_seed", "nk_tag",
                                        "bds"};
static const char *const NOTE_KEYS[] = {"nk_spend", "nk_tag", "auth_root", "d_j",       "v",
                                        "rseed",    "cm",     "index",     "addr_index"};
static const char *const SPEND_KEYS[] = {"nullifiers", "description", "operation_hash"};
static const char *const DEPOSIT_KEYS[] = {"pubkey_hash", "blind",          "address_index",
                                           "auth_domain", "amount",         "operation_hash",
                                           "shielded_cm"};

/* Writes the typed fields into their objects and the document, then puts
 * every object's keys in the reference's order: its fields first (all nine
 * top-level keys always, with their defaults), then the keys it does not
 * know (ours, unknown ones) in their original order. A pending spend's
 * null operation_hash is dropped (the reference omits None there); a
 * pending deposit's is always written. Returns 0 or -1 (out of memory). */
static int sync_doc(tz_wallet *w)
{
    json_t *doc = w->doc;
    int rc = 0;
    rc |= set_felt(doc, "master_sk", &w->master_sk);

    json_t *addrs = json_array();
    for (size_t i = 0; addrs && i < w->n_addresses; i++) {
        const tz_wallet_address *a = &w->addresses[i];
        json_t *o = obj_or_new(&w->addr_objs[i]);
        if (!o) {
            json_decref(addrs);
            return -1;
        }
        rc |= json_object_set_new(o, "index", json_integer(a->index));
        rc |= set_felt(o, "d_j", &a->d_j);
        rc |= set_felt(o, "auth_root", &a->auth_root);
        rc |= set_felt(o, "auth_pub_seed", &a->auth_pub_seed);
        rc |= set_felt(o, "nk_tag", &a->nk_tag);
        if (!json_object_get(o, "bds"))
            rc |= json_object_set_new(o, "bds", json_object());
        rc |= reorder(o, ADDR_KEYS, NKEYS(ADDR_KEYS));
        rc |= json_array_append(addrs, o);
    }
    rc |= json_object_set_new(doc, "addresses", addrs);
    rc |= json_object_set_new(doc, "addr_counter", json_integer(w->addr_counter));

    json_t *notes = json_array();
    for (size_t i = 0; notes && i < w->n_notes; i++) {
        const tz_wallet_note *n = &w->notes[i];
        json_t *o = obj_or_new(&w->note_objs[i]);
        if (!o) {
            json_decref(notes);
            return -1;
        }
        rc |= set_felt(o, "nk_spend", &n->nk_spend);
        rc |= set_felt(o, "nk_tag", &n->nk_tag);
        rc |= set_felt(o, "auth_root", &n->auth_root);
        rc |= set_felt(o, "d_j", &n->d_j);
        rc |= json_object_set_new(o, "v", tz_json_u64(n->v));
        rc |= set_felt(o, "rseed", &n->rseed);
        rc |= set_felt(o, "cm", &n->cm);
        rc |= json_object_set_new(o, "index", tz_json_u64(n->index));
        rc |= json_object_set_new(o, "addr_index", json_integer(n->addr_index));
        rc |= reorder(o, NOTE_KEYS, NKEYS(NOTE_KEYS));
        rc |= json_array_append(notes, o);
    }
    rc |= json_object_set_new(doc, "notes", notes);
    rc |= json_object_set_new(doc, "scanned", tz_json_u64(w->scanned));
    if (!json_is_object(json_object_get(doc, "wots_key_indices")))
        rc |= json_object_set_new(doc, "wots_key_indices", json_object());

    json_t *spends = json_array();
    for (size_t i = 0; spends && i < w->n_spends; i++) {
        tz_pending_spend *s = &w->spends[i];
        json_t *o = obj_or_new(&s->obj);
        if (!o) {
            json_decref(spends);
            return -1;
        }
        rc |= json_object_set_new(o, "nullifiers",
                                  felt_json_array(s->nullifiers, s->n_nullifiers));
        if (!json_object_get(o, "description"))
            rc |= json_object_set_new(o, "description", json_string(""));
        if (json_is_null(json_object_get(o, "operation_hash")))
            json_object_del(o, "operation_hash");
        rc |= reorder(o, SPEND_KEYS, NKEYS(SPEND_KEYS));
        rc |= json_array_append(spends, o);
    }
    rc |= json_object_set_new(doc, "pending_spends", spends);

    json_t *deps = json_array();
    for (size_t i = 0; deps && i < w->n_deposits; i++) {
        tz_pending_deposit *d = &w->deposits[i];
        json_t *o = obj_or_new(&d->obj);
        if (!o) {
            json_decref(deps);
            return -1;
        }
        rc |= set_felt(o, "pubkey_hash", &d->pubkey_hash);
        rc |= set_felt(o, "blind", &d->blind);
        rc |= json_object_set_new(o, "address_index", json_integer(d->address_index));
        rc |= set_felt(o, "auth_domain", &d->auth_domain);
        rc |= json_object_set_new(o, "amount", tz_json_u64(d->amount));
        if (!json_object_get(o, "operation_hash"))
            rc |= json_object_set_new(o, "operation_hash", json_null());
        if (d->has_shielded_cm)
            rc |= set_felt(o, "shielded_cm", &d->shielded_cm);
        else
            json_object_del(o, "shielded_cm");
        rc |= reorder(o, DEPOSIT_KEYS, NKEYS(DEPOSIT_KEYS));
        rc |= json_array_append(deps, o);
    }
    rc |= json_object_set_new(doc, "pending_deposits", deps);
    rc |= json_object_set_new(doc, "deposit_nonce", tz_json_u64(w->deposit_nonce));

    const tz_sync_state *y = &w->sync;
    json_t *s = json_object_get(doc, SYNC_KEY);
    bool nondefault =
        y->has_frontier || y->nullifiers_checked || y->n_observed_cms || y->has_verified;
    if (s || nondefault) {
        if (!json_is_object(s)) {
            s = json_object();
            rc |= json_object_set_new(doc, SYNC_KEY, s);
            if (!s)
                return -1;
        }
        rc |= json_object_set_new(s, "frontier_size",
                                  tz_json_u64(y->has_frontier ? y->frontier_size : 0));
        if (y->has_frontier)
            rc |= json_object_set_new(s, "frontier", felt_json_array(y->frontier, FRONTIER_LEN));
        else
            json_object_del(s, "frontier");
        rc |= json_object_set_new(s, "nullifiers_checked", tz_json_u64(y->nullifiers_checked));
        rc |= json_object_set_new(s, "observed_cms",
                                  felt_json_array(y->observed_cms, y->n_observed_cms));
        if (y->has_verified)
            rc |= json_object_set_new(
                s, "verified",
                json_pack("{s:o, s:o, s:o}", "size", tz_json_u64(y->verified_size), "frontier",
                          felt_json_array(y->verified_frontier, FRONTIER_LEN), "observed_cms",
                          tz_json_u64(y->verified_observed)));
        else
            json_object_del(s, "verified");
    }
    rc |= reorder(doc, TOP_KEYS, NKEYS(TOP_KEYS));
    return rc ? -1 : 0;
}

tz_status tz_wallet_save(tz_wallet *w, tz_error *err)
{
    struct stat sb;
    if (lstat(w->path, &sb) == 0 && S_ISLNK(sb.st_mode))
        return tz_error_set(err, TZ_EINVAL,
                            "save wallet %s: the path is a symlink; the save would replace the "
                            "link and leave its target and floor stale (resolve the path first)",
                            w->path);
    if (sync_doc(w))
        return tz_error_set(err, TZ_ENOMEM, "save wallet %s: out of memory", w->path);
    char *text = NULL;
    size_t len = 0;
    tz_status st = tz_json_dump_exact(w->doc, &text, &len, err);
    if (st)
        return tz_error_prefix(err, "save wallet %s", w->path);
    st = tz_atomic_write(w->path, text, len, 0600, err);
    sodium_memzero(text, len);
    free(text);
    if (st)
        return tz_error_prefix(err, "save wallet");
    st = tz_floor_write(w, err);
    if (st)
        return tz_error_prefix(err, "wallet %s saved, but its xmss floor was not", w->path);
    return TZ_OK;
}

/* ---- mutation ------------------------------------------------------------ */

tz_status tz_wallet_add_note(tz_wallet *w, const tz_wallet_note *n)
{
    if (grow((void **)&w->notes, w->n_notes, sizeof *w->notes) ||
        grow((void **)&w->note_objs, w->n_notes, sizeof *w->note_objs))
        return TZ_ENOMEM;
    w->notes[w->n_notes] = *n;
    w->note_objs[w->n_notes] = NULL;
    w->n_notes++;
    return TZ_OK;
}

tz_status tz_wallet_add_address(tz_wallet *w, const tz_wallet_address *a)
{
    if (grow((void **)&w->addresses, w->n_addresses, sizeof *w->addresses) ||
        grow((void **)&w->addr_objs, w->n_addresses, sizeof *w->addr_objs))
        return TZ_ENOMEM;
    w->addresses[w->n_addresses] = *a;
    w->addr_objs[w->n_addresses] = NULL;
    w->n_addresses++;
    return TZ_OK;
}

tz_status tz_wallet_set_address_bds(tz_wallet *w, size_t i, json_t *bds)
{
    if (i >= w->n_addresses || !json_is_object(bds)) {
        json_decref(bds);
        return TZ_EINVAL;
    }
    json_t *o = obj_or_new(&w->addr_objs[i]);
    if (!o) {
        json_decref(bds);
        return TZ_ENOMEM;
    }
    /* Keep "bds" after the typed keys, as the reference writes it. */
    if (!json_object_get(o, "bds")) {
        const tz_wallet_address *a = &w->addresses[i];
        if (json_object_set_new(o, "index", json_integer(a->index)) ||
            set_felt(o, "d_j", &a->d_j) || set_felt(o, "auth_root", &a->auth_root) ||
            set_felt(o, "auth_pub_seed", &a->auth_pub_seed) || set_felt(o, "nk_tag", &a->nk_tag)) {
            json_decref(bds);
            return TZ_ENOMEM;
        }
    }
    return json_object_set_new(o, "bds", bds) ? TZ_ENOMEM : TZ_OK;
}

uint32_t tz_wallet_wots_next(const tz_wallet *w, uint32_t addr_index)
{
    char key[16];
    uint64_t v;
    snprintf(key, sizeof key, "%u", (unsigned)addr_index);
    json_t *e = json_object_get(json_object_get(w->doc, "wots_key_indices"), key);
    if (e && tz_json_get_u64(e, &v) && v <= UINT32_MAX)
        return (uint32_t)v;
    for (size_t i = 0; i < w->n_addresses; i++) {
        if (w->addresses[i].index != addr_index)
            continue;
        json_t *ni = json_object_get(json_object_get(w->addr_objs[i], "bds"), "next_index");
        if (ni && tz_json_get_u64(ni, &v) && v <= UINT32_MAX)
            return (uint32_t)v;
        return 0;
    }
    return 0;
}

tz_status tz_wallet_record_wots_index(tz_wallet *w, uint32_t addr_index, uint32_t next)
{
    json_t *wots = json_object_get(w->doc, "wots_key_indices");
    char name[16];
    snprintf(name, sizeof name, "%u", (unsigned)addr_index);
    if (!json_is_object(wots) || json_object_get(wots, name))
        return TZ_OK;
    return json_object_set_new(wots, name, json_integer(next)) ? TZ_ENOMEM : TZ_OK;
}

void tz_wallet_remove_note(tz_wallet *w, size_t i)
{
    if (i >= w->n_notes)
        return;
    json_decref(w->note_objs[i]);
    memmove(&w->notes[i], &w->notes[i + 1], (w->n_notes - i - 1) * sizeof *w->notes);
    memmove(&w->note_objs[i], &w->note_objs[i + 1],
            (w->n_notes - i - 1) * sizeof *w->note_objs);
    w->n_notes--;
    sodium_memzero(&w->notes[w->n_notes], sizeof *w->notes);
}

void tz_wallet_remove_spend(tz_wallet *w, size_t i)
{
    if (i >= w->n_spends)
        return;
    spend_clear(&w->spends[i]);
    memmove(&w->spends[i], &w->spends[i + 1], (w->n_spends - i - 1) * sizeof *w->spends);
    w->n_spends--;
}

void tz_wallet_remove_deposit(tz_wallet *w, size_t i)
{
    if (i >= w->n_deposits)
        return;
    deposit_clear(&w->deposits[i]);
    memmove(&w->deposits[i], &w->deposits[i + 1],
            (w->n_deposits - i - 1) * sizeof *w->deposits);
    w->n_deposits--;
}

tz_status tz_wallet_add_spend(tz_wallet *w, const tz_felt *nullifiers, size_t n,
                              const char *description, const char *operation_hash)
{
    tz_pending_spend s = {0};
    if (n) {
        s.nullifiers = malloc(n * sizeof *nullifiers);
        if (!s.nullifiers)
            return TZ_ENOMEM;
        memcpy(s.nullifiers, nullifiers, n * sizeof *nullifiers);
    }
    s.n_nullifiers = n;
    s.obj = json_object();
    int rc = !s.obj;
    if (!rc) {
        rc |= json_object_set_new(s.obj, "nullifiers", json_array());
        rc |= json_object_set_new(s.obj, "description", json_string(description ? description : ""));
        if (operation_hash)
            rc |= json_object_set_new(s.obj, "operation_hash", json_string(operation_hash));
    }
    if (rc || grow((void **)&w->spends, w->n_spends, sizeof *w->spends)) {
        spend_clear(&s);
        return TZ_ENOMEM;
    }
    w->spends[w->n_spends++] = s;
    return TZ_OK;
}

tz_status tz_wallet_add_deposit(tz_wallet *w, const tz_pending_deposit *d)
{
    json_t *obj = NULL;
    if (d->obj && !(obj = json_deep_copy(d->obj)))
        return TZ_ENOMEM;
    if (!obj) {
        /* A fresh object with the reference's key order. */
        obj = json_object();
        int rc = !obj;
        if (!rc) {
            rc |= set_felt(obj, "pubkey_hash", &d->pubkey_hash);
            rc |= set_felt(obj, "blind", &d->blind);
            rc |= json_object_set_new(obj, "address_index", json_integer(d->address_index));
            rc |= set_felt(obj, "auth_domain", &d->auth_domain);
            rc |= json_object_set_new(obj, "amount", tz_json_u64(d->amount));
            rc |= json_object_set_new(obj, "operation_hash", json_null());
        }
        if (rc) {
            json_decref(obj);
            return TZ_ENOMEM;
        }
    }
    if (grow((void **)&w->deposits, w->n_deposits, sizeof *w->deposits)) {
        json_decref(obj);
        return TZ_ENOMEM;
    }
    w->deposits[w->n_deposits] = *d;
    w->deposits[w->n_deposits].obj = obj;
    w->n_deposits++;
    return TZ_OK;
}

tz_status tz_wallet_observe_cm(tz_wallet *w, const tz_felt *cm)
{
    if (tz_wallet_cm_observed(w, cm))
        return TZ_OK;
    tz_sync_state *y = &w->sync;
    if (grow((void **)&y->observed_cms, y->n_observed_cms, sizeof *y->observed_cms))
        return TZ_ENOMEM;
    y->observed_cms[y->n_observed_cms++] = *cm;
    return TZ_OK;
}

bool tz_wallet_cm_observed(const tz_wallet *w, const tz_felt *cm)
{
    for (size_t i = 0; i < w->sync.n_observed_cms; i++)
        if (tz_felt_eq(&w->sync.observed_cms[i], cm))
            return true;
    return false;
}

void tz_wallet_mark_verified(tz_wallet *w)
{
    tz_sync_state *y = &w->sync;
    if (!y->has_frontier || y->frontier_size != w->scanned)
        return;
    y->has_verified = true;
    y->verified_size = w->scanned;
    memcpy(y->verified_frontier, y->frontier, sizeof y->verified_frontier);
    y->verified_observed = y->n_observed_cms;
}

void tz_wallet_rollback_unverified(tz_wallet *w, tz_wallet_rollback *out)
{
    tz_sync_state *y = &w->sync;
    static const tz_felt empty[FRONTIER_LEN]; /* the empty tree's frontier */
    tz_wallet_rollback rb = {.from = w->scanned, .to = y->has_verified ? y->verified_size : 0};
    tz_wallet_set_scan(w, rb.to, y->has_verified ? y->verified_frontier : empty);
    if (!y->has_verified)
        y->nullifiers_checked = 0; /* every note will be found again */
    for (size_t i = w->n_notes; i-- > 0;) {
        if (w->notes[i].index >= rb.to) {
            tz_wallet_remove_note(w, i);
            rb.notes_dropped++;
        }
    }
    size_t keep = y->has_verified ? y->verified_observed : 0;
    if (keep < y->n_observed_cms) {
        rb.observed_dropped = y->n_observed_cms - keep;
        y->n_observed_cms = keep;
    }
    if (out)
        *out = rb;
}

void tz_wallet_set_scan(tz_wallet *w, uint64_t scanned, const tz_felt frontier[48])
{
    w->scanned = scanned;
    if (frontier) {
        memmove(w->sync.frontier, frontier, sizeof w->sync.frontier);
        w->sync.has_frontier = true;
        w->sync.frontier_size = scanned;
    } else {
        memset(w->sync.frontier, 0, sizeof w->sync.frontier);
        w->sync.has_frontier = false;
        w->sync.frontier_size = 0;
    }
}

void tz_wallet_reset_cursor(tz_wallet *w, uint64_t scanned, const tz_felt frontier[48])
{
    tz_wallet_set_scan(w, scanned, frontier);
    w->sync.nullifiers_checked = 0;
    w->sync.has_verified = false;
    w->sync.verified_size = 0;
    w->sync.verified_observed = 0;
    memset(w->sync.verified_frontier, 0, sizeof w->sync.verified_frontier);
}
