/* config: the service's settings, read once from the environment at start-up,
 * validated as a whole, then shared read-only with every thread. */
#ifndef SIGNUP_CONFIG_H
#define SIGNUP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum smtp_tls_mode { SMTP_TLS_OFF, SMTP_TLS_STARTTLS, SMTP_TLS_REQUIRED };
/* Which library computes argon2id (auth/password_hash.c); both write and verify the same PHC strings. */
enum password_hash_backend { PASSWORD_HASH_BACKEND_LIBSODIUM, PASSWORD_HASH_BACKEND_LIBARGON2 };

struct config {
    /* HTTP */
    long port;
    char *bind_address;
    char *cors_allowed_origins; /* comma list of exact origins; "" = none */
    long max_connections;         /* 0 = what the process can hold (capacity.h) */
    long per_ip_connection_limit; /* per client address, TRUSTED_PROXIES exempt; 0 = none */
    long connection_timeout_s;    /* idle connections are closed after this */
    long request_timeout_s;       /* a request's head and body must arrive within this (slowloris) */
    long connection_memory_limit; /* bytes per connection; bounds the request header block */
    long shutdown_grace_s;        /* after SIGTERM, in-flight work gets this long */
    /* PostgreSQL */
    char *database_url; /* "" = libpq's own defaults (PGHOST, PGPORT, ...) */
    bool auto_migrate;
    char *migrations_dir;
    long db_pool_size; /* PostgreSQL connections; 0 = twice the number of cores */
    bool db_prepared_statements; /* false behind a transaction pooler (PgBouncer < 1.21) */
    char *database_direct_url;   /* "" = DATABASE_URL; a connection past any pooler, for the
                                    migration lock and the workers' LISTEN */
    /* Mail */
    char *smtp_host;
    long smtp_port;
    char *smtp_username;
    char *smtp_password;
    enum smtp_tls_mode smtp_tls;
    char *mail_from;
    char *mail_from_address; /* derived: the bare address inside MAIL_FROM */
    char *verify_url;
    char *verify_redirect_url; /* "" = answer /verify with JSON only */
    char *sign_in_url;         /* "" = none; linked from the "already registered" notice */
    long verify_token_ttl_s;
    long smtp_timeout_ms;
    long resend_per_minute;
    long resend_per_hour;
    /* Abuse limits (per client IP and per email address, across instances) */
    bool rate_limits_enabled;
    char *trusted_proxies; /* comma list of proxy IPs whose X-Forwarded-For is believed */
    long signups_per_ip_hour;
    long signups_per_email_hour;
    long resends_per_ip_hour;
    long resends_per_email_minute;
    long resends_per_email_hour;
    /* Sign-in and sessions */
    long session_idle_timeout_s;   /* a session unused this long ends */
    long session_max_age_s;        /* and every session ends this long after sign-in */
    long sweep_interval_s;         /* how often expired sessions, tokens and accounts are deleted */
    long unverified_account_ttl_s; /* an account unverified this long after sign-up is deleted */
    /* Recovery */
    char *password_reset_url;  /* the reset email's link is password_reset_url?token=… */
    long password_reset_ttl_s;
    char *password_forgot_url; /* "" = none; linked from the "password changed" email */
    long forgots_per_ip_hour;
    long signin_failures_per_pair;    /* wrong passwords per (email, client address) per window */
    long signin_failures_per_client;  /* per client address, any email */
    long signin_failures_per_account; /* per email, any client (owner's known clients exempt) */
    long signin_failure_window_s;
    /* Outbox workers */
    long mail_workers;
    long outbox_batch_size;
    long outbox_poll_interval_ms;
    long outbox_lease_s;
    long outbox_max_attempts;
    long outbox_retry_base_ms;
    long outbox_retry_max_ms;
    char *instance_id; /* "" = none; one running process per value (a restart takes back its claims) */
    /* Sign-up rules */
    char *terms_version;
    char *data_dir;
    char *openapi_file;
    char *phone_default_country_code;
    /* Password hashing */
    long argon2_memory_kib;
    long argon2_iterations;
    long argon2_parallelism;
    long hash_concurrency; /* hashes running at once; 0 = number of cores */
    long hash_queue_timeout_ms;
    enum password_hash_backend password_hash_backend; /* libsodium unless set, or ARGON2_PARALLELISM > 1 */
};

/* Fills cfg from the environment (getenv), applying defaults for unset
 * variables. On an invalid value returns false with a message naming the
 * variable in err. cfg owns its strings either way; release with config_free(). */
bool config_load(struct config *cfg, char *err, size_t err_size) __attribute__((warn_unused_result));

/* NULL-safe; wipes the SMTP password before freeing it. */
void config_free(struct config *cfg);

#endif
