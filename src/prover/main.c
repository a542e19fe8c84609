/* tzel-transparent-prover: the transparent prover (spend/transparent.h)
 * behind the local prover's command line (SPENDS.md section 6,
 * `reprove <dir>/<circuit>.executable.json --arguments-file F --output
 * F`), so a wallet configured for reprove can use it unchanged. The
 * circuit comes from the executable's file name; the file itself is not
 * read. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "core/provarg.h"
#include "spend/bundle.h"
#include "spend/prover_json.h"
#include "spend/transparent.h"

enum {
    EXIT_PROVED = 0,
    EXIT_REJECTED = 1, /* arguments malformed or the statement does not hold */
    EXIT_USAGE = 2,
    EXIT_IO = 3, /* arguments file unreadable or output not written */
};

/* An argument list is at most TZ_PROVARG_MAX strings of "0x" + 64 digits. */
#define ARGS_TEXT_MAX ((size_t)TZ_PROVARG_MAX * (TZ_FELT_0X_CHARS + 8) + 4096)

static const char usage_text[] =
    "usage: tzel-transparent-prover <dir>/<circuit>.executable.json\n"
    "           --arguments-file FILE --output FILE\n"
    "       tzel-transparent-prover <dir>/<circuit>.executable.json --program-hash\n"
    "       tzel-transparent-prover --help\n"
    "\n"
    "A stand-in for the local prover (reprove) that checks the statement of a\n"
    "spend circuit in the clear and writes a transparent proof bundle. The\n"
    "circuit is taken from the executable's file name: run_transfer,\n"
    "run_unshield or run_shield.executable.json (the file need not exist).\n"
    "\n"
    "  --arguments-file FILE  the prover arguments: a JSON array of \"0x...\"\n"
    "                         felts, element 0 the number that follow\n"
    "  --output FILE          where the bundle goes: {\"proof_bytes\": hex,\n"
    "                         \"output_preimage\": [64-hex felts]} (mode 0600)\n"
    "  --program-hash         print the circuit's transparent program hash\n"
    "                         (64 hex, little-endian) and exit\n"
    "\n"
    "Each check of the circuit is run (membership, nullifiers, WOTS\n"
    "signatures along the auth path, commitments, value balance, pubkey_hash);\n"
    "the first that fails is named on stderr.\n"
    "\n"
    "NOT ZERO-KNOWLEDGE: proof_bytes is the whole witness (spending keys'\n"
    "nk_spend, note openings, one-time signatures). For tests and the\n"
    "simulator only.\n"
    "\n"
    "exit codes:\n"
    "  0  bundle written (or program hash printed)\n"
    "  1  arguments malformed or the statement does not hold\n"
    "  2  bad command line\n"
    "  3  arguments file unreadable or output not written\n";

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "tzel-transparent-prover: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nTry 'tzel-transparent-prover --help'.\n");
    return EXIT_USAGE;
}

/* Reads the whole file into b (wiping, at most ARGS_TEXT_MAX bytes). */
static int read_file(const char *path, tz_buf *b)
{
    char chunk[4096];
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tzel-transparent-prover: %s: %s\n", path, strerror(errno));
        return EXIT_IO;
    }
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (!tz_buf_append(b, chunk, n)) {
            fprintf(stderr, "tzel-transparent-prover: %s: longer than %zu bytes\n", path,
                    ARGS_TEXT_MAX);
            rc = EXIT_IO;
            break;
        }
    if (!rc && ferror(f)) {
        fprintf(stderr, "tzel-transparent-prover: %s: %s\n", path, strerror(errno));
        rc = EXIT_IO;
    }
    sodium_memzero(chunk, sizeof chunk);
    fclose(f);
    return rc;
}

static int write_file(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    while (len) {
        ssize_t w = write(fd, text, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            errno = e;
            goto fail;
        }
        text += w, len -= (size_t)w;
    }
    if (close(fd) == 0)
        return 0;
fail:
    fprintf(stderr, "tzel-transparent-prover: %s: %s\n", path, strerror(errno));
    return EXIT_IO;
}

static int prove(tz_circuit c, const char *args_path, const char *out_path)
{
    tz_buf text = TZ_BUF_INIT(ARGS_TEXT_MAX, true);
    tz_felt *args = calloc(TZ_PROVARG_MAX, sizeof *args);
    tz_kmsg_proof p = {0};
    tz_error err = {0};
    char *json = NULL;
    size_t n = 0, json_len = 0;
    int rc;
    if (!args) {
        fprintf(stderr, "tzel-transparent-prover: out of memory\n");
        return EXIT_REJECTED;
    }
    rc = read_file(args_path, &text);
    if (rc)
        goto out;
    if (tz_prover_args_parse_json(args, TZ_PROVARG_MAX, &n, text.data ? text.data : "",
                                  text.len, &err) ||
        tz_transparent_prove(c, args, n, &p, &err) || tz_bundle_json(&p, &json, &json_len, &err)) {
        fprintf(stderr, "tzel-transparent-prover: %s: %s\n", args_path, err.msg);
        rc = EXIT_REJECTED;
        goto out;
    }
    rc = write_file(out_path, json, json_len);
out:
    if (json) {
        sodium_memzero(json, json_len);
        free(json);
    }
    if (p.bytes)
        sodium_memzero(p.bytes, p.len);
    tz_kmsg_proof_free(&p);
    sodium_memzero(args, TZ_PROVARG_MAX * sizeof *args);
    free(args);
    tz_buf_free(&text);
    return rc;
}

int main(int argc, char **argv)
{
    const char *exe = NULL, *args_path = NULL, *out_path = NULL;
    int want_hash = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return EXIT_PROVED;
        } else if (!strcmp(a, "--program-hash")) {
            want_hash = 1;
            continue;
        } else if (!strcmp(a, "--arguments-file")) {
            slot = &args_path;
        } else if (!strcmp(a, "--output")) {
            slot = &out_path;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option %s", a);
        } else if (exe) {
            return usage_error("unexpected argument %s (one executable only)", a);
        } else {
            exe = a;
            continue;
        }
        if (*slot)
            return usage_error("%s given twice", a);
        if (i + 1 >= argc || !argv[i + 1][0])
            return usage_error("%s needs a file name", a);
        *slot = argv[++i];
    }
    if (!exe)
        return usage_error("%s", "missing <dir>/<circuit>.executable.json");
    tz_circuit c;
    tz_error err = {0};
    if (tz_transparent_circuit_of_exe(exe, &c, &err))
        return usage_error("%s", err.msg);
    if (want_hash) {
        if (args_path || out_path)
            return usage_error("%s", "--program-hash takes no other option");
        tz_felt ph;
        char hex[TZ_FELT_HEX + 1];
        tz_transparent_program_hash(&ph, c);
        tz_felt_to_hex(hex, &ph);
        printf("%s\n", hex);
        return EXIT_PROVED;
    }
    if (!args_path || !out_path)
        return usage_error("%s", "--arguments-file and --output are both required");
    if (sodium_init() < 0) {
        fprintf(stderr, "tzel-transparent-prover: libsodium failed to start\n");
        return EXIT_REJECTED;
    }
    return prove(c, args_path, out_path);
}
