/* Payment addresses for the simulator (addr.h): read from the JSON
 * `tzel-wallet receive` prints, made from a master key by --make-address,
 * and checked against notes by --check-note. */
#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/commit.h"
#include "core/keys.h"
#include "core/note.h"
#include "core/wire.h"
#include "core/xmss.h"

static tz_status get_hex(const json_t *o, const char *name, uint8_t *out, size_t n, tz_error *err)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (!s)
        return tz_error_set(err, TZ_EPARSE, "address: missing string field \"%s\"", name);
    size_t got = 0;
    if (tz_hex_decode(out, n, &got, s, strlen(s)) != TZ_OK || got != n)
        return tz_error_set(err, TZ_EPARSE, "address: \"%s\" is not %zu bytes of hex", name, n);
    return TZ_OK;
}

static const json_t *find_address_object(const json_t *o)
{
    if (!json_is_object(o))
        return NULL;
    if (json_object_get(o, "d_j"))
        return o;
    const json_t *a = json_object_get(o, "address");
    if (json_is_object(a) && json_object_get(a, "d_j"))
        return a;
    const json_t *r = json_object_get(o, "result");
    if (json_is_object(r))
        return find_address_object(r);
    return NULL;
}

tz_status sim_addr_from_json(tz_payment_address *a, const json_t *root, tz_error *err)
{
    const json_t *o = find_address_object(root);
    if (!o)
        return tz_error_set(err, TZ_EPARSE, "address: no object with d_j found");
    tz_status st;
    if ((st = get_hex(o, "d_j", a->d_j.b, 32, err)) ||
        (st = get_hex(o, "auth_root", a->auth_root.b, 32, err)) ||
        (st = get_hex(o, "auth_pub_seed", a->auth_pub_seed.b, 32, err)) ||
        (st = get_hex(o, "nk_tag", a->nk_tag.b, 32, err)) ||
        (st = get_hex(o, "ek_v", a->ek_v, TZ_KEM_EK_BYTES, err)) ||
        (st = get_hex(o, "ek_d", a->ek_d, TZ_KEM_EK_BYTES, err)))
        return st;
    return TZ_OK;
}

tz_status sim_addr_from_file(tz_payment_address *a, const char *path, tz_error *err)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o)
        return tz_error_set(err, TZ_EPARSE, "%s: %s (line %d)", path, je.text, je.line);
    tz_status st = sim_addr_from_json(a, o, err);
    json_decref(o);
    if (st != TZ_OK)
        tz_error_prefix(err, "%s", path);
    return st;
}

static void set_hex(json_t *o, const char *name, const uint8_t *b, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (!h)
        return;
    tz_hex_encode(h, b, n);
    json_object_set_new(o, name, json_string(h));
    free(h);
}

json_t *sim_addr_to_json(const tz_payment_address *a)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    set_hex(o, "d_j", a->d_j.b, 32);
    set_hex(o, "auth_root", a->auth_root.b, 32);
    set_hex(o, "auth_pub_seed", a->auth_pub_seed.b, 32);
    set_hex(o, "nk_tag", a->nk_tag.b, 32);
    set_hex(o, "ek_v", a->ek_v, TZ_KEM_EK_BYTES);
    set_hex(o, "ek_d", a->ek_d, TZ_KEM_EK_BYTES);
    if (json_object_size(o) != 6) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Parses "MASTER_SK_HEX:J[:AUTH_ROOT_HEX]"; *has_root tells whether the
 * root was given (required when has_root is NULL). */
static bool parse_spec(const char *spec, tz_felt *msk, uint32_t *j, tz_felt *auth_root,
                       bool *has_root)
{
    const char *c1 = strchr(spec, ':');
    if (!c1 || c1 - spec != 64)
        return false;
    char hx[65];
    memcpy(hx, spec, 64);
    hx[64] = '\0';
    if (tz_felt_from_hex(msk, hx) != TZ_OK)
        return false;
    char *end;
    unsigned long jj = strtoul(c1 + 1, &end, 10);
    if (end == c1 + 1 || jj > UINT32_MAX)
        return false;
    *j = (uint32_t)jj;
    if (has_root) {
        *has_root = *end != '\0';
        if (!*has_root)
            return true;
    }
    if (*end != ':' || strlen(end + 1) != 64)
        return false;
    return tz_felt_from_hex(auth_root, end + 1) == TZ_OK;
}

