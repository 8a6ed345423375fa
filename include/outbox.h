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
};

/* Claims up to limit rows that are due (pending and due, or sending whose
 * lease expired because a worker died), marking them sending for lease_s
 * seconds. SKIP LOCKED lets several workers claim without blocking or
 * double-claiming. Returns the rows (caller PQclear()s) or NULL on failure. */
PGresult *outbox_claim(PGconn *conn, int limit, int lease_s);

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
