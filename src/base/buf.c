/* The capped growable buffer (buf.h). Growth doubles from 256 bytes; a
 * wiping buffer moves by malloc-copy-wipe-free, never realloc, so no copy
 * of its bytes is left in freed memory. */
#include "base/buf.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t limit(const tz_buf *b)
{
    return b->max ? b->max : SIZE_MAX / 2;
}

static bool reserve(tz_buf *b, size_t need)
{
    if (need <= b->alloc)
        return true;
    size_t na = b->alloc ? b->alloc : 256;
    while (na < need)
        na *= 2;
    if (b->max && na > b->max + 1) /* never more than the cap allows */
        na = b->max + 1;
    char *nd;
    if (b->wipe) {
        if (!(nd = malloc(na)))
            return false;
        if (b->data) {
            memcpy(nd, b->data, b->len + 1);
            sodium_memzero(b->data, b->alloc);
            free(b->data);
        }
    } else if (!(nd = realloc(b->data, na))) {
        return false;
    }
    b->data = nd;
    b->alloc = na;
    return true;
}

bool tz_buf_append(tz_buf *b, const void *p, size_t n)
{
    if (b->failed)
        return false;
    size_t room = limit(b) - b->len, take = n;
    if (n > room) {
        if (!b->truncate) {
            b->failed = true;
            return false;
        }
        take = room;
        b->dropped += n - room;
    }
    if (!reserve(b, b->len + take + 1)) {
        b->failed = true;
        return false;
    }
    if (take)
        memcpy(b->data + b->len, p, take);
    b->len += take;
    b->data[b->len] = '\0';
    return true;
}

bool tz_buf_puts(tz_buf *b, const char *s)
{
    return tz_buf_append(b, s, strlen(s));
}

void tz_buf_reset(tz_buf *b, size_t keep_alloc)
{
    if (b->alloc > keep_alloc) {
        tz_buf_free(b);
        return;
    }
    if (b->data && b->wipe)
        sodium_memzero(b->data, b->alloc);
    if (b->data)
        b->data[0] = '\0';
    b->len = b->dropped = 0;
    b->failed = false;
}

char *tz_buf_steal(tz_buf *b, size_t *len_or_null)
{
    char *d = b->data;
    if (len_or_null)
        *len_or_null = b->len;
    b->data = NULL;
    b->len = b->alloc = b->dropped = 0;
    b->failed = false;
    return d;
}

void tz_buf_free(tz_buf *b)
{
    if (b->data && b->wipe)
        sodium_memzero(b->data, b->alloc);
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = b->dropped = 0;
    b->failed = false;
}
