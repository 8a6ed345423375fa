/* POST /signup: checks the envelope (size, media type), parses and validates,
 * calls the sign-up service, and maps its outcome to HTTP. */
#include "app.h"
#include "client_ip.h"
#include "handlers.h"
#include "http_body.h"
#include "problem.h"
#include "signup_request.h"
#include "signup_service.h"

static const char SIGNUP_SUCCESS_MESSAGE[] =
    "Congratulations Your account has been successfully created!. Please check your email for your account "
    "verification.";

static int respond_created(struct _u_response *response, const char *email)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "status", "pending_verification", "email", email, "message",
                             SIGNUP_SUCCESS_MESSAGE);
    if (body == NULL)
        return problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    int rc = json_respond(response, 201, body);
    json_decref(body);
    return rc;
}

int callback_signup_post(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    struct signup_request req;
    struct field_errors errors = {0};
    char detail[256];
    int rc;

    rc = http_body_check_json(request, response);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;

    switch (signup_request_parse(request->binary_body, request->binary_body_length, &app->rules, &req, &errors,
                                 detail, sizeof detail)) {
    case SIGNUP_PARSE_MALFORMED_JSON:
        return problem_respond(response, PROBLEM_MALFORMED_JSON, detail, NULL);
    case SIGNUP_PARSE_NOT_OBJECT:
        return problem_respond(response, PROBLEM_BODY_NOT_OBJECT, NULL, NULL);
    case SIGNUP_PARSE_WRONG_TYPE:
        return problem_respond(response, PROBLEM_WRONG_FIELD_TYPE, NULL, &errors);
    case SIGNUP_PARSE_INVALID:
        return problem_respond(response, PROBLEM_VALIDATION_FAILED, NULL, &errors);
    case SIGNUP_PARSE_OK:
        break;
    }

    /* Limits come after validation (malformed requests cost nothing) and
     * before argon2 (which is what a flood is after). */
    char client_ip[CLIENT_IP_MAX];
    long retry_after_s;
    client_ip_resolve(request, app->trusted_proxies, client_ip);
    switch (signup_check_limits(&app->signup, LIMITED_SIGNUP, client_ip, req.email, &retry_after_s)) {
    case LIMIT_ALLOWED:
        break;
    case LIMIT_EXCEEDED:
        signup_request_wipe(&req);
        return problem_respond_retry_after(response, PROBLEM_RATE_LIMITED, retry_after_s);
    case LIMIT_UNAVAILABLE:
        signup_request_wipe(&req);
        return problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
    }

    switch (signup_register(&app->signup, &req)) {
    case SIGNUP_ACCEPTED:
        /* The same 201 for a new and an already-registered address, so the
         * endpoint cannot be used to learn who has an account. */
        rc = respond_created(response, req.email);
        break;
    case SIGNUP_BUSY:
        rc = problem_respond(response, PROBLEM_SERVICE_BUSY, NULL, NULL);
        break;
    case SIGNUP_UNAVAILABLE:
        rc = problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
        break;
    case SIGNUP_FAILED:
    default:
        rc = problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
        break;
    }
    signup_request_wipe(&req);
    return rc;
}
