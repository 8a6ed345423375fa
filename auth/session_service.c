/* Using and ending sessions. A token is looked up only by its SHA-256; one
 * that is malformed, unknown, expired or revoked gets the same answer. */
#include "signin_service.h"

#include <stdio.h>

#include "db_pool.h"
#include "log.h"

enum session_outcome session_use(const struct signin_service *service, const char *token, size_t len,
                                 struct account_profile *account, struct session_times *times)
{
    char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE];
    enum db_status status = DB_OK;

    if (!secret_token_hash(token, len, hash_hex))
        return SESSION_UNAUTHORIZED;
    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return SESSION_UNAVAILABLE;
    enum session_lookup found =
        sessions_use(conn, hash_hex, service->session_idle_timeout_s, account, times, &status);
    db_pool_release(service->pool, conn);
    if (found == SESSION_LOOKUP_FAILED)
        return SESSION_UNAVAILABLE;
    return found == SESSION_LIVE ? SESSION_OK : SESSION_UNAUTHORIZED;
}

enum session_outcome session_sign_out(const struct signin_service *service, const char *token, size_t len,
                                      bool is_all)
{
    char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE];
    bool was_live = false;

    if (!secret_token_hash(token, len, hash_hex))
        return SESSION_UNAUTHORIZED;
    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return SESSION_UNAVAILABLE;
    enum db_status status = sessions_revoke(conn, hash_hex, is_all, &was_live);
    db_pool_release(service->pool, conn);
    if (status != DB_OK)
        return SESSION_UNAVAILABLE;
    if (was_live)
        log_event(LOG_LEVEL_INFO, is_all ? "signed_out_everywhere" : "signed_out", LOG_END);
    return was_live ? SESSION_OK : SESSION_UNAUTHORIZED;
}

long session_sweep_expired(const struct signin_service *service, long batch)
{
    long total = 0, deleted = 0;
    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return 0;
    /* Batches keep each delete (and its locks) short; a full batch means
     * there may be more. */
    do {
        if (sessions_sweep(conn, batch, &deleted) != DB_OK)
            break;
        total += deleted;
    } while (deleted == batch);
    db_pool_release(service->pool, conn);
    if (total > 0) {
        char count[24];
        snprintf(count, sizeof count, "%ld", total);
        log_event(LOG_LEVEL_INFO, "sessions_swept", "deleted", count, LOG_END);
    }
    return total;
}
