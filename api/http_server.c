/* HTTP server set-up: thread-per-connection (argon2 handlers are slow on
 * purpose, and in a pooled model one slow handler stalls every connection on
 * its thread), with explicit connection, timeout and size limits. */
#include "http_server.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "connection_guard.h"
#include "handlers.h"
#include "http_body.h"
#include "log.h"
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
    {"POST", "/password/forgot", METRICS_ROUTE_PASSWORD_FORGOT, callback_password_forgot_post},
    {"POST", "/password/reset", METRICS_ROUTE_PASSWORD_RESET, callback_password_reset_post},
    {"POST", "/password/change", METRICS_ROUTE_PASSWORD_CHANGE, callback_password_change_post},
    {"GET", "/healthz", METRICS_ROUTE_HEALTHZ, callback_healthz_get},
    {"GET", "/readyz", METRICS_ROUTE_READYZ, callback_readyz_get},
    {"GET", "/metrics", METRICS_ROUTE_METRICS, callback_metrics_get},
    {"GET", "/openapi.yaml", METRICS_ROUTE_OPENAPI, callback_openapi_get},
};

#define ROUTE_COUNT (sizeof ROUTES / sizeof ROUTES[0])

/* One per route, alive as long as the process: Ulfius keeps the pointers. */
static struct route_context route_contexts[ROUTE_COUNT];

/* Deadlines and connection limits of the one server of the process; owned
 * here from http_server_start to http_server_stop. */
static struct connection_guard *guard;

/* libmicrohttpd's own messages, as log lines. It writes one for each
 * connection that ends mid-request, which under a slow-client flood is
 * thousands a second, so at most MHD_LOG_BURST lines go out per
 * MHD_LOG_WINDOW_S and the next one says how many were left out. */
#define MHD_LOG_BURST 20
#define MHD_LOG_WINDOW_S 10

/* Each connection's thread stack. The deepest request measured, a body
 * nested 2,000 levels deep (jansson stops at 2,048), needs 130-190 KiB in
 * both the -O2 and the ASan build (128 KiB crashes). Not the 8 MiB default:
 * glibc keeps 40 MiB of freed stacks for new threads, which is 5 of those
 * but 80 of these, and under slow-client churn creating and joining
 * threads is most of the listening thread's work (measured with
 * bench/flood.sh: about 15 % less CPU there). */
#define CONNECTION_THREAD_STACK_BYTES (512 * 1024)

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static time_t window_start;
    static int written_in_window;
    static long left_out;
    char message[512], left_out_text[24];
    struct timespec now;
    (void)cls;

    vsnprintf(message, sizeof message, fmt, ap);
    message[strcspn(message, "\n")] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&lock);
    if (now.tv_sec - window_start >= MHD_LOG_WINDOW_S) {
        window_start = now.tv_sec;
        written_in_window = 0;
    }
    bool is_written = written_in_window < MHD_LOG_BURST;
    if (is_written) {
        written_in_window++;
        snprintf(left_out_text, sizeof left_out_text, "%ld", left_out);
        left_out = 0;
    } else {
        left_out++;
    }
    pthread_mutex_unlock(&lock);
    if (is_written)
        log_event(LOG_LEVEL_INFO, "libmicrohttpd", "message", message, "left_out_before", left_out_text, LOG_END);
}

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

    struct connection_guard_settings guard_settings = {.max_connections = app->max_connections,
                                                       .per_address_limit = cfg->per_ip_connection_limit,
                                                       .request_timeout_s = cfg->request_timeout_s,
                                                       .trusted_proxies = cfg->trusted_proxies};
    guard = connection_guard_create(&guard_settings, err, err_size);
    if (guard == NULL)
        goto failed;
    /* Ulfius's completion and URI hooks are required in their slots; the
     * guard's wrappers call them. The guard counts the per-address limit
     * (libmicrohttpd's cannot exempt trusted proxies, and closes instead of
     * answering); libmicrohttpd's limits sit above the guard's, leaving it
     * room to answer 503, and close what the guard would close anyway
     * before a thread is made for it. */
    struct MHD_OptionItem options[] = {
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)connection_guard_request_completed, guard},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)connection_guard_uri_log, guard},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)connection_guard_notify_connection, guard},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        {MHD_OPTION_THREAD_STACK_SIZE, (intptr_t)CONNECTION_THREAD_STACK_BYTES, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)connection_guard_daemon_limit(guard), NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)connection_guard_daemon_per_ip_limit(guard), NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout_s, NULL},
        /* Per-connection buffer: also the largest header block accepted (MHD answers 431). */
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)cfg->connection_memory_limit, NULL},
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
    connection_guard_free(guard);
    guard = NULL;
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
    connection_guard_free(guard); /* every connection is closed by now */
    guard = NULL;
}
