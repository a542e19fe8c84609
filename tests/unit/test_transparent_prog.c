/* The tzel-transparent-prover program (TZ_BIN_DIR, else next to this
 * test) run as the wallet runs reprove: it proves an argument file into a
 * bundle that verifies, names a failed check on stderr without writing
 * output, and exits 2 on bad usage. */
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spend/bundle.h"
#include "spend/prover_json.h"
#include "tz_test_witness.h"

/* ---- the program ------------------------------------------------------- */

extern char **environ;

static char bin_path[PATH_MAX + 64], tmp_dir[64];

static int find_bin(void)
{
    const char *d = getenv("TZ_BIN_DIR");
    char self[PATH_MAX];
    if (!d) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 0;
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (!slash)
            return 0;
        *slash = 0;
        d = self;
    }
    snprintf(bin_path, sizeof bin_path, "%s/tzel-transparent-prover", d);
    return access(bin_path, X_OK) == 0;
}

/* tmp_dir/name; the answers rotate over four buffers: copy one that must
 * last. */
static char *tmp_path(const char *name)
{
    static char buf[4][128];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmp_dir, name);
    return p;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = calloc(1, 1 << 20);
    size_t n = s ? fread(s, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (len)
        *len = n;
    return s;
}

/* Runs the program with argv[1..] = a (NULL-terminated), stdout and stderr
 * into files of tmp_dir; returns the exit status (-1 if it did not exit). */
