/* http_server: the Ulfius instance, its libmicrohttpd limits and its routes. */
#ifndef SIGNUP_HTTP_SERVER_H
#define SIGNUP_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <ulfius.h>

struct app;

/* Initialises inst, registers every route with app as user_data and starts
 * serving. On failure returns false with the reason in err; inst is cleaned. */
bool http_server_start(struct _u_instance *inst, struct app *app, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* Stops accepting new connections at once, lets requests already being
 * handled finish and get their answers (up to grace_s seconds), then closes
 * every connection and frees inst's resources. */
void http_server_stop(struct _u_instance *inst, long grace_s);

#endif
