/* Sign-in attempt counters and known clients. Fixed windows of window_s:
 * with a limit of N, at most 2N unsuccessful attempts fit in any window_s
 * span (N at the end of one window, N at the start of the next). */
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

enum db_status signin_attempts_count(PGconn *conn, const struct signin_limits *limits, const struct signin_keys *keys,
                                     enum signin_throttle *throttle, long *retry_after_s, long *account_attempts)
{
    /* Each counter counts only attempts the narrower ones let through: an
     * attacker turned away at its own (address, client) pair cannot push the
     * address's counter up and so lock its owner out of new places. */
    static const struct db_statement COUNT = {
        "signin_attempts_count",
        "WITH w AS (SELECT date_bin(make_interval(secs => $4::int), now(), timestamptz 'epoch') AS start), "
        "pair AS (INSERT INTO rate_limit_counters AS c (scope, key_hash, window_start, hits) "
        "         VALUES ('" SCOPE_PAIR "', sha256(convert_to($1, 'UTF8')), (SELECT start FROM w), 1) "
        "         ON CONFLICT (scope, key_hash, window_start) DO UPDATE SET hits = c.hits + 1 RETURNING hits), "
        "client AS (INSERT INTO rate_limit_counters AS c (scope, key_hash, window_start, hits) "
        "           SELECT '" SCOPE_CLIENT "', sha256(convert_to($3, 'UTF8')), (SELECT start FROM w), 1 "
        "            WHERE (SELECT hits FROM pair) <= $5::int "
        "           ON CONFLICT (scope, key_hash, window_start) DO UPDATE SET hits = c.hits + 1 RETURNING hits), "
        "account AS (INSERT INTO rate_limit_counters AS c (scope, key_hash, window_start, hits) "
        "            SELECT '" SCOPE_ACCOUNT "', sha256(convert_to($2, 'UTF8')), (SELECT start FROM w), 1 "
        "             WHERE (SELECT hits FROM client) <= $6::int "
        "            ON CONFLICT (scope, key_hash, window_start) DO UPDATE SET hits = c.hits + 1 RETURNING hits) "
        "SELECT (SELECT hits FROM pair), coalesce((SELECT hits FROM client), 0), "
        "       coalesce((SELECT hits FROM account), 0), "
        "       ceil(extract(epoch FROM (SELECT start FROM w) + make_interval(secs => $4::int) - now())), "
        "       EXISTS (SELECT 1 FROM signin_known_clients k JOIN accounts a ON a.id = k.account_id "
        "                WHERE lower(a.email) = lower($2) AND k.client_hash = sha256(convert_to($3, 'UTF8')))",
        6};
    char pair[PAIR_KEY_MAX], window_text[24], pair_limit[24], client_limit[24];
    pair_key(keys, pair);
    snprintf(window_text, sizeof window_text, "%ld", limits->window_s);
    snprintf(pair_limit, sizeof pair_limit, "%ld", limits->per_pair);
    snprintf(client_limit, sizeof client_limit, "%ld", limits->per_client);
    const char *params[] = {pair, keys->email, keys->client_ip, window_text, pair_limit, client_limit};

    *throttle = SIGNIN_NOT_THROTTLED;
    *retry_after_s = 0;
    *account_attempts = 0;
    PGresult *res = db_exec_prepared(conn, &COUNT, params);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        enum db_status status = db_failure(conn, res, "signin_attempts_count");
        PQclear(res);
        return status;
    }
    long pair_attempts = atol(PQgetvalue(res, 0, 0));
    long client_attempts = atol(PQgetvalue(res, 0, 1));
    *account_attempts = atol(PQgetvalue(res, 0, 2));
    long remaining = atol(PQgetvalue(res, 0, 3));
    bool is_known_client = PQgetvalue(res, 0, 4)[0] == 't';
    PQclear(res);

    /* The counts include this attempt: the limit-th is still allowed. A
     * counter the attempt did not reach reads 0. */
    if (pair_attempts > limits->per_pair)
        *throttle = SIGNIN_THROTTLED_PAIR;
    else if (client_attempts > limits->per_client)
        *throttle = SIGNIN_THROTTLED_CLIENT;
    else if (*account_attempts > limits->per_account && !is_known_client)
        *throttle = SIGNIN_THROTTLED_ACCOUNT;
    if (*throttle != SIGNIN_NOT_THROTTLED)
        *retry_after_s = remaining > 0 ? remaining : 1;
    return DB_OK;
}

enum db_status signin_attempts_succeed(PGconn *conn, const struct signin_limits *limits,
                                       const struct signin_keys *keys, const struct new_session *session,
                                       struct session_times *times)
{
    static const struct db_statement SUCCEED = {
        "signin_attempts_succeed",
        "WITH " SESSIONS_INSERT_CTE ", "
        "reset AS (DELETE FROM rate_limit_counters "
        "           WHERE scope = '" SCOPE_PAIR "' AND key_hash = sha256(convert_to($7, 'UTF8'))), "
        "taken_back AS (UPDATE rate_limit_counters SET hits = greatest(hits - 1, 0) "
        "                WHERE window_start = date_bin(make_interval(secs => $10::int), now(), timestamptz 'epoch') "
        "                  AND ((scope = '" SCOPE_CLIENT "' AND key_hash = sha256(convert_to($8, 'UTF8'))) "
        "                    OR (scope = '" SCOPE_ACCOUNT "' AND key_hash = sha256(convert_to($9, 'UTF8'))))), "
        "known AS (INSERT INTO signin_known_clients (account_id, client_hash) "
        "          VALUES ($2, sha256(convert_to($8, 'UTF8'))) "
        "          ON CONFLICT (account_id, client_hash) DO UPDATE SET last_signed_in_at = now()) " SESSIONS_SELECT_TIMES,
        SESSIONS_INSERT_PARAMS + 4};
    struct session_params bound = {0};
    char pair[PAIR_KEY_MAX], window_text[24];
    sessions_bind(session, &bound);
    pair_key(keys, pair);
    snprintf(window_text, sizeof window_text, "%ld", limits->window_s);
    const char *params[SESSIONS_INSERT_PARAMS + 4];
    memcpy(params, bound.values, sizeof bound.values);
    params[SESSIONS_INSERT_PARAMS] = pair;
    params[SESSIONS_INSERT_PARAMS + 1] = keys->client_ip;
    params[SESSIONS_INSERT_PARAMS + 2] = keys->email;
    params[SESSIONS_INSERT_PARAMS + 3] = window_text;

    PGresult *res = db_exec_prepared(conn, &SUCCEED, params);
    enum db_status status = sessions_read_times(res, times) ? DB_OK : db_failure(conn, res, "signin_attempts_succeed");
    PQclear(res);
    return status;
}
