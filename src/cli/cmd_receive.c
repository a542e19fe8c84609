/* `tzel-wallet receive`: allocates the next address and prints its
 * payment address. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/keys.h"
#include "output.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] receive [--out FILE]\n"
    "\n"
    "Derives the wallet's next address, saves the wallet, then prints `Address #N`\n"
    "and the payment address as pretty JSON (d_j, auth_root, auth_pub_seed, nk_tag,\n"
    "ek_v, ek_d in hex) on stdout, and its canonical wire encoding (hex) on stderr.\n"
    "With --json the envelope's result is {address, index} (plus address_wire_hex,\n"
    "path and wrote with --out).\n"
    "\n"
    "  --out FILE   also write the payment address JSON object alone to FILE (mode\n"
    "               0600): the file tzel-rollup-sim --pay reads\n";

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *out_path = NULL;
    const tz_opt opts[] = {{"out", TZ_OPT_VALUE, &out_path}};
    int rc = tz_cli_parse_args(cli, &tz_cmd_receive, argc, argv, opts, 1);
    if (rc >= 0)
        return rc;
    if (out_path && !*out_path)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--out needs a file name");
    /* Before the save: a refused --out must not use up an address. */
    if (out_path && (rc = tz_cli_check_out_path(cli, out_path)))
        return rc;

    tz_cli_session ses = {0};
    tz_wallet *w = NULL;
    tz_keys keys;
    memset(&keys, 0, sizeof keys);
    tz_payment_address *pa = NULL;
    json_t *addr = NULL;
    char *wire = NULL;
    size_t pos = 0;

    if ((rc = tz_cli_session_open(cli, &ses)))
        goto out;
    w = ses.w;
    tz_keys_derive(&keys, &w->master_sk);
    if ((rc = tz_cli_alloc_address(cli, w, &keys, &pos)))
        goto out;
    if (!(pa = malloc(sizeof *pa))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    if ((rc = tz_cli_payment_address(cli, &keys, &w->addresses[pos], pa)))
        goto out;
    addr = tz_payment_address_json(pa);
    wire = tz_payment_address_wire_hex(pa);
    if (!addr || !wire) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    /* Saved before anything is shown: an address handed out is never
     * handed out again. */
    if ((rc = tz_cli_save(cli, w)))
        goto out;
    if (out_path && (rc = tz_cli_write_private_json(cli, out_path, addr)))
        goto out;

    uint32_t index = w->addresses[pos].index;
    /* The reference's output: `Address #N` and the pretty address JSON on
     * stdout (with --json: the line on stderr, the address in the result). */
    tz_out_text(cli, "Address #%u", (unsigned)index);
    if (!cli->json && tz_out_json_pretty(stdout, addr)) {
        rc = tz_out_fail(cli, TZ_EXIT_IO, "cannot write to stdout");
        goto out;
    }
    if (out_path)
        tz_out_info(cli, "Wrote %s", out_path);
    if (!cli->json)
        tz_out_info(cli, "Canonical wire encoding (hex): %s", wire);
    json_t *res = json_object();
    json_object_set_new(res, "index", json_integer(index));
    json_object_set_new(res, "address", addr);
    addr = NULL;
    if (out_path) {
        /* Ours, only on request: the reference result has index and address. */
        json_object_set_new(res, "address_wire_hex", json_string(wire));
        json_object_set_new(res, "wrote", json_true());
        json_object_set_new(res, "path", json_string(out_path));
    }
    rc = tz_out_result(cli, res);
out:
    json_decref(addr);
    free(wire);
    free(pa);
    tz_keys_wipe(&keys);
    tz_cli_session_close(&ses);
    return rc;
}

const tz_cmd tz_cmd_receive = {
    .name = "receive",
    .summary = "derive the next address and print its payment address",
    .usage = usage,
    .run = run,
};
