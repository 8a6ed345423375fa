/* outbox_worker: threads that deliver the email outbox. Each has its own
 * PostgreSQL connection, wakes on LISTEN/NOTIFY or every poll interval,
 * claims due rows under a lease, sends them over SMTP and records the result. */
#ifndef SIGNUP_OUTBOX_WORKER_H
#define SIGNUP_OUTBOX_WORKER_H

#include "smtp_client.h"

/* All borrowed; must outlive the workers. */
struct outbox_worker_settings {
    const char *conninfo;
    /* Where LISTEN runs: NULL = on the conninfo connection itself; "" = nowhere
     * (poll only); else a direct connection of its own (behind a pooler). */
    const char *listen_conninfo;
    struct smtp_settings smtp;
    const char *mail_from;   /* From: header */
    long link_ttl_s;         /* told to the reader ("expires in 24 hours") */
    long reset_link_ttl_s;   /* the same, for password reset links */
    const char *sign_in_url; /* for the "already registered" notice; may be "" */
    const char *forgot_url;  /* for the "password changed" notice; may be "" */
    int batch_size;          /* messages per claim and per SMTP session */
    int poll_interval_ms;    /* safety net: NOTIFY is only a hint */
    int lease_s;             /* a claim older than this is taken over (its worker may have died) */
    const char *instance_id; /* INSTANCE_ID, "" = none: a restart takes back its claims at once */
    int max_attempts;
    long retry_base_ms;      /* backoff: base * 2^(attempt-1), capped, with jitter */
    long retry_max_ms;
};

struct outbox_workers;

/* Starts count threads. Returns NULL on failure (logged). */
struct outbox_workers *outbox_workers_start(const struct outbox_worker_settings *settings, int count)
    __attribute__((warn_unused_result));

/* Asks every worker to stop, lets each finish the SMTP session it is in,
 * joins them and frees everything. NULL-safe. */
void outbox_workers_stop(struct outbox_workers *workers);

#endif
