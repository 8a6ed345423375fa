/* json_body: the shape checks shared by the JSON request bodies. */
#ifndef SIGNUP_JSON_BODY_H
#define SIGNUP_JSON_BODY_H

#include <jansson.h>
#include <stddef.h>

#include "signup_validation.h"

/* How a request body parsed (the names predate the other bodies). */
enum signup_parse_status {
    SIGNUP_PARSE_OK,
    SIGNUP_PARSE_MALFORMED_JSON, /* detail says where */
    SIGNUP_PARSE_NOT_OBJECT,
    SIGNUP_PARSE_WRONG_TYPE,     /* errors lists each field with the wrong JSON type */
    SIGNUP_PARSE_INVALID,        /* errors lists every rule violated */
};

enum field_kind { FIELD_STRING, FIELD_BOOLEAN };

struct field_spec {
    const char *name;
    enum field_kind kind;
};

/* Parses body (len bytes) and checks it is an object whose listed fields
 * have their kinds (null counts as absent; unknown fields are ignored). On
 * SIGNUP_PARSE_OK *object is a new reference the caller json_decref()s;
 * otherwise detail or errors say what is wrong. */
enum signup_parse_status json_body_load_object(const char *body, size_t len, const struct field_spec *fields,
                                               size_t n_fields, json_t **object, struct field_errors *errors,
                                               char *detail, size_t detail_size);

/* The string value of field name, borrowed from object (*len its length,
 * which may include NULs); NULL when absent, null or not a string. */
const char *json_body_string(const json_t *object, const char *name, size_t *len);

#endif
