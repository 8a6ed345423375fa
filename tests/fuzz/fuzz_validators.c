/* libFuzzer harness: each field validator on arbitrary bytes, against an
 * independent model of the README's rules (its own UTF-8 decoder, trimming,
 * email grammar and phone normalisation). Any disagreement, any output that
 * is not NUL-terminated inside its buffer, a normalised email with an upper-case
 * domain or a phone number that is not E.164 aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signup_validation.h"
#include "string_set.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "invariant violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                            \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static struct signup_rules rules;
static const char *const COUNTRY_CODES[] = {"62", "1", "998"};

static struct string_set *set_of(const char *const *items)
{
    struct string_set *set = string_set_create();
    CHECK(set != NULL);
    for (size_t i = 0; items[i] != NULL; i++)
        CHECK(string_set_add(set, items[i], strlen(items[i])));
    return set;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const FREE[] = {"gmail.com", "yahoo.com", "yahoo.co.id", "outlook.com", NULL};
    static const char *const DISPOSABLE[] = {"mailinator.com", "10minutemail.com", "guerrillamail.com", NULL};
    static const char *const COMMON[] = {"password", "p@ssw0rd", "passw0rd!", "qwerty123!", "p@ssword1", NULL};
    (void)argc;
    (void)argv;
    rules.free_email_domains = set_of(FREE);
    rules.disposable_email_domains = set_of(DISPOSABLE);
    rules.common_passwords = set_of(COMMON);
    return 0;
}

/* ---- the model --------------------------------------------------------- */

/* Strict UTF-8 (RFC 3629), written apart from api/utf8.c so the two can
 * disagree. Returns the sequence length, 0 when ill-formed. */
