/* Verification tokens and the emails that carry them. Rate limits count the
 * account's recent outbox rows while its row is locked (FOR UPDATE), so two
 * concurrent requests cannot both slip under a limit. */
#include "verification.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "outbox.h"

static bool is_within_limits(PGconn *conn, const char *account_id, const struct mail_limits *limits,
                             enum db_status *status)
{
    long last_minute = 0, last_hour = 0;
    if (limits == NULL)
        return true;
    *status = outbox_recent_counts(conn, account_id, &last_minute, &last_hour);
    return *status == DB_OK && last_minute < limits->per_minute && last_hour < limits->per_hour;
}

static enum db_status insert_token(PGconn *conn, const char *account_id, const struct verification_mail *mail)
{
    char ttl_text[32];
    snprintf(ttl_text, sizeof ttl_text, "%ld", mail->token_ttl_s);
    const struct signup_values *values = mail->values;
    const char *params[] = {mail->token_hash_hex, account_id, ttl_text, values ? values->password_hash : NULL,
                            values ? values->full_name : NULL, values ? values->phone_number : NULL};
    static const struct db_statement INSERT = {
        "token_insert",
        VERIFICATION_TOKEN_INSERT_SQL "VALUES ($1::bytea, $2, now() + make_interval(secs => $3::int), $4, $5, $6)",
        6};
    PGresult *res = db_exec_prepared(conn, &INSERT, params);
    enum db_status status = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : db_failure(conn, res, "token_insert");
    PQclear(res);
    return status;
}

enum mail_queue_result verification_queue(PGconn *conn, const struct account_ref *account,
                                          const struct verification_mail *mail, const struct mail_limits *limits,
                                          enum db_status *status)
{
    *status = DB_OK;
    if (!is_within_limits(conn, account->id, limits, status))
        return *status == DB_OK ? MAIL_RATE_LIMITED : MAIL_NOT_QUEUED_ERROR;
    struct outbox_entry entry = {
        .kind = OUTBOX_KIND_VERIFICATION,
        .account_id = account->id,
        .recipient = account->email,
        .recipient_name = account->full_name,
        .verify_link = mail->verify_link,
        .message_id_domain = mail->message_id_domain,
    };
    if ((*status = insert_token(conn, account->id, mail)) != DB_OK || (*status = outbox_enqueue(conn, &entry)) != DB_OK)
        return MAIL_NOT_QUEUED_ERROR;
    return MAIL_QUEUED;
}

enum mail_queue_result verification_queue_notice(PGconn *conn, const struct account_ref *account,
                                                 const char *message_id_domain, const struct mail_limits *limits,
                                                 enum db_status *status)
{
    *status = DB_OK;
    if (!is_within_limits(conn, account->id, limits, status))
        return *status == DB_OK ? MAIL_RATE_LIMITED : MAIL_NOT_QUEUED_ERROR;
    struct outbox_entry entry = {
        .kind = OUTBOX_KIND_ALREADY_REGISTERED,
        .account_id = account->id,
        .recipient = account->email,
        .recipient_name = account->full_name,
        .verify_link = NULL,
        .message_id_domain = message_id_domain,
    };
    *status = outbox_enqueue(conn, &entry);
    return *status == DB_OK ? MAIL_QUEUED : MAIL_NOT_QUEUED_ERROR;
}

static enum verify_result verify_failure(enum db_status status)
{
    return status == DB_UNAVAILABLE ? VERIFY_UNAVAILABLE : VERIFY_ERROR;
}

