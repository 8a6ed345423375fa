/* Reset tokens, resets and signed-in password changes. Each change is one
 * statement, so atomic without an explicit transaction; a request is two. */
#include "password_reset.h"

#include <stdio.h>
#include <stdlib.h>

#include "outbox.h"

/* The "password changed" email for the account row(s) in the CTE acct. */
#define CHANGED_MAIL(source)                                                                                           \
    OUTBOX_INSERT_SQL "SELECT '" OUTBOX_KIND_PASSWORD_CHANGED "', id, email, full_name, NULL, "                       \
                      OUTBOX_MESSAGE_ID_SQL(source) " FROM acct RETURNING 1"

enum db_status password_reset_request(PGconn *conn, const struct reset_request *request, bool *is_queued)
{
    /* Two statements in one transaction: the first locks the account (and
     * writes the request counter, the write both paths commit); the second,
     * with a snapshot taken after the lock was granted, sees the emails a
     * concurrent request committed meanwhile, so together they cannot slip
     * under the limit. An unknown address runs the same two, locking nothing. */
    static const struct db_statement LOCK = {
        "password_reset_lock",
        "WITH seen AS (INSERT INTO rate_limit_counters AS c (scope, key_hash, window_start, hits) "
        "              VALUES ('forgot_seen', sha256(convert_to(lower($1), 'UTF8')), "
        "                      date_bin(interval '1 hour', now(), timestamptz 'epoch'), 1) "
        "              ON CONFLICT (scope, key_hash, window_start) DO UPDATE SET hits = c.hits + 1 RETURNING 1) "
        "SELECT id FROM accounts WHERE lower(email) = lower($1) FOR UPDATE",
        1};
    static const struct db_statement REQUEST = {
        "password_reset_request",
        "WITH acct AS (SELECT id, email, full_name, password_version FROM accounts WHERE id = $1::uuid), "
        "recent AS (SELECT count(*) FILTER (WHERE o.created_at > now() - interval '1 minute') AS minute, "
        "                  count(*) AS hour "
        "             FROM email_outbox o JOIN acct ON o.account_id = acct.id "
        "            WHERE o.kind = '" OUTBOX_KIND_PASSWORD_RESET "' AND o.created_at > now() - interval '1 hour'), "
        "allowed AS (SELECT acct.* FROM acct, recent WHERE recent.minute <= $6::int AND recent.hour <= $7::int), "
        "tok AS (INSERT INTO password_reset_tokens (token_hash, account_id, password_version, expires_at) "
        "        SELECT $2::bytea, id, password_version, now() + make_interval(secs => $3::int) FROM allowed "
        "        RETURNING 1), "
        "mail AS (" OUTBOX_INSERT_SQL
        "         SELECT '" OUTBOX_KIND_PASSWORD_RESET "', id, email, full_name, $4, " OUTBOX_MESSAGE_ID_SQL("$5")
        "           FROM allowed RETURNING 1) "
        "SELECT count(*) FROM mail",
        7};
    char ttl_text[24], minute_text[24], hour_text[24], account_id[64] = "";
    snprintf(ttl_text, sizeof ttl_text, "%ld", request->token_ttl_s);
    snprintf(minute_text, sizeof minute_text, "%ld", request->limits.per_minute);
    snprintf(hour_text, sizeof hour_text, "%ld", request->limits.per_hour);
    const char *lock_params[] = {request->email};
    enum db_status status;
    PGresult *res = NULL;

    *is_queued = false;
    if ((status = db_command(conn, "BEGIN", "password_reset_begin")) != DB_OK)
        return status;
    res = db_exec_prepared(conn, &LOCK, lock_params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        status = db_failure(conn, res, "password_reset_lock");
        goto rollback;
    }
    if (PQntuples(res) == 1)
        snprintf(account_id, sizeof account_id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    const char *params[] = {account_id[0] ? account_id : NULL, request->token_hash_hex, ttl_text,
                            request->reset_link, request->message_id_domain, minute_text, hour_text};
    res = db_exec_prepared(conn, &REQUEST, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        status = db_failure(conn, res, "password_reset_request");
        goto rollback;
    }
    bool is_inserted = atol(PQgetvalue(res, 0, 0)) == 1;
    PQclear(res);
    status = db_command(conn, "COMMIT", "password_reset_commit");
    *is_queued = status == DB_OK && is_inserted;
    return status;

rollback:
    PQclear(res);
    (void)db_command(conn, "ROLLBACK", "password_reset_rollback");
    return status;
}

enum db_status password_reset_check(PGconn *conn, const char *token_hash_hex, enum reset_token_state *state)
{
    static const struct db_statement CHECK = {
        "password_reset_check",
        "SELECT t.used_at IS NULL AND t.password_version = a.password_version, t.expires_at > now() "
        "  FROM password_reset_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.token_hash = $1::bytea",
        1};
    const char *params[] = {token_hash_hex};
    PGresult *res = db_exec_prepared(conn, &CHECK, params);
    enum db_status status = DB_OK;
    *state = RESET_LINK_INVALID;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        status = db_failure(conn, res, "password_reset_check");
    else if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't')
        *state = PQgetvalue(res, 0, 1)[0] == 't' ? RESET_LINK_LIVE : RESET_LINK_EXPIRED;
    PQclear(res);
    return status;
}

