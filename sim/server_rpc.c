/* The Octez smart-rollup-node routes the simulator serves: block hash and
 * level, the rollup address, and the durable reads (value, length,
 * subkeys, values) of the kernel's state at a block, with the fault
 * switches (status codes, dropped or truncated answers, malformed or
 * tampered notes) applied on the way out. Bodies are those of Octez. */
#include "server_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"

/* ----------------------------------------------------------------- faults */

static bool in_list(const uint64_t *l, size_t n, uint64_t v)
{
    for (size_t k = 0; k < n; k++)
        if (l[k] == v)
            return true;
    return false;
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

/* ----------------------------------------------------------- note shapes */

/* The shape /sim/fault gave note idx (SHAPE_NONE: the usual layout). */
static enum note_shape shape_of(sim_server *s, uint64_t idx)
{
    enum note_shape k = SHAPE_NONE;
    pthread_mutex_lock(&s->f.mu);
    for (size_t j = 0; j < s->f.n_shape; j++)
        if (s->f.shape_idx[j] == idx)
            k = s->f.shape[j];
    pthread_mutex_unlock(&s->f.mu);
    return k;
}

/* Where p lies under notes/<i>: the note's own key, len, the chunk
 * folder or one chunk (*k its number); NK_COUNT elsewhere. */
static enum note_key note_key_of(const sim_path *p, uint64_t *idx, uint64_t *k)
{
    if (!sim_path_note_index(p, idx))
        return NK_COUNT;
    if (p->n == 5)
        return NK_NOTE;
    bool chunk = p->len[5] == 5 && !memcmp(p->s[5], "chunk", 5);
    if (p->n == 6 && p->len[5] == 3 && !memcmp(p->s[5], "len", 3))
        return NK_LEN;
    if (p->n == 6 && chunk)
        return NK_CHUNK_DIR;
    if (p->n == 7 && chunk && p->len[6] == 8) {
        char d[9];
        memcpy(d, p->s[6], 8);
        d[8] = '\0';
        char *end;
        *k = strtoull(d, &end, 16);
        return *end ? NK_COUNT : NK_CHUNK;
    }
    return NK_COUNT;
}

/* sim_durable_value with the note shapes applied. */
static bool shaped_value(sim_server *s, const sim_block *blk, const sim_path *p,
                         uint8_t v[SIM_MAX_VALUE], size_t *len)
{
    uint64_t idx = 0, k = 0;
    enum note_key nk = note_key_of(p, &idx, &k);
    enum note_shape sh = nk == NK_COUNT ? SHAPE_NONE : shape_of(s, idx);
    if (sh == SHAPE_SMALL) {
        if (nk != NK_NOTE)
            return false;
        /* the note's first bytes, read from its chunk 0 */
        sim_path cp = *p;
        cp.s[5] = "chunk";
        cp.len[5] = 5;
        cp.s[6] = "00000000";
        cp.len[6] = 8;
        cp.n = 7;
        if (!sim_durable_value(s->c, blk, &cp, v, len))
            return false;
        *len = *len < SIM_SMALL_NOTE ? *len : SIM_SMALL_NOTE;
        return true;
    }
    if (sh == SHAPE_NO_CHUNK0 && nk == NK_CHUNK && k == 0)
        return false;
    if (!sim_durable_value(s->c, blk, p, v, len))
        return false;
    /* the EncryptedNote's tag (u16le after ct_d) sits at bytes 1120..1121
     * of the note: 96..97 of chunk 1 */
    if (sh == SHAPE_UNDECODABLE && nk == NK_CHUNK && k == 1 && *len > 97)
        v[96] = v[97] = 0xff;
    return true;
}

/* Filters the names sim_durable_children emits through the note shapes. */
typedef struct shape_filter {
    void (*emit)(void *ctx, const char *name);
    void *ctx;
    enum note_shape sh;
    enum note_key at;
} shape_filter;

static void shaped_emit(void *ctx, const char *name)
{
    shape_filter *f = ctx;
    if (f->sh == SHAPE_SMALL && (f->at == NK_NOTE || f->at == NK_CHUNK_DIR))
        return; /* a small note has no children */
    if (f->sh == SHAPE_NO_CHUNK0 && f->at == NK_CHUNK_DIR && !strcmp(name, "00000000"))
        return;
    f->emit(f->ctx, name);
}

/* sim_durable_children with the note shapes applied. */
static void shaped_children(sim_server *s, const sim_block *blk, const sim_path *p,
                            void (*emit)(void *ctx, const char *name), void *ctx)
{
    uint64_t idx = 0, k = 0;
    shape_filter f = {.emit = emit, .ctx = ctx};
    f.at = note_key_of(p, &idx, &k);
    f.sh = f.at == NK_COUNT ? SHAPE_NONE : shape_of(s, idx);
    sim_durable_children(s->c, blk, p, shaped_emit, &f);
}

/* Durable-read faults: returns true when the request was answered by one. */
static bool durable_faults(sim_server *s, sim_req *r, const sim_path *p)
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
    if (act != ACT_NORMAL)
        r->act = act;
    if (act == ACT_DROP)
        return true;
    if (status) {
        if (status >= 500) {
            sim_reply_failure(r, "injected fault");
            r->status = status;
        } else {
            sim_reply_empty(r, status);
        }
        return true;
    }
    return false;
}

