/* The status page served at GET /: one self-contained HTML document with
 * inline CSS and JavaScript, no external assets. */
#ifndef TZ_DAEMON_STATUS_PAGE_H
#define TZ_DAEMON_STATUS_PAGE_H

#include <stddef.h>

extern const char tz_status_page_html[];
extern const size_t tz_status_page_len;

#endif
