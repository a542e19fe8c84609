/* spend/proc.h: a helper program's stdout and stderr read apart, its exit
 * status, a program that cannot start, output beyond the cap dropped, and
 * an output larger than a pipe's buffer on both streams at once (a reader
 * of one stream only would deadlock). */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "spend/proc.h"
#include "tz_test.h"

static void test_streams_apart(void)
{
    char *argv[] = {"sh", "-c", "printf 'Hash: tz1abc\\n'; printf 'warning\\n' >&2; exit 3", NULL};
    char *out = NULL, *err_out = NULL;
    int status = -1;
    tz_error err = {0};
    CHECK(tz_proc_capture(argv, &out, &err_out, &status, &err) == TZ_OK);
    CHECK(out && !strcmp(out, "Hash: tz1abc\n"));
    CHECK(err_out && !strcmp(err_out, "warning\n"));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
    free(out);
    free(err_out);
}

static void test_cannot_start(void)
{
    char *argv[] = {"/nonexistent/tzel-helper", NULL};
    char *out = NULL, *err_out = NULL;
    int status = 0;
    tz_error err = {0};
    CHECK(tz_proc_capture(argv, &out, &err_out, &status, &err) == TZ_ESTATE);
    CHECK_MSG(strstr(err.msg, "failed to start /nonexistent/tzel-helper") != NULL, "%s", err.msg);
    CHECK(out == NULL && err_out == NULL);
}

static void test_large_and_capped(void)
{
    /* 1 MiB on each stream, interleaved: both drained, each kept up to the cap */
    char *argv[] = {"sh", "-c",
                    "i=0; while [ $i -lt 16 ]; do head -c 65536 /dev/zero | tr '\\0' a; "
                    "head -c 65536 /dev/zero | tr '\\0' b >&2; i=$((i+1)); done; echo end",
                    NULL};
    char *out = NULL, *err_out = NULL;
    int status = -1;
    tz_error err = {0};
    CHECK(tz_proc_capture(argv, &out, &err_out, &status, &err) == TZ_OK);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(out && strlen(out) == TZ_PROC_OUTPUT_MAX && out[0] == 'a');
    CHECK(err_out && strlen(err_out) == TZ_PROC_OUTPUT_MAX && err_out[0] == 'b');
    free(out);
    free(err_out);
}

static void test_trim(void)
{
    char s[] = " \t\n 0x1234abcd \r\n";
    CHECK(!strcmp(tz_proc_trim(s), "0x1234abcd"));
    char e[] = "  \n";
    CHECK(!strcmp(tz_proc_trim(e), ""));
}

int main(void)
{
    test_streams_apart();
    test_cannot_start();
    test_large_and_capped();
    test_trim();
    return tz_test_done("test_proc");
}
