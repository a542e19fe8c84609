/* The note fetch (tz_rpc_fetch_notes): PublishedNote bytes for a range of
 * leaf indices, as one operation of the client's event loop.
 *
 * Each note in the window is a small state machine that first guesses the
 * layout every real note has (a PublishedNote is 3,487 bytes: `len` plus
 * chunks 0 to 3) and reads only the chunks:
 *   - with the `values` route (probed once per client, alone): ONE
 *     listing of notes/<i>/chunk, whose children are the whole note;
 *   - without it: FOUR reads, value?key=notes/<i>/chunk/<k> for k = 0..3,
 *     in parallel.
 * Only when the chunks so read are not exactly a PublishedNote (not four
 * chunks of 1024, 1024, 1024 and 415 bytes that decode) does the note fall
 * back to the general layout, read as before: `values` on notes/<i> (the
 * direct value or `len`), or, without `values`, the direct key when chunk 0
 * is absent (the reference's probe order), then `len`; `len` is then
 * trusted and the chunks it announces are read again. Nothing is trusted
 * more than before: a note that decodes but is not the chain's fails the
 * frontier root check, and a missing note is still an error. Answers are
 * sorted by tz_rpc_classify; a 401 or 404 on `values` means the node does
 * not serve that route. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "rpc/listing.h"
#include "rpc/rpc_int.h"

#define NOTE_CHUNK 1024u
/* The chunks of a PublishedNote: 1024, 1024, 1024 and 415 bytes. */
#define GUESS_CHUNKS ((TZ_PUBLISHED_NOTE_BYTES + NOTE_CHUNK - 1) / NOTE_CHUNK)

enum phase {
    P_GUESS_VALUES,  /* values?key=notes/<i>/chunk: the whole note at once */
    P_GUESS,         /* value?key=notes/<i>/chunk/<n>, n < 4, in parallel */
    P_VALUES_TOP,    /* values?key=notes/<i>: len or the direct value */
    P_VALUES_CHUNKS, /* values?key=notes/<i>/chunk: every chunk */
    P_LEN,           /* value?key=notes/<i>/len */
    P_DIRECT,        /* value?key=notes/<i> */
    P_CHUNKS,        /* value?key=notes/<i>/chunk/<n>, in parallel */
};

typedef struct note {
    bool used;
    uint64_t index;
    enum phase phase;
    bool want;          /* the phase's single request is not issued yet */
    unsigned inflight;
    uint64_t total;
    uint32_t nchunks, next_chunk, chunks_done;
    bool guess_absent0; /* P_GUESS: chunk 0 is absent */
    bool guess_wrong;   /* P_GUESS: a chunk is absent or of another size */
    bool tried_direct, tried_len; /* general layout: keys found absent */
    uint8_t *buf;
} note;

typedef struct fetch {
    const char *block;
    uint64_t next_index, end;
    note *notes;
    size_t nslots, used;
    tz_rpc_note_cb cb;
    void *cb_ctx;
    bool probing;        /* the values probe is in flight: issue nothing else */
} fetch;

static void note_key(char *out, size_t cap, uint64_t index, const char *suffix)
{
    snprintf(out, cap, TZ_STATE_PREFIX "notes/%016" PRIx64 "%s", index, suffix);
}

static void note_url(const tz_rpc *c, char *url, const char *block, const note *n,
                     enum phase ph, uint32_t chunk)
{
    char key[128], sfx[32] = "";
    const char *route = "value";
    switch (ph) {
    case P_GUESS_VALUES:
        route = "values";
        snprintf(sfx, sizeof sfx, "/chunk");
        break;
    case P_GUESS:
        snprintf(sfx, sizeof sfx, "/chunk/%08" PRIx32, chunk);
        break;
    case P_VALUES_TOP:
        route = "values";
        break;
    case P_VALUES_CHUNKS:
        route = "values";
        snprintf(sfx, sizeof sfx, "/chunk");
        break;
    case P_LEN:
        snprintf(sfx, sizeof sfx, "/len");
        break;
    case P_DIRECT:
        break;
    case P_CHUNKS:
        snprintf(sfx, sizeof sfx, "/chunk/%08" PRIx32, chunk);
        break;
    }
    note_key(key, sizeof key, n->index, sfx);
    tz_rpc_durable_url(c, url, block, route, key);
}

