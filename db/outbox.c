/* The email outbox table: enqueue, claim with a lease, and the three ways a
 * send can end. Every value is a query parameter. */
#include "outbox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum db_status outbox_enqueue(PGconn *conn, const struct outbox_entry *entry)
{
    static const struct db_statement ENQUEUE = {
        "outbox_enqueue", OUTBOX_INSERT_SQL "VALUES ($1, $2, $3, $4, $5, " OUTBOX_MESSAGE_ID_SQL("$6") ")", 6};
    const char *params[] = {entry->kind,        entry->account_id,  entry->recipient,
                            entry->recipient_name, entry->verify_link, entry->message_id_domain};
    PGresult *res = db_exec_prepared(conn, &ENQUEUE, params);
    enum db_status status = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : db_failure(conn, res, "outbox_enqueue");
    PQclear(res);
    return status;
}

enum db_status outbox_enqueue_hourly(PGconn *conn, const struct outbox_entry *entry, bool *queued)
{
    static const struct db_statement ENQUEUE_HOURLY = {
        "outbox_enqueue_hourly",
        OUTBOX_INSERT_SQL "SELECT $1, $2, $3, $4, $5, " OUTBOX_MESSAGE_ID_SQL("$6") " "
        " WHERE NOT EXISTS (SELECT 1 FROM email_outbox WHERE account_id = $2 AND kind = $1 "
        "                      AND created_at > now() - interval '1 hour')",
        6};
    const char *params[] = {entry->kind,        entry->account_id,  entry->recipient,
                            entry->recipient_name, entry->verify_link, entry->message_id_domain};
    long inserted;
    enum db_status status = db_exec_count(conn, &ENQUEUE_HOURLY, params, &inserted);
    *queued = inserted == 1;
    return status;
}

enum db_status outbox_recent_counts(PGconn *conn, const char *account_id, long *last_minute, long *last_hour)
{
    static const struct db_statement RECENT = {
        "outbox_recent_counts",
        "SELECT count(*) FILTER (WHERE created_at > now() - interval '1 minute'), count(*) "
        "  FROM email_outbox WHERE account_id = $1 AND created_at > now() - interval '1 hour' "
        "   AND id > (SELECT min(id) FROM email_outbox WHERE account_id = $1)",
        1};
    const char *params[] = {account_id};
    PGresult *res = db_exec_prepared(conn, &RECENT, params);
    enum db_status status = DB_OK;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        *last_minute = atol(PQgetvalue(res, 0, 0));
        *last_hour = atol(PQgetvalue(res, 0, 1));
    } else {
        status = db_failure(conn, res, "outbox_recent_counts");
    }
    PQclear(res);
    return status;
}

enum db_status outbox_pending_stats(PGconn *conn, long *pending, double *oldest_s)
{
    PGresult *res = PQexec(conn, "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
                                 "FROM email_outbox WHERE status IN ('pending', 'sending')");
    enum db_status status = DB_OK;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        *pending = atol(PQgetvalue(res, 0, 0));
        *oldest_s = atof(PQgetvalue(res, 0, 1));
    } else {
        status = db_failure(conn, res, "outbox_pending_stats");
    }
    PQclear(res);
    return status;
}

PGresult *outbox_claim(PGconn *conn, int limit, int lease_s, const struct outbox_holder *holder)
{
    /* "<= now()": a released lease ends at the release's now(), which no
     * later statement's now() precedes. */
    static const struct db_statement CLAIM = {
        "outbox_claim",
        "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1, "
        "       locked_until = now() + make_interval(secs => $2::int), "
        "       lease_instance = $3, lease_scope = $4, lease_pid = $5::int, lease_pid_start = $6::bigint "
        " WHERE id IN (SELECT id FROM email_outbox "
        "               WHERE (status = 'pending' AND next_attempt_at <= now()) "
        "                  OR (status = 'sending' AND locked_until <= now()) "
        "               ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $1::int) "
        "RETURNING id, kind, recipient, recipient_name, verify_link, message_id, attempts, "
        "          extract(epoch FROM created_at)::bigint",
        6};
    char limit_text[16], lease_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    snprintf(lease_text, sizeof lease_text, "%d", lease_s);
    const char *params[] = {limit_text, lease_text, holder->instance, holder->scope, holder->pid, holder->start};
    PGresult *res = db_exec_prepared(conn, &CLAIM, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        db_failure(conn, res, "outbox_claim");
        PQclear(res);
        return NULL;
    }
    return res;
}

PGresult *outbox_scope_holders(PGconn *conn, const struct outbox_holder *self)
{
    static const struct db_statement SCOPE_HOLDERS = {
        "outbox_scope_holders",
        "SELECT DISTINCT lease_pid, lease_pid_start FROM email_outbox "
        " WHERE status = 'sending' AND locked_until > now() AND lease_scope = $1 "
        "   AND (lease_pid, lease_pid_start) <> ($2::int, $3::bigint)",
        3};
    const char *params[] = {self->scope, self->pid, self->start};
    PGresult *res = db_exec_prepared(conn, &SCOPE_HOLDERS, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        db_failure(conn, res, "outbox_scope_holders");
        PQclear(res);
        return NULL;
    }
    return res;
}

enum db_status outbox_release_process(PGconn *conn, const char *scope, const char *pid, const char *start,
                                      long *released)
{
    static const struct db_statement RELEASE_PROCESS = {
        "outbox_release_process",
        "UPDATE email_outbox SET locked_until = now() "
        " WHERE status = 'sending' AND locked_until > now() "
        "   AND lease_scope = $1 AND lease_pid = $2::int AND lease_pid_start = $3::bigint",
        3};
    const char *params[] = {scope, pid, start};
    return db_exec_count(conn, &RELEASE_PROCESS, params, released);
}

