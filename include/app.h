/* app: the process-wide context every HTTP handler receives as user_data.
 * Built once in main, read-only afterwards. */
#ifndef SIGNUP_APP_H
#define SIGNUP_APP_H

#include "config.h"
#include "recovery_service.h"
#include "signin_service.h"
#include "signup_service.h"
#include "signup_validation.h"

struct cors_policy;
struct db_pool;
struct string_set;

struct app {
    const struct config *config;
    struct signup_rules rules;
    struct signup_service signup;
    struct signin_service signin;
    struct recovery_service recovery;
    struct db_pool *pool;
    struct cors_policy *cors;
    struct string_set *trusted_proxies; /* TRUSTED_PROXIES */
    long max_connections; /* MAX_CONNECTIONS, or what the process can hold when that is 0 */
    char *openapi_document; /* the served openapi.yaml, or NULL when it could not be read */
};

#endif
