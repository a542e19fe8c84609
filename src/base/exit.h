/* Exit codes of tzel-wallet, shared with tzel-walletd (which reads them
 * from its children) and documented in `tzel-wallet --help`. */
#ifndef TZ_BASE_EXIT_H
#define TZ_BASE_EXIT_H

enum tz_exit {
    TZ_EXIT_OK = 0,
    TZ_EXIT_FAILURE = 1, /* anything else (out of memory, a signal) */
    TZ_EXIT_USAGE = 2,   /* bad command line or input */
    TZ_EXIT_WALLET = 3,  /* missing, unreadable or invalid wallet file */
    TZ_EXIT_LOCKED = 4,  /* wallet locked by another live process */
    TZ_EXIT_NETWORK = 5, /* rollup node unreachable or HTTP error */
    TZ_EXIT_CHAIN = 6,   /* chain data invalid or inconsistent */
    TZ_EXIT_IO = 7,      /* file-system error while saving */
};

#endif