static void note_release(fetch *f, note *n)
{
    free(n->buf);
    memset(n, 0, sizeof *n);
    f->used--;
}

static bool use_values(const tz_rpc *c)
{
    return c->use_values && c->values_state != TZ_RPC_VALUES_NO;
}

/* Enters P_GUESS: chunks 0..3 of a 3,487-byte note, in parallel. False
 * when out of memory. */
static bool guess_start(note *n, enum phase ph)
{
    n->buf = malloc(TZ_PUBLISHED_NOTE_BYTES);
    if (!n->buf)
        return false;
    n->phase = ph;
    n->total = TZ_PUBLISHED_NOTE_BYTES;
    n->nchunks = GUESS_CHUNKS;
    n->next_chunk = n->chunks_done = 0;
    n->guess_absent0 = n->guess_wrong = false;
    return true;
}

/* Leaves a guess for the general layout: `len` (or `values` on notes/<i>)
 * will say what to read. */
static void guess_abandon(note *n, enum phase next)
{
    free(n->buf);
    n->buf = NULL;
    n->total = 0;
    n->nchunks = n->next_chunk = n->chunks_done = 0;
    n->phase = next;
    n->want = true;
}

/* Whether n->buf holds exactly a PublishedNote. */
static bool guess_decodes(const note *n)
{
    tz_published_note pn;
    return n->total == TZ_PUBLISHED_NOTE_BYTES &&
           tz_wire_decode_published_note(&pn, n->buf, n->total) == TZ_OK;
}

static bool fetch_next(void *ctx, tz_rpc *c, tz_rpc_xfer *x)
{
    fetch *f = ctx;
    if (f->probing)
        return false;
    for (;;) {
        /* 1. work of notes already started, lowest index first */
        note *best = NULL;
        for (size_t i = 0; i < f->nslots; i++) {
            note *n = &f->notes[i];
            if (!n->used)
                continue;
            bool pending = n->want || ((n->phase == P_CHUNKS || n->phase == P_GUESS) &&
                                       n->next_chunk < n->nchunks);
            if (pending && (!best || n->index < best->index))
                best = n;
        }
        if (best) {
            x->slot = (size_t)(best - f->notes);
            x->phase = best->phase;
            if (best->want) {
                best->want = false;
                x->chunk = 0;
            } else {
                x->chunk = best->next_chunk++;
            }
            best->inflight++;
            /* the first `values` request of a client goes alone: it tells
             * whether the node serves the route */
            if (best->phase == P_GUESS_VALUES && c->values_state == TZ_RPC_VALUES_UNKNOWN)
                f->probing = true;
            note_url(c, x->url, f->block, best, best->phase, x->chunk);
            return true;
        }
        /* 2. a new note, if a slot is free and it is not too far past the
         * lowest note still in progress: a stalled note must not let the
         * others run ahead without bound (the caller reorders what we
         * deliver, so its memory grows with the distance) */
        if (f->next_index >= f->end || f->used >= f->nslots)
            return false;
        for (size_t i = 0; i < f->nslots; i++)
            if (f->notes[i].used && f->next_index - f->notes[i].index >= 2 * f->nslots)
                return false;
        size_t s = 0;
        while (f->notes[s].used)
            s++;
        note *n = &f->notes[s];
        memset(n, 0, sizeof *n);
        n->used = true;
        n->index = f->next_index++;
        f->used++;
        if (use_values(c)) {
            n->phase = P_GUESS_VALUES;
            n->want = true;
        } else if (!guess_start(n, P_GUESS)) {
            /* no memory for the guess: read the general layout */
            n->phase = P_LEN;
            n->want = true;
        }
    }
}

