/* Fixed-size PostgreSQL connection pool: a mutex guards an array of slots and
 * a FIFO of waiting threads; connecting happens outside the lock so a slow or
 * unreachable server never blocks other threads from returning connections.
 *
 * A released slot is handed straight to the longest waiter. With one shared
 * condition variable instead, a thread that had just released a slot could
 * take it again before the woken waiter ran, and under load (64 request
 * threads, 8 connections) a few unlucky requests waited 100+ ms while the
 * median waited 10. */
#include "db_pool.h"

#include <errno.h>
#include <libpq-events.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct pool_slot {
    PGconn *conn;   /* NULL until first use or after a broken connection was dropped */
    bool is_in_use;
};

/* A thread waiting for a slot; lives on that thread's stack. */
struct pool_waiter {
    pthread_cond_t handed_over;
    struct pool_slot *slot; /* set (and marked in use) by the releasing thread */
    struct pool_waiter *next;
};

struct db_pool {
    char *conninfo;
    int size;
    struct pool_slot *slots;
    pthread_mutex_t lock;
    struct pool_waiter *first_waiter, *last_waiter; /* FIFO, under lock */
};

/* Set once at start-up, before any connection is made. */
static bool are_prepared_statements_on = true;

void db_use_prepared_statements(bool is_on)
{
    are_prepared_statements_on = is_on;
}

/* Server notices ("relation already exists, skipping") would otherwise be
 * printed raw on stderr, breaking the one-JSON-object-per-line log. */
static void log_notice(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    snprintf(line, sizeof line, "%s", message);
    line[strcspn(line, "\n")] = '\0';
    log_event(LOG_LEVEL_INFO, "db_notice", "message", line, LOG_END);
}

/* Which db_statements a connection has prepared: libpq "instance data" of the
 * connection, so it lives and dies with the PGconn, and a reset (a new server
 * session, with nothing prepared) empties it. */
struct prepared_set {
    const struct db_statement **statements;
    size_t count, capacity;
};

static int prepared_set_event(PGEventId event, void *info, void *pass_through)
{
    (void)pass_through;
    PGconn *conn;
    switch (event) {
    case PGEVT_REGISTER: {
        conn = ((PGEventRegister *)info)->conn;
        struct prepared_set *set = calloc(1, sizeof *set);
        if (set != NULL && PQsetInstanceData(conn, prepared_set_event, set))
            return 1;
        free(set);
        return 0;
    }
    case PGEVT_CONNRESET: {
        conn = ((PGEventConnReset *)info)->conn;
        struct prepared_set *set = PQinstanceData(conn, prepared_set_event);
        if (set != NULL)
            set->count = 0;
        return 1;
    }
    case PGEVT_CONNDESTROY: {
        conn = ((PGEventConnDestroy *)info)->conn;
        struct prepared_set *gone = PQinstanceData(conn, prepared_set_event);
        if (gone != NULL)
            free(gone->statements);
        free(gone);
        return 1;
    }
    default:
        return 1;
    }
}

static bool prepared_set_contains(const struct prepared_set *set, const struct db_statement *stmt)
{
    for (size_t i = 0; i < set->count; i++) {
        if (set->statements[i] == stmt)
            return true;
    }
    return false;
}

static bool prepared_set_add(struct prepared_set *set, const struct db_statement *stmt)
{
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 16;
        const struct db_statement **grown = realloc(set->statements, capacity * sizeof(const struct db_statement *));
        if (grown == NULL)
            return false;
        set->statements = grown;
        set->capacity = capacity;
    }
    set->statements[set->count++] = stmt;
    return true;
}

PGresult *db_exec_prepared(PGconn *conn, const struct db_statement *stmt, const char *const *params)
{
    struct prepared_set *set = PQinstanceData(conn, prepared_set_event);
    if (set == NULL)
        return PQexecParams(conn, stmt->sql, stmt->n_params, NULL, params, NULL, NULL, 0);
    if (!prepared_set_contains(set, stmt)) {
        PGresult *prepared = PQprepare(conn, stmt->name, stmt->sql, stmt->n_params, NULL);
        if (PQresultStatus(prepared) != PGRES_COMMAND_OK)
            return prepared;
        PQclear(prepared);
        if (!prepared_set_add(set, stmt)) {
            /* Out of memory: unprepare, so a later attempt can prepare it anew. */
            char sql[160];
            snprintf(sql, sizeof sql, "DEALLOCATE %s", stmt->name);
            PQclear(PQexec(conn, sql));
            return PQexecParams(conn, stmt->sql, stmt->n_params, NULL, params, NULL, NULL, 0);
        }
    }
    return PQexecPrepared(conn, stmt->name, stmt->n_params, params, NULL, NULL, 0);
}

