#include "server.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "addr.h"
#include "base/buf.h"
#include "base/clock.h"
#include "core/commit.h"
#include "durable.h"

/* ------------------------------------------------------ JSON body pieces */

/* JSON string literal of s (which holds only safe characters, or is
 * escaped for quotes and backslashes). */
static void buf_jstr(tz_buf *b, const char *s)
{
    tz_buf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            tz_buf_append(b, e, 2);
        } else if (ch < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", ch);
            tz_buf_puts(b, e);
        } else {
            tz_buf_append(b, &ch, 1);
        }
    }
    tz_buf_append(b, "\"", 1);
}

/* The hex of v[n] as a JSON string; `malformed` spoils its first two
 * digits to "zz". */
static void buf_hex(tz_buf *b, const uint8_t *v, size_t n, bool malformed)
{
    char hx[2 * 64 + 1];
    tz_buf_append(b, "\"", 1);
    for (size_t off = 0; off < n; off += 64) {
        size_t k = n - off < 64 ? n - off : 64;
        tz_hex_encode(hx, v + off, k);
        if (malformed && off == 0)
            hx[0] = hx[1] = 'z';
        tz_buf_append(b, hx, 2 * k);
    }
    tz_buf_append(b, "\"", 1);
}

/* -------------------------------------------------------------- counters */

enum route {
    R_HASH,
    R_LEVEL,
    R_ADDRESS,
    R_LENGTH,
    R_VALUE,
    R_SUBKEYS,
    R_VALUES,
    R_SIM,
    R_NOT_FOUND,
    R_COUNT
};

static const char *const ROUTE_NAMES[R_COUNT] = {
    "hash", "level", "smart_rollup_address", "length", "value", "subkeys", "values", "sim",
    "not_found"};

/* ---------------------------------------------------------------- faults */

#define MAX_FAULT_NOTES 64

typedef struct faults {
    pthread_mutex_t mu;
    uint64_t ns_idx[MAX_FAULT_NOTES];
    unsigned ns_status[MAX_FAULT_NOTES];
    size_t n_ns;
    unsigned next_status;
    uint64_t next_status_n;
    uint64_t drop_n, trunc_n;
    uint64_t malformed[MAX_FAULT_NOTES];
    size_t n_mal;
    uint64_t tamper[MAX_FAULT_NOTES];
    size_t n_tamper;
} faults;

static bool in_list(const uint64_t *l, size_t n, uint64_t v)
{
    for (size_t k = 0; k < n; k++)
        if (l[k] == v)
            return true;
    return false;
}

/* ------------------------------------------------------------------ server */

typedef struct pending {
    int64_t deadline; /* tz_mono_ms */
    struct MHD_Connection *conn;
} pending;

struct sim_server {
    sim_chain *c;
    sim_server_opts o;
    struct MHD_Daemon *d;
    atomic_uint latency_ms;

    atomic_uint_fast64_t req_count[R_COUNT];
    atomic_uint_fast64_t durable_reads, accepted, active, peak;

    faults f;

    /* latency timer */
    pthread_t timer;
    bool timer_started;
    pthread_mutex_t tmu;
    pthread_cond_t tcv;
    pending *heap;
    size_t nheap, heapcap;
    bool stopping;
};

enum action { ACT_NORMAL, ACT_DROP, ACT_TRUNCATE };

#define MAX_BODY (16u << 20)

typedef struct req {
    tz_buf body;       /* the request body, at most MAX_BODY bytes */
    bool prepared;
    unsigned status;
    char *resp;
    size_t resp_len;
    const char *ctype;
    enum action act;
} req;

static void heap_push(sim_server *s, pending p)
{
    if (s->nheap == s->heapcap) {
        size_t nc = s->heapcap ? s->heapcap * 2 : 256;
        pending *nh = realloc(s->heap, nc * sizeof *nh);
        if (!nh) {
            /* Cannot delay: resume right away. */
            MHD_resume_connection(p.conn);
            return;
        }
        s->heap = nh;
        s->heapcap = nc;
    }
    size_t i = s->nheap++;
    s->heap[i] = p;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (s->heap[up].deadline <= s->heap[i].deadline)
            break;
        pending t = s->heap[up];
        s->heap[up] = s->heap[i];
        s->heap[i] = t;
        i = up;
    }
}

