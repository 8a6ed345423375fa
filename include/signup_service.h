/* signup_service: the use cases behind the HTTP API: register a validated
 * sign-up, verify an email address, resend a verification email. */
#ifndef SIGNUP_SERVICE_H
#define SIGNUP_SERVICE_H

#include <stddef.h>

#include "rate_limit.h"
#include "secret.h"
#include "signup_validation.h"
#include "verification.h"

struct db_pool;
struct password_hasher;

/* Borrowed collaborators and settings; they outlive the service. */
struct signup_service {
    struct db_pool *pool;
    struct password_hasher *hasher;
    const char *terms_version;
    const char *verify_url;        /* the link is verify_url?token=… */
    long token_ttl_s;
    const char *message_id_domain;
    struct mail_limits repeat_limits; /* resends and duplicate-sign-up emails per address */
    int db_acquire_timeout_ms;
    /* Request limits, checked before any expensive work. */
    bool are_limits_enabled;
    struct rate_limit_rule signup_per_ip, signup_per_email;
    struct rate_limit_rule resend_per_ip, resend_per_email[2];
};

/* Everything stored for a new account, normalised. Fixed-size buffers: no
 * ownership to track, and the password can be wiped in place. */
struct signup_request {
    char full_name[FULL_NAME_BUF_SIZE];
    char email[EMAIL_BUF_SIZE];
    char phone_number[PHONE_E164_BUF_SIZE];
    char password[PASSWORD_MAX_BYTES + 1];
    size_t password_len;
};

/* Overwrites the password so it does not linger in memory. */
static inline void signup_request_wipe(struct signup_request *req)
{
    secret_wipe(req->password, sizeof req->password);
    req->password_len = 0;
}

enum limited_action { LIMITED_SIGNUP, LIMITED_RESEND };

enum limit_outcome { LIMIT_ALLOWED, LIMIT_EXCEEDED, LIMIT_UNAVAILABLE };

/* Counts this request against the limits for action, per client_ip and per
 * email (normalised; "" to skip the per-address limits). The counts do not
 * depend on whether an account exists, so a 429 reveals nothing about it. */
enum limit_outcome signup_check_limits(const struct signup_service *service, enum limited_action action,
                                       const char *client_ip, const char *email, long *retry_after_s);

enum signup_outcome {
    SIGNUP_ACCEPTED,    /* created, or already registered: callers cannot tell which */
    SIGNUP_BUSY,        /* too many hashes queued; try again shortly */
    SIGNUP_UNAVAILABLE, /* database unreachable; nothing was stored */
    SIGNUP_FAILED,      /* unexpected; logged */
};

enum signup_outcome signup_register(const struct signup_service *service, const struct signup_request *req);

/* Verifies the account whose token is token[0..len). email receives the
 * account's address for VERIFY_VERIFIED / _ALREADY_VERIFIED / _EXPIRED. A
 * malformed token is VERIFY_INVALID without touching the database. */
enum verify_result signup_verify(const struct signup_service *service, const char *token, size_t len,
                                 char email[EMAIL_BUF_SIZE]);

/* Queues a new verification email for an unverified account with this
 * (normalised) email, within the repeat limits. */
enum resend_result signup_resend(const struct signup_service *service, const char *email);

#endif
