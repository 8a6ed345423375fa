/* recovery_service: getting back into an account and changing its
 * password: forgot (a reset email, enumeration-safe), reset with the link,
 * and a signed-in change of password. */
#ifndef SIGNUP_RECOVERY_SERVICE_H
#define SIGNUP_RECOVERY_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "rate_limit.h"
#include "signin_service.h"
#include "signup_validation.h"
#include "verification.h"

struct db_pool;
struct password_hasher;

/* Borrowed collaborators and settings; they outlive the service. */
struct recovery_service {
    struct db_pool *pool;
    struct password_hasher *hasher;
    const struct signin_service *signin; /* sessions and the brute-force throttle */
    const struct signup_rules *rules;    /* a new password obeys every sign-up rule */
    const char *reset_url;               /* the link is reset_url?token=… */
    long reset_ttl_s;
    const char *message_id_domain;
    struct mail_limits reset_limits; /* reset emails per address beyond the first */
    bool are_limits_enabled;
    struct rate_limit_rule forgot_per_ip;
    int db_acquire_timeout_ms;
};

enum forgot_outcome { FORGOT_ACCEPTED, FORGOT_RATE_LIMITED, FORGOT_UNAVAILABLE, FORGOT_FAILED };

/* Queues a reset email if an account has this (normalised) address; the
 * outcome is FORGOT_ACCEPTED whether or not one exists or its per-address
 * limit allowed an email. Only the per-client limit is FORGOT_RATE_LIMITED
 * (*retry_after_s), which says nothing about the address. */
enum forgot_outcome password_forgot(const struct recovery_service *service, const char *email,
                                    const char *client_ip, long *retry_after_s);

enum reset_outcome {
    RESET_DONE,
    RESET_INVALID_TOKEN, /* malformed, unknown, used, or older than the last password change */
    RESET_TOKEN_EXPIRED,
    RESET_WEAK_PASSWORD, /* errors lists the rules broken; the token stays usable */
    RESET_BUSY,
    RESET_UNAVAILABLE,
    RESET_FAILED,
};

/* Sets a new password with the reset link's token[0..token_len). */
enum reset_outcome password_reset(const struct recovery_service *service, const char *token, size_t token_len,
                                  const char *password, size_t password_len, struct field_errors *errors);

enum change_outcome {
    CHANGE_DONE,
    CHANGE_UNAUTHORIZED,        /* no live session */
    CHANGE_INVALID_CREDENTIALS, /* wrong current password (counted like a failed sign-in) */
    CHANGE_WEAK_PASSWORD,       /* errors lists the rules broken */
    CHANGE_THROTTLED,           /* *retry_after_s */
    CHANGE_BUSY,
    CHANGE_UNAVAILABLE,
    CHANGE_FAILED,
};

/* Changes the password of the session's account; every other session of it
 * ends. Field errors name new_password. */
enum change_outcome password_change_signed_in(const struct recovery_service *service, const char *session_token,
                                              size_t session_token_len, const char *current_password,
                                              size_t current_len, const char *new_password, size_t new_len,
                                              const char *client_ip, struct field_errors *errors,
                                              long *retry_after_s);

#endif
