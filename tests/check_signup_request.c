/* signup_request: JSON shape errors (400) are told apart from rule
 * violations (422), and a valid body comes out normalised. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "signup_request.h"
#include "string_set.h"

static struct string_set *free_domains, *disposable_domains, *common_passwords;
static struct signup_rules rules;

static void rules_setup(void)
{
    free_domains = string_set_create();
    disposable_domains = string_set_create();
    common_passwords = string_set_create();
    ck_assert(string_set_add(free_domains, "gmail.com", 9));
    ck_assert(string_set_add(disposable_domains, "mailinator.com", 14));
    ck_assert(string_set_add(common_passwords, "p@ssw0rd", 8));
    rules = (struct signup_rules){free_domains, disposable_domains, common_passwords, "62"};
}

static void rules_teardown(void)
{
    string_set_free(free_domains);
    string_set_free(disposable_domains);
    string_set_free(common_passwords);
}

static enum signup_parse_status parse(const char *body, struct signup_request *req, struct field_errors *errors)
{
    char detail[256];
    return signup_request_parse(body, strlen(body), &rules, req, errors, detail, sizeof detail);
}

START_TEST(test_signup_request_valid_body_is_normalised)
{
    struct signup_request req;
    struct field_errors errors;
    const char *body = "{\"full_name\":\" Budi  Santoso \",\"email\":\"Budi@Lintasarta.CO.ID\","
                       "\"password\":\"Str0ng!Pass\",\"phone_number\":\"0812-3456-7890\",\"accept_terms\":true,"
                       "\"unknown_field\":[1,2]}";
    ck_assert_int_eq(parse(body, &req, &errors), SIGNUP_PARSE_OK);
    ck_assert_str_eq(req.full_name, "Budi Santoso");
    ck_assert_str_eq(req.email, "Budi@lintasarta.co.id");
    ck_assert_str_eq(req.phone_number, "+6281234567890");
    ck_assert_str_eq(req.password, "Str0ng!Pass");
    ck_assert_uint_eq(req.password_len, 11);
    signup_request_wipe(&req);
    ck_assert_uint_eq(req.password_len, 0);
    ck_assert_int_eq(req.password[0], '\0');
}
END_TEST

START_TEST(test_signup_request_syntax_errors_are_malformed_json_with_position)
{
    static const char *const BODIES[] = {"", "{", "{\"a\":}", "nul", "{\"a\":\"\\u0000\"}", "{\"a\":1}x",
                                         "{\"a\":\"\xc3\x28\"}", "{\"a\":1,\"a\":2}"};
    for (size_t i = 0; i < sizeof BODIES / sizeof BODIES[0]; i++) {
        struct signup_request req;
        struct field_errors errors;
        char detail[256];
        ck_assert_int_eq(signup_request_parse(BODIES[i], strlen(BODIES[i]), &rules, &req, &errors, detail,
                                              sizeof detail),
                         SIGNUP_PARSE_MALFORMED_JSON);
        ck_assert_msg(strstr(detail, "line") != NULL, "detail: %s", detail);
    }
}
END_TEST

START_TEST(test_signup_request_malformed_json_detail_is_valid_utf8)
{
    /* A backslash before a multi-byte character: jansson's message quotes
     * only the first byte of it. Found by fuzz_signup_request. */
    static const char *const BODIES[] = {"\"\\\xc7\x9d", "{\"full_name\":\"\\\xc3\xa9\"}"};
    for (size_t i = 0; i < 2; i++) {
        struct signup_request req;
        struct field_errors errors;
        char detail[256];
        ck_assert_int_eq(signup_request_parse(BODIES[i], strlen(BODIES[i]), &rules, &req, &errors, detail,
                                              sizeof detail),
                         SIGNUP_PARSE_MALFORMED_JSON);
        json_t *as_json = json_string(detail);
        ck_assert_msg(as_json != NULL, "detail is not valid UTF-8: %s", detail);
        json_decref(as_json);
    }
}
END_TEST

START_TEST(test_signup_request_non_object_is_rejected)
{
    static const char *const BODIES[] = {"[]", "\"x\"", "1", "true", "null"};
    for (size_t i = 0; i < sizeof BODIES / sizeof BODIES[0]; i++) {
        struct signup_request req;
        struct field_errors errors;
        ck_assert_int_eq(parse(BODIES[i], &req, &errors), SIGNUP_PARSE_NOT_OBJECT);
    }
}
END_TEST

START_TEST(test_signup_request_wrong_types_are_listed_per_field)
{
    struct signup_request req;
    struct field_errors errors;
    ck_assert_int_eq(parse("{\"full_name\":1,\"email\":\"a@b.co\",\"accept_terms\":\"yes\"}", &req, &errors),
                     SIGNUP_PARSE_WRONG_TYPE);
    ck_assert_uint_eq(errors.count, 2);
    ck_assert_str_eq(errors.items[0].field, "full_name");
    ck_assert_str_eq(errors.items[0].code, "wrong_type");
    ck_assert_str_eq(errors.items[1].field, "accept_terms");
    ck_assert_str_eq(errors.items[1].message, "must be a boolean");
}
END_TEST

START_TEST(test_signup_request_null_fields_count_as_missing)
{
    struct signup_request req;
    struct field_errors errors;
    ck_assert_int_eq(parse("{\"full_name\":null,\"email\":null,\"password\":null,\"phone_number\":null,"
                           "\"accept_terms\":null}",
                           &req, &errors),
                     SIGNUP_PARSE_INVALID);
    ck_assert(field_errors_has(&errors, "full_name_required"));
    ck_assert(field_errors_has(&errors, "email_required"));
    ck_assert(field_errors_has(&errors, "password_too_short"));
    ck_assert(field_errors_has(&errors, "phone_number_required"));
    ck_assert(field_errors_has(&errors, "terms_not_accepted"));
}
END_TEST

START_TEST(test_signup_request_invalid_body_leaves_no_password_behind)
{
    struct signup_request req;
    struct field_errors errors;
    ck_assert_int_eq(parse("{\"full_name\":\"A B\",\"email\":\"a@gmail.com\",\"password\":\"Str0ng!Pass\","
                           "\"phone_number\":\"0812-3456-7890\",\"accept_terms\":true}",
                           &req, &errors),
                     SIGNUP_PARSE_INVALID);
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].code, "email_not_corporate");
    ck_assert_uint_eq(req.password_len, 0);
    ck_assert_int_eq(req.password[0], '\0');
}
END_TEST

START_TEST(test_signup_request_deeply_nested_json_is_malformed_not_a_crash)
{
    size_t depth = 100000;
    char *body = malloc(depth * 2 + 1);
    memset(body, '[', depth);
    memset(body + depth, ']', depth);
    body[depth * 2] = '\0';
    struct signup_request req;
    struct field_errors errors;
    ck_assert_int_eq(parse(body, &req, &errors), SIGNUP_PARSE_MALFORMED_JSON);
    free(body);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("signup_request");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_test(tc, test_signup_request_valid_body_is_normalised);
    tcase_add_test(tc, test_signup_request_syntax_errors_are_malformed_json_with_position);
    tcase_add_test(tc, test_signup_request_malformed_json_detail_is_valid_utf8);
    tcase_add_test(tc, test_signup_request_non_object_is_rejected);
    tcase_add_test(tc, test_signup_request_wrong_types_are_listed_per_field);
    tcase_add_test(tc, test_signup_request_null_fields_count_as_missing);
    tcase_add_test(tc, test_signup_request_invalid_body_leaves_no_password_behind);
    tcase_add_test(tc, test_signup_request_deeply_nested_json_is_malformed_not_a_crash);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
