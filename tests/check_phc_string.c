/* phc_string: the argon2id strings libargon2 and libsodium write parse back
 * to their parameters, salt and hash; anything else is refused. */
#include <argon2.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "phc_string.h"

START_TEST(test_phc_string_libargon2_output_parses_to_its_parameters)
{
    char encoded[160];
    const unsigned char salt[16] = "0123456789abcdef";
    ck_assert_int_eq(argon2id_hash_encoded(3, 4096, 1, "pw", 2, salt, sizeof salt, 32, encoded, sizeof encoded),
                     ARGON2_OK);
    struct phc_argon2id phc;
    ck_assert(phc_argon2id_parse(encoded, &phc));
    ck_assert_uint_eq(phc.version, 19);
    ck_assert_uint_eq(phc.memory_kib, 4096);
    ck_assert_uint_eq(phc.iterations, 3);
    ck_assert_uint_eq(phc.parallelism, 1);
    ck_assert_uint_eq(phc.salt_len, 16);
    ck_assert(memcmp(phc.salt, salt, 16) == 0);
    ck_assert_uint_eq(phc.hash_len, 32);
}
END_TEST

static const char *const MALFORMED[] = {
    "",
    "$argon2i$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$v=16$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$v=19$m=019456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$v=19$m=19456,t=0,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$v=19$m=19456,t=2,p=0$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$v=19$m=7,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$v=19$m=99999999999,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$v=19$m=19456,t=2$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "$argon2id$v=19$m=19456,t=2,p=1$MDEy$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",           /* salt < 8 */
    "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* pad */
    "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAA",                               /* hash < 16 */
    "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", /* bits */
    "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A", /* char */
    "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg",
    "$argon2id$v=19$m=19456,t=2,p=1,x=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};

START_TEST(test_phc_string_malformed_strings_are_refused)
{
    struct phc_argon2id phc;
    ck_assert_msg(!phc_argon2id_parse(MALFORMED[_i], &phc), "accepted: %s", MALFORMED[_i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("phc_string");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_phc_string_libargon2_output_parses_to_its_parameters);
    tcase_add_loop_test(tc, test_phc_string_malformed_strings_are_refused, 0, sizeof MALFORMED / sizeof MALFORMED[0]);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
