/* POST /signin body: JSON shape (400s), then presence of both fields (422). */
#include "signin_request.h"

#include <stdbool.h>
#include <string.h>

#include "secret.h"

static const struct field_spec SIGNIN_FIELDS[] = {{"email", FIELD_STRING}, {"password", FIELD_STRING}};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Empty counts as blank. */
static bool is_blank(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!is_space(value[i]))
            return false;
    }
    return true;
}

/* Copies at most size - 1 bytes of value[0..len) and NUL-terminates. A NUL
 * inside value ends the copy early, which leaves a string no account has. */
static size_t copy_cut(char *out, size_t size, const char *value, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    memcpy(out, value, n);
    out[n] = '\0';
    return n;
}

enum signup_parse_status signin_request_parse(const char *body, size_t len, struct signin_request *out,
                                              struct field_errors *errors, char *detail, size_t detail_size)
{
    json_t *object = NULL;
    size_t email_len = 0, password_len = 0;

    memset(out, 0, sizeof *out);
    enum signup_parse_status status = json_body_load_object(
        body, len, SIGNIN_FIELDS, sizeof SIGNIN_FIELDS / sizeof SIGNIN_FIELDS[0], &object, errors, detail, detail_size);
    if (status != SIGNUP_PARSE_OK)
        return status;

    const char *email = json_body_string(object, "email", &email_len);
    const char *password = json_body_string(object, "password", &password_len);
    bool is_email_missing = email == NULL || is_blank(email, email_len);
    bool is_password_missing = password == NULL || is_blank(password, password_len);
    if (is_email_missing)
        field_errors_add(errors, "email", "email_required", "is required");
    if (is_password_missing)
        field_errors_add(errors, "password", "password_required", "is required");
    if (email != NULL && password != NULL && !is_email_missing && !is_password_missing) {
        /* Surrounding spaces of a pasted address are not part of it (sign-up
         * trims them too); a password is taken exactly as typed. */
        while (email_len > 0 && is_space(email[0])) {
            email++;
            email_len--;
        }
        while (email_len > 0 && is_space(email[email_len - 1]))
            email_len--;
        copy_cut(out->email, sizeof out->email, email, email_len);
        out->password_len = copy_cut(out->password, sizeof out->password, password, password_len);
    } else {
        status = SIGNUP_PARSE_INVALID;
    }
    json_decref(object);
    return status;
}

void signin_request_wipe(struct signin_request *req)
{
    secret_wipe(req->password, sizeof req->password);
    req->password_len = 0;
}