static tz_status deliver(fetch *f, note *n, const uint8_t *bytes, size_t len, tz_error *err)
{
    uint64_t index = n->index;
    int stop = f->cb(f->cb_ctx, index, bytes, len);
    note_release(f, n);
    if (stop)
        return tz_error_set(err, TZ_ECANCEL, "note fetch stopped by the caller after note %" PRIu64,
                            index);
    return TZ_OK;
}

/* A note's `len` (a u64le in hex): the value of that many bytes is split
 * into chunks; allocate and count them. */
static tz_status start_chunks(const tz_rpc_xfer *x, note *n, const char *hex, size_t hexlen,
                              tz_error *err)
{
    uint8_t lb[8];
    if (hexlen != 16 || tz_hex_decode(lb, 8, NULL, hex, hexlen) != TZ_OK)
        return tz_error_set(err, TZ_EPARSE, "GET %s: note %" PRIu64 " len is not a u64", x->url,
                            n->index);
    uint64_t total = tz_get_u64le(lb);
    /* A PublishedNote is 3,487 bytes: a node claiming far more would make
     * every note in flight allocate it. */
    if (total > TZ_RPC_MAX_NOTE)
        return tz_error_set(err, TZ_EPARSE,
                            "GET %s: note %" PRIu64 " claims %" PRIu64
                            " bytes, more than the %u a note may have",
                            x->url, n->index, total, TZ_RPC_MAX_NOTE);
    n->total = total;
    n->nchunks = (uint32_t)((total + NOTE_CHUNK - 1) / NOTE_CHUNK);
    n->next_chunk = n->chunks_done = 0;
    n->buf = malloc(total ? total : 1);
    if (!n->buf)
        return tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", x->url);
    return TZ_OK;
}

/* A note held whole in one value (hex): decode and deliver it. */
static tz_status deliver_hex(fetch *f, const tz_rpc_xfer *x, note *n, const char *hex,
                             size_t hexlen, tz_error *err)
{
    uint8_t *b = NULL;
    size_t bl = 0;
    tz_status st = tz_rpc_hex_dup(hex, hexlen, &b, &bl, x->url, err);
    if (st)
        return st;
    n->buf = b;
    return deliver(f, n, b, bl, err);
}

/* Decodes chunk `k` (hex) into its place; checks its exact size. */
static tz_status put_chunk(const tz_rpc_xfer *x, note *n, uint32_t k, const char *hex,
                           size_t hexlen, tz_error *err)
{
    if (k >= n->nchunks)
        return tz_error_set(err, TZ_EPARSE, "GET %s: chunk %" PRIu32 " beyond the %" PRIu32
                            " chunks of note %" PRIu64, x->url, k, n->nchunks, n->index);
    size_t off = (size_t)k * NOTE_CHUNK;
    size_t want = n->total - off < NOTE_CHUNK ? (size_t)(n->total - off) : NOTE_CHUNK;
    if (hexlen != 2 * want)
        return tz_error_set(err, TZ_EPARSE,
                            "GET %s: chunk %" PRIu32 " of note %" PRIu64
                            " has %zu bytes, expected %zu",
                            x->url, k, n->index, hexlen / 2, want);
    if (tz_hex_decode(n->buf + off, want, NULL, hex, hexlen) != TZ_OK)
        return tz_error_set(err, TZ_EPARSE, "GET %s: malformed hex in chunk", x->url);
    return TZ_OK;
}

/* The hex string of a listing entry's value (its characters are checked
 * where it is decoded). */
static tz_status listing_hex(const tz_rpc_xfer *x, const tz_listing_entry *e, const char **hex,
                             size_t *hexlen, tz_error *err)
{
    const char *s = e->value;
    if (!s)
        return tz_error_set(err, TZ_EPARSE, "GET %s: listing value is not a string", x->url);
    size_t n = e->value_len;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        n -= 2;
    }
    if (n % 2)
        return tz_error_set(err, TZ_EPARSE, "GET %s: listing value has odd length", x->url);
    *hex = s;
    *hexlen = n;
    return TZ_OK;
}

