/* The BDS traversal (k = 2, depth 16) as the reference wallet runs it.
 *
 * Moving from key i to key i + 1, with tau the number of trailing one bits
 * of i (the level where the two paths meet):
 *   - a left node at level tau whose parent is a left node is kept;
 *   - tau == 0: the new level-0 sibling is leaf i itself;
 *   - else auth_path[tau] = parent of (auth_path[tau-1], keep[tau-1]), and
 *     every level below tau takes the next right node: from its treehash
 *     instance (levels 0..13, which must have finished) or its retain list
 *     (level 14); each treehash instance below tau then starts on the node
 *     it will be asked for next, at leaf i + 1 + 3 * 2^h;
 *   - then 7 treehash steps (one leaf each), each given to the unfinished
 *     instance whose lowest stack node is lowest (ties: the smaller start).
 * The last key (65535) empties the path. Every state change is made on a
 * copy that replaces *s only on success. */
#include "store/bds.h"

#include <stdio.h>
#include <string.h>

#include "store/jsonnum.h"

#define LEAVES TZ_XMSS_LEAVES

/* ---- the traversal ---------------------------------------------------- */

static void slot_set(tz_bds_slot *s, const tz_felt *v)
{
    s->present = true;
    s->value = *v;
}

static void slot_none(tz_bds_slot *s)
{
    s->present = false;
    memset(&s->value, 0, sizeof s->value);
}

static void th_reset(tz_bds_treehash *t)
{
    t->finished = false;
    slot_none(&t->node);
    t->node_start_idx = 0;
    t->node_height = t->target_height;
    t->n_stack = 0;
}

static void th_clear(tz_bds_treehash *t)
{
    t->initialized = false;
    th_reset(t);
}

static void th_start(tz_bds_treehash *t, uint32_t start)
{
    t->start_idx = start;
    t->next_idx = start;
    t->initialized = true;
    th_reset(t);
}

/* The finished node of an instance, emptied (its value stays in the slot,
 * as the reference writes it). False when it has none. */
static bool th_take(tz_bds_treehash *t, tz_felt *out)
{
    if (!t->node.present)
        return false;
    t->node.present = false;
    *out = t->node.value;
    t->finished = false;
    t->initialized = false;
    return true;
}

/* Height of the lowest node on the stack (the target when empty), or -1
 * for an instance that is idle or finished. */
static int th_lowest(const tz_bds_treehash *t)
{
    if (!t->initialized || t->finished)
        return -1;
    int low = t->target_height;
    for (unsigned i = 0; i < t->n_stack; i++)
        if (t->stack[i].height < low)
            low = t->stack[i].height;
    return low;
}

/* One treehash step: the next leaf, merged with equal-height stack nodes.
 * False when a damaged stack would overflow. */
static bool th_step(tz_bds_treehash *t, const tz_felt *ask_j, const tz_felt *pub_seed)
{
    if (!t->initialized || t->finished)
        return true;
    tz_bds_node n = {.start_idx = t->next_idx, .height = 0};
    tz_xmss_leaf(&n.value, ask_j, pub_seed, t->next_idx);
    t->next_idx++;
    while (t->n_stack && t->stack[t->n_stack - 1].height == n.height) {
        const tz_bds_node *left = &t->stack[--t->n_stack];
        tz_xmss_node(&n.value, pub_seed, n.height + 1u, left->start_idx, &left->value, &n.value);
        n.start_idx = left->start_idx;
        n.height++;
    }
    if (n.height == t->target_height) {
        t->finished = true;
        slot_set(&t->node, &n.value);
        t->node_start_idx = n.start_idx;
        t->node_height = n.height;
        t->n_stack = 0;
        return true;
    }
    if (t->n_stack == TZ_BDS_STACK_MAX)
        return false;
    t->stack[t->n_stack++] = n;
    return true;
}

static unsigned trailing_ones(uint32_t v)
{
    unsigned n = 0;
    while (v & 1u) {
        v >>= 1;
        n++;
    }
    return n;
}

