/* The sign-up transaction. Every value travels as a parameter ($1..$n),
 * never inside the SQL text, and errors are logged by SQLSTATE only. */
#include "accounts.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox.h"

static enum account_register_result register_failure(enum db_status status)
{
    return status == DB_UNAVAILABLE ? ACCOUNT_DATABASE_UNAVAILABLE : ACCOUNT_DATABASE_ERROR;
}

/* The existing account for a duplicate sign-up: the owner hears about it
 * (within limits) and the caller learns nothing. */
static enum db_status email_existing_owner(PGconn *conn, const struct new_account *account,
                                           const struct verification_mail *mail,
                                           const struct mail_limits *repeat_limits)
{
    static const struct db_statement LOOKUP = {"account_lookup",
                                               "SELECT id, email, full_name, email_verified_at IS NOT NULL "
                                               "  FROM accounts WHERE lower(email) = lower($1) FOR UPDATE",
                                               1};
    const char *params[] = {account->email};
    enum db_status status = DB_OK;
    PGresult *res = db_exec_prepared(conn, &LOOKUP, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        status = db_failure(conn, res, "account_lookup");
        PQclear(res);
        return status;
    }
    struct account_ref owner = {PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)};
    bool is_verified = PQgetvalue(res, 0, 3)[0] == 't';
    enum mail_queue_result queued =
        is_verified ? verification_queue_notice(conn, &owner, mail->message_id_domain, repeat_limits, &status)
                    : verification_queue(conn, &owner, mail, repeat_limits, &status);
    /* Logged without the address: logs must not become a list of who has an account. */
    log_event(LOG_LEVEL_INFO, "signup_duplicate", "email_to_owner",
              queued == MAIL_QUEUED ? (is_verified ? "notice" : "verification")
                                    : (queued == MAIL_RATE_LIMITED ? "rate_limited" : "failed"),
              LOG_END);
    PQclear(res);
    return status;
}

/* A new address: the account, its verification token and its email in one
 * statement, so one round trip and one (implicit) transaction. The token and
 * the email take the id the first INSERT returns, and the foreign keys are
 * checked at the end of the statement, when all three rows exist. ON CONFLICT
 * makes a concurrent duplicate wait for the first insert and then do nothing:
 * exactly one row, however many arrive together. A taken address inserts
 * nothing and returns no row (*is_created false). */
static enum db_status create_account(PGconn *conn, const struct new_account *account,
                                     const struct verification_mail *mail, bool *is_created)
{
    static const struct db_statement CREATE = {
        "account_create",
        "WITH created AS ("
        "  INSERT INTO accounts (email, full_name, phone_number, password_hash, terms_version, terms_accepted_at) "
        "  VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT ((lower(email))) DO NOTHING RETURNING id, email, full_name), "
        "token AS (" VERIFICATION_TOKEN_INSERT_SQL
        "  SELECT $6::bytea, id, now() + make_interval(secs => $7::int), $8, $9, $10 FROM created), "
        "mail AS (" OUTBOX_INSERT_SQL
        "  SELECT '" OUTBOX_KIND_VERIFICATION "', id, email, full_name, $11, " OUTBOX_MESSAGE_ID_SQL("$12")
        "    FROM created) "
        "SELECT id FROM created",
        12};
    char ttl_text[32];
    snprintf(ttl_text, sizeof ttl_text, "%ld", mail->token_ttl_s);
    const struct signup_values *values = mail->values;
    const char *params[] = {account->email,
                            account->full_name,
                            account->phone_number,
                            account->password_hash,
                            account->terms_version,
                            mail->token_hash_hex,
                            ttl_text,
                            values ? values->password_hash : NULL,
                            values ? values->full_name : NULL,
                            values ? values->phone_number : NULL,
                            mail->verify_link,
                            mail->message_id_domain};
    PGresult *res = db_exec_prepared(conn, &CREATE, params);
    enum db_status status = DB_OK;
    *is_created = false;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        *is_created = PQntuples(res) == 1;
    else
        status = db_failure(conn, res, "account_create");
    PQclear(res);
    return status;
}

