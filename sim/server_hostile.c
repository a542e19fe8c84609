/* The hostile node modes of the simulator (POST /sim/hostile): a node that
 * accepts and never answers, drips its answers one byte per second, resets
 * the connection mid-body, answers malformed JSON, a redirect or a 10 MB
 * body, serves a value of the wrong length, loses a note below the tree
 * size, reports a smaller tree, forgets every block but the head, or moves
 * its head at every request. Set through the control API, applied to the
 * Octez routes (server_rpc.c calls sim_hostile_rpc before answering,
 * server.c sim_hostile_delivery when delivering), cleared with the other
 * faults by POST /sim/fault/clear. */
#include "server_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "durable.h"

#define HUGE_BODY (10u << 20) /* 10 MiB of hex digits where a value is expected */
#define DRIP_MS 1000          /* one byte per second */
#define TREE_SIZE_KEY "/tzel/v1/state/tree/size"

void sim_hostile_init(sim_hostile *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
}

void sim_hostile_destroy(sim_hostile *h) { pthread_mutex_destroy(&h->mu); }

void sim_hostile_clear(sim_server *s)
{
    sim_hostile *h = &s->h;
    pthread_mutex_lock(&h->mu);
    h->hang = h->drip = h->forget_blocks = h->head_moves = false;
    h->reset_n = h->malformed_n = h->redirect_n = h->huge_n = 0;
    h->wrong_key[0] = '\0';
    h->has_missing = h->has_tree_size = false;
    pthread_mutex_unlock(&h->mu);
    sim_release_parked(s); /* hung requests: their connections are closed */
}