/* Advances *s from key s->next_index to the next one. */
static tz_status advance(tz_bds *s, const tz_felt *ask_j, const tz_felt *pub_seed, tz_error *err)
{
    uint32_t i = s->next_index;
    if (i >= LEAVES || !s->has_path)
        return tz_error_set(err, TZ_ESTATE, "XMSS keys exhausted");
    if (i == LEAVES - 1) {
        s->next_index++;
        s->has_path = false;
        return TZ_OK;
    }
    unsigned tau = trailing_ones(i);
    if (tau < TZ_BDS_DEPTH - 1 && ((i >> (tau + 1)) & 1u) == 0)
        slot_set(&s->keep[tau], &s->auth_path[tau]);
    if (tau == 0) {
        tz_xmss_leaf(&s->auth_path[0], ask_j, pub_seed, i);
    } else {
        tz_bds_slot *right = &s->keep[tau - 1];
        if (!right->present)
            return tz_error_set(err, TZ_ESTATE, "missing BDS keep node at level %u", tau - 1);
        right->present = false;
        tz_xmss_node(&s->auth_path[tau], pub_seed, tau, i + 1 - (1u << tau),
                     &s->auth_path[tau - 1], &right->value);
        for (unsigned h = 0; h < tau; h++) {
            if (h < TZ_BDS_TREEHASH) {
                if (!th_take(&s->treehash[h], &s->auth_path[h]))
                    return tz_error_set(err, TZ_ESTATE, "missing BDS treehash node at level %u",
                                        h);
            } else {
                tz_bds_retain *r = &s->retain[h];
                if (r->next >= r->n_nodes)
                    return tz_error_set(err, TZ_ESTATE, "missing BDS retain node at level %u",
                                        h);
                s->auth_path[h] = r->nodes[r->next++];
            }
        }
        for (unsigned h = 0; h < tau && h < TZ_BDS_TREEHASH; h++) {
            uint32_t start = i + 1 + (3u << h);
            if (start < LEAVES)
                th_start(&s->treehash[h], start);
            else
                th_clear(&s->treehash[h]);
        }
    }
    s->next_index++;
    for (unsigned step = 0; step < TZ_BDS_TREEHASH / 2; step++) {
        int best = -1, best_h = 256;
        uint32_t best_start = UINT32_MAX;
        for (unsigned h = 0; h < TZ_BDS_TREEHASH; h++) {
            int low = th_lowest(&s->treehash[h]);
            if (low < 0)
                continue;
            if (low < best_h || (low == best_h && s->treehash[h].start_idx < best_start)) {
                best = (int)h;
                best_h = low;
                best_start = s->treehash[h].start_idx;
            }
        }
        if (best < 0)
            break;
        if (!th_step(&s->treehash[best], ask_j, pub_seed))
            return tz_error_set(err, TZ_ESTATE, "BDS treehash stack at level %d overflows", best);
    }
    return TZ_OK;
}

tz_status tz_bds_next(tz_bds *s, const tz_felt *ask_j, const tz_felt *pub_seed, uint32_t *key_idx,
                      tz_felt auth_path[TZ_BDS_DEPTH], tz_error *err)
{
    if (s->next_index >= LEAVES || !s->has_path)
        return tz_error_set(err, TZ_ESTATE,
                            "XMSS keys exhausted: all %u one-time keys of this address are "
                            "used; generate a new address",
                            (unsigned)LEAVES);
    tz_bds n = *s;
    tz_status st = advance(&n, ask_j, pub_seed, err);
    if (st)
        return st;
    *key_idx = s->next_index;
    memcpy(auth_path, s->auth_path, sizeof s->auth_path);
    *s = n;
    return TZ_OK;
}

void tz_bds_fold(tz_felt *root, const tz_felt *leaf, uint32_t key_idx,
                 const tz_felt auth_path[TZ_BDS_DEPTH], const tz_felt *pub_seed)
{
    tz_felt cur = *leaf;
    for (unsigned h = 0; h < TZ_BDS_DEPTH; h++) {
        uint32_t start = (key_idx >> (h + 1)) << (h + 1);
        if ((key_idx >> h) & 1u)
            tz_xmss_node(&cur, pub_seed, h + 1, start, &auth_path[h], &cur);
        else
            tz_xmss_node(&cur, pub_seed, h + 1, start, &cur, &auth_path[h]);
    }
    *root = cur;
}

