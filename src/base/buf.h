/* A growable byte buffer with a hard maximum and optional wiping: the one
 * buffer for anything read from the network, a client or a file, and for
 * text that holds secrets (the wallet's JSON).
 *
 * Zero-initialise (or TZ_BUF_INIT), set `max` (0: no maximum but SIZE_MAX/2),
 * `wipe` (old storage is wiped when it moves or is freed) and `truncate`
 * (bytes past `max` are counted in `dropped` and discarded instead of
 * failing the append), then tz_buf_free when done. `data` is NUL-terminated
 * whenever it is non-NULL. The buffer owns `data` until tz_buf_steal. */
#ifndef TZ_BASE_BUF_H
#define TZ_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tz_buf {
    char *data;
    size_t len;      /* bytes held */
    size_t alloc;    /* bytes allocated */
    size_t max;      /* hard maximum of len (0: SIZE_MAX / 2) */
    size_t dropped;  /* truncate mode: bytes discarded past max */
    bool wipe;       /* wipe storage when it moves or is freed */
    bool truncate;   /* past max: keep the prefix instead of failing */
    bool failed;     /* an append failed (sticky until tz_buf_reset) */
} tz_buf;

#define TZ_BUF_INIT(max_, wipe_) {.max = (max_), .wipe = (wipe_)}

/* Appends n bytes of p. Returns true, or false (setting `failed`, nothing
 * appended) when memory is short or, without `truncate`, when len would
 * exceed max. After a failure further appends fail until tz_buf_reset. */
bool tz_buf_append(tz_buf *b, const void *p, size_t n);

/* Appends the NUL-terminated string s (tz_buf_append). */
bool tz_buf_puts(tz_buf *b, const char *s);

/* Empties the buffer for reuse (wiped when `wipe`), keeping its settings;
 * storage larger than keep_alloc bytes is released. */
void tz_buf_reset(tz_buf *b, size_t keep_alloc);

/* Hands `data` (NULL when empty) to the caller, who frees it; the buffer
 * is empty afterwards. *len_or_null receives its length. */
char *tz_buf_steal(tz_buf *b, size_t *len_or_null);

/* Releases the storage (wiped when `wipe`); the buffer is empty, its
 * settings kept. */
void tz_buf_free(tz_buf *b);

#endif
