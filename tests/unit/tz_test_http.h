/* Plumbing shared by the unit tests' in-process HTTP servers: a listening
 * socket on a free loopback port, accept, and a send that writes
 * everything. Header-only, static inline; the servers themselves (routes,
 * answers) stay in their tests. */
#ifndef TZ_TEST_HTTP_H
#define TZ_TEST_HTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

/* A socket listening on 127.0.0.1 at a port the kernel picks (*port);
 * aborts when none can be had. The caller closes it. */
static inline int tz_test_listen(int backlog, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, backlog))
        abort();
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

/* The next connection on lfd (retrying after signals), or -1 once the
 * listener is shut down. */
static inline int tz_test_accept(int lfd)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0 || errno != EINTR)
            return fd;
    }
}

/* Sends all n bytes of p (retrying after signals); false once the peer is
 * gone. */
static inline bool tz_test_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

#endif
