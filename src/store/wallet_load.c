/* Loading a wallet file (wallet.h): read, parse exactly (u64 beyond 2^63
 * kept), validate every field the reference defines (through the field
 * tables of wallet_int.h) and our tzel_c_sync state, check the xmss floor,
 * then record wots_key_indices as the reference's load does. */
#include "store/wallet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "store/floor.h"
#include "store/fsys.h"
#include "store/jsonnum.h"
#include "store/wallet_int.h"

#define WALLET_MAX_BYTES ((size_t)256 << 20) /* far beyond any real wallet */

#define FIELD_MAX 160

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

/* Reads the typed fields of table f from object `o` (named `pre` in
 * messages) into record `rec`, in table order: a missing field that is not
 * optional, or one of the wrong type or range, is an error naming it. */
static tz_status load_fields(pctx *c, const json_t *o, const char *pre, const tzw_field *f,
                             size_t n, void *rec)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].kind == TZW_OTHER)
            continue;
        char fld[FIELD_MAX];
        json_t *v = json_object_get(o, f[i].key);
        snprintf(fld, sizeof fld, "%s%s%s", pre, *pre ? "." : "", f[i].key);
        if (!v && f[i].optional)
            continue;
        if (!v)
            return bad(c, fld, "missing");
        char *p = (char *)rec + f[i].off;
        tz_status st = f[i].kind == TZW_FELT  ? felt_val(c, v, fld, (tz_felt *)p)
                       : f[i].kind == TZW_U64 ? u64_val(c, v, fld, (uint64_t *)p)
                                              : u32_val(c, v, fld, (uint32_t *)p);
        if (st)
            return st;
    }
    return TZ_OK;
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

/* One array of records: `name` in messages, records of `elem` bytes into a
 * new *recs, the JSON objects into a new *objs (NULL: the record keeps its
 * object itself, see one()), *count raised before each record is parsed so
 * that tz_wallet_free releases what a failure leaves. */
typedef tz_status (*record_fn)(pctx *c, json_t *o, const char *pre, void *rec);

static tz_status load_records(pctx *c, const json_t *arr, const char *name, size_t elem,
                              void **recs, json_t ***objs, size_t *count, record_fn one)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return TZ_OK;
    if (!(*recs = calloc(n, elem)) || (objs && !(*objs = calloc(n, sizeof **objs))))
        return tz_error_set(c->err, TZ_ENOMEM, "wallet %s: out of memory", c->path);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        char pre[64];
        snprintf(pre, sizeof pre, "%s[%zu]", name, i);
        if (!json_is_object(o))
            return bad(c, pre, "expected an object");
        if (objs)
            (*objs)[i] = json_incref(o);
        *count = i + 1;
        tz_status st = one(c, o, pre, (char *)*recs + i * elem);
        if (st)
            return st;
    }
    return TZ_OK;
}

static tz_status one_address(pctx *c, json_t *o, const char *pre, void *rec)
{
    tz_status st = load_fields(c, o, pre, tzw_addr_fields, tzw_n_addr, rec);
    if (st)
        return st;
    json_t *bds = json_object_get(o, "bds");
    char f[FIELD_MAX];
    snprintf(f, sizeof f, "%s.bds", pre);
    if (bds && !json_is_object(bds))
        return bad(c, f, "expected an object");
    json_t *ni = json_object_get(bds, "next_index");
    uint32_t dummy;
    snprintf(f, sizeof f, "%s.bds.next_index", pre);
    return ni ? u32_val(c, ni, f, &dummy) : TZ_OK;
}

