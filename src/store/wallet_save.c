/* Saving a wallet file (wallet.h): the typed fields written back into the
 * document through the field tables, every object's keys in the
 * reference's order (unknown keys after), serde_json's pretty layout, an
 * atomic durable write, then the xmss floor. */
#include "store/wallet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "store/atomic.h"
#include "store/floor.h"
#include "store/jsonnum.h"
#include "store/wallet_int.h"

/* Moves the members of `o` so the keys of `order` that are present come
 * first, in that order, followed by every other key in its current order
 * (JSON_PRESERVE_ORDER dumps in insertion order, and a re-inserted key goes
 * last). Values are moved, not copied. Returns 0 or -1 (out of memory). */
static int reorder(json_t *o, const tzw_field *order, size_t n_order)
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
            known = !strcmp(k, order[i].key);
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
            const char *key = pass == 0 ? order[i].key : own[i];
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

/* The felts x[l] at the levels l < 48 whose bit in `bits` is set. */
static json_t *felts_at_bits(const tz_felt *x, uint64_t bits)
{
    tz_felt v[TZW_FRONTIER_LEN];
    size_t n = 0;
    for (unsigned l = 0; l < TZW_FRONTIER_LEN; l++)
        if ((bits >> l) & 1)
            v[n++] = x[l];
    return tzw_felt_array(v, n);
}

/* {"pos","cm","size","left","filled","cursor","cursor_n"}: left holds the
 * siblings at the set bits of pos, cursor the branches at the set bits of
 * cursor_n (the only meaningful ones), filled the complete right siblings. */
static json_t *witness_json(const tz_witness *x)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, &x->leaf);
    return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "pos", tz_json_u64(x->pos), "cm",
                     hex, "size", tz_json_u64(x->size), "left", felts_at_bits(x->left, x->pos),
                     "filled", tzw_felt_array(x->filled, x->n_filled), "cursor",
                     felts_at_bits(x->cursor, x->cursor_n), "cursor_n",
                     tz_json_u64(x->cursor_n));
}

/* o["witnesses"] = the n witnesses, or no such key when there are none.
 * Returns 0 or -1 (out of memory). */