/* -------------------------------------------------------- durable reads */

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

/* The JSON array subkeys or values is writing. */
typedef struct emit_ctx {
    tz_buf *b;
    bool first;
    /* for values */
    const sim_chain *c;
    const sim_block *blk;
    const sim_path *parent;
    sim_server *s;
} emit_ctx;

static void emit_name(void *ctx, const char *name)
{
    emit_ctx *e = ctx;
    if (!e->first)
        tz_buf_append(e->b, ",", 1);
    e->first = false;
    sim_buf_jstr(e->b, name);
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
    if (!shaped_value(e->s, e->blk, &cp, v, &len))
        return;
    bool mal;
    note_faults(e->s, &cp, v, len, &mal);
    if (!e->first)
        tz_buf_append(e->b, ",", 1);
    e->first = false;
    tz_buf_puts(e->b, "{\"key\":");
    sim_buf_jstr(e->b, name);
    tz_buf_puts(e->b, ",\"value\":");
    sim_buf_hex(e->b, v, len, mal);
    tz_buf_append(e->b, "}", 1);
}

static void do_durable(sim_server *s, struct MHD_Connection *conn, sim_req *r, const char *block,
                       enum route op)
{
    atomic_fetch_add(&s->durable_reads, 1);
    if (op == R_VALUES && s->o.no_values) {
        sim_reply_empty(r, 404);
        return;
    }
    if ((op == R_VALUES || op == R_SUBKEYS) && s->o.acl_secure) {
        sim_reply_empty(r, 401);
        return;
    }
    if (!block_id_ok(block)) {
        sim_reply_text(r, 400, "Failed to parse argument 'block_id': invalid block id");
        return;
    }
    const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
    sim_path p;
    if (!key) {
        sim_reply_text(r, 400, "Missing query parameter 'key'");
        return;
    }
    if (!sim_path_parse(&p, key)) {
        char msg[512];
        snprintf(msg, sizeof msg, "Failed to parse argument 'key' (\"%.400s\"): invalid durable key",
                 key);
        sim_reply_text(r, 400, msg);
        return;
    }
    uint64_t nidx, nchunk;
    enum note_key nk = note_key_of(&p, &nidx, &nchunk);
    if (nk != NK_COUNT)
        atomic_fetch_add(&s->note_keys[nk], 1);
    if (durable_faults(s, r, &p))
        return;

    sim_chain *c = s->c;
    char msg[256];
    tz_buf b = {0};
    pthread_rwlock_rdlock(&c->lock);
    const sim_block *blk = sim_chain_resolve(c, block, msg, sizeof msg);
    if (!blk) {
        pthread_rwlock_unlock(&c->lock);
        sim_reply_failure(r, msg);
        return;
    }
    uint8_t v[SIM_MAX_VALUE];
    size_t len = 0;
    if (op == R_VALUE || op == R_LENGTH) {
        bool has = shaped_value(s, blk, &p, v, &len);
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
            sim_buf_hex(&b, v, len, mal);
        }
        sim_reply_buf(r, 200, &b);
        return;
    }
    emit_ctx e = {.b = &b, .first = true, .c = c, .blk = blk, .parent = &p, .s = s};
    tz_buf_append(&b, "[", 1);
    if (op == R_SUBKEYS) {
        if (shaped_value(s, blk, &p, v, &len))
            emit_name(&e, "");
        shaped_children(s, blk, &p, emit_name, &e);
    } else {
        shaped_children(s, blk, &p, emit_value, &e);
    }
    pthread_rwlock_unlock(&c->lock);
    tz_buf_append(&b, "]", 1);
    sim_reply_buf(r, 200, &b);
}

/* ----------------------------------------------------------------- routes */

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

void sim_rpc_handle(sim_server *s, struct MHD_Connection *conn, sim_req *r, const char *url,
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
    if (sim_hostile_rpc(s, conn, r, url, rt, rt == R_ADDRESS || rt == R_NOT_FOUND ? NULL : id))
        return;
    tz_buf b = {0};
    char msg[256];
    switch (rt) {
    case R_ADDRESS:
        sim_buf_jstr(&b, s->c->rollup_address);
        sim_reply_buf(r, 200, &b);
        return;
    case R_HASH:
    case R_LEVEL: {
        if (!block_id_ok(id)) {
            sim_reply_text(r, 400, "Failed to parse argument 'block_id': invalid block id");
            return;
        }
        pthread_rwlock_rdlock(&s->c->lock);
        const sim_block *blk = sim_chain_resolve(s->c, id, msg, sizeof msg);
        if (blk && rt == R_HASH) {
            sim_buf_jstr(&b, blk->hash);
        } else if (blk) {
            char num[32];
            snprintf(num, sizeof num, "%" PRIu64, blk->level);
            tz_buf_puts(&b, num);
        }
        pthread_rwlock_unlock(&s->c->lock);
        if (!blk) {
            sim_reply_failure(r, msg);
            return;
        }
        sim_reply_buf(r, 200, &b);
        return;
    }
    case R_LENGTH:
    case R_VALUE:
    case R_SUBKEYS:
    case R_VALUES:
        do_durable(s, conn, r, id, rt);
        return;
    default:
        sim_reply_empty(r, 404);
        return;
    }
}

