/* HTTP server set-up: thread-per-connection (argon2 handlers are slow on
 * purpose, and in a pooled model one slow handler stalls every connection on
 * its thread), with explicit connection, timeout and size limits. */
#include "http_server.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "handlers.h"
#include "http_body.h"
#include "request_observer.h"

struct route {
    const char *method;
    const char *path;
    enum metrics_route metrics_route;
    int (*handler)(const struct _u_request *, struct _u_response *, void *);
};

static const struct route ROUTES[] = {
    {"POST", "/signup", METRICS_ROUTE_SIGNUP, callback_signup_post},
    {"GET", "/verify", METRICS_ROUTE_VERIFY, callback_verify_get},
    {"POST", "/verify/resend", METRICS_ROUTE_VERIFY_RESEND, callback_verify_resend_post},
    {"POST", "/signin", METRICS_ROUTE_SIGNIN, callback_signin_post},
    {"GET", "/session", METRICS_ROUTE_SESSION, callback_session_get},
    {"POST", "/signout", METRICS_ROUTE_SIGNOUT, callback_signout_post},
    {"POST", "/signout/all", METRICS_ROUTE_SIGNOUT_ALL, callback_signout_all_post},
    {"GET", "/healthz", METRICS_ROUTE_HEALTHZ, callback_healthz_get},
    {"GET", "/readyz", METRICS_ROUTE_READYZ, callback_readyz_get},
    {"GET", "/metrics", METRICS_ROUTE_METRICS, callback_metrics_get},
    {"GET", "/openapi.yaml", METRICS_ROUTE_OPENAPI, callback_openapi_get},
};

#define ROUTE_COUNT (sizeof ROUTES / sizeof ROUTES[0])

/* One per route, alive as long as the process: Ulfius keeps the pointers. */
static struct route_context route_contexts[ROUTE_COUNT];

/* Each path gets three callbacks, run in priority order: CORS (any method,
 * continues), the endpoint (its method, completes), and 405 (any method,
 * reached only when the endpoint's method did not match). */
static bool add_routes(struct _u_instance *inst, struct app *app)
{
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        const struct route *r = &ROUTES[i];
        route_contexts[i] = (struct route_context){
            .app = app, .methods = r->method, .metrics_route = r->metrics_route, .handler = r->handler};
        if (ulfius_add_endpoint_by_val(inst, "*", NULL, r->path, 0, callback_cross_origin, &route_contexts[i]) != U_OK ||
            ulfius_add_endpoint_by_val(inst, r->method, NULL, r->path, 1, callback_route, &route_contexts[i]) != U_OK ||
            ulfius_add_endpoint_by_val(inst, "*", NULL, r->path, 2, callback_method_not_allowed, &route_contexts[i]) !=
                U_OK)
            return false;
    }
    return ulfius_set_default_endpoint(inst, callback_not_found, app) == U_OK;
}

bool http_server_start(struct _u_instance *inst, struct app *app, char *err, size_t err_size)
{
    const struct config *cfg = app->config;
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned int ip_flag = 0;

    if (strchr(cfg->bind_address, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->port);
        inet_pton(AF_INET6, cfg->bind_address, &a6->sin6_addr);
        ip_flag = MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->port);
        inet_pton(AF_INET, cfg->bind_address, &a4->sin_addr);
    }

    if (ulfius_init_instance(inst, (unsigned int)cfg->port, NULL, NULL) != U_OK) {
        snprintf(err, err_size, "ulfius_init_instance failed");
        return false;
    }
    /* Set after init, which resets them. One byte over the limit lets the
     * handler tell "exactly at the limit" from "truncated by Ulfius". */
    inst->max_post_body_size = HTTP_BODY_MAX_BYTES + 1;
    /* We only take JSON. Ulfius's form parsers would otherwise run first, and
     * a malformed multipart body makes them drop the connection unanswered. */
    inst->allowed_post_processor = U_POST_PROCESS_NONE;
    u_map_put(inst->default_headers, "Cache-Control", "no-store");
    u_map_put(inst->default_headers, "X-Content-Type-Options", "nosniff");

    if (!add_routes(inst, app)) {
        snprintf(err, err_size, "registering routes failed");
        goto failed;
    }

    struct MHD_OptionItem options[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout_s, NULL},
        /* Per-connection buffer: also the largest header block accepted (MHD answers 431). */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)cfg->connection_memory_limit, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->per_ip_connection_limit, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    /* MHD_USE_ITC lets http_server_stop quiesce the daemon (stop accepting). */
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                         MHD_USE_ERROR_LOG | MHD_USE_ITC | ip_flag;
    if (ulfius_start_framework_with_mhd_options(inst, flags, options) != U_OK) {
        snprintf(err, err_size, "cannot listen on %s:%ld (in use, or not allowed?)", cfg->bind_address, cfg->port);
        goto failed;
    }
    return true;

failed:
    ulfius_clean_instance(inst);
    return false;
}

static void sleep_ms(long ms)
{
    struct timespec delay = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0)
        ;
}

void http_server_stop(struct _u_instance *inst, long grace_s)
{
    /* libmicrohttpd's stop shuts down every connection at once, answered or
     * not. So first close the listening socket (new clients are refused, not
     * reset), give requests already received a moment to reach their
     * handler, and wait for the handlers to finish; the short pause after
     * lets their answers be written. */
    MHD_socket listener = MHD_quiesce_daemon(inst->mhd_daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    sleep_ms(200);
    for (long waited_ms = 0; request_observer_in_flight() > 0 && waited_ms < grace_s * 1000; waited_ms += 50)
        sleep_ms(50);
    sleep_ms(100);
    ulfius_stop_framework(inst);
    ulfius_clean_instance(inst);
}
