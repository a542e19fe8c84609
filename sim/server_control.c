/* The simulator's control API under /sim/ (loopback clients only): append
 * notes, publish nullifiers, credit or drain deposit pools, advance
 * blocks, set the latency and the fault switches, and read or reset the
 * counters, the chain's head and the paid notes. JSON in and out; a state
 * change answers with the new head. */
#include "server_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/note.h"

#include "addr.h"
#include "core/commit.h"

/* Reads a non-negative JSON integer member; false when absent or not one. */
static bool get_u64(const json_t *o, const char *name, uint64_t *out)
{
    const json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static void felt_hex(char out[65], const tz_felt *f)
{
    tz_felt_to_hex(out, f);
}

/* Adds the head's hash, level, size, root and nullifier count to o. */
static void add_head_fields(sim_server *s, json_t *o)
{
    pthread_rwlock_rdlock(&s->c->lock);
    const sim_block *h = sim_chain_head(s->c);
    char hx[65];
    felt_hex(hx, &h->root);
    json_object_set_new(o, "head", json_string(h->hash));
    json_object_set_new(o, "level", json_integer((json_int_t)h->level));
    json_object_set_new(o, "size", json_integer((json_int_t)h->fr.size));
    json_object_set_new(o, "root", json_string(hx));
    json_object_set_new(o, "nullifiers", json_integer((json_int_t)h->nf_count));
    pthread_rwlock_unlock(&s->c->lock);
}

/* ------------------------------------------------------- state changes */

static void ctl_append(sim_server *s, sim_req *r, json_t *in)
{
    uint64_t count = 1, value = SIM_DEFAULT_PAID_VALUE;
    if (json_object_get(in, "count") && !get_u64(in, "count", &count)) {
        sim_reply_error(r, 400, "count must be a non-negative integer");
        return;
    }
    if (json_object_get(in, "value") && !get_u64(in, "value", &value)) {
        sim_reply_error(r, 400, "value must be a non-negative integer");
        return;
    }
    tz_payment_address *to = NULL;
    tz_error err = {0};
    const json_t *tj = json_object_get(in, "to");
    if (tj) {
        to = malloc(sizeof *to);
        if (!to || sim_addr_from_json(to, tj, &err) != TZ_OK) {
            free(to);
            sim_reply_error(r, 400, to ? err.msg : "out of memory");
            return;
        }
    }
    /* "sender": exported outgoing material (its outgoing_seed), "role": the
     * recovery role by name: the notes' outgoing ciphertexts are that
     * wallet's, as if it had sent them. */
    sim_sender sender = {.role = TZ_OUT_TRANSFER_RECIPIENT};
    const json_t *sj = json_object_get(in, "sender");
    if (sj) {
        const char *h = json_string_value(json_object_get(sj, "outgoing_seed"));
        const char *role = json_string_value(json_object_get(in, "role"));
        if (role) {
            sender.role = 0;
            for (uint8_t k = 1; k < 16 && !sender.role; k++)
                if (tz_out_role_name(k) && !strcmp(tz_out_role_name(k), role))
                    sender.role = k;
        }
        if (!h || tz_felt_from_hex(&sender.outgoing_seed, h) != TZ_OK || !sender.role) {
            free(to);
            sim_reply_error(r, 400, "sender must hold an outgoing_seed (64 hex) and role a "
                                    "known role name");
            return;
        }
    }
    uint64_t first = 0;
    if (sim_chain_append_from(s->c, count, to, value, sj ? &sender : NULL, &first, &err) !=
        TZ_OK) {
        free(to);
        sim_reply_error(r, 400, err.msg);
        return;
    }
    json_t *o = json_object();
    json_t *leaves = json_array();
    pthread_rwlock_rdlock(&s->c->lock);
    for (uint64_t k = 0; k < count; k++) {
        uint64_t i = first + k, v;
        tz_felt cm, rseed;
        memcpy(cm.b, sim_leaf(s->c, i), 32);
        sim_leaf_opening(s->c, i, to, value, &v, &rseed);
        char h1[65], h2[65];
        felt_hex(h1, &cm);
        felt_hex(h2, &rseed);
        json_array_append_new(leaves, json_pack("{s:I,s:s,s:I,s:s}", "index", (json_int_t)i, "cm",
                                                h1, "v", (json_int_t)v, "rseed", h2));
    }
    pthread_rwlock_unlock(&s->c->lock);
    free(to);
    json_object_set_new(o, "first_index", json_integer((json_int_t)first));
    json_object_set_new(o, "leaves", leaves);
    add_head_fields(s, o);
    sim_reply_json(r, 200, o);
}

static void ctl_nullifiers(sim_server *s, sim_req *r, json_t *in)
{
    const json_t *list = json_object_get(in, "nullifiers");
    const json_t *notes = json_object_get(in, "notes");
    size_t n = json_array_size(list) + json_array_size(notes);
    tz_felt *nfs = malloc((n ? n : 1) * sizeof *nfs);
    if (!nfs) {
        sim_reply_error(r, 500, "out of memory");
        return;
    }
    size_t k = 0;
    const json_t *v;
    size_t i;
    json_array_foreach(list, i, v) {
        const char *h = json_string_value(v);
        if (!h || tz_felt_from_hex(&nfs[k], h) != TZ_OK) {
            free(nfs);
            sim_reply_error(r, 400, "nullifiers: each entry must be 64 hex digits");
            return;
        }
        k++;
    }
    json_array_foreach(notes, i, v) {
        uint64_t idx;
        tz_felt nk;
        const char *h = json_string_value(json_object_get(v, "nk_spend"));
        if (!get_u64(v, "index", &idx) || !h || tz_felt_from_hex(&nk, h) != TZ_OK) {
            free(nfs);
            sim_reply_error(r, 400, "notes: each entry needs index and nk_spend (64 hex)");
            return;
        }
        tz_felt cm;
        pthread_rwlock_rdlock(&s->c->lock);
        bool ok = idx < sim_chain_head(s->c)->fr.size;
        if (ok)
            memcpy(cm.b, sim_leaf(s->c, idx), 32);
        pthread_rwlock_unlock(&s->c->lock);
        if (!ok) {
            free(nfs);
            sim_reply_error(r, 400, "notes: index beyond the tree size");
            return;
        }
        tz_note_nullifier(&nfs[k], &nk, &cm, idx);
        k++;
    }
    tz_error err = {0};
    if (sim_chain_add_nullifiers(s->c, nfs, k, &err) != TZ_OK) {
        free(nfs);
        sim_reply_error(r, 500, err.msg);
        return;
    }
    json_t *o = json_object();
    json_t *arr = json_array();
    for (size_t q = 0; q < k; q++) {
        char hx[65];
        felt_hex(hx, &nfs[q]);
        json_array_append_new(arr, json_string(hx));
    }
    free(nfs);
    json_object_set_new(o, "published", arr);
    add_head_fields(s, o);
    sim_reply_json(r, 200, o);
}

static void ctl_deposit(sim_server *s, sim_req *r, json_t *in)
{
    const char *h = json_string_value(json_object_get(in, "pubkey_hash"));
    tz_felt pkh;
    if (!h || tz_felt_from_hex(&pkh, h) != TZ_OK) {
        sim_reply_error(r, 400, "pubkey_hash must be 64 hex digits");
        return;
    }
    uint64_t amount = 0;
    bool drain = json_is_true(json_object_get(in, "drain"));
    if (!drain && !get_u64(in, "amount", &amount)) {
        sim_reply_error(r, 400, "amount must be a non-negative integer (or drain: true)");
        return;
    }
    tz_error err = {0};
    if (sim_chain_deposit(s->c, &pkh, amount, drain, &err) != TZ_OK) {
        sim_reply_error(r, 400, err.msg);
        return;
    }
    json_t *o = json_object();
    pthread_rwlock_rdlock(&s->c->lock);
    const sim_balance *e = sim_chain_balance(sim_chain_head(s->c), &pkh);
    json_object_set_new(o, "balance",
                        e && !e->empty ? json_integer((json_int_t)e->amount) : json_null());
    pthread_rwlock_unlock(&s->c->lock);
    add_head_fields(s, o);
    sim_reply_json(r, 200, o);
}

/* ------------------------------------------------- faults and counters */

static void ctl_fault(sim_server *s, sim_req *r, json_t *in)
{
    uint64_t idx = 0, next = 0, status = 0, tam = 0;
    bool has_idx = get_u64(in, "note_index", &idx);
    bool has_next = get_u64(in, "next", &next);
    bool has_status = get_u64(in, "status", &status);
    sim_faults *f = &s->f;
    const char *bad = NULL;
    pthread_mutex_lock(&f->mu);
    if (get_u64(in, "tamper_note", &tam)) {
        if (f->n_tamper < SIM_MAX_FAULT_NOTES)
            f->tamper[f->n_tamper++] = tam;
        else
            bad = "too many tampered notes";
    } else if (json_object_get(in, "shape")) {
        const char *sh = json_string_value(json_object_get(in, "shape"));
        enum note_shape k = SHAPE_NONE;
        if (sh && !strcmp(sh, "undecodable"))
            k = SHAPE_UNDECODABLE;
        else if (sh && !strcmp(sh, "no_chunk0"))
            k = SHAPE_NO_CHUNK0;
        else if (sh && !strcmp(sh, "small"))
            k = SHAPE_SMALL;
        if (k == SHAPE_NONE)
            bad = "shape must be undecodable, no_chunk0 or small";
        else if (!has_idx)
            bad = "shape needs note_index";
        else if (f->n_shape < SIM_MAX_FAULT_NOTES) {
            f->shape_idx[f->n_shape] = idx;
            f->shape[f->n_shape++] = k;
        } else {
            bad = "too many shaped notes";
        }
    } else if (json_is_true(json_object_get(in, "malformed"))) {
        if (!has_idx)
            bad = "malformed needs note_index";
        else if (f->n_mal < SIM_MAX_FAULT_NOTES)
            f->malformed[f->n_mal++] = idx;
        else
            bad = "too many malformed notes";
    } else if (json_is_true(json_object_get(in, "drop"))) {
        f->drop_n = has_next ? next : 1;
    } else if (json_is_true(json_object_get(in, "truncate"))) {
        f->trunc_n = has_next ? next : 1;
    } else if (has_status) {
        if (status < 100 || status > 599)
            bad = "status must be 100..599";
        else if (has_idx) {
            if (f->n_ns < SIM_MAX_FAULT_NOTES) {
                f->ns_idx[f->n_ns] = idx;
                f->ns_status[f->n_ns++] = (unsigned)status;
            } else {
                bad = "too many note faults";
            }
        } else {
            f->next_status = (unsigned)status;
            f->next_status_n = has_next ? next : 1;
        }
    } else {
        bad = "unknown fault (status, drop, truncate, malformed, tamper_note, shape)";
    }
    pthread_mutex_unlock(&f->mu);
    if (bad) {
        sim_reply_error(r, 400, bad);
        return;
    }
    sim_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void ctl_fault_clear(sim_server *s)
{
    sim_faults *f = &s->f;
    pthread_mutex_lock(&f->mu);
    f->n_ns = f->n_mal = f->n_tamper = f->n_shape = 0;
    f->next_status = 0;
    f->next_status_n = f->drop_n = f->trunc_n = 0;
    pthread_mutex_unlock(&f->mu);
}

/* {"ms":L} and/or {"capacity_rps":R}: either or both. */
static void ctl_latency(sim_server *s, sim_req *r, json_t *in)
{
    uint64_t ms = 0, cap = 0;
    bool has_ms = json_object_get(in, "ms") != NULL;
    bool has_cap = json_object_get(in, "capacity_rps") != NULL;
    if ((!has_ms && !has_cap) || (has_ms && (!get_u64(in, "ms", &ms) || ms > 600000))) {
        sim_reply_error(r, 400, "ms must be an integer 0..600000");
        return;
    }
    if (has_cap && (!get_u64(in, "capacity_rps", &cap) || cap > SIM_MAX_CAPACITY_RPS)) {
        sim_reply_error(r, 400, "capacity_rps must be an integer 0..1000000 (0: no limit)");
        return;
    }
    if (has_ms)
        atomic_store(&s->latency_ms, (unsigned)ms);
    if (has_cap)
        atomic_store(&s->capacity_rps, (unsigned)cap);
    sim_reply_json(r, 200,
                   json_pack("{s:I,s:I}", "latency_ms", (json_int_t)atomic_load(&s->latency_ms),
                             "capacity_rps", (json_int_t)atomic_load(&s->capacity_rps)));
}

static const char *const ROUTE_NAMES[R_COUNT] = {
    "hash", "level", "smart_rollup_address", "length", "value", "subkeys", "values", "sim",
    "not_found"};

static void ctl_counters(sim_server *s, sim_req *r)
{
    json_t *o = json_object(), *rq = json_object();
    for (int k = 0; k < R_COUNT; k++)
        json_object_set_new(rq, ROUTE_NAMES[k],
                            json_integer((json_int_t)atomic_load(&s->req_count[k])));
    json_object_set_new(o, "requests", rq);
    json_object_set_new(o, "durable_reads", json_integer((json_int_t)atomic_load(&s->durable_reads)));
    json_object_set_new(o, "connections_accepted",
                        json_integer((json_int_t)atomic_load(&s->accepted)));
    json_object_set_new(o, "peak_connections", json_integer((json_int_t)atomic_load(&s->peak)));
    json_object_set_new(o, "active_connections",
                        json_integer((json_int_t)atomic_load(&s->active)));
    json_t *nk = json_object();
    static const char *const NK_NAMES[NK_COUNT] = {"note", "len", "chunk_dir", "chunk"};
    for (int k = 0; k < NK_COUNT; k++)
        json_object_set_new(nk, NK_NAMES[k],
                            json_integer((json_int_t)atomic_load(&s->note_keys[k])));
    json_object_set_new(o, "note_keys", nk);
    json_object_set_new(o, "latency", sim_latency_json(s));
    sim_reply_json(r, 200, o);
}

static void ctl_counters_reset(sim_server *s)
{
    for (int k = 0; k < R_COUNT; k++)
        atomic_store(&s->req_count[k], 0);
    atomic_store(&s->durable_reads, 0);
    for (int k = 0; k < NK_COUNT; k++)
        atomic_store(&s->note_keys[k], 0);
    atomic_store(&s->accepted, 0);
    atomic_store(&s->peak, atomic_load(&s->active));
    sim_latency_reset(s);
}

static void ctl_paid(sim_server *s, sim_req *r)
{
    size_t n = 0;
    sim_paid_note *p = sim_chain_paid(s->c, &n);
    json_t *arr = json_array();
    for (size_t k = 0; p && k < n; k++) {
        char h1[65], h2[65];
        felt_hex(h1, &p[k].cm);
        felt_hex(h2, &p[k].rseed);
        json_t *e = json_pack("{s:I,s:s,s:I,s:s}", "index", (json_int_t)p[k].index, "cm", h1, "v",
                              (json_int_t)p[k].v, "rseed", h2);
        json_object_set_new(e, "pay", p[k].pay == SIZE_MAX ? json_null()
                                                           : json_integer((json_int_t)p[k].pay));
        json_array_append_new(arr, e);
    }
    free(p);
    sim_reply_json(r, 200, json_pack("{s:o}", "paid", arr));
}

/* ------------------------------------------------------------- dispatch */

/* A complete network profile for a wallet, in the reference's format: the
 * simulator is the rollup node and the operator; the DAL fee goes to the
 * simulator's producer address. */
static void ctl_profile(sim_server *s, sim_req *r)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", s->port);
    const char *tok = s->o.operator_token ? s->o.operator_token : SIM_DEFAULT_OPERATOR_TOKEN;
    json_t *fee_addr = sim_addr_to_json(&s->c->producer);
    json_t *o = fee_addr ? json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:s,s:s,s:s,s:s,s:s,s:s}",
                                     "network", "shadownet", "rollup_node_url", url,
                                     "rollup_address", s->c->rollup_address, "bridge_ticketer",
                                     s->c->ticketer, "dal_fee", (json_int_t)SIM_DAL_FEE,
                                     "dal_fee_address", fee_addr, "operator_url", url,
                                     "operator_bearer_token", tok, "source_alias", "tzel-sim",
                                     "public_account", s->c->public_account, "octez_client_bin",
                                     "octez-client", "burn_cap", "1")
                         : NULL;
    if (!o) {
        sim_reply_error(r, 500, "out of memory");
        return;
    }
    sim_reply_json(r, 200, o);
}

