/* The sign-up form's field rules. Each validator reports every violation it
 * finds, so the API can list them all in one 422 and the form can show each
 * message beside its field. */
#include "signup_validation.h"

#include <stdint.h>
#include <string.h>

#include "string_set.h"
#include "utf8.h"

void field_errors_add(struct field_errors *errors, const char *field, const char *code,
                      const char *message)
{
    if (errors->count >= FIELD_ERRORS_MAX)
        return;
    errors->items[errors->count].field = field;
    errors->items[errors->count].code = code;
    errors->items[errors->count].message = message;
    errors->count++;
}

bool field_errors_has(const struct field_errors *errors, const char *code)
{
    for (size_t i = 0; i < errors->count; i++) {
        if (strcmp(errors->items[i].code, code) == 0)
            return true;
    }
    return false;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Narrows [*start, *end) to exclude ASCII whitespace at both ends. */
static void trim(const char *s, size_t *start, size_t *end)
{
    while (*start < *end && is_ascii_space(s[*start]))
        (*start)++;
    while (*end > *start && is_ascii_space(s[*end - 1]))
        (*end)--;
}

/* Control characters, line/paragraph separators, and the invisible
 * characters (direction marks and overrides, zero-width space, BOM) used to
 * make a name display as something else, e.g. in the verification email. */
static bool is_forbidden_in_name(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200B || cp == 0x200E ||
           cp == 0x200F || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

bool validate_full_name(const char *in, size_t in_len, char out[FULL_NAME_BUF_SIZE],
                        struct field_errors *errors)
{
    static const char FIELD[] = "full_name";
    size_t start = 0, end = in == NULL ? 0 : in_len;
    size_t pos, written = 0;
    long chars = 0;
    bool is_well_formed = true;
    bool previous_was_space = false;
    uint32_t cp;

    out[0] = '\0';
    if (in != NULL)
        trim(in, &start, &end);
    if (start == end) {
        field_errors_add(errors, FIELD, "full_name_required", "is required");
        return false;
    }

    /* One pass: check each code point, count it, and copy it with runs of
     * spaces collapsed. The copy is only kept when everything is valid. */
    pos = start;
    while (pos < end) {
        size_t cp_start = pos;
        if (!utf8_decode_next(in, end, &pos, &cp) || is_forbidden_in_name(cp)) {
            is_well_formed = false;
            break;
        }
        if (cp == ' ' && previous_was_space)
            continue;
        previous_was_space = cp == ' ';
        chars++;
        if (chars <= FULL_NAME_MAX_CHARS) {
            memcpy(out + written, in + cp_start, pos - cp_start);
            written += pos - cp_start;
        }
    }
    out[written] = '\0';

    if (!is_well_formed)
        field_errors_add(errors, FIELD, "full_name_invalid", "contains characters that are not allowed");
    else if (chars > FULL_NAME_MAX_CHARS)
        field_errors_add(errors, FIELD, "full_name_too_long", "must be at most 100 characters");
    if (!is_well_formed || chars > FULL_NAME_MAX_CHARS) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* RFC 5322 atext: the characters of a dot-atom local part besides dots. */
static bool is_atext(char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

static bool is_valid_local_part(const char *s, size_t len)
{
    if (len == 0 || len > EMAIL_LOCAL_MAX_OCTETS || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!is_atext(s[i])) {
            return false;
        }
    }
    return true;
}

/* LDH labels (letters, digits, hyphens; punycode "xn--" included), at least two
 * of them, and a top-level label that is not all digits: no IP literals. */
static bool is_valid_domain(const char *s, size_t len)
{
    size_t label_start = 0;
    size_t labels = 0;
    bool is_label_numeric = true;

    if (len == 0)
        return false;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            size_t label_len = i - label_start;
            if (label_len == 0 || label_len > 63 || s[label_start] == '-' || s[i - 1] == '-')
                return false;
            labels++;
            if (i == len && (is_label_numeric || label_len < 2))
                return false;
            label_start = i + 1;
            is_label_numeric = true;
        } else if (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-') {
            if (!is_digit(s[i]))
                is_label_numeric = false;
        } else {
            return false;
        }
    }
    return labels >= 2;
}

/* True when domain, or any parent of it, is listed: a sub-domain of a
 * disposable service is just as disposable. */
static bool is_listed_with_parents(const struct string_set *set, const char *domain, size_t len)
{
    if (set == NULL)
        return false;
    for (size_t i = 0; i < len; i++) {
        if ((i == 0 || domain[i - 1] == '.') && string_set_contains(set, domain + i, len - i))
            return true;
    }
    return false;
}

bool validate_email(const char *in, size_t in_len, const struct signup_rules *rules,
                    char out[EMAIL_BUF_SIZE], struct field_errors *errors)
{
    static const char FIELD[] = "email";
    size_t start = 0, end = in == NULL ? 0 : in_len;
    const char *at;
    size_t len, local_len;

    out[0] = '\0';
    if (in != NULL)
        trim(in, &start, &end);
    if (start == end) {
        field_errors_add(errors, FIELD, "email_required", "is required");
        return false;
    }
    len = end - start;
    at = memchr(in + start, '@', len);
    local_len = at == NULL ? 0 : (size_t)(at - (in + start));
    if (len > EMAIL_MAX_OCTETS || at == NULL || !is_valid_local_part(in + start, local_len) ||
        !is_valid_domain(at + 1, len - local_len - 1)) {
        field_errors_add(errors, FIELD, "email_invalid", "must be a valid email address");
        return false;
    }

    memcpy(out, in + start, len);
    out[len] = '\0';
    for (size_t i = local_len + 1; i < len; i++) {
        if (out[i] >= 'A' && out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    }

    const char *domain = out + local_len + 1;
    size_t domain_len = len - local_len - 1;
    if (is_listed_with_parents(rules->free_email_domains, domain, domain_len) ||
        is_listed_with_parents(rules->disposable_email_domains, domain, domain_len)) {
        field_errors_add(errors, FIELD, "email_not_corporate", "must be a corporate email address");
        out[0] = '\0';
        return false;
    }
    return true;
}

bool email_limit_key(const char *email, char key[EMAIL_BUF_SIZE])
{
    size_t len = strlen(email);
    key[0] = '\0';
    if (len == 0 || len > EMAIL_MAX_OCTETS || utf8_count_codepoints(email, len) < 0)
        return false;
    for (size_t i = 0; i <= len; i++)
        key[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] - 'A' + 'a' : email[i]);
    return true;
}

bool validate_password(const char *in, size_t in_len, const struct signup_rules *rules,
                       struct field_errors *errors)
{
    static const char FIELD[] = "password";
    bool has_upper = false, has_lower = false, has_digit = false, has_symbol = false;
    size_t errors_before = errors->count;
    size_t pos = 0;
    long chars = 0;
    uint32_t cp;

    if (in == NULL)
        in_len = 0;
    while (pos < in_len) {
        if (!utf8_decode_next(in, in_len, &pos, &cp)) {
            /* A stray byte still counts as one character that is a symbol. */
            pos++;
            cp = 0xFFFD;
        }
        chars++;
        if (cp >= 'A' && cp <= 'Z')
            has_upper = true;
        else if (cp >= 'a' && cp <= 'z')
            has_lower = true;
        else if (cp >= '0' && cp <= '9')
            has_digit = true;
        else
            has_symbol = true;
    }

    if (chars < PASSWORD_MIN_CHARS)
        field_errors_add(errors, FIELD, "password_too_short", "must be at least 8 characters");
    if (in_len > PASSWORD_MAX_BYTES)
        field_errors_add(errors, FIELD, "password_too_long", "must be at most 256 bytes");
    if (!has_upper)
        field_errors_add(errors, FIELD, "password_missing_uppercase", "must include the uppercase letter");
    if (!has_lower)
        field_errors_add(errors, FIELD, "password_missing_lowercase", "must include the lowercase letter");
    if (!has_digit)
        field_errors_add(errors, FIELD, "password_missing_number", "must include the number");
    if (!has_symbol)
        field_errors_add(errors, FIELD, "password_missing_symbol", "must include the symbol");
    /* string_set compares case-insensitively, so "P@ssw0rd" matches "p@ssw0rd". */
    if (in_len > 0 && in_len <= PASSWORD_MAX_BYTES && string_set_contains(rules->common_passwords, in, in_len))
        field_errors_add(errors, FIELD, "password_too_common", "is too common");
    return errors->count == errors_before;
}

/* Separators people type inside phone numbers. */
static bool is_phone_separator(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

bool validate_phone_number(const char *in, size_t in_len, const struct signup_rules *rules,
                           char out[PHONE_E164_BUF_SIZE], struct field_errors *errors)
{
    static const char FIELD[] = "phone_number";
    char digits[PHONE_INPUT_MAX_BYTES + 1];
    size_t n_digits = 0;
    size_t start = 0, end = in == NULL ? 0 : in_len;
    bool has_plus = false;
    const char *national;
    size_t national_len, cc_len;

    out[0] = '\0';
    if (in != NULL)
        trim(in, &start, &end);
    if (start == end) {
        field_errors_add(errors, FIELD, "phone_number_required", "is required");
        return false;
    }
    if (end - start > PHONE_INPUT_MAX_BYTES)
        goto invalid;
    if (in[start] == '+') {
        has_plus = true;
        start++;
    }
    for (size_t i = start; i < end; i++) {
        if (is_digit(in[i]))
            digits[n_digits++] = in[i];
        else if (!is_phone_separator(in[i]))
            goto invalid;
    }
    digits[n_digits] = '\0';

    if (!has_plus && n_digits >= 2 && digits[0] == '0' && digits[1] == '0') {
        /* "00" is the international call prefix: same as '+'. */
        memmove(digits, digits + 2, n_digits - 1);
        n_digits -= 2;
        has_plus = true;
    }
    if (has_plus) {
        if (n_digits < 8 || n_digits > 15 || digits[0] == '0')
            goto invalid;
        out[0] = '+';
        memcpy(out + 1, digits, n_digits + 1);
        return true;
    }

    /* A national number: trunk prefix 0, replaced by the default country code. */
    if (n_digits < 2 || digits[0] != '0' || digits[1] == '0')
        goto invalid;
    national = digits + 1;
    national_len = n_digits - 1;
    cc_len = strlen(rules->default_country_code);
    if (cc_len + national_len < 8 || cc_len + national_len > 15)
        goto invalid;
    out[0] = '+';
    memcpy(out + 1, rules->default_country_code, cc_len);
    memcpy(out + 1 + cc_len, national, national_len + 1);
    return true;

invalid:
    out[0] = '\0';
    field_errors_add(errors, FIELD, "phone_number_invalid", "must be a valid phone number");
    return false;
}

bool validate_accept_terms(bool accepted, struct field_errors *errors)
{
    if (!accepted)
        field_errors_add(errors, "accept_terms", "terms_not_accepted", "must be accepted");
    return accepted;
}
