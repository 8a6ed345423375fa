/* libFuzzer harness: arbitrary bytes as a POST /signup and a POST
 * /verify/resend body, through the parsers the handlers call, checking what
 * the handlers rely on: a known status, NUL-terminated outputs, a detail that
 * problem+json can carry, well-formed normalised fields, a wiped password. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signup_request.h"
#include "string_set.h"
#include "utf8.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "invariant violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                            \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* The handlers' buffer for json_error_t text plus position. */
#define DETAIL_SIZE 256

static struct signup_rules rules;

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
    rules.default_country_code = "62";
    return 0;
}

/* What problem_respond() does with a detail: json_pack "s" refuses invalid
 * UTF-8, and the handler would then answer 500 instead of 400. */
static void check_detail(enum signup_parse_status status, const char *detail)
{
    CHECK(memchr(detail, '\0', DETAIL_SIZE) != NULL);
    if (status != SIGNUP_PARSE_MALFORMED_JSON) {
        CHECK(detail[0] == '\0');
        return;
    }
    CHECK(detail[0] != '\0');
    json_t *j = json_pack("{s:s}", "detail", detail);
    CHECK(j != NULL);
    json_decref(j);
}

static void check_errors(enum signup_parse_status status, const struct field_errors *errors)
{
    CHECK(errors->count <= FIELD_ERRORS_MAX);
    if (status == SIGNUP_PARSE_WRONG_TYPE || status == SIGNUP_PARSE_INVALID)
        CHECK(errors->count > 0);
    else
        CHECK(errors->count == 0);
    for (size_t i = 0; i < errors->count; i++) {
        const struct field_error *e = &errors->items[i];
        CHECK(e->field != NULL && e->code != NULL && e->message != NULL);
        CHECK((strcmp(e->code, "wrong_type") == 0) == (status == SIGNUP_PARSE_WRONG_TYPE));
    }
}

static bool is_e164(const char *s)
{
    size_t digits = strlen(s + 1);
    /* ^\+[1-9][0-9]{7,14}$: E.164 with the README's 8-15 digits. */
    return s[0] == '+' && s[1] >= '1' && s[1] <= '9' && digits >= 8 && digits <= 15 &&
           strspn(s + 1, "0123456789") == digits;
}

static void check_email(const char *email)
{
    CHECK(memchr(email, '\0', EMAIL_BUF_SIZE) != NULL);
    const char *at = strchr(email, '@');
    CHECK(at != NULL && at != email && strchr(at + 1, '@') == NULL);
    for (const char *p = at + 1; *p != '\0'; p++)
        CHECK(!(*p >= 'A' && *p <= 'Z'));
    json_t *j = json_pack("{s:s}", "email", email); /* the 201 body */
    CHECK(j != NULL);
    json_decref(j);
}

static void check_signup(const uint8_t *data, size_t size)
{
    struct signup_request *req = malloc(sizeof *req);
    struct field_errors errors;
    char *detail = malloc(DETAIL_SIZE);
    memset(req, 0xAA, sizeof *req);
    memset(&errors, 0xAA, sizeof errors);

    enum signup_parse_status status =
        signup_request_parse((const char *)data, size, &rules, req, &errors, detail, DETAIL_SIZE);
    CHECK(status >= SIGNUP_PARSE_OK && status <= SIGNUP_PARSE_INVALID);
    check_detail(status, detail);
    check_errors(status, &errors);
    if (status == SIGNUP_PARSE_OK) {
        size_t name_len = strnlen(req->full_name, FULL_NAME_BUF_SIZE);
        CHECK(name_len > 0 && name_len < FULL_NAME_BUF_SIZE);
        long chars = utf8_count_codepoints(req->full_name, name_len);
        CHECK(chars > 0 && chars <= FULL_NAME_MAX_CHARS);
        check_email(req->email);
        CHECK(memchr(req->phone_number, '\0', PHONE_E164_BUF_SIZE) != NULL && is_e164(req->phone_number));
        CHECK(req->password_len >= PASSWORD_MIN_CHARS && req->password_len <= PASSWORD_MAX_BYTES);
        CHECK(req->password[req->password_len] == '\0' && strlen(req->password) == req->password_len);
    } else {
        /* Whatever failed, no password may be left behind. */
        for (size_t i = 0; i < sizeof req->password; i++)
            CHECK(req->password[i] == '\0');
        CHECK(req->password_len == 0);
    }
    signup_request_wipe(req);
    free(detail);
    free(req);
}

static void check_resend(const uint8_t *data, size_t size)
{
    char *email = malloc(EMAIL_BUF_SIZE);
    char *detail = malloc(DETAIL_SIZE);
    struct field_errors errors;
    memset(email, 0xAA, EMAIL_BUF_SIZE);
    memset(&errors, 0xAA, sizeof errors);

    enum signup_parse_status status =
        resend_request_parse((const char *)data, size, &rules, email, &errors, detail, DETAIL_SIZE);
    CHECK(status >= SIGNUP_PARSE_OK && status <= SIGNUP_PARSE_INVALID);
    check_detail(status, detail);
    check_errors(status, &errors);
    CHECK(memchr(email, '\0', EMAIL_BUF_SIZE) != NULL);
    if (status == SIGNUP_PARSE_OK && email[0] != '\0')
        check_email(email);
    if (status != SIGNUP_PARSE_OK)
        CHECK(email[0] == '\0');
    free(detail);
    free(email);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_signup(data, size);
    check_resend(data, size);
    return 0;
}
