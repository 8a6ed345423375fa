/* Rate-limit counters: one upsert per rule. The key is hashed in SQL so no
 * address ever lands in the table; old windows are pruned now and then by
 * whichever request happens to draw the short straw. */
#include "rate_limit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

/* About one hit in this many also deletes windows older than a day. */
#define PRUNE_ONE_IN 200

static bool should_prune(void)
{
    unsigned int r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        return false;
    return r % PRUNE_ONE_IN == 0;
}

enum db_status rate_limit_hit(PGconn *conn, const struct rate_limit_rule *rules, size_t n_rules, const char *key,
                              long *retry_after_s)
{
    static const struct db_statement HIT = {
        "rate_limit_hit",
        "INSERT INTO rate_limit_counters AS c (scope, key_hash, window_start, hits) "
        "VALUES ($1, sha256(convert_to($2, 'UTF8')), "
        "        date_bin(make_interval(secs => $3::int), now(), timestamptz 'epoch'), 1) "
        "ON CONFLICT (scope, key_hash, window_start) DO UPDATE SET hits = c.hits + 1 "
        "RETURNING hits, ceil(extract(epoch FROM c.window_start + make_interval(secs => $3::int) - now()))",
        3};
    *retry_after_s = 0;
    for (size_t i = 0; i < n_rules; i++) {
        char window_text[24];
        snprintf(window_text, sizeof window_text, "%ld", rules[i].window_s);
        const char *params[] = {rules[i].scope, key, window_text};
        PGresult *res = db_exec_prepared(conn, &HIT, params);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            enum db_status status = db_failure(conn, res, "rate_limit_hit");
            PQclear(res);
            return status;
        }
        long hits = atol(PQgetvalue(res, 0, 0));
        long remaining = atol(PQgetvalue(res, 0, 1));
        PQclear(res);
        if (hits > rules[i].limit) {
            *retry_after_s = remaining > 0 ? remaining : 1;
            return DB_OK;
        }
    }
    if (should_prune())
        PQclear(PQexec(conn, "DELETE FROM rate_limit_counters WHERE window_start < now() - interval '1 day'"));
    return DB_OK;
}
