/* metrics: process-wide counters, rendered in the Prometheus text format by
 * GET /metrics. Recording is lock-free (atomics), so any thread may record. */
#ifndef SIGNUP_METRICS_H
#define SIGNUP_METRICS_H

#include <stddef.h>

/* The routes requests are counted by; METRICS_ROUTE_OTHER is everything
 * that matched no path (404). */
enum metrics_route {
    METRICS_ROUTE_SIGNUP,
    METRICS_ROUTE_VERIFY,
    METRICS_ROUTE_VERIFY_RESEND,
    METRICS_ROUTE_HEALTHZ,
    METRICS_ROUTE_READYZ,
    METRICS_ROUTE_METRICS,
    METRICS_ROUTE_OPENAPI,
    METRICS_ROUTE_SIGNIN,
    METRICS_ROUTE_SESSION,
    METRICS_ROUTE_SIGNOUT,
    METRICS_ROUTE_SIGNOUT_ALL,
    METRICS_ROUTE_OTHER,
    METRICS_ROUTE_COUNT
};

enum metrics_signup { METRICS_SIGNUP_CREATED, METRICS_SIGNUP_DUPLICATE, METRICS_SIGNUP_COUNT };
enum metrics_signin {
    METRICS_SIGNIN_OK,
    METRICS_SIGNIN_INVALID,
    METRICS_SIGNIN_UNVERIFIED,
    METRICS_SIGNIN_THROTTLED,
    METRICS_SIGNIN_COUNT
};
enum metrics_email { METRICS_EMAIL_SENT, METRICS_EMAIL_RETRY, METRICS_EMAIL_DEAD, METRICS_EMAIL_COUNT };

/* The route's label value, e.g. "/verify/resend". */
const char *metrics_route_name(enum metrics_route route);

void metrics_record_request(enum metrics_route route, unsigned status, double duration_s);
void metrics_record_signup(enum metrics_signup outcome);
/* result: "verified", "already_verified", "expired", "invalid", "error". */
void metrics_record_verification(const char *result);
void metrics_record_email(enum metrics_email result);
void metrics_record_signin(enum metrics_signin result);

/* Values computed at scrape time by the caller (database, hasher). */
struct metrics_gauges {
    long outbox_pending;           /* -1 when unknown (database unreachable) */
    double outbox_oldest_pending_s;
    unsigned long long hash_waits;
    double hash_wait_seconds_sum;
    long live_sessions; /* -1 when unknown */
};

/* Returns the exposition text as a new string; caller free()s. NULL on
 * out-of-memory. */
char *metrics_render(const struct metrics_gauges *gauges) __attribute__((warn_unused_result));

#endif
