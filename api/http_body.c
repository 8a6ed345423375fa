/* Size and media-type checks shared by every handler that reads JSON. */
#include "http_body.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "problem.h"

/* "application/json", any letter case, optionally with parameters
 * ("; charset=utf-8"). application/problem+json and the like are not accepted. */
static bool is_json_media_type(const char *content_type)
{
    static const char JSON_TYPE[] = "application/json";
    size_t n = sizeof JSON_TYPE - 1;
    if (content_type == NULL)
        return false;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    if (strncasecmp(content_type, JSON_TYPE, n) != 0)
        return false;
    char next = content_type[n];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/* Ulfius silently truncates a body past max_post_body_size (set to our limit
 * + 1), so both the declared length and what arrived are checked. */
static bool is_body_too_large(const struct _u_request *request)
{
    const char *declared = u_map_get_case(request->map_header, "Content-Length");
    if (declared != NULL) {
        char *end;
        unsigned long long length = strtoull(declared, &end, 10);
        if (end != declared && length > HTTP_BODY_MAX_BYTES)
            return true;
    }
    return request->binary_body_length > HTTP_BODY_MAX_BYTES;
}

int http_body_check_json(const struct _u_request *request, struct _u_response *response)
{
    if (is_body_too_large(request))
        return problem_respond(response, PROBLEM_PAYLOAD_TOO_LARGE, NULL, NULL);
    if (!is_json_media_type(u_map_get_case(request->map_header, "Content-Type")))
        return problem_respond(response, PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL, NULL);
    return U_CALLBACK_CONTINUE;
}