static size_t model_decode(const unsigned char *s, size_t left, uint32_t *cp)
{
    static const struct {
        unsigned char mask, lead;
        size_t len;
        uint32_t min;
    } FORMS[] = {{0x80, 0x00, 1, 0}, {0xE0, 0xC0, 2, 0x80}, {0xF0, 0xE0, 3, 0x800}, {0xF8, 0xF0, 4, 0x10000}};
    for (size_t f = 0; f < 4; f++) {
        if ((s[0] & FORMS[f].mask) != FORMS[f].lead)
            continue;
        if (left < FORMS[f].len)
            return 0;
        uint32_t v = s[0] & (unsigned char)~FORMS[f].mask;
        for (size_t i = 1; i < FORMS[f].len; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            v = (v << 6) | (s[i] & 0x3F);
        }
        if (v < FORMS[f].min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
        *cp = v;
        return FORMS[f].len;
    }
    return 0;
}

static bool model_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void model_trim(const unsigned char *s, size_t len, size_t *start, size_t *end)
{
    *start = 0;
    *end = len;
    while (*start < *end && model_is_space(s[*start]))
        (*start)++;
    while (*end > *start && model_is_space(s[*end - 1]))
        (*end)--;
}

/* What the README forbids in names: control characters, line and paragraph
 * separators, and the invisible characters: direction marks (incl. U+061C),
 * embeddings, overrides and isolates, zero-width space and BOM. */
static bool model_is_forbidden_in_name(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200B || cp == 0x200E ||
           cp == 0x200F || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

static bool model_is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool model_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool model_is_letter_or_digit(unsigned char c)
{
    return model_is_upper(c) || (c >= 'a' && c <= 'z') || model_is_digit(c);
}

static bool has_code(const struct field_errors *errors, const char *code)
{
    for (size_t i = 0; i < errors->count; i++) {
        if (strcmp(errors->items[i].code, code) == 0)
            return true;
    }
    return false;
}

/* ---- full_name --------------------------------------------------------- */

static void check_full_name(const unsigned char *in, size_t len)
{
    char *out = malloc(FULL_NAME_BUF_SIZE);
    char *expected = malloc(len + 1);
    struct field_errors errors = {0};
    size_t start, end, n = 0;
    long chars = 0;
    bool is_well_formed = true, previous_was_space = false;
    const char *expected_code = NULL;

    memset(out, 0xAA, FULL_NAME_BUF_SIZE);
    bool is_ok = validate_full_name(len == 0 ? NULL : (const char *)in, len, out, &errors);

    model_trim(in, len, &start, &end);
    for (size_t pos = start; pos < end;) {
        uint32_t cp;
        size_t seq = model_decode(in + pos, end - pos, &cp);
        if (seq == 0 || model_is_forbidden_in_name(cp)) {
            is_well_formed = false;
            break;
        }
        if (!(cp == ' ' && previous_was_space)) {
            memcpy(expected + n, in + pos, seq);
            n += seq;
            chars++;
        }
        previous_was_space = cp == ' ';
        pos += seq;
    }
    expected[n] = '\0';
    if (start == end)
        expected_code = "full_name_required";
    else if (!is_well_formed)
        expected_code = "full_name_invalid";
    else if (chars > FULL_NAME_MAX_CHARS)
        expected_code = "full_name_too_long";

    CHECK(memchr(out, '\0', FULL_NAME_BUF_SIZE) != NULL);
    CHECK(is_ok == (expected_code == NULL));
    if (is_ok) {
        CHECK(errors.count == 0);
        CHECK(strcmp(out, expected) == 0);
    } else {
        CHECK(errors.count == 1 && strcmp(errors.items[0].code, expected_code) == 0);
        CHECK(strcmp(errors.items[0].field, "full_name") == 0);
        CHECK(out[0] == '\0');
    }
    free(expected);
    free(out);
}

/* ---- email --------------------------------------------------------------- */

static bool model_is_atext(unsigned char c)
{
    return model_is_letter_or_digit(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

static bool model_local_part(const unsigned char *s, size_t len)
{
    if (len == 0 || len > 64 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' ? s[i + 1] == '.' : !model_is_atext(s[i]))
            return false;
    }
    return true;
}

static bool model_domain(const unsigned char *s, size_t len)
{
    size_t labels = 0, label_start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!model_is_letter_or_digit(s[i]) && s[i] != '-')
                return false;
            continue;
        }
        size_t label_len = i - label_start;
        if (label_len == 0 || label_len > 63 || s[label_start] == '-' || s[i - 1] == '-')
            return false;
        labels++;
        if (i == len) {
            /* The top-level label: two characters at least, not all digits. */
            bool is_numeric = true;
            for (size_t k = label_start; k < i; k++)
                is_numeric = is_numeric && model_is_digit(s[k]);
            if (is_numeric || label_len < 2)
                return false;
        }
        label_start = i + 1;
    }
    return labels >= 2;
}

static bool model_is_listed(const char *domain)
{
    for (const char *p = domain; p != NULL; p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL) {
        if (string_set_contains(rules.free_email_domains, p, strlen(p)) ||
            string_set_contains(rules.disposable_email_domains, p, strlen(p)))
            return true;
    }
    return false;
}

static void check_email(const unsigned char *in, size_t len)
{
    char *out = malloc(EMAIL_BUF_SIZE);
    struct field_errors errors = {0};
    size_t start, end;
    const char *expected_code = NULL;
    char expected[EMAIL_BUF_SIZE] = "";

    memset(out, 0xAA, EMAIL_BUF_SIZE);
    bool is_ok = validate_email(len == 0 ? NULL : (const char *)in, len, &rules, out, &errors);

    model_trim(in, len, &start, &end);
    const unsigned char *s = in + start;
    size_t n = end - start;
    const unsigned char *at = n > 0 ? memchr(s, '@', n) : NULL;
    if (n == 0) {
        expected_code = "email_required";
    } else if (n > 254 || at == NULL || !model_local_part(s, (size_t)(at - s)) ||
               !model_domain(at + 1, n - (size_t)(at - s) - 1)) {
        expected_code = "email_invalid";
    } else {
        memcpy(expected, s, n);
        expected[n] = '\0';
        for (size_t i = (size_t)(at - s) + 1; i < n; i++)
            expected[i] = model_is_upper((unsigned char)expected[i]) ? (char)(expected[i] + 32) : expected[i];
        if (model_is_listed(expected + (at - s) + 1))
            expected_code = "email_not_corporate";
    }

    CHECK(memchr(out, '\0', EMAIL_BUF_SIZE) != NULL);
    CHECK(is_ok == (expected_code == NULL));
    if (is_ok) {
        const char *out_at = strchr(out, '@');
        CHECK(errors.count == 0);
        CHECK(strcmp(out, expected) == 0);
        CHECK(strlen(out) <= EMAIL_MAX_OCTETS);
        CHECK(out_at != NULL && strchr(out_at + 1, '@') == NULL);
        for (const char *p = out_at + 1; *p != '\0'; p++)
            CHECK(!model_is_upper((unsigned char)*p));
    } else {
        CHECK(errors.count == 1 && strcmp(errors.items[0].code, expected_code) == 0);
        CHECK(out[0] == '\0');
    }
    free(out);
}

/* ---- phone_number -------------------------------------------------------- */

static bool is_e164(const char *s)
{
    size_t digits = strlen(s + 1);
    /* ^\+[1-9][0-9]{6,14}$, and the README's stricter 8 digits at least. */
    return s[0] == '+' && s[1] >= '1' && s[1] <= '9' && digits >= 8 && digits <= 15 &&
           strspn(s + 1, "0123456789") == digits;
}

static void check_phone(const unsigned char *in, size_t len, const char *country_code)
{
    char *out = malloc(PHONE_E164_BUF_SIZE);
    struct field_errors errors = {0};
    struct signup_rules r = rules;
    char digits[64] = "", expected[64] = "";
    size_t start, end, n_digits = 0;
    bool is_international = false, is_valid = true;

    r.default_country_code = country_code;
    memset(out, 0xAA, PHONE_E164_BUF_SIZE);
    bool is_ok = validate_phone_number(len == 0 ? NULL : (const char *)in, len, &r, out, &errors);

    model_trim(in, len, &start, &end);
    if (end - start > PHONE_INPUT_MAX_BYTES) {
        is_valid = false;
    } else {
        if (start < end && in[start] == '+') {
            is_international = true;
            start++;
        }
        for (size_t i = start; i < end && is_valid; i++) {
            if (model_is_digit(in[i]))
                digits[n_digits++] = (char)in[i];
            else if (strchr(" -.()", in[i]) == NULL || in[i] == '\0')
                is_valid = false;
        }
    }
    if (is_valid && !is_international && n_digits >= 2 && digits[0] == '0' && digits[1] == '0') {
        is_international = true;
        memmove(digits, digits + 2, n_digits - 1);
        n_digits -= 2;
    }
    if (is_valid && is_international)
        is_valid = n_digits >= 8 && n_digits <= 15 && digits[0] != '0' &&
                   snprintf(expected, sizeof expected, "+%s", digits) > 0;
    else if (is_valid)
        is_valid = n_digits >= 2 && digits[0] == '0' && digits[1] != '0' && strlen(country_code) + n_digits - 1 >= 8 &&
                   strlen(country_code) + n_digits - 1 <= 15 &&
                   snprintf(expected, sizeof expected, "+%s%s", country_code, digits + 1) > 0;

    CHECK(memchr(out, '\0', PHONE_E164_BUF_SIZE) != NULL);
    if (start == end && !is_international) {
        CHECK(!is_ok && errors.count == 1 && strcmp(errors.items[0].code, "phone_number_required") == 0);
    } else if (is_ok) {
        CHECK(is_valid && errors.count == 0);
        CHECK(strcmp(out, expected) == 0);
        CHECK(is_e164(out));
    } else {
        CHECK(!is_valid);
        CHECK(errors.count == 1 && strcmp(errors.items[0].code, "phone_number_invalid") == 0);
        CHECK(out[0] == '\0');
    }
    free(out);
}

/* ---- password ------------------------------------------------------------- */

static void check_password(const unsigned char *in, size_t len)
{
    struct field_errors errors = {0};
    bool has_upper = false, has_lower = false, has_digit = false, has_symbol = false;
    long chars = 0;

    bool is_ok = validate_password(len == 0 ? NULL : (const char *)in, len, &rules, &errors);

    for (size_t pos = 0; pos < len; chars++) {
        uint32_t cp;
        size_t seq = model_decode(in + pos, len - pos, &cp);
        if (seq == 0) {
            seq = 1;
            cp = 0xFFFD; /* a stray byte is one character, a symbol */
        }
        pos += seq;
        if (cp < 0x80 && model_is_upper((unsigned char)cp))
            has_upper = true;
        else if (cp >= 'a' && cp <= 'z')
            has_lower = true;
        else if (cp < 0x80 && model_is_digit((unsigned char)cp))
            has_digit = true;
        else
            has_symbol = true;
    }
    bool is_common =
        len > 0 && len <= PASSWORD_MAX_BYTES && string_set_contains(rules.common_passwords, (const char *)in, len);
    const struct {
        bool is_expected;
        const char *code;
    } EXPECTED[] = {
        {chars < PASSWORD_MIN_CHARS, "password_too_short"},
        {len > PASSWORD_MAX_BYTES, "password_too_long"},
        {!has_upper, "password_missing_uppercase"},
        {!has_lower, "password_missing_lowercase"},
        {!has_digit, "password_missing_number"},
        {!has_symbol, "password_missing_symbol"},
        {is_common, "password_too_common"},
    };
    size_t n_expected = 0;
    for (size_t i = 0; i < sizeof EXPECTED / sizeof EXPECTED[0]; i++) {
        CHECK(has_code(&errors, EXPECTED[i].code) == EXPECTED[i].is_expected);
        n_expected += EXPECTED[i].is_expected;
    }
    CHECK(errors.count == n_expected);
    CHECK(is_ok == (n_expected == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_full_name(data, size);
    check_email(data, size);
    check_phone(data, size, COUNTRY_CODES[size % 3]);
    check_password(data, size);
    return 0;
}
