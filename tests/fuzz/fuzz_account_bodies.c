/* libFuzzer harness: the sign-in, reset and change body parsers on
 * arbitrary bytes. Whatever they accept stays within its buffers (the
 * sign-in copy is cut, never overflowed) and the borrowed strings point into
 * the parsed object; a 422 always names a field. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "password_request.h"
#include "signin_request.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "invariant violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                            \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static void check_errors(enum signup_parse_status status, const struct field_errors *errors)
{
    if (status == SIGNUP_PARSE_INVALID || status == SIGNUP_PARSE_WRONG_TYPE) {
        CHECK(errors->count > 0);
        for (size_t i = 0; i < errors->count; i++)
            CHECK(errors->items[i].field != NULL && errors->items[i].code != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    char detail[256];
    struct field_errors errors = {0};

    struct signin_request signin;
    enum signup_parse_status status = signin_request_parse(body, size, &signin, &errors, detail, sizeof detail);
    check_errors(status, &errors);
    if (status == SIGNUP_PARSE_OK) {
        CHECK(strlen(signin.email) <= EMAIL_MAX_OCTETS + 1);
        CHECK(signin.password_len <= PASSWORD_MAX_BYTES + 1);
        CHECK(signin.password_len > 0);
    }
    signin_request_wipe(&signin);

    json_t *object = NULL;
    struct password_reset_request reset;
    errors.count = 0;
    status = password_reset_request_parse(body, size, &object, &reset, &errors, detail, sizeof detail);
    check_errors(status, &errors);
    if (status == SIGNUP_PARSE_OK) {
        CHECK(object != NULL && reset.token != NULL && reset.password != NULL);
        CHECK(strlen(reset.token) <= reset.token_len); /* a NUL inside may end it early */
    } else {
        CHECK(object == NULL);
    }
    json_decref(object);

    object = NULL;
    struct password_change_request change;
    errors.count = 0;
    status = password_change_request_parse(body, size, &object, &change, &errors, detail, sizeof detail);
    check_errors(status, &errors);
    if (status == SIGNUP_PARSE_OK)
        CHECK(object != NULL && change.current_len > 0 && change.new_password != NULL);
    else
        CHECK(object == NULL);
    json_decref(object);
    return 0;
}
