/* Integration-test support: start the real signup-api binary against the
 * real test database, talk to it with a raw HTTP/1.1 client (so tests control
 * every byte, including broken ones), and query PostgreSQL directly. */
#ifndef SIGNUP_TEST_SUPPORT_H
#define SIGNUP_TEST_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct http_response {
    int status;            /* 0 when no valid response arrived */
    char *headers;         /* raw header block, NUL-terminated; owned */
    char *body;            /* NUL-terminated; owned */
    size_t body_len;
    json_t *json;          /* parsed body when it is JSON, else NULL; owned */
};

/* Starts build/signup-api (or $SIGNUP_API_BIN) with the current environment
 * plus PORT=port and DATABASE_URL=$TEST_DATABASE_URL, and the NULL-terminated
 * "NAME=value" strings in extra_env; waits until /healthz answers. Returns the
 * pid, or -1 (with a message on stderr). Server output goes to log_path. */
pid_t test_server_start(int port, const char *const *extra_env, const char *log_path);

/* Like test_server_start without waiting: returns the child's pid at once.
 * DATABASE_URL in extra_env overrides $TEST_DATABASE_URL. */
pid_t test_server_spawn(int port, const char *const *extra_env, const char *log_path);

/* Polls /healthz on port until it answers 200 (true), the process exits or
 * 30 s pass (false). */
bool test_server_wait_healthy(pid_t pid, int port);

/* SIGTERM, then wait; returns the exit status as from waitpid, or -1. */
int test_server_stop(pid_t pid);

/* Sends raw bytes to 127.0.0.1:port and reads the reply until the server
 * closes. Returns false on a socket error or timeout. resp must be freed with
 * http_response_free(). */
bool http_raw(int port, const char *request, size_t len, struct http_response *resp);

/* Builds and sends a request with Connection: close. content_type may be
 * NULL (no header). body may be NULL. */
bool http_request(int port, const char *method, const char *path, const char *content_type, const char *body,
                  size_t body_len, struct http_response *resp);

/* Case-insensitive header lookup into buf; false when absent. */
bool http_header(const struct http_response *resp, const char *name, char *buf, size_t buf_size);

void http_response_free(struct http_response *resp);

/* Runs sql with params on $TEST_DATABASE_URL and returns the first column of
 * the first row as a malloc'd string (caller frees), or NULL when no row. */
char *db_query_value(const char *sql, int n_params, const char *const *params);

/* Runs a statement without results; aborts the test on failure. */
void db_exec(const char *sql);

/* A fresh address no earlier test (or run) used: prefix-<pid>-<counter>@domain. */
void unique_email(char *buf, size_t size, const char *prefix, const char *domain);

#endif
