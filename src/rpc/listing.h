/* A `values` listing (a JSON array of {"key": ..., "value": ...} objects,
 * the durable-state route that lists a key's children with their values):
 * its entries, scanned in place when the body is in the plain form nodes
 * send, parsed by jansson otherwise, with the same entries either way. */
#ifndef TZ_RPC_LISTING_H
#define TZ_RPC_LISTING_H

#include <jansson.h>
#include <stddef.h>

#include "core/status.h"

typedef struct tz_listing_entry {
    const char *key;   /* NUL-terminated */
    size_t key_len;
    const char *value; /* NULL when the value is not a string */
    size_t value_len;
} tz_listing_entry;

typedef struct tz_listing {
    tz_listing_entry *e;
    size_t n, cap;
    json_t *j;                  /* the document, when jansson parsed it */
    tz_listing_entry small[8];  /* e, for short listings */
} tz_listing;

/* Parses body[0..len) into *l. A body that is a JSON array of objects with
 * exactly the members "key" and "value", both strings without escapes or
 * bytes above 0x7f, is scanned in place and its keys are NUL-terminated
 * inside `body` (body is then spent); any other body goes to jansson,
 * where an entry lacking a string key or any value is an error. Returns
 * TZ_OK, or TZ_EPARSE / TZ_ENOMEM with err naming `url`. The caller frees
 * *l with tz_listing_free (also after a failure). */
tz_status tz_listing_parse(tz_listing *l, char *body, size_t len, const char *url,
                           tz_error *err) TZ_WUR;

/* Releases what *l holds. */
void tz_listing_free(tz_listing *l);

#endif
