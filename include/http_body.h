/* http_body: the envelope checks every JSON request body gets. */
#ifndef SIGNUP_HTTP_BODY_H
#define SIGNUP_HTTP_BODY_H

#include <ulfius.h>

/* Bodies larger than this are refused with 413. */
#define HTTP_BODY_MAX_BYTES 16384

/* Returns U_CALLBACK_CONTINUE when the body is within HTTP_BODY_MAX_BYTES and
 * declared as application/json; otherwise fills response with the 413 or 415
 * problem and returns U_CALLBACK_COMPLETE. */
int http_body_check_json(const struct _u_request *request, struct _u_response *response);

#endif