static int run(const char *const *a)
{
    const char *argv[12] = {bin_path};
    size_t n = 1;
    while (a[n - 1] && n < 11) {
        argv[n] = a[n - 1];
        n++;
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, tmp_path("stdout"), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&fa, 2, tmp_path("stderr"), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid;
    int st = -1;
    int rc = posix_spawn(&pid, bin_path, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void check_stderr(const char *want)
{
    char *e = slurp(tmp_path("stderr"), NULL);
    CHECK_MSG(e && strstr(e, want), "stderr \"%s\" lacks \"%s\"", e ? e : "(none)", want);
    free(e);
}

static void write_args(const char *name, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    tz_error err = {0};
    CHECK(tz_prover_args_json(args, n, &text, &len, &err) == TZ_OK);
    FILE *f = fopen(tmp_path(name), "wb");
    CHECK(f && text && fwrite(text, 1, len, f) == len);
    if (f)
        fclose(f);
    free(text);
}

static void test_program(void)
{
    size_t n = 0, len = 0;
    tz_error err = {0};
    if (!find_bin()) {
        fprintf(stderr, "test_program: %s not built, skipped\n", bin_path);
        return;
    }
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/tz-transparent-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        CHECK(0);
        return;
    }
    const char *exe_t = "/nowhere/run_transfer.executable.json";
    const char *exe_u = "run_unshield.executable.json";
    char a_path[128], o_path[128];
    snprintf(a_path, sizeof a_path, "%s", tmp_path("args.json"));
    snprintf(o_path, sizeof o_path, "%s", tmp_path("bundle.json"));

    /* a transfer proved, its bundle verifies */
    build_transfer(&tw);
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, &tw, &err) == TZ_OK);
    write_args("args.json", n);
    CHECK(run((const char *[]){exe_t, "--arguments-file", a_path, "--output", o_path, NULL}) == 0);
    char *text = slurp(o_path, &len);
    tz_kmsg_proof p = {0};
    CHECK(text && tz_bundle_parse(&p, text, len, &err) == TZ_OK);
    EXPECT(tz_transparent_verify(TZ_CIRCUIT_TRANSFER, &p, &e_), TZ_OK, NULL);
    CHECK(p.len == n * 32 && !memcmp(p.bytes, args, p.len));
    tz_kmsg_proof_free(&p);
    free(text);

    /* the same arguments as an unshield: rejected, output untouched */
    unlink(o_path);
    CHECK(run((const char *[]){exe_u, "--output", o_path, "--arguments-file", a_path, NULL}) ==
          1);
    check_stderr("prover arguments");
    CHECK(access(o_path, F_OK) != 0);

    /* one flipped bit of an auth sibling of input 1: the check is named */
    args[5 + 18 + 96 + 16 + 2].b[3] ^= 0x10;
    write_args("args.json", n);
    CHECK(run((const char *[]){exe_t, "--arguments-file", a_path, "--output", o_path, NULL}) ==
          1);
    check_stderr("input 1: WOTS signature of the sighash (key_idx 40000) does not lead");
    CHECK(access(o_path, F_OK) != 0);

    /* an unshield and a shield */
    build_unshield(&uw, false);
    CHECK(tz_provarg_unshield(args, TZ_PROVARG_MAX, &n, &uw, &err) == TZ_OK);
    write_args("args.json", n);
    CHECK(run((const char *[]){exe_u, "--arguments-file", a_path, "--output", o_path, NULL}) == 0);
    text = slurp(o_path, &len);
    CHECK(text && tz_bundle_parse(&p, text, len, &err) == TZ_OK);
    EXPECT(tz_transparent_verify(TZ_CIRCUIT_UNSHIELD, &p, &e_), TZ_OK, NULL);
    tz_kmsg_proof_free(&p);
    free(text);
    build_shield(&sw);
    sw.fee += 1; /* not re-signed */
    CHECK(tz_provarg_shield(args, TZ_PROVARG_MAX, &n, &sw, &err) == TZ_OK);
    write_args("args.json", n);
    CHECK(run((const char *[]){"d/run_shield.executable.json", "--arguments-file", a_path,
                               "--output", o_path, NULL}) == 1);
    check_stderr("WOTS signature of the sighash (key_idx 300)");

    /* not JSON; a missing file; an unwritable output */
    FILE *f = fopen(a_path, "wb");
    if (f) {
        fputs("[\"0x1\",", f);
        fclose(f);
    }
    CHECK(run((const char *[]){exe_t, "--arguments-file", a_path, "--output", o_path, NULL}) ==
          1);
    CHECK(run((const char *[]){exe_t, "--arguments-file", tmp_path("none"), "--output", o_path,
                               NULL}) == 3);
    check_stderr("No such file");
    build_transfer(&tw);
    CHECK(tz_provarg_transfer(args, TZ_PROVARG_MAX, &n, &tw, &err) == TZ_OK);
    write_args("args.json", n);
    CHECK(run((const char *[]){exe_t, "--arguments-file", a_path, "--output",
                               tmp_path("no/such/dir"), NULL}) == 3);

    /* usage */
    CHECK(run((const char *[]){"--help", NULL}) == 0);
    char *out = slurp(tmp_path("stdout"), NULL);
    CHECK(out && strstr(out, "--arguments-file FILE") && strstr(out, "NOT ZERO-KNOWLEDGE") &&
          strstr(out, "exit codes"));
    free(out);
    CHECK(run((const char *[]){NULL}) == 2);
    CHECK(run((const char *[]){exe_t, "--output", o_path, NULL}) == 2);
    CHECK(run((const char *[]){exe_t, "--arguments-file", NULL}) == 2);
    CHECK(run((const char *[]){exe_t, "--frobnicate", NULL}) == 2);
    CHECK(run((const char *[]){exe_t, exe_u, NULL}) == 2);
    CHECK(run((const char *[]){exe_t, "--output", "a", "--output", "b", NULL}) == 2);
    CHECK(run((const char *[]){"run_mint.executable.json", "--arguments-file", a_path,
                               "--output", o_path, NULL}) == 2);
    check_stderr("not a circuit executable");
    CHECK(run((const char *[]){exe_u, "--program-hash", NULL}) == 0);
    out = slurp(tmp_path("stdout"), NULL);
    tz_felt ph;
    char hex[TZ_FELT_HEX + 1];
    tz_transparent_program_hash(&ph, TZ_CIRCUIT_UNSHIELD);
    tz_felt_to_hex(hex, &ph);
    CHECK(out && strlen(out) == 65 && !strncmp(out, hex, 64));
    free(out);

    const char *names[] = {"args.json", "bundle.json", "stdout", "stderr"};
    for (size_t i = 0; i < 4; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmp_dir);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    witness_keys_init();
    test_program();
    witness_keys_wipe();
    return tz_test_done("test_transparent_prog");
}
