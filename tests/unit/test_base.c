/* The ground floor: capped buffer (fail and truncate modes, wiping,
 * steal), strict number parsing, the parallel for-loop, the SIGTERM then
 * SIGKILL escalation, the clocks. */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/num.h"
#include "base/par.h"
#include "base/path.h"
#include "base/proc.h"
#include "tz_test.h"

static void test_buf(void)
{
    tz_buf b = TZ_BUF_INIT(10, false);
    CHECK(tz_buf_puts(&b, "hello") && b.len == 5 && strcmp(b.data, "hello") == 0);
    CHECK(tz_buf_append(&b, "12345", 5) && b.len == 10);
    /* past the maximum: refused whole, sticky */
    CHECK(!tz_buf_append(&b, "x", 1) && b.failed && b.len == 10);
    CHECK(!tz_buf_append(&b, "", 0));
    tz_buf_reset(&b, 1 << 20);
    CHECK(!b.failed && b.len == 0 && b.data && b.data[0] == '\0');
    CHECK(tz_buf_append(&b, "", 0) && b.len == 0);
    tz_buf_free(&b);
    CHECK(b.data == NULL && b.max == 10);
    /* storage stops at the cap (plus the NUL), never a doubling beyond */
    tz_buf c = TZ_BUF_INIT(1000, false);
    bool all_in = true;
    for (int i = 0; i < 100; i++)
        all_in = all_in && tz_buf_append(&c, "0123456789", 10);
    CHECK(all_in && c.len == 1000 && c.alloc == 1001);
    tz_buf_free(&c);

    /* truncate mode keeps the prefix and counts the rest */
    tz_buf t = {.max = 4, .truncate = true};
    CHECK(tz_buf_puts(&t, "abcdef") && t.len == 4 && strcmp(t.data, "abcd") == 0 &&
          t.dropped == 2);
    CHECK(tz_buf_puts(&t, "gh") && t.len == 4 && t.dropped == 4);
    tz_buf_free(&t);

    /* growth across many doublings, wiping mode, steal */
    tz_buf w = TZ_BUF_INIT(0, true);
    bool all = true;
    for (int i = 0; i < 10000 && all; i++)
        all = tz_buf_append(&w, "0123456789", 10);
    CHECK(all && w.len == 100000 && w.data[99999] == '9' && w.data[100000] == '\0');
    size_t n = 0;
    char *d = tz_buf_steal(&w, &n);
    CHECK(d && n == 100000 && w.data == NULL && w.len == 0);
    free(d);
    /* reset releases large storage */
    CHECK(tz_buf_append(&w, "abc", 3));
    tz_buf_reset(&w, 8);
    CHECK(w.data == NULL && w.len == 0 && w.wipe);
    tz_buf_free(&w);
}

