/* signup_validation: every rule of the sign-up form (full name, corporate
 * email, password strength, phone number, terms), the exact codes, field
 * names and messages each violation carries, and the normalised outputs,
 * which must be NUL-terminated and stay inside their buffers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signup_validation.h"
#include "string_set.h"

/* A string literal and its length (sizeof counts embedded NULs). */
#define LIT(s) s, sizeof(s) - 1
#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
/* Bytes after an output buffer that must stay untouched. */
#define CANARY_SIZE 32
#define CANARY 'Z'

static struct string_set *free_domains, *disposable_domains, *common_passwords;
static struct signup_rules rules;

static void add_all(struct string_set *set, const char *const *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(string_set_add(set, entries[i], strlen(entries[i])), "adding %s", entries[i]);
}

static void rules_setup(void)
{
    static const char *const FREE[] = {"gmail.com", "yahoo.com", "outlook.com", "hotmail.com"};
    static const char *const DISPOSABLE[] = {"mailinator.com", "10minutemail.com"};
    static const char *const COMMON[] = {"password", "p@ssw0rd1", "12345678", "qwerty123", "password1!"};
    free_domains = string_set_create();
    disposable_domains = string_set_create();
    common_passwords = string_set_create();
    ck_assert(free_domains && disposable_domains && common_passwords);
    add_all(free_domains, FREE, COUNT_OF(FREE));
    add_all(disposable_domains, DISPOSABLE, COUNT_OF(DISPOSABLE));
    add_all(common_passwords, COMMON, COUNT_OF(COMMON));
    rules = (struct signup_rules){free_domains, disposable_domains, common_passwords, "62"};
}

static void rules_teardown(void)
{
    string_set_free(free_domains);
    string_set_free(disposable_domains);
    string_set_free(common_passwords);
}

/* The field and message every code must carry. */
static const struct field_error EXPECTED[] = {
    {"full_name", "full_name_required", "is required"},
    {"full_name", "full_name_too_long", "must be at most 100 characters"},
    {"full_name", "full_name_invalid", "contains characters that are not allowed"},
    {"email", "email_required", "is required"},
    {"email", "email_invalid", "must be a valid email address"},
    {"email", "email_not_corporate", "must be a corporate email address"},
    {"password", "password_too_short", "must be at least 8 characters"},
    {"password", "password_too_long", "must be at most 256 bytes"},
    {"password", "password_missing_uppercase", "must include the uppercase letter"},
    {"password", "password_missing_lowercase", "must include the lowercase letter"},
    {"password", "password_missing_number", "must include the number"},
    {"password", "password_missing_symbol", "must include the symbol"},
    {"password", "password_too_common", "is too common"},
    {"phone_number", "phone_number_required", "is required"},
    {"phone_number", "phone_number_invalid", "must be a valid phone number"},
    {"accept_terms", "terms_not_accepted", "must be accepted"},
};

/* Every error in errors is a known code with its exact field and message. */
static void assert_error_texts(const struct field_errors *errors, const char *ctx)
{
    ck_assert_msg(errors->count <= FIELD_ERRORS_MAX, "%s: count %zu", ctx, errors->count);
    for (size_t i = 0; i < errors->count; i++) {
        const struct field_error *e = &errors->items[i];
        ck_assert_msg(e->code != NULL && e->field != NULL && e->message != NULL, "%s: error %zu has NULLs", ctx, i);
        const struct field_error *want = NULL;
        for (size_t j = 0; j < COUNT_OF(EXPECTED); j++)
            if (strcmp(EXPECTED[j].code, e->code) == 0)
                want = &EXPECTED[j];
        ck_assert_msg(want != NULL, "%s: unexpected code %s", ctx, e->code);
        ck_assert_msg(strcmp(e->field, want->field) == 0, "%s: code %s has field \"%s\", want \"%s\"", ctx, e->code,
                      e->field, want->field);
        ck_assert_msg(strcmp(e->message, want->message) == 0, "%s: code %s has message \"%s\", want \"%s\"", ctx,
                      e->code, e->message, want->message);
    }
}

/* errors holds exactly one violation, with this code. */
static void assert_single_error(const struct field_errors *errors, const char *code, const char *ctx)
{
    assert_error_texts(errors, ctx);
    ck_assert_msg(errors->count == 1, "%s: want exactly [%s], got %zu errors (first: %s)", ctx, code, errors->count,
                  errors->count ? errors->items[0].code : "-");
    ck_assert_msg(field_errors_has(errors, code), "%s: want %s, got %s", ctx, code, errors->items[0].code);
}

/* errors holds exactly the codes in the NULL-terminated list, in any order. */
static void assert_exact_errors(const struct field_errors *errors, const char *const *codes, const char *ctx)
{
    size_t n = 0;
    assert_error_texts(errors, ctx);
    for (; codes[n] != NULL; n++)
        ck_assert_msg(field_errors_has(errors, codes[n]), "%s: missing %s", ctx, codes[n]);
    ck_assert_msg(errors->count == n, "%s: want %zu errors, got %zu", ctx, n, errors->count);
}

static void fill_canary(char *buf, size_t size)
{
    memset(buf, CANARY, size + CANARY_SIZE);
}

static void assert_canary(const char *buf, size_t size, const char *ctx)
{
    for (size_t i = size; i < size + CANARY_SIZE; i++)
        ck_assert_msg(buf[i] == CANARY, "%s: wrote past the %zu-byte output buffer", ctx, size);
}

/* A heap string of n copies of unit (plus optional prefix/suffix). */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
    size_t plen = strlen(prefix), ulen = strlen(unit), slen = strlen(suffix);
    char *s = malloc(plen + ulen * n + slen + 1);
    ck_assert(s != NULL);
    memcpy(s, prefix, plen);
    for (size_t i = 0; i < n; i++)
        memcpy(s + plen + i * ulen, unit, ulen);
    memcpy(s + plen + ulen * n, suffix, slen + 1);
    return s;
}

/* ------------------------------------------------------------------ */
/* field_errors                                                        */

START_TEST(test_validation_field_errors_add_and_has)
{
    struct field_errors errors = {0};
    ck_assert(!field_errors_has(&errors, "email_invalid"));
    field_errors_add(&errors, "email", "email_invalid", "must be a valid email address");
    ck_assert_uint_eq(errors.count, 1);
    ck_assert(field_errors_has(&errors, "email_invalid"));
    ck_assert(!field_errors_has(&errors, "email_required"));
    ck_assert(!field_errors_has(&errors, "email"));
    ck_assert_str_eq(errors.items[0].field, "email");
    ck_assert_str_eq(errors.items[0].code, "email_invalid");
    ck_assert_str_eq(errors.items[0].message, "must be a valid email address");
    field_errors_add(&errors, "password", "password_too_short", "must be at least 8 characters");
    ck_assert_uint_eq(errors.count, 2);
    ck_assert(field_errors_has(&errors, "email_invalid"));
    ck_assert(field_errors_has(&errors, "password_too_short"));
    ck_assert_str_eq(errors.items[1].field, "password");
}
END_TEST

