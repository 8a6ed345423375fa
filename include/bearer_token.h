/* bearer_token: reads the session token from an Authorization header
 * (RFC 6750 section 2.1: "Bearer" SP token68). */
#ifndef SIGNUP_BEARER_TOKEN_H
#define SIGNUP_BEARER_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

/* On success *token points into header (borrowed) and *len is its length.
 * False for NULL, another scheme, a missing or empty token, characters
 * outside token68, or anything after the token (e.g. two headers joined by
 * a comma). The scheme name is case-insensitive. */
bool bearer_token_parse(const char *header, const char **token, size_t *len) __attribute__((warn_unused_result));

#endif
