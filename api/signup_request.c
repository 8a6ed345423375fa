/* POST /signup body: JSON shape first (400s), then the form's rules (422),
 * so a client learns about every rule it broke in one round trip. */
#include "signup_request.h"

#include <stdint.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "json_body.h"

static const struct field_spec SIGNUP_FIELDS[] = {
    {"full_name", FIELD_STRING},    {"email", FIELD_STRING},       {"password", FIELD_STRING},
    {"phone_number", FIELD_STRING}, {"accept_terms", FIELD_BOOLEAN},
};

static const struct field_spec RESEND_FIELDS[] = {{"email", FIELD_STRING}};

enum signup_parse_status signup_request_parse(const char *body, size_t len, const struct signup_rules *rules,
                                              struct signup_request *out, struct field_errors *errors,
                                              char *detail, size_t detail_size)
{
    enum signup_parse_status status;
    json_t *object = NULL;
    const char *value;
    size_t value_len;

    memset(out, 0, sizeof *out);
    status = json_body_load_object(body, len, SIGNUP_FIELDS, sizeof SIGNUP_FIELDS / sizeof SIGNUP_FIELDS[0], &object, errors,
                         detail, detail_size);
    if (status != SIGNUP_PARSE_OK)
        return status;

    value = json_body_string(object, "full_name", &value_len);
    validate_full_name(value, value_len, out->full_name, errors);
    value = json_body_string(object, "email", &value_len);
    validate_email(value, value_len, rules, out->email, errors);
    value = json_body_string(object, "password", &value_len);
    if (validate_password(value, value_len, rules, errors)) {
        memcpy(out->password, value, value_len);
        out->password[value_len] = '\0';
        out->password_len = value_len;
    }
    value = json_body_string(object, "phone_number", &value_len);
    validate_phone_number(value, value_len, rules, out->phone_number, errors);
    validate_accept_terms(json_is_true(json_object_get(object, "accept_terms")), errors);

    status = errors->count == 0 ? SIGNUP_PARSE_OK : SIGNUP_PARSE_INVALID;
    if (status != SIGNUP_PARSE_OK)
        signup_request_wipe(out);
    json_decref(object);
    return status;
}

enum signup_parse_status resend_request_parse(const char *body, size_t len, const struct signup_rules *rules,
                                              char email[EMAIL_BUF_SIZE], struct field_errors *errors,
                                              char *detail, size_t detail_size)
{
    json_t *object = NULL;
    size_t value_len;
    email[0] = '\0';
    enum signup_parse_status status = json_body_load_object(body, len, RESEND_FIELDS, 1, &object, errors, detail, detail_size);
    if (status != SIGNUP_PARSE_OK)
        return status;
    const char *value = json_body_string(object, "email", &value_len);
    if (!validate_email(value, value_len, rules, email, errors)) {
        /* Only malformed input is the caller's error. A free-mail address
         * simply has no account here, which the answer must not reveal. */
        status = field_errors_has(errors, "email_not_corporate") ? SIGNUP_PARSE_OK : SIGNUP_PARSE_INVALID;
        if (status == SIGNUP_PARSE_OK)
            errors->count = 0;
    }
    json_decref(object);
    return status;
}
