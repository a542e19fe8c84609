/* The tzel-wallet command table, in the order `tzel-wallet --help` lists
 * the commands. */
#include <stddef.h>

#include "command.h"

const tz_cmd *const tz_commands[] = {
    &tz_cmd_init,          &tz_cmd_receive,     &tz_cmd_addresses,
    &tz_cmd_balance,       &tz_cmd_sync,        &tz_cmd_check,
    &tz_cmd_deposit, &tz_cmd_recover_deposits,       &tz_cmd_export_view, &tz_cmd_export_detect,
    &tz_cmd_export_outgoing, &tz_cmd_shield, &tz_cmd_send, &tz_cmd_unshield, &tz_cmd_status, &tz_cmd_profile,
    &tz_cmd_watch,
    NULL,
};
