/* The session sweeper: one thread that sleeps on a condition variable (so
 * stopping wakes it at once) and sweeps every interval. */
#include "sweeper.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

/* Rows per DELETE: short transactions, few locks held at once. */
#define SWEEP_BATCH 1000

struct sweeper {
    const struct signin_service *service;
    long interval_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool is_stopping; /* under lock */
};

static void *sweep_loop(void *arg)
{
    struct sweeper *sweeper = arg;
    pthread_mutex_lock(&sweeper->lock);
    while (!sweeper->is_stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += sweeper->interval_s;
        while (!sweeper->is_stopping &&
               pthread_cond_timedwait(&sweeper->wake, &sweeper->lock, &deadline) != ETIMEDOUT)
            ;
        if (sweeper->is_stopping)
            break;
        pthread_mutex_unlock(&sweeper->lock);
        (void)session_sweep_expired(sweeper->service, SWEEP_BATCH);
        pthread_mutex_lock(&sweeper->lock);
    }
    pthread_mutex_unlock(&sweeper->lock);
    return NULL;
}

struct sweeper *sweeper_start(const struct signin_service *service, long interval_s)
{
    struct sweeper *sweeper = calloc(1, sizeof *sweeper);
    if (sweeper == NULL)
        return NULL;
    sweeper->service = service;
    sweeper->interval_s = interval_s;
    pthread_mutex_init(&sweeper->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sweeper->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&sweeper->thread, NULL, sweep_loop, sweeper) != 0) {
        log_event(LOG_LEVEL_ERROR, "startup_failed", "reason", "cannot start the session sweeper", LOG_END);
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