/* Parses the `values` listing in x's body (spending the body). */
static tz_status listing_open(const tz_rpc_xfer *x, tz_listing *l, tz_error *err)
{
    return tz_listing_parse(l, x->body.data, x->body.len, x->url, err);
}

/* Places guessed chunk `k` (hex) into n->buf: GUESS_PUT when it has the
 * size chunk k of a PublishedNote has, GUESS_WRONG (nothing written) when
 * not, GUESS_NOT_HEX when a character is not hex. */
enum { GUESS_PUT, GUESS_WRONG, GUESS_NOT_HEX };
static int guess_put(note *n, uint32_t k, const char *hex, size_t hexlen)
{
    if (k >= GUESS_CHUNKS)
        return GUESS_WRONG;
    size_t off = (size_t)k * NOTE_CHUNK;
    size_t want = n->total - off < NOTE_CHUNK ? (size_t)(n->total - off) : NOTE_CHUNK;
    if (hexlen != 2 * want)
        return GUESS_WRONG;
    return tz_hex_decode(n->buf + off, want, NULL, hex, hexlen) == TZ_OK ? GUESS_PUT
                                                                          : GUESS_NOT_HEX;
}

/* Parses a chunk name (8 lowercase hex digits) into *k. */
static bool chunk_name(const char *name, uint32_t *k)
{
    uint32_t kn = 0;
    if (strlen(name) != 8)
        return false;
    for (int d = 0; d < 8; d++) {
        char ch = name[d];
        int h = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (h < 0)
            return false;
        kn = kn << 4 | (uint32_t)h;
    }
    *k = kn;
    return true;
}

/* The answer to the guess with `values` (the listing of notes/<i>/chunk):
 * delivers the note when its chunks are exactly a PublishedNote, else
 * falls back to `values` on notes/<i> (the direct value or `len`). A
 * malformed listing is an error, as it is for any other read. */
static tz_status guess_values(fetch *f, const tz_rpc_xfer *x, note *n, tz_error *err)
{
    tz_listing l;
    tz_status st = listing_open(x, &l, err);
    if (st != TZ_OK)
        goto out;
    if (!guess_start(n, P_GUESS_VALUES)) {
        st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", x->url);
        goto out;
    }
    unsigned seen = 0;
    bool wrong = false;
    for (size_t i = 0; i < l.n; i++) {
        const char *k = l.e[i].key, *hex;
        size_t hexlen;
        uint32_t kn = 0;
        if (!chunk_name(k, &kn)) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: unexpected chunk name '%s'", x->url, k);
            goto out;
        }
        if ((st = listing_hex(x, &l.e[i], &hex, &hexlen, err)))
            goto out;
        if (kn < GUESS_CHUNKS && (seen >> kn & 1u)) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: chunk '%s' listed twice", x->url, k);
            goto out;
        }
        int put = guess_put(n, kn, hex, hexlen);
        if (put == GUESS_NOT_HEX) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: listing value is not hex", x->url);
            goto out;
        }
        if (put == GUESS_WRONG)
            wrong = true;
        else
            seen |= 1u << kn;
    }
    if (!wrong && seen == (1u << GUESS_CHUNKS) - 1 && guess_decodes(n))
        st = deliver(f, n, n->buf, n->total, err);
    else
        guess_abandon(n, P_VALUES_TOP);
out:
    tz_listing_free(&l);
    return st;
}

/* One answer to the guess without `values` (chunk k of 0..3). Once all
 * four answered: deliver when they are exactly a PublishedNote; else read
 * the direct key when chunk 0 is absent (the reference's order), `len`
 * otherwise. */
static tz_status guess_chunk(fetch *f, const tz_rpc_xfer *x, note *n, bool absent,
                             const char *hex, size_t hexlen, tz_error *err)
{
    if (absent) {
        if (x->chunk == 0)
            n->guess_absent0 = true;
        else
            n->guess_wrong = true;
    } else if (guess_put(n, x->chunk, hex, hexlen) != GUESS_PUT) {
        n->guess_wrong = true;
    }
    if (++n->chunks_done < n->nchunks)
        return TZ_OK;
    if (!n->guess_absent0 && !n->guess_wrong && guess_decodes(n))
        return deliver(f, n, n->buf, n->total, err);
    guess_abandon(n, n->guess_absent0 ? P_DIRECT : P_LEN);
    return TZ_OK;
}

