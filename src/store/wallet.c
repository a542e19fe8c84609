/* The wallet's records (wallet.h): their field tables (wallet_int.h), a new
 * wallet, freeing with every secret wiped, and the mutators every caller
 * uses instead of touching the JSON document. Loading is wallet_load.c,
 * saving wallet_save.c. */
#include "store/wallet.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/num.h"
#include "core/keys.h"
#include "store/jsonnum.h"
#include "store/wallet_int.h"

#define F(rec, key, kind, member) {key, kind, offsetof(rec, member), false}
#define X(key) {key, TZW_OTHER, 0, false}
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The reference's struct field orders (WALLET_FILE.md). */
const tzw_field tzw_top_fields[] = {
    F(tz_wallet, "master_sk", TZW_FELT, master_sk),
    X("addresses"),
    F(tz_wallet, "addr_counter", TZW_U32, addr_counter),
    X("notes"),
    F(tz_wallet, "scanned", TZW_U64, scanned),
    X("wots_key_indices"),
    X("pending_spends"),
    X("pending_deposits"),
    {"deposit_nonce", TZW_U64, offsetof(tz_wallet, deposit_nonce), true},
};
const tzw_field tzw_addr_fields[] = {
    F(tz_wallet_address, "index", TZW_U32, index),
    F(tz_wallet_address, "d_j", TZW_FELT, d_j),
    F(tz_wallet_address, "auth_root", TZW_FELT, auth_root),
    F(tz_wallet_address, "auth_pub_seed", TZW_FELT, auth_pub_seed),
    F(tz_wallet_address, "nk_tag", TZW_FELT, nk_tag),
    X("bds"),
};
const tzw_field tzw_note_fields[] = {
    F(tz_wallet_note, "nk_spend", TZW_FELT, nk_spend),
    F(tz_wallet_note, "nk_tag", TZW_FELT, nk_tag),
    F(tz_wallet_note, "auth_root", TZW_FELT, auth_root),
    F(tz_wallet_note, "d_j", TZW_FELT, d_j),
    F(tz_wallet_note, "v", TZW_U64, v),
    F(tz_wallet_note, "rseed", TZW_FELT, rseed),
    F(tz_wallet_note, "cm", TZW_FELT, cm),
    F(tz_wallet_note, "index", TZW_U64, index),
    F(tz_wallet_note, "addr_index", TZW_U32, addr_index),
};
const tzw_field tzw_spend_fields[] = {X("nullifiers"), X("description"), X("operation_hash")};
const tzw_field tzw_deposit_fields[] = {
    F(tz_pending_deposit, "pubkey_hash", TZW_FELT, pubkey_hash),
    F(tz_pending_deposit, "blind", TZW_FELT, blind),
    F(tz_pending_deposit, "address_index", TZW_U32, address_index),
    F(tz_pending_deposit, "auth_domain", TZW_FELT, auth_domain),
    F(tz_pending_deposit, "amount", TZW_U64, amount),
    X("operation_hash"),
    X("shielded_cm"),
};
const size_t tzw_n_top = N(tzw_top_fields), tzw_n_addr = N(tzw_addr_fields),
             tzw_n_note = N(tzw_note_fields), tzw_n_spend = N(tzw_spend_fields),
             tzw_n_deposit = N(tzw_deposit_fields);

int tzw_store_fields(json_t *o, const tzw_field *f, size_t n, const void *rec)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = (const char *)rec + f[i].off;
        switch (f[i].kind) {
        case TZW_FELT:
            rc |= tzw_set_felt(o, f[i].key, (const tz_felt *)p);
            break;
        case TZW_U64:
            rc |= json_object_set_new(o, f[i].key, tz_json_u64(*(const uint64_t *)p));
            break;
        case TZW_U32:
            rc |= json_object_set_new(o, f[i].key, json_integer(*(const uint32_t *)p));
            break;
        case TZW_OTHER:
            break;
        }
    }
    return rc ? -1 : 0;
}

tz_status tzw_grow(void **arr, size_t n, size_t elem)
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

size_t tz_wallet_address_pos(const tz_wallet *w, uint32_t index)
{
    for (size_t i = 0; i < w->n_addresses; i++)
        if (w->addresses[i].index == index)
            return i;
    return SIZE_MAX;
}

size_t tz_wallet_orphan_notes(const tz_wallet *w, uint64_t *value)
{
    size_t n = 0;
    uint64_t v = 0;
    for (size_t i = 0; i < w->n_notes; i++) {
        if (tz_wallet_address_pos(w, w->notes[i].addr_index) != SIZE_MAX)
            continue;
        n++;
        v = w->notes[i].v > UINT64_MAX - v ? UINT64_MAX : v + w->notes[i].v;
    }
    *value = v;
    return n;
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
    if (w->sync.witnesses)
        sodium_memzero(w->sync.witnesses, w->sync.n_witnesses * sizeof *w->sync.witnesses);
    free(w->sync.witnesses);
    free(w->sync.verified_witnesses);
    free(w->path);
    sodium_memzero(w, sizeof *w);
    free(w);
}

