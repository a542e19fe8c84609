/* The CLI side of address derivation: progress and info lines on stderr
 * around store/address.c, failures mapped to exit codes. */
#include "derive.h"

#include "command.h"
#include "common.h"
#include "output.h"
#include "core/xmss.h"
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
