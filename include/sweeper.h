/* sweeper: a background thread that, every interval, deletes what can no
 * longer be used: expired and revoked sessions, reset tokens a day past
 * their expiry, and accounts still unverified unverified_ttl_s after
 * sign-up. Safe with many instances: the database lets one sweep at a time. */
#ifndef SIGNUP_SWEEPER_H
#define SIGNUP_SWEEPER_H

struct db_pool;

struct sweeper_settings {
    struct db_pool *pool; /* borrowed; must outlive sweeper_stop() */
    int db_acquire_timeout_ms;
    long interval_s;
    long unverified_ttl_s;
};

struct sweeper;

/* Starts the thread (settings are copied). Returns NULL (logged) when it
 * cannot start. */
struct sweeper *sweeper_start(const struct sweeper_settings *settings) __attribute__((warn_unused_result));

/* Wakes the thread, waits for its current sweep to end and frees it. NULL-safe. */
void sweeper_stop(struct sweeper *sweeper);

#endif
