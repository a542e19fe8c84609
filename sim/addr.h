/* Payment-address JSON for the simulator (the object `tzel-wallet receive`
 * prints: d_j, auth_root, auth_pub_seed, nk_tag, ek_v, ek_d in hex), and
 * the test helper modes --make-address and --check-note. */
#ifndef TZ_SIM_ADDR_H
#define TZ_SIM_ADDR_H

#include <jansson.h>

#include "core/status.h"
#include "core/types.h"

/* Parses an address from a JSON object: the fields at top level, or under
 * "address", "result" or "result"."address" (the CLI's envelope).
 * Returns TZ_OK or TZ_EPARSE with err filled. */
tz_status sim_addr_from_json(tz_payment_address *a, const json_t *o, tz_error *err) TZ_WUR;

/* The address as a new JSON object (d_j, auth_root, auth_pub_seed,
 * nk_tag, ek_v, ek_d in hex), or NULL when memory is short. */
json_t *sim_addr_to_json(const tz_payment_address *a);

/* Same, reading the JSON file at path. */
tz_status sim_addr_from_file(tz_payment_address *a, const char *path, tz_error *err) TZ_WUR;

/* --make-address MASTER_SK_HEX:J[:AUTH_ROOT_HEX]: prints the payment address of address J
 * as JSON on stdout (plus nk_spend, for tests that compute nullifiers).
 * With AUTH_ROOT_HEX the slow auth-tree computation is skipped and that
 * root is used. Returns a process exit code. */
int sim_make_address_main(const char *spec);

/* --check-note MASTER_SK_HEX:J:AUTH_ROOT_HEX: reads PublishedNotes in hex
 * from stdin, one per line, and prints one JSON line per note:
 * {"detected":b,"accepted":b,"open_status":..,"v":..,"rseed":..,"memo":..,"cm":..}
 * (memo in hex without its trailing zero bytes)
 * (or {"error":..} for a line that is not a note). Returns a process exit
 * code (0 also when notes are not accepted). */
int sim_check_note_main(const char *spec);

#endif
