/* Reads the environment through one table of entries (name, type, default,
 * bounds, checker), so every variable is parsed, defaulted and reported the
 * same way, and an invalid value stops start-up naming the variable. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum entry_type { TYPE_STRING, TYPE_LONG, TYPE_BOOL, TYPE_SMTP_TLS, TYPE_HASH_BACKEND };

/* Returns NULL when value is acceptable, else a reason. */
typedef const char *(*string_checker)(const char *value);

struct config_entry {
    const char *name;
    enum entry_type type;
    const char *default_value;
    size_t offset;
    long min, max;         /* TYPE_LONG only */
    string_checker check;  /* TYPE_STRING only; may be NULL */
};

static const char *check_not_empty(const char *value)
{
    return value[0] == '\0' ? "must not be empty" : NULL;
}

static const char *check_ip_address(const char *value)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, value, buf) == 1 || inet_pton(AF_INET6, value, buf) == 1)
        return NULL;
    return "must be an IPv4 or IPv6 address";
}

static bool has_http_scheme(const char *value)
{
    return strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0;
}

static bool has_no_space_or_control(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p <= ' ' || *p == 0x7F)
            return false;
    }
    return true;
}

static const char *check_http_url(const char *value)
{
    if (!has_http_scheme(value) || !has_no_space_or_control(value) || strchr(value, '?') ||
        strchr(value, '#'))
        return "must be an http:// or https:// URL without query or fragment";
    return NULL;
}

/* Exact origins as browsers send them: scheme://host[:port], no path. */
static const char *check_optional_http_url(const char *value)
{
    return value[0] == '\0' ? NULL : check_http_url(value);
}

static const char *check_origin_list(const char *value)
{
    const char *p = value;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char origin[256];
        if (len == 0 || len >= sizeof origin)
            return "must be a comma-separated list of origins like https://app.example.com";
        memcpy(origin, p, len);
        origin[len] = '\0';
        const char *host = strstr(origin, "://");
        if (!has_http_scheme(origin) || !has_no_space_or_control(origin) || host == NULL ||
            host[3] == '\0' || strchr(host + 3, '/') != NULL)
            return "must be a comma-separated list of origins like https://app.example.com";
        p += len;
        if (*p == ',')
            p++;
    }
    return NULL;
}

static const char *check_ip_list(const char *value)
{
    const char *p = value;
    while (*p) {
        size_t len = strcspn(p, ",");
        char ip[INET6_ADDRSTRLEN + 1];
        if (len == 0 || len >= sizeof ip)
            return "must be a comma-separated list of IP addresses";
        memcpy(ip, p, len);
        ip[len] = '\0';
        if (check_ip_address(ip) != NULL)
            return "must be a comma-separated list of IP addresses";
        p += len;
        if (*p == ',')
            p++;
    }
    return NULL;
}

static const char *check_calling_code(const char *value)
{
    size_t len = strlen(value);
    if (len < 1 || len > 3 || value[0] == '0' || strspn(value, "0123456789") != len)
        return "must be a country calling code of 1-3 digits without '+', e.g. 62";
    return NULL;
}

static const char *check_mail_from(const char *value)
{
    const char *at = strchr(value, '@');
    if (at == NULL || at == value || at[1] == '\0' || strpbrk(value, "\r\n") != NULL)
        return "must be an address like no-reply@example.com or \"Name <no-reply@example.com>\"";
    return NULL;
}

static const char *check_terms_version(const char *value)
{
    if (value[0] == '\0' || strlen(value) > 64 || !has_no_space_or_control(value))
        return "must be 1-64 printable characters without spaces";
    return NULL;
}

/* Stored in every claim it takes and compared as is. */
static const char *check_instance_id(const char *value)
{
    if (strlen(value) > 128 || !has_no_space_or_control(value))
        return "must be at most 128 printable characters without spaces";
    return NULL;
}

#define STR(field, name, def, check) {name, TYPE_STRING, def, offsetof(struct config, field), 0, 0, check}
#define NUM(field, name, def, lo, hi) {name, TYPE_LONG, def, offsetof(struct config, field), lo, hi, NULL}