PGconn *db_connect(const char *conninfo, char *err, size_t err_size)
{
    /* Our defaults come first so that a value in the URL overrides them
     * (expand_dbname: later keywords win). */
    const char *const keywords[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const values[] = {"5", "signup-api", conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keywords, values, 1);

    if (conn == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(err, err_size, "%s", PQerrorMessage(conn));
        /* libpq messages end with a newline; logs are one line each. */
        err[strcspn(err, "\n")] = '\0';
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, log_notice, NULL);
    /* Without the event, db_exec_prepared sends unnamed statements, which a
     * transaction pooler (PgBouncer before 1.21) passes through intact. */
    if (are_prepared_statements_on && !PQregisterEventProc(conn, prepared_set_event, "prepared_set", NULL))
        log_event(LOG_LEVEL_WARN, "db_prepared_statements_off", "error", "out of memory", LOG_END);
    return conn;
}

struct db_pool *db_pool_create(const char *conninfo, int size)
{
    struct db_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return NULL;
    pool->conninfo = strdup(conninfo);
    pool->slots = calloc((size_t)size, sizeof *pool->slots);
    if (pool->conninfo == NULL || pool->slots == NULL) {
        free(pool->conninfo);
        free(pool->slots);
        free(pool);
        return NULL;
    }
    pool->size = size;
    pthread_mutex_init(&pool->lock, NULL);
    return pool;
}

static struct timespec deadline_after_ms(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* An idle pooled connection expects nothing from the server. If anything is
 * waiting on its socket, it is the server's goodbye (a restart's "terminating
 * connection" notice, or EOF): the connection is dead even though libpq has
 * not noticed yet, and handing it out would fail someone's request. */
static bool is_idle_connection_alive(PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return false;
    struct pollfd ready = {.fd = PQsocket(conn), .events = POLLIN};
    return poll(&ready, 1, 0) == 0;
}

/* A free slot, preferring one with an open connection; NULL when all are
 * in use. Call with the lock held. */
static struct pool_slot *find_free_slot(struct db_pool *pool)
{
    struct pool_slot *best = NULL;
    for (int i = 0; i < pool->size; i++) {
        struct pool_slot *s = &pool->slots[i];
        if (!s->is_in_use && (best == NULL || (best->conn == NULL && s->conn != NULL)))
            best = s;
    }
    return best;
}

static void remove_waiter(struct db_pool *pool, const struct pool_waiter *waiter)
{
    struct pool_waiter **link = &pool->first_waiter, *previous = NULL;
    while (*link != NULL && *link != waiter) {
        previous = *link;
        link = &(*link)->next;
    }
    if (*link == NULL)
        return;
    *link = waiter->next;
    if (pool->last_waiter == waiter)
        pool->last_waiter = previous;
}

/* Gives slot to the longest waiter, or marks it free when nobody waits.
 * Call with the lock held. */
static void hand_over_or_free(struct db_pool *pool, struct pool_slot *slot)
{
    struct pool_waiter *waiter = pool->first_waiter;
    if (waiter == NULL) {
        slot->is_in_use = false;
        return;
    }
    pool->first_waiter = waiter->next;
    if (pool->last_waiter == waiter)
        pool->last_waiter = NULL;
    waiter->slot = slot; /* stays in use: it changes hands without being free */
    pthread_cond_signal(&waiter->handed_over);
}

/* Waits in line for a slot until deadline. Call with the lock held; returns
 * with it held. NULL on timeout. */
static struct pool_slot *wait_in_line(struct db_pool *pool, const struct timespec *deadline)
{
    struct pool_waiter waiter = {.slot = NULL, .next = NULL};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&waiter.handed_over, &attr);
    pthread_condattr_destroy(&attr);
    /* The queue links this stack variable only until this function returns:
     * a releasing thread unlinks it (hand_over_or_free) or, on timeout, we do. */
    if (pool->last_waiter != NULL)
        pool->last_waiter->next = &waiter;
    else
        pool->first_waiter = &waiter; // cppcheck-suppress autoVariables
    pool->last_waiter = &waiter;      // cppcheck-suppress autoVariables

    while (waiter.slot == NULL) {
        if (pthread_cond_timedwait(&waiter.handed_over, &pool->lock, deadline) == ETIMEDOUT && waiter.slot == NULL) {
            remove_waiter(pool, &waiter);
            break;
        }
    }
    pthread_cond_destroy(&waiter.handed_over);
    return waiter.slot;
}

PGconn *db_pool_acquire(struct db_pool *pool, int timeout_ms)
{
    struct timespec deadline = deadline_after_ms(timeout_ms);
    struct pool_slot *slot;
    char err[256];

    pthread_mutex_lock(&pool->lock);
    /* Queue behind anyone already waiting, even if a slot looks free. */
    slot = pool->first_waiter == NULL ? find_free_slot(pool) : NULL;
    if (slot != NULL)
        slot->is_in_use = true;
    else
        slot = wait_in_line(pool, &deadline);
    pthread_mutex_unlock(&pool->lock);
    if (slot == NULL)
        return NULL;

    if (slot->conn != NULL && !is_idle_connection_alive(slot->conn)) {
        PQfinish(slot->conn);
        slot->conn = NULL;
    }
    if (slot->conn == NULL) {
        slot->conn = db_connect(pool->conninfo, err, sizeof err);
        if (slot->conn == NULL) {
            log_event(LOG_LEVEL_WARN, "db_connect_failed", "error", err, LOG_END);
            pthread_mutex_lock(&pool->lock);
            hand_over_or_free(pool, slot);
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
    }
    return slot->conn;
}

void db_pool_release(struct db_pool *pool, PGconn *conn)
{
    if (conn == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->size; i++) {
        struct pool_slot *s = &pool->slots[i];
        if (s->conn != conn)
            continue;
        /* A connection that broke, or that a caller left mid-transaction,
         * must not carry its state into someone else's request. */
        if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) {
            PQfinish(conn);
            s->conn = NULL;
        }
        hand_over_or_free(pool, s);
        break;
    }
    pthread_mutex_unlock(&pool->lock);
}

enum db_status db_failure(PGconn *conn, const PGresult *res, const char *step)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* Connection failures (class 08), shutdowns (57P01..57P03) and lost
     * connections mean "try again later", not "this request is wrong". */
    bool is_unavailable = PQstatus(conn) != CONNECTION_OK || state == NULL || strncmp(state, "08", 2) == 0 ||
                          strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
    log_event(is_unavailable ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR, "db_step_failed", "step", step, "sqlstate",
              state ? state : "none", LOG_END);
    return is_unavailable ? DB_UNAVAILABLE : DB_ERROR;
}