static tz_status one_note(pctx *c, json_t *o, const char *pre, void *rec)
{
    return load_fields(c, o, pre, tzw_note_fields, tzw_n_note, rec);
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

static tz_status one_spend(pctx *c, json_t *o, const char *pre, void *rec)
{
    tz_pending_spend *s = rec;
    char f[FIELD_MAX];
    json_t *v;
    tz_status st;
    s->obj = json_incref(o);
    if ((st = member(c, o, pre, "nullifiers", &v, f, sizeof f)) ||
        (st = felt_array(c, v, f, &s->nullifiers, &s->n_nullifiers)) ||
        (st = member(c, o, pre, "description", &v, f, sizeof f)))
        return st;
    if (!json_is_string(v))
        return bad(c, f, "expected a string");
    return optional_string(c, o, pre, "operation_hash", true);
}

static tz_status one_deposit(pctx *c, json_t *o, const char *pre, void *rec)
{
    tz_pending_deposit *d = rec;
    tz_status st;
    d->obj = json_incref(o);
    if ((st = load_fields(c, o, pre, tzw_deposit_fields, tzw_n_deposit, d)) ||
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
                              tz_felt out[TZW_FRONTIER_LEN])
{
    if (!json_is_array(v) || json_array_size(v) != TZW_FRONTIER_LEN)
        return bad(c, field, "expected an array of 48 felts");
    for (size_t i = 0; i < TZW_FRONTIER_LEN; i++) {
        char f[FIELD_MAX];
        snprintf(f, sizeof f, "%s[%zu]", field, i);
        tz_status st = felt_val(c, json_array_get(v, i), f, &out[i]);
        if (st)
            return st;
    }
    return TZ_OK;
}

/* Reads n felts of array `a` into out[l] at the levels l < 48 whose bit in
 * `bits` is set (the others zero). False unless a holds exactly that many
 * valid felts. */
static bool felts_at_bits(const json_t *a, uint64_t bits, tz_felt out[TZW_FRONTIER_LEN])
{
    size_t k = 0;
    memset(out, 0, TZW_FRONTIER_LEN * sizeof *out);
    if (!json_is_array(a) || (bits >> TZW_FRONTIER_LEN))
        return false;
    for (unsigned l = 0; l < TZW_FRONTIER_LEN; l++) {
        if (!((bits >> l) & 1))
            continue;
        json_t *v = json_array_get(a, k++);
        if (!json_is_string(v) || json_string_length(v) != TZ_FELT_HEX ||
            tz_felt_from_hex(&out[l], json_string_value(v)) != TZ_OK)
            return false;
    }
    return k == json_array_size(a);
}

/* One witness as sync writes it (wallet_save.c); false when it is not
 * well formed or not consistent (its size must be the leaf, the complete
 * right siblings and the cursor's leaves). */
static bool witness_val(const json_t *o, tz_witness *x)
{
    memset(x, 0, sizeof *x);
    json_t *cm = json_object_get(o, "cm"), *filled = json_object_get(o, "filled");
    if (!json_is_object(o) || !tz_json_get_u64(json_object_get(o, "pos"), &x->pos) ||
        !tz_json_get_u64(json_object_get(o, "size"), &x->size) ||
        !tz_json_get_u64(json_object_get(o, "cursor_n"), &x->cursor_n) || !json_is_string(cm) ||
        json_string_length(cm) != TZ_FELT_HEX ||
        tz_felt_from_hex(&x->leaf, json_string_value(cm)) != TZ_OK ||
        !felts_at_bits(json_object_get(o, "left"), x->pos, x->left) ||
        !felts_at_bits(json_object_get(o, "cursor"), x->cursor_n, x->cursor) ||
        !json_is_array(filled) || json_array_size(filled) > TZW_FRONTIER_LEN)
        return false;
    uint64_t expect = x->pos + 1;
    unsigned l = 0;
    x->n_filled = (uint32_t)json_array_size(filled);
    for (uint32_t k = 0; k < x->n_filled; k++, l++) {
        while (l < TZW_FRONTIER_LEN && ((x->pos >> l) & 1))
            l++;
        json_t *v = json_array_get(filled, k);
        if (l == TZW_FRONTIER_LEN || !json_is_string(v) ||
            json_string_length(v) != TZ_FELT_HEX ||
            tz_felt_from_hex(&x->filled[k], json_string_value(v)) != TZ_OK)
            return false;
        expect += UINT64_C(1) << l;
    }
    while (l < TZW_FRONTIER_LEN && ((x->pos >> l) & 1))
        l++;
    return l < TZW_FRONTIER_LEN && x->cursor_n < (UINT64_C(1) << l) &&
           x->size == expect + x->cursor_n && x->size <= TZ_TREE_CAPACITY;
}

/* o["witnesses"] into a new array; entries that are not well formed are
 * dropped (not trusted: the note is then spent the slow way). */
static tz_status load_witnesses(pctx *c, const json_t *o, tz_witness **out, size_t *n_out)
{
    json_t *a = json_object_get(o, "witnesses");
    size_t n = json_array_size(a), k = 0;
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return TZ_OK;
    tz_witness *x = calloc(n, sizeof *x);
    if (!x)
        return tz_error_set(c->err, TZ_ENOMEM, "wallet %s: out of memory", c->path);
    for (size_t i = 0; i < n; i++)
        if (witness_val(json_array_get(a, i), &x[k]))
            k++;
    *out = x;
    *n_out = k;
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
        return bad(c, TZW_SYNC_KEY ".verified", "expected an object");
    if ((st = u64_val(c, json_object_get(v, "size"), TZW_SYNC_KEY ".verified.size", &size)) ||
        (st = u64_val(c, json_object_get(v, "observed_cms"), TZW_SYNC_KEY ".verified.observed_cms",
                      &observed)) ||
        (st = frontier_val(c, json_object_get(v, "frontier"), TZW_SYNC_KEY ".verified.frontier",
                           y->verified_frontier)))
        return st;
    if ((st = load_witnesses(c, v, &y->verified_witnesses, &y->n_verified_witnesses)))
        return st;
    y->has_verified = size <= w->scanned && observed <= y->n_observed_cms;
    y->verified_size = y->has_verified ? size : 0;
    y->verified_observed = y->has_verified ? (size_t)observed : 0;
    if (!y->has_verified) {
        memset(y->verified_frontier, 0, sizeof y->verified_frontier);
        free(y->verified_witnesses);
        y->verified_witnesses = NULL;
        y->n_verified_witnesses = 0;
    }
    return TZ_OK;
}

static tz_status load_sync(pctx *c, tz_wallet *w, const json_t *doc)
{
    json_t *s = json_object_get(doc, TZW_SYNC_KEY);
    if (!s)
        return TZ_OK;
    if (!json_is_object(s))
        return bad(c, TZW_SYNC_KEY, "expected an object");
    tz_sync_state *y = &w->sync;
    tz_status st;
    json_t *v;
    if ((v = json_object_get(s, "nullifiers_checked")) &&
        (st = u64_val(c, v, TZW_SYNC_KEY ".nullifiers_checked", &y->nullifiers_checked)))
        return st;
    uint64_t fsize = 0;
    if ((v = json_object_get(s, "frontier_size")) &&
        (st = u64_val(c, v, TZW_SYNC_KEY ".frontier_size", &fsize)))
        return st;
    if ((v = json_object_get(s, "frontier"))) {
        if ((st = frontier_val(c, v, TZW_SYNC_KEY ".frontier", y->frontier)))
            return st;
        /* A frontier for another cursor (the file was synced by a program
         * that does not know this key) is not trusted. */
        y->has_frontier = fsize == w->scanned;
        y->frontier_size = y->has_frontier ? fsize : 0;
        if (!y->has_frontier)
            memset(y->frontier, 0, sizeof y->frontier);
    }
    if ((v = json_object_get(s, "observed_cms")) &&
        (st = felt_array(c, v, TZW_SYNC_KEY ".observed_cms", &y->observed_cms,
                         &y->n_observed_cms)))
        return st;
    if ((st = load_witnesses(c, s, &y->witnesses, &y->n_witnesses)))
        return st;
    if ((v = json_object_get(s, "verified")))
        return load_verified(c, w, v);
    return TZ_OK;
}

/* A note recorded twice (same leaf index and cm: a file edited or merged
 * by hand) is one note: the later copies are dropped, so that balances
 * count it once; the next save writes the file without them. */
static void drop_duplicate_notes(tz_wallet *w)
{
    for (size_t i = w->n_notes; i-- > 1;)
        for (size_t k = 0; k < i; k++)
            if (w->notes[k].index == w->notes[i].index &&
                tz_felt_eq(&w->notes[k].cm, &w->notes[i].cm)) {
                tz_wallet_remove_note(w, i);
                break;
            }
}

static tz_status parse_doc(pctx *c, tz_wallet *w)
{
    json_t *doc = w->doc, *v;
    tz_status st;
    char f[FIELD_MAX];
    if (!json_is_object(doc))
        return tz_error_set(c->err, TZ_EPARSE, "parse wallet: %s: expected a JSON object",
                            c->path);
    if ((st = load_fields(c, doc, "", tzw_top_fields, tzw_n_top, w)))
        return st;
    if (w->master_sk.b[31] & 0xf8) /* init refuses it too: keys would differ */
        return bad(c, "master_sk", "not a felt (must be below 2^251)");
    if ((st = member(c, doc, "", "notes", &v, f, sizeof f)))
        return st;
    if (!json_is_array(v))
        return bad(c, "notes", "expected an array");
    if ((st = load_records(c, v, "notes", sizeof *w->notes, (void **)&w->notes, &w->note_objs,
                           &w->n_notes, one_note)))
        return st;
    if ((st = opt_array(c, doc, "addresses", &v)) ||
        (st = load_records(c, v, "addresses", sizeof *w->addresses, (void **)&w->addresses,
                           &w->addr_objs, &w->n_addresses, one_address)) ||
        (st = opt_array(c, doc, "pending_spends", &v)) ||
        (st = load_records(c, v, "pending_spends", sizeof *w->spends, (void **)&w->spends, NULL,
                           &w->n_spends, one_spend)) ||
        (st = opt_array(c, doc, "pending_deposits", &v)) ||
        (st = load_records(c, v, "pending_deposits", sizeof *w->deposits, (void **)&w->deposits,
                           NULL, &w->n_deposits, one_deposit)) ||
        (st = load_wots(c, doc)))
        return st;
    drop_duplicate_notes(w);
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
    if ((st = tz_wallet_floor_check(w, err)))
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