/* The direct key and `len` are both absent: the note is missing. */
static tz_status note_missing(const tz_rpc_xfer *x, const note *n, tz_error *err)
{
    char lk[128], dk[128];
    note_key(lk, sizeof lk, n->index, "/len");
    note_key(dk, sizeof dk, n->index, "");
    return tz_error_set(err, TZ_ENOTFOUND,
                        "GET %s: note %" PRIu64 " absent%s (neither %s nor %s holds a value) "
                        "although the tree holds it",
                        x->url, n->index, tz_rpc_absent_how(x), dk, lk);
}

static tz_status values_top(fetch *f, tz_rpc *c, tz_rpc_xfer *x, note *n, tz_error *err)
{
    tz_listing l;
    tz_status st = listing_open(x, &l, err);
    if (st != TZ_OK)
        goto out;
    const tz_listing_entry *direct = NULL, *len = NULL;
    for (size_t i = 0; i < l.n; i++) {
        const char *k = l.e[i].key;
        if (k[0] == '\0')
            direct = &l.e[i];
        else if (strcmp(k, "len") == 0)
            len = &l.e[i];
    }
    const char *hex;
    size_t hexlen;
    if (direct) {
        if (!(st = listing_hex(x, direct, &hex, &hexlen, err)))
            st = deliver_hex(f, x, n, hex, hexlen, err);
    } else if (len) {
        if ((st = listing_hex(x, len, &hex, &hexlen, err)) ||
            (st = start_chunks(x, n, hex, hexlen, err)))
            goto out;
        if (n->nchunks == 0) {
            st = deliver(f, n, n->buf, 0, err);
        } else {
            n->phase = P_VALUES_CHUNKS;
            n->want = true;
        }
    } else {
        /* neither listed: a node that does not list a node's own value */
        n->phase = P_DIRECT;
        n->want = true;
    }
out:
    tz_listing_free(&l);
    return st;
}

static tz_status values_chunks(fetch *f, tz_rpc_xfer *x, note *n, tz_error *err)
{
    tz_listing l;
    uint8_t *seen = NULL;
    tz_status st = listing_open(x, &l, err);
    if (st != TZ_OK)
        goto out;
    seen = calloc(n->nchunks ? n->nchunks : 1, 1);
    if (!seen) {
        st = tz_error_set(err, TZ_ENOMEM, "GET %s: out of memory", x->url);
        goto out;
    }
    uint32_t got = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *k = l.e[i].key;
        uint32_t kn = 0;
        if (!chunk_name(k, &kn)) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: unexpected chunk name '%s'", x->url, k);
            goto out;
        }
        if (kn < n->nchunks && seen[kn]) {
            st = tz_error_set(err, TZ_EPARSE, "GET %s: chunk '%s' listed twice", x->url, k);
            goto out;
        }
        const char *hex;
        size_t hexlen;
        if ((st = listing_hex(x, &l.e[i], &hex, &hexlen, err)) ||
            (st = put_chunk(x, n, kn, hex, hexlen, err)))
            goto out;
        seen[kn] = 1;
        got++;
    }
    if (got != n->nchunks) {
        st = tz_error_set(err, TZ_ENOTFOUND,
                          "GET %s: note %" PRIu64 " lists %" PRIu32 " of its %" PRIu32 " chunks",
                          x->url, n->index, got, n->nchunks);
        goto out;
    }
    st = deliver(f, n, n->buf, n->total, err);
out:
    free(seen);
    tz_listing_free(&l);
    return st;
}

