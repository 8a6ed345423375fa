/* lease_holder: names the process that holds an outbox lease so that another
 * process can prove it dead. A holder is a pid and its start time inside a
 * scope (host name, boot, pid namespace, user): two processes with the same
 * scope see each other in /proc, so one can tell for certain that the other
 * no longer runs. Outside its scope nothing is ever concluded. */
#ifndef SIGNUP_LEASE_HOLDER_H
#define SIGNUP_LEASE_HOLDER_H

#include <stdbool.h>

struct lease_holder {
    char scope[256];
    char pid[16];   /* decimal */
    char start[24]; /* decimal: clock ticks after boot when the process started */
    /* False when /proc could not be read consistently: the scope is then a
     * random string that no other process shares, so nobody ever judges this
     * process, and it judges nobody. */
    bool can_judge;
};

/* Describes the calling process. Cannot fail; see can_judge. */
void lease_holder_describe_self(struct lease_holder *self);

/* For a holder in the caller's own scope: true only when the process that
 * had this pid and start time certainly no longer runs (the pid is free,
 * belongs to a process started at another time, or is a zombie whose threads
 * have all ended). Anything doubtful (an unreadable entry) answers false. */
bool lease_holder_is_gone(long pid, long long start);

#endif
