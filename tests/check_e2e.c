/* The callers' view, end to end, as Check tests so `make test` has one
 * report: the OpenAPI document is lint-clean and every response the other
 * integration suites received matches it; the generated TypeScript client,
 * the curl examples and the SPA in headless Chromium each do the whole
 * journey against a real server, database and SMTP sink; and the compose
 * file and Dockerfile agree with the build. Each tool's output goes to
 * build/test-output/<name>.log. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "support.h"

static pid_t server_pid = -1;
static char api_url[64], spa_url[64];

static void e2e_setup(void)
{
    const char *base = getenv("TEST_HTTP_PORT");
    int port = (base ? atoi(base) : 18080) + 30;
    static char cors[128], verify_url[128], reset_url[128], forgot_url[128];
    snprintf(api_url, sizeof api_url, "http://localhost:%d", port);
    snprintf(spa_url, sizeof spa_url, "http://localhost:%d", port + 1);
    snprintf(cors, sizeof cors, "CORS_ALLOWED_ORIGINS=%s", spa_url);
    snprintf(verify_url, sizeof verify_url, "VERIFY_URL=%s/verify.html", spa_url);
    /* The reset email must open the SPA's page, which the browser journey follows. */
    snprintf(reset_url, sizeof reset_url, "PASSWORD_RESET_URL=%s/reset-password.html", spa_url);
    snprintf(forgot_url, sizeof forgot_url, "PASSWORD_FORGOT_URL=%s/forgot-password.html", spa_url);
    const char *env[] = {cors,
                         verify_url,
                         reset_url,
                         forgot_url,
                         "OUTBOX_POLL_INTERVAL_MS=200",
                         "RESEND_PER_MINUTE=10",
                         "RESEND_PER_HOUR=100",
                         NULL};
    const char *log = getenv("TEST_SERVER_LOG") ? getenv("TEST_SERVER_LOG") : "build/test-output/server.log";
    server_pid = test_server_start(port, env, log);
    if (server_pid < 0)
        exit(EXIT_FAILURE);
    setenv("API_URL", api_url, 1);
    setenv("SPA_URL", spa_url, 1);
    if (getenv("TEST_OUTPUT_DIR") == NULL)
        setenv("TEST_OUTPUT_DIR", "build/test-output", 1);
}

static void e2e_teardown(void)
{
    test_server_stop(server_pid);
}

/* Runs command with its output in build/test-output/<name>.log; on failure
 * the log's tail is shown so the reason is in the test report. */
static void assert_command_succeeds(const char *name, const char *command)
{
    char shell[2048], tail[512];
    const char *out = getenv("TEST_OUTPUT_DIR");
    snprintf(shell, sizeof shell, "%s > %s/%s.log 2>&1", command, out, name);
    int status = system(shell);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        snprintf(tail, sizeof tail, "tail -n 40 %s/%s.log >&2", out, name);
        if (system(tail) != 0)
            fprintf(stderr, "(no log)\n");
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (exit %d); see %s/%s.log", name,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, name);
}

START_TEST(test_openapi_is_lint_clean_and_every_integration_response_matches_it)
{
    const char *log = getenv("TEST_RESPONSE_LOG");
    ck_assert_msg(log != NULL, "TEST_RESPONSE_LOG is not set");
    char command[1024];
    snprintf(command, sizeof command, "tests/contract/run.sh '%s'", log);
    assert_command_succeeds("contract", command);
}
END_TEST

START_TEST(test_generated_typescript_client_does_the_whole_journey)
{
    assert_command_succeeds("client-ts", "examples/client-ts/run.sh");
}
END_TEST

START_TEST(test_curl_examples_work_as_documented)
{
    assert_command_succeeds("curl-examples", "examples/curl/test.sh");
}
END_TEST

START_TEST(test_browser_signs_up_verifies_signs_in_and_out_in_headless_chromium)
{
    assert_command_succeeds("browser", "tests/browser/run.sh");
}
END_TEST

START_TEST(test_compose_file_and_dockerfile_match_the_build)
{
    assert_command_succeeds("compose", "tests/compose/check.sh");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e");
    TCase *tc = tcase_create("callers");
    tcase_add_unchecked_fixture(tc, e2e_setup, e2e_teardown);
    /* npm ci on a fresh machine downloads packages: generous limits. */
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_openapi_is_lint_clean_and_every_integration_response_matches_it);
    tcase_add_test(tc, test_generated_typescript_client_does_the_whole_journey);
    tcase_add_test(tc, test_curl_examples_work_as_documented);
    tcase_add_test(tc, test_browser_signs_up_verifies_signs_in_and_out_in_headless_chromium);
    tcase_add_test(tc, test_compose_file_and_dockerfile_match_the_build);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
