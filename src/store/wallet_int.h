/* Private to the wallet module (wallet.c, wallet_load.c, wallet_save.c):
 * the field table of each record type, and the JSON helpers the loader,
 * the saver and the mutators share. Nothing outside these files includes
 * it. */
#ifndef TZ_STORE_WALLET_INT_H
#define TZ_STORE_WALLET_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/wallet.h"

#define TZW_SYNC_KEY "tzel_c_sync" /* our own state, ignored by the reference */
#define TZW_FRONTIER_LEN 48

/* How a field is stored in its record's struct. OTHER fields are read and
 * written by hand (arrays, bds, optional strings). */
typedef enum { TZW_FELT, TZW_U64, TZW_U32, TZW_OTHER } tzw_kind;

/* One key of a record type, in the reference's serialization order. */
typedef struct tzw_field {
    const char *key;
    tzw_kind kind;
    size_t off;    /* offset of the value in the record's struct */
    bool optional; /* typed field that may be absent on load */
} tzw_field;

/* The field tables: every key the reference writes for each record type,
 * in its order. n_* is the number of entries. */
extern const tzw_field tzw_top_fields[];      /* tz_wallet */
extern const tzw_field tzw_addr_fields[];     /* tz_wallet_address */
extern const tzw_field tzw_note_fields[];     /* tz_wallet_note */
extern const tzw_field tzw_spend_fields[];    /* tz_pending_spend (all OTHER) */
extern const tzw_field tzw_deposit_fields[];  /* tz_pending_deposit */
extern const size_t tzw_n_top, tzw_n_addr, tzw_n_note, tzw_n_spend, tzw_n_deposit;

/* Writes the typed fields of record `rec` into object `o` (felts as hex,
 * u64 exactly, u32 as integers), keeping an unchanged felt string as it
 * is. Returns 0 or -1 (out of memory). */
int tzw_store_fields(json_t *o, const tzw_field *f, size_t n, const void *rec);

/* Sets o[key] to the hex of *f (wiping the old string when it is ours).
 * Returns 0 or -1. */
int tzw_set_felt(json_t *o, const char *key, const tz_felt *f);

/* A new JSON array of the hex of v[0..n), or NULL when out of memory. */
json_t *tzw_felt_array(const tz_felt *v, size_t n);

/* *slot, created as an empty object when NULL (NULL when out of memory). */
json_t *tzw_obj_or_new(json_t **slot);

/* Grows *arr (elements of `elem` bytes, n in use) by one. TZ_OK or
 * TZ_ENOMEM (the array untouched). */
tz_status tzw_grow(void **arr, size_t n, size_t elem);

/* The floor's view of `w` (store/floor.h): fingerprint, addr_counter and
 * one entry per address index that wots_key_indices or an address record
 * names, ascending. *entries (malloc'd, owned by the caller, NULL when
 * there are none) backs s->entries. Returns TZ_OK or TZ_ENOMEM. */
tz_status tzw_floor_state(const tz_wallet *w, tz_floor_state *s, tz_floor_entry **entries);

#endif