enum db_status outbox_release_instance(PGconn *conn, const struct outbox_holder *self, long *released)
{
    /* Holders in self's own scope are left to outbox_release_process: there
     * whether they still run is checked, not assumed. */
    static const struct db_statement RELEASE_INSTANCE = {
        "outbox_release_instance",
        "UPDATE email_outbox SET locked_until = now() "
        " WHERE status = 'sending' AND locked_until > now() "
        "   AND lease_instance = $1 AND lease_scope IS DISTINCT FROM $2",
        2};
    const char *params[] = {self->instance, self->scope};
    return db_exec_count(conn, &RELEASE_INSTANCE, params, released);
}

/* Every result update is conditional on still holding the claim: the row is
 * 'sending' and its attempts count is the one this claim set. A worker whose
 * lease ran out (and whose row another worker re-claimed) changes nothing. */
#define STILL_CLAIMED " WHERE id = $1 AND status = 'sending' AND attempts = $2::int"

static enum db_status run_update(PGconn *conn, const struct db_statement *stmt, const char *const *params)
{
    PGresult *res = db_exec_prepared(conn, stmt, params);
    enum db_status status = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : db_failure(conn, res, stmt->name);
    if (status == DB_OK && strcmp(PQcmdTuples(res), "0") == 0)
        log_event(LOG_LEVEL_WARN, "outbox_lease_lost", "outbox_id", params[0], "step", stmt->name, LOG_END);
    PQclear(res);
    return status;
}

/* Appends "{a,b,...}" of the decimal strings to buf; false when it does not
 * fit. The values come from the claim's own result, so they are digits. */
static bool format_int_array(char *buf, size_t size, const char *const *values, size_t n)
{
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        int written = snprintf(buf + used, size - used, "%c%s", i == 0 ? '{' : ',', values[i]);
        if (written < 0 || (size_t)written >= size - used)
            return false;
        used += (size_t)written;
    }
    if (n == 0 || used + 2 > size)
        return false;
    buf[used] = '}';
    buf[used + 1] = '\0';
    return true;
}

enum db_status outbox_mark_sent(PGconn *conn, const char *const *ids, const char *const *attempts, size_t n)
{
    /* One statement, so one commit (one WAL flush) for the whole batch. */
    static const struct db_statement MARK_SENT = {
        "outbox_mark_sent",
        "UPDATE email_outbox o SET status = 'sent', sent_at = now(), verify_link = NULL, "
        "       locked_until = NULL, last_error = NULL "
        "  FROM unnest($1::bigint[], $2::int[]) AS claim(id, attempts) "
        " WHERE o.id = claim.id AND o.status = 'sending' AND o.attempts = claim.attempts",
        2};
    if (n == 0)
        return DB_OK;
    size_t size = n * 22 + 2; /* a bigint is at most 20 digits, plus its separator */
    char *id_array = malloc(size);
    char *attempt_array = malloc(size);
    enum db_status status = DB_ERROR;
    if (id_array == NULL || attempt_array == NULL || !format_int_array(id_array, size, ids, n) ||
        !format_int_array(attempt_array, size, attempts, n)) {
        log_event(LOG_LEVEL_ERROR, "outbox_mark_sent_failed", "error", "out of memory", LOG_END);
        goto cleanup;
    }
    const char *params[] = {id_array, attempt_array};
    PGresult *res = db_exec_prepared(conn, &MARK_SENT, params);
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        status = DB_OK;
        long updated = atol(PQcmdTuples(res));
        if ((size_t)updated != n) {
            char lost[24];
            snprintf(lost, sizeof lost, "%zu", n - (size_t)updated);
            log_event(LOG_LEVEL_WARN, "outbox_lease_lost", "emails", lost, "step", "outbox_mark_sent", LOG_END);
        }
    } else {
        status = db_failure(conn, res, "outbox_mark_sent");
    }
    PQclear(res);
cleanup:
    free(id_array);
    free(attempt_array);
    return status;
}

enum db_status outbox_mark_retry(PGconn *conn, const char *id, const char *attempts, long delay_ms,
                                 const char *error)
{
    char delay_text[32];
    snprintf(delay_text, sizeof delay_text, "%ld", delay_ms);
    /* The holder goes too: a pending row names nobody, so a worker that
     * claims it without naming itself (a version before 004, during a rolling
     * update) can never be judged by a stale holder's death. */
    static const struct db_statement MARK_RETRY = {
        "outbox_mark_retry",
        "UPDATE email_outbox SET status = 'pending', locked_until = NULL, last_error = $4, "
        "lease_instance = NULL, lease_scope = NULL, lease_pid = NULL, lease_pid_start = NULL, "
        "next_attempt_at = now() + make_interval(secs => $3::bigint / 1000.0)" STILL_CLAIMED,
        4};
    const char *params[] = {id, attempts, delay_text, error};
    return run_update(conn, &MARK_RETRY, params);
}

enum db_status outbox_mark_dead(PGconn *conn, const char *id, const char *attempts, const char *error)
{
    static const struct db_statement MARK_DEAD = {
        "outbox_mark_dead",
        "UPDATE email_outbox SET status = 'dead', locked_until = NULL, last_error = $3, "
        "verify_link = NULL" STILL_CLAIMED,
        3};
    const char *params[] = {id, attempts, error};
    return run_update(conn, &MARK_DEAD, params);
}
