/* tzel-rollup-sim: a local rollup node serving the TzEL kernel's durable
 * state over the Octez smart-rollup-node RPC. See docs/simulator.md. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "base/num.h"
#include "chain.h"
#include "server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tzel-rollup-sim [options]\n"
            "  --port P               listen on 127.0.0.1:P (default 8932; 0 = any free port)\n"
            "  --seed S               chain generation seed (default \"tzel-sim\")\n"
            "  --leaves N             published notes at start (default 16)\n"
            "  --pay FILE:COUNT[:V]   COUNT of the notes pay the address in FILE value V\n"
            "                         (default %d); repeatable\n"
            "  --chain-cache DIR      cache generated chains in DIR\n"
            "  --threads T            generation threads (default: all cores)\n"
            "  --latency-ms L         delay every RPC response by L ms\n"
            "  --capacity-rps R       the node serves at most R requests/s in all; beyond,\n"
            "                         requests queue and their latency grows (0: no limit)\n"
            "  --max-connections M    active connection limit (default 100)\n"
            "  --http-threads T       HTTP worker threads (default 2)\n"
            "  --block-interval-ms I  append --block-notes random notes every I ms\n"
            "  --block-notes K        notes per timed block (default 1)\n"
            "  --keep-blocks K        blocks kept for pinned reads (default %d, min 64)\n"
            "  --no-values            the `values` route answers 404 (Octez < 21.3)\n"
            "  --acl-secure           `subkeys` and `values` answer 401 (remote ACL)\n"
            "  --operator-token T     bearer token of the operator API /v1/rollup/submissions\n"
            "  --operator-dal-polls N a payload above 4096 bytes goes \"dal\": commitment_included\n"
            "                         for its first N status reads, then submitted_to_l1 (0)\n"
            "                         (default \"" SIM_DEFAULT_OPERATOR_TOKEN "\")\n"
            "  --quiet                no progress messages\n"
            "helper modes:\n"
            "  --make-address MASTER_SK_HEX:J     print address J's payment address JSON\n"
            "  --check-note MASTER_SK_HEX:J:AUTH_ROOT_HEX   read a note (hex) on stdin,\n"
            "                                     print whether address J accepts it\n",
            SIM_DEFAULT_PAID_VALUE, SIM_DEFAULT_KEEP);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* FILE:COUNT[:VALUE] */
static bool parse_pay(const char *arg, sim_pay *p, tz_error *err)
{
    char *dup = strdup(arg);
    if (!dup)
        return false;
    char *c1 = strrchr(dup, ':');
    if (!c1 || !all_digits(c1 + 1)) {
        free(dup);
        tz_error_set(err, TZ_EINVAL, "--pay wants FILE:COUNT[:VALUE], got %s", arg);
        return false;
    }
    *c1 = '\0';
    uint64_t a = 0, b = 0;
    bool fits = tz_parse_u64(c1 + 1, UINT64_MAX, &a);
    char *c2 = strrchr(dup, ':');
    bool has_value = c2 && all_digits(c2 + 1);
    if (has_value) {
        *c2 = '\0';
        fits = tz_parse_u64(c2 + 1, UINT64_MAX, &b) && fits;
    }
    if (!fits) {
        free(dup);
        tz_error_set(err, TZ_EINVAL, "--pay %s: COUNT and VALUE must fit in 64 bits", arg);
        return false;
    }
    if (has_value) {
        p->count = b;
        p->value = a;
    } else {
        p->count = a;
        p->value = SIM_DEFAULT_PAID_VALUE;
    }
    bool ok = sim_addr_from_file(&p->to, dup, err) == TZ_OK;
    free(dup);
    return ok;
}

