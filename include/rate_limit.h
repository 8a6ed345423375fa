/* rate_limit: fixed-window request counters in PostgreSQL, so a limit holds
 * across every instance of the service. */
#ifndef SIGNUP_RATE_LIMIT_H
#define SIGNUP_RATE_LIMIT_H

#include <libpq-fe.h>

#include "db_pool.h"

struct rate_limit_rule {
    const char *scope; /* e.g. "signup_ip" */
    long limit;        /* hits allowed per window */
    long window_s;
};

/* Counts one hit of key under each rule, in order, stopping at the first
 * rule over its limit. Returns DB_OK and sets *retry_after_s to 0 when all
 * allow it, or to the seconds until the exceeded window ends. */
enum db_status rate_limit_hit(PGconn *conn, const struct rate_limit_rule *rules, size_t n_rules, const char *key,
                              long *retry_after_s);

#endif
