/* Listen addresses (listen.h). */
#include "net/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool tz_listen_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

bool tz_listen_parse(const char *spec, struct sockaddr_storage *ss, char *host_out,
                     size_t host_cap, char *why, size_t why_cap)
{
    char host[256];
    const char *port_s;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':') {
            snprintf(why, why_cap, "expected [ADDRESS]:PORT");
            return false;
        }
        snprintf(host, sizeof host, "%.*s", (int)(close - spec - 1), spec + 1);
        port_s = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon) {
            snprintf(why, why_cap, "expected HOST:PORT");
            return false;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
        port_s = colon + 1;
    }
    char *end;
    errno = 0;
    long port = strtol(port_s, &end, 10);
    if (errno || end == port_s || *end || port < 0 || port > 65535 || port_s[0] == '-' ||
        port_s[0] == '+' || port_s[0] == ' ') {
        snprintf(why, why_cap, "the port must be a number from 0 to 65535");
        return false;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai) {
        snprintf(why, why_cap, "\"%.64s\" is not a numeric IP address", host);
        return false;
    }
    memset(ss, 0, sizeof *ss);
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    snprintf(host_out, host_cap, "%s", host);
    return true;
}
