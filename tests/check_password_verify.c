/* password_verify: stored PHC strings verify with their own parameters
 * (including ones from before a parameter change), a wrong password does
 * not, and needs_rehash tells which strings sign-in should replace. */
#include <argon2.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "password_hash.h"

static const struct password_hasher_params OWASP = {
    .memory_kib = 19456, .iterations = 2, .parallelism = 1, .concurrency = 1, .queue_timeout_ms = 10000};

START_TEST(test_password_verify_matches_own_hash_and_rejects_a_wrong_password)
{
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *h = password_hasher_create(&OWASP);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(password_hash(h, "Str0ng!Pass", 11, encoded), PASSWORD_HASH_OK);
    ck_assert_int_eq(password_verify(h, encoded, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(h, encoded, "Str0ng!Pasz", 11), PASSWORD_VERIFY_MISMATCH);
    ck_assert_int_eq(password_verify(h, encoded, "Str0ng!Pas", 10), PASSWORD_VERIFY_MISMATCH);
    ck_assert(!password_needs_rehash(h, encoded));
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_verify_hashes_made_with_other_parameters_verify_and_need_rehash)
{
    /* Bigger memory than the hasher's buffers, more passes, two lanes: all
     * written by libargon2 itself, as an older configuration would have. */
    static const struct {
        uint32_t t, m, p;
    } OTHER[] = {{3, 8192, 1}, {1, 47104, 1}, {2, 19456, 2}};
    const unsigned char salt[16] = "0123456789abcdef";
    struct password_hasher *h = password_hasher_create(&OWASP);
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < sizeof OTHER / sizeof OTHER[0]; i++) {
        char encoded[PASSWORD_HASH_ENCODED_MAX];
        ck_assert_int_eq(argon2id_hash_encoded(OTHER[i].t, OTHER[i].m, OTHER[i].p, "An0ther!Pass", 12, salt,
                                               sizeof salt, 32, encoded, sizeof encoded),
                         ARGON2_OK);
        ck_assert_int_eq(password_verify(h, encoded, "An0ther!Pass", 12), PASSWORD_VERIFY_MATCH);
        ck_assert_int_eq(password_verify(h, encoded, "An0ther!Pasz", 12), PASSWORD_VERIFY_MISMATCH);
        ck_assert_msg(password_needs_rehash(h, encoded), "no rehash for %s", encoded);
    }
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_verify_malformed_stored_hash_fails_without_rehash)
{
    struct password_hasher *h = password_hasher_create(&OWASP);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(password_verify(h, "$argon2id$v=19$m=19456,t=2,p=1$bad", "x", 1), PASSWORD_VERIFY_FAILED);
    ck_assert(!password_needs_rehash(h, "not a hash"));
    password_hasher_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("password_verify");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_password_verify_matches_own_hash_and_rejects_a_wrong_password);
    tcase_add_test(tc, test_password_verify_hashes_made_with_other_parameters_verify_and_need_rehash);
    tcase_add_test(tc, test_password_verify_malformed_stored_hash_fails_without_rehash);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