static pending heap_pop(sim_server *s)
{
    pending top = s->heap[0];
    s->heap[0] = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && s->heap[l].deadline < s->heap[m].deadline)
            m = l;
        if (r < s->nheap && s->heap[r].deadline < s->heap[m].deadline)
            m = r;
        if (m == i)
            break;
        pending t = s->heap[m];
        s->heap[m] = s->heap[i];
        s->heap[i] = t;
        i = m;
    }
    return top;
}

static void *timer_main(void *arg)
{
    sim_server *s = arg;
    pthread_mutex_lock(&s->tmu);
    for (;;) {
        if (s->stopping) {
            while (s->nheap)
                MHD_resume_connection(heap_pop(s).conn);
            break;
        }
        int64_t now = tz_mono_ms();
        while (s->nheap && s->heap[0].deadline <= now)
            MHD_resume_connection(heap_pop(s).conn);
        if (s->nheap) {
            /* tz_mono_ms reads CLOCK_MONOTONIC, the clock of tcv. */
            int64_t dl = s->heap[0].deadline;
            struct timespec ts = {.tv_sec = (time_t)(dl / 1000),
                                  .tv_nsec = (long)(dl % 1000) * 1000000};
            pthread_cond_timedwait(&s->tcv, &s->tmu, &ts);
        } else {
            pthread_cond_wait(&s->tcv, &s->tmu);
        }
    }
    pthread_mutex_unlock(&s->tmu);
    return NULL;
}

/* ---------------------------------------------------------------- replies */

static void reply(req *r, unsigned status, const char *ctype, char *body, size_t len)
{
    free(r->resp);
    r->status = status;
    r->ctype = ctype;
    r->resp = body;
    r->resp_len = len;
}

/* Answers b's JSON (plus "\n"), taking its bytes; 500 when building it
 * failed. */
static void reply_buf(req *r, unsigned status, tz_buf *b)
{
    tz_buf_append(b, "\n", 1);
    if (b->failed) {
        tz_buf_free(b);
        reply(r, 500, NULL, NULL, 0);
        return;
    }
    size_t len;
    char *body = tz_buf_steal(b, &len);
    reply(r, status, "application/json", body, len);
}

static void reply_empty(req *r, unsigned status)
{
    reply(r, status, NULL, NULL, 0);
}

static void reply_text(req *r, unsigned status, const char *msg)
{
    char *p = strdup(msg);
    reply(r, status, "text/plain", p, p ? strlen(p) : 0);
}

/* 500 with an Octez-style error list. */
static void reply_failure(req *r, const char *msg)
{
    tz_buf b = {0};
    tz_buf_puts(&b, "[{\"kind\":\"temporary\",\"id\":\"failure\",\"msg\":");
    buf_jstr(&b, msg);
    tz_buf_puts(&b, "}]");
    reply_buf(r, 500, &b);
}

static void reply_json(req *r, unsigned status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) {
        reply_empty(r, 500);
        return;
    }
    tz_buf b = {0};
    tz_buf_puts(&b, s);
    free(s);
    reply_buf(r, status, &b);
}

static void reply_error(req *r, unsigned status, const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(msg));
    reply_json(r, status, o);
}

/* ------------------------------------------------------------ RPC routes */

/* Block id syntax accepted by the node: head, finalized, cemented, a level,
 * or a B... hash. */
static bool block_id_ok(const char *id)
{
    if (!strcmp(id, "head") || !strcmp(id, "finalized") || !strcmp(id, "cemented"))
        return true;
    size_t n = strlen(id);
    if (n == 0)
        return false;
    bool digits = true;
    for (size_t k = 0; k < n; k++)
        if (id[k] < '0' || id[k] > '9')
            digits = false;
    if (digits)
        return n <= 10;
    if (id[0] != 'B' || n != SIM_HASH_CHARS)
        return false;
    for (size_t k = 0; k < n; k++)
        if (!strchr("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", id[k]))
            return false;
    return true;
}

typedef struct emit_ctx {
    tz_buf *b;
    bool first;
    /* for values */
    const sim_chain *c;
    const sim_block *blk;
    const sim_path *parent;
    faults *f;
    sim_server *s;
} emit_ctx;

static void emit_name(void *ctx, const char *name)
{
    emit_ctx *e = ctx;
    if (!e->first)
        tz_buf_append(e->b, ",", 1);
    e->first = false;
    buf_jstr(e->b, name);
}

