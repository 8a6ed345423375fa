/* signin_attempts: the brute-force counters of sign-in (attempts that were
 * not successful, per
 * (address, client), per client across addresses, per address across
 * clients), kept in the rate-limit table so every instance shares them, and
 * the clients each account has signed in from before. Keys are hashed in
 * SQL: no address or email lands in a table. */
#ifndef SIGNUP_SIGNIN_ATTEMPTS_H
#define SIGNUP_SIGNIN_ATTEMPTS_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "db_pool.h"
#include "sessions.h"

/* Failures allowed per window; all borrowed keys are plain text. */
struct signin_limits {
    long per_pair;    /* one email from one client address */
    long per_client;  /* one client address, any email (password spraying) */
    long per_account; /* one email, any client (distributed guessing) */
    long window_s;
};

struct signin_keys {
    const char *email;     /* normalised: lower case */
    const char *client_ip; /* as resolved through TRUSTED_PROXIES */
};

/* Which limit a sign-in is over, if any. */
enum signin_throttle { SIGNIN_NOT_THROTTLED, SIGNIN_THROTTLED_PAIR, SIGNIN_THROTTLED_CLIENT, SIGNIN_THROTTLED_ACCOUNT };

/* Counts this attempt under all three limits at once, before its password is
 * checked, so guesses sent in parallel are counted as they arrive (checking
 * first and counting failures afterwards would let every guess in flight
 * through). The per-account limit does not apply to a client that has
 * signed in to that account before, so the cap cannot lock the owner out of
 * the places they use. *retry_after_s is the seconds until the window ends;
 * *account_attempts the per-account count of this window with this one. */
enum db_status signin_attempts_count(PGconn *conn, const struct signin_limits *limits, const struct signin_keys *keys,
                                     enum signin_throttle *throttle, long *retry_after_s, long *account_attempts);

/* A successful sign-in, in one statement (one round trip, one commit): the
 * session starts (its times in *times), the (email, client) counter starts
 * again, the attempt is taken back off the client and address counts, and
 * the client is remembered for the session's account. */
enum db_status signin_attempts_succeed(PGconn *conn, const struct signin_limits *limits,
                                       const struct signin_keys *keys, const struct new_session *session,
                                       struct session_times *times);

#endif
