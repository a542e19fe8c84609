/* tzel-wallet: global options, then one subcommand from tz_commands[]. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "output.h"

static void print_help(FILE *f)
{
    fputs("Usage: tzel-wallet [-w PATH] [--json] [--rollup-node-url URL] <command> [options]\n"
          "\n"
          "TzEL shielded-pool wallet (reads and writes the reference wallet files).\n"
          "\n"
          "Global options (also accepted after the command):\n"
          "  -w, --wallet PATH        wallet file (default wallet.json)\n"
          "      --json               print one JSON envelope on stdout; human text goes to stderr\n"
          "      --rollup-node-url U  rollup node (else $TZEL_ROLLUP_NODE_URL, else\n"
          "                           rollup_node_url in <wallet>.network.json)\n"
          "  -h, --help               this help; `tzel-wallet <command> --help` for a command\n"
          "\n"
          "Prover options of the spends (send, unshield, shield; before or after the command):\n"
          "      --reprove-bin BIN          the local prover (default reprove)\n"
          "      --executables-dir DIR      its *.executable.json (default cairo/target/dev)\n"
          "      --proving-service-url URL  prove through this proving service instead\n"
          "\n"
          "Commands:\n",
          f);
    for (const tz_cmd *const *c = tz_commands; *c; c++)
        fprintf(f, "  %-16s %s\n", (*c)->name, (*c)->summary);
    fputs("\n"
          "Exit codes:\n"
          "  0 OK       success\n"
          "  1 FAILURE  generic failure\n"
          "  2 USAGE    unknown command or option, bad argument value\n"
          "  3 WALLET   wallet file missing, unreadable, invalid, stale "
          "backup, or already\n"
          "             there (init without --force)\n"
          "  4 LOCKED   the wallet lock is held by a live process\n"
          "  5 NETWORK  the rollup node could not be reached or answered an "
          "HTTP error\n"
          "  6 CHAIN    the chain's data is malformed or fails verification\n"
          "  7 IO       a file could not be written\n",
          f);
}

int main(int argc, char **argv) {
  tz_cli cli = {.wallet_path = "wallet.json",
                .reprove_bin = "reprove",
                .executables_dir = "cairo/target/dev"};
  const struct {
    const char *name;
    const char **dest;
  } valued[] = {{"--wallet", &cli.wallet_path},
                {"--rollup-node-url", &cli.rollup_node_url},
                {"--reprove-bin", &cli.reprove_bin},
                {"--executables-dir", &cli.executables_dir},
                {"--proving-service-url", &cli.proving_service_url}};
  if (sodium_init() < 0) {
    fputs("error: libsodium could not be initialised\n", stderr);
    return TZ_EXIT_FAILURE;
  }
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-')
      break;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      print_help(stdout);
      return TZ_EXIT_OK;
    } else if (!strcmp(a, "--json")) {
      cli.json = true;
      continue;
    }
    /* the options that take a value: "--name value" or "--name=value" */
    const char **dest = NULL;
    const char *v = NULL;
    for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !dest; k++) {
      size_t n = strlen(valued[k].name);
      bool short_w = !strcmp(a, "-w") && valued[k].dest == &cli.wallet_path;
      if (short_w || !strcmp(a, valued[k].name)) {
        if (i + 1 >= argc)
          return tz_out_fail(&cli, TZ_EXIT_USAGE, "option %s needs a value", a);
        dest = valued[k].dest;
        v = argv[++i];
      } else if (!strncmp(a, valued[k].name, n) && a[n] == '=') {
        dest = valued[k].dest;
        v = a + n + 1;
      }
    }
    if (!dest)
      return tz_out_fail(&cli, TZ_EXIT_USAGE,
                         "unknown option '%s' (see tzel-wallet --help)", a);
    *dest = v;
  }
  if (i >= argc) {
    print_help(stderr);
    return tz_out_fail(&cli, TZ_EXIT_USAGE, "no command given");
  }
  const char *name = argv[i];
  if (!strcmp(name, "help")) {
    print_help(stdout);
    return TZ_EXIT_OK;
  }
  for (const tz_cmd *const *c = tz_commands; *c; c++) {
    if (strcmp((*c)->name, name))
      continue;
    cli.command = (*c)->name;
    int rc = (*c)->run(&cli, argc - i, argv + i);
    if (fflush(stdout) && rc == TZ_EXIT_OK)
      rc = TZ_EXIT_IO;
    free(cli.wallet_path_owned);
    return rc;
  }
  return tz_out_fail(&cli, TZ_EXIT_USAGE,
                     "unknown command '%s' (see tzel-wallet --help)", name);
}
