/* config: defaults, every variable's validation, and messages that name the variable. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const ALL_VARIABLES[] = {
    "PORT", "BIND_ADDRESS", "CORS_ALLOWED_ORIGINS", "MAX_CONNECTIONS", "CONNECTION_TIMEOUT", "DATABASE_URL",
    "AUTO_MIGRATE", "MIGRATIONS_DIR", "DB_POOL_SIZE", "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD",
    "SMTP_TLS", "MAIL_FROM", "VERIFY_URL", "VERIFY_TOKEN_TTL", "TERMS_VERSION", "DATA_DIR",
    "PHONE_DEFAULT_COUNTRY_CODE", "ARGON2_MEMORY_KIB", "ARGON2_ITERATIONS", "ARGON2_PARALLELISM",
    "HASH_CONCURRENCY", "HASH_QUEUE_TIMEOUT_MS", "SESSION_IDLE_TIMEOUT", "SESSION_MAX_AGE",
    "DB_PREPARED_STATEMENTS", "DATABASE_DIRECT_URL", "SWEEP_INTERVAL", "UNVERIFIED_ACCOUNT_TTL", "PASSWORD_RESET_URL", "PASSWORD_RESET_TTL", "PASSWORD_FORGOT_URL",
    "RATE_LIMIT_FORGOTS_PER_IP_HOUR", "SIGNIN_FAILURES_PER_ADDRESS_AND_CLIENT", "SIGNIN_FAILURES_PER_CLIENT",
    "SIGNIN_FAILURES_PER_ADDRESS", "SIGNIN_FAILURE_WINDOW", "PASSWORD_HASH_BACKEND",
    "HASH_CONCURRENCY", "HASH_QUEUE_TIMEOUT_MS", "PER_IP_CONNECTION_LIMIT", "REQUEST_TIMEOUT",
};

static void clear_environment(void)
{
    for (size_t i = 0; i < sizeof ALL_VARIABLES / sizeof ALL_VARIABLES[0]; i++)
        unsetenv(ALL_VARIABLES[i]);
}

START_TEST(test_config_defaults_when_nothing_is_set)
{
    struct config cfg;
    char err[256] = "";
    ck_assert_msg(config_load(&cfg, err, sizeof err), "%s", err);
    ck_assert_int_eq(cfg.port, 8080);
    ck_assert_str_eq(cfg.bind_address, "127.0.0.1");
    ck_assert(cfg.auto_migrate);
    ck_assert_int_eq(cfg.smtp_tls, SMTP_TLS_STARTTLS);
    ck_assert_int_eq(cfg.verify_token_ttl_s, 86400);
    ck_assert_int_eq(cfg.argon2_memory_kib, 19456);
    ck_assert_int_eq(cfg.argon2_iterations, 2);
    ck_assert_int_eq(cfg.argon2_parallelism, 1);
    ck_assert_int_eq(cfg.password_hash_backend, PASSWORD_HASH_BACKEND_LIBSODIUM);
    ck_assert_str_eq(cfg.phone_default_country_code, "62");
    ck_assert_str_eq(cfg.cors_allowed_origins, "");
    ck_assert_int_eq(cfg.session_idle_timeout_s, 3600);
    ck_assert_int_eq(cfg.session_max_age_s, 43200);
    /* The brute-force cap per (account, client): at least 5 and at most 10
     * wrong passwords fit in any 15 minutes with fixed 15-minute windows. */
    ck_assert_int_eq(cfg.signin_failures_per_pair, 5);
    ck_assert_int_eq(cfg.signin_failure_window_s, 900);
    ck_assert_int_eq(cfg.password_reset_ttl_s, 3600);
    ck_assert_int_eq(cfg.unverified_account_ttl_s, 7 * 86400);
    ck_assert_str_eq(cfg.password_reset_url, "http://localhost:8081/reset-password.html");
    /* Slow and greedy clients are bounded out of the box (README "Under load"). */
    ck_assert_int_eq(cfg.max_connections, 0); /* = what the process can hold */
    ck_assert_int_eq(cfg.per_ip_connection_limit, 128);
    ck_assert_int_eq(cfg.connection_timeout_s, 30);
    ck_assert_int_eq(cfg.request_timeout_s, 10);
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_session_and_token_lifetimes_accept_60_seconds)
{
    struct config cfg;
    char err[256] = "";
    setenv("SESSION_IDLE_TIMEOUT", "60", 1);
    setenv("SESSION_MAX_AGE", "60", 1);
    setenv("PASSWORD_RESET_TTL", "60", 1);
    setenv("UNVERIFIED_ACCOUNT_TTL", "60", 1);
    ck_assert_msg(config_load(&cfg, err, sizeof err), "%s", err);
    ck_assert_int_eq(cfg.password_reset_ttl_s, 60);
    ck_assert_int_eq(cfg.unverified_account_ttl_s, 60);
    ck_assert_int_eq(cfg.session_idle_timeout_s, 60);
    ck_assert_int_eq(cfg.session_max_age_s, 60);
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_reads_every_kind_of_value)
{
    struct config cfg;
    char err[256] = "";
    setenv("PORT", "9090", 1);
    setenv("BIND_ADDRESS", "::1", 1);
    setenv("AUTO_MIGRATE", "false", 1);
    setenv("SMTP_TLS", "required", 1);
    setenv("SMTP_USERNAME", "mailer", 1);
    setenv("SMTP_PASSWORD", "s3cret", 1);
    setenv("CORS_ALLOWED_ORIGINS", "https://portal.example.com,http://localhost:5173", 1);
    setenv("ARGON2_MEMORY_KIB", "47104", 1);
    setenv("ARGON2_ITERATIONS", "1", 1);
    ck_assert_msg(config_load(&cfg, err, sizeof err), "%s", err);
    ck_assert_int_eq(cfg.port, 9090);
    ck_assert_str_eq(cfg.bind_address, "::1");
    ck_assert(!cfg.auto_migrate);
    ck_assert_int_eq(cfg.smtp_tls, SMTP_TLS_REQUIRED);
    ck_assert_str_eq(cfg.smtp_password, "s3cret");
    ck_assert_str_eq(cfg.cors_allowed_origins, "https://portal.example.com,http://localhost:5173");
    config_free(&cfg);
}
END_TEST

