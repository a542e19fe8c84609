/* Watch wallet files and watch material (watch.h): strict parsing with
 * messages naming the field, serialization in the reference's key order
 * (unknown keys after), atomic saves. */
#include "store/watch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "core/note.h"
#include "store/atomic.h"
#include "store/fsys.h"
#include "store/jsonnum.h"

#define FIELD_MAX 96

typedef struct pctx {
    const char *what; /* "watch material m.json" | "parse watch wallet w.json" */
    tz_error *err;
} pctx;

static tz_status bad(pctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tz_status bad(pctx *c, const char *field, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return tz_error_set(c->err, TZ_EPARSE, "%s: field %s: %s", c->what, field, why);
}

static tz_status get(pctx *c, const json_t *o, const char *pre, const char *key, json_t **v,
                     char *fld)
{
    snprintf(fld, FIELD_MAX, "%s%s", pre, key);
    *v = json_object_get(o, key);
    if (!*v)
        return bad(c, fld, "missing");
    return TZ_OK;
}

static tz_status felt_field(pctx *c, const json_t *o, const char *pre, const char *key,
                            tz_felt *out)
{
    char fld[FIELD_MAX];
    json_t *v;
    tz_status st = get(c, o, pre, key, &v, fld);
    if (st)
        return st;
    if (!json_is_string(v) || json_string_length(v) != TZ_FELT_HEX ||
        strlen(json_string_value(v)) != TZ_FELT_HEX)
        return bad(c, fld, "expected a string of 64 hex characters");
    if (tz_felt_from_hex(out, json_string_value(v)) != TZ_OK)
        return bad(c, fld, "not a hex string");
    if (out->b[TZ_FELT_BYTES - 1] & 0xf8)
        return bad(c, fld, "felt out of range (not below 2^251)");
    return TZ_OK;
}

static tz_status u64_field(pctx *c, const json_t *o, const char *pre, const char *key,
                           uint64_t max, uint64_t *out)
{
    char fld[FIELD_MAX];
    json_t *v;
    tz_status st = get(c, o, pre, key, &v, fld);
    if (st)
        return st;
    if (!tz_json_get_u64(v, out) || *out > max)
        return bad(c, fld, "expected a non-negative integer not above %llu",
                   (unsigned long long)max);
    return TZ_OK;
}

static tz_status array_field(pctx *c, const json_t *o, const char *key, json_t **out)
{
    char fld[FIELD_MAX];
    tz_status st = get(c, o, "", key, out, fld);
    if (!st && !json_is_array(*out))
        st = bad(c, fld, "expected an array");
    return st;
}

/* mode, version and the material's fields of `o` into w. */
static tz_status parse_material(pctx *c, const json_t *o, tz_watch *w)
{
    char fld[FIELD_MAX];
    json_t *v;
    if (!json_is_object(o))
        return tz_error_set(c->err, TZ_EPARSE, "%s: expected a JSON object", c->what);
    tz_status st = get(c, o, "", "mode", &v, fld);
    if (st)
        return st;
    const char *m = json_is_string(v) ? json_string_value(v) : "";
    if (!strcmp(m, "detect"))
        w->mode = TZ_WATCH_DETECT;
    else if (!strcmp(m, "view"))
        w->mode = TZ_WATCH_VIEW;
    else if (!strcmp(m, "outgoing"))
        w->mode = TZ_WATCH_OUTGOING;
    else
        return bad(c, "mode", "unknown mode (expected \"detect\", \"view\" or \"outgoing\")");
    uint64_t ver;
    if ((st = u64_field(c, o, "", "version", UINT16_MAX, &ver)))
        return st;
    if (ver != TZ_WATCH_VERSION)
        return bad(c, "version", "unsupported version %llu (expected %d)",
                   (unsigned long long)ver, TZ_WATCH_VERSION);
    if (w->mode == TZ_WATCH_DETECT) {
        uint64_t n;
        if ((st = felt_field(c, o, "", "detect_root", &w->key)) ||
            (st = u64_field(c, o, "", "addr_count", UINT32_MAX, &n)))
            return st;
        if (n > TZ_WATCH_MAX_ADDRESSES)
            return bad(c, "addr_count", "%llu addresses: at most %d can be watched",
                       (unsigned long long)n, TZ_WATCH_MAX_ADDRESSES);
        w->addr_count = (uint32_t)n;
        return TZ_OK;
    }
    if (w->mode == TZ_WATCH_OUTGOING)
        return felt_field(c, o, "", "outgoing_seed", &w->key);
    json_t *a;
    if ((st = felt_field(c, o, "", "incoming_seed", &w->key)) ||
        (st = array_field(c, o, "addresses", &a)))
        return st;
    size_t n = json_array_size(a);
    if (n > TZ_WATCH_MAX_ADDRESSES)
        return bad(c, "addresses", "%zu addresses: at most %d can be watched", n,
                   TZ_WATCH_MAX_ADDRESSES);
    if (n && !(w->addrs = calloc(n, sizeof *w->addrs)))
        return tz_error_set(c->err, TZ_ENOMEM, "%s: out of memory", c->what);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        char pre[32];
        snprintf(pre, sizeof pre, "addresses[%zu].", i);
        if (!json_is_object(e))
            return bad(c, "addresses", "element %zu is not an object", i);
        tz_watch_addr *r = &w->addrs[i];
        uint64_t idx;
        if ((st = u64_field(c, e, pre, "index", UINT32_MAX, &idx)) ||
            (st = felt_field(c, e, pre, "d_j", &r->d_j)) ||
            (st = felt_field(c, e, pre, "auth_root", &r->auth_root)) ||
            (st = felt_field(c, e, pre, "auth_pub_seed", &r->auth_pub_seed)) ||
            (st = felt_field(c, e, pre, "nk_tag", &r->nk_tag)))
            return st;
        r->index = (uint32_t)idx;
        if (i > 0 && r->index <= w->addrs[i - 1].index) {
            snprintf(fld, sizeof fld, "addresses[%zu].index", i);
            return bad(c, fld, "address records must be in increasing index order (%u after %u)",
                       r->index, w->addrs[i - 1].index);
        }
        w->n_addrs++;
    }
    return TZ_OK;
}

