/* verification: verification tokens in PostgreSQL, and the emails that carry
 * them. A token is stored only as its SHA-256, with an expiry. */
#ifndef SIGNUP_VERIFICATION_H
#define SIGNUP_VERIFICATION_H

#include <libpq-fe.h>

#include "db_pool.h"
#include "account_fields.h"

/* What a sign-up typed, carried by the verification token it causes: following
 * that link sets them on the account (pre-hijacking defence). All borrowed. */
struct signup_values {
    const char *password_hash;
    const char *full_name;
    const char *phone_number;
};

/* A token row's columns, in this order, for statements that insert one
 * (db/verification.c, and db/accounts.c as part of the sign-up statement). */
#define VERIFICATION_TOKEN_INSERT_SQL                                                                                  \
    "INSERT INTO verification_tokens (token_hash, account_id, expires_at, password_hash, full_name, phone_number) "

/* What a producer needs to queue a verification email; all borrowed. */
struct verification_mail {
    const char *token_hash_hex;    /* bytea literal from secret_token_generate */
    const char *verify_link;       /* VERIFY_URL?token=… (holds the raw token) */
    long token_ttl_s;
    const char *message_id_domain;
    const struct signup_values *values; /* NULL for a resend: the link then only verifies */
};

/* Per-address limits on repeat emails (resends, duplicate sign-up notices). */
struct mail_limits {
    long per_minute;
    long per_hour;
};

enum mail_queue_result { MAIL_QUEUED, MAIL_RATE_LIMITED, MAIL_NOT_QUEUED_ERROR };

/* Identifies the account an email is for; all borrowed. */
struct account_ref {
    const char *id;
    const char *email;
    const char *full_name;
};

/* In conn's current transaction, with the account row locked: stores the
 * token and queues the verification email, unless limits (may be NULL for
 * the first email) are reached. *status reports database failures. */
enum mail_queue_result verification_queue(PGconn *conn, const struct account_ref *account,
                                          const struct verification_mail *mail, const struct mail_limits *limits,
                                          enum db_status *status);

/* Same, for the "someone tried to sign up with your address" notice. */
enum mail_queue_result verification_queue_notice(PGconn *conn, const struct account_ref *account,
                                                 const char *message_id_domain, const struct mail_limits *limits,
                                                 enum db_status *status);

enum verify_result {
    VERIFY_VERIFIED,
    VERIFY_ALREADY_VERIFIED,
    VERIFY_EXPIRED,
    VERIFY_INVALID,
    VERIFY_UNAVAILABLE,
    VERIFY_ERROR,
};

/* Consumes the token with this hash: verifies its account if the token is
 * live and the account is not verified yet, setting the sign-up values the
 * token carries; then erases the values from every token of the account, so
 * the others only answer already verified. email receives the account's
 * address (for the response) when the token is known. */
enum verify_result verification_consume(PGconn *conn, const char *token_hash_hex, char email[EMAIL_BUF_SIZE]);

enum resend_result { RESEND_QUEUED, RESEND_RATE_LIMITED, RESEND_NOTHING_TO_DO, RESEND_UNAVAILABLE, RESEND_ERROR };

/* For an unverified account with this email (any letter case), stores a new
 * token and queues a new verification email within limits. */
enum resend_result verification_resend(PGconn *conn, const char *email, const struct verification_mail *mail,
                                       const struct mail_limits *limits);

#endif