void sim_control_handle(sim_server *s, struct MHD_Connection *conn, sim_req *r, const char *url,
                        const char *method)
{
    atomic_fetch_add(&s->req_count[R_SIM], 1);
    if (!sim_conn_is_loopback(conn)) {
        sim_reply_empty(r, 403);
        return;
    }
    const char *op = url + 5;
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (get && !strcmp(op, "counters")) {
        ctl_counters(s, r);
        return;
    }
    if (get && !strcmp(op, "chain")) {
        json_t *o = json_object();
        add_head_fields(s, o);
        pthread_rwlock_rdlock(&s->c->lock);
        json_object_set_new(o, "blocks_kept", json_integer((json_int_t)s->c->nblocks));
        json_object_set_new(o, "rollup_address", json_string(s->c->rollup_address));
        pthread_rwlock_unlock(&s->c->lock);
        json_object_set_new(o, "latency_ms", json_integer(atomic_load(&s->latency_ms)));
        json_object_set_new(o, "capacity_rps", json_integer(atomic_load(&s->capacity_rps)));
        sim_reply_json(r, 200, o);
        return;
    }
    if (get && !strcmp(op, "paid")) {
        ctl_paid(s, r);
        return;
    }
    if (get && !strcmp(op, "profile")) {
        ctl_profile(s, r);
        return;
    }
    if (!post) {
        sim_reply_empty(r, 404);
        return;
    }
    json_t *in = NULL;
    if (r->body.failed) {
        sim_reply_error(r, 413, "body too large");
        return;
    }
    if (r->body.len > 0) {
        json_error_t je;
        in = json_loadb(r->body.data, r->body.len, 0, &je);
        if (!json_is_object(in)) {
            json_decref(in);
            sim_reply_error(r, 400, "body must be a JSON object");
            return;
        }
    } else {
        in = json_object();
    }
    tz_error err = {0};
    if (!strcmp(op, "append")) {
        ctl_append(s, r, in);
    } else if (!strcmp(op, "nullifiers")) {
        ctl_nullifiers(s, r, in);
    } else if (!strcmp(op, "deposit")) {
        ctl_deposit(s, r, in);
    } else if (!strcmp(op, "advance")) {
        uint64_t count = 1;
        if (json_object_get(in, "count") && !get_u64(in, "count", &count))
            count = 1;
        for (uint64_t k = 0; k < count && k < 10000; k++)
            if (sim_chain_advance(s->c, &err) != TZ_OK)
                break;
        json_t *o = json_object();
        add_head_fields(s, o);
        sim_reply_json(r, 200, o);
    } else if (!strcmp(op, "latency")) {
        ctl_latency(s, r, in);
    } else if (!strcmp(op, "fault")) {
        ctl_fault(s, r, in);
    } else if (!strcmp(op, "hostile")) {
        sim_hostile_control(s, r, in);
    } else if (!strcmp(op, "fault/clear")) {
        ctl_fault_clear(s);
        sim_hostile_clear(s);
        sim_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (!strcmp(op, "counters/reset")) {
        ctl_counters_reset(s);
        sim_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else {
        sim_reply_empty(r, 404);
    }
    json_decref(in);
}

