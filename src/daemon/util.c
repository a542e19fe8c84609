#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t tz_wd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tz_wd_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool tz_buf_append(tz_buf *b, const char *p, size_t n)
{
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    size_t take = n < room ? n : room;
    b->dropped += n - take;
    if (b->len + take + 1 > b->alloc) {
        size_t na = b->alloc ? b->alloc : 256;
        while (na < b->len + take + 1)
            na *= 2;
        char *nd = realloc(b->data, na);
        if (!nd)
            return false;
        b->data = nd;
        b->alloc = na;
    }
    memcpy(b->data + b->len, p, take);
    b->len += take;
    b->data[b->len] = '\0';
    return true;
}

void tz_buf_free(tz_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