static const struct {
    const char *name, *value;
} INVALID[] = {
    {"PORT", "0"},
    {"PORT", "65536"},
    {"PORT", "80a"},
    {"PORT", ""},
    {"BIND_ADDRESS", "localhost"},
    {"AUTO_MIGRATE", "maybe"},
    {"SMTP_PORT", "-1"},
    {"SMTP_TLS", "yes"},
    {"MAIL_FROM", "nobody"},
    {"VERIFY_URL", "ftp://example.com/verify"},
    {"VERIFY_URL", "https://example.com/verify?x=1"},
    {"VERIFY_TOKEN_TTL", "10"},
    {"CORS_ALLOWED_ORIGINS", "*"},
    {"INSTANCE_ID", "mail worker 1"},
    {"CORS_ALLOWED_ORIGINS", "https://a.example.com/path"},
    {"CORS_ALLOWED_ORIGINS", "https://a.example.com,,https://b.example.com"},
    {"TERMS_VERSION", ""},
    {"PHONE_DEFAULT_COUNTRY_CODE", "+62"},
    {"ARGON2_MEMORY_KIB", "1024"},
    {"ARGON2_ITERATIONS", "0"},
    {"ARGON2_PARALLELISM", "99"},
    {"DB_POOL_SIZE", "-1"},
    {"SESSION_IDLE_TIMEOUT", "59"},
    {"SESSION_MAX_AGE", "0"},
    {"SIGNIN_FAILURES_PER_ADDRESS_AND_CLIENT", "0"},
    {"SIGNIN_FAILURE_WINDOW", "10"},
    {"PASSWORD_RESET_URL", "javascript:alert(1)"},
    {"PASSWORD_RESET_TTL", "59"},
    {"UNVERIFIED_ACCOUNT_TTL", "1"},
};

