/* Account queries. Every value travels as a parameter ($1..$n), never inside
 * the SQL text, and errors are logged by SQLSTATE, never with the values. */
#include "accounts.h"

#include <stdbool.h>
#include <string.h>

#include "log.h"

/* Connection failures (class 08), shutdowns (57P01..57P03) and lost
 * connections mean "try again later", not "this request is wrong". */
static bool is_unavailable(PGconn *conn, const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (PQstatus(conn) != CONNECTION_OK || state == NULL)
        return true;
    return strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
           strcmp(state, "57P03") == 0;
}

static enum account_register_result report_failure(PGconn *conn, const PGresult *res, const char *step)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    bool unavailable = is_unavailable(conn, res);
    log_event(unavailable ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR, "account_register_failed", "step", step,
              "sqlstate", state ? state : "none", NULL);
    return unavailable ? ACCOUNT_DATABASE_UNAVAILABLE : ACCOUNT_DATABASE_ERROR;
}

static bool exec_command(PGconn *conn, const char *sql, PGresult **res)
{
    *res = PQexec(conn, sql);
    return PQresultStatus(*res) == PGRES_COMMAND_OK;
}

enum account_register_result accounts_register(PGconn *conn, const struct new_account *account)
{
    static const char INSERT_SQL[] =
        "INSERT INTO accounts (email, full_name, phone_number, password_hash, terms_version, "
        "terms_accepted_at) VALUES ($1, $2, $3, $4, $5, now()) "
        "ON CONFLICT ((lower(email))) DO NOTHING RETURNING id";
    const char *params[] = {account->email, account->full_name, account->phone_number,
                            account->password_hash, account->terms_version};
    enum account_register_result result;
    PGresult *res = NULL;

    if (!exec_command(conn, "BEGIN", &res)) {
        result = report_failure(conn, res, "begin");
        goto cleanup;
    }
    PQclear(res);

    /* ON CONFLICT makes a concurrent duplicate wait for the first insert and
     * then do nothing: exactly one row, however many arrive together. */
    res = PQexecParams(conn, INSERT_SQL, 5, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        result = report_failure(conn, res, "insert");
        goto rollback;
    }
    result = PQntuples(res) == 1 ? ACCOUNT_CREATED : ACCOUNT_ALREADY_EXISTS;
    PQclear(res);

    if (!exec_command(conn, "COMMIT", &res)) {
        result = report_failure(conn, res, "commit");
        goto cleanup;
    }
    goto cleanup;

rollback:
    PQclear(res);
    res = PQexec(conn, "ROLLBACK");
cleanup:
    PQclear(res);
    return result;
}
