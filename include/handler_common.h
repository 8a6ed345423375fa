/* handler_common: the steps the JSON-body handlers share, each mapping a
 * domain outcome to HTTP in one place. */
#ifndef SIGNUP_HANDLER_COMMON_H
#define SIGNUP_HANDLER_COMMON_H

#include <ulfius.h>

#include "signup_request.h"
#include "signup_service.h"

struct app;

/* For any status but SIGNUP_PARSE_OK, fills response with its 400/422
 * problem and returns U_CALLBACK_COMPLETE; for OK returns U_CALLBACK_CONTINUE. */
int handler_respond_parse_status(struct _u_response *response, enum signup_parse_status status, const char *detail,
                                 const struct field_errors *errors);

/* Counts the request against action's limits for the resolved client IP and
 * email. Returns U_CALLBACK_CONTINUE when allowed, else fills response (429
 * with Retry-After, or 503) and returns U_CALLBACK_COMPLETE. */
int handler_check_limits(const struct app *app, const struct _u_request *request, struct _u_response *response,
                         enum limited_action action, const char *email);

#endif
