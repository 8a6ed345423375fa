/* Schema migrations: plain SQL files named NNN_name.sql, applied in name
 * order and recorded by version in schema_migrations. */
#include "db_migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "text_file.h"

/* The advisory lock key every instance agrees on. */
#define MIGRATION_LOCK_KEY "126896544052592" /* "signup" in ASCII, as an integer */
#define UNLOCK_SQL "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")"

static bool is_migration_name(const char *name)
{
    size_t len = strlen(name);
    return len > 8 && strspn(name, "0123456789") == 3 && name[3] == '_' &&
           strcmp(name + len - 4, ".sql") == 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns a sorted, malloc'd array of malloc'd file names; caller frees all. */
static char **list_migrations(const char *dir, size_t *count, char *err, size_t err_size)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *entry;

    if (d == NULL) {
        snprintf(err, err_size, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    while ((entry = readdir(d)) != NULL) {
        if (!is_migration_name(entry->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **bigger = realloc(names, cap * sizeof *names);
            if (bigger == NULL)
                goto oom;
            names = bigger;
        }
        names[n] = strdup(entry->d_name);
        if (names[n] == NULL)
            goto oom;
        n++;
    }
    closedir(d);
    if (names == NULL) {
        /* An empty directory: an empty list, not an error. */
        names = calloc(1, sizeof *names);
        if (names == NULL) {
            snprintf(err, err_size, "%s: out of memory", dir);
            return NULL;
        }
    }
    qsort(names, n, sizeof *names, compare_names);
    *count = n;
    return names;

oom:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    snprintf(err, err_size, "%s: out of memory", dir);
    return NULL;
}

/* Runs sql (may hold several statements); false with the error in err. */
static bool exec_ok(PGconn *conn, const char *sql, const char *what, char *err, size_t err_size)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType status = PQresultStatus(res);
    bool is_ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
    if (!is_ok) {
        snprintf(err, err_size, "%s: %s", what, PQerrorMessage(conn));
        err[strcspn(err, "\n")] = '\0';
    }
    PQclear(res);
    return is_ok;
}

static bool is_applied(PGconn *conn, const char *version, bool *applied, char *err, size_t err_size)
{
    const char *params[] = {version};
    PGresult *res = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL,
                                 params, NULL, NULL, 0);
    bool is_ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (is_ok)
        *applied = PQntuples(res) > 0;
    else
        snprintf(err, err_size, "schema_migrations: %s", PQerrorMessage(conn));
    PQclear(res);
    return is_ok;
}

static bool apply_one(PGconn *conn, const char *dir, const char *name, char *err, size_t err_size)
{
    char path[4096];
    char version[4] = {name[0], name[1], name[2], '\0'};
    const char *params[] = {version, name};
    char *sql = NULL;
    bool applied = false;
    PGresult *res = NULL;
    bool is_ok = false;
    char scratch[256];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!exec_ok(conn, "BEGIN", name, err, err_size))
        return false;
    if (!is_applied(conn, version, &applied, err, err_size))
        goto done;
    if (applied) {
        is_ok = true;
        goto done;
    }
    sql = text_file_read(path, NULL);
    if (sql == NULL) {
        snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
        goto done;
    }
    if (!exec_ok(conn, sql, name, err, err_size))
        goto done;
    res = PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(err, err_size, "%s: recording: %s", name, PQerrorMessage(conn));
        goto done;
    }
    is_ok = true;
    log_event(LOG_LEVEL_INFO, "migration_applied", "file", name, LOG_END);

done:
    PQclear(res);
    free(sql);
    if (is_ok)
        is_ok = exec_ok(conn, "COMMIT", name, err, err_size);
    else
        (void)exec_ok(conn, "ROLLBACK", name, scratch, sizeof scratch); /* keep the first error */
    return is_ok;
}

bool db_migrate(PGconn *conn, const char *dir, char *err, size_t err_size)
{
    size_t count = 0;
    char **names = NULL;
    bool is_ok = false;
    char scratch[256];

    names = list_migrations(dir, &count, err, err_size);
    if (names == NULL)
        return false;
    if (!exec_ok(conn, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", "advisory lock", err, err_size))
        goto cleanup;
    if (!exec_ok(conn,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version text PRIMARY KEY,"
                 " name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 "schema_migrations", err, err_size))
        goto unlock;
    is_ok = true;
    for (size_t i = 0; i < count && is_ok; i++)
        is_ok = apply_one(conn, dir, names[i], err, err_size);

unlock:
    if (is_ok)
        is_ok = exec_ok(conn, UNLOCK_SQL, "advisory unlock", err, err_size);
    else
        (void)exec_ok(conn, UNLOCK_SQL, "advisory unlock", scratch, sizeof scratch);
cleanup:
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
    return is_ok;
}