/* Applies the tamper / malformed switches to a value read at path p. */
static void note_faults(sim_server *s, const sim_path *p, uint8_t *v, size_t len,
                        bool *malformed)
{
    uint64_t idx;
    *malformed = false;
    if (!sim_path_note_index(p, &idx))
        return;
    pthread_mutex_lock(&s->f.mu);
    bool tam = in_list(s->f.tamper, s->f.n_tamper, idx);
    *malformed = in_list(s->f.malformed, s->f.n_mal, idx);
    pthread_mutex_unlock(&s->f.mu);
    /* The cm is the first 32 bytes of chunk 0. */
    if (tam && p->n == 7 && p->len[6] == 8 && memcmp(p->s[6], "00000000", 8) == 0 && len > 0)
        v[0] ^= 0x01;
}

static void emit_value(void *ctx, const char *name)
{
    emit_ctx *e = ctx;
    sim_path cp = *e->parent;
    if (cp.n >= SIM_PATH_MAX_SEGS)
        return;
    cp.s[cp.n] = name;
    cp.len[cp.n] = strlen(name);
    cp.n++;
    uint8_t v[SIM_MAX_VALUE];
    size_t len = 0;
    if (!sim_durable_value(e->c, e->blk, &cp, v, &len))
        return;
    bool mal;
    note_faults(e->s, &cp, v, len, &mal);
    if (!e->first)
        tz_buf_append(e->b, ",", 1);
    e->first = false;
    tz_buf_puts(e->b, "{\"key\":");
    buf_jstr(e->b, name);
    tz_buf_puts(e->b, ",\"value\":");
    buf_hex(e->b, v, len, mal);
    tz_buf_append(e->b, "}", 1);
}

/* Durable-read faults: returns true when the request was answered by one. */
static bool durable_faults(sim_server *s, req *r, const sim_path *p)
{
    uint64_t idx;
    bool has_note = sim_path_note_index(p, &idx);
    unsigned status = 0;
    enum action act = ACT_NORMAL;
    pthread_mutex_lock(&s->f.mu);
    if (s->f.drop_n) {
        s->f.drop_n--;
        act = ACT_DROP;
    } else if (s->f.trunc_n) {
        s->f.trunc_n--;
        act = ACT_TRUNCATE;
    } else if (s->f.next_status_n) {
        s->f.next_status_n--;
        status = s->f.next_status;
    } else if (has_note) {
        for (size_t k = 0; k < s->f.n_ns; k++)
            if (s->f.ns_idx[k] == idx)
                status = s->f.ns_status[k];
    }
    pthread_mutex_unlock(&s->f.mu);
    r->act = act;
    if (act == ACT_DROP)
        return true;
    if (status) {
        if (status >= 500) {
            reply_failure(r, "injected fault");
            r->status = status;
        } else {
            reply_empty(r, status);
        }
        return true;
    }
    return false;
}

static void do_durable(sim_server *s, struct MHD_Connection *conn, req *r, const char *block,
                       enum route op)
{
    atomic_fetch_add(&s->durable_reads, 1);
    if (op == R_VALUES && s->o.no_values) {
        reply_empty(r, 404);
        return;
    }
    if ((op == R_VALUES || op == R_SUBKEYS) && s->o.acl_secure) {
        reply_empty(r, 401);
        return;
    }
    if (!block_id_ok(block)) {
        reply_text(r, 400, "Failed to parse argument 'block_id': invalid block id");
        return;
    }
    const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
    sim_path p;
    if (!key) {
        reply_text(r, 400, "Missing query parameter 'key'");
        return;
    }
    if (!sim_path_parse(&p, key)) {
        char msg[512];
        snprintf(msg, sizeof msg, "Failed to parse argument 'key' (\"%.400s\"): invalid durable key",
                 key);
        reply_text(r, 400, msg);
        return;
    }
    if (durable_faults(s, r, &p))
        return;

