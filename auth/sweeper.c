/* The sweeper: one thread that sleeps on a condition variable (so stopping
 * wakes it at once) and sweeps every interval, each kind in batches so every
 * DELETE (and the locks it holds) stays short. */
#include "sweeper.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "accounts.h"
#include "db_pool.h"
#include "log.h"
#include "metrics.h"
#include "password_reset.h"
#include "sessions.h"

/* Rows per DELETE: short transactions, few locks held at once. */
#define SWEEP_BATCH 1000

struct sweeper {
    struct sweeper_settings settings;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool is_stopping; /* under lock */
};

enum sweep_kind { SWEEP_SESSIONS, SWEEP_RESET_TOKENS, SWEEP_UNVERIFIED_ACCOUNTS };

static enum db_status sweep_batch(PGconn *conn, const struct sweeper_settings *s, enum sweep_kind kind,
                                  long *deleted)
{
    switch (kind) {
    case SWEEP_SESSIONS:
        return sessions_sweep(conn, SWEEP_BATCH, deleted);
    case SWEEP_RESET_TOKENS:
        return password_reset_sweep(conn, SWEEP_BATCH, deleted);
    case SWEEP_UNVERIFIED_ACCOUNTS:
    default:
        return accounts_sweep_unverified(conn, s->unverified_ttl_s, SWEEP_BATCH, deleted);
    }
}

/* Batches until one comes back short (nothing more to do) or fails. */
static long sweep_kind(PGconn *conn, const struct sweeper_settings *s, enum sweep_kind kind)
{
    long total = 0, deleted = 0;
    do {
        if (sweep_batch(conn, s, kind, &deleted) != DB_OK)
            break;
        total += deleted;
    } while (deleted == SWEEP_BATCH);
    return total;
}

static void sweep_once(const struct sweeper_settings *s)
{
    static const char *const KIND_NAMES[] = {"sessions", "reset_tokens", "unverified_accounts"};
    PGconn *conn = db_pool_acquire(s->pool, s->db_acquire_timeout_ms);
    if (conn == NULL)
        return;
    for (int kind = SWEEP_SESSIONS; kind <= SWEEP_UNVERIFIED_ACCOUNTS; kind++) {
        long deleted = sweep_kind(conn, s, (enum sweep_kind)kind);
        if (deleted == 0)
            continue;
        if (kind == SWEEP_UNVERIFIED_ACCOUNTS)
            metrics_record_unverified_deleted(deleted);
        char count[24];
        snprintf(count, sizeof count, "%ld", deleted);
        log_event(LOG_LEVEL_INFO, "swept", "kind", KIND_NAMES[kind], "deleted", count, LOG_END);
    }
    db_pool_release(s->pool, conn);
}

static void *sweep_loop(void *arg)
{
    struct sweeper *sweeper = arg;
    pthread_mutex_lock(&sweeper->lock);
    while (!sweeper->is_stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += sweeper->settings.interval_s;
        while (!sweeper->is_stopping &&
               pthread_cond_timedwait(&sweeper->wake, &sweeper->lock, &deadline) != ETIMEDOUT)
            ;
        if (sweeper->is_stopping)
            break;
        pthread_mutex_unlock(&sweeper->lock);
        sweep_once(&sweeper->settings);
        pthread_mutex_lock(&sweeper->lock);
    }
    pthread_mutex_unlock(&sweeper->lock);
    return NULL;
}

struct sweeper *sweeper_start(const struct sweeper_settings *settings)
{
    struct sweeper *sweeper = calloc(1, sizeof *sweeper);
    if (sweeper == NULL)
        return NULL;
    sweeper->settings = *settings;
    pthread_mutex_init(&sweeper->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sweeper->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&sweeper->thread, NULL, sweep_loop, sweeper) != 0) {
        log_event(LOG_LEVEL_ERROR, "startup_failed", "reason", "cannot start the sweeper", LOG_END);
        pthread_cond_destroy(&sweeper->wake);
        pthread_mutex_destroy(&sweeper->lock);
        free(sweeper);
        return NULL;
    }
    return sweeper;
}

void sweeper_stop(struct sweeper *sweeper)
{
    if (sweeper == NULL)
        return;
    pthread_mutex_lock(&sweeper->lock);
    sweeper->is_stopping = true;
    pthread_cond_signal(&sweeper->wake);
    pthread_mutex_unlock(&sweeper->lock);
    pthread_join(sweeper->thread, NULL);
    pthread_cond_destroy(&sweeper->wake);
    pthread_mutex_destroy(&sweeper->lock);
    free(sweeper);
}
