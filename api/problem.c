/* The single place where an error kind becomes a status code, a stable
 * machine-readable code and a human title. */
#include "problem.h"

#include "log.h"

#include <stdlib.h>
#include <string.h>

struct problem_spec {
    unsigned int status;
    const char *code;
    const char *title;
    const char *detail;
    const char *retry_after; /* seconds, or NULL */
};

static const struct problem_spec PROBLEMS[] = {
    [PROBLEM_VALIDATION_FAILED] = {422, "validation_failed", "Your request has invalid fields",
                                   "One or more fields are invalid; see errors.", NULL},
    [PROBLEM_MALFORMED_JSON] = {400, "malformed_json", "The body is not valid JSON",
                                "The request body could not be parsed as JSON.", NULL},
    [PROBLEM_BODY_NOT_OBJECT] = {400, "body_not_object", "The body must be a JSON object",
                                 "Send the fields as one JSON object.", NULL},
    [PROBLEM_WRONG_FIELD_TYPE] = {400, "wrong_field_type", "A field has the wrong JSON type",
                                  "One or more fields have the wrong JSON type; see errors.", NULL},
    [PROBLEM_TOKEN_REQUIRED] = {400, "token_required", "The verification token is missing",
                                "This verification link is incomplete. Open the link from the verification email again, or copy all "
                                "of it into your browser.", NULL},
    [PROBLEM_INVALID_TOKEN] = {400, "invalid_token", "The verification link is not valid",
                               "This verification link is not valid. Check that the whole link was copied, or ask for a new "
                               "verification email.", NULL},
    [PROBLEM_TOKEN_EXPIRED] = {410, "token_expired", "The verification link has expired",
                               "This verification link has expired. Ask for a new verification email and use the link in it.",
                               NULL},
    [PROBLEM_PAYLOAD_TOO_LARGE] = {413, "payload_too_large", "The body is too large",
                                   "The request body must be at most 16384 bytes.", NULL},
    [PROBLEM_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type", "Unsupported media type",
                                        "Send the body as application/json.", NULL},
    [PROBLEM_NOT_FOUND] = {404, "not_found", "Not found", "There is no resource at this path.", NULL},
    [PROBLEM_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "Method not allowed",
                                    "This path does not support this method; see the Allow header.", NULL},
    [PROBLEM_RATE_LIMITED] = {429, "rate_limited", "Too many requests",
                              "Too many attempts from here or for this address. Please wait and try again.", "60"},
    [PROBLEM_SERVICE_BUSY] = {503, "service_busy", "The service is busy",
                              "The service is busy and nothing was saved. Please try again in a moment.", "2"},
    [PROBLEM_SERVICE_UNAVAILABLE] = {503, "service_unavailable", "The service is temporarily unavailable",
                                     "The service is temporarily unavailable and nothing was saved. Please try again in a moment.",
                                     "5"},
    [PROBLEM_INTERNAL_ERROR] = {500, "internal_error", "Internal server error",
                                "Something went wrong on our side; nothing was stored.", NULL},
    [PROBLEM_INVALID_CREDENTIALS] = {401, "invalid_credentials", "The email or password is incorrect",
                                     "The email address or password is incorrect. Check both and try again.", NULL},
    [PROBLEM_EMAIL_NOT_VERIFIED] = {403, "email_not_verified", "Your email address is not verified yet",
                                    "Verify your email address before you sign in. We have sent you a new "
                                    "verification email (at most one a minute): open the link in it, then sign in "
                                    "again.",
                                    NULL},
    [PROBLEM_UNAUTHORIZED] = {401, "unauthorized", "Sign-in required",
                              "This request needs a valid session: sign in and send the session token as "
                              "Authorization: Bearer <token>.",
                              NULL},
    [PROBLEM_INVALID_RESET_TOKEN] = {400, "invalid_token", "The password reset link is not valid",
                                     "This password reset link is not valid: it was already used, a newer one was "
                                     "sent, or the password was changed since. Ask for a new one from the sign-in "
                                     "page.",
                                     NULL},
    [PROBLEM_RESET_TOKEN_EXPIRED] = {410, "token_expired", "The password reset link has expired",
                                     "This password reset link has expired. Ask for a new one from the sign-in page.",
                                     NULL},
    [PROBLEM_TOO_MANY_CONNECTIONS] = {503, "too_many_connections", "Too many connections from your address",
                                      "Your address has more connections open than the service allows; nothing was "
                                      "done. Please close some or try again in a moment.",
                                      "5"},
    [PROBLEM_SERVER_AT_CAPACITY] = {503, "server_at_capacity", "The service is at capacity",
                                    "The service has as many connections as it can hold; nothing was done. Please "
                                    "try again in a moment.",
                                    "2"},
    [PROBLEM_REQUEST_TIMEOUT] = {408, "request_timeout", "The request took too long to arrive",
                                 "The request did not arrive in time; nothing was done.", NULL},
};