static bool get_u64(json_t *in, const char *k, uint64_t *out)
{
    json_t *v = json_object_get(in, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

void sim_hostile_control(sim_server *s, sim_req *r, json_t *in)
{
    sim_hostile *h = &s->h;
    uint64_t next = 1, v = 0;
    if (json_object_get(in, "next") && !get_u64(in, "next", &next)) {
        sim_reply_error(r, 400, "next must be a non-negative integer");
        return;
    }
    const char *bad = NULL;
    json_t *wk = json_object_get(in, "wrong_length");
    pthread_mutex_lock(&h->mu);
    if (json_is_true(json_object_get(in, "hang")))
        h->hang = true;
    else if (json_is_true(json_object_get(in, "drip")))
        h->drip = true;
    else if (json_is_true(json_object_get(in, "reset")))
        h->reset_n = next;
    else if (json_is_true(json_object_get(in, "malformed_json")))
        h->malformed_n = next;
    else if (json_is_true(json_object_get(in, "redirect")))
        h->redirect_n = next;
    else if (json_is_true(json_object_get(in, "huge")))
        h->huge_n = next;
    else if (json_is_true(json_object_get(in, "forget_blocks")))
        h->forget_blocks = true;
    else if (json_is_true(json_object_get(in, "head_moves")))
        h->head_moves = true;
    else if (get_u64(in, "missing_note", &v)) {
        h->has_missing = true;
        h->missing_note = v;
    } else if (get_u64(in, "tree_size", &v)) {
        h->has_tree_size = true;
        h->tree_size = v;
    } else if (json_is_string(wk) && json_string_length(wk) < sizeof h->wrong_key &&
               json_string_value(wk)[0] == '/') {
        json_t *d = json_object_get(in, "delta");
        h->wrong_delta = json_is_integer(d) && json_integer_value(d) < 0 ? -1 : 1;
        snprintf(h->wrong_key, sizeof h->wrong_key, "%s", json_string_value(wk));
    } else {
        bad = "unknown hostile mode (hang, drip, reset, malformed_json, redirect, huge, "
              "forget_blocks, head_moves, missing_note, tree_size, wrong_length)";
    }
    pthread_mutex_unlock(&h->mu);
    if (bad)
        sim_reply_error(r, 400, bad);
    else
        sim_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

/* Takes one of a count-down mode; true when it applies to this read. */
static bool take(uint64_t *n)
{
    if (!*n)
        return false;
    (*n)--;
    return true;
}

static bool is_durable(enum route rt)
{
    return rt == R_LENGTH || rt == R_VALUE || rt == R_SUBKEYS || rt == R_VALUES;
}

/* Answers `text` as is (status 200, application/json). */
static void reply_raw(sim_req *r, const char *text, size_t len)
{
    tz_buf b = {0};
    tz_buf_append(&b, text, len);
    r->status = 200;
    free(r->resp);
    r->resp = tz_buf_steal(&b, &r->resp_len);
    r->ctype = "application/json";
    r->prepared = true;
}

/* The value of `key` at `block` with one byte more (a zero) or fewer. */
static void reply_wrong_length(sim_server *s, sim_req *r, const char *block, const sim_path *p,
                               int delta)
{
    char msg[256];
    uint8_t v[SIM_MAX_VALUE + 1];
    size_t len = 0;
    pthread_rwlock_rdlock(&s->c->lock);
    const sim_block *blk = sim_chain_resolve(s->c, block, msg, sizeof msg);
    bool has = blk && sim_durable_value(s->c, blk, p, v, &len);
    pthread_rwlock_unlock(&s->c->lock);
    if (!blk) {
        sim_reply_failure(r, msg);
        return;
    }
    tz_buf b = {0};
    if (!has) {
        tz_buf_puts(&b, "null");
    } else {
        if (delta > 0)
            v[len++] = 0;
        else if (len > 0)
            len--;
        sim_buf_hex(&b, v, len, false);
    }
    sim_reply_buf(r, 200, &b);
}

/* True when `block` names something else than the current head. */
static bool not_head(sim_server *s, const char *block)
{
    if (!strcmp(block, "head"))
        return false;
    char msg[256];
    pthread_rwlock_rdlock(&s->c->lock);
    const sim_block *head = sim_chain_resolve(s->c, "head", msg, sizeof msg);
    bool other = !head || strcmp(head->hash, block) != 0;
    pthread_rwlock_unlock(&s->c->lock);
    return other;
}

bool sim_hostile_rpc(sim_server *s, struct MHD_Connection *conn, sim_req *r, const char *url,
                     enum route rt, const char *block)
{
    sim_hostile *h = &s->h;
    pthread_mutex_lock(&h->mu);
    if (h->hang) {
        pthread_mutex_unlock(&h->mu);
        r->act = ACT_HANG;
        return true;
    }
    if (h->drip)
        r->act = ACT_DRIP; /* the route answers; delivery drips it */
    bool head_moves = h->head_moves && rt == R_HASH && block && !strcmp(block, "head");
    if (!is_durable(rt) || !block) {
        pthread_mutex_unlock(&h->mu);
        tz_error err;
        if (head_moves && sim_chain_advance(s->c, &err) != TZ_OK) {
            sim_reply_failure(r, err.msg);
            return true;
        }
        return false;
    }
    enum { NONE, FORGET, RESET, MALFORMED, REDIRECT, HUGE_ } what = NONE;
    if (h->forget_blocks)
        what = FORGET;
    else if (take(&h->reset_n))
        what = RESET;
    else if (take(&h->malformed_n))
        what = MALFORMED;
    else if (take(&h->redirect_n))
        what = REDIRECT;
    else if (take(&h->huge_n))
        what = HUGE_;
    bool has_missing = h->has_missing, has_size = h->has_tree_size;
    uint64_t missing = h->missing_note, size = h->tree_size;
    char wrong[sizeof h->wrong_key];
    memcpy(wrong, h->wrong_key, sizeof wrong);
    int delta = h->wrong_delta;
    pthread_mutex_unlock(&h->mu);

    if (what == FORGET && not_head(s, block)) {
        char msg[200];
        snprintf(msg, sizeof msg, "Unknown block %.80s (pruned by the node)", block);
        sim_reply_failure(r, msg);
        return true;
    }
    if (what == RESET) {
        r->act = ACT_RESET; /* the route answers; delivery cuts it */
        return false;
    }
    if (what == MALFORMED) {
        reply_raw(r, "{\"tzel", 6);
        return true;
    }
    if (what == REDIRECT) {
        /* Somewhere else, as a misconfigured proxy would answer. */
        char loc[512];
        int n = snprintf(loc, sizeof loc, "http://127.0.0.1:1%.480s", url);
        reply_raw(r, loc, (size_t)n);
        r->status = 302;
        r->act = ACT_REDIRECT;
        return true;
    }
    if (what == HUGE_) {
        char *big = malloc(HUGE_BODY + 3);
        if (!big)
            return false;
        big[0] = '"';
        memset(big + 1, '0', HUGE_BODY);
        big[HUGE_BODY + 1] = '"';
        big[HUGE_BODY + 2] = '\n';
        free(r->resp);
        r->resp = big;
        r->resp_len = HUGE_BODY + 3;
        r->status = 200;
        r->ctype = "application/json";
        r->prepared = true;
        return true;
    }
    const char *key = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
    sim_path p;
    if (!key || !sim_path_parse(&p, key))
        return false;
    uint64_t idx;
    if (has_missing && sim_path_note_index(&p, &idx) && idx == missing) {
        if (rt == R_SUBKEYS || rt == R_VALUES)
            reply_raw(r, "[]\n", 3);
        else
            reply_raw(r, "null\n", 5);
        return true;
    }
    if (has_size && !strcmp(key, TREE_SIZE_KEY) && (rt == R_VALUE || rt == R_LENGTH)) {
        uint8_t le[8];
        for (int k = 0; k < 8; k++)
            le[k] = (uint8_t)(size >> (8 * k));
        tz_buf b = {0};
        if (rt == R_LENGTH)
            tz_buf_puts(&b, "\"8\"");
        else
            sim_buf_hex(&b, le, sizeof le, false);
        sim_reply_buf(r, 200, &b);
        return true;
    }
    if (wrong[0] && rt == R_VALUE && !strcmp(key, wrong)) {
        reply_wrong_length(s, r, block, &p, delta);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------- delivery */

/* A body sent one byte per DRIP_MS (the connection is parked between
 * bytes), or half a body and then a TCP reset. */
typedef struct slow_ctx {
    sim_server *s;
    struct MHD_Connection *conn;
    char *body;
    size_t len;
    bool reset;
    int64_t next_ms;
} slow_ctx;

static ssize_t slow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    slow_ctx *t = cls;
    if (t->reset) {
        size_t half = t->len / 2;
        if (pos < half) {
            size_t n = half - (size_t)pos < max ? half - (size_t)pos : max;
            memcpy(buf, t->body + pos, n);
            return (ssize_t)n;
        }
        /* Linger 0: the close that follows sends a RST. */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(t->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (pos >= t->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    int64_t now = tz_mono_ms();
    if (now < t->next_ms)
        return sim_park(t->s, t->conn, t->next_ms) ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
    t->next_ms = now + DRIP_MS;
    buf[0] = t->body[pos];
    return 1;
}

static void slow_free(void *cls)
{
    slow_ctx *t = cls;
    free(t->body);
    free(t);
}

struct MHD_Response *sim_hostile_delivery(sim_server *s, struct MHD_Connection *conn,
                                          sim_req *r)
{
    if (r->act == ACT_REDIRECT) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (resp && r->resp) {
            char *loc = strndup(r->resp, r->resp_len);
            if (loc)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
            free(loc);
        }
        r->ctype = NULL;
        return resp;
    }
    slow_ctx *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->s = s;
    t->conn = conn;
    t->body = r->resp;
    t->len = r->resp_len;
    t->reset = r->act == ACT_RESET;
    t->next_ms = 0;
    r->resp = NULL;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(t->len, 4096, slow_reader, t, slow_free);
    if (!resp)
        slow_free(t);
    return resp;
}
