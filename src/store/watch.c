/* Watch wallets in memory (watch.h): records in leaf order, the scan
 * state and its last verified state, and the reference's status. */
#include "store/watch.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/note.h"
#include "store/jsonnum.h"

const char *tz_watch_mode_name(tz_watch_mode m)
{
    switch (m) {
    case TZ_WATCH_DETECT: return "detect";
    case TZ_WATCH_VIEW: return "view";
    case TZ_WATCH_OUTGOING: return "outgoing";
    }
    return "unknown";
}

tz_status tz_watch_add_record(tz_watch *w, const tz_watch_record *r, bool *added)
{
    *added = false;
    /* Records are in leaf order: only those at or past r->index can match
     * or need to move. */
    size_t pos = w->n_recs;
    while (pos > 0 && w->recs[pos - 1].index >= r->index) {
        const tz_watch_record *q = &w->recs[pos - 1];
        if (q->index == r->index && tz_felt_eq(&q->cm, &r->cm))
            return TZ_OK;
        pos--;
    }
    /* keep every record of the same leaf before the new one */
    while (pos < w->n_recs && w->recs[pos].index == r->index)
        pos++;
    if (w->n_recs == w->cap_recs) {
        size_t ncap = w->cap_recs ? w->cap_recs * 2 : 16;
        tz_watch_record *nr = realloc(w->recs, ncap * sizeof *nr);
        if (!nr)
            return TZ_ENOMEM;
        w->recs = nr;
        w->cap_recs = ncap;
    }
    memmove(&w->recs[pos + 1], &w->recs[pos], (w->n_recs - pos) * sizeof *w->recs);
    w->recs[pos] = *r;
    w->recs[pos].obj = NULL;
    w->n_recs++;
    *added = true;
    return TZ_OK;
}

void tz_watch_set_scan(tz_watch *w, uint64_t cursor, const tz_felt *frontier)
{
    w->scanned = cursor;
    w->has_frontier = frontier != NULL;
    if (frontier) {
        w->frontier_size = cursor;
        memcpy(w->frontier, frontier, sizeof w->frontier);
    }
}

void tz_watch_mark_verified(tz_watch *w)
{
    if (!w->has_frontier)
        return;
    w->has_verified = true;
    w->verified_size = w->frontier_size;
    memcpy(w->verified_frontier, w->frontier, sizeof w->frontier);
}

void tz_watch_rollback_unverified(tz_watch *w, uint64_t *from, uint64_t *to, size_t *dropped)
{
    *from = w->scanned;
    uint64_t v = w->has_verified ? w->verified_size : 0;
    *to = v;
    size_t keep = 0;
    for (size_t i = 0; i < w->n_recs; i++) {
        if (w->recs[i].index < v) {
            w->recs[keep++] = w->recs[i];
        } else {
            json_decref(w->recs[i].obj);
            sodium_memzero(&w->recs[i], sizeof w->recs[i]);
        }
    }
    *dropped = w->n_recs - keep;
    w->n_recs = keep;
    w->scanned = v;
    w->has_frontier = true;
    w->frontier_size = v;
    if (w->has_verified)
        memcpy(w->frontier, w->verified_frontier, sizeof w->frontier);
    else
        memset(w->frontier, 0, sizeof w->frontier);
}

static json_t *felt_json(const tz_felt *f)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, f);
    return json_string(hex);
}

json_t *tz_watch_record_json(const tz_watch *w, size_t i)
{
    const tz_watch_record *r = &w->recs[i];
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = json_object_set_new(o, "index", tz_json_u64(r->index));
    switch (w->mode) {
    case TZ_WATCH_DETECT:
        rc |= json_object_set_new(o, "addr_index", json_integer(r->addr_index));
        rc |= json_object_set_new(o, "cm", felt_json(&r->cm));
        break;
    case TZ_WATCH_VIEW: {
        char *hex = malloc(2 * r->memo_len + 1);
        if (hex)
            tz_hex_encode(hex, r->memo, r->memo_len);
        rc |= json_object_set_new(o, "addr_index", json_integer(r->addr_index));
        rc |= json_object_set_new(o, "cm", felt_json(&r->cm));
        rc |= json_object_set_new(o, "value", tz_json_u64(r->value));
        rc |= !hex || json_object_set_new(o, "memo", json_string(hex));
        free(hex);
        break;
    }
    case TZ_WATCH_OUTGOING: {
        const char *role = tz_out_role_name(r->role);
        rc |= json_object_set_new(o, "role", json_string(role ? role : "unknown"));
        rc |= json_object_set_new(o, "value", tz_json_u64(r->value));
        rc |= json_object_set_new(o, "cm", felt_json(&r->cm));
        rc |= json_object_set_new(o, "rseed", felt_json(&r->rseed));
        rc |= json_object_set_new(o, "d_j", felt_json(&r->d_j));
        rc |= json_object_set_new(o, "auth_root", felt_json(&r->auth_root));
        rc |= json_object_set_new(o, "auth_pub_seed", felt_json(&r->auth_pub_seed));
        rc |= json_object_set_new(o, "nk_tag", felt_json(&r->nk_tag));
        break;
    }
    }
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *tz_watch_status_json(const tz_watch *w)
{
    unsigned __int128 total = 0;
    for (size_t i = 0; w->mode != TZ_WATCH_DETECT && i < w->n_recs; i++)
        total += w->recs[i].value;
    json_t *zero = json_integer(0);
    json_t *sum = tz_json_u128(total);
    json_t *o = json_object();
    int rc = !o || !zero || !sum;
    if (!rc) {
        rc |= json_object_set_new(o, "mode", json_string(tz_watch_mode_name(w->mode)));
        rc |= json_object_set_new(o, "scanned", tz_json_u64(w->scanned));
        rc |= json_object_set_new(o, "tracked", json_integer((json_int_t)w->n_recs));
        rc |= json_object_set(o, "incoming_total", w->mode == TZ_WATCH_VIEW ? sum : zero);
        rc |= json_object_set(o, "outgoing_total", w->mode == TZ_WATCH_OUTGOING ? sum : zero);
        rc |= json_object_set_new(o, "spend_status",
                                  json_string(w->mode == TZ_WATCH_DETECT
                                                  ? "candidate_matches_only"
                                                  : "unavailable_without_spend_key"));
    }
    if (!rc && w->n_recs) {
        json_t *a = json_array();
        for (size_t i = 0; a && !rc && i < w->n_recs; i++)
            rc |= json_array_append_new(a, tz_watch_record_json(w, i));
        const char *key = w->mode == TZ_WATCH_DETECT ? "matches"
                          : w->mode == TZ_WATCH_VIEW ? "notes"
                                                     : "outgoing_notes";
        rc |= !a || json_object_set_new(o, key, a);
    }
    json_decref(zero);
    json_decref(sum);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void tz_watch_free(tz_watch *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_recs; i++)
        json_decref(w->recs[i].obj);
    if (w->recs)
        sodium_memzero(w->recs, w->cap_recs * sizeof *w->recs);
    free(w->recs);
    free(w->addrs);
    static const char *const secret[] = {"detect_root", "incoming_seed", "outgoing_seed"};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) {
        json_t *v = json_object_get(w->doc, secret[i]);
        if (json_is_string(v))
            sodium_memzero((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(w->doc);
    free(w->path);
    sodium_memzero(w, sizeof *w);
    free(w);
}
