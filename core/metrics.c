/* Counters for GET /metrics. Fixed arrays of atomics indexed by enums: no
 * allocation and no locks on the request path. */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_SLOTS 600

static const char *const ROUTE_NAMES[METRICS_ROUTE_COUNT] = {
    [METRICS_ROUTE_SIGNUP] = "/signup",   [METRICS_ROUTE_VERIFY] = "/verify",
    [METRICS_ROUTE_VERIFY_RESEND] = "/verify/resend", [METRICS_ROUTE_HEALTHZ] = "/healthz",
    [METRICS_ROUTE_READYZ] = "/readyz",   [METRICS_ROUTE_METRICS] = "/metrics",
    [METRICS_ROUTE_OPENAPI] = "/openapi.yaml", [METRICS_ROUTE_SIGNIN] = "/signin",
    [METRICS_ROUTE_SESSION] = "/session", [METRICS_ROUTE_SIGNOUT] = "/signout",
    [METRICS_ROUTE_SIGNOUT_ALL] = "/signout/all", [METRICS_ROUTE_OTHER] = "other",
};
static const char *const SIGNUP_NAMES[METRICS_SIGNUP_COUNT] = {"created", "duplicate"};
static const char *const SIGNIN_NAMES[METRICS_SIGNIN_COUNT] = {"ok", "invalid", "unverified", "throttled"};
static const char *const EMAIL_NAMES[METRICS_EMAIL_COUNT] = {"sent", "retry", "dead"};
static const char *const VERIFY_NAMES[] = {"verified", "already_verified", "expired", "invalid", "error"};
#define VERIFY_RESULTS (sizeof VERIFY_NAMES / sizeof VERIFY_NAMES[0])

static atomic_ullong requests[METRICS_ROUTE_COUNT][STATUS_SLOTS];
/* Durations in microseconds, summed per route (with the count above: mean). */
static atomic_ullong request_micros[METRICS_ROUTE_COUNT];
static atomic_ullong signups[METRICS_SIGNUP_COUNT];
static atomic_ullong verifications[VERIFY_RESULTS];
static atomic_ullong emails[METRICS_EMAIL_COUNT];
static atomic_ullong signins[METRICS_SIGNIN_COUNT];

const char *metrics_route_name(enum metrics_route route)
{
    return ROUTE_NAMES[route];
}

void metrics_record_request(enum metrics_route route, unsigned status, double duration_s)
{
    if (status < STATUS_SLOTS)
        atomic_fetch_add(&requests[route][status], 1);
    atomic_fetch_add(&request_micros[route], (unsigned long long)(duration_s * 1e6));
}

void metrics_record_signup(enum metrics_signup outcome)
{
    atomic_fetch_add(&signups[outcome], 1);
}

void metrics_record_verification(const char *result)
{
    for (size_t i = 0; i < VERIFY_RESULTS; i++) {
        if (strcmp(result, VERIFY_NAMES[i]) == 0) {
            atomic_fetch_add(&verifications[i], 1);
            return;
        }
    }
}

void metrics_record_email(enum metrics_email result)
{
    atomic_fetch_add(&emails[result], 1);
}

void metrics_record_signin(enum metrics_signin result)
{
    atomic_fetch_add(&signins[result], 1);
}

/* A growing text buffer; on out-of-memory it stops growing and is_broken is set. */
struct text {
    char *data;
    size_t len, cap;
    bool is_broken;
};

static void append(struct text *t, const char *format, ...)
{
    va_list ap;
    for (int attempt = 0; attempt < 2 && !t->is_broken; attempt++) {
        va_start(ap, format);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, format, ap);
        va_end(ap);
        if (n < 0) {
            t->is_broken = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n) * 2;
        char *bigger = realloc(t->data, cap);
        if (bigger == NULL) {
            t->is_broken = true;
            return;
        }
        t->data = bigger;
        t->cap = cap;
    }
}