    sim_chain *c = s->c;
    char msg[256];
    tz_buf b = {0};
    pthread_rwlock_rdlock(&c->lock);
    const sim_block *blk = sim_chain_resolve(c, block, msg, sizeof msg);
    if (!blk) {
        pthread_rwlock_unlock(&c->lock);
        reply_failure(r, msg);
        return;
    }
    uint8_t v[SIM_MAX_VALUE];
    size_t len = 0;
    if (op == R_VALUE || op == R_LENGTH) {
        bool has = sim_durable_value(c, blk, &p, v, &len);
        pthread_rwlock_unlock(&c->lock);
        if (!has) {
            tz_buf_puts(&b, "null");
        } else if (op == R_LENGTH) {
            char num[32];
            snprintf(num, sizeof num, "\"%zu\"", len);
            tz_buf_puts(&b, num);
        } else {
            bool mal;
            note_faults(s, &p, v, len, &mal);
            buf_hex(&b, v, len, mal);
        }
        reply_buf(r, 200, &b);
        return;
    }
    emit_ctx e = {.b = &b, .first = true, .c = c, .blk = blk, .parent = &p, .s = s};
    tz_buf_append(&b, "[", 1);
    if (op == R_SUBKEYS) {
        if (sim_durable_value(c, blk, &p, v, &len))
            emit_name(&e, "");
        sim_durable_children(c, blk, &p, emit_name, &e);
    } else {
        sim_durable_children(c, blk, &p, emit_value, &e);
    }
    pthread_rwlock_unlock(&c->lock);
    tz_buf_append(&b, "]", 1);
    reply_buf(r, 200, &b);
}

/* Splits "/global/block/<id>/<rest>". Returns the route, or R_NOT_FOUND. */
static enum route match_block_route(const char *url, char *id, size_t cap)
{
    static const char pre[] = "/global/block/";
    if (strncmp(url, pre, sizeof pre - 1) != 0)
        return R_NOT_FOUND;
    const char *s = url + sizeof pre - 1;
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || (size_t)(slash - s) >= cap)
        return R_NOT_FOUND;
    memcpy(id, s, (size_t)(slash - s));
    id[slash - s] = '\0';
    const char *rest = slash + 1;
    if (!strcmp(rest, "hash"))
        return R_HASH;
    if (!strcmp(rest, "level"))
        return R_LEVEL;
    static const char dur[] = "durable/wasm_2_0_0/";
    if (strncmp(rest, dur, sizeof dur - 1) != 0)
        return R_NOT_FOUND;
    rest += sizeof dur - 1;
    if (!strcmp(rest, "length"))
        return R_LENGTH;
    if (!strcmp(rest, "value"))
        return R_VALUE;
    if (!strcmp(rest, "subkeys"))
        return R_SUBKEYS;
    if (!strcmp(rest, "values"))
        return R_VALUES;
    return R_NOT_FOUND;
}

static void do_rpc(sim_server *s, struct MHD_Connection *conn, req *r, const char *url,
                   const char *method)
{
    char id[128];
    enum route rt = R_NOT_FOUND;
    if (!strcmp(url, "/global/smart_rollup_address"))
        rt = R_ADDRESS;
    else
        rt = match_block_route(url, id, sizeof id);
    if (strcmp(method, "GET") != 0)
        rt = R_NOT_FOUND;
    atomic_fetch_add(&s->req_count[rt], 1);
    tz_buf b = {0};
    char msg[256];
    switch (rt) {
    case R_ADDRESS:
        buf_jstr(&b, s->c->rollup_address);
        reply_buf(r, 200, &b);
        return;
    case R_HASH:
    case R_LEVEL: {
        if (!block_id_ok(id)) {
            reply_text(r, 400, "Failed to parse argument 'block_id': invalid block id");
            return;
        }
        pthread_rwlock_rdlock(&s->c->lock);
        const sim_block *blk = sim_chain_resolve(s->c, id, msg, sizeof msg);
        if (blk && rt == R_HASH) {
            buf_jstr(&b, blk->hash);
        } else if (blk) {
            char num[32];
            snprintf(num, sizeof num, "%" PRIu64, blk->level);
            tz_buf_puts(&b, num);
        }
        pthread_rwlock_unlock(&s->c->lock);
        if (!blk) {
            reply_failure(r, msg);
            return;
        }
        reply_buf(r, 200, &b);
        return;
    }
    case R_LENGTH:
    case R_VALUE:
    case R_SUBKEYS:
    case R_VALUES:
        do_durable(s, conn, r, id, rt);
        return;
    default:
        reply_empty(r, 404);
        return;
    }
}

