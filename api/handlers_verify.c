/* GET /verify (the link in the email) and POST /verify/resend. Browsers that
 * open the link can be sent on to the frontend; API clients get JSON. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "handler_common.h"
#include "handlers.h"
#include "http_body.h"
#include "problem.h"
#include "signup_service.h"

static const char VERIFIED_MESSAGE[] =
    "Verification Successful! You have successfully verified your email address. Now you can sign in.";
static const char ALREADY_VERIFIED_MESSAGE[] = "Your email address is already verified. Now you can sign in.";
static const char RESEND_MESSAGE[] = "If an account with this email address is waiting for verification, a new "
                                     "verification email is on its way.";

/* The q-value the Accept header gives media type `type` ("text/html"),
 * counting only an exact match when is_exact_only, else also type/ * and * / *. */
static double accept_quality(const char *accept, const char *type, bool is_exact_only)
{
    double best = 0.0;
    const char *slash = strchr(type, '/');
    size_t major_len = (size_t)(slash - type);
    const char *p = accept;

    while (p != NULL && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t item_len = strcspn(p, ",");
        size_t range_len = strcspn(p, ";,");
        while (range_len > 0 && p[range_len - 1] == ' ')
            range_len--;
        double q = 1.0;
        /* Parameters: ";q=0.5", also with spaces around ';' and '=' (RFC 9110 allows OWS). */
        for (const char *param = memchr(p, ';', item_len); param != NULL && param < p + item_len;
             param = memchr(param + 1, ';', (size_t)(p + item_len - param - 1))) {
            const char *name = param + 1;
            while (*name == ' ' || *name == '\t')
                name++;
            if ((*name == 'q' || *name == 'Q')) {
                const char *eq = name + 1;
                while (*eq == ' ' || *eq == '\t')
                    eq++;
                if (*eq == '=')
                    q = strtod(eq + 1, NULL);
            }
        }
        bool is_match = (range_len == strlen(type) && strncasecmp(p, type, range_len) == 0) ||
                        (!is_exact_only && ((range_len == 3 && strncmp(p, "*/*", 3) == 0) ||
                                            (range_len == major_len + 2 && strncasecmp(p, type, major_len) == 0 &&
                                             strncmp(p + major_len, "/*", 2) == 0)));
        if (is_match && q > best)
            best = q;
        p += item_len;
    }
    return best;
}

/* Browsers list text/html explicitly; API clients ask for JSON or * / *. */
static bool prefers_html(const struct _u_request *request)
{
    const char *accept = u_map_get_case(request->map_header, "Accept");
    if (accept == NULL)
        return false;
    double html = accept_quality(accept, "text/html", true);
    return html > 0.0 && html >= accept_quality(accept, "application/json", false);
}

static int redirect_to_frontend(struct _u_response *response, const char *base, const char *status)
{
    char location[2200];
    snprintf(location, sizeof location, "%s?status=%s", base, status);
    u_map_put(response->map_header, "Location", location);
    response->status = 303;
    return U_CALLBACK_COMPLETE;
}

static int respond_status(struct _u_response *response, unsigned int http_status, const char *status,
                          const char *email, const char *message)
{
    json_t *body = json_pack("{s:s, s:s, s:s}", "status", status, "email", email, "message", message);
    int rc = body ? json_respond(response, http_status, body)
                  : problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    json_decref(body);
    return rc;
}

int callback_verify_get(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    const char *token = u_map_get(request->map_url, "token");
    const char *redirect = app->config->verify_redirect_url;
    bool should_redirect = redirect[0] != '\0' && prefers_html(request);
    char email[EMAIL_BUF_SIZE];

    if (token == NULL || token[0] == '\0') {
        if (should_redirect)
            return redirect_to_frontend(response, redirect, "invalid");
        return problem_respond(response, PROBLEM_TOKEN_REQUIRED, NULL, NULL);
    }
    enum verify_result result = signup_verify(&app->signup, token, strlen(token), email);
    if (should_redirect && result != VERIFY_UNAVAILABLE && result != VERIFY_ERROR) {
        static const char *const STATUS_WORDS[] = {
            [VERIFY_VERIFIED] = "verified",
            [VERIFY_ALREADY_VERIFIED] = "already_verified",
            [VERIFY_EXPIRED] = "expired",
            [VERIFY_INVALID] = "invalid",
        };
        return redirect_to_frontend(response, redirect, STATUS_WORDS[result]);
    }
    switch (result) {
    case VERIFY_VERIFIED:
        return respond_status(response, 200, "verified", email, VERIFIED_MESSAGE);
    case VERIFY_ALREADY_VERIFIED:
        return respond_status(response, 200, "already_verified", email, ALREADY_VERIFIED_MESSAGE);
    case VERIFY_EXPIRED:
        return problem_respond(response, PROBLEM_TOKEN_EXPIRED, NULL, NULL);
    case VERIFY_INVALID:
        return problem_respond(response, PROBLEM_INVALID_TOKEN, NULL, NULL);
    case VERIFY_UNAVAILABLE:
        return problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
    case VERIFY_ERROR:
    default:
        return problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    }
}

int callback_verify_resend_post(const struct _u_request *request, struct _u_response *response, void *user_data)
{
    const struct app *app = user_data;
    struct field_errors errors = {0};
    char email[EMAIL_BUF_SIZE];
    char detail[256];
    int rc = http_body_check_json(request, response);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;

    rc = handler_respond_parse_status(response,
                                      resend_request_parse(request->binary_body, request->binary_body_length,
                                                           &app->rules, email, &errors, detail, sizeof detail),
                                      detail, &errors);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;
    rc = handler_check_limits(app, request, response, LIMITED_RESEND, email);
    if (rc != U_CALLBACK_CONTINUE)
        return rc;

    if (email[0] != '\0') {
        switch (signup_resend(&app->signup, email)) {
        case RESEND_UNAVAILABLE:
            return problem_respond(response, PROBLEM_SERVICE_UNAVAILABLE, NULL, NULL);
        case RESEND_ERROR:
            return problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
        case RESEND_QUEUED:
        case RESEND_RATE_LIMITED:
        case RESEND_NOTHING_TO_DO:
            break;
        }
    }
    /* The same 202 whether or not an email was queued: the answer must not
     * tell who has an account, nor whether it is verified or rate limited. */
    json_t *body = json_pack("{s:s, s:s}", "status", "accepted", "message", RESEND_MESSAGE);
    rc = body ? json_respond(response, 202, body) : problem_respond(response, PROBLEM_INTERNAL_ERROR, NULL, NULL);
    json_decref(body);
    return rc;
}