int main(int argc, char **argv)
{
    sim_server_opts so = {.port = 8932, .max_connections = 100, .http_threads = 2};
    sim_gen_params gp = {.seed = "tzel-sim", .leaves = 16, .keep = SIM_DEFAULT_KEEP,
                         .verbose = true};
    uint64_t interval = 0, block_notes = 1;
    sim_pay *pays = NULL;
    size_t npays = 0;
    tz_error err = {0};
    int rc = 2;
    if (sodium_init() < 0) {
        fputs("tzel-rollup-sim: libsodium could not be initialised\n", stderr);
        return 1;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
#define NEXT()                                                                   \
    do {                                                                         \
        if (!val) {                                                              \
            if (i + 1 >= argc) {                                                 \
                fprintf(stderr, "tzel-rollup-sim: %s needs a value\n", name);     \
                goto out;                                                        \
            }                                                                    \
            val = argv[++i];                                                     \
        }                                                                        \
    } while (0)
        uint64_t u;
        if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(name, "--make-address")) {
            NEXT();
            rc = sim_make_address_main(val);
            goto out;
        } else if (!strcmp(name, "--check-note")) {
            NEXT();
            rc = sim_check_note_main(val);
            goto out;
        } else if (!strcmp(name, "--no-values")) {
            so.no_values = true;
        } else if (!strcmp(name, "--acl-secure")) {
            so.acl_secure = true;
        } else if (!strcmp(name, "--quiet")) {
            gp.verbose = false;
        } else if (!strcmp(name, "--seed")) {
            NEXT();
            gp.seed = val;
        } else if (!strcmp(name, "--operator-token")) {
            NEXT();
            if (!*val) {
                fputs("tzel-rollup-sim: --operator-token must not be empty\n", stderr);
                goto out;
            }
            so.operator_token = val;
        } else if (!strcmp(name, "--chain-cache")) {
            NEXT();
            gp.cache_dir = val;
        } else if (!strcmp(name, "--pay")) {
            NEXT();
            sim_pay *np = realloc(pays, (npays + 1) * sizeof *np);
            if (!np)
                goto out;
            pays = np;
            if (!parse_pay(val, &pays[npays], &err)) {
                fprintf(stderr, "tzel-rollup-sim: %s\n", err.msg);
                goto out;
            }
            npays++;
        } else {
            NEXT();
            if (!tz_parse_u64(val, UINT64_MAX, &u)) {
                fprintf(stderr, "tzel-rollup-sim: %s wants a non-negative integer\n", name);
                goto out;
            }
            if (!strcmp(name, "--port") && u <= 65535)
                so.port = (unsigned)u;
            else if (!strcmp(name, "--leaves"))
                gp.leaves = u;
            else if (!strcmp(name, "--threads") && u <= 64)
                gp.threads = (unsigned)u;
            else if (!strcmp(name, "--latency-ms") && u <= 600000)
                so.latency_ms = (unsigned)u;
            else if (!strcmp(name, "--operator-dal-polls") && u <= 1000)
                so.operator_dal_polls = (unsigned)u;
            else if (!strcmp(name, "--capacity-rps") && u <= SIM_MAX_CAPACITY_RPS)
                so.capacity_rps = (unsigned)u;
            else if (!strcmp(name, "--max-connections") && u >= 1 && u <= 100000)
                so.max_connections = (unsigned)u;
            else if (!strcmp(name, "--http-threads") && u >= 1 && u <= 64)
                so.http_threads = (unsigned)u;
            else if (!strcmp(name, "--block-interval-ms"))
                interval = u;
            else if (!strcmp(name, "--block-notes") && u <= 10000)
                block_notes = u;
            else if (!strcmp(name, "--keep-blocks") && u <= 100000)
                gp.keep = (size_t)u;
            else {
                fprintf(stderr, "tzel-rollup-sim: unknown option or bad value: %s\n", a);
                usage(stderr);
                goto out;
            }
        }
#undef NEXT
    }
    gp.pays = pays;
    gp.npays = npays;

    signal(SIGPIPE, SIG_IGN);

    sim_chain *chain = malloc(sizeof *chain);
    if (!chain) {
        rc = 1;
        goto out;
    }
    if (sim_chain_init(chain, &gp, &err) != TZ_OK) {
        fprintf(stderr, "tzel-rollup-sim: %s\n", err.msg);
        free(chain);
        rc = 1;
        goto out;
    }
    /* From here on, signals are handled synchronously by this thread only
     * (before, during generation, they keep their default action). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sim_server *srv = NULL;
    unsigned port = 0;
    if (sim_server_start(&srv, chain, &so, &port, &err) != TZ_OK) {
        fprintf(stderr, "tzel-rollup-sim: %s\n", err.msg);
        sim_chain_free(chain);
        free(chain);
        rc = 1;
        goto out;
    }
    fprintf(stderr, "tzel-rollup-sim listening on http://127.0.0.1:%u\n", port);
    fflush(stderr);

    for (;;) {
        struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};
        if (interval) {
            ts.tv_sec = (time_t)(interval / 1000);
            ts.tv_nsec = (long)(interval % 1000) * 1000000;
        }
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            break;
        if (sig < 0 && errno == EAGAIN && interval) {
            if (sim_chain_append(chain, block_notes, NULL, 0, NULL, &err) != TZ_OK)
                fprintf(stderr, "tzel-rollup-sim: timed block failed: %s\n", err.msg);
        }
    }
    sim_server_stop(srv);
    sim_chain_free(chain);
    free(chain);
    rc = 0;
out:
    free(pays);
    return rc;
}
