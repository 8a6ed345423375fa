/* signup_validation: the sign-up form's rules (seed page: corporate email only,
 * password of 8+ characters with upper, lower, digit and symbol) and the
 * normalisers that turn accepted input into what is stored. */
#ifndef SIGNUP_VALIDATION_H
#define SIGNUP_VALIDATION_H

#include <stdbool.h>
#include <stddef.h>

#include "account_fields.h"

struct string_set;

#define PASSWORD_MIN_CHARS 8
#define PHONE_INPUT_MAX_BYTES 32

/* One violation. All three strings are static: never freed, safe to keep. */
struct field_error {
    const char *field;
    const char *code;
    const char *message;
};

#define FIELD_ERRORS_MAX 16

struct field_errors {
    size_t count;
    struct field_error items[FIELD_ERRORS_MAX];
};

/* Appends one violation; silently ignores overflow past FIELD_ERRORS_MAX
 * (more than every rule can produce at once). */
void field_errors_add(struct field_errors *errors, const char *field, const char *code,
                      const char *message);

/* True when errors holds an entry with this code. */
bool field_errors_has(const struct field_errors *errors, const char *code);

/* The lists the corporate-email and common-password rules consult. Borrowed. */
struct signup_rules {
    const struct string_set *free_email_domains;
    const struct string_set *disposable_email_domains;
    const struct string_set *common_passwords;
    const char *default_country_code; /* calling code without '+', e.g. "62" */
};

/* Each validator takes the raw field (NULL when the field is absent), appends
 * every violation to errors, and returns true when the field is valid. On
 * success the normalised value is written to out (always NUL-terminated). */

/* Trims, collapses runs of spaces; codes: full_name_required, full_name_too_long
 * (> 100 code points), full_name_invalid (invalid UTF-8, control or bidi-override characters). */
bool validate_full_name(const char *in, size_t in_len, char out[FULL_NAME_BUF_SIZE],
                        struct field_errors *errors);

/* Trims and lower-cases the domain; codes: email_required, email_invalid,
 * email_not_corporate (the domain or a parent of it is a free-mail or disposable domain). */
bool validate_email(const char *in, size_t in_len, const struct signup_rules *rules,
                    char out[EMAIL_BUF_SIZE], struct field_errors *errors);

/* Codes: password_too_short, password_too_long, password_missing_uppercase,
 * password_missing_lowercase, password_missing_number, password_missing_symbol,
 * password_too_common. A missing password reports password_too_short. */
bool validate_password(const char *in, size_t in_len, const struct signup_rules *rules,
                       struct field_errors *errors);

/* Accepts spaces, dashes, dots and parentheses; "+CC…", "00CC…" or a national
 * number with trunk prefix 0 (given rules->default_country_code). Writes E.164.
 * Codes: phone_number_required, phone_number_invalid. */
bool validate_phone_number(const char *in, size_t in_len, const struct signup_rules *rules,
                           char out[PHONE_E164_BUF_SIZE], struct field_errors *errors);

/* The key rate limits and sign-in throttles count an address under: the
 * address with ASCII letters lower-cased, because addresses differing only in
 * letter case are one account (the accounts index compares lower(email)).
 * Returns false, with key "", for an empty, over-long or invalid UTF-8 address. */
bool email_limit_key(const char *email, char key[EMAIL_BUF_SIZE]);

/* accepted is true only for a JSON true. Code: terms_not_accepted. */
bool validate_accept_terms(bool accepted, struct field_errors *errors);

#endif
