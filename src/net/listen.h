/* Listen addresses of the HTTP services (tzel-walletd, tzel-detect):
 * parsing "HOST:PORT" and telling loopback addresses apart. */
#ifndef TZ_NET_LISTEN_H
#define TZ_NET_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Parses "HOST:PORT" or "[V6]:PORT" (HOST a numeric address or
 * "localhost", PORT 0..65535) into *ss, and the numeric host into
 * host_out. Returns true, or false with the reason in why. */
bool tz_listen_parse(const char *spec, struct sockaddr_storage *ss, char *host_out,
                     size_t host_cap, char *why, size_t why_cap);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. */
bool tz_listen_is_loopback(const struct sockaddr_storage *ss);

#endif
