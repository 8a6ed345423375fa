/* sweeper: a background thread that deletes expired and revoked sessions
 * every interval. Safe with many instances: the database lets one sweep at a
 * time. */
#ifndef SIGNUP_SWEEPER_H
#define SIGNUP_SWEEPER_H

#include "signin_service.h"

struct sweeper;

/* Starts the thread; service is borrowed and must outlive sweeper_stop().
 * Returns NULL (logged) when the thread cannot start. */
struct sweeper *sweeper_start(const struct signin_service *service, long interval_s)
    __attribute__((warn_unused_result));

/* Wakes the thread, waits for its current sweep to end and frees it. NULL-safe. */
void sweeper_stop(struct sweeper *sweeper);

#endif
