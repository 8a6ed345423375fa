/* What runs around the endpoints: CORS first on every known path, then,
 * when no endpoint answered, 405 (with Allow) for known paths asked with the
 * wrong method and 404 for unknown paths. */
#include <string.h>

#include "app.h"
#include "cors.h"
#include "handlers.h"
#include "problem.h"
#include "request_observer.h"

static int answer_preflight(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct route_context *route = user_data;
    cors_answer_preflight(route->app->cors, request, response, route->methods);
    return U_CALLBACK_COMPLETE;
}

int callback_cross_origin(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct route_context *route = user_data;
    if (strcmp(request->http_verb, "OPTIONS") == 0 &&
        u_map_get_case(request->map_header, "Access-Control-Request-Method") != NULL)
        return request_observe(route->metrics_route, request, response, answer_preflight, user_data);
    cors_apply(route->app->cors, request, response);
    return U_CALLBACK_CONTINUE;
}

int callback_route(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct route_context *route = user_data;
    return request_observe(route->metrics_route, request, response, route->handler, route->app);
}

static int answer_method_not_allowed(const struct _u_request *request, struct _u_response *response,
                                     void *user_data)
{
    const struct route_context *route = user_data;
    char allow[64];

    snprintf(allow, sizeof allow, "%s, OPTIONS", route->methods);
    u_map_put(response->map_header, "Allow", allow);
    if (strcmp(request->http_verb, "OPTIONS") == 0) {
        response->status = 204;
        return U_CALLBACK_COMPLETE;
    }
    return problem_respond(response, PROBLEM_METHOD_NOT_ALLOWED, NULL, NULL);
}

int callback_method_not_allowed(const struct _u_request *request, struct _u_response *response,
                                void *user_data)
{
    const struct route_context *route = user_data;
    return request_observe(route->metrics_route, request, response, answer_method_not_allowed, user_data);
}

static int answer_not_found(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    cors_apply(app->cors, request, response);
    return problem_respond(response, PROBLEM_NOT_FOUND, NULL, NULL);
}

int callback_not_found(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    return request_observe(METRICS_ROUTE_OTHER, request, response, answer_not_found, user_data);
}
