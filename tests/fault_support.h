/* Integration-test support for fault tests: a raw HTTP exchange that tells
 * "refused at connect" from "connected but no answer", sign-up requests,
 * reading a process's memory figures, waiting for a process to exit, and
 * stopping the shared PostgreSQL cluster with a guard that always starts it
 * again. */
#ifndef SIGNUP_TEST_FAULT_SUPPORT_H
#define SIGNUP_TEST_FAULT_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FAULT_WARN_UNUSED __attribute__((warn_unused_result))

/* How one HTTP exchange ended, from the client's side. */
enum fault_outcome {
    FAULT_ANSWERED,  /* a complete status line and header block arrived */
    FAULT_REFUSED,   /* connect() failed: nobody listening */
    FAULT_NO_ANSWER, /* connected, but closed or reset before any response */
    FAULT_TIMED_OUT, /* connected, but nothing within the timeout */
};

struct fault_reply {
    enum fault_outcome outcome;
    int status;            /* HTTP status when FAULT_ANSWERED, else 0 */
    char code[64];         /* problem+json "code", or "" */
    char content_type[64]; /* Content-Type header, or "" */
    long retry_after;      /* Retry-After in seconds, or -1 when absent */
    long long sent_ms;     /* mail_now_ms() when the request was fully sent, or 0 */
    long long ended_ms;    /* mail_now_ms() when the exchange ended (answered, closed, refused…) */
};

/* Thread-safe (no ck_assert): sends request to 127.0.0.1:port, reads the
 * reply until the server closes, and fills *reply. When sent_counter is not
 * NULL it is incremented atomically once the whole request was written. */
void fault_http_exchange(int port, const char *request, size_t len, int timeout_ms, int *sent_counter,
                         struct fault_reply *reply);

/* Writes a complete `POST /signup` request (Connection: close) for email
 * into buf; returns its length, or 0 when it does not fit. */
size_t fault_signup_request(char *buf, size_t size, int port, const char *email) FAULT_WARN_UNUSED;

/* Opens a TCP connection to 127.0.0.1:port; with is_nonblocking the socket
 * is O_NONBLOCK and the connect may still be in progress. Returns the fd
 * (caller closes) or -1. */
int fault_connect(int port, bool is_nonblocking) FAULT_WARN_UNUSED;

/* What the server did with an idle or half-sent connection, checked without
 * blocking: true when it closed (EOF or reset), false while it is open.
 * Data the server sent (e.g. an error response) is read and discarded. */
bool fault_is_closed_by_peer(int fd) FAULT_WARN_UNUSED;

/* A kB figure ("VmRSS", "VmHWM", …) from /proc/<pid>/status, or -1. */
long fault_proc_status_kib(pid_t pid, const char *field) FAULT_WARN_UNUSED;

/* Waits up to timeout_ms for child pid to exit; true with *status set, or
 * false if it is still running. */
bool fault_wait_exit(pid_t pid, int timeout_ms, int *status) FAULT_WARN_UNUSED;

/* Runs `scripts/pg-local.sh <command>` (stop, start, status) with output
 * appended to log_path; returns its exit status (-1 if it could not run). */
int fault_pg_local(const char *command, const char *log_path) FAULT_WARN_UNUSED;

/* Starts a guardian process (its own session, so neither Check's killpg nor
 * a test timeout reaches it) that runs `scripts/pg-local.sh start` when the
 * calling process ends or calls fault_pg_guard_release(), however it ends:
 * a failed assertion (_exit in CK_FORK mode skips teardowns and atexit), a
 * timeout's SIGKILL, a crash. Returns false if it could not be started. */
bool fault_pg_guard_start(const char *log_path) FAULT_WARN_UNUSED;

/* Tells the guardian to start PostgreSQL now (if it is not running) and
 * waits for it to finish. No-op without a guardian. */
void fault_pg_guard_release(void);

#endif
