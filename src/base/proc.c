/* SIGTERM-then-SIGKILL escalation (proc.h). */
#include "base/proc.h"

#include <signal.h>

void tz_term_schedule(tz_term *t, int64_t term_at_ms, int64_t grace_ms)
{
    if (t->termed)
        return;
    t->term_at = term_at_ms > 0 ? term_at_ms : 1;
    t->grace_ms = grace_ms;
}

int tz_term_poll(tz_term *t, pid_t pid, int64_t now_ms)
{
    if (pid <= 0 || t->term_at == 0 || t->killed)
        return 0;
    if (!t->termed && now_ms >= t->term_at) {
        kill(pid, SIGTERM);
        t->termed = true;
        t->kill_at = now_ms + t->grace_ms;
        return 1;
    }
    if (t->termed && now_ms >= t->kill_at) {
        kill(pid, SIGKILL);
        t->killed = true;
        return 2;
    }
    return 0;
}
