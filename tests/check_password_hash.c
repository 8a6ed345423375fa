/* password_hash: argon2id PHC strings from either backend that the other
 * library verifies, hashes stored by earlier builds, fresh salts, "needs
 * rehash", libsodium's kept work area and its self-test, and the bounded
 * buffer pool (busy instead of unbounded queueing). The loop tests run once
 * per backend. */
#define _GNU_SOURCE /* memfd_create */
#include <argon2.h>
#include <check.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "password_hash.h"
#include "sodium_work_area.h"

static const enum password_hash_backend BACKENDS[] = {PASSWORD_HASH_BACKEND_LIBSODIUM,
                                                      PASSWORD_HASH_BACKEND_LIBARGON2};
static const char *const BACKEND_NAMES[] = {"libsodium", "libargon2"};
#define N_BACKENDS 2

/* Written by the hasher of commit fefea40 (libargon2 only), for "Str0ng!Pass". */
static const char STORED_BEFORE_THE_SWITCH[] =
    "$argon2id$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g";
static const char STORED_BEFORE_THE_SWITCH_TWO_LANES[] =
    "$argon2id$v=19$m=19456,t=2,p=2$LT49Wq+usMCRi3eTA6znsA$kbxkttt3I2jboTzOPkNzP5KK91gTBn/x+KgKbhiT49A";

static struct password_hasher_params owasp(int backend)
{
    return (struct password_hasher_params){.memory_kib = 19456,
                                           .iterations = 2,
                                           .parallelism = 1,
                                           .concurrency = 2,
                                           .queue_timeout_ms = 10000,
                                           .backend = BACKENDS[backend]};
}

static struct password_hasher *create(int backend)
{
    struct password_hasher_params params = owasp(backend);
    struct password_hasher *h = password_hasher_create(&params);
    ck_assert_msg(h != NULL, "%s hasher", BACKEND_NAMES[backend]);
    return h;
}

