/* db_migrate: applies db/migrations/NNN_name.sql files in order, once each. */
#ifndef SIGNUP_DB_MIGRATE_H
#define SIGNUP_DB_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Applies every migration in dir not yet recorded in schema_migrations, each
 * in its own transaction, while holding a session advisory lock so instances
 * starting together apply each file exactly once. Returns false with the file
 * and PostgreSQL's message in err. */
bool db_migrate(PGconn *conn, const char *dir, char *err, size_t err_size) __attribute__((warn_unused_result));

#endif