static tz_status parse_record(pctx *c, tz_watch *w, json_t *e, size_t i, tz_watch_record *r)
{
    char pre[40], fld[FIELD_MAX];
    const char *arr = w->mode == TZ_WATCH_DETECT ? "matches" : "notes";
    snprintf(pre, sizeof pre, "%s[%zu].", arr, i);
    if (!json_is_object(e))
        return bad(c, arr, "element %zu is not an object", i);
    memset(r, 0, sizeof *r);
    uint64_t x;
    tz_status st;
    if ((st = u64_field(c, e, pre, "index", UINT64_MAX, &r->index)) ||
        (st = felt_field(c, e, pre, "cm", &r->cm)))
        return st;
    if (w->mode != TZ_WATCH_OUTGOING) {
        if ((st = u64_field(c, e, pre, "addr_index", UINT32_MAX, &x)))
            return st;
        r->addr_index = (uint32_t)x;
    }
    if (w->mode != TZ_WATCH_DETECT &&
        (st = u64_field(c, e, pre, "value", UINT64_MAX, &r->value)))
        return st;
    if (w->mode == TZ_WATCH_VIEW) {
        json_t *m = json_object_get(e, "memo"); /* the reference defaults it to empty */
        snprintf(fld, sizeof fld, "%smemo", pre);
        if (m && (!json_is_string(m) || json_string_length(m) % 2 ||
                  json_string_length(m) > 2 * TZ_NOTE_MEMO_BYTES ||
                  strncmp(json_string_value(m), "0x", 2) == 0 ||
                  tz_hex_decode(r->memo, sizeof r->memo, &r->memo_len, json_string_value(m),
                                json_string_length(m)) != TZ_OK))
            return bad(c, fld, "expected a hex string of at most %d bytes", TZ_NOTE_MEMO_BYTES);
    }
    if (w->mode == TZ_WATCH_OUTGOING) {
        json_t *v;
        if ((st = get(c, e, pre, "role", &v, fld)))
            return st;
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        for (uint8_t k = 1; k < 16 && !r->role; k++)
            if (tz_out_role_name(k) && !strcmp(tz_out_role_name(k), s))
                r->role = k;
        if (!r->role)
            return bad(c, fld, "unknown role");
        if ((st = felt_field(c, e, pre, "rseed", &r->rseed)) ||
            (st = felt_field(c, e, pre, "d_j", &r->d_j)) ||
            (st = felt_field(c, e, pre, "auth_root", &r->auth_root)) ||
            (st = felt_field(c, e, pre, "auth_pub_seed", &r->auth_pub_seed)) ||
            (st = felt_field(c, e, pre, "nk_tag", &r->nk_tag)))
            return st;
    }
    r->obj = json_incref(e);
    return TZ_OK;
}

