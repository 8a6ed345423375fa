/* Password reset and change bodies: JSON shape (400s) and presence. */
#include "password_request.h"

#include <string.h>

static const struct field_spec RESET_FIELDS[] = {{"token", FIELD_STRING}, {"password", FIELD_STRING}};
static const struct field_spec CHANGE_FIELDS[] = {{"current_password", FIELD_STRING},
                                                  {"new_password", FIELD_STRING}};

/* The string field, or "" (length 0) when absent or null. */
static const char *string_or_empty(const json_t *object, const char *name, size_t *len)
{
    const char *value = json_body_string(object, name, len);
    return value != NULL ? value : "";
}

enum signup_parse_status password_reset_request_parse(const char *body, size_t len, json_t **object,
                                                      struct password_reset_request *out,
                                                      struct field_errors *errors, char *detail,
                                                      size_t detail_size)
{
    memset(out, 0, sizeof *out);
    enum signup_parse_status status =
        json_body_load_object(body, len, RESET_FIELDS, 2, object, errors, detail, detail_size);
    if (status != SIGNUP_PARSE_OK)
        return status;
    out->token = string_or_empty(*object, "token", &out->token_len);
    out->password = string_or_empty(*object, "password", &out->password_len);
    return SIGNUP_PARSE_OK;
}

enum signup_parse_status password_change_request_parse(const char *body, size_t len, json_t **object,
                                                       struct password_change_request *out,
                                                       struct field_errors *errors, char *detail,
                                                       size_t detail_size)
{
    memset(out, 0, sizeof *out);
    enum signup_parse_status status =
        json_body_load_object(body, len, CHANGE_FIELDS, 2, object, errors, detail, detail_size);
    if (status != SIGNUP_PARSE_OK)
        return status;
    out->current_password = string_or_empty(*object, "current_password", &out->current_len);
    out->new_password = string_or_empty(*object, "new_password", &out->new_len);
    if (out->current_len == 0) {
        field_errors_add(errors, "current_password", "current_password_required", "is required");
        json_decref(*object);
        *object = NULL;
        return SIGNUP_PARSE_INVALID;
    }
    return SIGNUP_PARSE_OK;
}
