/* signup_request: turns a POST /signup or /verify/resend body into the
 * validated, normalised input of the sign-up use cases (HTTP layer). */
#ifndef SIGNUP_REQUEST_H
#define SIGNUP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "json_body.h"
#include "signup_service.h"
#include "signup_validation.h"

/* Parses body (len bytes, need not be NUL-terminated) and validates every
 * field. Absent and null fields count as empty. Unknown fields are ignored so
 * older servers accept newer clients. On SIGNUP_PARSE_OK out is filled. */
enum signup_parse_status signup_request_parse(const char *body, size_t len, const struct signup_rules *rules,
                                              struct signup_request *out, struct field_errors *errors,
                                              char *detail, size_t detail_size);

/* Parses a POST /verify/resend body {"email": "..."}. On SIGNUP_PARSE_OK,
 * email holds the normalised address, or "" when it is well-formed but not
 * corporate (no account can have it). */
enum signup_parse_status resend_request_parse(const char *body, size_t len, const struct signup_rules *rules,
                                              char email[EMAIL_BUF_SIZE], struct field_errors *errors,
                                              char *detail, size_t detail_size);

#endif
