/* The CLI side of addresses: allocating and deriving address records with
 * a progress display (store/address.h), the payment address of a record,
 * and the JSON and wire forms of payment addresses and felts. Helpers
 * returning `int` return an enum tz_exit value, the error reported. */
#ifndef TZ_CLI_ADDRESS_H
#define TZ_CLI_ADDRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "command.h"
#include "core/felt.h"
#include "core/keys.h"
#include "core/types.h"
#include "store/wallet.h"


/* tz_wallet_next_address with the CLI's display; records missing below
 * addr_counter are saved as they are derived. Returns an exit code
 * (failures reported; the wallet in memory may then hold a new record,
 * do not save it). On success *pos is the record's position. */
int tz_cli_alloc_address(const tz_cli *cli, tz_wallet *w, const tz_keys *keys,
                         size_t *pos);

/* tz_wallet_materialize_addresses up to addr_counter with the CLI's
 * display, each record saved as it is derived. Returns an exit code
 * (failures reported). */
int tz_cli_materialize_addresses(const tz_cli *cli, tz_wallet *w);

/* The payment address of wallet address `a` (its two ML-KEM key pairs are
 * derived from `keys`) into *pa. Returns an exit code (reported). */
int tz_cli_payment_address(const tz_cli *cli, const tz_keys *keys, const tz_wallet_address *a,
                           tz_payment_address *pa);

/* 64 lowercase hex characters as a JSON string (new reference or NULL). */
json_t *tz_cli_felt_json(const tz_felt *f);

/* {"d_j","auth_root","auth_pub_seed","nk_tag","ek_v","ek_d"}, hex, the
 * reference's PaymentAddress serialization. New reference or NULL. */
json_t *tz_payment_address_json(const tz_payment_address *pa);

/* Lowercase hex of the canonical wire encoding (malloc'd, NULL when out of
 * memory). */
char *tz_payment_address_wire_hex(const tz_payment_address *pa);

/* Reads a payment address JSON object (d_j, auth_root, auth_pub_seed,
 * nk_tag, ek_v, ek_d in lowercase hex, the reference's serialization) into
 * *pa. False when a field is missing or malformed (pa then undefined). */
bool tz_cli_address_from_json(const json_t *o, tz_payment_address *pa);

#endif
