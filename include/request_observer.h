/* request_observer: what every HTTP request gets around its handler: an
 * X-Request-Id, one structured log line, and the request metrics. */
#ifndef SIGNUP_REQUEST_OBSERVER_H
#define SIGNUP_REQUEST_OBSERVER_H

#include <ulfius.h>

#include "metrics.h"

typedef int (*request_handler)(const struct _u_request *request, struct _u_response *response, void *user_data);

/* Runs handler(request, response, user_data), timing it; echoes a
 * well-formed client X-Request-Id or makes a new one; logs method, path (never
 * the query string, which may hold a token), status and duration; counts the
 * request under route. Returns the handler's result. */
int request_observe(enum metrics_route route, const struct _u_request *request, struct _u_response *response,
                    request_handler handler, void *user_data);

/* Handlers running right now (for a graceful shutdown). */
long request_observer_in_flight(void);

#endif