void tz_bds_init(tz_bds *out, tz_felt *root, tz_felt *level, const tz_felt *pub_seed)
{
    memset(out, 0, sizeof *out);
    out->has_path = true;
    uint32_t n = LEAVES;
    for (unsigned h = 0; h < TZ_BDS_DEPTH; h++, n /= 2) {
        out->auth_path[h] = level[1];
        if (h < TZ_BDS_TREEHASH) {
            /* seeded with node 3 of its level, as if it had just finished */
            tz_bds_treehash *t = &out->treehash[h];
            t->target_height = (uint8_t)h;
            t->finished = true;
            slot_set(&t->node, &level[3]);
            t->next_idx = t->node_start_idx = 3u << h;
            t->node_height = (uint8_t)h;
        } else if (h < TZ_BDS_DEPTH - 1) {
            /* the odd nodes from 3 on: node 3 only, at level 14 */
            for (uint32_t k = 3; k < n; k += 2)
                out->retain[h].nodes[out->retain[h].n_nodes++] = level[k];
        }
        /* parents in place: parent k covers [k << (h+1), (k+1) << (h+1)) */
        for (uint32_t k = 0; k < n / 2; k++)
            tz_xmss_node(&level[k], pub_seed, h + 1, k << (h + 1), &level[2 * k],
                         &level[2 * k + 1]);
    }
    *root = level[0];
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *felt_str(const tz_felt *f)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, f);
    return json_string(hex);
}

static json_t *slot_json(const tz_bds_slot *s)
{
    return json_pack("{s:b, s:o}", "present", s->present, "value", felt_str(&s->value));
}

static json_t *th_json(const tz_bds_treehash *t)
{
    json_t *stack = json_array();
    for (unsigned i = 0; stack && i < t->n_stack; i++) {
        const tz_bds_node *n = &t->stack[i];
        if (json_array_append_new(stack, json_pack("{s:I, s:i, s:o}", "start_idx",
                                                   (json_int_t)n->start_idx, "height",
                                                   (int)n->height, "value", felt_str(&n->value)))) {
            json_decref(stack);
            return NULL;
        }
    }
    if (!stack)
        return NULL;
    return json_pack("{s:i, s:I, s:I, s:b, s:b, s:o, s:I, s:i, s:o}", "target_height",
                     (int)t->target_height, "start_idx", (json_int_t)t->start_idx, "next_idx",
                     (json_int_t)t->next_idx, "initialized", t->initialized, "finished",
                     t->finished, "node", slot_json(&t->node), "node_start_idx",
                     (json_int_t)t->node_start_idx, "node_height", (int)t->node_height, "stack",
                     stack);
}

static json_t *retain_json(const tz_bds_retain *r)
{
    json_t *nodes = json_array();
    for (unsigned i = 0; nodes && i < r->n_nodes; i++)
        if (json_array_append_new(nodes, felt_str(&r->nodes[i]))) {
            json_decref(nodes);
            return NULL;
        }
    if (!nodes)
        return NULL;
    return json_pack("{s:o, s:I}", "nodes", nodes, "next", (json_int_t)r->next);
}

json_t *tz_bds_to_json(const tz_bds *s)
{
    json_t *path = json_array(), *keep = json_array(), *th = json_array(), *ret = json_array();
    bool ok = path && keep && th && ret;
    for (unsigned h = 0; ok && s->has_path && h < TZ_BDS_DEPTH; h++)
        ok = !json_array_append_new(path, felt_str(&s->auth_path[h]));
    for (unsigned h = 0; ok && h < TZ_BDS_DEPTH; h++)
        ok = !json_array_append_new(keep, slot_json(&s->keep[h])) &&
             !json_array_append_new(ret, retain_json(&s->retain[h]));
    for (unsigned h = 0; ok && h < TZ_BDS_TREEHASH; h++)
        ok = !json_array_append_new(th, th_json(&s->treehash[h]));
    if (!ok) {
        json_decref(path);
        json_decref(keep);
        json_decref(th);
        json_decref(ret);
        return NULL;
    }
    return json_pack("{s:I, s:o, s:o, s:o, s:o}", "next_index", (json_int_t)s->next_index,
                     "auth_path", path, "keep", keep, "treehash", th, "retain", ret);
}

