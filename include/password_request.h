/* password_request: the bodies of POST /password/reset {"token","password"}
 * and POST /password/change {"current_password","new_password"}. Only the
 * JSON shape is checked here; the token and the password rules are the
 * recovery service's (a new password is checked only once its token is
 * known to be good). Values are borrowed from *object. */
#ifndef SIGNUP_PASSWORD_REQUEST_H
#define SIGNUP_PASSWORD_REQUEST_H

#include <stddef.h>

#include "json_body.h"

struct password_reset_request {
    const char *token; /* "" when absent */
    size_t token_len;
    const char *password; /* "" when absent */
    size_t password_len;
};

struct password_change_request {
    const char *current_password;
    size_t current_len;
    const char *new_password;
    size_t new_len;
};

/* On SIGNUP_PARSE_OK, *object is a new reference holding the strings; the
 * caller json_decref()s it when done with them. */
enum signup_parse_status password_reset_request_parse(const char *body, size_t len, json_t **object,
                                                      struct password_reset_request *out,
                                                      struct field_errors *errors, char *detail,
                                                      size_t detail_size);

/* Same; a missing or blank current_password is SIGNUP_PARSE_INVALID with
 * current_password_required. */
enum signup_parse_status password_change_request_parse(const char *body, size_t len, json_t **object,
                                                       struct password_change_request *out,
                                                       struct field_errors *errors, char *detail,
                                                       size_t detail_size);

#endif