enum account_register_result accounts_register(PGconn *conn, const struct new_account *account,
                                               const struct verification_mail *mail,
                                               const struct mail_limits *repeat_limits)
{
    bool is_created;
    enum db_status status = create_account(conn, account, mail, &is_created);
    if (status != DB_OK)
        return register_failure(status);
    if (is_created)
        return ACCOUNT_CREATED;

    /* The address is taken: its owner hears about it, under the owner's row
     * lock, which email_existing_owner takes in this transaction. */
    if ((status = db_command(conn, "BEGIN", "signup_begin")) != DB_OK)
        return register_failure(status);
    status = email_existing_owner(conn, account, mail, repeat_limits);
    if (status != DB_OK) {
        (void)db_command(conn, "ROLLBACK", "signup_rollback");
        return register_failure(status);
    }
    status = db_command(conn, "COMMIT", "signup_commit");
    return status == DB_OK ? ACCOUNT_ALREADY_EXISTS : register_failure(status);
}

enum db_status accounts_find_credentials(PGconn *conn, const char *email, struct account_credentials *out,
                                         bool *found)
{
    static const struct db_statement FIND = {
        "account_find_credentials",
        "SELECT id, email, full_name, phone_number, coalesce(" SQL_RFC3339("email_verified_at") ", ''), "
        "       password_hash, email_verified_at IS NOT NULL "
        "  FROM accounts WHERE lower(email) = lower($1)",
        1};
    const char *params[] = {email};
    enum db_status status = DB_OK;

    *found = false;
    PGresult *res = db_exec_prepared(conn, &FIND, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        status = db_failure(conn, res, "account_find_credentials");
    } else if (PQntuples(res) == 1) {
        db_copy_value(out->profile.id, sizeof out->profile.id, res, 0);
        db_copy_value(out->profile.email, sizeof out->profile.email, res, 1);
        db_copy_value(out->profile.full_name, sizeof out->profile.full_name, res, 2);
        db_copy_value(out->profile.phone_number, sizeof out->profile.phone_number, res, 3);
        db_copy_value(out->profile.email_verified_at, sizeof out->profile.email_verified_at, res, 4);
        db_copy_value(out->password_hash, sizeof out->password_hash, res, 5);
        out->is_verified = PQgetvalue(res, 0, 6)[0] == 't';
        *found = true;
    }
    PQclear(res);
    return status;
}

enum db_status accounts_replace_hash(PGconn *conn, const char *account_id, const char *old_hash,
                                     const char *new_hash)
{
    static const struct db_statement REPLACE = {
        "account_replace_hash", "UPDATE accounts SET password_hash = $3 WHERE id = $1 AND password_hash = $2", 3};
    const char *params[] = {account_id, old_hash, new_hash};
    PGresult *res = db_exec_prepared(conn, &REPLACE, params);
    enum db_status status =
        PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : db_failure(conn, res, "account_replace_hash");
    PQclear(res);
    return status;
}

enum db_status accounts_sweep_unverified(PGconn *conn, long ttl_s, long batch, long *deleted)
{
    /* Tokens and pending mail go with the account (ON DELETE CASCADE). */
    static const struct db_statement SWEEP = {
        "accounts_sweep_unverified",
        "WITH sweeper AS (SELECT pg_try_advisory_xact_lock(hashtext('accounts_sweep_unverified')) AS is_mine), "
        "doomed AS (SELECT id FROM accounts a, sweeper WHERE sweeper.is_mine AND email_verified_at IS NULL "
        "              AND created_at < now() - make_interval(secs => $1::int) "
        /* A later sign-up for the address (its link carries a password)
         * starts the time again: the owner's fresh link keeps working. */
        "              AND NOT EXISTS (SELECT 1 FROM verification_tokens t WHERE t.account_id = a.id "
        "                                 AND t.password_hash IS NOT NULL "
        "                                 AND t.created_at >= now() - make_interval(secs => $1::int)) "
        "            LIMIT $2::int FOR UPDATE OF a SKIP LOCKED) "
        "DELETE FROM accounts a USING doomed WHERE a.id = doomed.id",
        2};
    char ttl_text[24], batch_text[24];
    snprintf(ttl_text, sizeof ttl_text, "%ld", ttl_s);
    snprintf(batch_text, sizeof batch_text, "%ld", batch);
    const char *params[] = {ttl_text, batch_text};
    return db_exec_count(conn, &SWEEP, params, deleted);
}
