/* Shared helpers of the tzel-wallet commands (see common.h). */
#include "common.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/num.h"
#include "base/path.h"
#include "core/note.h"
#include "core/wire.h"
#include "output.h"
#include "store/atomic.h"
#include "store/floor.h"
#include "store/fsys.h"
#include "store/jsonnum.h"
#include "store/lock.h"
#include "store/pidfile.h"
#include "store/profile.h"
#include "store/sentinel.h"
#include "store/wallet_path.h"

/* ---- arguments ----------------------------------------------------------- */

static const tz_opt *find_opt(const tz_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

/* The wallet path, resolved once for the whole command (see
 * store/wallet_path.h): -1, or an exit code (reported). */
static int resolve_wallet(tz_cli *cli, const tz_cmd *cmd)
{
    char *path = NULL;
    bool exists = false;
    tz_error err = {0};
    tz_status st = tz_wallet_path_resolve(cli->wallet_path, &path, &exists, &err);
    if (st)
        return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_WALLET, "%s",
                           err.msg);
    if (!exists && !cmd->creates_wallet && strcmp(path, cli->wallet_path)) {
        int rc = tz_out_fail(cli, TZ_EXIT_WALLET,
                             "wallet path %s is a symlink to %s, which does not exist (a "
                             "dangling link: fix the link, or pass -w PATH)",
                             cli->wallet_path, path);
        free(path);
        return rc;
    }
    free(cli->wallet_path_owned);
    cli->wallet_path_owned = path;
    cli->wallet_path = path;
    return -1;
}

int tz_cli_parse_args(tz_cli *cli, const tz_cmd *cmd, int argc, char **argv,
                      const tz_opt *opts, size_t n)
{
    bool help = false;
    bool json_flag = false;
    const tz_opt globals[] = {
        {"wallet", TZ_OPT_VALUE, &cli->wallet_path},
        {"rollup-node-url", TZ_OPT_VALUE, &cli->rollup_node_url},
        {"json", TZ_OPT_FLAG, &json_flag},
        {"help", TZ_OPT_FLAG, &help},
    };
    /* --json anywhere applies to errors found before it, too. */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            cli->json = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h")) {
            help = true;
            continue;
        }
        if (!strcmp(a, "-w")) {
            if (i + 1 >= argc)
                return tz_out_fail(cli, TZ_EXIT_USAGE, "%s: option -w needs a value",
                                   cmd->name);
            cli->wallet_path = argv[++i];
            continue;
        }
        if (strncmp(a, "--", 2) || !a[2])
            return tz_out_fail(cli, TZ_EXIT_USAGE,
                               "%s: unexpected argument '%s' (see tzel-wallet %s --help)",
                               cmd->name, a, cmd->name);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const tz_opt *o = find_opt(opts, n, name, len);
        if (!o)
            o = find_opt(globals, sizeof globals / sizeof globals[0], name, len);
        if (!o)
            return tz_out_fail(cli, TZ_EXIT_USAGE,
                               "%s: unknown option '--%.*s' (see tzel-wallet %s --help)",
                               cmd->name, (int)len, name, cmd->name);
        if (o->kind == TZ_OPT_FLAG) {
            if (eq)
                return tz_out_fail(cli, TZ_EXIT_USAGE, "%s: option --%s takes no value",
                                   cmd->name, o->name);
            *(bool *)o->dest = true;
            if (o->dest == &json_flag)
                cli->json = true;
        } else {
            const char *v;
            if (eq) {
                v = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return tz_out_fail(cli, TZ_EXIT_USAGE, "%s: option --%s needs a value",
                                       cmd->name, o->name);
                v = argv[++i];
            }
            *(const char **)o->dest = v;
        }
    }
    if (help) {
        fputs(cmd->usage, stdout);
        fflush(stdout);
        return TZ_EXIT_OK;
    }
    if (!cli->wallet_path || !*cli->wallet_path)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "the wallet path must not be empty");
    return resolve_wallet(cli, cmd);
}

