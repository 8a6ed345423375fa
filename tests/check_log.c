/* log: the hand-written access log line must be one valid JSON object per
 * line whatever the client sent as method or request id. The line is parsed
 * back with jansson, which rejects anything that is not strict JSON. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Runs log_http_request with stderr sent to a temporary file; returns the
 * text written (caller frees). */
static char *captured_access_line(const char *id, const char *method, const char *path, unsigned status,
                                  double duration_ms)
{
    FILE *capture = tmpfile();
    ck_assert_ptr_nonnull(capture);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fileno(capture), STDERR_FILENO), 0);
    log_http_request(id, method, path, status, duration_ms);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    long size = ftell(capture);
    ck_assert_int_gt(size, 0);
    char *text = calloc(1, (size_t)size + 1);
    rewind(capture);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, capture), (size_t)size);
    fclose(capture);
    return text;
}

static json_t *parse_one_line(const char *text)
{
    size_t len = strlen(text);
    ck_assert_msg(len > 0 && text[len - 1] == '\n', "line not ended by a newline: %s", text);
    ck_assert_msg(strchr(text, '\n') == text + len - 1, "more than one line: %s", text);
    json_error_t error;
    json_t *line = json_loads(text, 0, &error);
    ck_assert_msg(line != NULL, "not JSON (%s): %s", error.text, text);
    return line;
}

START_TEST(test_log_access_line_has_every_field_in_order)
{
    char *text = captured_access_line("abc-123", "GET", "/verify", 200, 1.25);
    json_t *line = parse_one_line(text);
    ck_assert_str_eq(json_string_value(json_object_get(line, "level")), "info");
    ck_assert_str_eq(json_string_value(json_object_get(line, "event")), "http_request");
    ck_assert_str_eq(json_string_value(json_object_get(line, "request_id")), "abc-123");
    ck_assert_str_eq(json_string_value(json_object_get(line, "method")), "GET");
    ck_assert_str_eq(json_string_value(json_object_get(line, "path")), "/verify");
    ck_assert_int_eq(json_integer_value(json_object_get(line, "status")), 200);
    ck_assert_double_eq_tol(json_number_value(json_object_get(line, "duration_ms")), 1.25, 1e-9);
    ck_assert_ptr_nonnull(strstr(text, "{\"ts\":\""));
    ck_assert(strstr(text, "\"event\"") < strstr(text, "\"request_id\""));
    json_decref(line);
    free(text);
}
END_TEST

START_TEST(test_log_access_line_escapes_quotes_controls_and_non_ascii)
{
    const char method[] = "G\"E\\T\n\r\t\x01\x7f\xc3\xa9\xff";
    char *text = captured_access_line("id\"}{", method, "/signup", 405, 0.0);
    json_t *line = parse_one_line(text);
    ck_assert_str_eq(json_string_value(json_object_get(line, "request_id")), "id\"}{");
    /* Printable ASCII kept, the rest as \u00XX of each byte. */
    ck_assert_str_eq(json_string_value(json_object_get(line, "method")),
                     "G\"E\\T\n\r\t\x01\x7f\xc3\x83\xc2\xa9\xc3\xbf");
    ck_assert_ptr_nonnull(strstr(text, "\\u00c3\\u00a9\\u00ff"));
    json_decref(line);
    free(text);
}
END_TEST

START_TEST(test_log_access_line_with_huge_method_stays_one_valid_line)
{
    char method[5000];
    memset(method, '"', sizeof method - 1);
    method[sizeof method - 1] = '\0';
    char *text = captured_access_line("x", method, "/signup", 405, 3.5);
    json_t *line = parse_one_line(text);
    ck_assert_int_eq(json_integer_value(json_object_get(line, "status")), 405);
    ck_assert_str_eq(json_string_value(json_object_get(line, "path")), "/signup");
    ck_assert_uint_lt(strlen(text), 1024);
    json_decref(line);
    free(text);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("access_line");
    tcase_add_test(tc, test_log_access_line_has_every_field_in_order);
    tcase_add_test(tc, test_log_access_line_escapes_quotes_controls_and_non_ascii);
    tcase_add_test(tc, test_log_access_line_with_huge_method_stays_one_valid_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(log_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
