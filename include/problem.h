/* problem: every error response, as RFC 9457 application/problem+json, from
 * one table of kinds so status, code and title never disagree. */
#ifndef SIGNUP_PROBLEM_H
#define SIGNUP_PROBLEM_H

#include <ulfius.h>

#include "signup_validation.h"

enum problem_kind {
    PROBLEM_VALIDATION_FAILED,      /* 422, errors lists each violation */
    PROBLEM_MALFORMED_JSON,         /* 400 */
    PROBLEM_BODY_NOT_OBJECT,        /* 400 */
    PROBLEM_WRONG_FIELD_TYPE,       /* 400, errors lists each field */
    PROBLEM_TOKEN_REQUIRED,         /* 400, GET /verify without ?token= */
    PROBLEM_INVALID_TOKEN,          /* 400, unknown or malformed token */
    PROBLEM_TOKEN_EXPIRED,          /* 410 */
    PROBLEM_PAYLOAD_TOO_LARGE,      /* 413 */
    PROBLEM_UNSUPPORTED_MEDIA_TYPE, /* 415 */
    PROBLEM_NOT_FOUND,              /* 404 */
    PROBLEM_METHOD_NOT_ALLOWED,     /* 405 */
    PROBLEM_RATE_LIMITED,           /* 429 + Retry-After */
    PROBLEM_SERVICE_BUSY,           /* 503 + Retry-After */
    PROBLEM_SERVICE_UNAVAILABLE,    /* 503 + Retry-After */
    PROBLEM_INTERNAL_ERROR,         /* 500 */
    PROBLEM_INVALID_CREDENTIALS,    /* 401, unknown email or wrong password alike */
    PROBLEM_EMAIL_NOT_VERIFIED,     /* 403, right password, address not verified */
    PROBLEM_UNAUTHORIZED,           /* 401 + WWW-Authenticate: Bearer, no live session */
    PROBLEM_INVALID_RESET_TOKEN,    /* 400 invalid_token, for a password reset link */
    PROBLEM_RESET_TOKEN_EXPIRED,    /* 410 token_expired, for a password reset link */
    PROBLEM_TOO_MANY_CONNECTIONS,   /* 503 + Retry-After: the client address is over its connection share */
    PROBLEM_SERVER_AT_CAPACITY,     /* 503 + Retry-After: MAX_CONNECTIONS are open */
    PROBLEM_REQUEST_TIMEOUT,        /* 408: never reaches the client, whose connection was cut */
};

/* Fills response with the problem document for kind. detail may be NULL (the
 * table's default is used); errors may be NULL. Returns U_CALLBACK_COMPLETE so
 * handlers can `return problem_respond(...)`. */
int problem_respond(struct _u_response *response, enum problem_kind kind, const char *detail,
                    const struct field_errors *errors);

/* Same, with Retry-After set to retry_after_s seconds (overriding the table's). */
int problem_respond_retry_after(struct _u_response *response, enum problem_kind kind, long retry_after_s);

/* Sets a JSON body (serialised compactly) with status; j is borrowed.
 * Returns U_CALLBACK_COMPLETE, or a plain 500 problem if serialising fails. */
int json_respond(struct _u_response *response, unsigned int status, const json_t *j);

#endif
