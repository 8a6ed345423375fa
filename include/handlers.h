/* handlers: the HTTP endpoints. Each takes `struct app *` as user_data
 * except where noted, and always completes with a JSON or problem+json body. */
#ifndef SIGNUP_HANDLERS_H
#define SIGNUP_HANDLERS_H

#include <ulfius.h>

int callback_signup_post(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_verify_get(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_verify_resend_post(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_healthz_get(const struct _u_request *request, struct _u_response *response, void *user_data);
int callback_readyz_get(const struct _u_request *request, struct _u_response *response, void *user_data);

/* user_data: the path's allowed methods as a const char *, e.g. "POST". */
int callback_method_not_allowed(const struct _u_request *request, struct _u_response *response,
                                void *user_data);
/* user_data unused. */
int callback_not_found(const struct _u_request *request, struct _u_response *response, void *user_data);

#endif
