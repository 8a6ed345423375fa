/* The checks every JSON request body gets before its fields are looked at:
 * well-formed JSON without duplicate keys, an object, each known field of
 * its expected type. */
#include "json_body.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

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

enum signup_parse_status json_body_load_object(const char *body, size_t len, const struct field_spec *fields,
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

const char *json_body_string(const json_t *object, const char *name, size_t *len)
{
    const json_t *value = json_object_get(object, name);
    if (!json_is_string(value)) {
        *len = 0;
        return NULL;
    }
    *len = json_string_length(value);
    return json_string_value(value);
}