static void test_num(void)
{
    uint64_t v = 7;
    CHECK(tz_parse_u64("0", UINT64_MAX, &v) && v == 0);
    CHECK(tz_parse_u64("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
    CHECK(tz_parse_u64("007", UINT64_MAX, &v) && v == 7);
    char dec[TZ_U128_DEC_MAX];
    CHECK(!strcmp(tz_u128_dec(dec, 0), "0") && !strcmp(tz_u128_dec(dec, 1234), "1234"));
    CHECK(!strcmp(tz_u128_dec(dec, ~(unsigned __int128)0),
                  "340282366920938463463374607431768211455"));
    v = 9;
    CHECK(!tz_parse_u64("18446744073709551616", UINT64_MAX, &v) && v == 9);
    CHECK(!tz_parse_u64("99999999999999999999", UINT64_MAX, &v));
    CHECK(!tz_parse_u64("", UINT64_MAX, &v) && !tz_parse_u64(NULL, UINT64_MAX, &v));
    CHECK(!tz_parse_u64("+1", UINT64_MAX, &v) && !tz_parse_u64("-1", UINT64_MAX, &v));
    CHECK(!tz_parse_u64(" 1", UINT64_MAX, &v) && !tz_parse_u64("1 ", UINT64_MAX, &v));
    CHECK(!tz_parse_u64("1x", UINT64_MAX, &v) && !tz_parse_u64("0x10", UINT64_MAX, &v));
    CHECK(tz_parse_u64("128", 128, &v) && v == 128 && !tz_parse_u64("129", 128, &v));
    CHECK(tz_parse_u64_n("12abc", 2, UINT64_MAX, &v) && v == 12);
    CHECK(!tz_parse_u64_n("1\0" "2", 3, UINT64_MAX, &v));
    CHECK(v == 12);
}

static atomic_uint_fast64_t g_sum;
static uint8_t g_seen[100003];

static void sum_range(void *ctx, uint64_t b, uint64_t e)
{
    (void)ctx;
    for (uint64_t i = b; i < e; i++) {
        g_seen[i]++;
        atomic_fetch_add(&g_sum, i);
    }
}

static uint64_t g_last_done;
static int g_progress_calls;
static void on_progress(void *ctx, uint64_t done, uint64_t n)
{
    (void)ctx;
    CHECK(done >= g_last_done && done <= n);
    g_last_done = done;
    g_progress_calls++;
}

static void test_par(void)
{
    const uint64_t n = 100003;
    for (unsigned threads = 0; threads <= 5; threads++) {
        memset(g_seen, 0, sizeof g_seen);
        atomic_store(&g_sum, 0);
        g_last_done = 0;
        g_progress_calls = 0;
        tz_par_for(n, 97, threads, sum_range, NULL, on_progress, NULL);
        int once = 1;
        for (uint64_t i = 0; i < n; i++)
            once &= g_seen[i] == 1;
        CHECK_MSG(once && atomic_load(&g_sum) == n * (n - 1) / 2, "threads %u", threads);
        CHECK(g_last_done == n && g_progress_calls >= 1);
    }
    /* an empty loop still reports completion */
    g_last_done = 0;
    g_progress_calls = 0;
    tz_par_for(0, 8, 2, sum_range, NULL, on_progress, NULL);
    CHECK(g_progress_calls == 1 && g_last_done == 0);
    CHECK(tz_online_cores() >= 1);
}

/* A child that ignores SIGTERM gets SIGKILL after the grace period; one
 * that honours it exits on SIGTERM. */
static void test_term(void)
{
    for (int ignore = 0; ignore <= 1; ignore++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (ignore)
                signal(SIGTERM, SIG_IGN);
            for (;;)
                pause();
        }
        CHECK(pid > 0);
        if (pid <= 0)
            return;
        tz_sleep_ms(50, NULL); /* let the child install its handler */
        tz_term t = {0};
        CHECK(tz_term_poll(&t, pid, tz_mono_ms()) == 0); /* nothing scheduled */
        int64_t t0 = tz_mono_ms();
        tz_term_schedule(&t, t0 + 20, 150);
        CHECK(tz_term_poll(&t, pid, t0) == 0);
        int sent_term = 0, sent_kill = 0, status = 0;
        pid_t got = 0;
        while (got == 0 && tz_mono_ms() - t0 < 5000) {
            int r = tz_term_poll(&t, pid, tz_mono_ms());
            sent_term += r == 1;
            sent_kill += r == 2;
            got = waitpid(pid, &status, WNOHANG);
            tz_sleep_ms(5, NULL);
        }
        CHECK(got == pid && WIFSIGNALED(status));
        CHECK_MSG(sent_term == 1 && WTERMSIG(status) == (ignore ? SIGKILL : SIGTERM),
                  "ignore %d: term %d kill %d signal %d", ignore, sent_term, sent_kill,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        CHECK(sent_kill == ignore);
        CHECK(tz_term_poll(&t, pid, tz_mono_ms() + 100000) == 0 || !ignore);
    }
}

static void test_path(void)
{
    const char *base = NULL;
    char *d = tz_path_dirname("/a/b/w.json", &base);
    CHECK(d && !strcmp(d, "/a/b") && !strcmp(base, "w.json"));
    free(d);
    d = tz_path_dirname("w.json", &base);
    CHECK(d && !strcmp(d, ".") && !strcmp(base, "w.json"));
    free(d);
    d = tz_path_dirname("/w.json", &base);
    CHECK(d && !strcmp(d, "/") && !strcmp(base, "w.json"));
    free(d);
    d = tz_path_dirname("dir/", &base);
    CHECK(d && !strcmp(d, "dir") && !strcmp(base, ""));
    free(d);
    char *c = tz_path_companion("/a/w.json", ".lock");
    CHECK(c && !strcmp(c, "/a/w.json.lock"));
    free(c);
    c = tz_path_companion("w", "");
    CHECK(c && !strcmp(c, "w"));
    free(c);
}

static void test_clock(void)
{
    int64_t a = tz_mono_ms();
    double s = tz_mono_secs();
    tz_sleep_ms(20, NULL);
    CHECK(tz_mono_ms() - a >= 20 && tz_mono_secs() - s >= 0.019);
    CHECK(tz_wall_ms() > 1600000000000LL);
    volatile int stop = 1;
    tz_sleep_ms(0, &stop);
}

int main(void)
{
    test_buf();
    test_num();
    test_par();
    test_term();
    test_path();
    test_clock();
    return tz_test_done("base");
}
