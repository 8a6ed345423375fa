/* POST /signup: checks the envelope (size, media type), parses and validates,
 * calls the sign-up service, and maps its outcome to HTTP. */
#include "app.h"
#include "handler_common.h"
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

    rc = handler_respond_parse_status(response,
                                      signup_request_parse(request->binary_body, request->binary_body_length,
                                                           &app->rules, &req, &errors, detail, sizeof detail),
                                      detail, &errors);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;

    /* Limits come after validation (malformed requests cost nothing) and
     * before argon2 (which is what a flood is after). */
    rc = handler_check_limits(app, request, response, LIMITED_SIGNUP, req.email);
    if (rc != U_CALLBACK_CONTINUE) {
        signup_request_wipe(&req);
        return rc;
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