int tz_cli_parse_u64(const tz_cli *cli, const char *flag, const char *s, uint64_t *out)
{
    if (!s || !*s)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--%s needs a non-negative integer", flag);
    if (tz_parse_u64(s, UINT64_MAX, out))
        return TZ_EXIT_OK;
    if (strspn(s, "0123456789") == strlen(s))
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--%s: '%s' does not fit in 64 bits", flag, s);
    return tz_out_fail(cli, TZ_EXIT_USAGE, "--%s: '%s' is not a non-negative decimal integer",
                       flag, s);
}

/* ---- status mapping ------------------------------------------------------ */

int tz_exit_for_status(tz_status st)
{
    switch (st) {
    case TZ_OK: return TZ_EXIT_OK;
    case TZ_ELOCKED: return TZ_EXIT_LOCKED;
    case TZ_EHTTP: return TZ_EXIT_NETWORK;
    case TZ_EMISMATCH: return TZ_EXIT_CHAIN;
    case TZ_ENOTFOUND:
    case TZ_EPARSE:
    case TZ_ESTATE: return TZ_EXIT_WALLET;
    case TZ_EIO: return TZ_EXIT_IO;
    case TZ_EINVAL: return TZ_EXIT_USAGE;
    default: return TZ_EXIT_FAILURE;
    }
}

int tz_exit_for_node_status(tz_status st)
{
    switch (st) {
    case TZ_EHTTP: return TZ_EXIT_NETWORK;
    case TZ_EPARSE:
    case TZ_ENOTFOUND:
    case TZ_EMISMATCH:
    case TZ_EINVAL: return TZ_EXIT_CHAIN;
    default: return tz_exit_for_status(st);
    }
}

/* ---- wallet -------------------------------------------------------------- */

static void warn_cb(const char *msg)
{
    tz_out_warn(NULL, "%s", msg);
}

int tz_cli_load_wallet(const tz_cli *cli, tz_wallet **out)
{
    tz_error err = {0};
    tz_status st = tz_wallet_load(cli->wallet_path, out, &err, warn_cb);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    if (st == TZ_ENOTFOUND)
        return tz_out_fail(cli, TZ_EXIT_WALLET,
                           "%s (create one with `tzel-wallet init`, or pass -w PATH)", err.msg);
    if (st == TZ_ENOMEM)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
    return tz_out_fail(cli, TZ_EXIT_WALLET, "%s", err.msg);
}

/* True when `<wallet>.lock` exists and does not (yet) hold a PID line. */
static bool lock_without_pid(const char *wallet_path)
{
    char *path = tz_path_companion(wallet_path, TZ_LOCK_SUFFIX);
    if (!path)
        return false;
    tz_pid_file f;
    bool r = tz_pid_file_read(path, &f, NULL) == TZ_OK && !f.has_pid;
    tz_pid_file_release(&f);
    free(path);
    return r;
}

int tz_cli_lock(const tz_cli *cli, tz_lock **out)
{
    tz_error err = {0};
    tz_status st = tz_lock_acquire(cli->wallet_path, out, &err);
    /* A holder writes its PID just after creating the file: a lock seen
     * in between is looked at again for a moment, so the error can name
     * the holder. */
    for (int i = 0; st == TZ_ELOCKED && i < 10 && lock_without_pid(cli->wallet_path); i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        st = tz_lock_acquire(cli->wallet_path, out, &err);
    }
    if (st == TZ_OK) {
        if (tz_lock_recovered(*out))
            tz_out_warn(cli, "%s", tz_lock_recovered(*out));
        char msg[TZ_ERROR_MSG_MAX + 200];
        if (tz_cli_sweep_stale(cli, msg, sizeof msg))
            tz_out_warn(cli, "%s", msg);
        return TZ_EXIT_OK;
    }
    if (st == TZ_ELOCKED)
        return tz_out_fail(cli, TZ_EXIT_LOCKED, "%s", err.msg);
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "%s", err.msg);
}