int tzw_set_felt(json_t *o, const char *key, const tz_felt *f)
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

json_t *tzw_felt_array(const tz_felt *v, size_t n)
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

json_t *tzw_obj_or_new(json_t **slot)
{
    if (!*slot)
        *slot = json_object();
    return *slot;
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
    /* The reference's top-level keys in its order, so new files look like
     * its files: arrays, the wots map, numbers. */
    bool ok = w->path && w->doc;
    for (size_t i = 0; ok && i < tzw_n_top; i++) {
        const char *k = tzw_top_fields[i].key;
        json_t *v = tzw_top_fields[i].kind != TZW_OTHER  ? json_integer(0)
                    : !strcmp(k, "wots_key_indices") ? json_object()
                                                      : json_array();
        ok = json_object_set_new(w->doc, k, v) == 0;
    }
    if (!ok) {
        tz_wallet_free(w);
        return tz_error_set(err, TZ_ENOMEM, "new wallet: out of memory");
    }
    *out = w;
    return TZ_OK;
}


/* Appends a copy of `rec` (elem bytes) to *recs and a NULL object to
 * *objs (*n of each in use). TZ_OK or TZ_ENOMEM (nothing appended). */
static tz_status append_record(void **recs, json_t ***objs, size_t *n, const void *rec,
                               size_t elem)
{
    if (tzw_grow(recs, *n, elem) || tzw_grow((void **)objs, *n, sizeof **objs))
        return TZ_ENOMEM;
    memcpy((char *)*recs + *n * elem, rec, elem);
    (*objs)[*n] = NULL;
    (*n)++;
    return TZ_OK;
}

tz_status tz_wallet_add_note(tz_wallet *w, const tz_wallet_note *n)
{
    return append_record((void **)&w->notes, &w->note_objs, &w->n_notes, n, sizeof *n);
}

tz_status tz_wallet_add_address(tz_wallet *w, const tz_wallet_address *a)
{
    return append_record((void **)&w->addresses, &w->addr_objs, &w->n_addresses, a, sizeof *a);
}

