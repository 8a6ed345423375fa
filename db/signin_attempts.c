/* Sign-in failure counters and known clients. Fixed windows of window_s:
 * with a limit of N, at most 2N failures fit in any window_s span (N at the
 * end of one window, N at the start of the next). */
#include "signin_attempts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCOPE_PAIR "signin_pair"
#define SCOPE_CLIENT "signin_client"
#define SCOPE_ACCOUNT "signin_account"
/* email + '\n' + address: '\n' can be in neither. */
#define PAIR_KEY_MAX 400

static void pair_key(const struct signin_keys *keys, char out[PAIR_KEY_MAX])
{
    snprintf(out, PAIR_KEY_MAX, "%s\n%s", keys->email, keys->client_ip);
}

enum db_status signin_attempts_check(PGconn *conn, const struct signin_limits *limits, const struct signin_keys *keys,
                                     enum signin_throttle *throttle, long *retry_after_s)
{
    static const struct db_statement CHECK = {
        "signin_attempts_check",
        "WITH w AS (SELECT date_bin(make_interval(secs => $4::int), now(), timestamptz 'epoch') AS start) "
        "SELECT coalesce(max(hits) FILTER (WHERE scope = '" SCOPE_PAIR "'), 0), "
        "       coalesce(max(hits) FILTER (WHERE scope = '" SCOPE_CLIENT "'), 0), "
        "       coalesce(max(hits) FILTER (WHERE scope = '" SCOPE_ACCOUNT "'), 0), "
        "       ceil(extract(epoch FROM (SELECT start FROM w) + make_interval(secs => $4::int) - now())), "
        "       EXISTS (SELECT 1 FROM signin_known_clients k JOIN accounts a ON a.id = k.account_id "
        "                WHERE lower(a.email) = $2 AND k.client_hash = sha256(convert_to($3, 'UTF8'))) "
        "  FROM rate_limit_counters "
        " WHERE window_start = (SELECT start FROM w) "
        "   AND ((scope = '" SCOPE_PAIR "' AND key_hash = sha256(convert_to($1, 'UTF8'))) "
        "     OR (scope = '" SCOPE_CLIENT "' AND key_hash = sha256(convert_to($3, 'UTF8'))) "
        "     OR (scope = '" SCOPE_ACCOUNT "' AND key_hash = sha256(convert_to($2, 'UTF8'))))",
        4};
    char pair[PAIR_KEY_MAX], window_text[24];
    pair_key(keys, pair);
    snprintf(window_text, sizeof window_text, "%ld", limits->window_s);
    const char *params[] = {pair, keys->email, keys->client_ip, window_text};

    *throttle = SIGNIN_NOT_THROTTLED;
    *retry_after_s = 0;
    PGresult *res = db_exec_prepared(conn, &CHECK, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        enum db_status status = db_failure(conn, res, "signin_attempts_check");
        PQclear(res);
        return status;
    }
    long pair_failures = atol(PQgetvalue(res, 0, 0));
    long client_failures = atol(PQgetvalue(res, 0, 1));
    long account_failures = atol(PQgetvalue(res, 0, 2));
    long remaining = atol(PQgetvalue(res, 0, 3));
    bool is_known_client = PQgetvalue(res, 0, 4)[0] == 't';
    PQclear(res);

    if (pair_failures >= limits->per_pair)
        *throttle = SIGNIN_THROTTLED_PAIR;
    else if (client_failures >= limits->per_client)
        *throttle = SIGNIN_THROTTLED_CLIENT;
    else if (account_failures >= limits->per_account && !is_known_client)
        *throttle = SIGNIN_THROTTLED_ACCOUNT;
    if (*throttle != SIGNIN_NOT_THROTTLED)
        *retry_after_s = remaining > 0 ? remaining : 1;
    return DB_OK;
}

enum db_status signin_attempts_fail(PGconn *conn, const struct signin_limits *limits, const struct signin_keys *keys,
                                    long *account_failures)
{
    static const struct db_statement FAIL = {
        "signin_attempts_fail",
        "INSERT INTO rate_limit_counters AS c (scope, key_hash, window_start, hits) "
        "SELECT scope, sha256(convert_to(key, 'UTF8')), "
        "       date_bin(make_interval(secs => $4::int), now(), timestamptz 'epoch'), 1 "
        "  FROM (VALUES ('" SCOPE_PAIR "', $1), ('" SCOPE_CLIENT "', $3), ('" SCOPE_ACCOUNT "', $2)) v (scope, key) "
        "ON CONFLICT (scope, key_hash, window_start) DO UPDATE SET hits = c.hits + 1 "
        "RETURNING scope, hits",
        4};
    char pair[PAIR_KEY_MAX], window_text[24];
    pair_key(keys, pair);
    snprintf(window_text, sizeof window_text, "%ld", limits->window_s);
    const char *params[] = {pair, keys->email, keys->client_ip, window_text};

    *account_failures = 0;
    PGresult *res = db_exec_prepared(conn, &FAIL, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        enum db_status status = db_failure(conn, res, "signin_attempts_fail");
        PQclear(res);
        return status;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 0), SCOPE_ACCOUNT) == 0)
            *account_failures = atol(PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return DB_OK;
}

enum db_status signin_attempts_succeed(PGconn *conn, const struct signin_keys *keys, const char *account_id)
{
    static const struct db_statement SUCCEED = {
        "signin_attempts_succeed",
        "WITH reset AS (DELETE FROM rate_limit_counters "
        "                WHERE scope = '" SCOPE_PAIR "' AND key_hash = sha256(convert_to($1, 'UTF8'))) "
        "INSERT INTO signin_known_clients (account_id, client_hash) "
        "VALUES ($2, sha256(convert_to($3, 'UTF8'))) "
        "ON CONFLICT (account_id, client_hash) DO UPDATE SET last_signed_in_at = now()",
        3};
    char pair[PAIR_KEY_MAX];
    pair_key(keys, pair);
    const char *params[] = {pair, account_id, keys->client_ip};
    PGresult *res = db_exec_prepared(conn, &SUCCEED, params);
    enum db_status status =
        PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : db_failure(conn, res, "signin_attempts_succeed");
    PQclear(res);
    return status;
}