enum db_status db_exec_count(PGconn *conn, const struct db_statement *stmt, const char *const *params,
                             long *affected)
{
    PGresult *res = db_exec_prepared(conn, stmt, params);
    enum db_status status = DB_OK;
    *affected = 0;
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        *affected = atol(PQcmdTuples(res));
    else
        status = db_failure(conn, res, stmt->name);
    PQclear(res);
    return status;
}

void db_copy_value(char *dst, size_t size, const PGresult *res, int column)
{
    snprintf(dst, size, "%s", PQgetvalue(res, 0, column));
}

enum db_status db_command(PGconn *conn, const char *sql, const char *step)
{
    PGresult *res = PQexec(conn, sql);
    enum db_status status = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : db_failure(conn, res, step);
    PQclear(res);
    return status;
}

bool db_is_ready(PGconn *conn)
{
    PGresult *res = PQexec(conn, "SELECT 1 FROM schema_migrations LIMIT 1");
    bool is_ready = PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    return is_ready;
}

void db_pool_free(struct db_pool *pool)
{
    if (pool == NULL)
        return;
    for (int i = 0; i < pool->size; i++)
        PQfinish(pool->slots[i].conn);
    pthread_mutex_destroy(&pool->lock);
    free(pool->slots);
    free(pool->conninfo);
    free(pool);
}