static tz_status fetch_done(void *ctx, tz_rpc *c, tz_rpc_xfer *x, tz_error *err)
{
    fetch *f = ctx;
    note *n = &f->notes[x->slot];
    n->inflight--;
    const char *hex = NULL;
    size_t hexlen = 0;
    bool absent;
    tz_status st;

    if (x->phase == P_GUESS_VALUES || x->phase == P_VALUES_TOP || x->phase == P_VALUES_CHUNKS) {
        if (x->http == 401 || x->http == 404) {
            /* not served (ACL or older node): never ask again */
            c->values_state = TZ_RPC_VALUES_NO;
            f->probing = false;
            if (x->phase == P_GUESS_VALUES) {
                if (!guess_start(n, P_GUESS)) {
                    n->phase = P_LEN;
                    n->want = true;
                }
            } else if (x->phase == P_VALUES_TOP) {
                n->phase = P_LEN;
                n->want = true;
            } else {
                n->phase = P_CHUNKS;
                n->next_chunk = 0;
            }
            return TZ_OK;
        }
        if ((st = tz_rpc_classify(x, 0, &absent, err)))
            return st;
        c->values_state = TZ_RPC_VALUES_YES;
        f->probing = false;
        if (x->phase == P_GUESS_VALUES)
            return guess_values(f, x, n, err);
        return x->phase == P_VALUES_TOP ? values_top(f, c, x, n, err) : values_chunks(f, x, n, err);
    }

    if ((st = tz_rpc_classify(x, TZ_RPC_ABSENT_404 | TZ_RPC_ABSENT_NULL, &absent, err)))
        return st;
    if (!absent && (st = tz_rpc_body_hex(x, &hex, &hexlen, err)))
        return st;

    switch (x->phase) {
    case P_GUESS:
        return guess_chunk(f, x, n, absent, hex, hexlen, err);
    case P_LEN:
        if (absent) {
            n->tried_len = true;
            if (n->tried_direct)
                return note_missing(x, n, err);
            n->phase = P_DIRECT;
            n->want = true;
            return TZ_OK;
        }
        if ((st = start_chunks(x, n, hex, hexlen, err)))
            return st;
        n->phase = P_CHUNKS;
        if (n->nchunks == 0)
            return deliver(f, n, n->buf, 0, err);
        return TZ_OK;
    case P_DIRECT: {
        if (absent) {
            n->tried_direct = true;
            if (n->tried_len)
                return note_missing(x, n, err);
            n->phase = P_LEN;
            n->want = true;
            return TZ_OK;
        }
        return deliver_hex(f, x, n, hex, hexlen, err);
    }
    case P_CHUNKS:
        if (absent)
            return tz_error_set(err, TZ_ENOTFOUND,
                                "GET %s: chunk %" PRIu32 " of note %" PRIu64 " absent%s", x->url,
                                x->chunk, n->index, tz_rpc_absent_how(x));
        if ((st = put_chunk(x, n, x->chunk, hex, hexlen, err)))
            return st;
        if (++n->chunks_done == n->nchunks)
            return deliver(f, n, n->buf, n->total, err);
        return TZ_OK;
    default:
        return tz_error_set(err, TZ_EINVAL, "rollup client: bad transfer phase");
    }
}

tz_status tz_rpc_fetch_notes(tz_rpc *c, const char *block, uint64_t start, uint64_t end,
                             tz_rpc_note_cb cb, void *ctx, tz_error *err)
{
    tz_status st = tz_rpc_check_args(block, NULL, err);
    if (st)
        return st;
    if (!cb)
        return tz_error_set(err, TZ_EINVAL, "tz_rpc_fetch_notes: no callback");
    if (start >= end)
        return TZ_OK;
    fetch f = {0};
    f.block = block;
    f.next_index = start;
    f.end = end;
    f.cb = cb;
    f.cb_ctx = ctx;
    f.nslots = 2 * (size_t)c->conc;
    f.notes = calloc(f.nslots, sizeof *f.notes);
    if (!f.notes)
        return tz_error_set(err, TZ_ENOMEM, "tz_rpc_fetch_notes: out of memory");
    tz_rpc_op o = {fetch_next, fetch_done, &f};
    st = tz_rpc_run(c, &o, err);
    for (size_t i = 0; i < f.nslots; i++)
        free(f.notes[i].buf);
    free(f.notes);
    return st;
}