START_TEST(test_validation_field_errors_overflow_is_ignored)
{
    struct field_errors errors = {0};
    static const char *const CODES[] = {"c0",  "c1",  "c2",  "c3",  "c4",  "c5",  "c6",  "c7",  "c8",  "c9",
                                        "c10", "c11", "c12", "c13", "c14", "c15", "c16", "c17", "c18", "c19"};
    for (size_t i = 0; i < COUNT_OF(CODES); i++)
        field_errors_add(&errors, "f", CODES[i], "m");
    ck_assert_uint_eq(errors.count, FIELD_ERRORS_MAX);
    ck_assert(field_errors_has(&errors, "c0"));
    ck_assert(field_errors_has(&errors, "c15"));
    ck_assert(!field_errors_has(&errors, "c16"));
}
END_TEST

START_TEST(test_validation_errors_of_every_field_accumulate_in_one_list)
{
    struct field_errors errors = {0};
    char name[FULL_NAME_BUF_SIZE], email[EMAIL_BUF_SIZE], phone[PHONE_E164_BUF_SIZE];
    ck_assert(!validate_full_name(NULL, 0, name, &errors));
    ck_assert(!validate_email(LIT("budi@gmail.com"), &rules, email, &errors));
    ck_assert(!validate_password(NULL, 0, &rules, &errors));
    ck_assert(!validate_phone_number(LIT("abc"), &rules, phone, &errors));
    ck_assert(!validate_accept_terms(false, &errors));
    static const char *const WANT[] = {"full_name_required",         "email_not_corporate",
                                       "password_too_short",         "password_missing_uppercase",
                                       "password_missing_lowercase", "password_missing_number",
                                       "password_missing_symbol",    "phone_number_invalid",
                                       "terms_not_accepted",         NULL};
    assert_exact_errors(&errors, WANT, "all fields");
    ck_assert_str_eq(errors.items[0].field, "full_name");
    ck_assert_str_eq(errors.items[1].field, "email");
    ck_assert_str_eq(errors.items[2].field, "password");
    ck_assert_str_eq(errors.items[7].field, "phone_number");
    ck_assert_str_eq(errors.items[8].field, "accept_terms");
}
END_TEST

START_TEST(test_validation_valid_fields_add_no_errors)
{
    struct field_errors errors = {0};
    char name[FULL_NAME_BUF_SIZE], email[EMAIL_BUF_SIZE], phone[PHONE_E164_BUF_SIZE];
    ck_assert(validate_full_name(LIT("Budi Santoso"), name, &errors));
    ck_assert(validate_email(LIT("budi@lintasarta.co.id"), &rules, email, &errors));
    ck_assert(validate_password(LIT("Str0ng!Pass"), &rules, &errors));
    ck_assert(validate_phone_number(LIT("0812-3456-7890"), &rules, phone, &errors));
    ck_assert(validate_accept_terms(true, &errors));
    ck_assert_uint_eq(errors.count, 0);
    ck_assert_str_eq(name, "Budi Santoso");
    ck_assert_str_eq(email, "budi@lintasarta.co.id");
    ck_assert_str_eq(phone, "+6281234567890");
}
END_TEST

/* ------------------------------------------------------------------ */
/* full_name                                                           */

struct normalise_case {
    const char *in;
    size_t len;
    const char *want;
};

static const struct normalise_case FULL_NAME_VALID[] = {
    {LIT("Budi Santoso"), "Budi Santoso"},
    {LIT("  Budi   Santoso  "), "Budi Santoso"},
    {LIT("\t Budi Santoso \r\n"), "Budi Santoso"},
    {LIT("Budi  Setiawan    Santoso"), "Budi Setiawan Santoso"},
    {LIT("Siti Nurhaliza"), "Siti Nurhaliza"},
    {LIT("Jos\xc3\xa9 \xc3\x91\xc3\xba\xc3\xb1"
         "ez"),
     "Jos\xc3\xa9 \xc3\x91\xc3\xba\xc3\xb1"
     "ez"},                                                                                /* José Ñúñez */
    {LIT("\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e"), "\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e"}, /* 王小明 */
    {LIT("  \xe7\x8e\x8b  \xe5\xb0\x8f\xe6\x98\x8e "), "\xe7\x8e\x8b \xe5\xb0\x8f\xe6\x98\x8e"},
    {LIT("O'Brien-Smith Jr."), "O'Brien-Smith Jr."},
    {LIT("A"), "A"},
    {LIT("\xc2\xa1Hola Budi"), "\xc2\xa1Hola Budi"},             /* U+00A1: first code point after C1 */
    {LIT("Budi \xf0\x9f\x98\x80"), "Budi \xf0\x9f\x98\x80"},     /* 4-byte sequence */
    {LIT("Budi\xe2\x80\xb0Santoso"), "Budi\xe2\x80\xb0Santoso"}, /* U+2030, near the bidi ranges */
};