bool tz_cli_sweep_stale(const tz_cli *cli, char *msg, size_t cap)
{
    size_t removed = 0;
    tz_error err = {0};
    tz_status st = tz_wallet_path_sweep(cli->wallet_path, &removed, &err);
    if (st)
        snprintf(msg, cap, "could not remove every stale temp file next to %s: %s",
                 cli->wallet_path, err.msg);
    else if (removed)
        snprintf(msg, cap,
                 "removed %zu stale temp file%s left next to %s by an interrupted save",
                 removed, removed == 1 ? "" : "s", cli->wallet_path);
    return st || removed;
}

int tz_cli_save(const tz_cli *cli, tz_wallet *w)
{
    tz_error err = {0};
    tz_status st = tz_wallet_save(w, &err);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "%s", err.msg);
}

int tz_cli_check_out_path(const tz_cli *cli, const char *path)
{
    static const char *const suffixes[] = {"", TZ_FLOOR_SUFFIX, TZ_LOCK_SUFFIX, TZ_PROFILE_SUFFIX,
                                           TZ_SENTINEL_SUFFIX};
    struct stat out_sb;
    if (stat(path, &out_sb) != 0)
        return TZ_EXIT_OK; /* a new file cannot be one of the wallet's */
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char *own = tz_path_companion(cli->wallet_path, suffixes[i]);
        if (!own)
            return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        struct stat sb;
        bool same = stat(own, &sb) == 0 && sb.st_dev == out_sb.st_dev && sb.st_ino == out_sb.st_ino;
        free(own);
        if (same)
            return tz_out_fail(cli, TZ_EXIT_USAGE,
                               "--out %s is the wallet's own file %s%s; choose another file", path,
                               cli->wallet_path, suffixes[i]);
    }
    return TZ_EXIT_OK;
}

int tz_cli_write_private_json(const tz_cli *cli, const char *path, const json_t *v)
{
    char *text = NULL;
    size_t len = 0;
    tz_error err = {0};
    int rc = tz_cli_check_out_path(cli, path);
    if (rc)
        return rc;
    tz_status st = tz_json_dump_exact(v, &text, &len, &err);
    if (st)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
    st = tz_atomic_write(path, text, len, 0600, &err);
    sodium_memzero(text, len);
    free(text);
    if (st)
        return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "write %s: %s",
                           path, err.msg);
    return TZ_EXIT_OK;
}

/* ---- rollup node --------------------------------------------------------- */

int tz_cli_load_profile(const tz_cli *cli, tz_profile **out)
{
    *out = NULL;
    tz_error err = {0};
    tz_status st = tz_profile_load(cli->wallet_path, out, &err);
    if (st == TZ_OK || st == TZ_ENOTFOUND)
        return TZ_EXIT_OK;
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_WALLET, "%s", err.msg);
}

int tz_cli_save_profile_url(const tz_cli *cli, const char *url)
{
    tz_error err = {0};
    tz_status st = tz_profile_write_url(cli->wallet_path, url, &err);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    return tz_out_fail(cli, st == TZ_EINVAL ? TZ_EXIT_USAGE
                            : st == TZ_ENOMEM ? TZ_EXIT_FAILURE
                                              : TZ_EXIT_IO,
                       "%s", err.msg);
}

int tz_cli_node_url(const tz_cli *cli, char **out)
{
    tz_error err = {0};
    tz_status st = tz_profile_resolve_url(cli->rollup_node_url, cli->wallet_path, out, NULL, &err);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    if (st == TZ_ENOTFOUND)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "%s", err.msg);
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_WALLET, "%s", err.msg);
}

int tz_cli_node_fail(const tz_cli *cli, const char *what, const tz_error *err)
{
    int code = tz_exit_for_node_status(err->code);
    if (err->code == TZ_ENOTFOUND)
        return tz_out_fail(cli, code, "%s: the rollup node has no such value (%s)", what,
                           err->msg);
    return tz_out_fail(cli, code, "%s: %s", what, err->msg);
}

