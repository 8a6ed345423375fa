/* signin_service: the sign-in use cases: sign in with email and password
 * (brute-force throttled, enumeration-safe), use a session, sign out of one
 * or every session, and sweep expired sessions away. */
#ifndef SIGNUP_SIGNIN_SERVICE_H
#define SIGNUP_SIGNIN_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "account_profile.h"
#include "secret_token.h"
#include "sessions.h"
#include "signin_attempts.h"
#include "signup_service.h"

struct db_pool;
struct password_hasher;

/* Borrowed collaborators and settings; they outlive the service. */
struct signin_service {
    struct db_pool *pool;
    struct password_hasher *hasher;
    const struct signup_service *signup; /* sends the fresh verification email of a 403 */
    long session_idle_timeout_s;
    long session_max_age_s;
    bool are_limits_enabled;
    struct signin_limits limits;
    const char *message_id_domain;
    int db_acquire_timeout_ms;
    /* Made at start-up with the configured parameters: an unknown email is
     * checked against it, so it costs the same argon2 work as a known one. */
    char dummy_hash[PASSWORD_HASH_ENCODED_MAX];
};

/* Fills service->dummy_hash. False (logged) when hashing fails. */
bool signin_service_prepare(struct signin_service *service) __attribute__((warn_unused_result));

/* One attempt; all borrowed. */
struct signin_attempt {
    const char *email; /* as typed; need not be a valid address */
    const char *password;
    size_t password_len;
    const char *client_ip;
    const char *user_agent; /* "" when absent */
};

enum signin_outcome {
    SIGNIN_OK,          /* out has the new session */
    SIGNIN_INVALID,     /* unknown email or wrong password: callers cannot tell which */
    SIGNIN_UNVERIFIED,  /* right password, address not verified; a new email was queued (within limits) */
    SIGNIN_THROTTLED,   /* too many failures; out->retry_after_s */
    SIGNIN_BUSY,        /* too many hashes queued */
    SIGNIN_UNAVAILABLE, /* database unreachable */
    SIGNIN_FAILED,      /* unexpected; logged */
};

struct signin_success {
    char session_token[SECRET_TOKEN_TEXT_LEN + 1]; /* the only copy; wipe after answering */
    struct session_times times;
    struct account_profile account;
    long retry_after_s;
};

enum signin_outcome signin(const struct signin_service *service, const struct signin_attempt *attempt,
                           struct signin_success *out);

/* The brute-force throttle of sign-in, for other checks of a password (a
 * signed-in password change): counts the attempt and answers SIGNIN_OK,
 * SIGNIN_THROTTLED (*retry_after_s) or SIGNIN_UNAVAILABLE / SIGNIN_FAILED.
 * *account_attempts is for signin_throttle_fail. */
enum signin_outcome signin_throttle_count(const struct signin_service *service, const char *email,
                                          const char *client_ip, long *retry_after_s, long *account_attempts);

/* The counted attempt had a wrong password: tells the owner when it was the
 * one that reached the per-address cap. Returns SIGNIN_INVALID, or
 * SIGNIN_UNAVAILABLE. */
enum signin_outcome signin_throttle_fail(const struct signin_service *service, const struct account_profile *account,
                                         long account_attempts);

enum session_outcome { SESSION_OK, SESSION_UNAUTHORIZED, SESSION_UNAVAILABLE };

/* The session whose token is token[0..len) and its account, extending its
 * idle expiry. Any token that names no live session is SESSION_UNAUTHORIZED. */
enum session_outcome session_use(const struct signin_service *service, const char *token, size_t len,
                                 struct account_profile *account, struct session_times *times);

/* Revokes that session, or with is_all every session of its account. */
enum session_outcome session_sign_out(const struct signin_service *service, const char *token, size_t len,
                                      bool is_all);


#endif