enum verify_result verification_consume(PGconn *conn, const char *token_hash_hex, char email[EMAIL_BUF_SIZE])
{
    /* One statement, so one round trip and one (implicit) transaction. The
     * UPDATE verifies the account only if it is not verified yet and the token
     * is live; a concurrent first click of the same account blocks on its row
     * and, once that commits, no longer matches (so exactly one request says
     * "verified"). The SELECT reports the rows as they were before: what the
     * outcome is follows from that and from whether this statement verified.
     * A re-click changes nothing, so it locks nothing and writes no WAL. */
    static const struct db_statement CONSUME = {
        "verification_consume",
        "WITH verified AS ("
        "  UPDATE accounts a SET email_verified_at = now(), "
        "         password_hash = coalesce(t.password_hash, a.password_hash), "
        "         full_name = coalesce(t.full_name, a.full_name), "
        "         phone_number = coalesce(t.phone_number, a.phone_number), "
        "         password_version = a.password_version + (t.password_hash IS NOT NULL "
        "                                                  AND t.password_hash <> a.password_hash)::int "
        "    FROM verification_tokens t "
        "   WHERE t.token_hash = $1::bytea AND a.id = t.account_id "
        "     AND a.email_verified_at IS NULL AND t.expires_at > now() "
        "  RETURNING a.id), "
        "used AS (UPDATE verification_tokens "
        "            SET used_at = CASE WHEN token_hash = $1::bytea THEN now() ELSE used_at END, "
        "                password_hash = NULL, full_name = NULL, phone_number = NULL "
        "          WHERE account_id IN (SELECT id FROM verified)) "
        "SELECT EXISTS (SELECT 1 FROM verified), t.expires_at > now(), a.email_verified_at IS NOT NULL, a.email "
        "  FROM verification_tokens t JOIN accounts a ON a.id = t.account_id "
        " WHERE t.token_hash = $1::bytea",
        1};
    const char *params[] = {token_hash_hex};

    email[0] = '\0';
    PGresult *res = db_exec_prepared(conn, &CONSUME, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        enum verify_result failure = verify_failure(db_failure(conn, res, "verify"));
        PQclear(res);
        return failure;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return VERIFY_INVALID;
    }
    snprintf(email, EMAIL_BUF_SIZE, "%s", PQgetvalue(res, 0, 3));
    bool did_verify = PQgetvalue(res, 0, 0)[0] == 't';
    bool is_live = PQgetvalue(res, 0, 1)[0] == 't';
    bool was_verified = PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    if (did_verify)
        return VERIFY_VERIFIED;
    /* Already verified wins over expired: a mail scanner may have opened the
     * link first, and the person should not be told to fetch a new one. A
     * live token that did not verify lost the race to a concurrent click. */
    if (was_verified || is_live)
        return VERIFY_ALREADY_VERIFIED;
    return VERIFY_EXPIRED;
}

static enum resend_result resend_failure(enum db_status status)
{
    return status == DB_UNAVAILABLE ? RESEND_UNAVAILABLE : RESEND_ERROR;
}

enum resend_result verification_resend(PGconn *conn, const char *email, const struct verification_mail *mail,
                                       const struct mail_limits *limits)
{
    static const struct db_statement LOOKUP = {"resend_lookup",
                                               "SELECT id, email, full_name FROM accounts "
                                               " WHERE lower(email) = lower($1) AND email_verified_at IS NULL "
                                               "   FOR UPDATE",
                                               1};
    const char *params[] = {email};
    enum resend_result result;
    enum db_status status;
    PGresult *res = NULL;

    if ((status = db_command(conn, "BEGIN", "resend_begin")) != DB_OK)
        return resend_failure(status);
    res = db_exec_prepared(conn, &LOOKUP, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        result = resend_failure(db_failure(conn, res, "resend_lookup"));
        goto rollback;
    }
    if (PQntuples(res) == 0) {
        result = RESEND_NOTHING_TO_DO;
        goto rollback;
    }
    struct account_ref account = {PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)};
    switch (verification_queue(conn, &account, mail, limits, &status)) {
    case MAIL_QUEUED:
        PQclear(res);
        status = db_command(conn, "COMMIT", "resend_commit");
        return status == DB_OK ? RESEND_QUEUED : resend_failure(status);
    case MAIL_RATE_LIMITED:
        result = RESEND_RATE_LIMITED;
        break;
    case MAIL_NOT_QUEUED_ERROR:
    default:
        result = resend_failure(status);
        break;
    }

rollback:
    PQclear(res);
    (void)db_command(conn, "ROLLBACK", "resend_rollback");
    return result;
}
