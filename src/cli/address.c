/* The CLI side of addresses (address.h): derivation with progress and info
 * lines on stderr around store/address.c, payment addresses, their JSON. */
#include "address.h"

#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "command.h"
#include "core/note.h"
#include "core/wire.h"
#include "core/xmss.h"
#include "output.h"
#include "store/address.h"

typedef struct view {
    const tz_cli *cli;
    tz_progress *p;
} view;

static void on_deriving(void *ctx, uint32_t j, uint32_t counter)
{
    view *v = ctx;
    if (j < counter)
        tz_out_info(v->cli, "Deriving missing address record #%u (addr_counter is %u)...",
                    (unsigned)j, (unsigned)counter);
    v->p = tz_progress_start(v->cli, "address", TZ_XMSS_LEAVES, "keys");
}

static void on_progress(void *ctx, uint32_t done, uint32_t total)
{
    (void)total;
    tz_progress_update(((view *)ctx)->p, done);
}

static void on_derived(void *ctx, uint32_t j)
{
    view *v = ctx;
    (void)j;
    tz_progress_finish(v->p);
    v->p = NULL;
}

int tz_cli_alloc_address(const tz_cli *cli, tz_wallet *w, const tz_keys *keys, size_t *pos)
{
    view v = {.cli = cli};
    tz_address_hooks h = {on_deriving, on_progress, on_derived, &v};
    tz_error err = {0};
    tz_status st = tz_wallet_next_address(w, keys, true, &h, pos, &err);
    return st ? tz_out_fail(cli, tz_exit_for_status(st), "%s", err.msg) : TZ_EXIT_OK;
}

int tz_cli_materialize_addresses(const tz_cli *cli, tz_wallet *w)
{
    if (w->addr_counter <= w->n_addresses)
        return TZ_EXIT_OK;
    view v = {.cli = cli};
    tz_address_hooks h = {on_deriving, on_progress, on_derived, &v};
    tz_error err = {0};
    tz_keys keys;
    tz_keys_derive(&keys, &w->master_sk);
    tz_status st = tz_wallet_materialize_addresses(w, &keys, w->addr_counter, true, &h, &err);
    tz_keys_wipe(&keys);
    return st ? tz_out_fail(cli, tz_exit_for_status(st), "%s", err.msg) : TZ_EXIT_OK;
}

int tz_cli_payment_address(const tz_cli *cli, const tz_keys *keys, const tz_wallet_address *a,
                           tz_payment_address *pa)
{
    tz_note_receiver *r = malloc(sizeof *r);
    if (!r)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
    tz_status st = tz_note_receiver_init(r, keys, a->index, &a->auth_root);
    if (st == TZ_OK)
        tz_note_receiver_address(r, pa);
    tz_note_receiver_wipe(r);
    free(r);
    if (st)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "address %u: cannot derive its ML-KEM keys",
                           (unsigned)a->index);
    return TZ_EXIT_OK;
}

json_t *tz_cli_felt_json(const tz_felt *f)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, f);
    return json_string(hex);
}

static json_t *bytes_json(const uint8_t *b, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return NULL;
    tz_hex_encode(hex, b, n);
    json_t *s = json_string(hex);
    free(hex);
    return s;
}

json_t *tz_payment_address_json(const tz_payment_address *pa)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = 0;
    rc |= json_object_set_new(o, "d_j", tz_cli_felt_json(&pa->d_j));
    rc |= json_object_set_new(o, "auth_root", tz_cli_felt_json(&pa->auth_root));
    rc |= json_object_set_new(o, "auth_pub_seed", tz_cli_felt_json(&pa->auth_pub_seed));
    rc |= json_object_set_new(o, "nk_tag", tz_cli_felt_json(&pa->nk_tag));
    rc |= json_object_set_new(o, "ek_v", bytes_json(pa->ek_v, sizeof pa->ek_v));
    rc |= json_object_set_new(o, "ek_d", bytes_json(pa->ek_d, sizeof pa->ek_d));
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *tz_payment_address_wire_hex(const tz_payment_address *pa)
{
    uint8_t *buf = malloc(TZ_PAYMENT_ADDRESS_BYTES);
    char *hex = malloc(2 * TZ_PAYMENT_ADDRESS_BYTES + 1);
    if (!buf || !hex) {
        free(buf);
        free(hex);
        return NULL;
    }
    tz_wire_encode_address(buf, pa);
    tz_hex_encode(hex, buf, TZ_PAYMENT_ADDRESS_BYTES);
    free(buf);
    return hex;
}

static bool hex_field(const json_t *o, const char *key, uint8_t *out, size_t n)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = s[2 * i], lo = s[2 * i + 1];
        int h = hi >= '0' && hi <= '9' ? hi - '0' : hi >= 'a' && hi <= 'f' ? hi - 'a' + 10 : -1;
        int l = lo >= '0' && lo <= '9' ? lo - '0' : lo >= 'a' && lo <= 'f' ? lo - 'a' + 10 : -1;
        if (h < 0 || l < 0)
            return false;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return true;
}

bool tz_cli_address_from_json(const json_t *o, tz_payment_address *pa)
{
    return json_is_object(o) && hex_field(o, "d_j", pa->d_j.b, TZ_FELT_BYTES) &&
           hex_field(o, "auth_root", pa->auth_root.b, TZ_FELT_BYTES) &&
           hex_field(o, "auth_pub_seed", pa->auth_pub_seed.b, TZ_FELT_BYTES) &&
           hex_field(o, "nk_tag", pa->nk_tag.b, TZ_FELT_BYTES) &&
           hex_field(o, "ek_v", pa->ek_v, TZ_KEM_EK_BYTES) &&
           hex_field(o, "ek_d", pa->ek_d, TZ_KEM_EK_BYTES);
}
