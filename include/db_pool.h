/* db_pool: a fixed number of PostgreSQL connections shared by request threads.
 * A connection is used by one thread at a time (libpq's rule) for a whole
 * transaction, and a broken one is dropped and reopened, never reused. */
#ifndef SIGNUP_DB_POOL_H
#define SIGNUP_DB_POOL_H

#include <libpq-fe.h>
#include <stdbool.h>

struct db_pool;

/* Opens nothing yet: connections are made on first use, so the service can
 * start while the database is still coming up. conninfo is copied.
 * Returns NULL on out-of-memory. Caller frees with db_pool_free(). */
struct db_pool *db_pool_create(const char *conninfo, int size) __attribute__((warn_unused_result));

/* Borrows a connected PGconn, waiting up to timeout_ms for a free one.
 * Returns NULL when none is free in time or the database cannot be reached.
 * The caller must hand it back with db_pool_release(). */
PGconn *db_pool_acquire(struct db_pool *pool, int timeout_ms) __attribute__((warn_unused_result));

/* Returns conn to the pool. A connection that is broken or left inside a
 * transaction is closed instead of being handed to the next caller. */
void db_pool_release(struct db_pool *pool, PGconn *conn);

/* Opens a single connection outside any pool (migrations, workers). Returns
 * NULL with libpq's message in err on failure; caller PQfinish()es. */
PGconn *db_connect(const char *conninfo, char *err, size_t err_size) __attribute__((warn_unused_result));

/* Whether connections made from now on prepare their statements (the
 * default) or send each as an unnamed statement (DB_PREPARED_STATEMENTS=false,
 * for PgBouncer in transaction pooling mode, which does not keep a server
 * connection's prepared statements for the client). Call before any thread
 * connects. */
void db_use_prepared_statements(bool is_on);

/* A statement each connection prepares (parses and plans) once, on its first
 * use there, and then only executes. name must be unique in the program; sql
 * uses $1..$n_params. Define them as static const beside their callers. */
struct db_statement {
    const char *name;
    const char *sql;
    int n_params;
};

/* Executes stmt on conn with n_params text params, preparing it first when
 * this connection has not yet (connections from db_connect() remember what
 * they prepared; any other connection just runs the SQL). Returns the result,
 * or the failed PREPARE's, for the caller to PQclear(). */
PGresult *db_exec_prepared(PGconn *conn, const struct db_statement *stmt, const char *const *params);

/* Outcome of a database step, as callers need to map it: "try again later"
 * (connection lost, server shutting down) versus a real error. */
enum db_status { DB_OK, DB_UNAVAILABLE, DB_ERROR };

/* Classifies a failed result (res may be NULL) and logs the step with its
 * SQLSTATE, never the query's parameters. */
enum db_status db_failure(PGconn *conn, const PGresult *res, const char *step);

/* Executes stmt, a command without RETURNING (INSERT, UPDATE, DELETE), and
 * stores in *affected how many rows it changed (0 when it failed). Failures
 * are logged with stmt->name as the step. */
enum db_status db_exec_count(PGconn *conn, const struct db_statement *stmt, const char *const *params,
                             long *affected);

/* Copies the value at row 0, column of res into dst (size bytes), cut to fit
 * and always NUL-terminated. */
void db_copy_value(char *dst, size_t size, const PGresult *res, int column);

/* Runs a parameterless command (BEGIN, COMMIT, ...); logs failures. */
enum db_status db_command(PGconn *conn, const char *sql, const char *step);

/* True when conn answers and the schema has been migrated (readiness). */
bool db_is_ready(PGconn *conn);

/* Closes every connection; no connection may be borrowed. NULL-safe. */
void db_pool_free(struct db_pool *pool);

#endif
