/* Shared handler steps: parse-outcome and limit-outcome mapping. */
#include "handler_common.h"

#include "app.h"
#include "client_ip.h"
#include "problem.h"

int handler_respond_parse_status(struct _u_response *response, enum signup_parse_status status, const char *detail,
                                 const struct field_errors *errors)
{
    switch (status) {
    case SIGNUP_PARSE_MALFORMED_JSON:
        return problem_respond(response, PROBLEM_MALFORMED_JSON, detail, NULL);
    case SIGNUP_PARSE_NOT_OBJECT:
        return problem_respond(response, PROBLEM_BODY_NOT_OBJECT, NULL, NULL);
    case SIGNUP_PARSE_WRONG_TYPE:
        return problem_respond(response, PROBLEM_WRONG_FIELD_TYPE, NULL, errors);
    case SIGNUP_PARSE_INVALID:
        return problem_respond(response, PROBLEM_VALIDATION_FAILED, NULL, errors);
    case SIGNUP_PARSE_OK:
    default:
        return U_CALLBACK_CONTINUE;
    }
}

int handler_check_limits(const struct app *app, const struct _u_request *request, struct _u_response *response,
                         enum limited_action action, const char *email)
{
    char client_ip[CLIENT_IP_MAX];
    long retry_after_s;
    client_ip_resolve(request, app->trusted_proxies, client_ip);
    switch (signup_check_limits(&app->signup, action, client_ip, email, &retry_after_s)) {
    case LIMIT_EXCEEDED:
        return problem_respond_retry_after(response, PROBLEM_RATE_LIMITED, retry_after_s);
    case LIMIT_UNAVAILABLE:
        return problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
    case LIMIT_ALLOWED:
    default:
        return U_CALLBACK_CONTINUE;
    }
}