enum db_status password_reset_consume(PGconn *conn, const char *token_hash_hex, const char *new_hash,
                                      const char *message_id_domain, enum reset_token_state *state)
{
    /* A concurrent consume of the same token waits on the row locks, then no
     * longer matches (used_at is set): exactly one reset wins. */
    static const struct db_statement CONSUME = {
        "password_reset_consume",
        "WITH t AS (SELECT t.token_hash, t.account_id FROM password_reset_tokens t "
        "             JOIN accounts a ON a.id = t.account_id "
        "            WHERE t.token_hash = $1::bytea AND t.used_at IS NULL AND t.expires_at > now() "
        "              AND t.password_version = a.password_version FOR UPDATE OF t, a), "
        "used AS (UPDATE password_reset_tokens SET used_at = now() WHERE token_hash IN (SELECT token_hash FROM t) "
        "         RETURNING 1), "
        "acct AS (UPDATE accounts a SET password_hash = $2, password_version = a.password_version + 1, "
        "                password_changed_at = now(), email_verified_at = coalesce(a.email_verified_at, now()) "
        "           FROM t WHERE a.id = t.account_id RETURNING a.id, a.email, a.full_name), "
        "revoked AS (UPDATE sessions SET revoked_at = now() "
        "             WHERE account_id IN (SELECT id FROM acct) AND revoked_at IS NULL RETURNING 1), "
        "scrubbed AS (UPDATE verification_tokens SET password_hash = NULL, full_name = NULL, phone_number = NULL "
        "              WHERE account_id IN (SELECT id FROM acct) AND password_hash IS NOT NULL RETURNING 1), "
        "mail AS (" CHANGED_MAIL("$3") ") "
        "SELECT count(*) FROM acct",
        3};
    const char *params[] = {token_hash_hex, new_hash, message_id_domain};
    PGresult *res = db_exec_prepared(conn, &CONSUME, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        enum db_status status = db_failure(conn, res, "password_reset_consume");
        PQclear(res);
        return status;
    }
    bool is_consumed = atol(PQgetvalue(res, 0, 0)) == 1;
    PQclear(res);
    if (is_consumed) {
        *state = RESET_LINK_LIVE;
        return DB_OK;
    }
    enum db_status status = password_reset_check(conn, token_hash_hex, state);
    if (status == DB_OK && *state == RESET_LINK_LIVE)
        *state = RESET_LINK_INVALID; /* used by the concurrent winner a moment ago */
    return status;
}

enum db_status password_change(PGconn *conn, const char *account_id, const char *old_hash, const char *new_hash,
                               const char *keep_session_hash_hex, const char *message_id_domain, bool *is_changed)
{
    static const struct db_statement CHANGE = {
        "password_change",
        "WITH acct AS (UPDATE accounts SET password_hash = $3, password_version = password_version + 1, "
        "                     password_changed_at = now() "
        "               WHERE id = $1 AND password_hash = $2 RETURNING id, email, full_name), "
        "revoked AS (UPDATE sessions SET revoked_at = now() WHERE account_id IN (SELECT id FROM acct) "
        "               AND token_hash <> $4::bytea AND revoked_at IS NULL RETURNING 1), "
        "mail AS (" CHANGED_MAIL("$5") ") "
        "SELECT count(*) FROM acct",
        5};
    const char *params[] = {account_id, old_hash, new_hash, keep_session_hash_hex, message_id_domain};
    PGresult *res = db_exec_prepared(conn, &CHANGE, params);
    enum db_status status = DB_OK;
    *is_changed = false;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        *is_changed = atol(PQgetvalue(res, 0, 0)) == 1;
    else
        status = db_failure(conn, res, "password_change");
    PQclear(res);
    return status;
}

enum db_status password_reset_sweep(PGconn *conn, long batch, long *deleted)
{
    static const struct db_statement SWEEP = {
        "password_reset_sweep",
        "DELETE FROM password_reset_tokens WHERE token_hash IN ("
        "  SELECT token_hash FROM password_reset_tokens WHERE expires_at < now() - interval '1 day' "
        "   LIMIT $1::int FOR UPDATE SKIP LOCKED)",
        1};
    char batch_text[24];
    snprintf(batch_text, sizeof batch_text, "%ld", batch);
    const char *params[] = {batch_text};
    return db_exec_count(conn, &SWEEP, params, deleted);
}
