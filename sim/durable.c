/* The TzEL kernel's durable tree as a function of one simulator block
 * (durable.h): durable keys parsed as Octez parses them, the value at a
 * key and a node's direct children, all computed from the block's
 * snapshot and the chain's shared notes and nullifiers; nothing is stored
 * per key. */
#include "durable.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"

#define NOTE_CHUNK 1024
#define NOTE_CHUNKS ((SIM_NOTE_BYTES + NOTE_CHUNK - 1) / NOTE_CHUNK)

bool sim_path_parse(sim_path *p, const char *key)
{
    p->n = 0;
    if (!key || key[0] != '/')
        return false;
    if (key[1] == '\0')
        return true;
    const char *s = key + 1;
    for (;;) {
        const char *e = s;
        while (*e && *e != '/') {
            char ch = *e;
            bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
            if (!ok)
                return false;
            e++;
        }
        if (e == s || p->n == SIM_PATH_MAX_SEGS)
            return false;
        p->s[p->n] = s;
        p->len[p->n] = (size_t)(e - s);
        p->n++;
        if (!*e)
            return true;
        s = e + 1;
    }
}

static bool seg_is(const sim_path *p, size_t i, const char *lit)
{
    size_t l = strlen(lit);
    return i < p->n && p->len[i] == l && memcmp(p->s[i], lit, l) == 0;
}

/* Exactly `digits` lowercase hex digits (the kernel's format). */
static bool seg_hex(const sim_path *p, size_t i, size_t digits, uint64_t *out)
{
    if (i >= p->n || p->len[i] != digits)
        return false;
    uint64_t v = 0;
    for (size_t k = 0; k < digits; k++) {
        char ch = p->s[i][k];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return false;
        if (digits <= 16)
            v = (v << 4) | d;
    }
    if (out)
        *out = v;
    return true;
}

/* A 64-char lowercase hex segment as a felt. */
static bool seg_felt(const sim_path *p, size_t i, tz_felt *f)
{
    if (!seg_hex(p, i, 64, NULL))
        return false;
    char buf[65];
    memcpy(buf, p->s[i], 64);
    buf[64] = '\0';
    return tz_felt_from_hex(f, buf) == TZ_OK;
}

static bool is_state_prefix(const sim_path *p)
{
    return p->n >= 3 && seg_is(p, 0, "tzel") && seg_is(p, 1, "v1") && seg_is(p, 2, "state");
}

bool sim_path_note_index(const sim_path *p, uint64_t *idx)
{
    return is_state_prefix(p) && p->n >= 5 && seg_is(p, 3, "notes") && seg_hex(p, 4, 16, idx);
}

static size_t put_u64(uint8_t *out, uint64_t v)
{
    tz_put_u64le(out, v);
    return 8;
}

static size_t put_i32(uint8_t *out, uint64_t level)
{
    tz_put_u32le(out, (uint32_t)(int32_t)level);
    return 4;
}

