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

enum db_status sessions_create(PGconn *conn, const struct new_session *session, struct session_times *times);

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