char *metrics_render(const struct metrics_gauges *g)
{
    struct text t = {.data = malloc(4096), .cap = 4096};
    if (t.data == NULL)
        return NULL;
    t.data[0] = '\0';

    append(&t, "# HELP signup_http_requests_total HTTP requests answered, by route and status.\n"
               "# TYPE signup_http_requests_total counter\n");
    for (int r = 0; r < METRICS_ROUTE_COUNT; r++) {
        for (int s = 0; s < STATUS_SLOTS; s++) {
            unsigned long long n = atomic_load(&requests[r][s]);
            if (n > 0)
                append(&t, "signup_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", ROUTE_NAMES[r], s, n);
        }
    }
    append(&t, "# HELP signup_http_request_duration_seconds_sum Time spent answering, by route.\n"
               "# TYPE signup_http_request_duration_seconds_sum counter\n");
    for (int r = 0; r < METRICS_ROUTE_COUNT; r++)
        append(&t, "signup_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", ROUTE_NAMES[r],
               (double)atomic_load(&request_micros[r]) / 1e6);
    append(&t, "# HELP signup_signups_total Accepted sign-ups: new accounts and duplicates of existing ones.\n"
               "# TYPE signup_signups_total counter\n");
    for (int i = 0; i < METRICS_SIGNUP_COUNT; i++)
        append(&t, "signup_signups_total{result=\"%s\"} %llu\n", SIGNUP_NAMES[i], atomic_load(&signups[i]));
    append(&t, "# HELP signup_verifications_total Verification link openings, by result.\n"
               "# TYPE signup_verifications_total counter\n");
    for (size_t i = 0; i < VERIFY_RESULTS; i++)
        append(&t, "signup_verifications_total{result=\"%s\"} %llu\n", VERIFY_NAMES[i],
               atomic_load(&verifications[i]));
    append(&t, "# HELP signup_email_sends_total Email delivery attempts by this process's workers, by result.\n"
               "# TYPE signup_email_sends_total counter\n");
    for (int i = 0; i < METRICS_EMAIL_COUNT; i++)
        append(&t, "signup_email_sends_total{result=\"%s\"} %llu\n", EMAIL_NAMES[i], atomic_load(&emails[i]));
    append(&t, "# HELP signup_signins_total Sign-in attempts, by result.\n"
               "# TYPE signup_signins_total counter\n");
    for (int i = 0; i < METRICS_SIGNIN_COUNT; i++)
        append(&t, "signup_signins_total{result=\"%s\"} %llu\n", SIGNIN_NAMES[i], atomic_load(&signins[i]));
    if (g->live_sessions >= 0)
        append(&t, "# HELP signup_sessions_active Sessions that are signed in right now (all instances).\n"
                   "# TYPE signup_sessions_active gauge\n"
                   "signup_sessions_active %ld\n",
               g->live_sessions);
    append(&t, "# HELP signup_password_hash_queue_wait_seconds Time sign-ups waited for an argon2 slot.\n"
               "# TYPE signup_password_hash_queue_wait_seconds summary\n"
               "signup_password_hash_queue_wait_seconds_sum %.6f\n"
               "signup_password_hash_queue_wait_seconds_count %llu\n",
           g->hash_wait_seconds_sum, g->hash_waits);
    if (g->outbox_pending >= 0) {
        append(&t, "# HELP signup_outbox_pending Emails waiting to be sent (pending or being sent).\n"
                   "# TYPE signup_outbox_pending gauge\n"
                   "signup_outbox_pending %ld\n"
                   "# HELP signup_outbox_oldest_pending_seconds Age of the oldest email waiting to be sent.\n"
                   "# TYPE signup_outbox_oldest_pending_seconds gauge\n"
                   "signup_outbox_oldest_pending_seconds %.3f\n",
               g->outbox_pending, g->outbox_oldest_pending_s);
    }
    if (t.is_broken) {
        free(t.data);
        return NULL;
    }
    return t.data;
}