static const struct config_entry ENTRIES[] = {
    NUM(port, "PORT", "8080", 1, 65535),
    STR(bind_address, "BIND_ADDRESS", "127.0.0.1", check_ip_address),
    STR(cors_allowed_origins, "CORS_ALLOWED_ORIGINS", "", check_origin_list),
    NUM(max_connections, "MAX_CONNECTIONS", "0", 0, 100000),
    NUM(per_ip_connection_limit, "PER_IP_CONNECTION_LIMIT", "128", 0, 100000),
    NUM(connection_timeout_s, "CONNECTION_TIMEOUT", "30", 1, 3600),
    NUM(request_timeout_s, "REQUEST_TIMEOUT", "10", 1, 3600),
    NUM(connection_memory_limit, "CONNECTION_MEMORY_LIMIT", "32768", 8192, 1048576),
    NUM(shutdown_grace_s, "SHUTDOWN_GRACE_S", "30", 1, 3600),
    STR(database_url, "DATABASE_URL", "", NULL),
    {"AUTO_MIGRATE", TYPE_BOOL, "true", offsetof(struct config, auto_migrate), 0, 0, NULL},
    STR(migrations_dir, "MIGRATIONS_DIR", "db/migrations", check_not_empty),
    NUM(db_pool_size, "DB_POOL_SIZE", "0", 0, 1000),
    {"DB_PREPARED_STATEMENTS", TYPE_BOOL, "true", offsetof(struct config, db_prepared_statements), 0, 0, NULL},
    STR(database_direct_url, "DATABASE_DIRECT_URL", "", NULL),
    STR(smtp_host, "SMTP_HOST", "127.0.0.1", check_not_empty),
    NUM(smtp_port, "SMTP_PORT", "587", 1, 65535),
    STR(smtp_username, "SMTP_USERNAME", "", NULL),
    STR(smtp_password, "SMTP_PASSWORD", "", NULL),
    {"SMTP_TLS", TYPE_SMTP_TLS, "starttls", offsetof(struct config, smtp_tls), 0, 0, NULL},
    STR(mail_from, "MAIL_FROM", "no-reply@localhost.localdomain", check_mail_from),
    STR(verify_url, "VERIFY_URL", "http://localhost:8080/verify", check_http_url),
    STR(verify_redirect_url, "VERIFY_REDIRECT_URL", "", check_optional_http_url),
    STR(sign_in_url, "SIGN_IN_URL", "", check_optional_http_url),
    NUM(verify_token_ttl_s, "VERIFY_TOKEN_TTL", "86400", 60, 30L * 86400),
    NUM(smtp_timeout_ms, "SMTP_TIMEOUT_MS", "30000", 1000, 600000),
    NUM(resend_per_minute, "RESEND_PER_MINUTE", "1", 1, 1000),
    NUM(resend_per_hour, "RESEND_PER_HOUR", "5", 1, 100000),
    {"RATE_LIMITS_ENABLED", TYPE_BOOL, "true", offsetof(struct config, rate_limits_enabled), 0, 0, NULL},
    STR(trusted_proxies, "TRUSTED_PROXIES", "", check_ip_list),
    NUM(signups_per_ip_hour, "RATE_LIMIT_SIGNUPS_PER_IP_HOUR", "10", 1, 1000000),
    NUM(signups_per_email_hour, "RATE_LIMIT_SIGNUPS_PER_EMAIL_HOUR", "5", 1, 1000000),
    NUM(resends_per_ip_hour, "RATE_LIMIT_RESENDS_PER_IP_HOUR", "20", 1, 1000000),
    NUM(resends_per_email_minute, "RATE_LIMIT_RESENDS_PER_EMAIL_MINUTE", "1", 1, 1000000),
    NUM(resends_per_email_hour, "RATE_LIMIT_RESENDS_PER_EMAIL_HOUR", "5", 1, 1000000),
    NUM(session_idle_timeout_s, "SESSION_IDLE_TIMEOUT", "3600", 60, 30L * 86400),
    NUM(session_max_age_s, "SESSION_MAX_AGE", "43200", 60, 365L * 86400),
    NUM(sweep_interval_s, "SWEEP_INTERVAL", "30", 1, 3600),
    NUM(unverified_account_ttl_s, "UNVERIFIED_ACCOUNT_TTL", "604800", 60, 365L * 86400),
    STR(password_reset_url, "PASSWORD_RESET_URL", "http://localhost:8081/reset-password.html", check_http_url),
    NUM(password_reset_ttl_s, "PASSWORD_RESET_TTL", "3600", 60, 86400),
    STR(password_forgot_url, "PASSWORD_FORGOT_URL", "http://localhost:8081/forgot-password.html",
        check_optional_http_url),
    NUM(forgots_per_ip_hour, "RATE_LIMIT_FORGOTS_PER_IP_HOUR", "20", 1, 1000000),
    NUM(signin_failures_per_pair, "SIGNIN_FAILURES_PER_ADDRESS_AND_CLIENT", "5", 1, 1000000),
    NUM(signin_failures_per_client, "SIGNIN_FAILURES_PER_CLIENT", "50", 1, 1000000),
    NUM(signin_failures_per_account, "SIGNIN_FAILURES_PER_ADDRESS", "20", 1, 1000000),
    NUM(signin_failure_window_s, "SIGNIN_FAILURE_WINDOW", "900", 60, 86400),
    NUM(mail_workers, "MAIL_WORKERS", "1", 0, 64),
    NUM(outbox_batch_size, "OUTBOX_BATCH_SIZE", "20", 1, 1000),
    NUM(outbox_poll_interval_ms, "OUTBOX_POLL_INTERVAL_MS", "5000", 10, 3600000),
    NUM(outbox_lease_s, "OUTBOX_LEASE_S", "120", 5, 86400),
    NUM(outbox_max_attempts, "OUTBOX_MAX_ATTEMPTS", "12", 1, 1000),
    NUM(outbox_retry_base_ms, "OUTBOX_RETRY_BASE_MS", "5000", 10, 3600000),
    NUM(outbox_retry_max_ms, "OUTBOX_RETRY_MAX_MS", "900000", 10, 86400000),
    STR(instance_id, "INSTANCE_ID", "", check_instance_id),
    STR(terms_version, "TERMS_VERSION", "2026-01", check_terms_version),
    STR(data_dir, "DATA_DIR", "data", check_not_empty),
    STR(openapi_file, "OPENAPI_FILE", "openapi.yaml", check_not_empty),
    STR(phone_default_country_code, "PHONE_DEFAULT_COUNTRY_CODE", "62", check_calling_code),
    NUM(argon2_memory_kib, "ARGON2_MEMORY_KIB", "19456", 7168, 4L * 1024 * 1024),
    NUM(argon2_iterations, "ARGON2_ITERATIONS", "2", 1, 100),
    NUM(argon2_parallelism, "ARGON2_PARALLELISM", "1", 1, 16),
    NUM(hash_concurrency, "HASH_CONCURRENCY", "0", 0, 1024),
    NUM(hash_queue_timeout_ms, "HASH_QUEUE_TIMEOUT_MS", "10000", 1, 600000),
    {"PASSWORD_HASH_BACKEND", TYPE_HASH_BACKEND, "libsodium", offsetof(struct config, password_hash_backend), 0, 0,
     NULL},
};

