/* sessions: signed-in sessions in PostgreSQL. A session is found by the
 * SHA-256 of its token only; it is live while not revoked and before both
 * its idle and its absolute expiry. */
#ifndef SIGNUP_SESSIONS_H
#define SIGNUP_SESSIONS_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "account_profile.h"
#include "db_pool.h"

/* All borrowed. */
struct new_session {
    const char *token_hash_hex; /* bytea literal from secret_token_generate */
    const char *account_id;
    long idle_timeout_s;
    long max_age_s;
    const char *client_ip;
    const char *user_agent; /* truncated to what the table keeps */
};

struct session_times {
    char created_at[TIMESTAMP_BUF_SIZE];
    char expires_at[TIMESTAMP_BUF_SIZE]; /* the earlier of the idle and absolute expiry */
};

/* Sessions start in the statement that records a successful sign-in
 * (signin_attempts_succeed), so a sign-in commits once. These are its
 * session part: the CTE named s that inserts the row, with the parameters
 * $1..$6 as sessions_bind() lays them out, and the closing SELECT of its
 * times, which sessions_read_times() reads. */
#define SESSIONS_INSERT_CTE                                                                                            \
    "s AS (INSERT INTO sessions (token_hash, account_id, idle_expires_at, absolute_expires_at, client_ip, "          \
    "                            user_agent) "                                                                       \
    "      VALUES ($1::bytea, $2, least(now() + make_interval(secs => $3::int), "                                    \
    "                                   now() + make_interval(secs => $4::int)), "                                   \
    "              now() + make_interval(secs => $4::int), $5, $6) "                                                 \
    "      RETURNING created_at, idle_expires_at)"
#define SESSIONS_SELECT_TIMES "SELECT " SQL_RFC3339("created_at") ", " SQL_RFC3339("idle_expires_at") " FROM s"
#define SESSIONS_INSERT_PARAMS 6
/* Longest User-Agent kept (the column's CHECK); longer ones are cut. */
#define SESSIONS_USER_AGENT_KEPT 512

/* The text parameters of a new session. values[] point into this struct and
 * into the session it was bound from, which must outlive it. */
struct session_params {
    char idle_text[24];
    char max_age_text[24];
    char user_agent[SESSIONS_USER_AGENT_KEPT + 1];
    const char *values[SESSIONS_INSERT_PARAMS];
};

void sessions_bind(const struct new_session *session, struct session_params *params);

/* Copies the times from the first row of res, a statement ending in
 * SESSIONS_SELECT_TIMES; false when it has no row. */
bool sessions_read_times(const PGresult *res, struct session_times *times);

enum session_lookup { SESSION_LIVE, SESSION_NOT_LIVE, SESSION_LOOKUP_FAILED };

/* Finds the live session with this token hash and its account, and extends
 * its idle expiry by idle_timeout_s (never past the absolute one). The
 * extension is written at most once a minute per session, so a busy session
 * costs reads, not a write per request. *status explains SESSION_LOOKUP_FAILED. */
enum session_lookup sessions_use(PGconn *conn, const char *token_hash_hex, long idle_timeout_s,
                                 struct account_profile *account, struct session_times *times,
                                 enum db_status *status);

/* Revokes the live session with this hash (all of its account's sessions
 * when is_all). *was_live is false when the token named no live session. */
enum db_status sessions_revoke(PGconn *conn, const char *token_hash_hex, bool is_all, bool *was_live);

/* Deletes up to batch sessions that are revoked or expired. Only one
 * instance sweeps at a time (a transaction-scoped advisory lock; the others
 * delete nothing that round). *deleted gets the number removed. */
enum db_status sessions_sweep(PGconn *conn, long batch, long *deleted);

/* Live sessions right now (for the metrics). */
enum db_status sessions_count_live(PGconn *conn, long *count);

#endif