bool sim_durable_value(const sim_chain *c, const sim_block *b, const sim_path *p,
                       uint8_t out[SIM_MAX_VALUE], size_t *len)
{
    if (!is_state_prefix(p) || p->n < 4)
        return false;
    size_t r = p->n - 3; /* segments after /tzel/v1/state */
    uint64_t idx;
    tz_felt f;
    if (r == 1 && seg_is(p, 3, "auth_domain")) {
        memcpy(out, c->auth_domain.b, 32);
        *len = 32;
        return true;
    }
    if (r == 1 && seg_is(p, 3, "verifier_config.bin")) {
        uint8_t h[32];
        tz_hash_part part[2] = {{"tzel-sim-verifier", 17}, {c->seed, 32}};
        tz_blake2s(h, NULL, part, 2);
        memcpy(out, c->auth_domain.b, 32);
        memcpy(out + 32, h, 32);
        *len = 64;
        return true;
    }
    if (r == 1 && seg_is(p, 3, "last_input_level")) {
        *len = put_i32(out, b->level);
        return true;
    }
    if (seg_is(p, 3, "tree")) {
        if (r == 2 && seg_is(p, 4, "size")) {
            *len = put_u64(out, b->fr.size);
            return true;
        }
        if (r == 2 && seg_is(p, 4, "root")) {
            memcpy(out, b->root.b, 32);
            *len = 32;
            return true;
        }
        if (r == 3 && seg_is(p, 4, "branch") && b->fr.size > 0 && seg_hex(p, 5, 2, &idx) &&
            idx < TZ_TREE_DEPTH) {
            memcpy(out, b->fr.branch[idx].b, 32);
            *len = 32;
            return true;
        }
        return false;
    }
    if (seg_is(p, 3, "notes")) {
        if (!seg_hex(p, 4, 16, &idx) || idx >= b->fr.size)
            return false;
        if (r == 3 && seg_is(p, 5, "len")) {
            *len = put_u64(out, SIM_NOTE_BYTES);
            return true;
        }
        uint64_t ch;
        if (r == 4 && seg_is(p, 5, "chunk") && seg_hex(p, 6, 8, &ch) && ch < NOTE_CHUNKS) {
            size_t off = (size_t)ch * NOTE_CHUNK;
            size_t n = SIM_NOTE_BYTES - off < NOTE_CHUNK ? SIM_NOTE_BYTES - off : NOTE_CHUNK;
            memcpy(out, sim_leaf(c, idx) + off, n);
            *len = n;
            return true;
        }
        return false;
    }
    if (seg_is(p, 3, "nullifiers")) {
        if (r == 2 && seg_is(p, 4, "count")) {
            *len = put_u64(out, b->nf_count);
            return true;
        }
        if (r == 3 && seg_is(p, 4, "index") && seg_hex(p, 5, 16, &idx) && idx < b->nf_count) {
            memcpy(out, c->nfs[idx].b, 32);
            *len = 32;
            return true;
        }
        if (r == 3 && seg_is(p, 4, "by-key") && seg_felt(p, 5, &f) &&
            sim_chain_has_nf(c, b, &f)) {
            out[0] = 1;
            *len = 1;
            return true;
        }
        return false;
    }
    if (r == 3 && seg_is(p, 3, "deposits") && seg_is(p, 4, "balance") && seg_felt(p, 5, &f)) {
        const sim_balance *e = sim_chain_balance(b, &f);
        if (!e)
            return false;
        *len = e->empty ? 0 : put_u64(out, e->amount);
        return true;
    }
    if (r == 2 && seg_is(p, 3, "bridge") && seg_is(p, 4, "ticketer")) {
        size_t n = strlen(c->ticketer);
        memcpy(out, c->ticketer, n);
        *len = n;
        return true;
    }
    if (r == 2 && seg_is(p, 3, "fees")) {
        /* Written by the first private transaction (as the kernel does). */
        if (b->fee_level == 0)
            return false;
        if (seg_is(p, 4, "private_tx_level")) {
            *len = put_i32(out, b->fee_level);
            return true;
        }
        if (seg_is(p, 4, "private_tx_count_in_level")) {
            *len = put_u64(out, b->fee_count);
            return true;
        }
        return false;
    }
    if (seg_is(p, 3, "withdrawals")) {
        if (r == 2 && seg_is(p, 4, "count")) {
            *len = put_u64(out, b->wd_count);
            return true;
        }
        if (r == 3 && seg_is(p, 4, "index") && seg_hex(p, 5, 16, &idx) && idx < b->wd_count) {
            /* amount u64le, recipient length u32le, recipient bytes */
            const sim_withdrawal *w = &c->wds[idx];
            put_u64(out, w->amount);
            tz_put_u32le(out + 8, (uint32_t)w->len);
            memcpy(out + 12, w->recipient, w->len);
            *len = 12 + w->len;
            return true;
        }
        return false;
    }
    if (seg_is(p, 3, "roots")) {
        if (r == 2 && seg_is(p, 4, "count")) {
            *len = put_u64(out, b->roots_count);
            return true;
        }
        if (r == 3 && seg_is(p, 4, "index") && seg_hex(p, 5, 16, &idx) && idx < b->roots_count) {
            memcpy(out, c->roots[idx].b, 32);
            *len = 32;
            return true;
        }
        if (r == 3 && seg_is(p, 4, "by-key") && seg_felt(p, 5, &f) &&
            sim_chain_has_root(c, b, &f)) {
            out[0] = 1;
            *len = 1;
            return true;
        }
        return false;
    }
    if (r == 3 && seg_is(p, 3, "shields") && seg_is(p, 4, "applied_cm") && seg_felt(p, 5, &f) &&
        sim_chain_has_shield(c, b, &f)) {
        out[0] = 1;
        *len = 1;
        return true;
    }
    return false;
}

/* Emits 0 .. n-1 as `digits` lowercase hex digits, zero padded: the
 * kernel's spelling of indices in keys. */
static void emit_indices(void (*emit)(void *ctx, const char *name), void *ctx, uint64_t n,
                         int digits)
{
    char buf[24];
    for (uint64_t i = 0; i < n; i++) {
        snprintf(buf, sizeof buf, "%0*" PRIx64, digits, i);
        emit(ctx, buf);
    }
}