static bool parse_long(const char *value, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *value, bool *out)
{
    static const char *const TRUE_WORDS[] = {"true", "1", "yes", "on"};
    static const char *const FALSE_WORDS[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(value, TRUE_WORDS[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(value, FALSE_WORDS[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_tls(const char *value, enum smtp_tls_mode *out)
{
    if (strcmp(value, "off") == 0)
        *out = SMTP_TLS_OFF;
    else if (strcmp(value, "starttls") == 0)
        *out = SMTP_TLS_STARTTLS;
    else if (strcmp(value, "required") == 0)
        *out = SMTP_TLS_REQUIRED;
    else
        return false;
    return true;
}

static bool parse_hash_backend(const char *value, enum password_hash_backend *out)
{
    if (strcmp(value, "libsodium") == 0)
        *out = PASSWORD_HASH_BACKEND_LIBSODIUM;
    else if (strcmp(value, "libargon2") == 0)
        *out = PASSWORD_HASH_BACKEND_LIBARGON2;
    else
        return false;
    return true;
}

/* libsodium hashes with one lane only (it verifies any number). Unset, the
 * backend follows the parameters, so a deployment that already runs with
 * ARGON2_PARALLELISM > 1 keeps starting; asked for by name, it is an error. */
static bool hash_backend_fits_lanes(struct config *cfg)
{
    if (cfg->password_hash_backend != PASSWORD_HASH_BACKEND_LIBSODIUM || cfg->argon2_parallelism == 1)
        return true;
    if (getenv("PASSWORD_HASH_BACKEND") != NULL)
        return false;
    cfg->password_hash_backend = PASSWORD_HASH_BACKEND_LIBARGON2;
    return true;
}

/* OWASP's argon2id table trades memory for passes (m=47104,t=1 ... m=7168,t=5);
 * every row costs at least 35840 KiB-passes, so anything below is weaker. */
static bool argon2_is_owasp_strength(const struct config *cfg)
{
    return cfg->argon2_memory_kib * cfg->argon2_iterations >= 35840;
}

/* "Name <addr>" -> "addr"; a bare address is returned as is. New string. */
static char *bare_address(const char *mail_from)
{
    const char *open = strrchr(mail_from, '<');
    const char *close = open ? strchr(open, '>') : NULL;
    if (open == NULL || close == NULL)
        return strdup(mail_from);
    return strndup(open + 1, (size_t)(close - open - 1));
}

bool config_load(struct config *cfg, char *err, size_t err_size)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < sizeof ENTRIES / sizeof ENTRIES[0]; i++) {
        const struct config_entry *e = &ENTRIES[i];
        const char *value = getenv(e->name);
        char *field = (char *)cfg + e->offset;
        const char *reason = NULL;

        if (value == NULL)
            value = e->default_value;
        switch (e->type) {
        case TYPE_STRING: {
            reason = e->check ? e->check(value) : NULL;
            if (reason == NULL) {
                char *copy = strdup(value);
                if (copy == NULL)
                    reason = "out of memory";
                memcpy(field, &copy, sizeof copy);
            }
            break;
        }
        case TYPE_LONG: {
            long v;
            if (!parse_long(value, &v) || v < e->min || v > e->max) {
                snprintf(err, err_size, "%s=\"%s\": must be an integer from %ld to %ld", e->name, value,
                         e->min, e->max);
                return false;
            }
            memcpy(field, &v, sizeof v);
            break;
        }
        case TYPE_BOOL: {
            bool v;
            if (!parse_bool(value, &v))
                reason = "must be true or false";
            else
                memcpy(field, &v, sizeof v);
            break;
        }
        case TYPE_SMTP_TLS: {
            enum smtp_tls_mode v;
            if (!parse_tls(value, &v))
                reason = "must be off, starttls or required";
            else
                memcpy(field, &v, sizeof v);
            break;
        }
        case TYPE_HASH_BACKEND: {
            enum password_hash_backend v;
            if (!parse_hash_backend(value, &v))
                reason = "must be libsodium or libargon2";
            else
                memcpy(field, &v, sizeof v);
            break;
        }
        }
        if (reason != NULL) {
            /* Never echo a secret back, even an invalid one. */
            bool is_secret = strcmp(e->name, "SMTP_PASSWORD") == 0 || strcmp(e->name, "DATABASE_URL") == 0;
            snprintf(err, err_size, "%s=\"%s\": %s", e->name, is_secret ? "***" : value, reason);
            return false;
        }
    }
    if (!argon2_is_owasp_strength(cfg)) {
        snprintf(err, err_size,
                 "ARGON2_MEMORY_KIB=%ld with ARGON2_ITERATIONS=%ld: weaker than OWASP's minimum "
                 "(memory KiB x iterations must be at least 35840, e.g. 19456 x 2)",
                 cfg->argon2_memory_kib, cfg->argon2_iterations);
        return false;
    }
    if (!hash_backend_fits_lanes(cfg)) {
        snprintf(err, err_size,
                 "PASSWORD_HASH_BACKEND=libsodium with ARGON2_PARALLELISM=%ld: libsodium hashes with one lane "
                 "only; set ARGON2_PARALLELISM=1 or PASSWORD_HASH_BACKEND=libargon2",
                 cfg->argon2_parallelism);
        return false;
    }
    cfg->mail_from_address = bare_address(cfg->mail_from);
    if (cfg->mail_from_address == NULL || strchr(cfg->mail_from_address, '@') == NULL ||
        strpbrk(cfg->mail_from_address, " <>,\"()[]:;\\") != NULL) {
        snprintf(err, err_size, "MAIL_FROM=\"%s\": must contain one address like no-reply@example.com", cfg->mail_from);
        return false;
    }
    if ((cfg->smtp_username[0] == '\0') != (cfg->smtp_password[0] == '\0')) {
        snprintf(err, err_size, "SMTP_USERNAME and SMTP_PASSWORD: set both or neither");
        return false;
    }
    return true;
}

void config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    if (cfg->smtp_password != NULL) {
        volatile char *p = cfg->smtp_password;
        while (*p)
            *p++ = '\0';
    }
    for (size_t i = 0; i < sizeof ENTRIES / sizeof ENTRIES[0]; i++) {
        if (ENTRIES[i].type == TYPE_STRING) {
            char *value;
            memcpy(&value, (char *)cfg + ENTRIES[i].offset, sizeof value);
            free(value);
        }
    }
    free(cfg->mail_from_address);
    memset(cfg, 0, sizeof *cfg);
}