START_TEST(test_validation_full_name_valid_is_trimmed_and_collapsed)
{
    const struct normalise_case *c = &FULL_NAME_VALID[_i];
    char out[FULL_NAME_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    fill_canary(out, FULL_NAME_BUF_SIZE);
    ck_assert_msg(validate_full_name(c->in, c->len, out, &errors), "case %d \"%s\" rejected (%s)", _i, c->in,
                  errors.count ? errors.items[0].code : "no error");
    ck_assert_uint_eq(errors.count, 0);
    ck_assert_msg(memchr(out, '\0', FULL_NAME_BUF_SIZE) != NULL, "case %d: output not NUL-terminated", _i);
    ck_assert_msg(strcmp(out, c->want) == 0, "case %d: got \"%s\", want \"%s\"", _i, out, c->want);
    assert_canary(out, FULL_NAME_BUF_SIZE, "full_name");
}
END_TEST

struct error_case {
    const char *in;
    size_t len;
    const char *code;
};

static const struct error_case FULL_NAME_INVALID[] = {
    {NULL, 0, "full_name_required"},
    {LIT(""), "full_name_required"},
    {LIT("   "), "full_name_required"},
    {LIT(" \t\r\n "), "full_name_required"},
    {LIT("\xff"), "full_name_invalid"},
    {LIT("Budi \xff Santoso"), "full_name_invalid"},
    {LIT("Budi \xc0\xaf"), "full_name_invalid"},         /* overlong '/' */
    {LIT("Budi \xe0\x80\xaf"), "full_name_invalid"},     /* overlong 3-byte */
    {LIT("Budi \xc3"), "full_name_invalid"},             /* truncated at end */
    {LIT("Budi \xe7\x8e Santoso"), "full_name_invalid"}, /* truncated in the middle */
    {LIT("Budi \x80 Santoso"), "full_name_invalid"},     /* lone continuation byte */
    {LIT("\xed\xa0\x80"), "full_name_invalid"},          /* UTF-16 high surrogate */
    {LIT("Budi \xed\xbf\xbf"), "full_name_invalid"},     /* UTF-16 low surrogate */
    {LIT("Budi \xf4\x90\x80\x80"), "full_name_invalid"}, /* above U+10FFFF */
    {LIT("Budi\tSantoso"), "full_name_invalid"},         /* internal tab */
    {LIT("Budi\nSantoso"), "full_name_invalid"},         /* internal newline */
    {LIT("Budi\rSantoso"), "full_name_invalid"},
    {LIT("Budi\x01Santoso"), "full_name_invalid"},
    {LIT("Budi\x1bSantoso"), "full_name_invalid"},
    {LIT("Budi\x7fSantoso"), "full_name_invalid"},         /* DEL */
    {LIT("Budi\xc2\x80Santoso"), "full_name_invalid"},     /* U+0080 */
    {LIT("Budi\xc2\x85Santoso"), "full_name_invalid"},     /* U+0085 NEL */
    {LIT("Budi\xc2\x9fSantoso"), "full_name_invalid"},     /* U+009F */
    {LIT("Budi\xe2\x80\xaaSantoso"), "full_name_invalid"}, /* U+202A */
    {LIT("Budi\xe2\x80\xabSantoso"), "full_name_invalid"}, /* U+202B */
    {LIT("Budi\xe2\x80\xacSantoso"), "full_name_invalid"}, /* U+202C */
    {LIT("Budi\xe2\x80\xadSantoso"), "full_name_invalid"}, /* U+202D */
    {LIT("Budi\xe2\x80\xae"
         "Santoso"),
     "full_name_invalid"},                                 /* U+202E */
    {LIT("Budi\xe2\x81\xa6Santoso"), "full_name_invalid"}, /* U+2066 */
    {LIT("Budi\xe2\x81\xa7Santoso"), "full_name_invalid"}, /* U+2067 */
    {LIT("Budi\xe2\x81\xa8Santoso"), "full_name_invalid"}, /* U+2068 */
    {LIT("Budi\xe2\x81\xa9Santoso"), "full_name_invalid"}, /* U+2069 */
    {LIT("Budi\xe2\x80\x8eSantoso"), "full_name_invalid"}, /* U+200E */
    {LIT("Budi\xe2\x80\x8fSantoso"), "full_name_invalid"}, /* U+200F */
    {LIT("Budi\xd8\x9cSantoso"), "full_name_invalid"},     /* U+061C Arabic letter mark */
    {LIT("Budi\xe2\x80\x8bSantoso"), "full_name_invalid"}, /* U+200B zero-width space */
    {LIT("Budi\xe2\x80\xa8Santoso"), "full_name_invalid"}, /* U+2028 line separator */
    {LIT("Budi\xe2\x80\xa9Santoso"), "full_name_invalid"}, /* U+2029 paragraph separator */
    {LIT("Budi\xef\xbb\xbfSantoso"), "full_name_invalid"}, /* U+FEFF BOM / zero-width no-break */
    {LIT("\xe2\x80\xae"), "full_name_invalid"},            /* only a bidi control */
    {LIT("Budi\0Santoso"), "full_name_invalid"},           /* embedded NUL */
    {LIT("Budi Santoso\0"), "full_name_invalid"},          /* trailing NUL inside in_len */
};

START_TEST(test_validation_full_name_invalid_reports_one_error)
{
    const struct error_case *c = &FULL_NAME_INVALID[_i];
    char out[FULL_NAME_BUF_SIZE];
    struct field_errors errors = {0};
    char ctx[64];
    snprintf(ctx, sizeof ctx, "full_name case %d", _i);
    ck_assert_msg(!validate_full_name(c->in, c->len, out, &errors), "%s accepted", ctx);
    assert_single_error(&errors, c->code, ctx);
}
END_TEST

struct length_case {
    const char *prefix;
    const char *unit;
    size_t n;
    const char *suffix;
    bool valid;
};

static const struct length_case FULL_NAME_LENGTHS[] = {
    {"", "a", 100, "", true},
    {"", "a", 101, "", false},
    {"", "\xc3\xa9", 100, "", true}, /* 100 x é = 200 bytes */
    {"", "\xc3\xa9", 101, "", false},
    {"", "\xe7\x8e\x8b", 100, "", true}, /* 300 bytes */
    {"", "\xe7\x8e\x8b", 101, "", false},
    {"", "\xf0\x9f\x98\x80", 100, "", true}, /* 400 bytes: fills the whole buffer */
    {"", "\xf0\x9f\x98\x80", 101, "", false},
    {"   ", "\xf0\x9f\x98\x80", 100, "  \t", true}, /* length counts after trimming */
    {"   ", "a", 100, "   ", true},
    {"", "a", 5000, "", false},
    {"", "\xf0\x9f\x98\x80", 5000, "", false},
};

START_TEST(test_validation_full_name_is_at_most_100_code_points)
{
    const struct length_case *c = &FULL_NAME_LENGTHS[_i];
    char *in = repeat(c->prefix, c->unit, c->n, c->suffix);
    char out[FULL_NAME_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    char ctx[64];
    snprintf(ctx, sizeof ctx, "full_name length case %d", _i);
    fill_canary(out, FULL_NAME_BUF_SIZE);
    bool ok = validate_full_name(in, strlen(in), out, &errors);
    assert_canary(out, FULL_NAME_BUF_SIZE, ctx);
    if (c->valid) {
        ck_assert_msg(ok, "%s rejected (%s)", ctx, errors.count ? errors.items[0].code : "no error");
        ck_assert_uint_eq(errors.count, 0);
        char *want = repeat("", c->unit, c->n, "");
        ck_assert_msg(memchr(out, '\0', FULL_NAME_BUF_SIZE) != NULL, "%s: output not NUL-terminated", ctx);
        ck_assert_msg(strcmp(out, want) == 0, "%s: output differs (length %zu, want %zu)", ctx, strlen(out),
                      strlen(want));
        free(want);
    } else {
        ck_assert_msg(!ok, "%s accepted", ctx);
        assert_single_error(&errors, "full_name_too_long", ctx);
    }
    free(in);
}
END_TEST

START_TEST(test_validation_full_name_input_is_read_only_up_to_in_len)
{
    /* in_len shorter than the C string: only the prefix is validated. */
    char out[FULL_NAME_BUF_SIZE];
    struct field_errors errors = {0};
    ck_assert(validate_full_name("Budi Santoso\x01\xff", 12, out, &errors));
    ck_assert_uint_eq(errors.count, 0);
    ck_assert_str_eq(out, "Budi Santoso");
}
END_TEST

/* ------------------------------------------------------------------ */
/* email                                                               */

static const struct normalise_case EMAIL_VALID[] = {
    {LIT("  John.Doe@Lintasarta.CO.ID "), "John.Doe@lintasarta.co.id"},
    {LIT("\tJohn.Doe@Lintasarta.CO.ID\r\n"), "John.Doe@lintasarta.co.id"},
    {LIT("budi@lintasarta.co.id"), "budi@lintasarta.co.id"},
    {LIT("a+tag@acme-corp.co.id"), "a+tag@acme-corp.co.id"},
    {LIT("o'brien@acme-corp.co.id"), "o'brien@acme-corp.co.id"},
    {LIT("x@xn--bcher-kva.co.id"), "x@xn--bcher-kva.co.id"},
    {LIT("first.last@sub.lintasarta.co.id"), "first.last@sub.lintasarta.co.id"},
    {LIT("A@B.CO"), "A@b.co"},
    {LIT("user_name-1@a-b.example.io"), "user_name-1@a-b.example.io"},
    {LIT("x@123.co.id"), "x@123.co.id"},
    /* Not free-mail: only the domain itself and its parents count, not suffixes or subdomains' names. */
    {LIT("x@notgmail.com"), "x@notgmail.com"},
    {LIT("x@gmail.com.acme.co.id"), "x@gmail.com.acme.co.id"},
    {LIT("x@gmail.co.id"), "x@gmail.co.id"},
    {LIT("x@mailinator.com.id"), "x@mailinator.com.id"},
};

START_TEST(test_validation_email_valid_is_trimmed_with_domain_lower_cased)
{
    const struct normalise_case *c = &EMAIL_VALID[_i];
    char out[EMAIL_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    fill_canary(out, EMAIL_BUF_SIZE);
    ck_assert_msg(validate_email(c->in, c->len, &rules, out, &errors), "case %d \"%s\" rejected (%s)", _i, c->in,
                  errors.count ? errors.items[0].code : "no error");
    ck_assert_uint_eq(errors.count, 0);
    ck_assert_msg(memchr(out, '\0', EMAIL_BUF_SIZE) != NULL, "case %d: output not NUL-terminated", _i);
    ck_assert_msg(strcmp(out, c->want) == 0, "case %d: got \"%s\", want \"%s\"", _i, out, c->want);
    assert_canary(out, EMAIL_BUF_SIZE, "email");
}
END_TEST

START_TEST(test_validation_email_dot_atom_special_characters_are_valid)
{
    /* RFC 5321 atext in a dot-atom local part. */
    char out[EMAIL_BUF_SIZE];
    struct field_errors errors = {0};
    ck_assert_msg(validate_email(LIT("a!#$%&'*+/=?^_`{|}~-b@acme-corp.co.id"), &rules, out, &errors), "rejected (%s)",
                  errors.count ? errors.items[0].code : "no error");
    ck_assert_str_eq(out, "a!#$%&'*+/=?^_`{|}~-b@acme-corp.co.id");
}
END_TEST

static const struct error_case EMAIL_INVALID[] = {
    {NULL, 0, "email_required"},
    {LIT(""), "email_required"},
    {LIT("   "), "email_required"},
    {LIT("\t\r\n"), "email_required"},
    {LIT("john.doe"), "email_invalid"},
    {LIT("john.doe.acme-corp.co.id"), "email_invalid"},
    {LIT("john@doe@acme-corp.co.id"), "email_invalid"},
    {LIT("john@@acme-corp.co.id"), "email_invalid"},
    {LIT("@acme-corp.co.id"), "email_invalid"},
    {LIT("john@"), "email_invalid"},
    {LIT("@"), "email_invalid"},
    {LIT(".john@acme-corp.co.id"), "email_invalid"},
    {LIT("john.@acme-corp.co.id"), "email_invalid"},
    {LIT("jo..hn@acme-corp.co.id"), "email_invalid"},
    {LIT("."), "email_invalid"},
    {LIT("john@acmecorp"), "email_invalid"},
    {LIT("john@localhost"), "email_invalid"},
    {LIT("john@acme-corp..co.id"), "email_invalid"},
    {LIT("john@.acme-corp.co.id"), "email_invalid"},
    {LIT("john@acme-corp.co.id."), "email_invalid"},
    {LIT("john@-acme.co.id"), "email_invalid"},
    {LIT("john@acme-.co.id"), "email_invalid"},
    {LIT("john@acme.-co.id"), "email_invalid"},
    {LIT("john@acme.co-.id"), "email_invalid"},
    {LIT("a@b.123"), "email_invalid"},
    {LIT("a@1.2.3.4"), "email_invalid"},
    {LIT("a@b.c"), "email_invalid"},
    {LIT("a@[1.2.3.4]"), "email_invalid"},
    {LIT("a@[IPv6:::1]"), "email_invalid"},
    {LIT("jo hn@acme-corp.co.id"), "email_invalid"},
    {LIT("john@acme corp.co.id"), "email_invalid"},
    {LIT("john @acme-corp.co.id"), "email_invalid"},
    {LIT("\"john\"@acme-corp.co.id"), "email_invalid"},
    {LIT("\"jo hn\"@acme-corp.co.id"), "email_invalid"},
    {LIT("jo\"hn@acme-corp.co.id"), "email_invalid"},
    {LIT("jos\xc3\xa9@acme-corp.co.id"), "email_invalid"}, /* josé */
    {LIT("john@b\xc3\xbc"
         "cher.co.id"),
     "email_invalid"},                                           /* bücher */
    {LIT("john@\xe4\xbe\x8b\xe5\xad\x90.com"), "email_invalid"}, /* 例子.com */
    {LIT("\xff@acme-corp.co.id"), "email_invalid"},
    {LIT("john\0@acme-corp.co.id"), "email_invalid"}, /* embedded NUL */
    {LIT("john@acme-corp.co.id\0"), "email_invalid"},
    {LIT("john(comment)@acme-corp.co.id"), "email_invalid"},
    {LIT("john@acme_corp.co.id"), "email_invalid"},
    {LIT("john\t@acme-corp.co.id"), "email_invalid"},
    /* Syntax is checked first: a malformed address on a free-mail domain is only email_invalid. */
    {LIT("john..doe@gmail.com"), "email_invalid"},
    {LIT("john@gmail..com"), "email_invalid"},
    {LIT("john@@gmail.com"), "email_invalid"},
    {LIT("\"john\"@gmail.com"), "email_invalid"},
    {LIT("john@gmail"), "email_invalid"},
    {LIT("john@-mailinator.com"), "email_invalid"},
    /* Free-mail and disposable domains, and their subdomains, in any case. */
    {LIT("budi@gmail.com"), "email_not_corporate"},
    {LIT("budi@GMAIL.COM"), "email_not_corporate"},
    {LIT("Budi@Yahoo.com"), "email_not_corporate"},
    {LIT("budi@outlook.com"), "email_not_corporate"},
    {LIT("budi@hotmail.com"), "email_not_corporate"},
    {LIT("  budi@gmail.com  "), "email_not_corporate"},
    {LIT("budi@mailinator.com"), "email_not_corporate"},
    {LIT("budi@sub.mailinator.com"), "email_not_corporate"},
    {LIT("budi@a.b.MAILINATOR.com"), "email_not_corporate"},
    {LIT("budi@10minutemail.com"), "email_not_corporate"},
    {LIT("budi@mail.gmail.com"), "email_not_corporate"},
};

START_TEST(test_validation_email_invalid_reports_exactly_one_error)
{
    const struct error_case *c = &EMAIL_INVALID[_i];
    char out[EMAIL_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    char ctx[128];
    snprintf(ctx, sizeof ctx, "email case %d \"%s\"", _i, c->in ? c->in : "(NULL)");
    fill_canary(out, EMAIL_BUF_SIZE);
    ck_assert_msg(!validate_email(c->in, c->len, &rules, out, &errors), "%s accepted", ctx);
    assert_single_error(&errors, c->code, ctx);
    assert_canary(out, EMAIL_BUF_SIZE, ctx);
}
END_TEST

/* Addresses built to a given size: local part, and domain labels. */
struct email_size_case {
    size_t local;        /* octets of local part */
    size_t labels[4];    /* octets of each domain label before the TLD, 0 = none */
    const char *tld;     /* the last label */
    const char *padding; /* surrounding whitespace */
    bool valid;
};

static const struct email_size_case EMAIL_SIZES[] = {
    {64, {10, 0, 0, 0}, "com", "", true},                                            /* local part of exactly 64 */
    {65, {10, 0, 0, 0}, "com", "", false},                                           /* 65 */
    {200, {10, 0, 0, 0}, "com", "", false},     {5, {63, 0, 0, 0}, "com", "", true}, /* label of exactly 63 */
    {5, {64, 0, 0, 0}, "com", "", false},                                            /* 64 */
    {5, {10, 0, 0, 0}, "abcdefghij", "", true},                                      /* long TLD */
    {64, {63, 63, 57, 0}, "com", "", true},                                          /* 64 + 1 + 189 = 254 octets */
    {64, {63, 63, 58, 0}, "com", "", false},                                         /* 255 octets */
    {64, {63, 63, 57, 0}, "com", "   ", true},                                       /* 254 after trimming */
    {64, {63, 63, 63, 63}, "com", "", false},                                        /* 323 octets */
    {1000, {63, 63, 63, 63}, "com", "", false},
};

static char *build_email(const struct email_size_case *c)
{
    size_t cap = strlen(c->padding) * 2 + c->local + 4 * 64 + strlen(c->tld) + 16;
    char *s = malloc(cap);
    size_t n = 0;
    ck_assert(s != NULL);
    n += (size_t)sprintf(s + n, "%s", c->padding);
    for (size_t i = 0; i < c->local; i++)
        s[n++] = (char)('a' + i % 26);
    s[n++] = '@';
    for (size_t l = 0; l < 4 && c->labels[l]; l++) {
        for (size_t i = 0; i < c->labels[l]; i++)
            s[n++] = (char)('a' + (i + l) % 26);
        s[n++] = '.';
    }
    n += (size_t)sprintf(s + n, "%s%s", c->tld, c->padding);
    s[n] = '\0';
    return s;
}

START_TEST(test_validation_email_length_limits_are_64_local_254_total_63_label)
{
    const struct email_size_case *c = &EMAIL_SIZES[_i];
    char *in = build_email(c);
    char out[EMAIL_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    char ctx[64];
    snprintf(ctx, sizeof ctx, "email size case %d", _i);
    fill_canary(out, EMAIL_BUF_SIZE);
    bool ok = validate_email(in, strlen(in), &rules, out, &errors);
    assert_canary(out, EMAIL_BUF_SIZE, ctx);
    if (c->valid) {
        ck_assert_msg(ok, "%s rejected (%s)", ctx, errors.count ? errors.items[0].code : "no error");
        ck_assert_uint_eq(errors.count, 0);
        size_t pad = strlen(c->padding);
        ck_assert_msg(memchr(out, '\0', EMAIL_BUF_SIZE) != NULL, "%s: output not NUL-terminated", ctx);
        ck_assert_uint_eq(strlen(out), strlen(in) - 2 * pad);
        ck_assert_msg(strncmp(out, in + pad, strlen(out)) == 0, "%s: output differs", ctx);
    } else {
        ck_assert_msg(!ok, "%s accepted", ctx);
        assert_single_error(&errors, "email_invalid", ctx);
    }
    free(in);
}
END_TEST

START_TEST(test_validation_email_254_octet_address_fills_buffer_exactly)
{
    static const struct email_size_case c = {64, {63, 63, 57, 0}, "COM", "", true};
    char *in = build_email(&c);
    char out[EMAIL_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    ck_assert_uint_eq(strlen(in), EMAIL_MAX_OCTETS);
    fill_canary(out, EMAIL_BUF_SIZE);
    ck_assert(validate_email(in, strlen(in), &rules, out, &errors));
    ck_assert_uint_eq(strlen(out), EMAIL_MAX_OCTETS);
    ck_assert_int_eq(out[EMAIL_MAX_OCTETS], '\0');
    ck_assert_str_eq(out + EMAIL_MAX_OCTETS - 4, ".com");
    assert_canary(out, EMAIL_BUF_SIZE, "254-octet email");
    free(in);
}
END_TEST

START_TEST(test_validation_email_input_is_read_only_up_to_in_len)
{
    char out[EMAIL_BUF_SIZE];
    struct field_errors errors = {0};
    ck_assert(validate_email("budi@Acme-Corp.co.id@gmail.com", 20, &rules, out, &errors));
    ck_assert_uint_eq(errors.count, 0);
    ck_assert_str_eq(out, "budi@acme-corp.co.id");
}
END_TEST

/* ------------------------------------------------------------------ */
/* password                                                            */

#define NO_ERRORS NULL

struct password_case {
    const char *in;
    size_t len;
    const char *codes[7]; /* expected codes, NULL-terminated */
};

static const struct password_case PASSWORDS[] = {
    /* Valid. */
    {LIT("Str0ng!Pass"), {NO_ERRORS}},
    {LIT("Ab1!Ab1!"), {NO_ERRORS}},               /* exactly 8 */
    {LIT("Str0ng Pass"), {NO_ERRORS}},            /* space is a symbol */
    {LIT("Str0ngPass\xc3\xa9"), {NO_ERRORS}},     /* é is a symbol */
    {LIT("Str0ngPass\xe7\x8e\x8b"), {NO_ERRORS}}, /* 王 is a symbol */
    {LIT("Aa1!\xc3\x84\xc3\xa4"
         "1\xc3\xa9"),
     {NO_ERRORS}},                         /* 8 code points, 11 bytes */
    {LIT("  Str0ng!Pass  "), {NO_ERRORS}}, /* not trimmed, still valid */
    {LIT("P@ssw0rd12"), {NO_ERRORS}},      /* near a common one */
    {LIT("~Zz9~~~~"), {NO_ERRORS}},
    /* One rule at a time. */
    {LIT("Str0ng!"), {"password_too_short", NULL}},
    {LIT("Ab1!Ab1"), {"password_too_short", NULL}},
    {LIT("Aa1!\xc3\x84\xc3\xa4"
         "1"),
     {"password_too_short", NULL}}, /* 7 code points, 9 bytes */
    {LIT("A1!a"), {"password_too_short", NULL}},
    {LIT("str0ng!pass"), {"password_missing_uppercase", NULL}},
    {LIT("\xc3\x84str0ng!pass"), {"password_missing_uppercase", NULL}}, /* Ä is not ASCII upper */
    {LIT("STR0NG!PASS"), {"password_missing_lowercase", NULL}},
    {LIT("STR0NG!PASS\xc3\xa4"), {"password_missing_lowercase", NULL}}, /* ä is not ASCII lower */
    {LIT("Strong!Pass"), {"password_missing_number", NULL}},
    {LIT("Strong!Pass\xd9\xa3"), {"password_missing_number", NULL}}, /* U+0663 ARABIC-INDIC THREE: a symbol */
    {LIT("Str0ngPass"), {"password_missing_symbol", NULL}},
    {LIT("P@ssw0rd1"), {"password_too_common", NULL}},
    {LIT("p@SSW0RD1"), {"password_too_common", NULL}},
    {LIT("Password1!"), {"password_too_common", NULL}},
    /* Everything at once. */
    {NULL,
     0,
     {"password_too_short", "password_missing_uppercase", "password_missing_lowercase", "password_missing_number",
      "password_missing_symbol", NULL}},
    {LIT(""),
     {"password_too_short", "password_missing_uppercase", "password_missing_lowercase", "password_missing_number",
      "password_missing_symbol", NULL}},
    {LIT("abcdefgh"), {"password_missing_uppercase", "password_missing_number", "password_missing_symbol", NULL}},
    {LIT("ABCDEFGH"), {"password_missing_lowercase", "password_missing_number", "password_missing_symbol", NULL}},
    {LIT("abcdefg"),
     {"password_too_short", "password_missing_uppercase", "password_missing_number", "password_missing_symbol", NULL}},
    {LIT("!!!!!!!!"), {"password_missing_uppercase", "password_missing_lowercase", "password_missing_number", NULL}},
    {LIT("        "), {"password_missing_uppercase", "password_missing_lowercase", "password_missing_number", NULL}},
    {LIT("\xc3\x84\xc3\xa4"
         "1!\xc3\x84\xc3\xa4"
         "1!"), /* Ää1!Ää1!: 8 code points */
     {"password_missing_uppercase", "password_missing_lowercase", NULL}},
    {LIT("Abcdefgh"), {"password_missing_number", "password_missing_symbol", NULL}},
    {LIT("P@SSW0RD1"), {"password_missing_lowercase", "password_too_common", NULL}},
    {LIT("password"),
     {"password_missing_uppercase", "password_missing_number", "password_missing_symbol", "password_too_common", NULL}},
    {LIT("12345678"),
     {"password_missing_uppercase", "password_missing_lowercase", "password_missing_symbol", "password_too_common",
      NULL}},
    {LIT("Ab1"), {"password_too_short", "password_missing_symbol", NULL}},
    {LIT("a"),
     {"password_too_short", "password_missing_uppercase", "password_missing_number", "password_missing_symbol", NULL}},
};

START_TEST(test_validation_password_lists_every_violation)
{
    const struct password_case *c = &PASSWORDS[_i];
    struct field_errors errors = {0};
    char ctx[128];
    snprintf(ctx, sizeof ctx, "password case %d \"%s\"", _i, c->in ? c->in : "(NULL)");
    bool ok = validate_password(c->in, c->len, &rules, &errors);
    assert_exact_errors(&errors, c->codes, ctx);
    ck_assert_msg(ok == (c->codes[0] == NULL), "%s: returned %d", ctx, ok);
}
END_TEST

START_TEST(test_validation_password_without_symbol_says_must_include_the_symbol)
{
    struct field_errors errors = {0};
    ck_assert(!validate_password(LIT("Str0ngPass"), &rules, &errors));
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].field, "password");
    ck_assert_str_eq(errors.items[0].code, "password_missing_symbol");
    ck_assert_str_eq(errors.items[0].message, "must include the symbol");
}
END_TEST

struct password_length_case {
    const char *unit;
    size_t n;
    const char *codes[3];
};

/* "Aa1!" repeated (4 bytes) plus filler; length in bytes decides too_long. */
static const struct password_length_case PASSWORD_LENGTHS[] = {
    {"a", 256 - 4, {NULL}},                      /* 256 bytes */
    {"a", 257 - 4, {"password_too_long", NULL}}, /* 257 bytes */
    {"a", 5000, {"password_too_long", NULL}},
    {"\xc3\xa9", 126, {NULL}},                         /* 4 + 252 = 256 bytes, 130 code points */
    {"\xe7\x8e\x8b", 84, {NULL}},                      /* 4 + 252 = 256 bytes */
    {"\xe7\x8e\x8b", 85, {"password_too_long", NULL}}, /* 259 bytes but only 89 code points */
    {"\xf0\x9f\x98\x80", 63, {NULL}},                  /* 4 + 252 = 256 */
    {"\xf0\x9f\x98\x80", 64, {"password_too_long", NULL}},
};

START_TEST(test_validation_password_is_at_most_256_bytes)
{
    const struct password_length_case *c = &PASSWORD_LENGTHS[_i];
    char *in = repeat("Aa1!", c->unit, c->n, "");
    struct field_errors errors = {0};
    char ctx[64];
    snprintf(ctx, sizeof ctx, "password length case %d (%zu bytes)", _i, strlen(in));
    bool ok = validate_password(in, strlen(in), &rules, &errors);
    assert_exact_errors(&errors, c->codes, ctx);
    ck_assert_msg(ok == (c->codes[0] == NULL), "%s: returned %d", ctx, ok);
    free(in);
}
END_TEST

START_TEST(test_validation_password_too_long_and_missing_classes_are_listed_together)
{
    char *in = repeat("", "a", 300, "");
    struct field_errors errors = {0};
    static const char *const WANT[] = {"password_too_long", "password_missing_uppercase", "password_missing_number",
                                       "password_missing_symbol", NULL};
    ck_assert(!validate_password(in, strlen(in), &rules, &errors));
    assert_exact_errors(&errors, WANT, "300 x a");
    free(in);
}
END_TEST

START_TEST(test_validation_password_input_is_read_only_up_to_in_len)
{
    struct field_errors errors = {0};
    /* Only "Str0ng!P" (8 chars) counts; the rest would make it too_common-free anyway. */
    ck_assert(validate_password("Str0ng!Pxyz", 8, &rules, &errors));
    ck_assert_uint_eq(errors.count, 0);
    /* "Str0ng!" is 7: too short, even though the buffer continues. */
    ck_assert(!validate_password("Str0ng!Pass", 7, &rules, &errors));
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].code, "password_too_short");
    /* The common-password lookup uses the length too. */
    errors.count = 0;
    ck_assert(!validate_password("P@ssw0rd1XYZ", 9, &rules, &errors));
    ck_assert_uint_eq(errors.count, 1);
    ck_assert_str_eq(errors.items[0].code, "password_too_common");
}
END_TEST

/* ------------------------------------------------------------------ */
/* phone_number                                                        */

static const struct normalise_case PHONE_VALID[] = {
    {LIT("0812-3456-7890"), "+6281234567890"},
    {LIT("+62 812 3456 7890"), "+6281234567890"},
    {LIT("(021) 555-1234"), "+62215551234"},
    {LIT("0062 812 3456 7890"), "+6281234567890"},
    {LIT("+1 (415) 555-2671"), "+14155552671"},
    {LIT("081234567890"), "+6281234567890"},
    {LIT("0812 3456 7890"), "+6281234567890"},
    {LIT("0812.3456.7890"), "+6281234567890"},
    {LIT("+62-812-3456-7890"), "+6281234567890"},
    {LIT("+6281234567890"), "+6281234567890"},
    {LIT("  0812-3456-7890  "), "+6281234567890"},
    {LIT("004420 7946 0958"), "+442079460958"},
    {LIT("+12345678"), "+12345678"},                               /* 8 digits: the minimum */
    {LIT("0812345"), "+62812345"},                                 /* 62 + 6 digits = 8 */
    {LIT("+123456789012345"), "+123456789012345"},                 /* 15 digits: the maximum */
    {LIT("0812345678901"), "+62812345678901"},                     /* 62 + 12 digits = 14 */
    {LIT("08123456789012"), "+628123456789012"},                   /* 62 + 13 digits = 15 */
    {LIT("+123    456    789    012    345"), "+123456789012345"}, /* exactly 32 bytes */
};

START_TEST(test_validation_phone_number_valid_is_written_as_e164)
{
    const struct normalise_case *c = &PHONE_VALID[_i];
    char out[PHONE_E164_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    ck_assert(c->len <= PHONE_INPUT_MAX_BYTES);
    fill_canary(out, PHONE_E164_BUF_SIZE);
    ck_assert_msg(validate_phone_number(c->in, c->len, &rules, out, &errors), "case %d \"%s\" rejected (%s)", _i, c->in,
                  errors.count ? errors.items[0].code : "no error");
    ck_assert_uint_eq(errors.count, 0);
    ck_assert_msg(memchr(out, '\0', PHONE_E164_BUF_SIZE) != NULL, "case %d: output not NUL-terminated", _i);
    ck_assert_msg(strcmp(out, c->want) == 0, "case %d: got \"%s\", want \"%s\"", _i, out, c->want);
    assert_canary(out, PHONE_E164_BUF_SIZE, "phone_number");
}
END_TEST

static const struct error_case PHONE_INVALID[] = {
    {NULL, 0, "phone_number_required"},
    {LIT(""), "phone_number_required"},
    {LIT("   "), "phone_number_required"},
    {LIT("0812-3456-789O"), "phone_number_invalid"}, /* letter O */
    {LIT("abc"), "phone_number_invalid"},
    {LIT("0812 3456 7890 ext 12"), "phone_number_invalid"},
    {LIT("812345678"), "phone_number_invalid"}, /* no +, 00 or 0 */
    {LIT("62812345678"), "phone_number_invalid"},
    {LIT("+0812345678"), "phone_number_invalid"},  /* country code starts with 0 */
    {LIT("000812345678"), "phone_number_invalid"}, /* 00 then 0 */
    {LIT("++62812345678"), "phone_number_invalid"},
    {LIT("0812+3456"), "phone_number_invalid"},
    {LIT("08123456789+"), "phone_number_invalid"},
    {LIT("+6281234"), "phone_number_invalid"}, /* 7 digits */
    {LIT("081234"), "phone_number_invalid"},   /* 62 + 5 = 7 digits */
    {LIT("+1234567"), "phone_number_invalid"},
    {LIT("+1234567890123456"), "phone_number_invalid"}, /* 16 digits */
    {LIT("081234567890123"), "phone_number_invalid"},   /* 62 + 14 = 16 digits */
    {LIT("0"), "phone_number_invalid"},
    {LIT("+"), "phone_number_invalid"},
    {LIT("00"), "phone_number_invalid"},
    {LIT("-"), "phone_number_invalid"},
    {LIT("()"), "phone_number_invalid"},
    {LIT("+123    456    789    012     345"), "phone_number_invalid"}, /* 33 bytes, 15 digits */
    {LIT("0812\0"
         "34567890"),
     "phone_number_invalid"}, /* embedded NUL */
    {LIT("081234567890\0"), "phone_number_invalid"},
    {LIT("0812/3456/7890"), "phone_number_invalid"},
    {LIT("0812_3456_7890"), "phone_number_invalid"},
    {LIT("\xef\xbc\x90\xef\xbc\x98\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x95\xef\xbc\x96"),
     "phone_number_invalid"}, /* fullwidth digits */
    {LIT("\xd9\xa0\xd9\xa8\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6"),
     "phone_number_invalid"}, /* Arabic-Indic digits */
};

START_TEST(test_validation_phone_number_invalid_reports_one_error)
{
    const struct error_case *c = &PHONE_INVALID[_i];
    char out[PHONE_E164_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    char ctx[128];
    snprintf(ctx, sizeof ctx, "phone case %d \"%s\" (%zu bytes)", _i, c->in ? c->in : "(NULL)", c->len);
    fill_canary(out, PHONE_E164_BUF_SIZE);
    ck_assert_msg(!validate_phone_number(c->in, c->len, &rules, out, &errors), "%s accepted as %s", ctx, out);
    assert_single_error(&errors, c->code, ctx);
    assert_canary(out, PHONE_E164_BUF_SIZE, ctx);
}
END_TEST

START_TEST(test_validation_phone_number_32_and_33_byte_inputs)
{
    /* Guard the tables' own arithmetic. */
    ck_assert_uint_eq(strlen("+123    456    789    012    345"), PHONE_INPUT_MAX_BYTES);
    ck_assert_uint_eq(strlen("+123    456    789    012     345"), PHONE_INPUT_MAX_BYTES + 1);
}
END_TEST

START_TEST(test_validation_phone_number_long_input_is_invalid_not_a_crash)
{
    char *in = repeat("+62", "8", 10000, "");
    char out[PHONE_E164_BUF_SIZE + CANARY_SIZE];
    struct field_errors errors = {0};
    fill_canary(out, PHONE_E164_BUF_SIZE);
    ck_assert(!validate_phone_number(in, strlen(in), &rules, out, &errors));
    assert_single_error(&errors, "phone_number_invalid", "10000 digits");
    assert_canary(out, PHONE_E164_BUF_SIZE, "10000 digits");
    free(in);
}
END_TEST

START_TEST(test_validation_phone_number_uses_the_default_country_code)
{
    struct signup_rules us = rules;
    char out[PHONE_E164_BUF_SIZE];
    struct field_errors errors = {0};
    us.default_country_code = "1";
    ck_assert(validate_phone_number(LIT("0415 555 2671"), &us, out, &errors));
    ck_assert_str_eq(out, "+14155552671");
    ck_assert(validate_phone_number(LIT("+62 812 3456 7890"), &us, out, &errors));
    ck_assert_str_eq(out, "+6281234567890");
    ck_assert_uint_eq(errors.count, 0);
}
END_TEST

START_TEST(test_validation_phone_number_input_is_read_only_up_to_in_len)
{
    char out[PHONE_E164_BUF_SIZE];
    struct field_errors errors = {0};
    ck_assert(validate_phone_number("0812-3456-7890abc", 14, &rules, out, &errors));
    ck_assert_uint_eq(errors.count, 0);
    ck_assert_str_eq(out, "+6281234567890");
}
END_TEST

/* ------------------------------------------------------------------ */
/* accept_terms                                                        */

START_TEST(test_validation_accept_terms_false_says_must_be_accepted)
{
    struct field_errors errors = {0};
    ck_assert(!validate_accept_terms(false, &errors));
    assert_single_error(&errors, "terms_not_accepted", "accept_terms false");
    ck_assert_str_eq(errors.items[0].field, "accept_terms");
    ck_assert_str_eq(errors.items[0].message, "must be accepted");
}
END_TEST

START_TEST(test_validation_accept_terms_true_is_valid)
{
    struct field_errors errors = {0};
    ck_assert(validate_accept_terms(true, &errors));
    ck_assert_uint_eq(errors.count, 0);
}
END_TEST

START_TEST(test_email_limit_key_lower_cases_ascii_letters_only)
{
    char key[EMAIL_BUF_SIZE];
    ck_assert(email_limit_key("Budi.Santoso@LintasArta.CO.id", key));
    ck_assert_str_eq(key, "budi.santoso@lintasarta.co.id");
    /* Non-ASCII letters are left as they are: PostgreSQL's lower() decides those. */
    ck_assert(email_limit_key("\xc3\x89lodie@Example.com", key));
    ck_assert_str_eq(key, "\xc3\x89lodie@example.com");
}
END_TEST

START_TEST(test_email_limit_key_refuses_what_cannot_be_an_address)
{
    char key[EMAIL_BUF_SIZE], long_address[EMAIL_MAX_OCTETS + 2];
    memset(long_address, 'a', sizeof long_address - 1);
    long_address[sizeof long_address - 1] = '\0';
    ck_assert(!email_limit_key("", key));
    ck_assert_str_eq(key, "");
    ck_assert(!email_limit_key(long_address, key));
    ck_assert_str_eq(key, "");
    ck_assert(!email_limit_key("a\xff@example.com", key));
    ck_assert_str_eq(key, "");
    long_address[EMAIL_MAX_OCTETS] = '\0'; /* exactly 254 octets fits */
    ck_assert(email_limit_key(long_address, key));
    ck_assert_uint_eq(strlen(key), EMAIL_MAX_OCTETS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("signup_validation");

    TCase *tc = tcase_create("field_errors");
    tcase_add_checked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_test(tc, test_validation_field_errors_add_and_has);
    tcase_add_test(tc, test_validation_field_errors_overflow_is_ignored);
    tcase_add_test(tc, test_validation_errors_of_every_field_accumulate_in_one_list);
    tcase_add_test(tc, test_validation_valid_fields_add_no_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("full_name");
    tcase_add_checked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_loop_test(tc, test_validation_full_name_valid_is_trimmed_and_collapsed, 0,
                        (int)COUNT_OF(FULL_NAME_VALID));
    tcase_add_loop_test(tc, test_validation_full_name_invalid_reports_one_error, 0, (int)COUNT_OF(FULL_NAME_INVALID));
    tcase_add_loop_test(tc, test_validation_full_name_is_at_most_100_code_points, 0, (int)COUNT_OF(FULL_NAME_LENGTHS));
    tcase_add_test(tc, test_validation_full_name_input_is_read_only_up_to_in_len);
    suite_add_tcase(s, tc);

    tc = tcase_create("email");
    tcase_add_checked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_loop_test(tc, test_validation_email_valid_is_trimmed_with_domain_lower_cased, 0,
                        (int)COUNT_OF(EMAIL_VALID));
    tcase_add_test(tc, test_validation_email_dot_atom_special_characters_are_valid);
    tcase_add_loop_test(tc, test_validation_email_invalid_reports_exactly_one_error, 0, (int)COUNT_OF(EMAIL_INVALID));
    tcase_add_loop_test(tc, test_validation_email_length_limits_are_64_local_254_total_63_label, 0,
                        (int)COUNT_OF(EMAIL_SIZES));
    tcase_add_test(tc, test_validation_email_254_octet_address_fills_buffer_exactly);
    tcase_add_test(tc, test_validation_email_input_is_read_only_up_to_in_len);
    tcase_add_test(tc, test_email_limit_key_lower_cases_ascii_letters_only);
    tcase_add_test(tc, test_email_limit_key_refuses_what_cannot_be_an_address);
    suite_add_tcase(s, tc);

    tc = tcase_create("password");
    tcase_add_checked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_loop_test(tc, test_validation_password_lists_every_violation, 0, (int)COUNT_OF(PASSWORDS));
    tcase_add_test(tc, test_validation_password_without_symbol_says_must_include_the_symbol);
    tcase_add_loop_test(tc, test_validation_password_is_at_most_256_bytes, 0, (int)COUNT_OF(PASSWORD_LENGTHS));
    tcase_add_test(tc, test_validation_password_too_long_and_missing_classes_are_listed_together);
    tcase_add_test(tc, test_validation_password_input_is_read_only_up_to_in_len);
    suite_add_tcase(s, tc);

    tc = tcase_create("phone_number");
    tcase_add_checked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_loop_test(tc, test_validation_phone_number_valid_is_written_as_e164, 0, (int)COUNT_OF(PHONE_VALID));
    tcase_add_loop_test(tc, test_validation_phone_number_invalid_reports_one_error, 0, (int)COUNT_OF(PHONE_INVALID));
    tcase_add_test(tc, test_validation_phone_number_32_and_33_byte_inputs);
    tcase_add_test(tc, test_validation_phone_number_long_input_is_invalid_not_a_crash);
    tcase_add_test(tc, test_validation_phone_number_uses_the_default_country_code);
    tcase_add_test(tc, test_validation_phone_number_input_is_read_only_up_to_in_len);
    suite_add_tcase(s, tc);

    tc = tcase_create("accept_terms");
    tcase_add_test(tc, test_validation_accept_terms_false_says_must_be_accepted);
    tcase_add_test(tc, test_validation_accept_terms_true_is_valid);
    suite_add_tcase(s, tc);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
