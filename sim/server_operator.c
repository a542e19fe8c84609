/* The operator API of the simulator (SPENDS.md section 7):
 *   POST /v1/rollup/submissions       {"kind","rollup_address","payload"}
 *   GET  /v1/rollup/submissions/{id}
 * both with "Authorization: Bearer <token>". A submission is applied by
 * the simulator's kernel (kernel.h) synchronously, as one new block,
 * before the POST answers: its status is then "submitted_to_l1" (applied)
 * or "failed" (rejected, the reason in "detail"). Every payload goes
 * "direct_inbox", whatever its size, unless --operator-dal-polls N: then a
 * payload above 4096 bytes goes "dal" (as the real operator's do) and its
 * record says "commitment_included" for the POST's answer and the first N
 * status reads, then its real status (the kernel applied it at once; the
 * simulator has no DAL). The
 * operation hash is a fake: the Base58check "o..." operation hash of
 * SHA-256(id || payload hash). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <sodium.h>

#include "core/b58.h"
#include "core/felt.h"
#include "core/hash.h"
#include "core/kmsg.h"
#include "kernel.h"
#include "server_internal.h"

#define PREFIX "/v1/rollup/submissions"

static bool authorized(sim_server *s, struct MHD_Connection *conn)
{
    const char *tok = s->o.operator_token ? s->o.operator_token : SIM_DEFAULT_OPERATOR_TOKEN;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    size_t n = strlen(tok);
    return strlen(h) == n && sodium_memcmp(h, tok, n) == 0;
}

static json_t *record_json(const sim_server *s, const sim_submission *x)
{
    const char *status = x->pending_reads ? "commitment_included" : x->status;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[],s:n,s:I,s:n,s:s,s:I}", "id", x->id,
                          "kind", x->kind, "rollup_address", s->c->rollup_address, "status",
                          status, "transport", x->dal ? "dal" : "direct_inbox", "operation_hash",
                          x->operation_hash, "dal_chunks", "commitment", "published_level",
                          (json_int_t)x->published_level, "slot_index", "payload_hash",
                          x->payload_hash, "payload_len", (json_int_t)x->payload_len);
    if (o)
        json_object_set_new(o, "detail", x->detail ? json_string(x->detail) : json_null());
    return o ? json_pack("{s:o}", "submission", o) : NULL;
}

static int kind_of(const char *k)
{
    if (!strcmp(k, "transfer"))
        return TZ_KMSG_TRANSFER;
    if (!strcmp(k, "unshield"))
        return TZ_KMSG_UNSHIELD;
    if (!strcmp(k, "shield"))
        return TZ_KMSG_SHIELD;
    return 0;
}

static void submit(sim_server *s, sim_req *r)
{
    if (r->body.failed) {
        sim_reply_error(r, 413, "body too large");
        return;
    }
    json_error_t je;
    json_t *in = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, &je);
    const char *kind = json_string_value(json_object_get(in, "kind"));
    const char *addr = json_string_value(json_object_get(in, "rollup_address"));
    const char *hex = json_string_value(json_object_get(in, "payload"));
    int k = kind ? kind_of(kind) : 0;
    const char *bad = !json_is_object(in)  ? "body must be a JSON object"
                      : !kind || !k        ? "kind must be transfer, unshield or shield"
                      : !addr              ? "rollup_address must be a string"
                      : !hex               ? "payload must be a hex string"
                      : strcmp(addr, s->c->rollup_address) ? "rollup_address is not this rollup"
                                                           : NULL;
    size_t hl = hex ? strlen(hex) : 0;
    if (!bad && hl >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X'))
        hex += 2, hl -= 2;
    if (!bad && (hl == 0 || hl % 2))
        bad = "payload must be non-empty hex of whole bytes";
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (!bad) {
        payload = malloc(hl / 2);
        if (!payload || tz_hex_decode(payload, hl / 2, &plen, hex, hl) != TZ_OK)
            bad = payload ? "payload is not hex" : "out of memory";
    }
    if (bad) {
        free(payload);
        json_decref(in);
        sim_reply_error(r, 400, bad);
        return;
    }

    sim_submission x;
    memset(&x, 0, sizeof x);
    tz_felt ph;
    tz_hash(&ph, payload, plen);
    tz_felt_to_hex(x.payload_hash, &ph);
    x.payload_len = plen;
    x.kind = k == TZ_KMSG_TRANSFER ? "transfer" : k == TZ_KMSG_UNSHIELD ? "unshield" : "shield";

    tz_error err = {0};
    uint64_t level = 0;
    tz_status st = sim_kernel_apply(s->c, payload, plen, k, &level, &err);
    free(payload);
    json_decref(in);
    char detail[TZ_ERROR_MSG_MAX + 64];
    if (st == TZ_OK) {
        x.status = "submitted_to_l1";
        snprintf(detail, sizeof detail, "applied by the simulator's kernel at level %" PRIu64,
                 level);
    } else {
        x.status = "failed";
        snprintf(detail, sizeof detail, "rejected by the kernel: %s", err.msg);
    }
    x.published_level = level;
    x.detail = strdup(detail);
    x.dal = s->o.operator_dal_polls > 0 && plen > 4096;
    x.pending_reads = x.dal ? s->o.operator_dal_polls + 1 : 0; /* the POST's answer is one */

    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    pthread_mutex_lock(&s->smu);
    bool room = s->nsubs < SIM_MAX_SUBMISSIONS;
    if (room && s->nsubs == s->subcap) {
        size_t nc = s->subcap ? s->subcap * 2 : 16;
        sim_submission *ns = realloc(s->subs, nc * sizeof *ns);
        if (ns) {
            s->subs = ns;
            s->subcap = nc;
        } else {
            room = false;
        }
    }
    if (room && x.detail) {
        uint64_t seq = ++s->sub_seq;
        snprintf(x.id, sizeof x.id, "sub-%" PRIu64 "-%" PRIu64, ms, seq);
        uint8_t h[32], op[32 + 64];
        size_t il = strlen(x.id);
        memcpy(op, x.id, il);
        memcpy(op + il, ph.b, 32);
        crypto_hash_sha256(h, op, il + 32);
        static const uint8_t oprefix[2] = {5, 116};
        tz_b58check(x.operation_hash, sizeof x.operation_hash, oprefix, 2, h, 32);
        s->subs[s->nsubs++] = x;
    }
    json_t *o = room && x.detail ? record_json(s, &x) : NULL;
    pthread_mutex_unlock(&s->smu);
    if (!room || !x.detail) {
        free(x.detail);
        sim_reply_error(r, 503, "cannot record more submissions");
        return;
    }
    sim_reply_json(r, 200, o);
}

