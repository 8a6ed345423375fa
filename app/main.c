/* signup-api: reads the configuration, loads the rule lists, migrates the
 * database, then serves HTTP and runs the outbox workers until SIGINT or
 * SIGTERM. `--worker-only` runs just the workers, so mail can scale apart. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "capacity.h"
#include "client_ip.h"
#include "config.h"
#include "connection_guard.h"
#include "cors.h"
#include "db_migrate.h"
#include "db_pool.h"
#include "http_server.h"
#include "log.h"
#include "outbox_worker.h"
#include "password_hash.h"
#include "string_set.h"
#include "sweeper.h"
#include "text_file.h"

/* How long start-up waits for PostgreSQL to accept connections (it is often
 * started alongside us). */
#define MIGRATE_CONNECT_ATTEMPTS 30
#define DB_ACQUIRE_TIMEOUT_MS 5000

struct rule_lists {
    struct string_set *free_email_domains;
    struct string_set *disposable_email_domains;
    struct string_set *common_passwords;
};

static bool load_list(const char *dir, const char *file, struct string_set **out)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    *out = string_set_load_file(path, err, sizeof err);
    if (*out == NULL) {
        log_event(LOG_LEVEL_ERROR, "startup_failed", "reason", "cannot load list", "error", err, LOG_END);
        return false;
    }
    return true;
}

static bool load_rule_lists(const char *dir, struct rule_lists *lists)
{
    return load_list(dir, "free-email-domains.txt", &lists->free_email_domains) &&
           load_list(dir, "disposable-email-domains.txt", &lists->disposable_email_domains) &&
           load_list(dir, "common-passwords.txt", &lists->common_passwords);
}

/* Session state (the migration lock, LISTEN) needs a connection past any
 * transaction pooler. */
static const char *direct_url(const struct config *cfg)
{
    return cfg->database_direct_url[0] != '\0' ? cfg->database_direct_url : cfg->database_url;
}

static bool migrate(const struct config *cfg)
{
    char err[1024];
    PGconn *conn = NULL;

    for (int attempt = 1; conn == NULL; attempt++) {
        conn = db_connect(direct_url(cfg), err, sizeof err);
        if (conn != NULL)
            break;
        if (attempt == MIGRATE_CONNECT_ATTEMPTS) {
            log_event(LOG_LEVEL_ERROR, "startup_failed", "reason", "database unreachable", "error", err, LOG_END);
            return false;
        }
        log_event(LOG_LEVEL_WARN, "database_wait", "error", err, LOG_END);
        sleep(1);
    }
    bool is_ok = db_migrate(conn, cfg->migrations_dir, err, sizeof err);
    if (!is_ok)
        log_event(LOG_LEVEL_ERROR, "startup_failed", "reason", "migration failed", "error", err, LOG_END);
    PQfinish(conn);
    return is_ok;
}

/* Bounds shutdown: if stopping HTTP and the workers takes longer than the
 * grace period (a stuck SMTP server, a request that never finishes), exit
 * anyway. Everything committed is already safe in PostgreSQL. */
static void *shutdown_watchdog(void *arg)
{
    long grace_s = *(const long *)arg;
    struct timespec delay = {.tv_sec = grace_s};
    while (nanosleep(&delay, &delay) != 0)
        ;
    log_event(LOG_LEVEL_ERROR, "shutdown_grace_exceeded", LOG_END);
    _exit(EXIT_FAILURE);
    return NULL;
}