START_TEST(test_password_hash_is_argon2id_with_configured_parameters_and_verifies)
{
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *h = create(_i);
    ck_assert_int_eq(password_hash(h, "Str0ng!Pass", 11, encoded), PASSWORD_HASH_OK);
    ck_assert_msg(strncmp(encoded, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "%s", encoded);
    ck_assert_int_eq(strlen(encoded), 31 + 22 + 1 + 43); /* 16-byte salt, 32-byte hash */
    ck_assert_int_eq(password_verify(h, encoded, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(h, encoded, "Str0ng!Pas", 10), PASSWORD_VERIFY_MISMATCH);
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_hash_libsodium_hash_verifies_with_libargon2)
{
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *sodium = create(0);
    struct password_hasher *argon2 = create(1);
    ck_assert_int_eq(password_hash(sodium, "Str0ng!Pass", 11, encoded), PASSWORD_HASH_OK);
    ck_assert_int_eq(argon2id_verify(encoded, "Str0ng!Pass", 11), ARGON2_OK);
    ck_assert_int_eq(argon2id_verify(encoded, "Str0ng!Pas", 10), ARGON2_VERIFY_MISMATCH);
    ck_assert_int_eq(password_verify(argon2, encoded, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(argon2, encoded, "str0ng!Pass", 11), PASSWORD_VERIFY_MISMATCH);
    password_hasher_free(sodium);
    password_hasher_free(argon2);
}
END_TEST

START_TEST(test_password_hash_libargon2_hash_verifies_with_libsodium)
{
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *sodium = create(0);
    struct password_hasher *argon2 = create(1);
    ck_assert_int_eq(password_hash(argon2, "Str0ng!Pass", 11, encoded), PASSWORD_HASH_OK);
    ck_assert_int_eq(crypto_pwhash_str_verify(encoded, "Str0ng!Pass", 11), 0);
    ck_assert_int_eq(crypto_pwhash_str_verify(encoded, "Str0ng!Pas", 10), -1);
    ck_assert_int_eq(password_verify(sodium, encoded, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(sodium, encoded, "str0ng!Pass", 11), PASSWORD_VERIFY_MISMATCH);
    password_hasher_free(sodium);
    password_hasher_free(argon2);
}
END_TEST

START_TEST(test_password_verify_accepts_hashes_stored_before_the_switch)
{
    struct password_hasher *h = create(_i);
    ck_assert_int_eq(password_verify(h, STORED_BEFORE_THE_SWITCH, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(h, STORED_BEFORE_THE_SWITCH, "Str0ng!Pass ", 12), PASSWORD_VERIFY_MISMATCH);
    /* libsodium hashes with one lane only, but verifies any number. */
    ck_assert_int_eq(password_verify(h, STORED_BEFORE_THE_SWITCH_TWO_LANES, "Str0ng!Pass", 11),
                     PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(h, STORED_BEFORE_THE_SWITCH_TWO_LANES, "Str0ng!Pasx", 11),
                     PASSWORD_VERIFY_MISMATCH);
    ck_assert(!password_needs_rehash(h, STORED_BEFORE_THE_SWITCH));
    ck_assert(password_needs_rehash(h, STORED_BEFORE_THE_SWITCH_TWO_LANES));
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_verify_with_other_memory_than_configured)
{
    /* Stored under an older, smaller and a larger memory setting. */
    struct password_hasher_params small = owasp(1);
    struct password_hasher_params large = owasp(1);
    small.memory_kib = 12288;
    small.iterations = 3;
    large.memory_kib = 47104;
    large.iterations = 1;
    char small_hash[PASSWORD_HASH_ENCODED_MAX], large_hash[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *writer = password_hasher_create(&small);
    ck_assert_int_eq(password_hash(writer, "Str0ng!Pass", 11, small_hash), PASSWORD_HASH_OK);
    password_hasher_free(writer);
    writer = password_hasher_create(&large);
    ck_assert_int_eq(password_hash(writer, "Str0ng!Pass", 11, large_hash), PASSWORD_HASH_OK);
    password_hasher_free(writer);

    struct password_hasher *h = create(_i);
    ck_assert_int_eq(password_verify(h, small_hash, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(h, large_hash, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(h, large_hash, "Str0ng!Pas", 10), PASSWORD_VERIFY_MISMATCH);
    ck_assert(password_needs_rehash(h, small_hash));
    ck_assert(password_needs_rehash(h, large_hash));
    password_hasher_free(h);
}
END_TEST

static const char *const MALFORMED[] = {
    "",
    "plain-text-password",
    "$argon2i$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$v=16$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$v=19$m=19456,t=2$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$v=19$m=19456,t=0,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$v=19$m=019456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$v=19$m=99999999999,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA==$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3h",
    "$argon2id$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g$",
    "$argon2id$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA",
    "$argon2id$v=19$m=19456,t=2,p=1$jJ5d$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g",
    "$argon2id$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g\n",
};

START_TEST(test_password_verify_fails_on_a_string_that_is_not_argon2id)
{
    for (int b = 0; b < N_BACKENDS; b++) {
        struct password_hasher *h = create(b);
        ck_assert_msg(password_verify(h, MALFORMED[_i], "Str0ng!Pass", 11) == PASSWORD_VERIFY_FAILED, "%s: %s",
                      BACKEND_NAMES[b], MALFORMED[_i]);
        ck_assert(!password_needs_rehash(h, MALFORMED[_i])); /* not ours to rewrite */
        password_hasher_free(h);
    }
}
END_TEST

START_TEST(test_password_needs_rehash_compares_stored_parameters_with_configured)
{
    struct password_hasher *h = create(_i);
    const char *salt_and_hash = "$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g";
    static const struct {
        const char *parameters;
        bool needs_rehash;
    } CASES[] = {
        {"m=19456,t=2,p=1", false}, {"m=19457,t=2,p=1", true}, {"m=47104,t=1,p=1", true},
        {"m=19456,t=3,p=1", true},  {"m=19456,t=2,p=2", true}, {"m=65536,t=3,p=4", true},
    };
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        char encoded[PASSWORD_HASH_ENCODED_MAX];
        snprintf(encoded, sizeof encoded, "$argon2id$v=19$%s%s", CASES[c].parameters, salt_and_hash);
        ck_assert_msg(password_needs_rehash(h, encoded) == CASES[c].needs_rehash, "%s", encoded);
    }
    /* A salt or hash of another length than we write. */
    ck_assert(password_needs_rehash(h, "$argon2id$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqv$2EUA83aV/MKBp46roiLSCR0FBRXdUD5zSLIO5De/i3g"));
    ck_assert(password_needs_rehash(h, "$argon2id$v=19$m=19456,t=2,p=1$jJ5d4ANz1y/ZQDqvhH6RaA$2EUA83aV/MKBp46roiLSCQ"));
    /* What it writes itself never needs one. */
    char fresh[PASSWORD_HASH_ENCODED_MAX];
    ck_assert_int_eq(password_hash(h, "Str0ng!Pass", 11, fresh), PASSWORD_HASH_OK);
    ck_assert(!password_needs_rehash(h, fresh));
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_hash_uses_a_fresh_salt_each_time)
{
    char a[PASSWORD_HASH_ENCODED_MAX], b[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *h = create(_i);
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
    struct password_hasher *h = create(_i);
    ck_assert_int_eq(password_hash(h, "Pässwört1!", strlen("Pässwört1!"), encoded), PASSWORD_HASH_OK);
    ck_assert_int_eq(argon2id_verify(encoded, "Pässwört1!", strlen("Pässwört1!")), ARGON2_OK);
    ck_assert_int_eq(crypto_pwhash_str_verify(encoded, "Pässwört1!", strlen("Pässwört1!")), 0);
    ck_assert_int_eq(password_hash(h, longest, 256, encoded), PASSWORD_HASH_OK);
    ck_assert_int_eq(argon2id_verify(encoded, longest, 256), ARGON2_OK);
    ck_assert_int_eq(password_verify(h, encoded, longest, 256), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(password_verify(h, encoded, longest, 255), PASSWORD_VERIFY_MISMATCH);
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_hash_with_stronger_parameters_and_lanes)
{
    struct password_hasher_params params = {.memory_kib = 47104,
                                            .iterations = 1,
                                            .parallelism = 2,
                                            .concurrency = 1,
                                            .queue_timeout_ms = 1000,
                                            .backend = PASSWORD_HASH_BACKEND_LIBARGON2};
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    struct password_hasher *h = password_hasher_create(&params);
    ck_assert_int_eq(password_hash(h, "Str0ng!Pass", 11, encoded), PASSWORD_HASH_OK);
    ck_assert_msg(strncmp(encoded, "$argon2id$v=19$m=47104,t=1,p=2$", 31) == 0, "%s", encoded);
    ck_assert_int_eq(argon2id_verify(encoded, "Str0ng!Pass", 11), ARGON2_OK);
    ck_assert_int_eq(crypto_pwhash_str_verify(encoded, "Str0ng!Pass", 11), 0);
    ck_assert_int_eq(password_verify(h, encoded, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert(!password_needs_rehash(h, encoded));
    password_hasher_free(h);
}
END_TEST

START_TEST(test_password_hasher_refuses_libsodium_with_several_lanes)
{
    struct password_hasher_params params = owasp(0);
    params.parallelism = 2;
    ck_assert_ptr_null(password_hasher_create(&params));
}
END_TEST

START_TEST(test_password_hasher_keeps_the_libsodium_work_area_after_its_self_test)
{
    struct password_hasher *sodium = create(0);
    struct password_hasher *argon2 = create(1);
    ck_assert(password_hasher_keeps_work_area(sodium));
    ck_assert(!password_hasher_keeps_work_area(argon2));
    password_hasher_free(sodium);
    password_hasher_free(argon2);
}
END_TEST

/* Runs fn with stderr (the log) going to a file; returns what was logged. Caller frees. */
static char *capture_log(void (*fn)(void *), void *arg)
{
    int log_fd = memfd_create("password_hash_log", 0);
    int saved_stderr = dup(STDERR_FILENO);
    ck_assert(log_fd >= 0 && saved_stderr >= 0);
    fflush(stderr);
    dup2(log_fd, STDERR_FILENO);
    fn(arg);
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    off_t size = lseek(log_fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    ck_assert(text != NULL && pread(log_fd, text, (size_t)size, 0) == size);
    close(log_fd);
    return text;
}

static void create_hasher(void *arg)
{
    *(struct password_hasher **)arg = create(0);
}

static int count(const char *text, const char *word)
{
    int n = 0;
    for (const char *p = strstr(text, word); p != NULL; p = strstr(p + 1, word))
        n++;
    return n;
}

START_TEST(test_password_hasher_carries_on_without_the_work_area_when_libsodium_does_not_take_it)
{
    /* As with a libsodium that maps its memory another way: the interposition
     * never hands the area out. */
    struct password_hasher *h = NULL;
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    sodium_work_area_set_enabled(false);
    char *log = capture_log(create_hasher, &h);
    ck_assert_int_eq(count(log, "\"password_hash_work_area_unused\""), 1);
    ck_assert_int_eq(count(log, "\"level\":\"warn\""), 1);
    ck_assert(!password_hasher_keeps_work_area(h));
    ck_assert_int_eq(password_hash(h, "Str0ng!Pass", 11, encoded), PASSWORD_HASH_OK);
    ck_assert_int_eq(password_verify(h, encoded, "Str0ng!Pass", 11), PASSWORD_VERIFY_MATCH);
    ck_assert_int_eq(argon2id_verify(encoded, "Str0ng!Pass", 11), ARGON2_OK);
    password_hasher_free(h);
    free(log);
    sodium_work_area_set_enabled(true);
}
END_TEST

struct hash_job {
    struct password_hasher *hasher;
    enum password_hash_result result;
    char encoded[PASSWORD_HASH_ENCODED_MAX];
};

static void *hash_in_thread(void *arg)
{
    struct hash_job *job = arg;
    job->result = password_hash(job->hasher, "Str0ng!Pass", 11, job->encoded);
    return NULL;
}

START_TEST(test_password_hash_reports_busy_when_the_queue_wait_is_exceeded)
{
    /* One buffer, a 1 ms queue limit and a slow hash: of several concurrent
     * callers at least one must be turned away instead of waiting. */
    struct password_hasher_params params = {.memory_kib = 65536,
                                            .iterations = 4,
                                            .parallelism = 1,
                                            .concurrency = 1,
                                            .queue_timeout_ms = 1,
                                            .backend = BACKENDS[_i]};
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
    struct password_hasher *h = create(_i);
    for (int i = 0; i < 8; i++) {
        jobs[i].hasher = h;
        pthread_create(&threads[i], NULL, hash_in_thread, &jobs[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(jobs[i].result, PASSWORD_HASH_OK);
        /* Slots are shared by turns: every hash is still right. */
        ck_assert_int_eq(argon2id_verify(jobs[i].encoded, "Str0ng!Pass", 11), ARGON2_OK);
    }
    password_hasher_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("password_hash");
    TCase *tc = tcase_create("argon2id");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_password_hash_is_argon2id_with_configured_parameters_and_verifies, 0, N_BACKENDS);
    tcase_add_test(tc, test_password_hash_libsodium_hash_verifies_with_libargon2);
    tcase_add_test(tc, test_password_hash_libargon2_hash_verifies_with_libsodium);
    tcase_add_loop_test(tc, test_password_verify_accepts_hashes_stored_before_the_switch, 0, N_BACKENDS);
    tcase_add_loop_test(tc, test_password_verify_with_other_memory_than_configured, 0, N_BACKENDS);
    tcase_add_loop_test(tc, test_password_verify_fails_on_a_string_that_is_not_argon2id, 0,
                        sizeof MALFORMED / sizeof MALFORMED[0]);
    tcase_add_loop_test(tc, test_password_needs_rehash_compares_stored_parameters_with_configured, 0,
                        N_BACKENDS);
    tcase_add_loop_test(tc, test_password_hash_uses_a_fresh_salt_each_time, 0, N_BACKENDS);
    tcase_add_loop_test(tc, test_password_hash_handles_multibyte_and_max_length_passwords, 0, N_BACKENDS);
    tcase_add_test(tc, test_password_hash_with_stronger_parameters_and_lanes);
    tcase_add_test(tc, test_password_hasher_refuses_libsodium_with_several_lanes);
    tcase_add_test(tc, test_password_hasher_keeps_the_libsodium_work_area_after_its_self_test);
    tcase_add_test(tc, test_password_hasher_carries_on_without_the_work_area_when_libsodium_does_not_take_it);
    tcase_add_loop_test(tc, test_password_hash_reports_busy_when_the_queue_wait_is_exceeded, 0, N_BACKENDS);
    tcase_add_loop_test(tc, test_password_hash_concurrent_callers_all_succeed_within_the_wait, 0, N_BACKENDS);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