static tz_status frontier_field(pctx *c, const json_t *o, const char *pre, tz_felt *out)
{
    char fld[FIELD_MAX];
    json_t *a;
    tz_status st = get(c, o, pre, "frontier", &a, fld);
    if (st)
        return st;
    if (!json_is_array(a) || json_array_size(a) != TZ_WATCH_FRONTIER_LEN)
        return bad(c, fld, "expected an array of %d felts", TZ_WATCH_FRONTIER_LEN);
    for (size_t l = 0; l < TZ_WATCH_FRONTIER_LEN; l++) {
        json_t *v = json_array_get(a, l);
        if (!json_is_string(v) || json_string_length(v) != TZ_FELT_HEX ||
            tz_felt_from_hex(&out[l], json_string_value(v)) != TZ_OK)
            return bad(c, fld, "element %zu: expected 64 hex characters", l);
    }
    return TZ_OK;
}

/* tzel_c_sync: {"frontier_size", "frontier", "verified": {"size", "frontier"}}.
 * A frontier of another size than `scanned` is ignored (a tool that
 * rewrote the file moved the cursor). */
static tz_status parse_sync(pctx *c, const json_t *doc, tz_watch *w)
{
    json_t *s = json_object_get(doc, TZ_WATCH_SYNC_KEY);
    if (!s)
        return TZ_OK;
    if (!json_is_object(s))
        return bad(c, TZ_WATCH_SYNC_KEY, "expected an object");
    tz_status st;
    if (json_object_get(s, "frontier")) {
        if ((st = u64_field(c, s, TZ_WATCH_SYNC_KEY ".", "frontier_size", UINT64_MAX,
                            &w->frontier_size)) ||
            (st = frontier_field(c, s, TZ_WATCH_SYNC_KEY ".", w->frontier)))
            return st;
        w->has_frontier = w->frontier_size == w->scanned;
    }
    json_t *v = json_object_get(s, "verified");
    if (v) {
        if (!json_is_object(v))
            return bad(c, TZ_WATCH_SYNC_KEY ".verified", "expected an object");
        if ((st = u64_field(c, v, TZ_WATCH_SYNC_KEY ".verified.", "size", UINT64_MAX,
                            &w->verified_size)) ||
            (st = frontier_field(c, v, TZ_WATCH_SYNC_KEY ".verified.", w->verified_frontier)))
            return st;
        w->has_verified = w->verified_size <= w->scanned;
    }
    return TZ_OK;
}

static tz_status parse_file(pctx *c, json_t *doc, tz_watch *w)
{
    tz_status st = parse_material(c, doc, w);
    json_t *a;
    if (st || (st = u64_field(c, doc, "", "scanned", UINT64_MAX, &w->scanned)) ||
        (st = array_field(c, doc, w->mode == TZ_WATCH_DETECT ? "matches" : "notes", &a)))
        return st;
    size_t n = json_array_size(a);
    if (n && !(w->recs = calloc(n, sizeof *w->recs)))
        return tz_error_set(c->err, TZ_ENOMEM, "%s: out of memory", c->what);
    w->cap_recs = n;
    for (size_t i = 0; i < n; i++) {
        if ((st = parse_record(c, w, json_array_get(a, i), i, &w->recs[i])))
            return st;
        w->n_recs++;
    }
    if (!w->scanned) {
        /* a wallet at leaf 0 starts from the empty tree */
        w->has_frontier = true;
        w->frontier_size = 0;
    }
    return parse_sync(c, doc, w);
}