int tz_cli_connect(const tz_cli *cli, unsigned concurrency, tz_rpc **rpc,
                   char block[TZ_BLOCK_HASH_MAX])
{
    char *url = NULL;
    int rc = tz_cli_node_url(cli, &url);
    if (rc)
        return rc;
    tz_error err = {0};
    tz_rpc *c = tz_rpc_new(url, concurrency, &err);
    if (!c) {
        rc = tz_out_fail(cli, err.code == TZ_EINVAL ? TZ_EXIT_USAGE : TZ_EXIT_NETWORK,
                         "rollup node %s: %s", url, err.msg);
        free(url);
        return rc;
    }
    tz_status st = tz_rpc_head_hash(c, block, &err);
    if (st) {
        err.code = st;
        char what[600];
        snprintf(what, sizeof what, "rollup node %s: pinning the head", url);
        rc = tz_cli_node_fail(cli, what, &err);
        tz_rpc_free(c);
        free(url);
        return rc;
    }
    free(url);
    *rpc = c;
    return TZ_EXIT_OK;
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

/* ---- profile checks and deposit pools ------------------------------------ */

const char *tz_cli_profile_str(const tz_profile *p, const char *key)
{
    json_t *v = p ? json_object_get(p->doc, key) : NULL;
    return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
}

int tz_cli_check_rollup_address(const tz_cli *cli, tz_rpc *rpc, const tz_profile *prof)
{
    const char *want = tz_cli_profile_str(prof, "rollup_address");
    if (!want)
        return TZ_EXIT_OK;
    char served[TZ_ROLLUP_ADDRESS_MAX];
    tz_error err = {0};
    tz_status st = tz_rpc_rollup_address(rpc, served, &err);
    if (st) {
        err.code = st;
        return tz_cli_node_fail(cli, "reading /global/smart_rollup_address", &err);
    }
    if (strcmp(served, want))
        return tz_out_fail(cli, TZ_EXIT_CHAIN,
                           "rollup-node served address (%s) does not match wallet "
                           "profile.rollup_address (%s); refusing to send a bridge deposit. "
                           "Update the wallet profile or point rollup_node_url at the right "
                           "rollup.",
                           served, want);
    return TZ_EXIT_OK;
}

int tz_cli_read_pools(const tz_cli *cli, tz_rpc *rpc, const char *block, const tz_wallet *w,
                      tz_pools *out)
{
    tz_error err = {0};
    tz_status st = tz_state_read_pools(rpc, block, w, out, &err);
    if (st == TZ_EPARSE)
        return tz_out_fail(cli, TZ_EXIT_CHAIN, "%s", err.msg);
    if (st) {
        err.code = st;
        return tz_cli_node_fail(cli, "reading deposit pool balances", &err);
    }
    return TZ_EXIT_OK;
}

void tz_cli_pools_print(const tz_cli *cli, const tz_pools *p, const tz_wallet *w, json_t *res)
{
    uint64_t awaiting, drained;
    tz_pools_unfunded(p, w, NULL, &awaiting, &drained);
    tz_out_text(cli, "Deposit pools: %llu funded, total balance %llu mutez",
                (unsigned long long)p->funded, (unsigned long long)p->total);
    if (!cli->json && awaiting)
        tz_out_text(cli, "Deposit pools awaiting on-chain credit: %llu",
                    (unsigned long long)awaiting);
    if (!cli->json && drained)
        tz_out_text(cli,
                    "Deposit pools drained but not yet pruned (run `tzel-wallet sync`): %llu",
                    (unsigned long long)drained);
    if (res) {
        json_object_set_new(res, "deposit_pools_funded", tz_json_u64(p->funded));
        json_object_set_new(res, "deposit_pools_total_mutez", tz_json_u64(p->total));
        json_object_set_new(res, "deposit_pools_awaiting_credit", tz_json_u64(awaiting));
        json_object_set_new(res, "deposit_pools_drained_pending_prune", tz_json_u64(drained));
    }
}

/* ---- JSON ---------------------------------------------------------------- */

json_t *tz_felt_json(const tz_felt *f)
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
    rc |= json_object_set_new(o, "d_j", tz_felt_json(&pa->d_j));
    rc |= json_object_set_new(o, "auth_root", tz_felt_json(&pa->auth_root));
    rc |= json_object_set_new(o, "auth_pub_seed", tz_felt_json(&pa->auth_pub_seed));
    rc |= json_object_set_new(o, "nk_tag", tz_felt_json(&pa->nk_tag));
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
