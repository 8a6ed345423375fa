/* handlers: the HTTP endpoints. Each takes `struct app *` as user_data
 * except where noted, and always completes with a JSON or problem+json body. */
#ifndef SIGNUP_HANDLERS_H
#define SIGNUP_HANDLERS_H

#include <ulfius.h>

#include "metrics.h"

int callback_signup_post(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_verify_get(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_verify_resend_post(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_signin_post(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_session_get(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_signout_post(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_signout_all_post(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_metrics_get(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_openapi_get(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_healthz_get(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_readyz_get(const struct _u_request *request, struct _u_response *response, void *user_data);

struct app;

/* What the per-path callbacks below get as user_data. */
struct route_context {
    struct app *app;
    const char *methods; /* the path's methods, e.g. "POST" */
    enum metrics_route metrics_route;
    /* The endpoint, called with app as user_data. */
    int (*handler)(const struct _u_request *request, struct _u_response *response, void *user_data);
};

/* Runs first on every known path: answers CORS preflights, adds CORS
 * headers to everything else and lets the request continue. */
int callback_cross_origin(const struct _u_request *request, struct _u_response *response, void *user_data);

/* The endpoint itself, observed (request id, access log, metrics). */
int callback_route(const struct _u_request *request, struct _u_response *response, void *user_data);

/* Runs last on every known path: 405 with Allow (204 for a plain OPTIONS). */
int callback_method_not_allowed(const struct _u_request *request, struct _u_response *response,
                                void *user_data);

/* The default endpoint; user_data is the struct app. */
int callback_not_found(const struct _u_request *request, struct _u_response *response, void *user_data);

#endif
