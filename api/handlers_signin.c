/* POST /signin, GET /session, POST /signout, POST /signout/all: envelope and
 * body checks, one call to the sign-in service, its outcome mapped to HTTP. */
#include <string.h>

#include "app.h"
#include "bearer_token.h"
#include "client_ip.h"
#include "handler_common.h"
#include "handlers.h"
#include "http_body.h"
#include "problem.h"
#include "secret.h"
#include "signin_request.h"
#include "signin_service.h"

/* A missing value is null in JSON, not "": clients test for presence. */
static json_t *optional_string(const char *value)
{
    return value[0] != '\0' ? json_string(value) : json_null();
}

/* New reference; caller json_decref()s. NULL on out-of-memory. */
static json_t *account_json(const struct account_profile *account)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", account->id, "email", account->email, "full_name",
                     account->full_name, "phone_number", account->phone_number, "email_verified_at",
                     optional_string(account->email_verified_at));
}

static int respond_signed_in(struct _u_response *response, const struct signin_success *success)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:o}", "status", "signed_in", "token_type", "Bearer",
                             "session_token", success->session_token, "expires_at", success->times.expires_at,
                             "account", account_json(&success->account));
    int rc = body ? json_respond(response, 200, body) : problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    json_decref(body);
    return rc;
}

int callback_signin_post(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    struct signin_request req;
    struct signin_success success;
    struct field_errors errors = {0};
    char detail[256], client_ip[CLIENT_IP_MAX];
    int rc;

    rc = http_body_check_json(request, response);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;
    rc = handler_respond_parse_status(
        response,
        signin_request_parse(request->binary_body, request->binary_body_length, &req, &errors, detail, sizeof detail),
        detail, &errors);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;

    client_ip_resolve(request, app->trusted_proxies, client_ip);
    const char *user_agent = u_map_get_case(request->map_header, "User-Agent");
    struct signin_attempt attempt = {
        .email = req.email,
        .password = req.password,
        .password_len = req.password_len,
        .client_ip = client_ip,
        .user_agent = user_agent ? user_agent : "",
    };
    switch (signin(&app->signin, &attempt, &success)) {
    case SIGNIN_OK:
        rc = respond_signed_in(response, &success);
        break;
    case SIGNIN_INVALID:
        rc = problem_respond(response, PROBLEM_INVALID_CREDENTIALS, NULL, NULL);
        break;
    case SIGNIN_UNVERIFIED:
        rc = problem_respond(response, PROBLEM_EMAIL_NOT_VERIFIED, NULL, NULL);
        break;
    case SIGNIN_THROTTLED:
        rc = problem_respond_retry_after(response, PROBLEM_RATE_LIMITED, success.retry_after_s);
        break;
    case SIGNIN_BUSY:
        rc = problem_respond(response, PROBLEM_SERVICE_BUSY, NULL, NULL);
        break;
    case SIGNIN_UNAVAILABLE:
        rc = problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
        break;
    case SIGNIN_FAILED:
    default:
        rc = problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
        break;
    }
    /* The response body holds its own copy of the token now. */
    secret_wipe(success.session_token, sizeof success.session_token);
    signin_request_wipe(&req);
    return rc;
}

/* The session token of the request, or false (then it gets the one 401). */
static bool request_token(const struct _u_request *request, const char **token, size_t *len)
{
    return bearer_token_parse(u_map_get_case(request->map_header, "Authorization"), token, len);
}

static int respond_session_outcome(struct _u_response *response, enum session_outcome outcome)
{
    switch (outcome) {
    case SESSION_OK:
        ulfius_set_empty_body_response(response, 204);
        return U_CALLBACK_COMPLETE;
    case SESSION_UNAUTHORIZED:
        return problem_respond(response, PROBLEM_UNAUTHORIZED, NULL, NULL);
    case SESSION_UNAVAILABLE:
    default:
        return problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
    }
}

int callback_session_get(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    struct account_profile account;
    struct session_times times;
    const char *token;
    size_t len;

    if (!request_token(request, &token, &len))
        return problem_respond(response, PROBLEM_UNAUTHORIZED, NULL, NULL);
    enum session_outcome outcome = session_use(&app->signin, token, len, &account, &times);
    if (outcome != SESSION_OK)
        return respond_session_outcome(response, outcome);
    json_t *body = json_pack("{s:o, s:{s:s, s:s}}", "account", account_json(&account), "session", "created_at",
                             times.created_at, "expires_at", times.expires_at);
    int rc = body ? json_respond(response, 200, body) : problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    json_decref(body);
    return rc;
}

static int sign_out(const struct _u_request *request, struct _u_response *response, const struct app *app,
                    bool is_all)
{
    const char *token;
    size_t len;
    if (!request_token(request, &token, &len))
        return problem_respond(response, PROBLEM_UNAUTHORIZED, NULL, NULL);
    return respond_session_outcome(response, session_sign_out(&app->signin, token, len, is_all));
}

int callback_signout_post(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    return sign_out(request, response, user_data, false);
}

int callback_signout_all_post(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    return sign_out(request, response, user_data, true);
}
