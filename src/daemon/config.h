/* The daemon's settings, from the command line (main.c). */
#ifndef TZ_DAEMON_CONFIG_H
#define TZ_DAEMON_CONFIG_H

typedef struct tz_wd_config {
    const char *wallet_path;     /* --wallet */
    const char *wallet_bin;      /* --wallet-bin, else tzel-wallet next to us */
    int interval_secs;           /* --interval-secs: pause once at the head (10) */
    int job_timeout_secs;        /* --job-timeout-secs: a job's child is stopped after (300) */
    int lock_timeout_secs;       /* --lock-timeout-secs: a job waits this long for the lock (60) */
    int yield_timeout_secs;      /* --yield-timeout-secs: the sync child is stopped if it has not
                                    yielded this long after a job raised the sentinel (60) */
    int rpc_timeout_secs;        /* --rpc-timeout-secs: passed to each sync (0: not given, the
                                    CLI's default) */
    int request_timeout_secs;    /* --request-timeout-secs: a request (headers and body) must
                                    arrive within this of its connection waiting for it (10) */
    /* --reprove-bin, --executables-dir, --proving-service-url: given to every
     * job's tzel-wallet before its command (NULL: not given) */
    const char *reprove_bin, *executables_dir, *proving_service_url;
    unsigned max_connections;    /* HTTP connections served at once (1,024, or fewer when the
                                    open-file limit cannot be raised that far) */
} tz_wd_config;

#endif
