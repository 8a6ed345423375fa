/* Integration-test support for email: find and parse the messages a mail
 * catcher saved (through tests/tools/eml_to_json.py), run private catchers
 * for SMTP fault tests, run `signup-api --worker-only` processes, and wait
 * for database state to change. Failures ck_abort the running test. */
#ifndef SIGNUP_TEST_MAIL_SUPPORT_H
#define SIGNUP_TEST_MAIL_SUPPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MAIL_PATH_MAX 1024

/* $TEST_MAIL_DIR: where the shared catcher (SMTP_HOST:SMTP_PORT) saves
 * messages. Borrowed from the environment; exits when unset. */
const char *mail_shared_dir(void);

/* Paths of the messages in dir for recipient (case-insensitive), oldest
 * first; only those with exactly this Subject when subject is not NULL.
 * Returns a new JSON array of strings; caller json_decref()s it. */
json_t *mail_find(const char *dir, const char *recipient, const char *subject);

/* {"lower-cased recipient": [paths]} for every message in dir. New
 * reference; caller json_decref()s it. */
json_t *mail_index(const char *dir);

/* The description of one .eml as printed by eml_to_json.py (headers, line
 * facts, parts, anchors, links). New reference; caller json_decref()s it. */
json_t *mail_parse(const char *path);

/* Polls dir until at least count messages for recipient (with this Subject
 * when not NULL) are there, or timeout_ms passes. Returns a new array of
 * the parsed messages found, oldest first (fewer than count on timeout);
 * caller json_decref()s it. */
json_t *mail_wait_for(const char *dir, const char *recipient, const char *subject, size_t count, int timeout_ms);

/* Number of messages in dir for recipient (subject may be NULL). */
size_t mail_count(const char *dir, const char *recipient, const char *subject);

/* Accessors into a parsed message; all borrowed from mail. */
const char *mail_header(const json_t *mail, const char *name); /* first value, or NULL */
size_t mail_header_count(const json_t *mail, const char *name);
const char *mail_part_text(const json_t *mail, const char *content_type); /* first such part, or NULL */
const char *mail_verify_link(const json_t *mail);                         /* first link holding "token=", or NULL */

/* Copies the value of the link's token= query parameter into token; false
 * when the link has none or it does not fit. */
bool mail_link_token(const char *link, char *token, size_t size);

/* A private scripts/mail-catcher.py for fault tests, saving into its own
 * directory under build/test-output. */
struct mail_catcher {
    pid_t pid; /* -1 while stopped */
    int port;
    char dir[MAIL_PATH_MAX];
    char log_path[MAIL_PATH_MAX + 8];
    char reject[256]; /* MAIL_CATCHER_REJECT regex; "" = accept everyone */
};

/* Prepares c (new empty directory; nothing started). reject may be NULL. */
void mail_catcher_init(struct mail_catcher *c, int port, const char *reject);

/* Starts the catcher on c->port and waits until it accepts connections;
 * may be called again after mail_catcher_stop (same port, same directory).
 * Aborts the test when it cannot start. */
void mail_catcher_start(struct mail_catcher *c);

/* SIGTERM and wait; NULL-safe and idempotent. */
void mail_catcher_stop(struct mail_catcher *c);

/* An SMTP server that accepts connections and never says a word: a client's
 * session hangs waiting for the greeting until its own timeout, so a test can
 * act while a worker is certainly in the middle of a send, holding its claim. */
struct smtp_stall {
    int listen_fd; /* -1 while stopped */
    int port;
    int conns[8]; /* accepted and held open */
    size_t n_conns;
};

/* Listens on 127.0.0.1:port; aborts the test when it cannot. */
void smtp_stall_start(struct smtp_stall *s, int port);

/* Waits up to timeout_ms for the next client and holds its connection open;
 * false when none came. */
bool smtp_stall_wait_connection(struct smtp_stall *s, int timeout_ms);

/* Closes the held connections and the listener; idempotent. */
void smtp_stall_stop(struct smtp_stall *s);

/* Starts `signup-api --worker-only` with the current environment plus
 * DATABASE_URL=$TEST_DATABASE_URL and the NULL-terminated "NAME=value"
 * strings in extra_env; output appends to log_path. There is nothing to
 * wait for: it serves no HTTP. Returns the pid (stop with test_server_stop). */
pid_t mail_worker_start(const char *const *extra_env, const char *log_path);

/* Polls db_query_value(sql, params) until it returns expected or
 * timeout_ms passes. Returns the last value seen (caller free()s; may be
 * NULL when no row). */
char *db_wait_value(const char *sql, int n_params, const char *const *params, const char *expected, int timeout_ms);

/* Remembers a child process so mail_kill_tracked() can end it if the test
 * stops early. mail_catcher_start and mail_worker_start track their own;
 * untrack a pid once it has been reaped. */
void mail_track_pid(pid_t pid);
void mail_untrack_pid(pid_t pid);

/* SIGKILLs and reaps every tracked process. For a checked teardown: under
 * CK_FORK=no (valgrind runs) a failed test never reaches its own clean-up,
 * and nothing else would stop its servers. */
void mail_kill_tracked(void);

/* ms scaled by $CK_TIMEOUT_MULTIPLIER (as Check scales its own timeouts),
 * for waits that slow builds (valgrind) stretch. */
int mail_scaled_ms(int ms);

/* Points $TEST_DATABASE_URL at a fresh, empty database named
 * "<its database>_<suffix>" (dropped first if it exists), so the suite's
 * outbox rows are seen only by the workers it starts itself: no leftover
 * rows of other suites, no stray signup-api process stealing them. For
 * main(), before any test runs; prints the reason and returns false on
 * failure. The database is left in place afterwards for inspection. */
bool test_database_isolate(const char *suffix);

/* Milliseconds on a monotonic clock. */
long long mail_now_ms(void);

/* Sleeps ms milliseconds. */
void mail_sleep_ms(int ms);

#endif
