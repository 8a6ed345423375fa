/* signin_request: the body's shape is checked like every body; of its
 * fields only presence is, so nothing but "required" is ever a 422. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "signin_request.h"

static enum signup_parse_status parse(const char *body, struct signin_request *req, struct field_errors *errors)
{
    char detail[256];
    return signin_request_parse(body, strlen(body), req, errors, detail, sizeof detail);
}

START_TEST(test_signin_request_keeps_password_exactly_and_trims_the_email)
{
    struct signin_request req;
    struct field_errors errors = {0};
    ck_assert_int_eq(parse("{\"email\":\"  Budi@Lintasarta.co.id \",\"password\":\" Str0ng!Pass \"}", &req, &errors),
                     SIGNUP_PARSE_OK);
    ck_assert_str_eq(req.email, "Budi@Lintasarta.co.id");
    ck_assert_uint_eq(req.password_len, 13);
    ck_assert(memcmp(req.password, " Str0ng!Pass ", 13) == 0);
    signin_request_wipe(&req);
    ck_assert_uint_eq(req.password_len, 0);
    ck_assert_int_eq(req.password[0], 0);
}
END_TEST

static const char *const MISSING[] = {
    "{}",
    "{\"email\":null,\"password\":null}",
    "{\"email\":\"\",\"password\":\"\"}",
    "{\"email\":\"   \",\"password\":\"\\t \"}",
};

START_TEST(test_signin_request_missing_null_or_blank_fields_are_required)
{
    struct signin_request req;
    struct field_errors errors = {0};
    ck_assert_int_eq(parse(MISSING[_i], &req, &errors), SIGNUP_PARSE_INVALID);
    ck_assert_uint_eq(errors.count, 2);
    ck_assert_str_eq(errors.items[0].code, "email_required");
    ck_assert_str_eq(errors.items[1].code, "password_required");
}
END_TEST

START_TEST(test_signin_request_wrong_types_and_shapes_are_400s)
{
    struct signin_request req;
    struct field_errors errors = {0};
    ck_assert_int_eq(parse("{\"email\":1,\"password\":[\"x\"]}", &req, &errors), SIGNUP_PARSE_WRONG_TYPE);
    ck_assert_uint_eq(errors.count, 2);
    ck_assert_int_eq(parse("[]", &req, &errors), SIGNUP_PARSE_NOT_OBJECT);
    ck_assert_int_eq(parse("{\"email\":", &req, &errors), SIGNUP_PARSE_MALFORMED_JSON);
    ck_assert_int_eq(parse("{\"email\":\"a@b.c\",\"email\":\"d@e.f\",\"password\":\"x\"}", &req, &errors),
                     SIGNUP_PARSE_MALFORMED_JSON);
}
END_TEST

START_TEST(test_signin_request_overlong_values_stay_recognisably_too_long)
{
    struct signin_request req;
    struct field_errors errors = {0};
    char body[2048];
    char email[600], password[400];
    memset(email, 'a', sizeof email - 1);
    email[sizeof email - 1] = '\0';
    memset(password, 'P', sizeof password - 1);
    password[sizeof password - 1] = '\0';
    snprintf(body, sizeof body, "{\"email\":\"%s@x.id\",\"password\":\"%s\"}", email, password);
    ck_assert_int_eq(parse(body, &req, &errors), SIGNUP_PARSE_OK);
    ck_assert_uint_eq(strlen(req.email), EMAIL_MAX_OCTETS + 1);
    ck_assert_uint_eq(req.password_len, PASSWORD_MAX_BYTES + 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("signin_request");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_signin_request_keeps_password_exactly_and_trims_the_email);
    tcase_add_loop_test(tc, test_signin_request_missing_null_or_blank_fields_are_required, 0,
                        sizeof MISSING / sizeof MISSING[0]);
    tcase_add_test(tc, test_signin_request_wrong_types_and_shapes_are_400s);
    tcase_add_test(tc, test_signin_request_overlong_values_stay_recognisably_too_long);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
