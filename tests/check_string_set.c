/* string_set: ASCII case-insensitive membership with explicit lengths, copies
 * on add, no duplicates, many entries, and the list-file loader (comments,
 * blank lines, whitespace and CR trimmed; a missing file named in err). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "string_set.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define LIT(s) s, sizeof(s) - 1

static struct string_set *set;

static void set_setup(void)
{
    set = string_set_create();
    ck_assert(set != NULL);
}

static void set_teardown(void)
{
    string_set_free(set);
    set = NULL;
}

static void add(const char *s)
{
    ck_assert_msg(string_set_add(set, s, strlen(s)), "adding %s", s);
}

static bool has(const char *s)
{
    return string_set_contains(set, s, strlen(s));
}

/* Writes content to a fresh temporary file; returns its path (caller unlinks and frees). */
static char *temp_file(const char *content, size_t len)
{
    char *path = strdup("/tmp/check_string_set_XXXXXX");
    ck_assert(path != NULL);
    int fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp failed");
    FILE *f = fdopen(fd, "w");
    ck_assert(f != NULL);
    ck_assert_uint_eq(fwrite(content, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

START_TEST(test_string_set_new_set_is_empty)
{
    ck_assert_uint_eq(string_set_size(set), 0);
    ck_assert(!has("gmail.com"));
    ck_assert(!has(""));
}
END_TEST

START_TEST(test_string_set_contains_what_was_added)
{
    add("gmail.com");
    add("yahoo.com");
    ck_assert_uint_eq(string_set_size(set), 2);
    ck_assert(has("gmail.com"));
    ck_assert(has("yahoo.com"));
    ck_assert(!has("outlook.com"));
    ck_assert(!has("gmail.co"));
    ck_assert(!has("gmail.comm"));
    ck_assert(!has("mail.com"));
    ck_assert(!has(""));
}
END_TEST

struct case_pair {
    const char *added;
    const char *looked_up;
};

static const struct case_pair CASE_INSENSITIVE[] = {
    {"gmail.com", "GMAIL.COM"},
    {"GMAIL.COM", "gmail.com"},
    {"Gmail.Com", "gMAIL.cOM"},
    {"P@ssw0rd", "p@SSW0RD"},
    {"b\xc3\xbc"
     "cher.de",
     "B\xc3\xbc"
     "CHER.DE"}, /* non-ASCII bytes kept, ASCII folded */
    {"AZaz09-_.", "azAZ09-_."},
};

START_TEST(test_string_set_add_and_contains_are_ascii_case_insensitive)
{
    const struct case_pair *c = &CASE_INSENSITIVE[_i];
    add(c->added);
    ck_assert_msg(has(c->looked_up), "added \"%s\", \"%s\" not found", c->added, c->looked_up);
    ck_assert_msg(has(c->added), "added \"%s\", not found as is", c->added);
    ck_assert_uint_eq(string_set_size(set), 1);
}
END_TEST

START_TEST(test_string_set_case_folding_is_ascii_only)
{
    /* Ü (C3 9C) and ü (C3 BC) are different bytes; only ASCII letters fold. */
    add("b\xc3\xbc"
        "cher.de");
    ck_assert(!has("b\xc3\x9c"
                   "cher.de"));
    /* Bytes >= 0x80 must not be mistaken for letters or for each other. */
    add("\xc4\xb0"); /* İ */
    ck_assert(!has("i"));
    ck_assert(!has("I"));
    ck_assert(has("\xc4\xb0"));
    ck_assert(!has("\xc4\x90"));
    ck_assert(!has("[")); /* '[' is 0x5B, 0x20 away from '{': not a letter */
    add("[");
    ck_assert(!has("{"));
}
END_TEST

START_TEST(test_string_set_add_copies_the_string)
{
    char buf[] = "example.com";
    add(buf);
    memcpy(buf, "zzzzzzz", 7);
    ck_assert_str_eq(buf, "zzzzzzz.com");
    ck_assert(has("example.com"));
    ck_assert(!has("zzzzzzz.com"));
    char *heap = strdup("acme-corp.co.id");
    ck_assert(string_set_add(set, heap, strlen(heap)));
    memset(heap, 'x', strlen(heap));
    free(heap);
    ck_assert(has("acme-corp.co.id"));
    ck_assert(!has("xxxxxxxxxxxxxxx"));
}
END_TEST

START_TEST(test_string_set_uses_explicit_lengths)
{
    const char *big = "gmail.com.evil.example";
    add("gmail.com");
    ck_assert(string_set_contains(set, big, 9));
    ck_assert(!string_set_contains(set, big, strlen(big)));
    ck_assert(!string_set_contains(set, big, 5));
    ck_assert(!string_set_contains(set, big, 10));
    /* A substring in the middle of a larger buffer. */
    const char *mid = "user@gmail.com>";
    ck_assert(string_set_contains(set, mid + 5, 9));
    /* Bytes after len, even a NUL followed by more, are not part of the query. */
    ck_assert(!string_set_contains(set, LIT("gmail.com\0x")));
    ck_assert(!string_set_contains(set, LIT("gmail.com\0")));
    /* add honours len too. */
    ck_assert(string_set_add(set, "yahoo.com-and-more", 9));
    ck_assert(has("yahoo.com"));
    ck_assert(!has("yahoo.com-and-more"));
    ck_assert_uint_eq(string_set_size(set), 2);
}
END_TEST

START_TEST(test_string_set_embedded_nul_is_part_of_the_entry)
{
    ck_assert(string_set_add(set, LIT("ab\0cd")));
    ck_assert(string_set_contains(set, LIT("ab\0cd")));
    ck_assert(!string_set_contains(set, LIT("ab")));
    ck_assert(!string_set_contains(set, LIT("ab\0ce")));
    ck_assert_uint_eq(string_set_size(set), 1);
}
END_TEST

START_TEST(test_string_set_duplicates_do_not_grow_size)
{
    add("gmail.com");
    add("gmail.com");
    add("GMAIL.COM");
    add("Gmail.com");
    ck_assert_uint_eq(string_set_size(set), 1);
    add("yahoo.com");
    add("YAHOO.com");
    ck_assert_uint_eq(string_set_size(set), 2);
    ck_assert(has("gmail.com"));
    ck_assert(has("yahoo.com"));
}
END_TEST

START_TEST(test_string_set_empty_string_can_be_an_entry)
{
    ck_assert(string_set_add(set, "", 0));
    ck_assert(string_set_contains(set, "", 0));
    ck_assert(!has("a"));
    ck_assert_uint_eq(string_set_size(set), 1);
}
END_TEST

START_TEST(test_string_set_long_entries)
{
    size_t n = 4096;
    char *a = malloc(n + 1), *b = malloc(n + 1);
    ck_assert(a && b);
    memset(a, 'a', n);
    a[n] = '\0';
    memcpy(b, a, n + 1);
    b[n - 1] = 'b'; /* differs only in the last byte */
    add(a);
    ck_assert(has(a));
    ck_assert(!has(b));
    b[n - 1] = 'A';
    ck_assert(has(b));
    ck_assert(!string_set_contains(set, a, n - 1));
    free(a);
    free(b);
}
END_TEST

#define MANY 100000

START_TEST(test_string_set_many_entries_all_found)
{
    char buf[64];
    for (int i = 0; i < MANY; i++) {
        int len = snprintf(buf, sizeof buf, "domain-%d.example", i);
        ck_assert(string_set_add(set, buf, (size_t)len));
    }
    ck_assert_uint_eq(string_set_size(set), MANY);
    for (int i = 0; i < MANY; i++) {
        int len = snprintf(buf, sizeof buf, "DOMAIN-%d.Example", i);
        ck_assert_msg(string_set_contains(set, buf, (size_t)len), "%s not found", buf);
    }
    for (int i = MANY; i < 2 * MANY; i++) {
        int len = snprintf(buf, sizeof buf, "domain-%d.example", i);
        ck_assert_msg(!string_set_contains(set, buf, (size_t)len), "%s found but never added", buf);
    }
    for (int i = 0; i < 1000; i++) {
        int len = snprintf(buf, sizeof buf, "domain-%d.exampl", i);
        ck_assert_msg(!string_set_contains(set, buf, (size_t)len), "%s found but never added", buf);
    }
    /* Adding them all again is a no-op. */
    for (int i = 0; i < MANY; i += 7) {
        int len = snprintf(buf, sizeof buf, "Domain-%d.EXAMPLE", i);
        ck_assert(string_set_add(set, buf, (size_t)len));
    }
    ck_assert_uint_eq(string_set_size(set), MANY);
}
END_TEST

START_TEST(test_string_set_free_null_is_safe)
{
    string_set_free(NULL);
}
END_TEST

/* ------------------------------------------------------------------ */
/* string_set_load_file                                                */

START_TEST(test_string_set_load_file_skips_comments_and_blanks_and_trims)
{
    static const char CONTENT[] = "# free e-mail providers\n"
                                  "\n"
                                  "gmail.com\n"
                                  "  yahoo.com  \r\n"
                                  "Outlook.COM\r\n"
                                  "   \r\n"
                                  "\t\n"
                                  "\r\n"
                                  "#hotmail.org\n"
                                  "gmail.com\n"
                                  "\tmail.ru\t\n"
                                  "hotmail.com"; /* no final newline */
    char *path = temp_file(CONTENT, sizeof CONTENT - 1);
    char err[256] = "";
    struct string_set *loaded = string_set_load_file(path, err, sizeof err);
    unlink(path);
    free(path);
    ck_assert_msg(loaded != NULL, "load failed: %s", err);
    ck_assert_uint_eq(string_set_size(loaded), 5);
    ck_assert(string_set_contains(loaded, LIT("gmail.com")));
    ck_assert(string_set_contains(loaded, LIT("yahoo.com")));
    ck_assert(string_set_contains(loaded, LIT("outlook.com")));
    ck_assert(string_set_contains(loaded, LIT("mail.ru")));
    ck_assert(string_set_contains(loaded, LIT("hotmail.com")));
    ck_assert(!string_set_contains(loaded, LIT("hotmail.org")));
    ck_assert(!string_set_contains(loaded, LIT("#hotmail.org")));
    ck_assert(!string_set_contains(loaded, LIT("# free e-mail providers")));
    ck_assert(!string_set_contains(loaded, LIT("")));
    ck_assert(!string_set_contains(loaded, LIT("  yahoo.com  ")));
    ck_assert(!string_set_contains(loaded, LIT("outlook.com\r")));
    string_set_free(loaded);
}
END_TEST

START_TEST(test_string_set_load_file_empty_and_comment_only_files_give_empty_sets)
{
    static const char *const CONTENTS[] = {"", "\n\n\n", "# only a comment\n", "# a\r\n\r\n   \r\n# b"};
    for (size_t i = 0; i < COUNT_OF(CONTENTS); i++) {
        char *path = temp_file(CONTENTS[i], strlen(CONTENTS[i]));
        char err[256] = "";
        struct string_set *loaded = string_set_load_file(path, err, sizeof err);
        unlink(path);
        free(path);
        ck_assert_msg(loaded != NULL, "content %zu: load failed: %s", i, err);
        ck_assert_msg(string_set_size(loaded) == 0, "content %zu: size %zu", i, string_set_size(loaded));
        string_set_free(loaded);
    }
}
END_TEST

START_TEST(test_string_set_load_file_many_lines)
{
    size_t n = 20000;
    char *content = malloc(n * 32);
    size_t len = 0;
    ck_assert(content != NULL);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(content + len, "%sentry-%zu.example\n", i % 2 ? "" : "  ", i);
    char *path = temp_file(content, len);
    free(content);
    char err[256] = "";
    struct string_set *loaded = string_set_load_file(path, err, sizeof err);
    unlink(path);
    free(path);
    ck_assert_msg(loaded != NULL, "load failed: %s", err);
    ck_assert_uint_eq(string_set_size(loaded), n);
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        int l = snprintf(buf, sizeof buf, "entry-%zu.example", i);
        ck_assert_msg(string_set_contains(loaded, buf, (size_t)l), "%s not loaded", buf);
    }
    string_set_free(loaded);
}
END_TEST

START_TEST(test_string_set_load_file_missing_file_names_the_path)
{
    const char *path = "/nonexistent-dir/check-string-set/missing-list.txt";
    char err[256] = "";
    struct string_set *loaded = string_set_load_file(path, err, sizeof err);
    ck_assert(loaded == NULL);
    ck_assert_msg(err[0] != '\0', "err is empty");
    ck_assert_msg(strstr(err, path) != NULL, "err \"%s\" does not name %s", err, path);
}
END_TEST

START_TEST(test_string_set_load_file_error_fits_a_small_buffer)
{
    const char *path = "/nonexistent-dir/check-string-set/missing-list.txt";
    char err[8 + 16];
    memset(err, 'Z', sizeof err);
    struct string_set *loaded = string_set_load_file(path, err, 8);
    ck_assert(loaded == NULL);
    ck_assert_msg(memchr(err, '\0', 8) != NULL, "err not NUL-terminated within err_size");
    for (size_t i = 8; i < sizeof err; i++)
        ck_assert_msg(err[i] == 'Z', "wrote past err_size");
}
END_TEST

START_TEST(test_string_set_load_file_directory_is_an_error)
{
    char err[256] = "";
    struct string_set *loaded = string_set_load_file("/tmp", err, sizeof err);
    bool failed = loaded == NULL;
    string_set_free(loaded);
    ck_assert_msg(failed, "loading the directory /tmp succeeded");
    ck_assert_msg(strstr(err, "/tmp") != NULL, "err \"%s\" does not name /tmp", err);
}
END_TEST

START_TEST(test_string_set_load_file_real_free_email_domains)
{
    const char *path = "data/free-email-domains.txt";
    char err[256] = "";
    struct string_set *loaded = string_set_load_file(path, err, sizeof err);
    ck_assert_msg(loaded != NULL, "cannot load %s (run from the repository root): %s", path, err);
    static const char *const WANT[] = {"gmail.com", "yahoo.com", "outlook.com", "hotmail.com"};
    for (size_t i = 0; i < COUNT_OF(WANT); i++)
        ck_assert_msg(string_set_contains(loaded, WANT[i], strlen(WANT[i])), "%s missing from %s", WANT[i], path);
    ck_assert(!string_set_contains(loaded, LIT("lintasarta.co.id")));
    string_set_free(loaded);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("string_set");

    TCase *tc = tcase_create("membership");
    tcase_add_checked_fixture(tc, set_setup, set_teardown);
    tcase_add_test(tc, test_string_set_new_set_is_empty);
    tcase_add_test(tc, test_string_set_contains_what_was_added);
    tcase_add_loop_test(tc, test_string_set_add_and_contains_are_ascii_case_insensitive, 0,
                        (int)COUNT_OF(CASE_INSENSITIVE));
    tcase_add_test(tc, test_string_set_case_folding_is_ascii_only);
    tcase_add_test(tc, test_string_set_add_copies_the_string);
    tcase_add_test(tc, test_string_set_uses_explicit_lengths);
    tcase_add_test(tc, test_string_set_embedded_nul_is_part_of_the_entry);
    tcase_add_test(tc, test_string_set_duplicates_do_not_grow_size);
    tcase_add_test(tc, test_string_set_empty_string_can_be_an_entry);
    tcase_add_test(tc, test_string_set_long_entries);
    tcase_add_test(tc, test_string_set_free_null_is_safe);
    suite_add_tcase(s, tc);

    tc = tcase_create("many");
    tcase_add_checked_fixture(tc, set_setup, set_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_string_set_many_entries_all_found);
    suite_add_tcase(s, tc);

    tc = tcase_create("load_file");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_string_set_load_file_skips_comments_and_blanks_and_trims);
    tcase_add_test(tc, test_string_set_load_file_empty_and_comment_only_files_give_empty_sets);
    tcase_add_test(tc, test_string_set_load_file_many_lines);
    tcase_add_test(tc, test_string_set_load_file_missing_file_names_the_path);
    tcase_add_test(tc, test_string_set_load_file_error_fits_a_small_buffer);
    tcase_add_test(tc, test_string_set_load_file_directory_is_an_error);
    tcase_add_test(tc, test_string_set_load_file_real_free_email_domains);
    suite_add_tcase(s, tc);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