tz_status tz_wallet_set_address_bds(tz_wallet *w, size_t i, json_t *bds)
{
    if (i >= w->n_addresses || !json_is_object(bds)) {
        json_decref(bds);
        return TZ_EINVAL;
    }
    json_t *o = tzw_obj_or_new(&w->addr_objs[i]);
    if (!o) {
        json_decref(bds);
        return TZ_ENOMEM;
    }
    /* Keep "bds" after the typed keys, as the reference writes it. */
    if (!json_object_get(o, "bds")) {
        if (tzw_store_fields(o, tzw_addr_fields, tzw_n_addr, &w->addresses[i])) {
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
    size_t i = tz_wallet_address_pos(w, addr_index);
    if (i == SIZE_MAX)
        return 0;
    json_t *ni = json_object_get(json_object_get(w->addr_objs[i], "bds"), "next_index");
    if (ni && tz_json_get_u64(ni, &v) && v <= UINT32_MAX)
        return (uint32_t)v;
    return 0;
}

tz_status tz_wallet_record_wots_index(tz_wallet *w, uint32_t addr_index, uint32_t next)
{
    json_t *wots = json_object_get(w->doc, "wots_key_indices");
    char name[16];
    snprintf(name, sizeof name, "%u", (unsigned)addr_index);
    if (!json_is_object(wots) || json_object_get(wots, name))
        return TZ_OK;
    return tz_wallet_set_wots_index(w, addr_index, next);
}

tz_status tz_wallet_set_wots_index(tz_wallet *w, uint32_t addr_index, uint32_t next)
{
    json_t *wots = json_object_get(w->doc, "wots_key_indices");
    char name[16];
    snprintf(name, sizeof name, "%u", (unsigned)addr_index);
    if (!wots) {
        wots = json_object();
        if (!wots || json_object_set_new(w->doc, "wots_key_indices", wots))
            return TZ_ENOMEM;
    }
    if (!json_is_object(wots))
        return TZ_ESTATE;
    return json_object_set_new(wots, name, json_integer(next)) ? TZ_ENOMEM : TZ_OK;
}

static void drop_witness(tz_sync_state *y, size_t i)
{
    memmove(&y->witnesses[i], &y->witnesses[i + 1],
            (y->n_witnesses - i - 1) * sizeof *y->witnesses);
    y->n_witnesses--;
}

void tz_wallet_remove_note(tz_wallet *w, size_t i)
{
    if (i >= w->n_notes)
        return;
    tz_sync_state *y = &w->sync;
    for (size_t k = 0; k < y->n_witnesses; k++)
        if (y->witnesses[k].pos == w->notes[i].index &&
            tz_felt_eq(&y->witnesses[k].leaf, &w->notes[i].cm)) {
            drop_witness(y, k);
            break;
        }
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
    if (rc || tzw_grow((void **)&w->spends, w->n_spends, sizeof *w->spends)) {
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
            rc |= tzw_store_fields(obj, tzw_deposit_fields, tzw_n_deposit, d);
            rc |= json_object_set_new(obj, "operation_hash", json_null());
        }
        if (rc) {
            json_decref(obj);
            return TZ_ENOMEM;
        }
    }
    if (tzw_grow((void **)&w->deposits, w->n_deposits, sizeof *w->deposits)) {
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
    if (tzw_grow((void **)&y->observed_cms, y->n_observed_cms, sizeof *y->observed_cms))
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

/* *dst (n_dst) becomes a copy of src[0..n). TZ_OK or TZ_ENOMEM (dst kept). */
static tz_status copy_witnesses(tz_witness **dst, size_t *n_dst, const tz_witness *src, size_t n)
{
    tz_witness *c = NULL;
    if (n && !(c = malloc(n * sizeof *c)))
        return TZ_ENOMEM;
    if (n)
        memcpy(c, src, n * sizeof *c);
    free(*dst);
    *dst = c;
    *n_dst = n;
    return TZ_OK;
}

tz_status tz_wallet_witness_start(tz_wallet *w, const tz_frontier *before, const tz_felt *cm)
{
    if (tz_wallet_witness_of(w, before->size, cm))
        return TZ_OK;
    tz_witness nw;
    tz_status st = tz_witness_start(&nw, before, cm);
    if (st)
        return st;
    tz_sync_state *y = &w->sync;
    if (tzw_grow((void **)&y->witnesses, y->n_witnesses, sizeof *y->witnesses))
        return TZ_ENOMEM;
    y->witnesses[y->n_witnesses++] = nw;
    return TZ_OK;
}

size_t tz_wallet_witness_append(tz_wallet *w, uint64_t index, const tz_felt *cm)
{
    tz_sync_state *y = &w->sync;
    size_t dropped = 0;
    for (size_t i = y->n_witnesses; i-- > 0;) {
        tz_witness *x = &y->witnesses[i];
        if (x->size == index && tz_witness_append(x, cm) == TZ_OK)
            continue;
        if (x->size > index)
            continue;
        drop_witness(y, i);
        dropped++;
    }
    return dropped;
}

static const tz_witness *find_witness(const tz_witness *v, size_t n, uint64_t pos,
                                      const tz_felt *cm)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].pos == pos && tz_felt_eq(&v[i].leaf, cm))
            return &v[i];
    return NULL;
}

const tz_witness *tz_wallet_witness_of(const tz_wallet *w, uint64_t pos, const tz_felt *cm)
{
    return find_witness(w->sync.witnesses, w->sync.n_witnesses, pos, cm);
}

const tz_witness *tz_wallet_spend_witness_of(const tz_wallet *w, uint64_t pos,
                                             const tz_felt *cm)
{
    if (!w->sync.has_verified)
        return NULL;
    return find_witness(w->sync.verified_witnesses, w->sync.n_verified_witnesses, pos, cm);
}

size_t tz_wallet_witness_check(tz_wallet *w, uint64_t size, const tz_felt *root)
{
    tz_sync_state *y = &w->sync;
    size_t dropped = 0;
    for (size_t i = y->n_witnesses; i-- > 0;) {
        const tz_witness *x = &y->witnesses[i];
        bool owned = false;
        for (size_t k = 0; k < w->n_notes && !owned; k++)
            owned = w->notes[k].index == x->pos && tz_felt_eq(&w->notes[k].cm, &x->leaf);
        tz_felt r;
        tz_witness_root(x, &r);
        if (owned && x->size == size && tz_felt_eq(&r, root))
            continue;
        drop_witness(y, i);
        dropped++;
    }
    return dropped;
}

tz_status tz_wallet_mark_verified(tz_wallet *w)
{
    tz_sync_state *y = &w->sync;
    if (!y->has_frontier || y->frontier_size != w->scanned)
        return TZ_OK;
    if (copy_witnesses(&y->verified_witnesses, &y->n_verified_witnesses, y->witnesses,
                       y->n_witnesses))
        return TZ_ENOMEM;
    y->has_verified = true;
    y->verified_size = w->scanned;
    memcpy(y->verified_frontier, y->frontier, sizeof y->verified_frontier);
    y->verified_observed = y->n_observed_cms;
    return TZ_OK;
}

