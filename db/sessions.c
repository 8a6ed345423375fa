/* Session rows: the parts of the statement that creates one (run by
 * signin_attempts_succeed), use (with a throttled idle extension), revoke,
 * and the sweep that removes what can no longer be used. Every statement is
 * a single round trip. */
#include "sessions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_SESSION "revoked_at IS NULL AND idle_expires_at > now() AND absolute_expires_at > now()"
/* Cuts text to at most max bytes without splitting a UTF-8 sequence, so the
 * value stays valid for PostgreSQL. */
static void cut_utf8(const char *text, char *out, size_t max)
{
    size_t n = 0;
    while (n < max && text[n] != '\0')
        n++;
    if (text[n] != '\0')
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    snprintf(out, n + 1, "%s", text);
}

void sessions_bind(const struct new_session *session, struct session_params *params)
{
    snprintf(params->idle_text, sizeof params->idle_text, "%ld", session->idle_timeout_s);
    snprintf(params->max_age_text, sizeof params->max_age_text, "%ld", session->max_age_s);
    cut_utf8(session->user_agent, params->user_agent, SESSIONS_USER_AGENT_KEPT);
    const char *values[SESSIONS_INSERT_PARAMS] = {session->token_hash_hex, session->account_id, params->idle_text,
                                                  params->max_age_text,    session->client_ip,  params->user_agent};
    memcpy(params->values, values, sizeof values);
}

bool sessions_read_times(const PGresult *res, struct session_times *times)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        return false;
    db_copy_value(times->created_at, sizeof times->created_at, res, 0);
    db_copy_value(times->expires_at, sizeof times->expires_at, res, 1);
    return true;
}

enum session_lookup sessions_use(PGconn *conn, const char *token_hash_hex, long idle_timeout_s,
                                 struct account_profile *account, struct session_times *times,
                                 enum db_status *status)
{
    /* The UPDATE runs only for a session last written over a minute ago;
     * otherwise the statement only reads. */
    static const struct db_statement USE = {
        "session_use",
        "WITH live AS (SELECT token_hash, account_id, created_at, last_used_at, idle_expires_at, "
        "                     absolute_expires_at FROM sessions WHERE token_hash = $1::bytea AND " LIVE_SESSION "), "
        "touched AS (UPDATE sessions s SET last_used_at = now(), "
        "              idle_expires_at = least(now() + make_interval(secs => $2::int), s.absolute_expires_at) "
        "              FROM live WHERE s.token_hash = live.token_hash "
        "               AND live.last_used_at < now() - interval '1 minute' "
        "            RETURNING s.idle_expires_at) "
        "SELECT a.id, a.email, a.full_name, a.phone_number, coalesce(" SQL_RFC3339("a.email_verified_at") ", ''), "
        "       " SQL_RFC3339("live.created_at") ", "
        "       " SQL_RFC3339("coalesce((SELECT idle_expires_at FROM touched), live.idle_expires_at)") " "
        "  FROM live JOIN accounts a ON a.id = live.account_id",
        2};
    char idle_text[24];
    snprintf(idle_text, sizeof idle_text, "%ld", idle_timeout_s);
    const char *params[] = {token_hash_hex, idle_text};

    *status = DB_OK;
    PGresult *res = db_exec_prepared(conn, &USE, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *status = db_failure(conn, res, "session_use");
        PQclear(res);
        return SESSION_LOOKUP_FAILED;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return SESSION_NOT_LIVE;
    }
    db_copy_value(account->id, sizeof account->id, res, 0);
    db_copy_value(account->email, sizeof account->email, res, 1);
    db_copy_value(account->full_name, sizeof account->full_name, res, 2);
    db_copy_value(account->phone_number, sizeof account->phone_number, res, 3);
    db_copy_value(account->email_verified_at, sizeof account->email_verified_at, res, 4);
    db_copy_value(times->created_at, sizeof times->created_at, res, 5);
    db_copy_value(times->expires_at, sizeof times->expires_at, res, 6);
    PQclear(res);
    return SESSION_LIVE;
}

enum db_status sessions_revoke(PGconn *conn, const char *token_hash_hex, bool is_all, bool *was_live)
{
    static const struct db_statement REVOKE_ONE = {
        "session_revoke",
        "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1::bytea AND " LIVE_SESSION " RETURNING 1", 1};
    /* Every session of the account, including ones that merely expired
     * (harmless, and the sweep takes them sooner). */
    static const struct db_statement REVOKE_ALL = {
        "session_revoke_all",
        "UPDATE sessions SET revoked_at = now() "
        " WHERE revoked_at IS NULL AND account_id = (SELECT account_id FROM sessions "
        "                                              WHERE token_hash = $1::bytea AND " LIVE_SESSION ") "
        "RETURNING 1",
        1};
    const char *params[] = {token_hash_hex};
    PGresult *res = db_exec_prepared(conn, is_all ? &REVOKE_ALL : &REVOKE_ONE, params);
    enum db_status status = DB_OK;
    *was_live = false;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        *was_live = PQntuples(res) > 0;
    else
        status = db_failure(conn, res, is_all ? "session_revoke_all" : "session_revoke");
    PQclear(res);
    return status;
}

enum db_status sessions_sweep(PGconn *conn, long batch, long *deleted)
{
    /* hashtext('sessions_sweep') names the lock; the statement is its own
     * transaction, so the lock lasts exactly as long as the delete. */
    static const struct db_statement SWEEP = {
        "sessions_sweep",
        "WITH sweeper AS (SELECT pg_try_advisory_xact_lock(hashtext('sessions_sweep')) AS is_mine), "
        "doomed AS (SELECT token_hash FROM sessions, sweeper WHERE sweeper.is_mine "
        "              AND (revoked_at IS NOT NULL OR idle_expires_at <= now() OR absolute_expires_at <= now()) "
        "            LIMIT $1::int FOR UPDATE OF sessions SKIP LOCKED) "
        "DELETE FROM sessions s USING doomed WHERE s.token_hash = doomed.token_hash",
        1};
    char batch_text[24];
    snprintf(batch_text, sizeof batch_text, "%ld", batch);
    const char *params[] = {batch_text};
    return db_exec_count(conn, &SWEEP, params, deleted);
}

enum db_status sessions_count_live(PGconn *conn, long *count)
{
    PGresult *res = PQexec(conn, "SELECT count(*) FROM sessions WHERE " LIVE_SESSION);
    enum db_status status = DB_OK;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        *count = atol(PQgetvalue(res, 0, 0));
    else
        status = db_failure(conn, res, "sessions_count_live");
    PQclear(res);
    return status;
}