int sim_make_address_main(const char *spec)
{
    tz_felt msk, ar;
    uint32_t j;
    bool has_root = false;
    if (!parse_spec(spec, &msk, &j, &ar, &has_root)) {
        fprintf(stderr,
                "tzel-rollup-sim: --make-address wants MASTER_SK_HEX(64):J[:AUTH_ROOT_HEX]\n");
        return 2;
    }
    tz_keys keys;
    tz_addr_keys ak;
    tz_keys_derive(&keys, &msk);
    tz_addr_keys_derive(&ak, &keys, j);
    if (!has_root &&
        tz_xmss_auth_root(&ar, &ak.ask_j, &ak.auth_pub_seed, 0, NULL, NULL) != TZ_OK) {
        fprintf(stderr, "tzel-rollup-sim: auth root failed\n");
        return 1;
    }
    tz_note_receiver *r = malloc(sizeof *r);
    if (!r || tz_note_receiver_init(r, &keys, j, &ar) != TZ_OK) {
        free(r);
        fprintf(stderr, "tzel-rollup-sim: receiver init failed\n");
        return 1;
    }
    tz_payment_address *pa = malloc(sizeof *pa);
    if (!pa) {
        free(r);
        return 1;
    }
    tz_note_receiver_address(r, pa);
    json_t *o = sim_addr_to_json(pa);
    if (!o) {
        free(r);
        free(pa);
        return 1;
    }
    json_object_set_new(o, "index", json_integer(j));
    set_hex(o, "nk_spend", r->nk_spend.b, 32);
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
    tz_note_receiver_wipe(r);
    free(r);
    free(pa);
    tz_keys_wipe(&keys);
    tz_addr_keys_wipe(&ak);
    sodium_memzero(&msk, sizeof msk);
    return 0;
}

/* Prints one JSON line for the note in hex[0..n). */
static void check_one(const tz_note_receiver *r, const char *hex, size_t n, uint8_t *bytes,
                      tz_published_note *pn)
{
    size_t got = 0;
    json_t *o = json_object();
    if (tz_hex_decode(bytes, TZ_PUBLISHED_NOTE_BYTES, &got, hex, n) != TZ_OK ||
        tz_wire_decode_published_note(pn, bytes, got) != TZ_OK) {
        json_object_set_new(o, "error", json_string("not a PublishedNote in hex"));
    } else {
        tz_note_plain plain;
        bool detected = tz_note_detect(r, &pn->enc);
        tz_status st = tz_note_open(r, &pn->cm, &pn->enc, &plain);
        json_object_set_new(o, "detected", json_boolean(detected));
        json_object_set_new(o, "accepted", json_boolean(st == TZ_OK && detected));
        json_object_set_new(o, "open_status", json_string(tz_status_name(st)));
        if (st == TZ_OK) {
            json_object_set_new(o, "v", json_integer((json_int_t)plain.v));
            set_hex(o, "rseed", plain.rseed.b, 32);
            size_t ml = sizeof plain.memo;
            while (ml > 0 && plain.memo[ml - 1] == 0)
                ml--;
            set_hex(o, "memo", plain.memo, ml);
        }
        set_hex(o, "cm", pn->cm.b, 32);
        sodium_memzero(&plain, sizeof plain);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

int sim_check_note_main(const char *spec)
{
    tz_felt msk, ar;
    uint32_t j;
    if (!parse_spec(spec, &msk, &j, &ar, NULL)) {
        fprintf(stderr, "tzel-rollup-sim: --check-note wants MASTER_SK_HEX:J:AUTH_ROOT_HEX\n");
        return 2;
    }
    tz_published_note *pn = malloc(sizeof *pn);
    tz_note_receiver *r = malloc(sizeof *r);
    uint8_t *bytes = malloc(TZ_PUBLISHED_NOTE_BYTES);
    tz_keys keys;
    tz_keys_derive(&keys, &msk);
    int rc = 1;
    if (pn && r && bytes && tz_note_receiver_init(r, &keys, j, &ar) == TZ_OK) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                               line[len - 1] == ' '))
                len--;
            if (len > 0)
                check_one(r, line, (size_t)len, bytes, pn);
        }
        free(line);
        tz_note_receiver_wipe(r);
        rc = 0;
    }
    free(pn);
    free(r);
    free(bytes);
    tz_keys_wipe(&keys);
    sodium_memzero(&msk, sizeof msk);
    return rc;
}
