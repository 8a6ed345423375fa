/* Operational endpoints: liveness and readiness probes (orchestrators and
 * test harnesses), Prometheus metrics, and the OpenAPI document. */
#include <stdlib.h>

#include "app.h"
#include "db_pool.h"
#include "handlers.h"
#include "metrics.h"
#include "outbox.h"
#include "password_hash.h"
#include "problem.h"
#include "sessions.h"

/* Probes must answer quickly; a pool exhausted for this long is not ready. */
#define READYZ_ACQUIRE_TIMEOUT_MS 2000

int callback_healthz_get(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    (void)request;
    (void)user_data;
    json_t *body = json_pack("{s:s}", "status", "ok");
    int rc = body ? json_respond(response, 200, body) : problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    json_decref(body);
    return rc;
}

int callback_readyz_get(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    (void)request;
    const struct app *app = user_data;
    PGconn *conn = db_pool_acquire(app->pool, READYZ_ACQUIRE_TIMEOUT_MS);
    bool is_ready = conn != NULL && db_is_ready(conn);
    db_pool_release(app->pool, conn);

    json_t *body = json_pack("{s:s, s:{s:s}}", "status", is_ready ? "ready" : "not_ready", "checks", "database",
                             is_ready ? "ok" : "unavailable");
    int rc = body ? json_respond(response, is_ready ? 200 : 503, body)
                  : problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    json_decref(body);
    return rc;
}

int callback_metrics_get(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    (void)request;
    const struct app *app = user_data;
    struct metrics_gauges gauges = {.outbox_pending = -1, .live_sessions = -1};

    password_hasher_stats(app->signup.hasher, &gauges.hash_waits, &gauges.hash_wait_seconds_sum);
    PGconn *conn = db_pool_acquire(app->pool, READYZ_ACQUIRE_TIMEOUT_MS);
    if (conn != NULL && outbox_pending_stats(conn, &gauges.outbox_pending, &gauges.outbox_oldest_pending_s) != DB_OK)
        gauges.outbox_pending = -1;
    if (conn != NULL && sessions_count_live(conn, &gauges.live_sessions) != DB_OK)
        gauges.live_sessions = -1;
    db_pool_release(app->pool, conn);

    char *text = metrics_render(&gauges);
    if (text == NULL)
        return problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    u_map_put(response->map_header, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ulfius_set_string_body_response(response, 200, text);
    free(text);
    return U_CALLBACK_COMPLETE;
}

int callback_openapi_get(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    (void)request;
    const struct app *app = user_data;
    if (app->openapi_document == NULL)
        return problem_respond(response, PROBLEM_NOT_FOUND, "The OpenAPI document is not installed on this server.",
                               NULL);
    u_map_put(response->map_header, "Content-Type", "application/yaml; charset=utf-8");
    ulfius_set_string_body_response(response, 200, app->openapi_document);
    return U_CALLBACK_COMPLETE;
}
