/* The sign-up transaction. Every value travels as a parameter ($1..$n),
 * never inside the SQL text, and errors are logged by SQLSTATE only. */
#include "accounts.h"

#include <stdbool.h>
#include <string.h>

#include "log.h"

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

enum account_register_result accounts_register(PGconn *conn, const struct new_account *account,
                                               const struct verification_mail *mail,
                                               const struct mail_limits *repeat_limits)
{
    static const struct db_statement INSERT = {
        "account_insert",
        "INSERT INTO accounts (email, full_name, phone_number, password_hash, terms_version, "
        "terms_accepted_at) VALUES ($1, $2, $3, $4, $5, now()) "
        "ON CONFLICT ((lower(email))) DO NOTHING RETURNING id",
        5};
    const char *params[] = {account->email, account->full_name, account->phone_number, account->password_hash,
                            account->terms_version};
    enum account_register_result result;
    enum db_status status;
    PGresult *res = NULL;

    if ((status = db_command(conn, "BEGIN", "signup_begin")) != DB_OK)
        return register_failure(status);

    /* ON CONFLICT makes a concurrent duplicate wait for the first insert and
     * then do nothing: exactly one row, however many arrive together. */
    res = db_exec_prepared(conn, &INSERT, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        result = register_failure(db_failure(conn, res, "account_insert"));
        goto rollback;
    }
    if (PQntuples(res) == 1) {
        struct account_ref created = {PQgetvalue(res, 0, 0), account->email, account->full_name};
        verification_queue(conn, &created, mail, NULL, &status);
        result = ACCOUNT_CREATED;
    } else {
        status = email_existing_owner(conn, account, mail, repeat_limits);
        result = ACCOUNT_ALREADY_EXISTS;
    }
    if (status != DB_OK) {
        result = register_failure(status);
        goto rollback;
    }
    PQclear(res);
    status = db_command(conn, "COMMIT", "signup_commit");
    return status == DB_OK ? result : register_failure(status);

rollback:
    PQclear(res);
    (void)db_command(conn, "ROLLBACK", "signup_rollback");
    return result;
}
