/* What answers when no endpoint does: 404 for unknown paths, 405 (with
 * Allow) for known paths asked with the wrong method. */
#include <string.h>

#include "handlers.h"
#include "problem.h"

int callback_method_not_allowed(const struct _u_request *request, struct _u_response *response,
                                void *user_data)
{
    const char *allowed = user_data;
    char allow[64];

    snprintf(allow, sizeof allow, "%s, OPTIONS", allowed);
    u_map_put(response->map_header, "Allow", allow);
    if (strcmp(request->http_verb, "OPTIONS") == 0) {
        response->status = 204;
        return U_CALLBACK_COMPLETE;
    }
    return problem_respond(response, PROBLEM_METHOD_NOT_ALLOWED, NULL, NULL);
}

int callback_not_found(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    (void)request;
    (void)user_data;
    return problem_respond(response, PROBLEM_NOT_FOUND, NULL, NULL);
}