static void lookup(sim_server *s, sim_req *r, const char *id)
{
    json_t *o = NULL;
    pthread_mutex_lock(&s->smu);
    for (size_t i = 0; i < s->nsubs && !o; i++)
        if (!strcmp(s->subs[i].id, id)) {
            if (s->subs[i].pending_reads)
                s->subs[i].pending_reads--;
            o = record_json(s, &s->subs[i]);
        }
    pthread_mutex_unlock(&s->smu);
    if (!o)
        sim_reply_error(r, 404, "unknown submission");
    else
        sim_reply_json(r, 200, o);
}

void sim_operator_handle(sim_server *s, struct MHD_Connection *conn, sim_req *r,
                         const char *url, const char *method)
{
    atomic_fetch_add(&s->req_count[R_SIM], 1);
    const char *rest = url + strlen(PREFIX);
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    bool collection = !strcmp(rest, "") || !strcmp(rest, "/");
    bool item = rest[0] == '/' && rest[1] && !strchr(rest + 1, '/');
    if (!(post && collection) && !(get && item)) {
        sim_reply_error(r, collection || item ? 405 : 404, "no such operator route");
        return;
    }
    if (!authorized(s, conn)) {
        sim_reply_error(r, 401, "missing or wrong bearer token");
        return;
    }
    if (post)
        submit(s, r);
    else
        lookup(s, r, rest + 1);
}

void sim_operator_free(sim_server *s)
{
    for (size_t i = 0; i < s->nsubs; i++)
        free(s->subs[i].detail);
    free(s->subs);
    s->subs = NULL;
    s->nsubs = s->subcap = 0;
}
