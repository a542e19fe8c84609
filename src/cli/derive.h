/* The CLI side of address derivation (store/address.h): the progress
 * display and the "Deriving missing address record" line on stderr, and
 * failures reported with their exit code. */
#ifndef TZ_CLI_DERIVE_H
#define TZ_CLI_DERIVE_H

#include <stddef.h>

#include "core/keys.h"
#include "store/wallet.h"

struct tz_cli;

/* tz_wallet_next_address with the CLI's display; records missing below
 * addr_counter are saved as they are derived. Returns an exit code
 * (failures reported; the wallet in memory may then hold a new record,
 * do not save it). On success *pos is the record's position. */
int tz_cli_alloc_address(const struct tz_cli *cli, tz_wallet *w, const tz_keys *keys,
                         size_t *pos);

/* tz_wallet_materialize_addresses up to addr_counter with the CLI's
 * display, each record saved as it is derived. Returns an exit code
 * (failures reported). */
int tz_cli_materialize_addresses(const struct tz_cli *cli, tz_wallet *w);

#endif
