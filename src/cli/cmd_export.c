/* `tzel-wallet export-view | export-detect | export-outgoing`: watch-only
 * key material in the reference's shapes. Read-only (no lock). */
#include <sodium.h>
#include <string.h>

#include "common.h"
#include "core/keys.h"
#include "output.h"

typedef enum { EXPORT_VIEW, EXPORT_DETECT, EXPORT_OUTGOING } export_mode;

/* The material as the reference serializes it (mode tag first). */
static json_t *material(const tz_wallet *w, const tz_keys *k, export_mode m)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int rc = 0;
    switch (m) {
    case EXPORT_VIEW: {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < w->n_addresses; i++) {
            const tz_wallet_address *a = &w->addresses[i];
            json_t *e = json_object();
            rc |= json_object_set_new(e, "index", json_integer(a->index));
            rc |= json_object_set_new(e, "d_j", tz_cli_felt_json(&a->d_j));
            rc |= json_object_set_new(e, "auth_root", tz_cli_felt_json(&a->auth_root));
            rc |= json_object_set_new(e, "auth_pub_seed", tz_cli_felt_json(&a->auth_pub_seed));
            rc |= json_object_set_new(e, "nk_tag", tz_cli_felt_json(&a->nk_tag));
            rc |= json_array_append_new(arr, e);
        }
        rc |= json_object_set_new(o, "mode", json_string("view"));
        rc |= json_object_set_new(o, "version", json_integer(1));
        rc |= json_object_set_new(o, "incoming_seed", tz_cli_felt_json(&k->incoming_seed));
        rc |= json_object_set_new(o, "addresses", arr);
        break;
    }
    case EXPORT_DETECT:
        rc |= json_object_set_new(o, "mode", json_string("detect"));
        rc |= json_object_set_new(o, "version", json_integer(1));
        rc |= json_object_set_new(o, "detect_root", tz_cli_felt_json(&k->detect_root));
        rc |= json_object_set_new(o, "addr_count", json_integer(w->addr_counter));
        break;
    case EXPORT_OUTGOING:
        rc |= json_object_set_new(o, "mode", json_string("outgoing"));
        rc |= json_object_set_new(o, "version", json_integer(1));
        rc |= json_object_set_new(o, "outgoing_seed", tz_cli_felt_json(&k->outgoing_seed));
        break;
    }
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Zeroes the string values of `v` (the material holds seeds) and releases
 * the reference. */
static void wipe_decref(json_t *v)
{
    if (json_is_string(v)) {
        sodium_memzero((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) wipe_decref(json_incref(x));
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) wipe_decref(json_incref(x));
    }
    json_decref(v);
}

static int run_export(tz_cli *cli, const tz_cmd *cmd, export_mode m, int argc, char **argv)
{
    const char *out_path = NULL;
    const tz_opt opts[] = {{"out", TZ_OPT_VALUE, &out_path}};
    int rc = tz_cli_parse_args(cli, cmd, argc, argv, opts, 1);
    if (rc >= 0)
        return rc;
    if (out_path && !*out_path)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--out needs a file name");
    tz_wallet *w = NULL;
    if ((rc = tz_cli_load_wallet(cli, &w)))
        return rc;
    tz_keys keys;
    tz_keys_derive(&keys, &w->master_sk);
    json_t *mat = material(w, &keys, m);
    tz_keys_wipe(&keys);
    tz_wallet_free(w);
    if (!mat)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
    json_t *res = json_object();
    if (out_path) {
        rc = tz_cli_write_private_json(cli, out_path, mat);
        if (rc == TZ_EXIT_OK) {
            tz_out_text(cli, "Wrote %s", out_path);
            json_object_set_new(res, "wrote", json_true());
            json_object_set_new(res, "path", json_string(out_path));
        }
    } else if (!cli->json && tz_out_json_pretty(stdout, mat)) {
        rc = tz_out_fail(cli, TZ_EXIT_IO, "cannot write to stdout");
    } else {
        json_object_set_new(res, "wrote", json_false());
        json_object_set(res, "content", mat);
    }
    if (rc == TZ_EXIT_OK)
        rc = tz_out_result(cli, json_incref(res));
    wipe_decref(res);
    wipe_decref(mat);
    return rc;
}

static const char view_usage[] =
    "Usage: tzel-wallet [-w PATH] export-view [--out FILE]\n"
    "\n"
    "Exports viewing material: incoming_seed and the public address records, so a\n"
    "watcher can detect, decrypt and validate incoming notes but not spend them:\n"
    "{\"mode\":\"view\",\"version\":1,\"incoming_seed\",\"addresses\":[{index,d_j,auth_root,\n"
    "auth_pub_seed,nk_tag}]}. Printed on stdout, or written to FILE (mode 0600).\n"
    "With --json and no --out the material is the result's `content`.\n";

static const char detect_usage[] =
    "Usage: tzel-wallet [-w PATH] export-detect [--out FILE]\n"
    "\n"
    "Exports detection material: {\"mode\":\"detect\",\"version\":1,\"detect_root\",\n"
    "\"addr_count\"}. Its holder can flag candidate notes, not decrypt or spend them.\n"
    "Printed on stdout, or written to FILE (mode 0600).\n";

static const char outgoing_usage[] =
    "Usage: tzel-wallet [-w PATH] export-outgoing [--out FILE]\n"
    "\n"
    "Exports outgoing viewing material: {\"mode\":\"outgoing\",\"version\":1,\n"
    "\"outgoing_seed\"}, which recovers what this wallet sent. Printed on stdout, or\n"
    "written to FILE (mode 0600).\n";

static int run_view(tz_cli *cli, int argc, char **argv)
{
    return run_export(cli, &tz_cmd_export_view, EXPORT_VIEW, argc, argv);
}

static int run_detect(tz_cli *cli, int argc, char **argv)
{
    return run_export(cli, &tz_cmd_export_detect, EXPORT_DETECT, argc, argv);
}

static int run_outgoing(tz_cli *cli, int argc, char **argv)
{
    return run_export(cli, &tz_cmd_export_outgoing, EXPORT_OUTGOING, argc, argv);
}

const tz_cmd tz_cmd_export_view = {
    .name = "export-view",
    .summary = "export viewing material (incoming_seed and address records)",
    .usage = view_usage,
    .run = run_view,
};

const tz_cmd tz_cmd_export_detect = {
    .name = "export-detect",
    .summary = "export detection material (detect_root and address count)",
    .usage = detect_usage,
    .run = run_detect,
};

const tz_cmd tz_cmd_export_outgoing = {
    .name = "export-outgoing",
    .summary = "export outgoing viewing material (outgoing_seed)",
    .usage = outgoing_usage,
    .run = run_outgoing,
};
