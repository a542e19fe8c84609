/* `tzel-wallet status --submission-id ID`: the operator's record of a
 * submission, as the reference prints it. Reads the profile only. */
#include <stdlib.h>

#include "common.h"
#include "node.h"
#include "output.h"
#include "rpc/operator.h"
#include "spend.h"
#include "store/profile.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] status --submission-id ID\n"
    "\n"
    "Asks the profile's operator (operator_url, with operator_bearer_token when the\n"
    "profile has one) for submission ID, as `send`, `unshield` and `shield` print it,\n"
    "and prints its record: Operator submission id, Kind, Status: S via T, the\n"
    "operation hash, the DAL chunks and the operator's detail.\n"
    "--json result: {submission} (the operator's object); the lines on stderr.\n"
    "Reads neither the wallet nor the rollup node; takes no lock.\n";

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *id = NULL;
    const tz_opt opts[] = {{"submission-id", TZ_OPT_VALUE, &id}};
    int rc = tz_cli_parse_args(cli, &tz_cmd_status, argc, argv, opts, 1);
    if (rc >= 0)
        return rc;
    if (!id || !*id)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "status needs --submission-id ID");
    tz_profile *prof = NULL;
    if ((rc = tz_cli_load_profile(cli, &prof)))
        return rc;
    const char *url = tz_profile_str(prof, "operator_url");
    if (!url) {
        tz_profile_free(prof);
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "this wallet profile has no operator_url configured");
    }
    json_t *sub = NULL;
    tz_error err = {0};
    tz_status st =
        tz_operator_status(url, tz_profile_str(prof, "operator_bearer_token"), id, &sub, &err);
    tz_profile_free(prof);
    if (st)
        return tz_out_fail(cli, st == TZ_EHTTP ? TZ_EXIT_NETWORK : TZ_EXIT_FAILURE, "%s", err.msg);
    char *text = tz_cli_format_submission(sub);
    if (!text) {
        json_decref(sub);
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
    }
    tz_out_text(cli, "%s", text);
    free(text);
    return tz_out_result(cli, json_pack("{s:o}", "submission", sub));
}

const tz_cmd tz_cmd_status = {
    .name = "status",
    .summary = "the operator's record of a submission",
    .usage = usage,
    .creates_wallet = true, /* the wallet file itself is not read */
    .run = run,
};