void sim_durable_children(const sim_chain *c, const sim_block *b, const sim_path *p,
                          void (*emit)(void *ctx, const char *name), void *ctx)
{
    char buf[80];
    if (p->n == 0) {
        emit(ctx, "tzel");
        return;
    }
    if (p->n == 1) {
        if (seg_is(p, 0, "tzel"))
            emit(ctx, "v1");
        return;
    }
    if (p->n == 2) {
        if (seg_is(p, 0, "tzel") && seg_is(p, 1, "v1"))
            emit(ctx, "state");
        return;
    }
    if (!is_state_prefix(p))
        return;
    size_t r = p->n - 3;
    uint64_t idx;
    if (r == 0) {
        static const char *const top[] = {"auth_domain", "verifier_config.bin", "bridge",
                                          "tree",        "nullifiers",          "withdrawals",
                                          "roots",       "last_input_level"};
        for (size_t k = 0; k < sizeof top / sizeof top[0]; k++)
            emit(ctx, top[k]);
        if (b->fr.size > 0)
            emit(ctx, "notes");
        if (b->bal && b->bal->n > 0)
            emit(ctx, "deposits");
        if (b->fee_level > 0)
            emit(ctx, "fees");
        if (b->shield_count > 0)
            emit(ctx, "shields");
        return;
    }
    if (seg_is(p, 3, "tree")) {
        if (r == 1) {
            emit(ctx, "size");
            emit(ctx, "root");
            if (b->fr.size > 0)
                emit(ctx, "branch");
        } else if (r == 2 && seg_is(p, 4, "branch") && b->fr.size > 0) {
            emit_indices(emit, ctx, TZ_TREE_DEPTH, 2);
        }
        return;
    }
    if (seg_is(p, 3, "notes")) {
        if (r == 1) {
            emit_indices(emit, ctx, b->fr.size, 16);
            return;
        }
        if (!seg_hex(p, 4, 16, &idx) || idx >= b->fr.size)
            return;
        if (r == 2) {
            emit(ctx, "len");
            emit(ctx, "chunk");
        } else if (r == 3 && seg_is(p, 5, "chunk")) {
            emit_indices(emit, ctx, NOTE_CHUNKS, 8);
        }
        return;
    }
    if (seg_is(p, 3, "nullifiers")) {
        if (r == 1) {
            emit(ctx, "count");
            if (b->nf_count > 0) {
                emit(ctx, "index");
                emit(ctx, "by-key");
            }
        } else if (r == 2 && seg_is(p, 4, "index")) {
            emit_indices(emit, ctx, b->nf_count, 16);
        } else if (r == 2 && seg_is(p, 4, "by-key")) {
            for (uint64_t i = 0; i < b->nf_count; i++) {
                tz_felt_to_hex(buf, &c->nfs[i]);
                emit(ctx, buf);
            }
        }
        return;
    }
    if (seg_is(p, 3, "deposits")) {
        if (!b->bal || b->bal->n == 0)
            return;
        if (r == 1) {
            emit(ctx, "balance");
        } else if (r == 2 && seg_is(p, 4, "balance")) {
            for (size_t k = 0; k < b->bal->n; k++) {
                tz_felt_to_hex(buf, &b->bal->e[k].pkh);
                emit(ctx, buf);
            }
        }
        return;
    }
    if (r == 1 && seg_is(p, 3, "bridge")) {
        emit(ctx, "ticketer");
    } else if (r == 1 && seg_is(p, 3, "fees")) {
        emit(ctx, "private_tx_level");
        emit(ctx, "private_tx_count_in_level");
    } else if (r == 1 && seg_is(p, 3, "withdrawals")) {
        emit(ctx, "count");
        if (b->wd_count > 0)
            emit(ctx, "index");
    } else if (r == 2 && seg_is(p, 3, "withdrawals") && seg_is(p, 4, "index")) {
        emit_indices(emit, ctx, b->wd_count, 16);
    } else if (r == 1 && seg_is(p, 3, "roots")) {
        emit(ctx, "count");
        emit(ctx, "index");
        emit(ctx, "by-key");
    } else if (r == 2 && seg_is(p, 3, "roots") && seg_is(p, 4, "index")) {
        emit_indices(emit, ctx, b->roots_count, 16);
    } else if (r == 2 && seg_is(p, 3, "roots") && seg_is(p, 4, "by-key")) {
        for (uint64_t i = 0; i < b->roots_count; i++) {
            tz_felt_to_hex(buf, &c->roots[i]);
            emit(ctx, buf);
        }
    } else if (r == 1 && seg_is(p, 3, "shields") && b->shield_count > 0) {
        emit(ctx, "applied_cm");
    } else if (r == 2 && seg_is(p, 3, "shields") && seg_is(p, 4, "applied_cm")) {
        for (uint64_t i = 0; i < b->shield_count; i++) {
            tz_felt_to_hex(buf, &c->shields[i]);
            emit(ctx, buf);
        }
    }
}
