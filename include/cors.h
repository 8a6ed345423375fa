/* cors: Cross-Origin Resource Sharing for the single-page frontend, from an
 * allowlist of exact origins (CORS_ALLOWED_ORIGINS); no wildcard. */
#ifndef SIGNUP_CORS_H
#define SIGNUP_CORS_H

#include <stdbool.h>
#include <ulfius.h>

struct cors_policy;

/* Parses the comma list (already validated by config). Returns NULL on
 * out-of-memory. Caller frees with cors_policy_free(). */
struct cors_policy *cors_policy_create(const char *allowed_origins) __attribute__((warn_unused_result));

/* Adds Vary: Origin, and for an allowed Origin the Access-Control-Allow-Origin
 * and -Expose-Headers headers. A disallowed origin gets no CORS headers. */
void cors_apply(const struct cors_policy *policy, const struct _u_request *request, struct _u_response *response);

/* When request is a preflight (OPTIONS with Access-Control-Request-Method),
 * fills a 204 answer (with the allow headers only if the origin is allowed)
 * and returns true. allowed_methods is the path's methods, e.g. "POST". */
bool cors_answer_preflight(const struct cors_policy *policy, const struct _u_request *request,
                           struct _u_response *response, const char *allowed_methods);

/* NULL-safe. */
void cors_policy_free(struct cors_policy *policy);

#endif