static tz_watch *watch_new(const char *path)
{
    tz_watch *w = calloc(1, sizeof *w);
    if (w && !(w->path = strdup(path))) {
        free(w);
        w = NULL;
    }
    return w;
}

tz_status tz_watch_from_material(const char *path, const char *text, size_t len,
                                 const char *what, tz_watch **out, tz_error *err)
{
    char label[300];
    snprintf(label, sizeof label, "watch material %s", what);
    json_t *doc = NULL;
    tz_status st = tz_json_load_exact(text, len, label, &doc, err);
    if (st)
        return st;
    tz_watch *w = watch_new(path);
    if (!w) {
        json_decref(doc);
        return tz_error_set(err, TZ_ENOMEM, "%s: out of memory", label);
    }
    pctx c = {.what = label, .err = err};
    if ((st = parse_material(&c, doc, w)) != TZ_OK) {
        json_decref(doc);
        tz_watch_free(w);
        return st;
    }
    /* A new file keeps only the material's fields of its mode (the
     * reference's from_material): its address records' extra keys too. */
    json_decref(doc);
    if (!(w->doc = json_object())) {
        tz_watch_free(w);
        return tz_error_set(err, TZ_ENOMEM, "%s: out of memory", label);
    }
    w->has_frontier = true; /* scanned 0: the empty tree */
    *out = w;
    return TZ_OK;
}

tz_status tz_watch_load(const char *path, tz_watch **out, tz_error *err)
{
    char *text = NULL;
    size_t len = 0;
    tz_status st = tz_read_file(path, TZ_WATCH_MAX_BYTES, &text, &len, err);
    if (st)
        return tz_error_prefix(err, "read watch wallet");
    char label[300];
    snprintf(label, sizeof label, "parse watch wallet %s", path);
    json_t *doc = NULL;
    st = tz_json_load_exact(text, len, label, &doc, err);
    sodium_memzero(text, len);
    free(text);
    if (st)
        return st;
    tz_watch *w = watch_new(path);
    if (!w) {
        json_decref(doc);
        return tz_error_set(err, TZ_ENOMEM, "%s: out of memory", label);
    }
    w->doc = doc;
    pctx c = {.what = label, .err = err};
    if ((st = parse_file(&c, doc, w)) != TZ_OK) {
        tz_watch_free(w);
        return st;
    }
    *out = w;
    return TZ_OK;
}

static json_t *felt_json(const tz_felt *f)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, f);
    return json_string(hex);
}

