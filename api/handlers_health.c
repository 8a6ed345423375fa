/* Liveness and readiness probes, used by orchestrators and test harnesses. */
#include "app.h"
#include "db_pool.h"
#include "handlers.h"
#include "problem.h"

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