static int online_cores(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

static int hash_concurrency(const struct config *cfg)
{
    return cfg->hash_concurrency > 0 ? (int)cfg->hash_concurrency : online_cores();
}

/* More connections than the cores can serve only lengthen the queue inside
 * the database: measured on 2 cores with 64 clients verifying, 4 connections
 * gave the most requests/s, and 8 the same rate with a 2.5x worse p99. */
static int db_pool_size(const struct config *cfg)
{
    return cfg->db_pool_size > 0 ? (int)cfg->db_pool_size : 2 * online_cores();
}

/* MAX_CONNECTIONS, or with 0 as many as the open-file, thread and memory
 * limits allow (capacity.h) beside what the rest of the process holds: the
 * database pool, the mail workers' connections, logs and data files. Warns
 * when a configured value cannot be held. */
static long max_connections(const struct config *cfg)
{
    struct capacity_limits limits;
    capacity_measure(&limits);
    long reserved_files = 64 + db_pool_size(cfg) + 3 * cfg->mail_workers;
    long reserved_threads = 32 + cfg->mail_workers;
    long total = capacity_connections(&limits, reserved_files, reserved_threads);
    if (cfg->max_connections == 0)
        return connection_guard_max_connections_within(total);
    if (cfg->max_connections + connection_guard_reserve(cfg->max_connections) > total) {
        char wanted[24], room[24];
        snprintf(wanted, sizeof wanted, "%ld", cfg->max_connections);
        snprintf(room, sizeof room, "%ld", connection_guard_max_connections_within(total));
        log_event(LOG_LEVEL_WARN, "max_connections_over_capacity", "max_connections", wanted, "capacity", room,
                  "hint", "raise ulimit -n (or the memory or thread limits), or lower MAX_CONNECTIONS", LOG_END);
    }
    return cfg->max_connections;
}

static struct outbox_worker_settings worker_settings(const struct config *cfg)
{
    /* Behind a pooler without a direct URL, notifications cannot arrive:
     * the workers poll. */
    const char *listen_conninfo = cfg->database_direct_url[0] != '\0' ? cfg->database_direct_url
                                  : cfg->db_prepared_statements  ? NULL
                                                                 : "";
    return (struct outbox_worker_settings){
        .conninfo = cfg->database_url,
        .listen_conninfo = listen_conninfo,
        .smtp = {.host = cfg->smtp_host,
                 .port = cfg->smtp_port,
                 .username = cfg->smtp_username,
                 .password = cfg->smtp_password,
                 .tls = cfg->smtp_tls,
                 .timeout_ms = cfg->smtp_timeout_ms,
                 .envelope_from = cfg->mail_from_address},
        .mail_from = cfg->mail_from,
        .link_ttl_s = cfg->verify_token_ttl_s,
        .reset_link_ttl_s = cfg->password_reset_ttl_s,
        .sign_in_url = cfg->sign_in_url,
        .forgot_url = cfg->password_forgot_url,
        .batch_size = (int)cfg->outbox_batch_size,
        .poll_interval_ms = (int)cfg->outbox_poll_interval_ms,
        .lease_s = (int)cfg->outbox_lease_s,
        .instance_id = cfg->instance_id,
        .max_attempts = (int)cfg->outbox_max_attempts,
        .retry_base_ms = cfg->outbox_retry_base_ms,
        .retry_max_ms = cfg->outbox_retry_max_ms,
    };
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct rule_lists lists = {0};
    struct app app = {0};
    struct _u_instance inst;
    struct password_hasher *hasher = NULL;
    char err[1024];
    sigset_t stop_signals;
    int exit_code = EXIT_FAILURE;
    int signal_number = 0;

    bool is_worker_only = argc == 2 && strcmp(argv[1], "--worker-only") == 0;
    if (argc > 2 || (argc == 2 && !is_worker_only)) {
        fprintf(stderr, "usage: %s [--worker-only]   (configured by environment variables; see README.md)\n",
                argv[0]);
        return 2;
    }
    struct outbox_workers *workers = NULL;
    struct sweeper *sweeper = NULL;
    struct outbox_worker_settings mail_settings;
    bool is_serving = false;
    /* Before any thread exists, so every thread inherits the mask and only
     * sigwait() below sees SIGINT/SIGTERM; SIGPIPE would kill us on a peer
     * that hung up (libesmtp and sockets). */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    if (!config_load(&cfg, err, sizeof err)) {
        fprintf(stderr, "signup-api: invalid configuration: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    db_use_prepared_statements(cfg.db_prepared_statements);
    /* One socket per connection: the soft limit (often 1024) goes up to the
     * hard one before anything is sized from it. */
    long open_files = capacity_raise_open_files();
    smtp_client_global_init();
    if (cfg.auto_migrate && !migrate(&cfg))
        goto cleanup;
    mail_settings = worker_settings(&cfg);
    if (cfg.mail_workers > 0 || is_worker_only) {
        workers = outbox_workers_start(&mail_settings, cfg.mail_workers > 0 ? (int)cfg.mail_workers : 1);
        if (workers == NULL)
            goto cleanup;
    }
    if (is_worker_only) {
        log_event(LOG_LEVEL_INFO, "worker_only", LOG_END);
        goto serve;
    }
    if (!load_rule_lists(cfg.data_dir, &lists))
        goto cleanup;

    struct password_hasher_params hash_params = {
        .memory_kib = (uint32_t)cfg.argon2_memory_kib,
        .iterations = (uint32_t)cfg.argon2_iterations,
        .parallelism = (uint32_t)cfg.argon2_parallelism,
        .concurrency = hash_concurrency(&cfg),
        .queue_timeout_ms = (int)cfg.hash_queue_timeout_ms,
        .backend = cfg.password_hash_backend,
    };
    hasher = password_hasher_create(&hash_params);
    app.pool = db_pool_create(cfg.database_url, db_pool_size(&cfg));
    app.cors = cors_policy_create(cfg.cors_allowed_origins);
    app.trusted_proxies = string_set_create();
    if (hasher == NULL || app.pool == NULL || app.cors == NULL || app.trusted_proxies == NULL ||
        !client_ip_trust_list(app.trusted_proxies, cfg.trusted_proxies)) {
        log_event(LOG_LEVEL_ERROR, "startup_failed", "reason", "out of memory", LOG_END);
        goto cleanup;
    }
    app.config = &cfg;
    app.max_connections = max_connections(&cfg);
    app.openapi_document = text_file_read(cfg.openapi_file, NULL);
    if (app.openapi_document == NULL)
        log_event(LOG_LEVEL_WARN, "openapi_unavailable", "file", cfg.openapi_file, "error", strerror(errno), LOG_END);
    app.rules = (struct signup_rules){
        .free_email_domains = lists.free_email_domains,
        .disposable_email_domains = lists.disposable_email_domains,
        .common_passwords = lists.common_passwords,
        .default_country_code = cfg.phone_default_country_code,
    };
    app.signup = (struct signup_service){
        .pool = app.pool,
        .hasher = hasher,
        .terms_version = cfg.terms_version,
        .verify_url = cfg.verify_url,
        .token_ttl_s = cfg.verify_token_ttl_s,
        .message_id_domain = strchr(cfg.mail_from_address, '@') + 1,
        .repeat_limits = {.per_minute = cfg.resend_per_minute, .per_hour = cfg.resend_per_hour},
        .db_acquire_timeout_ms = DB_ACQUIRE_TIMEOUT_MS,
        .are_limits_enabled = cfg.rate_limits_enabled,
        .signup_per_ip = {"signup_ip", cfg.signups_per_ip_hour, 3600},
        .signup_per_email = {"signup_email", cfg.signups_per_email_hour, 3600},
        .resend_per_ip = {"resend_ip", cfg.resends_per_ip_hour, 3600},
        .resend_per_email = {{"resend_email_minute", cfg.resends_per_email_minute, 60},
                             {"resend_email_hour", cfg.resends_per_email_hour, 3600}},
    };

    app.signin = (struct signin_service){
        .pool = app.pool,
        .hasher = hasher,
        .signup = &app.signup,
        .session_idle_timeout_s = cfg.session_idle_timeout_s,
        .session_max_age_s = cfg.session_max_age_s,
        .are_limits_enabled = cfg.rate_limits_enabled,
        .limits = {.per_pair = cfg.signin_failures_per_pair,
                   .per_client = cfg.signin_failures_per_client,
                   .per_account = cfg.signin_failures_per_account,
                   .window_s = cfg.signin_failure_window_s},
        .message_id_domain = app.signup.message_id_domain,
        .db_acquire_timeout_ms = DB_ACQUIRE_TIMEOUT_MS,
    };
    if (!signin_service_prepare(&app.signin))
        goto cleanup;
    app.recovery = (struct recovery_service){
        .pool = app.pool,
        .hasher = hasher,
        .signin = &app.signin,
        .rules = &app.rules,
        .reset_url = cfg.password_reset_url,
        .reset_ttl_s = cfg.password_reset_ttl_s,
        .message_id_domain = app.signup.message_id_domain,
        .reset_limits = {.per_minute = cfg.resend_per_minute, .per_hour = cfg.resend_per_hour},
        .are_limits_enabled = cfg.rate_limits_enabled,
        .forgot_per_ip = {"forgot_ip", cfg.forgots_per_ip_hour, 3600},
        .db_acquire_timeout_ms = DB_ACQUIRE_TIMEOUT_MS,
    };
    struct sweeper_settings sweep = {
        .pool = app.pool,
        .db_acquire_timeout_ms = DB_ACQUIRE_TIMEOUT_MS,
        .interval_s = cfg.sweep_interval_s,
        .unverified_ttl_s = cfg.unverified_account_ttl_s,
    };
    sweeper = sweeper_start(&sweep);
    if (sweeper == NULL)
        goto cleanup;

    if (!http_server_start(&inst, &app, err, sizeof err)) {
        log_event(LOG_LEVEL_ERROR, "startup_failed", "reason", err, LOG_END);
        goto cleanup;
    }
    is_serving = true;
    char listen[128], connections[24], files[24];
    snprintf(listen, sizeof listen, "http://%s:%ld", cfg.bind_address, cfg.port);
    snprintf(connections, sizeof connections, "%ld", app.max_connections);
    snprintf(files, sizeof files, "%ld", open_files);
    log_event(LOG_LEVEL_INFO, "listening", "url", listen, "max_connections", connections, "open_files_limit", files,
              LOG_END);

serve:
    sigwait(&stop_signals, &signal_number);
    log_event(LOG_LEVEL_INFO, "stopping", "signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM", LOG_END);
    static long grace_s; /* outlives cfg, which cleanup wipes while the watchdog may still run */
    grace_s = cfg.shutdown_grace_s;
    pthread_t watchdog;
    if (pthread_create(&watchdog, NULL, shutdown_watchdog, &grace_s) == 0)
        pthread_detach(watchdog);
    /* HTTP first (no new work), then the workers (each finishes its SMTP
     * session), then the pool. */
    if (is_serving)
        http_server_stop(&inst, cfg.shutdown_grace_s);
    exit_code = EXIT_SUCCESS;

cleanup:
    sweeper_stop(sweeper);
    outbox_workers_stop(workers);
    smtp_client_global_cleanup();
    cors_policy_free(app.cors);
    string_set_free(app.trusted_proxies);
    free(app.openapi_document);
    db_pool_free(app.pool);
    password_hasher_free(hasher);
    string_set_free(lists.free_email_domains);
    string_set_free(lists.disposable_email_domains);
    string_set_free(lists.common_passwords);
    config_free(&cfg);
    return exit_code;
}