void tz_wallet_rollback_unverified(tz_wallet *w, tz_wallet_rollback *out)
{
    tz_sync_state *y = &w->sync;
    static const tz_felt empty[TZW_FRONTIER_LEN]; /* the empty tree's frontier */
    tz_wallet_rollback rb = {.from = w->scanned, .to = y->has_verified ? y->verified_size : 0};
    tz_wallet_set_scan(w, rb.to, y->has_verified ? y->verified_frontier : empty);
    if (!y->has_verified)
        y->nullifiers_checked = 0; /* every note will be found again */
    /* The verified witnesses replace the current ones (same number or
     * fewer: nothing to allocate when swapping the arrays). */
    tz_witness *cur = y->witnesses;
    y->witnesses = y->verified_witnesses;
    y->n_witnesses = y->n_verified_witnesses;
    y->verified_witnesses = NULL;
    y->n_verified_witnesses = 0;
    free(cur);
    if (y->has_verified && copy_witnesses(&y->verified_witnesses, &y->n_verified_witnesses,
                                          y->witnesses, y->n_witnesses))
        y->has_verified = false; /* out of memory: a later rollback goes to the start */
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

void tz_wallet_start_verified(tz_wallet *w, const tz_frontier *f, uint64_t nf_count)
{
    tz_wallet_reset_cursor(w, f->size, f->branch);
    w->sync.nullifiers_checked = nf_count;
    if (tz_wallet_mark_verified(w) != TZ_OK) /* no witness yet: nothing to allocate */
        w->sync.has_verified = false;
}

void tz_wallet_reset_cursor(tz_wallet *w, uint64_t scanned, const tz_felt frontier[48])
{
    tz_wallet_set_scan(w, scanned, frontier);
    w->sync.nullifiers_checked = 0;
    w->sync.has_verified = false;
    w->sync.verified_size = 0;
    w->sync.verified_observed = 0;
    free(w->sync.witnesses);
    free(w->sync.verified_witnesses);
    w->sync.witnesses = w->sync.verified_witnesses = NULL;
    w->sync.n_witnesses = w->sync.n_verified_witnesses = 0;
    memset(w->sync.verified_frontier, 0, sizeof w->sync.verified_frontier);
}


static int entry_cmp(const void *pa, const void *pb)
{
    const tz_floor_entry *a = pa, *b = pb;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* The entry for `index` among e[0..*n), appended (zeroed) when absent. */
static tz_floor_entry *entry_for(tz_floor_entry *e, size_t *n, uint32_t index)
{
    for (size_t i = 0; i < *n; i++)
        if (e[i].index == index)
            return &e[i];
    e[*n] = (tz_floor_entry){.index = index};
    return &e[(*n)++];
}

tz_status tzw_floor_state(const tz_wallet *w, tz_floor_state *s, tz_floor_entry **entries)
{
    json_t *m = json_object_get(w->doc, "wots_key_indices");
    size_t cap = json_object_size(m) + w->n_addresses, n = 0;
    tz_floor_entry *e = cap ? calloc(cap, sizeof *e) : NULL;
    if (cap && !e)
        return TZ_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        uint64_t idx, x;
        if (tz_parse_u64(k, UINT32_MAX, &idx) && tz_json_get_u64(v, &x)) {
            tz_floor_entry *f = entry_for(e, &n, (uint32_t)idx);
            f->floor = f->floor > x ? f->floor : x;
        }
    }
    for (size_t i = 0; i < w->n_addresses; i++) {
        uint64_t x = 0;
        json_t *ni = json_object_get(json_object_get(w->addr_objs[i], "bds"), "next_index");
        if (!ni || !tz_json_get_u64(ni, &x))
            x = 0;
        tz_floor_entry *f = entry_for(e, &n, w->addresses[i].index);
        f->floor = f->floor > x ? f->floor : x;
    }
    for (size_t i = 0; i < n; i++)
        e[i].current = tz_wallet_wots_next(w, e[i].index);
    if (n)
        qsort(e, n, sizeof *e, entry_cmp);
    s->wallet_path = w->path;
    tz_wallet_fingerprint(&s->fingerprint, &w->master_sk);
    s->addr_counter = w->addr_counter;
    s->entries = e;
    s->n = n;
    *entries = e;
    return TZ_OK;
}

tz_status tz_wallet_floor_check(const tz_wallet *w, tz_error *err)
{
    tz_floor_state s;
    tz_floor_entry *e = NULL;
    if (tzw_floor_state(w, &s, &e) != TZ_OK)
        return tz_error_set(err, TZ_ENOMEM, "check xmss floor: out of memory");
    tz_status st = tz_floor_check(&s, err);
    free(e);
    return st;
}