/* ------------------------------------------------------------ control API */

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

static void sim_append(sim_server *s, req *r, json_t *in)
{
    uint64_t count = 1, value = SIM_DEFAULT_PAID_VALUE;
    if (json_object_get(in, "count") && !get_u64(in, "count", &count)) {
        reply_error(r, 400, "count must be a non-negative integer");
        return;
    }
    if (json_object_get(in, "value") && !get_u64(in, "value", &value)) {
        reply_error(r, 400, "value must be a non-negative integer");
        return;
    }
    tz_payment_address *to = NULL;
    tz_error err = {0};
    const json_t *tj = json_object_get(in, "to");
    if (tj) {
        to = malloc(sizeof *to);
        if (!to || sim_addr_from_json(to, tj, &err) != TZ_OK) {
            free(to);
            reply_error(r, 400, to ? err.msg : "out of memory");
            return;
        }
    }
    uint64_t first = 0;
    if (sim_chain_append(s->c, count, to, value, &first, &err) != TZ_OK) {
        free(to);
        reply_error(r, 400, err.msg);
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
    reply_json(r, 200, o);
}

static void sim_nullifiers(sim_server *s, req *r, json_t *in)
{
    const json_t *list = json_object_get(in, "nullifiers");
    const json_t *notes = json_object_get(in, "notes");
    size_t n = json_array_size(list) + json_array_size(notes);
    tz_felt *nfs = malloc((n ? n : 1) * sizeof *nfs);
    if (!nfs) {
        reply_error(r, 500, "out of memory");
        return;
    }
    size_t k = 0;
    const json_t *v;
    size_t i;
    json_array_foreach(list, i, v) {
        const char *h = json_string_value(v);
        if (!h || tz_felt_from_hex(&nfs[k], h) != TZ_OK) {
            free(nfs);
            reply_error(r, 400, "nullifiers: each entry must be 64 hex digits");
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
            reply_error(r, 400, "notes: each entry needs index and nk_spend (64 hex)");
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
            reply_error(r, 400, "notes: index beyond the tree size");
            return;
        }
        tz_note_nullifier(&nfs[k], &nk, &cm, idx);
        k++;
    }
    tz_error err = {0};
    if (sim_chain_add_nullifiers(s->c, nfs, k, &err) != TZ_OK) {
        free(nfs);
        reply_error(r, 500, err.msg);
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
    reply_json(r, 200, o);
}

static void sim_deposit(sim_server *s, req *r, json_t *in)
{
    const char *h = json_string_value(json_object_get(in, "pubkey_hash"));
    tz_felt pkh;
    if (!h || tz_felt_from_hex(&pkh, h) != TZ_OK) {
        reply_error(r, 400, "pubkey_hash must be 64 hex digits");
        return;
    }
    uint64_t amount = 0;
    bool drain = json_is_true(json_object_get(in, "drain"));
    if (!drain && !get_u64(in, "amount", &amount)) {
        reply_error(r, 400, "amount must be a non-negative integer (or drain: true)");
        return;
    }
    tz_error err = {0};
    if (sim_chain_deposit(s->c, &pkh, amount, drain, &err) != TZ_OK) {
        reply_error(r, 400, err.msg);
        return;
    }
    json_t *o = json_object();
    pthread_rwlock_rdlock(&s->c->lock);
    const sim_balance *e = sim_chain_balance(sim_chain_head(s->c), &pkh);
    json_object_set_new(o, "balance",
                        e && !e->empty ? json_integer((json_int_t)e->amount) : json_null());
    pthread_rwlock_unlock(&s->c->lock);
    add_head_fields(s, o);
    reply_json(r, 200, o);
}

static void sim_fault(sim_server *s, req *r, json_t *in)
{
    uint64_t idx = 0, next = 0, status = 0, tam = 0;
    bool has_idx = get_u64(in, "note_index", &idx);
    bool has_next = get_u64(in, "next", &next);
    bool has_status = get_u64(in, "status", &status);
    faults *f = &s->f;
    const char *bad = NULL;
    pthread_mutex_lock(&f->mu);
    if (get_u64(in, "tamper_note", &tam)) {
        if (f->n_tamper < MAX_FAULT_NOTES)
            f->tamper[f->n_tamper++] = tam;
        else
            bad = "too many tampered notes";
    } else if (json_is_true(json_object_get(in, "malformed"))) {
        if (!has_idx)
            bad = "malformed needs note_index";
        else if (f->n_mal < MAX_FAULT_NOTES)
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
            if (f->n_ns < MAX_FAULT_NOTES) {
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
        bad = "unknown fault (status, drop, truncate, malformed, tamper_note)";
    }
    pthread_mutex_unlock(&f->mu);
    if (bad) {
        reply_error(r, 400, bad);
        return;
    }
    reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void sim_fault_clear(sim_server *s)
{
    faults *f = &s->f;
    pthread_mutex_lock(&f->mu);
    f->n_ns = f->n_mal = f->n_tamper = 0;
    f->next_status = 0;
    f->next_status_n = f->drop_n = f->trunc_n = 0;
    pthread_mutex_unlock(&f->mu);
}

static void sim_counters(sim_server *s, req *r)
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
    reply_json(r, 200, o);
}

static void sim_counters_reset(sim_server *s)
{
    for (int k = 0; k < R_COUNT; k++)
        atomic_store(&s->req_count[k], 0);
    atomic_store(&s->durable_reads, 0);
    atomic_store(&s->accepted, 0);
    atomic_store(&s->peak, atomic_load(&s->active));
}

static void sim_paid(sim_server *s, req *r)
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
    reply_json(r, 200, json_pack("{s:o}", "paid", arr));
}

static bool is_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

static void do_sim(sim_server *s, struct MHD_Connection *conn, req *r, const char *url,
                   const char *method)
{
    atomic_fetch_add(&s->req_count[R_SIM], 1);
    if (!is_loopback(conn)) {
        reply_empty(r, 403);
        return;
    }
    const char *op = url + 5;
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (get && !strcmp(op, "counters")) {
        sim_counters(s, r);
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
        reply_json(r, 200, o);
        return;
    }
    if (get && !strcmp(op, "paid")) {
        sim_paid(s, r);
        return;
    }
    if (!post) {
        reply_empty(r, 404);
        return;
    }
    json_t *in = NULL;
    if (r->body.failed) {
        reply_error(r, 413, "body too large");
        return;
    }
    if (r->body.len > 0) {
        json_error_t je;
        in = json_loadb(r->body.data, r->body.len, 0, &je);
        if (!json_is_object(in)) {
            json_decref(in);
            reply_error(r, 400, "body must be a JSON object");
            return;
        }
    } else {
        in = json_object();
    }
    tz_error err = {0};
    if (!strcmp(op, "append")) {
        sim_append(s, r, in);
    } else if (!strcmp(op, "nullifiers")) {
        sim_nullifiers(s, r, in);
    } else if (!strcmp(op, "deposit")) {
        sim_deposit(s, r, in);
    } else if (!strcmp(op, "advance")) {
        uint64_t count = 1;
        if (json_object_get(in, "count") && !get_u64(in, "count", &count))
            count = 1;
        for (uint64_t k = 0; k < count && k < 10000; k++)
            if (sim_chain_advance(s->c, &err) != TZ_OK)
                break;
        json_t *o = json_object();
        add_head_fields(s, o);
        reply_json(r, 200, o);
    } else if (!strcmp(op, "latency")) {
        uint64_t ms;
        if (!get_u64(in, "ms", &ms) || ms > 600000) {
            reply_error(r, 400, "ms must be an integer 0..600000");
        } else {
            atomic_store(&s->latency_ms, (unsigned)ms);
            reply_json(r, 200, json_pack("{s:I}", "latency_ms", (json_int_t)ms));
        }
    } else if (!strcmp(op, "fault")) {
        sim_fault(s, r, in);
    } else if (!strcmp(op, "fault/clear")) {
        sim_fault_clear(s);
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else if (!strcmp(op, "counters/reset")) {
        sim_counters_reset(s);
        reply_json(r, 200, json_pack("{s:b}", "ok", 1));
    } else {
        reply_empty(r, 404);
    }
    json_decref(in);
}

/* ---------------------------------------------------------------- MHD glue */

typedef struct trunc_ctx {
    char *body;
    size_t len;
} trunc_ctx;

static ssize_t trunc_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    trunc_ctx *t = cls;
    size_t half = t->len / 2;
    if (pos >= half)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = half - (size_t)pos < max ? half - (size_t)pos : max;
    memcpy(buf, t->body + pos, n);
    return (ssize_t)n;
}

static void trunc_free(void *cls)
{
    trunc_ctx *t = cls;
    free(t->body);
    free(t);
}

static enum MHD_Result deliver(struct MHD_Connection *conn, req *r)
{
    if (r->act == ACT_DROP)
        return MHD_NO;
    struct MHD_Response *resp;
    if (r->act == ACT_TRUNCATE) {
        trunc_ctx *t = malloc(sizeof *t);
        if (!t)
            return MHD_NO;
        t->body = r->resp;
        t->len = r->resp_len;
        r->resp = NULL;
        resp = MHD_create_response_from_callback(t->len, 4096, trunc_reader, t, trunc_free);
        if (!resp) {
            trunc_free(t);
            return MHD_NO;
        }
    } else if (r->resp) {
        resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
        if (resp)
            r->resp = NULL;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    enum MHD_Result ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    sim_server *s = cls;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->body.max = MAX_BODY;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        /* Past MAX_BODY (or out of memory) the body is marked failed and
         * the rest discarded: the control API answers 413. */
        tz_buf_append(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->prepared) {
        r->prepared = true;
        bool is_sim = strncmp(url, "/sim/", 5) == 0;
        if (is_sim)
            do_sim(s, conn, r, url, method);
        else
            do_rpc(s, conn, r, url, method);
        unsigned lat = is_sim ? 0 : atomic_load(&s->latency_ms);
        if (lat) {
            pthread_mutex_lock(&s->tmu);
            if (!s->stopping) {
                MHD_suspend_connection(conn);
                heap_push(s, (pending){.deadline = tz_mono_ms() + lat, .conn = conn});
                pthread_cond_signal(&s->tcv);
                pthread_mutex_unlock(&s->tmu);
                return MHD_YES;
            }
            pthread_mutex_unlock(&s->tmu);
        }
    }
    return deliver(conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req *r = *con_cls;
    if (!r)
        return;
    tz_buf_free(&r->body);
    free(r->resp);
    free(r);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    sim_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&s->accepted, 1);
        uint_fast64_t a = atomic_fetch_add(&s->active, 1) + 1;
        uint_fast64_t p = atomic_load(&s->peak);
        while (a > p && !atomic_compare_exchange_weak(&s->peak, &p, a)) {
        }
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&s->active, 1);
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
    /* MHD reports routine events (client resets, limits) here: keep quiet. */
}

tz_status sim_server_start(sim_server **out, sim_chain *c, const sim_server_opts *o,
                           unsigned *port, tz_error *err)
{
    *out = NULL;
    sim_server *s = calloc(1, sizeof *s);
    if (!s)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    s->c = c;
    s->o = *o;
    if (s->o.http_threads == 0)
        s->o.http_threads = 2;
    if (s->o.max_connections == 0)
        s->o.max_connections = 100;
    /* MHD splits the limit across the pool: each worker needs one slot. */
    if (s->o.http_threads > s->o.max_connections)
        s->o.http_threads = s->o.max_connections;
    atomic_store(&s->latency_ms, o->latency_ms);
    pthread_mutex_init(&s->f.mu, NULL);
    pthread_mutex_init(&s->tmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->tcv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->timer, NULL, timer_main, s) != 0) {
        sim_server_stop(s);
        return tz_error_set(err, TZ_ENOMEM, "cannot start the timer thread");
    }
    s->timer_started = true;

    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o.http_threads,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
    if (!s->d) {
        sim_server_stop(s);
        return tz_error_set(err, TZ_EIO, "cannot listen on 127.0.0.1:%u", o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = di ? di->port : o->port;
    *out = s;
    return TZ_OK;
}

void sim_server_stop(sim_server *s)
{
    if (!s)
        return;
    if (s->timer_started) {
        pthread_mutex_lock(&s->tmu);
        s->stopping = true;
        pthread_cond_signal(&s->tcv);
        pthread_mutex_unlock(&s->tmu);
        pthread_join(s->timer, NULL);
    }
    if (s->d)
        MHD_stop_daemon(s->d);
    free(s->heap);
    pthread_mutex_destroy(&s->f.mu);
    pthread_mutex_destroy(&s->tmu);
    pthread_cond_destroy(&s->tcv);
    free(s);
}