static json_t *errors_to_json(const struct field_errors *errors)
{
    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < errors->count; i++) {
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "field", errors->items[i].field, "code",
                                              errors->items[i].code, "message", errors->items[i].message));
    }
    return list;
}

static int respond_plain_500(struct _u_response *response)
{
    log_event(LOG_LEVEL_ERROR, "problem_document_failed", LOG_END);
    static const char BODY[] = "{\"type\":\"/problems/internal_error\",\"title\":\"Internal server error\","
                               "\"status\":500,\"detail\":\"Something went wrong on our side; nothing was stored.\","
                               "\"code\":\"internal_error\"}";
    u_map_put(response->map_header, "Content-Type", "application/problem+json");
    ulfius_set_string_body_response(response, 500, BODY);
    return U_CALLBACK_COMPLETE;
}

static int respond(struct _u_response *response, enum problem_kind kind, const char *detail,
                   const struct field_errors *errors, const char *retry_after);

int problem_respond(struct _u_response *response, enum problem_kind kind, const char *detail,
                    const struct field_errors *errors)
{
    return respond(response, kind, detail, errors, PROBLEMS[kind].retry_after);
}

int problem_respond_retry_after(struct _u_response *response, enum problem_kind kind, long retry_after_s)
{
    char seconds[24];
    snprintf(seconds, sizeof seconds, "%ld", retry_after_s > 0 ? retry_after_s : 1);
    return respond(response, kind, NULL, NULL, seconds);
}

static int respond(struct _u_response *response, enum problem_kind kind, const char *detail,
                   const struct field_errors *errors, const char *retry_after)
{
    const struct problem_spec *spec = &PROBLEMS[kind];
    char type[64];
    json_t *problem = NULL;
    char *text = NULL;

    snprintf(type, sizeof type, "/problems/%s", spec->code);
    problem = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", spec->title, "status",
                        (int)spec->status, "detail", detail ? detail : spec->detail, "code", spec->code);
    if (problem == NULL)
        return respond_plain_500(response);
    if (errors != NULL && errors->count > 0)
        json_object_set_new(problem, "errors", errors_to_json(errors));
    text = json_dumps(problem, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(problem);
    if (text == NULL)
        return respond_plain_500(response);
    u_map_put(response->map_header, "Content-Type", "application/problem+json");
    if (retry_after != NULL)
        u_map_put(response->map_header, "Retry-After", retry_after);
    /* RFC 6750: the challenge says which scheme would work. One challenge for
     * every reason, so a token's state is not revealed. */
    if (kind == PROBLEM_UNAUTHORIZED)
        u_map_put(response->map_header, "WWW-Authenticate", "Bearer");
    ulfius_set_string_body_response(response, spec->status, text);
    free(text);
    return U_CALLBACK_COMPLETE;
}

int json_respond(struct _u_response *response, unsigned int status, const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return respond_plain_500(response);
    u_map_put(response->map_header, "Content-Type", "application/json");
    ulfius_set_string_body_response(response, status, text);
    free(text);
    return U_CALLBACK_COMPLETE;
}
