/* CORS headers. Origins are compared exactly (after ASCII case folding, as
 * scheme and host are case-insensitive); no credentials are ever allowed. */
#include "cors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "string_set.h"

/* Preflight answers may be cached by the browser this long (seconds). */
#define CORS_MAX_AGE "600"
#define CORS_ALLOWED_HEADERS "Content-Type, Accept, Authorization, X-Request-Id"
#define CORS_EXPOSED_HEADERS "Retry-After, X-Request-Id, Location, WWW-Authenticate"

struct cors_policy {
    struct string_set *origins;
};

struct cors_policy *cors_policy_create(const char *allowed_origins)
{
    struct cors_policy *policy = calloc(1, sizeof *policy);
    if (policy == NULL || (policy->origins = string_set_create()) == NULL ||
        !string_set_add_list(policy->origins, allowed_origins))
        goto failed;
    return policy;

failed:
    cors_policy_free(policy);
    return NULL;
}

/* The request's Origin when it is on the allowlist, else NULL. Borrowed. */
static const char *allowed_origin(const struct cors_policy *policy, const struct _u_request *request)
{
    const char *origin = u_map_get_case(request->map_header, "Origin");
    if (origin == NULL || !string_set_contains(policy->origins, origin, strlen(origin)))
        return NULL;
    return origin;
}

void cors_apply(const struct cors_policy *policy, const struct _u_request *request, struct _u_response *response)
{
    /* Caches must not hand one origin's answer to another. */
    u_map_put(response->map_header, "Vary", "Origin");
    const char *origin = allowed_origin(policy, request);
    if (origin == NULL)
        return;
    u_map_put(response->map_header, "Access-Control-Allow-Origin", origin);
    u_map_put(response->map_header, "Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS);
}

bool cors_answer_preflight(const struct cors_policy *policy, const struct _u_request *request,
                           struct _u_response *response, const char *allowed_methods)
{
    if (strcmp(request->http_verb, "OPTIONS") != 0 ||
        u_map_get_case(request->map_header, "Access-Control-Request-Method") == NULL)
        return false;
    char methods[64];
    snprintf(methods, sizeof methods, "%s, OPTIONS", allowed_methods);
    u_map_put(response->map_header, "Allow", methods);
    u_map_put(response->map_header, "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    const char *origin = allowed_origin(policy, request);
    if (origin != NULL) {
        u_map_put(response->map_header, "Access-Control-Allow-Origin", origin);
        u_map_put(response->map_header, "Access-Control-Allow-Methods", methods);
        u_map_put(response->map_header, "Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS);
        u_map_put(response->map_header, "Access-Control-Max-Age", CORS_MAX_AGE);
    }
    response->status = 204;
    return true;
}

void cors_policy_free(struct cors_policy *policy)
{
    if (policy == NULL)
        return;
    string_set_free(policy->origins);
    free(policy);
}
