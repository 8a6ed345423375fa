/* POST /password/forgot, /password/reset, /password/change: envelope and
 * body checks, one call to the recovery service, its outcome mapped to HTTP. */
#include "app.h"
#include "bearer_token.h"
#include "client_ip.h"
#include "handler_common.h"
#include "handlers.h"
#include "http_body.h"
#include "password_request.h"
#include "problem.h"
#include "signup_request.h"

static const char FORGOT_MESSAGE[] =
    "If an account uses this address, we have sent it an email with a link to reset the password.";
static const char RESET_MESSAGE[] = "Your password has been changed. You can now sign in with your new password.";

static int respond_status(struct _u_response *response, unsigned int status, const char *word, const char *message)
{
    json_t *body = message ? json_pack("{s:s, s:s}", "status", word, "message", message)
                           : json_pack("{s:s}", "status", word);
    int rc = body ? json_respond(response, status, body) : problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    json_decref(body);
    return rc;
}

int callback_password_forgot_post(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    struct field_errors errors = {0};
    char email[EMAIL_BUF_SIZE], detail[256], client_ip[CLIENT_IP_MAX];
    long retry_after_s = 0;

    int rc = http_body_check_json(request, response);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;
    /* The same rules as a resend: malformed is 422; a well-formed address
     * that is not corporate has no account, so it is just another 202. */
    rc = handler_respond_parse_status(response,
                                      resend_request_parse(request->binary_body, request->binary_body_length,
                                                           &app->rules, email, &errors, detail, sizeof detail),
                                      detail, &errors);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;
    if (email[0] != '\0') {
        client_ip_resolve(request, app->trusted_proxies, client_ip);
        switch (password_forgot(&app->recovery, email, client_ip, &retry_after_s)) {
        case FORGOT_RATE_LIMITED:
            return problem_respond_retry_after(response, PROBLEM_RATE_LIMITED, retry_after_s);
        case FORGOT_UNAVAILABLE:
            return problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
        case FORGOT_FAILED:
            return problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
        case FORGOT_ACCEPTED:
            break;
        }
    }
    /* One answer for a known, unknown or unverified address, sent or not. */
    return respond_status(response, 202, "accepted", FORGOT_MESSAGE);
}

int callback_password_reset_post(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    struct field_errors errors = {0};
    struct password_reset_request req;
    json_t *object = NULL;
    char detail[256];

    int rc = http_body_check_json(request, response);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;
    rc = handler_respond_parse_status(response,
                                      password_reset_request_parse(request->binary_body, request->binary_body_length,
                                                                   &object, &req, &errors, detail, sizeof detail),
                                      detail, &errors);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;
    switch (password_reset(&app->recovery, req.token, req.token_len, req.password, req.password_len, &errors)) {
    case RESET_DONE:
        rc = respond_status(response, 200, "password_changed", RESET_MESSAGE);
        break;
    case RESET_INVALID_TOKEN:
        rc = problem_respond(response, PROBLEM_INVALID_RESET_TOKEN, NULL, NULL);
        break;
    case RESET_TOKEN_EXPIRED:
        rc = problem_respond(response, PROBLEM_RESET_TOKEN_EXPIRED, NULL, NULL);
        break;
    case RESET_WEAK_PASSWORD:
        rc = problem_respond(response, PROBLEM_VALIDATION_FAILED, NULL, &errors);
        break;
    case RESET_BUSY:
        rc = problem_respond(response, PROBLEM_SERVICE_BUSY, NULL, NULL);
        break;
    case RESET_UNAVAILABLE:
        rc = problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
        break;
    case RESET_FAILED:
    default:
        rc = problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
        break;
    }
    json_decref(object);
    return rc;
}

int callback_password_change_post(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    struct field_errors errors = {0};
    struct password_change_request req;
    json_t *object = NULL;
    char detail[256], client_ip[CLIENT_IP_MAX];
    const char *token;
    size_t token_len;
    long retry_after_s = 0;

    /* Who is asking comes first: without a session nothing else matters. */
    if (!bearer_token_parse(u_map_get_case(request->map_header, "Authorization"), &token, &token_len))
        return problem_respond(response, PROBLEM_UNAUTHORIZED, NULL, NULL);
    int rc = http_body_check_json(request, response);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;
    rc = handler_respond_parse_status(response,
                                      password_change_request_parse(request->binary_body, request->binary_body_length,
                                                                    &object, &req, &errors, detail, sizeof detail),
                                      detail, &errors);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;
    client_ip_resolve(request, app->trusted_proxies, client_ip);
    switch (password_change_signed_in(&app->recovery, token, token_len, req.current_password, req.current_len,
                                      req.new_password, req.new_len, client_ip, &errors, &retry_after_s)) {
    case CHANGE_DONE:
        rc = respond_status(response, 200, "password_changed", NULL);
        break;
    case CHANGE_UNAUTHORIZED:
        rc = problem_respond(response, PROBLEM_UNAUTHORIZED, NULL, NULL);
        break;
    case CHANGE_INVALID_CREDENTIALS:
        rc = problem_respond(response, PROBLEM_INVALID_CREDENTIALS, NULL, NULL);
        break;
    case CHANGE_WEAK_PASSWORD:
        rc = problem_respond(response, PROBLEM_VALIDATION_FAILED, NULL, &errors);
        break;
    case CHANGE_THROTTLED:
        rc = problem_respond_retry_after(response, PROBLEM_RATE_LIMITED, retry_after_s);
        break;
    case CHANGE_BUSY:
        rc = problem_respond(response, PROBLEM_SERVICE_BUSY, NULL, NULL);
        break;
    case CHANGE_UNAVAILABLE:
        rc = problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
        break;
    case CHANGE_FAILED:
    default:
        rc = problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
        break;
    }
    json_decref(object);
    return rc;
}