static json_t *frontier_json(const tz_felt *f)
{
    json_t *a = json_array();
    for (size_t l = 0; a && l < TZ_WATCH_FRONTIER_LEN; l++)
        if (json_array_append_new(a, felt_json(&f[l]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* Copies the keys of `old` that `o` does not have to the end of `o`. */
static int keep_unknown(json_t *o, const json_t *old)
{
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach((json_t *)old, k, v)
    {
        if (!json_object_get(o, k))
            rc |= json_object_set(o, k, v);
    }
    return rc;
}

/* The new document: the reference's fields in its order, then the keys
 * of the old document it does not know, tzel_c_sync among them. */
static json_t *build_doc(tz_watch *w)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = json_object_set_new(o, "mode", json_string(tz_watch_mode_name(w->mode)));
    rc |= json_object_set_new(o, "version", json_integer(TZ_WATCH_VERSION));
    switch (w->mode) {
    case TZ_WATCH_DETECT:
        rc |= json_object_set_new(o, "detect_root", felt_json(&w->key));
        rc |= json_object_set_new(o, "addr_count", json_integer(w->addr_count));
        break;
    case TZ_WATCH_VIEW: {
        rc |= json_object_set_new(o, "incoming_seed", felt_json(&w->key));
        json_t *a = json_array();
        json_t *olda = json_object_get(w->doc, "addresses");
        for (size_t i = 0; a && i < w->n_addrs; i++) {
            const tz_watch_addr *r = &w->addrs[i];
            json_t *e = json_pack("{s:I, s:o, s:o, s:o, s:o}", "index", (json_int_t)r->index,
                                  "d_j", felt_json(&r->d_j), "auth_root",
                                  felt_json(&r->auth_root), "auth_pub_seed",
                                  felt_json(&r->auth_pub_seed), "nk_tag", felt_json(&r->nk_tag));
            json_t *old = json_array_get(olda, i);
            rc |= !e || (json_is_object(old) && keep_unknown(e, old));
            rc |= json_array_append_new(a, e);
        }
        rc |= !a || json_object_set_new(o, "addresses", a);
        break;
    }
    case TZ_WATCH_OUTGOING:
        rc |= json_object_set_new(o, "outgoing_seed", felt_json(&w->key));
        break;
    }
    rc |= json_object_set_new(o, "scanned", tz_json_u64(w->scanned));
    json_t *recs = json_array();
    for (size_t i = 0; recs && i < w->n_recs; i++) {
        json_t *e = tz_watch_record_json(w, i);
        rc |= !e || (w->recs[i].obj && keep_unknown(e, w->recs[i].obj));
        rc |= json_array_append_new(recs, e);
    }
    rc |= !recs ||
          json_object_set_new(o, w->mode == TZ_WATCH_DETECT ? "matches" : "notes", recs);

    json_t *s = json_object();
    rc |= !s || json_object_set_new(s, "frontier_size",
                                    tz_json_u64(w->has_frontier ? w->frontier_size : 0));
    if (w->has_frontier && w->frontier_size > 0) /* size 0: the empty tree */
        rc |= json_object_set_new(s, "frontier", frontier_json(w->frontier));
    if (w->has_verified)
        rc |= json_object_set_new(s, "verified",
                                  json_pack("{s:o, s:o}", "size", tz_json_u64(w->verified_size),
                                            "frontier", frontier_json(w->verified_frontier)));
    json_t *olds = json_object_get(w->doc, TZ_WATCH_SYNC_KEY);
    if (json_is_object(olds))
        rc |= keep_unknown(s, olds);
    /* tzel_c_sync keeps its place among the unknown keys, else goes last */
    const char *k;
    json_t *v;
    json_object_foreach(w->doc, k, v)
    {
        if (!strcmp(k, TZ_WATCH_SYNC_KEY))
            rc |= json_object_set(o, k, s);
        else if (!json_object_get(o, k) && strcmp(k, "matches") && strcmp(k, "notes") &&
                 strcmp(k, "addresses"))
            rc |= json_object_set(o, k, v);
    }
    if (!json_object_get(o, TZ_WATCH_SYNC_KEY))
        rc |= json_object_set(o, TZ_WATCH_SYNC_KEY, s);
    json_decref(s);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

tz_status tz_watch_dump(tz_watch *w, char **out, size_t *len, tz_error *err)
{
    json_t *doc = build_doc(w);
    if (!doc)
        return tz_error_set(err, TZ_ENOMEM, "save watch wallet %s: out of memory", w->path);
    tz_status st = tz_json_dump_exact(doc, out, len, err);
    json_decref(doc);
    return st;
}

tz_status tz_watch_save(tz_watch *w, bool exclusive, tz_error *err)
{
    struct stat sb;
    if (lstat(w->path, &sb) == 0 && S_ISLNK(sb.st_mode))
        return tz_error_set(err, TZ_EINVAL,
                            "save watch wallet %s: the path is a symlink (resolve it first)",
                            w->path);
    char *text = NULL;
    size_t len = 0;
    tz_status st = tz_watch_dump(w, &text, &len, err);
    if (st)
        return st;
    if (exclusive)
        st = tz_atomic_create(w->path, text, len, "watch wallet", err);
    else
        st = tz_atomic_write(w->path, text, len, 0600, err);
    sodium_memzero(text, len);
    free(text);
    if (st == TZ_EEXIST)
        return tz_error_set(err, TZ_EEXIST,
                            "watch wallet %s already exists; pass --force to overwrite", w->path);
    if (st)
        return tz_error_prefix(err, "save watch wallet");
    return TZ_OK;
}
