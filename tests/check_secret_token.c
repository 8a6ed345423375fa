/* secret_token: 43-character base64url tokens, strict canonical decoding,
 * and the SHA-256 that is all the database ever sees. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "secret_token.h"

START_TEST(test_secret_token_generated_token_is_43_base64url_chars_and_hashes_back)
{
    char text[SECRET_TOKEN_TEXT_LEN + 1], hash[SECRET_TOKEN_HASH_HEX_SIZE], again[SECRET_TOKEN_HASH_HEX_SIZE];
    ck_assert(secret_token_generate(text, hash));
    ck_assert_uint_eq(strlen(text), 43);
    ck_assert_uint_eq(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    ck_assert_uint_eq(strlen(hash), 66);
    ck_assert(strncmp(hash, "\\x", 2) == 0);
    ck_assert(secret_token_hash(text, strlen(text), again));
    ck_assert_str_eq(hash, again);
}
END_TEST

START_TEST(test_secret_token_tokens_differ_each_time)
{
    char a[SECRET_TOKEN_TEXT_LEN + 1], b[SECRET_TOKEN_TEXT_LEN + 1];
    char ha[SECRET_TOKEN_HASH_HEX_SIZE], hb[SECRET_TOKEN_HASH_HEX_SIZE];
    ck_assert(secret_token_generate(a, ha));
    ck_assert(secret_token_generate(b, hb));
    ck_assert_str_ne(a, b);
    ck_assert_str_ne(ha, hb);
}
END_TEST

START_TEST(test_secret_token_hash_is_sha256_of_the_decoded_bytes)
{
    /* 32 zero bytes encode to 43 'A's; SHA-256 of 32 zero bytes is known. */
    char text[44];
    char hash[SECRET_TOKEN_HASH_HEX_SIZE];
    memset(text, 'A', 43);
    text[43] = '\0';
    ck_assert(secret_token_hash(text, 43, hash));
    ck_assert_str_eq(hash, "\\x66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
}
END_TEST

static const char *const MALFORMED[] = {
    "",
    "short",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42 */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* padding */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",  /* standard base64, not url-safe */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",  /* spare bits set: not canonical */
    "AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAAA%AAAAAAAAAAAAAAAAAAAAA",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xc3",
};

START_TEST(test_secret_token_malformed_text_is_rejected)
{
    char hash[SECRET_TOKEN_HASH_HEX_SIZE];
    ck_assert_msg(!secret_token_hash(MALFORMED[_i], strlen(MALFORMED[_i]), hash), "accepted: %s", MALFORMED[_i]);
}
END_TEST

START_TEST(test_secret_token_embedded_nul_is_rejected)
{
    char text[43];
    char hash[SECRET_TOKEN_HASH_HEX_SIZE];
    memset(text, 'A', sizeof text);
    text[10] = '\0';
    ck_assert(!secret_token_hash(text, sizeof text, hash));
    ck_assert(!secret_token_hash(NULL, 0, hash));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("secret_token");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_secret_token_generated_token_is_43_base64url_chars_and_hashes_back);
    tcase_add_test(tc, test_secret_token_tokens_differ_each_time);
    tcase_add_test(tc, test_secret_token_hash_is_sha256_of_the_decoded_bytes);
    tcase_add_loop_test(tc, test_secret_token_malformed_text_is_rejected, 0, sizeof MALFORMED / sizeof MALFORMED[0]);
    tcase_add_test(tc, test_secret_token_embedded_nul_is_rejected);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