/* Parsing: each helper fills its field or reports the field's name. */
typedef struct pctx {
    const char *what;
    tz_error *err;
} pctx;

static tz_status bad(pctx *c, const char *field, const char *why)
{
    return tz_error_set(c->err, TZ_EPARSE, "%s: %s: %s", c->what, field, why);
}

static tz_status get_uint(pctx *c, const json_t *o, const char *key, uint64_t max, uint64_t *out,
                          const char *field)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return bad(c, field, "missing");
    if (!tz_json_get_u64(v, out) || *out > max)
        return bad(c, field, "expected an integer in range");
    return TZ_OK;
}

static tz_status get_bool(pctx *c, const json_t *o, const char *key, bool *out, const char *field)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v))
        return bad(c, field, v ? "expected a boolean" : "missing");
    *out = json_is_true(v);
    return TZ_OK;
}

static tz_status get_felt(pctx *c, const json_t *v, tz_felt *out, const char *field)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != TZ_FELT_HEX || tz_felt_from_hex(out, s) != TZ_OK)
        return bad(c, field, v ? "expected 64 hex digits" : "missing");
    return TZ_OK;
}

static tz_status get_array(pctx *c, const json_t *o, const char *key, size_t min, size_t max,
                           json_t **out, const char *field)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_array(v))
        return bad(c, field, v ? "expected an array" : "missing");
    if (json_array_size(v) < min || json_array_size(v) > max) {
        char why[64];
        if (min == max)
            snprintf(why, sizeof why, "expected %zu entries", min);
        else
            snprintf(why, sizeof why, "expected %zu to %zu entries", min, max);
        return bad(c, field, why);
    }
    *out = v;
    return TZ_OK;
}

static tz_status parse_slot(pctx *c, const json_t *o, tz_bds_slot *out, const char *field)
{
    char f[96];
    tz_status st;
    if (!json_is_object(o))
        return bad(c, field, "expected an object");
    snprintf(f, sizeof f, "%s.present", field);
    if ((st = get_bool(c, o, "present", &out->present, f)))
        return st;
    snprintf(f, sizeof f, "%s.value", field);
    return get_felt(c, json_object_get(o, "value"), &out->value, f);
}

static tz_status parse_th(pctx *c, const json_t *o, unsigned h, tz_bds_treehash *t)
{
    char f[96], g[112];
    uint64_t v;
    tz_status st;
    json_t *stack;
    snprintf(f, sizeof f, "treehash[%u]", h);
    if (!json_is_object(o))
        return bad(c, f, "expected an object");
#define FIELD(k) (snprintf(g, sizeof g, "%s." k, f), g)
    if ((st = get_uint(c, o, "target_height", UINT8_MAX, &v, FIELD("target_height"))))
        return st;
    if (v != h)
        return bad(c, FIELD("target_height"), "expected the instance's level");
    t->target_height = (uint8_t)v;
    if ((st = get_uint(c, o, "start_idx", UINT32_MAX, &v, FIELD("start_idx"))))
        return st;
    t->start_idx = (uint32_t)v;
    if ((st = get_uint(c, o, "next_idx", UINT32_MAX, &v, FIELD("next_idx"))))
        return st;
    t->next_idx = (uint32_t)v;
    if ((st = get_bool(c, o, "initialized", &t->initialized, FIELD("initialized"))) ||
        (st = get_bool(c, o, "finished", &t->finished, FIELD("finished"))) ||
        (st = parse_slot(c, json_object_get(o, "node"), &t->node, FIELD("node"))))
        return st;
    if ((st = get_uint(c, o, "node_start_idx", UINT32_MAX, &v, FIELD("node_start_idx"))))
        return st;
    t->node_start_idx = (uint32_t)v;
    if ((st = get_uint(c, o, "node_height", UINT8_MAX, &v, FIELD("node_height"))))
        return st;
    t->node_height = (uint8_t)v;
    if ((st = get_array(c, o, "stack", 0, TZ_BDS_STACK_MAX, &stack, FIELD("stack"))))
        return st;
#undef FIELD
    t->n_stack = (uint8_t)json_array_size(stack);
    for (unsigned i = 0; i < t->n_stack; i++) {
        json_t *n = json_array_get(stack, i);
        tz_bds_node *d = &t->stack[i];
        snprintf(g, sizeof g, "%s.stack[%u]", f, i);
        if (!json_is_object(n))
            return bad(c, g, "expected an object");
        char k[136];
        snprintf(k, sizeof k, "%s.start_idx", g);
        if ((st = get_uint(c, n, "start_idx", UINT32_MAX, &v, k)))
            return st;
        d->start_idx = (uint32_t)v;
        snprintf(k, sizeof k, "%s.height", g);
        if ((st = get_uint(c, n, "height", UINT8_MAX, &v, k)))
            return st;
        if (v >= h)
            return bad(c, k, "expected a height below the instance's target");
        d->height = (uint8_t)v;
        snprintf(k, sizeof k, "%s.value", g);
        if ((st = get_felt(c, json_object_get(n, "value"), &d->value, k)))
            return st;
    }
    return TZ_OK;
}