static int set_witnesses(json_t *o, const tz_witness *x, size_t n)
{
    if (n == 0) {
        json_object_del(o, "witnesses");
        return 0;
    }
    json_t *a = json_array();
    int rc = !a;
    for (size_t i = 0; !rc && i < n; i++)
        rc = json_array_append_new(a, witness_json(&x[i]));
    return rc | json_object_set_new(o, "witnesses", a);
}

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
    rc |= tzw_store_fields(doc, tzw_top_fields, tzw_n_top, w);

    json_t *addrs = json_array();
    for (size_t i = 0; addrs && i < w->n_addresses; i++) {
        const tz_wallet_address *a = &w->addresses[i];
        json_t *o = tzw_obj_or_new(&w->addr_objs[i]);
        if (!o) {
            json_decref(addrs);
            return -1;
        }
        rc |= tzw_store_fields(o, tzw_addr_fields, tzw_n_addr, a);
        if (!json_object_get(o, "bds"))
            rc |= json_object_set_new(o, "bds", json_object());
        rc |= reorder(o, tzw_addr_fields, tzw_n_addr);
        rc |= json_array_append(addrs, o);
    }
    rc |= json_object_set_new(doc, "addresses", addrs);

    json_t *notes = json_array();
    for (size_t i = 0; notes && i < w->n_notes; i++) {
        const tz_wallet_note *n = &w->notes[i];
        json_t *o = tzw_obj_or_new(&w->note_objs[i]);
        if (!o) {
            json_decref(notes);
            return -1;
        }
        rc |= tzw_store_fields(o, tzw_note_fields, tzw_n_note, n);
        rc |= reorder(o, tzw_note_fields, tzw_n_note);
        rc |= json_array_append(notes, o);
    }
    rc |= json_object_set_new(doc, "notes", notes);
    if (!json_is_object(json_object_get(doc, "wots_key_indices")))
        rc |= json_object_set_new(doc, "wots_key_indices", json_object());

    json_t *spends = json_array();
    for (size_t i = 0; spends && i < w->n_spends; i++) {
        tz_pending_spend *s = &w->spends[i];
        json_t *o = tzw_obj_or_new(&s->obj);
        if (!o) {
            json_decref(spends);
            return -1;
        }
        rc |= json_object_set_new(o, "nullifiers",
                                  tzw_felt_array(s->nullifiers, s->n_nullifiers));
        if (!json_object_get(o, "description"))
            rc |= json_object_set_new(o, "description", json_string(""));
        if (json_is_null(json_object_get(o, "operation_hash")))
            json_object_del(o, "operation_hash");
        rc |= reorder(o, tzw_spend_fields, tzw_n_spend);
        rc |= json_array_append(spends, o);
    }
    rc |= json_object_set_new(doc, "pending_spends", spends);

    json_t *deps = json_array();
    for (size_t i = 0; deps && i < w->n_deposits; i++) {
        tz_pending_deposit *d = &w->deposits[i];
        json_t *o = tzw_obj_or_new(&d->obj);
        if (!o) {
            json_decref(deps);
            return -1;
        }
        rc |= tzw_store_fields(o, tzw_deposit_fields, tzw_n_deposit, d);
        if (!json_object_get(o, "operation_hash"))
            rc |= json_object_set_new(o, "operation_hash", json_null());
        if (d->has_shielded_cm)
            rc |= tzw_set_felt(o, "shielded_cm", &d->shielded_cm);
        else
            json_object_del(o, "shielded_cm");
        rc |= reorder(o, tzw_deposit_fields, tzw_n_deposit);
        rc |= json_array_append(deps, o);
    }
    rc |= json_object_set_new(doc, "pending_deposits", deps);

    const tz_sync_state *y = &w->sync;
    json_t *s = json_object_get(doc, TZW_SYNC_KEY);
    bool nondefault = y->has_frontier || y->nullifiers_checked || y->n_observed_cms ||
                      y->has_verified || y->n_witnesses;
    if (s || nondefault) {
        if (!json_is_object(s)) {
            s = json_object();
            rc |= json_object_set_new(doc, TZW_SYNC_KEY, s);
            if (!s)
                return -1;
        }
        rc |= json_object_set_new(s, "frontier_size",
                                  tz_json_u64(y->has_frontier ? y->frontier_size : 0));
        if (y->has_frontier)
            rc |= json_object_set_new(s, "frontier", tzw_felt_array(y->frontier, TZW_FRONTIER_LEN));
        else
            json_object_del(s, "frontier");
        rc |= json_object_set_new(s, "nullifiers_checked", tz_json_u64(y->nullifiers_checked));
        rc |= json_object_set_new(s, "observed_cms",
                                  tzw_felt_array(y->observed_cms, y->n_observed_cms));
        rc |= set_witnesses(s, y->witnesses, y->n_witnesses);
        if (y->has_verified) {
            json_t *v = json_pack("{s:o, s:o, s:o}", "size", tz_json_u64(y->verified_size),
                                  "frontier",
                                  tzw_felt_array(y->verified_frontier, TZW_FRONTIER_LEN),
                                  "observed_cms", tz_json_u64(y->verified_observed));
            rc |= !v || set_witnesses(v, y->verified_witnesses, y->n_verified_witnesses);
            rc |= json_object_set_new(s, "verified", v);
        } else {
            json_object_del(s, "verified");
        }
    }
    rc |= reorder(doc, tzw_top_fields, tzw_n_top);
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
    tz_floor_state fs;
    tz_floor_entry *fe = NULL;
    if (tzw_floor_state(w, &fs, &fe) != TZ_OK)
        return tz_error_set(err, TZ_ENOMEM, "wallet %s saved, but its xmss floor was not: out of "
                                            "memory", w->path);
    st = tz_floor_write(&fs, &w->floor_cache, err);
    free(fe);
    if (st)
        return tz_error_prefix(err, "wallet %s saved, but its xmss floor was not", w->path);
    return TZ_OK;
}

