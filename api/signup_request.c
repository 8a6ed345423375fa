/* POST /signup body: JSON shape first (400s), then the form's rules (422),
 * so a client learns about every rule it broke in one round trip. */
#include "signup_request.h"

#include <stdint.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

enum field_kind { FIELD_STRING, FIELD_BOOLEAN };

struct field_spec {
    const char *name;
    enum field_kind kind;
};

static const struct field_spec SIGNUP_FIELDS[] = {
    {"full_name", FIELD_STRING},    {"email", FIELD_STRING},       {"password", FIELD_STRING},
    {"phone_number", FIELD_STRING}, {"accept_terms", FIELD_BOOLEAN},
};

static const struct field_spec RESEND_FIELDS[] = {{"email", FIELD_STRING}};

/* Records each field whose JSON type is wrong; null counts as absent. */
static bool has_expected_types(const json_t *object, const struct field_spec *fields, size_t n_fields,
                               struct field_errors *errors)
{
    bool is_ok = true;
    for (size_t i = 0; i < n_fields; i++) {
        const json_t *value = json_object_get(object, fields[i].name);
        if (value == NULL || json_is_null(value))
            continue;
        if (fields[i].kind == FIELD_STRING && !json_is_string(value)) {
            field_errors_add(errors, fields[i].name, "wrong_type", "must be a string");
            is_ok = false;
        } else if (fields[i].kind == FIELD_BOOLEAN && !json_is_boolean(value)) {
            field_errors_add(errors, fields[i].name, "wrong_type", "must be a boolean");
            is_ok = false;
        }
    }
    return is_ok;
}

/* The checks every JSON body gets before its fields are looked at. On
 * SIGNUP_PARSE_OK *object is a new reference the caller json_decref()s. */
static enum signup_parse_status load_object(const char *body, size_t len, const struct field_spec *fields,
                                            size_t n_fields, json_t **object, struct field_errors *errors,
                                            char *detail, size_t detail_size)
{
    json_error_t json_error;
    errors->count = 0;
    detail[0] = '\0';
    /* Duplicate keys are ambiguous ("which password did they mean?"): reject. */
    *object = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &json_error);
    if (*object == NULL) {
        /* jansson quotes the offending input in its message, sometimes cut
         * inside a UTF-8 sequence; keep only the well-formed start, or the
         * problem document could not be built at all. */
        size_t text_len = strlen(json_error.text), valid_len = 0;
        uint32_t cp;
        while (valid_len < text_len && utf8_decode_next(json_error.text, text_len, &valid_len, &cp))
            ;
        snprintf(detail, detail_size, "%.*s at line %d, column %d", (int)valid_len, json_error.text,
                 json_error.line, json_error.column);
        return SIGNUP_PARSE_MALFORMED_JSON;
    }
    enum signup_parse_status status = SIGNUP_PARSE_OK;
    if (!json_is_object(*object))
        status = SIGNUP_PARSE_NOT_OBJECT;
    else if (!has_expected_types(*object, fields, n_fields, errors))
        status = SIGNUP_PARSE_WRONG_TYPE;
    if (status != SIGNUP_PARSE_OK) {
        json_decref(*object);
        *object = NULL;
    }
    return status;
}

/* Borrowed from object; NULL when absent or null. */
static const char *string_field(const json_t *object, const char *name, size_t *len)
{
    const json_t *value = json_object_get(object, name);
    if (!json_is_string(value)) {
        *len = 0;
        return NULL;
    }
    *len = json_string_length(value);
    return json_string_value(value);
}

enum signup_parse_status signup_request_parse(const char *body, size_t len, const struct signup_rules *rules,
                                              struct signup_request *out, struct field_errors *errors,
                                              char *detail, size_t detail_size)
{
    enum signup_parse_status status;
    json_t *object = NULL;
    const char *value;
    size_t value_len;

    memset(out, 0, sizeof *out);
    status = load_object(body, len, SIGNUP_FIELDS, sizeof SIGNUP_FIELDS / sizeof SIGNUP_FIELDS[0], &object, errors,
                         detail, detail_size);
    if (status != SIGNUP_PARSE_OK)
        return status;

    value = string_field(object, "full_name", &value_len);
    validate_full_name(value, value_len, out->full_name, errors);
    value = string_field(object, "email", &value_len);
    validate_email(value, value_len, rules, out->email, errors);
    value = string_field(object, "password", &value_len);
    if (validate_password(value, value_len, rules, errors)) {
        memcpy(out->password, value, value_len);
        out->password[value_len] = '\0';
        out->password_len = value_len;
    }
    value = string_field(object, "phone_number", &value_len);
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
    enum signup_parse_status status = load_object(body, len, RESEND_FIELDS, 1, &object, errors, detail, detail_size);
    if (status != SIGNUP_PARSE_OK)
        return status;
    const char *value = string_field(object, "email", &value_len);
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
