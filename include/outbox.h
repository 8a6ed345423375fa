/* outbox: the email_outbox table, PostgreSQL side. Producers enqueue inside
 * their own transaction; workers claim due rows with a lease and record what
 * happened to each send. */
#ifndef SIGNUP_OUTBOX_H
#define SIGNUP_OUTBOX_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "db_pool.h"

#define OUTBOX_KIND_VERIFICATION "verification"
#define OUTBOX_KIND_ALREADY_REGISTERED "already_registered"
#define OUTBOX_KIND_SIGNIN_ATTEMPTS "signin_attempts"
#define OUTBOX_KIND_PASSWORD_RESET "password_reset"
#define OUTBOX_KIND_PASSWORD_CHANGED "password_changed"

/* For statements that queue an email as one part of a larger statement
 * (db/accounts.c, db/password_reset.c): the row's columns, in this order,
 * and its Message-ID (random, so no counter leaks volumes; fixed per row, so
 * a re-send after a crash carries the same ID), given the SQL of the domain. */
#define OUTBOX_INSERT_SQL "INSERT INTO email_outbox (kind, account_id, recipient, recipient_name, verify_link, message_id) "
#define OUTBOX_MESSAGE_ID_SQL(domain) "gen_random_uuid()::text || '@' || " domain

/* All borrowed. */
struct outbox_entry {
    const char *kind;              /* OUTBOX_KIND_* */
    const char *account_id;
    const char *recipient;
    const char *recipient_name;
    const char *verify_link;       /* holds the raw token; NULL for notices */
    const char *message_id_domain; /* right-hand side of the Message-ID */
};

/* Inserts one row in conn's current transaction. */
enum db_status outbox_enqueue(PGconn *conn, const struct outbox_entry *entry);

/* Same, unless an email of this kind was queued for the account within the
 * last hour; *queued tells which. */
enum db_status outbox_enqueue_hourly(PGconn *conn, const struct outbox_entry *entry, bool *queued);

/* Emails queued for account_id within the last minute and hour, not counting
 * the account's first email (the sign-up's own): the per-address limits are
 * on emails beyond the first, so a resend right after sign-up goes out. */
enum db_status outbox_recent_counts(PGconn *conn, const char *account_id, long *last_minute, long *last_hour);

/* Emails not yet sent (pending or being sent) and the age in seconds of the
 * oldest of them (0 when none). */
enum db_status outbox_pending_stats(PGconn *conn, long *pending, double *oldest_s);

/* Columns of the result outbox_claim returns. */
enum outbox_column {
    OUTBOX_COL_ID,
    OUTBOX_COL_KIND,
    OUTBOX_COL_RECIPIENT,
    OUTBOX_COL_RECIPIENT_NAME,
    OUTBOX_COL_VERIFY_LINK,
    OUTBOX_COL_MESSAGE_ID,
    OUTBOX_COL_ATTEMPTS,
    OUTBOX_COL_CREATED_AT, /* Unix seconds: when it was queued (the "password changed" time) */
};

/* Who takes a claim, recorded in the row (all borrowed; pid and start in
 * decimal): a process, named within a scope where other processes can tell
 * whether it still runs (see lease_holder.h), and the INSTANCE_ID it runs
 * as, or NULL. */
struct outbox_holder {
    const char *instance;
    const char *scope;
    const char *pid;
    const char *start;
};

/* Claims up to limit rows that are due (pending and due, or sending whose
 * lease is over: expired, or released because its holder died), marking them
 * sending by holder for lease_s seconds. SKIP LOCKED lets several workers
 * claim without blocking or double-claiming. Returns the rows (caller
 * PQclear()s) or NULL on failure. */
PGresult *outbox_claim(PGconn *conn, int limit, int lease_s, const struct outbox_holder *holder);

/* The other processes of self's scope that hold a live lease: rows of
 * (pid, start) as text. Returns the rows (caller PQclear()s) or NULL on
 * failure. */
PGresult *outbox_scope_holders(PGconn *conn, const struct outbox_holder *self);

/* Ends now the live leases of process (pid, start) in scope, so that the
 * next claim takes its rows; *released counts them. For a holder known to be
 * dead only. */
enum db_status outbox_release_process(PGconn *conn, const char *scope, const char *pid, const char *start,
                                      long *released);

/* Ends now the live leases taken under self's instance by processes outside
 * self's scope: earlier incarnations of this instance, dead because it is
 * running (INSTANCE_ID promises one process per instance). *released counts
 * them. */
enum db_status outbox_release_instance(PGconn *conn, const struct outbox_holder *self, long *released);

/* The three ends of a claimed send. attempts is the row's attempts value as
 * claimed (the claim's generation): if the lease expired and another worker
 * re-claimed the row, the update changes nothing (logged as lease lost). */

/* Sent: scrubs the link (and with it the raw token) from each of the n rows
 * (ids[i] claimed with attempts[i]), in one statement. */
enum db_status outbox_mark_sent(PGconn *conn, const char *const *ids, const char *const *attempts, size_t n);

/* Transient failure: pending again after delay_ms, error kept. */
enum db_status outbox_mark_retry(PGconn *conn, const char *id, const char *attempts, long delay_ms,
                                 const char *error);

/* Permanent failure or too many attempts: dead, link scrubbed, error kept. */
enum db_status outbox_mark_dead(PGconn *conn, const char *id, const char *attempts, const char *error);

#endif
