/* password_hash: argon2id PHC strings that libargon2 itself verifies, fresh
 * salts, and the bounded buffer pool (busy instead of unbounded queueing). */
#include <argon2.h>
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "password_hash.h"

static const struct password_hasher_params OWASP = {
    .memory_kib = 19456, .iterations = 2, .parallelism = 1, .concurrency = 2, .queue_timeout_ms = 10000};

START_TEST(test_password_hash_is_argon2id_with_configured_parameters_and_verifies)
{
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *h = password_hasher_create(&OWASP);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(password_hash(h, "Str0ng!Pass", 11, encoded), PASSWORD_HASH_OK);
    ck_assert_msg(strncmp(encoded, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "%s", encoded);
    ck_assert_int_eq(argon2id_verify(encoded, "Str0ng!Pass", 11), ARGON2_OK);
    ck_assert_int_eq(argon2id_verify(encoded, "Str0ng!Pas", 10), ARGON2_VERIFY_MISMATCH);
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_hash_uses_a_fresh_salt_each_time)
{
    char a[PASSWORD_HASH_ENCODED_MAX], b[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *h = password_hasher_create(&OWASP);
    ck_assert_int_eq(password_hash(h, "Same!Pass1", 10, a), PASSWORD_HASH_OK);
    ck_assert_int_eq(password_hash(h, "Same!Pass1", 10, b), PASSWORD_HASH_OK);
    ck_assert_str_ne(a, b);
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_hash_handles_multibyte_and_max_length_passwords)
{
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    char longest[257];
    memset(longest, 'x', 256);
    longest[256] = '\0';
    struct password_hasher *h = password_hasher_create(&OWASP);
    ck_assert_int_eq(password_hash(h, "Pässwört1!", strlen("Pässwört1!"), encoded), PASSWORD_HASH_OK);
    ck_assert_int_eq(argon2id_verify(encoded, "Pässwört1!", strlen("Pässwört1!")), ARGON2_OK);
    ck_assert_int_eq(password_hash(h, longest, 256, encoded), PASSWORD_HASH_OK);
    ck_assert_int_eq(argon2id_verify(encoded, longest, 256), ARGON2_OK);
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_hash_with_stronger_parameters_and_lanes)
{
    struct password_hasher_params params = {
        .memory_kib = 47104, .iterations = 1, .parallelism = 2, .concurrency = 1, .queue_timeout_ms = 1000};
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *h = password_hasher_create(&params);
    ck_assert_int_eq(password_hash(h, "Str0ng!Pass", 11, encoded), PASSWORD_HASH_OK);
    ck_assert_msg(strncmp(encoded, "$argon2id$v=19$m=47104,t=1,p=2$", 31) == 0, "%s", encoded);
    ck_assert_int_eq(argon2id_verify(encoded, "Str0ng!Pass", 11), ARGON2_OK);
    password_hasher_free(h);
}
END_TEST

struct hash_job {
    struct password_hasher *hasher;
    enum password_hash_result result;
};

static void *hash_in_thread(void *arg)
{
    struct hash_job *job = arg;
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    job->result = password_hash(job->hasher, "Str0ng!Pass", 11, encoded);
    return NULL;
}

START_TEST(test_password_hash_reports_busy_when_the_queue_wait_is_exceeded)
{
    /* One buffer, a 1 ms queue limit and a slow hash: of several concurrent
     * callers at least one must be turned away instead of waiting. */
    struct password_hasher_params params = {
        .memory_kib = 65536, .iterations = 4, .parallelism = 1, .concurrency = 1, .queue_timeout_ms = 1};
    struct password_hasher *h = password_hasher_create(&params);
    pthread_t threads[4];
    struct hash_job jobs[4];
    int busy = 0, ok = 0;
    for (int i = 0; i < 4; i++) {
        jobs[i].hasher = h;
        pthread_create(&threads[i], NULL, hash_in_thread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        busy += jobs[i].result == PASSWORD_HASH_BUSY;
        ok += jobs[i].result == PASSWORD_HASH_OK;
    }
    ck_assert_int_ge(ok, 1);
    ck_assert_int_ge(busy, 1);
    ck_assert_int_eq(ok + busy, 4);
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_hash_concurrent_callers_all_succeed_within_the_wait)
{
    pthread_t threads[8];
    struct hash_job jobs[8];
    struct password_hasher *h = password_hasher_create(&OWASP);
    for (int i = 0; i < 8; i++) {
        jobs[i].hasher = h;
        pthread_create(&threads[i], NULL, hash_in_thread, &jobs[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(jobs[i].result, PASSWORD_HASH_OK);
    }
    password_hasher_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("password_hash");
    TCase *tc = tcase_create("argon2id");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_password_hash_is_argon2id_with_configured_parameters_and_verifies);
    tcase_add_test(tc, test_password_hash_uses_a_fresh_salt_each_time);
    tcase_add_test(tc, test_password_hash_handles_multibyte_and_max_length_passwords);
    tcase_add_test(tc, test_password_hash_with_stronger_parameters_and_lanes);
    tcase_add_test(tc, test_password_hash_reports_busy_when_the_queue_wait_is_exceeded);
    tcase_add_test(tc, test_password_hash_concurrent_callers_all_succeed_within_the_wait);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