START_TEST(test_config_invalid_value_fails_naming_the_variable)
{
    struct config cfg;
    char err[256] = "";
    setenv(INVALID[_i].name, INVALID[_i].value, 1);
    ck_assert_msg(!config_load(&cfg, err, sizeof err), "%s=%s accepted", INVALID[_i].name, INVALID[_i].value);
    ck_assert_msg(strstr(err, INVALID[_i].name) != NULL, "message does not name %s: %s", INVALID[_i].name, err);
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_rejects_argon2_weaker_than_owasp)
{
    struct config cfg;
    char err[256] = "";
    setenv("ARGON2_MEMORY_KIB", "19456", 1);
    setenv("ARGON2_ITERATIONS", "1", 1);
    ck_assert(!config_load(&cfg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "ARGON2_MEMORY_KIB"));
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_reads_the_password_hash_backend)
{
    struct config cfg;
    char err[256] = "";
    setenv("PASSWORD_HASH_BACKEND", "libargon2", 1);
    ck_assert_msg(config_load(&cfg, err, sizeof err), "%s", err);
    ck_assert_int_eq(cfg.password_hash_backend, PASSWORD_HASH_BACKEND_LIBARGON2);
    config_free(&cfg);
    setenv("PASSWORD_HASH_BACKEND", "libsodium", 1);
    ck_assert_msg(config_load(&cfg, err, sizeof err), "%s", err);
    ck_assert_int_eq(cfg.password_hash_backend, PASSWORD_HASH_BACKEND_LIBSODIUM);
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_rejects_libsodium_named_with_several_lanes)
{
    struct config cfg;
    char err[256] = "";
    setenv("PASSWORD_HASH_BACKEND", "libsodium", 1);
    setenv("ARGON2_PARALLELISM", "2", 1);
    ck_assert(!config_load(&cfg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "PASSWORD_HASH_BACKEND"));
    ck_assert_ptr_nonnull(strstr(err, "ARGON2_PARALLELISM"));
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_default_backend_is_libargon2_for_several_lanes)
{
    struct config cfg;
    char err[256] = "";
    setenv("ARGON2_PARALLELISM", "2", 1);
    ck_assert_msg(config_load(&cfg, err, sizeof err), "%s", err);
    ck_assert_int_eq(cfg.password_hash_backend, PASSWORD_HASH_BACKEND_LIBARGON2);
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_smtp_credentials_come_in_pairs)
{
    struct config cfg;
    char err[256] = "";
    setenv("SMTP_USERNAME", "mailer", 1);
    ck_assert(!config_load(&cfg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "SMTP_PASSWORD"));
    config_free(&cfg);
}
END_TEST

START_TEST(test_config_error_never_echoes_a_secret)
{
    struct config cfg;
    char err[256] = "";
    setenv("SMTP_USERNAME", "mailer", 1);
    setenv("SMTP_PASSWORD", "hunter2-secret", 1);
    setenv("PORT", "bad", 1);
    ck_assert(!config_load(&cfg, err, sizeof err));
    ck_assert_ptr_null(strstr(err, "hunter2-secret"));
    config_free(&cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("environment");
    tcase_add_checked_fixture(tc, clear_environment, NULL);
    tcase_add_test(tc, test_config_defaults_when_nothing_is_set);
    tcase_add_test(tc, test_config_session_and_token_lifetimes_accept_60_seconds);
    tcase_add_test(tc, test_config_reads_every_kind_of_value);
    tcase_add_loop_test(tc, test_config_invalid_value_fails_naming_the_variable, 0, sizeof INVALID / sizeof INVALID[0]);
    tcase_add_test(tc, test_config_rejects_argon2_weaker_than_owasp);
    tcase_add_test(tc, test_config_reads_the_password_hash_backend);
    tcase_add_test(tc, test_config_rejects_libsodium_named_with_several_lanes);
    tcase_add_test(tc, test_config_default_backend_is_libargon2_for_several_lanes);
    tcase_add_test(tc, test_config_smtp_credentials_come_in_pairs);
    tcase_add_test(tc, test_config_error_never_echoes_a_secret);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
