/* password_reset: reset tokens and password changes in PostgreSQL. A reset
 * token is stored as its SHA-256 with the account's password_version at
 * issue; it works only while that version is current, so any password change
 * kills every older link. Each operation is one transaction. */
#ifndef SIGNUP_PASSWORD_RESET_H
#define SIGNUP_PASSWORD_RESET_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "db_pool.h"
#include "verification.h"

/* What a forgot-password request queues; all borrowed. */
struct reset_request {
    const char *email;          /* as typed; matched in any letter case */
    const char *token_hash_hex; /* bytea literal from secret_token_generate */
    const char *reset_link;     /* PASSWORD_RESET_URL?token=… (holds the raw token) */
    long token_ttl_s;
    const char *message_id_domain;
    struct mail_limits limits; /* reset emails per address beyond the first */
};

/* Stores the token and queues the reset email when an account has this
 * address and its limits allow, else writes nothing but a request counter:
 * both cases run the same statements and commit a write, so they take the
 * same time. conn must be idle (this runs its own transaction). *is_queued
 * says whether an email was queued (for the log). */
enum db_status password_reset_request(PGconn *conn, const struct reset_request *request, bool *is_queued);

enum reset_token_state { RESET_LINK_LIVE, RESET_LINK_INVALID, RESET_LINK_EXPIRED };

/* What the token with this hash is good for now (unknown, used or older than
 * the account's last password change: INVALID). */
enum db_status password_reset_check(PGconn *conn, const char *token_hash_hex, enum reset_token_state *state);

/* Consumes a live token: sets new_hash, counts a password change, verifies
 * an unverified address (the link proved the mailbox), revokes every
 * session and queues the "password changed" email, all at once. *state says
 * what the token was when it could not be used (a concurrent reset won). */
enum db_status password_reset_consume(PGconn *conn, const char *token_hash_hex, const char *new_hash,
                                      const char *message_id_domain, enum reset_token_state *state);

/* A signed-in change: replaces old_hash with new_hash (if still current),
 * counts a password change, revokes every session but keep_session_hash and
 * queues the "password changed" email. *is_changed is false when the hash
 * was no longer old_hash (a concurrent change won). */
enum db_status password_change(PGconn *conn, const char *account_id, const char *old_hash, const char *new_hash,
                               const char *keep_session_hash_hex, const char *message_id_domain, bool *is_changed);

/* Deletes up to batch reset tokens that expired over a day ago (an expired
 * link answers "expired" for a day, then "invalid"). */
enum db_status password_reset_sweep(PGconn *conn, long batch, long *deleted);

#endif
