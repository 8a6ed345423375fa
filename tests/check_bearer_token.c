/* bearer_token: exactly one token68 after "Bearer " is a token; everything
 * else is no token (and gets the one 401). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bearer_token.h"

#define TOKEN "7AwtTzW0XtusgQQnRNgP6Cv_u2GWgBOabpBSnYhh-hE"

static const struct {
    const char *header;
    const char *token; /* NULL: refused */
} CASES[] = {
    {"Bearer " TOKEN, TOKEN},
    {"bearer " TOKEN, TOKEN},
    {"BEARER   " TOKEN, TOKEN},
    {"Bearer " TOKEN "  ", TOKEN},
    {"Bearer abc==", "abc=="},
    {"Bearer", NULL},
    {"Bearer ", NULL},
    {"Bearer    ", NULL},
    {"Bearer\t" TOKEN, NULL},
    {"Basic dXNlcjpwYXNz", NULL},
    {"Bearer" TOKEN, NULL},
    {"Bearerx " TOKEN, NULL},
    {"Bearer " TOKEN ", Bearer " TOKEN, NULL}, /* two headers folded into one */
    {"Bearer " TOKEN " extra", NULL},
    {"Bearer ab=c", NULL},
    {"Bearer \xc3\xa9t\xc3\xa9", NULL},
    {"Bearer tok\"en", NULL},
    {" Bearer " TOKEN, NULL},
    {"", NULL},
};

START_TEST(test_bearer_token_parses_only_one_token68_after_the_scheme)
{
    const char *token = NULL;
    size_t len = 0;
    bool is_ok = bearer_token_parse(CASES[_i].header, &token, &len);
    if (CASES[_i].token == NULL) {
        ck_assert_msg(!is_ok, "accepted \"%s\"", CASES[_i].header);
        ck_assert_ptr_null(token);
    } else {
        ck_assert_msg(is_ok, "refused \"%s\"", CASES[_i].header);
        ck_assert_uint_eq(len, strlen(CASES[_i].token));
        ck_assert(strncmp(token, CASES[_i].token, len) == 0);
    }
}
END_TEST

START_TEST(test_bearer_token_missing_header_and_huge_token_are_refused)
{
    const char *token;
    size_t len;
    ck_assert(!bearer_token_parse(NULL, &token, &len));
    char *huge = malloc(20000);
    ck_assert_ptr_nonnull(huge);
    memcpy(huge, "Bearer ", 7);
    memset(huge + 7, 'A', 20000 - 8);
    huge[20000 - 1] = '\0';
    ck_assert(!bearer_token_parse(huge, &token, &len));
    free(huge);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bearer_token");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_bearer_token_parses_only_one_token68_after_the_scheme, 0,
                        sizeof CASES / sizeof CASES[0]);
    tcase_add_test(tc, test_bearer_token_missing_header_and_huge_token_are_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
