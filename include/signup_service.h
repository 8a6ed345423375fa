/* signup_service: registers a validated sign-up (hash, then store). */
#ifndef SIGNUP_SERVICE_H
#define SIGNUP_SERVICE_H

#include "signup_request.h"

struct db_pool;
struct password_hasher;

/* Borrowed collaborators; they outlive the service. */
struct signup_service {
    struct db_pool *pool;
    struct password_hasher *hasher;
    const char *terms_version;
    int db_acquire_timeout_ms;
};

enum signup_outcome {
    SIGNUP_ACCEPTED,    /* created, or already registered: callers cannot tell which */
    SIGNUP_BUSY,        /* too many hashes queued; try again shortly */
    SIGNUP_UNAVAILABLE, /* database unreachable; nothing was stored */
    SIGNUP_FAILED,      /* unexpected; logged */
};

enum signup_outcome signup_register(const struct signup_service *service, const struct signup_request *req);

#endif