static tz_status parse_retain(pctx *c, const json_t *o, unsigned h, tz_bds_retain *r)
{
    char f[64];
    uint64_t v;
    json_t *nodes;
    tz_status st;
    snprintf(f, sizeof f, "retain[%u]", h);
    if (!json_is_object(o))
        return bad(c, f, "expected an object");
    snprintf(f, sizeof f, "retain[%u].nodes", h);
    if ((st = get_array(c, o, "nodes", 0, TZ_BDS_RETAIN_MAX, &nodes, f)))
        return st;
    r->n_nodes = (uint8_t)json_array_size(nodes);
    for (unsigned i = 0; i < r->n_nodes; i++) {
        snprintf(f, sizeof f, "retain[%u].nodes[%u]", h, i);
        if ((st = get_felt(c, json_array_get(nodes, i), &r->nodes[i], f)))
            return st;
    }
    snprintf(f, sizeof f, "retain[%u].next", h);
    if ((st = get_uint(c, o, "next", UINT32_MAX, &v, f)))
        return st;
    r->next = (uint32_t)v;
    return TZ_OK;
}

tz_status tz_bds_parse(tz_bds *out, const json_t *bds, const char *what, tz_error *err)
{
    pctx c = {what, err};
    tz_bds s;
    memset(&s, 0, sizeof s);
    uint64_t v;
    json_t *path, *keep, *th, *ret;
    tz_status st;
    char f[32];
    if (!json_is_object(bds))
        return bad(&c, "bds", "expected an object");
    if ((st = get_uint(&c, bds, "next_index", LEAVES, &v, "next_index")))
        return st;
    s.next_index = (uint32_t)v;
    s.has_path = s.next_index < LEAVES;
    size_t n_path = s.has_path ? TZ_BDS_DEPTH : 0;
    if ((st = get_array(&c, bds, "auth_path", n_path, n_path, &path, "auth_path")) ||
        (st = get_array(&c, bds, "keep", TZ_BDS_DEPTH, TZ_BDS_DEPTH, &keep, "keep")) ||
        (st = get_array(&c, bds, "treehash", TZ_BDS_TREEHASH, TZ_BDS_TREEHASH, &th,
                        "treehash")) ||
        (st = get_array(&c, bds, "retain", TZ_BDS_DEPTH, TZ_BDS_DEPTH, &ret, "retain")))
        return st;
    for (unsigned h = 0; h < n_path; h++) {
        snprintf(f, sizeof f, "auth_path[%u]", h);
        if ((st = get_felt(&c, json_array_get(path, h), &s.auth_path[h], f)))
            return st;
    }
    for (unsigned h = 0; h < TZ_BDS_DEPTH; h++) {
        snprintf(f, sizeof f, "keep[%u]", h);
        if ((st = parse_slot(&c, json_array_get(keep, h), &s.keep[h], f)) ||
            (st = parse_retain(&c, json_array_get(ret, h), h, &s.retain[h])))
            return st;
    }
    for (unsigned h = 0; h < TZ_BDS_TREEHASH; h++)
        if ((st = parse_th(&c, json_array_get(th, h), h, &s.treehash[h])))
            return st;
    *out = s;
    return TZ_OK;
}
