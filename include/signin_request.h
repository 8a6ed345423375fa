/* signin_request: turns a POST /signin body into the fields of an attempt.
 * Only presence is checked: any other email or password that cannot match
 * an account is simply a failed sign-in (401), never a 422 that would say
 * more than "wrong". */
#ifndef SIGNUP_SIGNIN_REQUEST_H
#define SIGNUP_SIGNIN_REQUEST_H

#include <stddef.h>

#include "json_body.h"
#include "signup_validation.h"

/* One byte more than any stored value may have, so that anything longer
 * stays recognisably too long. */
#define SIGNIN_EMAIL_BUF_SIZE (EMAIL_MAX_OCTETS + 2)
#define SIGNIN_PASSWORD_BUF_SIZE (PASSWORD_MAX_BYTES + 2)

struct signin_request {
    char email[SIGNIN_EMAIL_BUF_SIZE]; /* trimmed; cut to EMAIL_MAX_OCTETS + 1 bytes */
    char password[SIGNIN_PASSWORD_BUF_SIZE];
    size_t password_len; /* at most PASSWORD_MAX_BYTES + 1 */
};

/* Parses body (len bytes). Missing, null or blank email/password are
 * SIGNUP_PARSE_INVALID with email_required / password_required. */
enum signup_parse_status signin_request_parse(const char *body, size_t len, struct signin_request *out,
                                              struct field_errors *errors, char *detail, size_t detail_size);

/* Overwrites the password. */
void signin_request_wipe(struct signin_request *req);

#endif
