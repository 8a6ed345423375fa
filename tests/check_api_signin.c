/* Sign-in end to end (issue 12): POST /signin, GET /session, POST /signout and
 * /signout/all against the real server, PostgreSQL and mail catcher. "http"
 * shares one server with the brute-force limits off; "throttle" adds one with
 * them on behind a trusted proxy, so every test is its own client through
 * X-Forwarded-For; "servers" start their own (two instances with different
 * argon2 parameters, a fast sweeper, one hash slot, no database); "timeline"
 * waits out real idle and absolute expiries, once. The suite has a database
 * of its own, so pg_dump sees only its rows. */
#include <argon2.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_assert.h"
#include "mail_support.h"
#include "support.h"

#define CORP_DOMAIN "lintasarta.co.id"
#define PASSWORD "S1gn-In!Pass"
#define WRONG_PASSWORD "Wr0ng!Guess"
#define USER_AGENT "check_api_signin/1.0"
#define SPA_ORIGIN "http://localhost:5173"
#define SUBJECT_VERIFY "Verify your email address"
#define SUBJECT_ATTEMPTS "Someone is trying to sign in to your account"
#define TOKEN_LEN 43
#define TOKEN_BUF 64
#define EMAIL_BUF 128
#define CLIENT_BUF 32
/* Waits scale with CK_TIMEOUT_MULTIPLIER (valgrind runs). */
#define ARRIVAL_TIMEOUT_MS mail_scaled_ms(15000)
/* Long enough for several outbox polls (200 ms) to pass without a send. */
#define QUIET_PERIOD_MS 1500
/* The stored hash of a session token: SHA-256 of the 32 bytes the 43
 * base64url characters encode (not of the text). $N is the token. */
#define TOKEN_HASH(n) "sha256(decode(translate($" #n ", '-_', '+/') || '=', 'base64'))"

/* Ports: TEST_HTTP_PORT+100..+139 belong to this suite. */
enum {
    PORT_MAIN = 100,
    PORT_THROTTLE,
    PORT_REHASH_A,
    PORT_REHASH_B,
    PORT_SWEEP,
    PORT_BUSY,
    PORT_NO_DB,
    PORT_IDLE_60,
    PORT_IDLE_70,
    PORT_MAX_AGE_60,
};

/* The throttle server's limits (the pair limit is the default, 5). */
#define PAIR_LIMIT 5
#define CLIENT_LIMIT 12
#define ACCOUNT_LIMIT 8
/* "12" from 12, for the environment strings. */
#define TEXT_OF(n) TEXT_OF_(n)
#define TEXT_OF_(n) #n

static int main_port, throttle_port;
static pid_t main_pid = -1, throttle_pid = -1;

static int port_of(int offset)
{
    const char *text = getenv("TEST_HTTP_PORT");
    return (text ? atoi(text) : 18080) + offset;
}

static const char *server_log(void)
{
    return getenv("TEST_SERVER_LOG") ? getenv("TEST_SERVER_LOG") : "build/test-server.log";
}

/* Slow runs (valgrind) can take minutes per test; a one-day window keeps the
 * fixed windows' rollover out of their way. Otherwise the default, 900 s. */
static long failure_window_s(void)
{
    return mail_scaled_ms(1000) > 1000 ? 86400 : 900;
}

/* Environment of this suite's servers: mail to the shared catcher without
 * delay, VERIFY_URL on the server's own port, limits off unless extra says
 * otherwise (later entries win). Borrowed from *e. */
struct server_env {
    char verify_url[96];
    const char *vars[32];
};

static const char *const *server_env(struct server_env *e, int port, const char *const *extra)
{
    static const char *const FIXED[] = {"RATE_LIMITS_ENABLED=false", "OUTBOX_POLL_INTERVAL_MS=200",
                                        "OUTBOX_RETRY_BASE_MS=100", "OUTBOX_RETRY_MAX_MS=500"};
    size_t n = 0;
    snprintf(e->verify_url, sizeof e->verify_url, "VERIFY_URL=http://127.0.0.1:%d/verify", port);
    e->vars[n++] = e->verify_url;
    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++)
        e->vars[n++] = FIXED[i];
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n + 1 < sizeof e->vars / sizeof e->vars[0]; i++)
        e->vars[n++] = extra[i];
    e->vars[n] = NULL;
    return e->vars;
}

static pid_t start_fixture_server(int port, const char *const *extra)
{
    struct server_env env;
    (void)mail_shared_dir(); /* exits early when the environment is incomplete */
    pid_t pid = test_server_start(port, server_env(&env, port, extra), server_log());
    if (pid < 0)
        exit(EXIT_FAILURE);
    return pid;
}

static void main_server_setup(void)
{
    static const char *const extra[] = {"MAIL_WORKERS=1", "CORS_ALLOWED_ORIGINS=" SPA_ORIGIN, NULL};
    main_port = port_of(PORT_MAIN);
    main_pid = start_fixture_server(main_port, extra);
}

static void main_server_teardown(void)
{
    test_server_stop(main_pid);
    main_pid = -1;
}

/* Accounts are made on the main server (no sign-up limits there); sign-ins
 * go to the throttle server, a different client for every test. */
static void throttle_setup(void)
{
    static char window[48];
    snprintf(window, sizeof window, "SIGNIN_FAILURE_WINDOW=%ld", failure_window_s());
    const char *const extra[] = {"RATE_LIMITS_ENABLED=true",
                                 "TRUSTED_PROXIES=127.0.0.1",
                                 "SIGNIN_FAILURES_PER_CLIENT=" TEXT_OF(CLIENT_LIMIT),
                                 "SIGNIN_FAILURES_PER_ADDRESS=" TEXT_OF(ACCOUNT_LIMIT),
                                 window,
                                 "MAIL_WORKERS=1",
                                 NULL};
    main_server_setup();
    throttle_port = port_of(PORT_THROTTLE);
    throttle_pid = start_fixture_server(throttle_port, extra);
}

static void throttle_teardown(void)
{
    test_server_stop(throttle_pid);
    throttle_pid = -1;
    main_server_teardown();
}

/* A server of one test; mail_kill_tracked ends it if the test fails. */
static pid_t start_own_server(int port, const char *const *extra)
{
    struct server_env env;
    pid_t pid = test_server_start(port, server_env(&env, port, extra), server_log());
    ck_assert_msg(pid > 0, "server on port %d did not start; see %s", port, server_log());
    mail_track_pid(pid);
    return pid;
}

static void stop_own_server(pid_t pid, const char *what)
{
    int status = test_server_stop(pid);
    mail_untrack_pid(pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: exit status %d (signal %d)", what,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* ---- HTTP helpers ---- */

/* Sends method path with Connection: close, the extra header lines in
 * headers (each ending in CRLF; may be NULL) and body (may be NULL). POSTs
 * always carry a Content-Length. False when no valid response arrived. */
static bool send_request(int port, const char *method, const char *path, const char *headers, const char *content_type,
                         const char *body, size_t body_len, struct http_response *resp)
{
    size_t headers_len = headers ? strlen(headers) : 0;
    size_t size = strlen(method) + strlen(path) + headers_len + (content_type ? strlen(content_type) : 0) +
                  (body ? body_len : 0) + 256;
    char *request = malloc(size);
    ck_assert_ptr_nonnull(request);
    size_t len = (size_t)snprintf(request, size, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
                                  method, path, port);
    if (headers != NULL) {
        memcpy(request + len, headers, headers_len);
        len += headers_len;
    }
    if (content_type != NULL)
        len += (size_t)snprintf(request + len, size - len, "Content-Type: %s\r\n", content_type);
    if (body != NULL || strcmp(method, "POST") == 0)
        len += (size_t)snprintf(request + len, size - len, "Content-Length: %zu\r\n", body ? body_len : 0);
    len += (size_t)snprintf(request + len, size - len, "\r\n");
    if (body != NULL) {
        memcpy(request + len, body, body_len);
        len += body_len;
    }
    bool is_answered = http_raw(port, request, len, resp);
    free(request);
    return is_answered;
}

static char *signin_body(const char *email, const char *password)
{
    json_t *j = json_pack("{s:s, s:s}", "email", email, "password", password);
    ck_assert_ptr_nonnull(j);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

static void post_signin_with_headers(int port, const char *headers, const char *body, size_t len,
                                     struct http_response *resp)
{
    ck_assert_msg(send_request(port, "POST", "/signin", headers, "application/json", body, len, resp),
                  "no HTTP response to POST /signin on port %d", port);
}

/* POST /signin with our User-Agent and, when client is not NULL, that
 * X-Forwarded-For. */
static void post_signin_body(int port, const char *client, const char *body, size_t len, struct http_response *resp)
{
    char headers[160];
    snprintf(headers, sizeof headers, "User-Agent: " USER_AGENT "\r\n%s%s%s", client ? "X-Forwarded-For: " : "",
             client ? client : "", client ? "\r\n" : "");
    post_signin_with_headers(port, headers, body, len, resp);
}

/* POST /signin as client (X-Forwarded-For; NULL = none). Returns the status. */
static int sign_in_from(int port, const char *client, const char *email, const char *password,
                        struct http_response *resp)
{
    char *body = signin_body(email, password);
    post_signin_body(port, client, body, strlen(body), resp);
    free(body);
    return resp->status;
}

static int sign_in(int port, const char *email, const char *password, struct http_response *resp)
{
    return sign_in_from(port, NULL, email, password, resp);
}

static void sign_in_token_from(int port, const char *client, const char *email, const char *password,
                               char token[TOKEN_BUF])
{
    struct http_response resp;
    sign_in_from(port, client, email, password, &resp);
    ck_assert_msg(resp.status == 200, "POST /signin %s on port %d: %d %s", email, port, resp.status, resp.body);
    const char *text = json_str(resp.json, "session_token");
    ck_assert_msg(text != NULL && strlen(text) == TOKEN_LEN, "session_token: %s", resp.body);
    snprintf(token, TOKEN_BUF, "%s", text);
    http_response_free(&resp);
}

static void sign_in_token(int port, const char *email, const char *password, char token[TOKEN_BUF])
{
    sign_in_token_from(port, NULL, email, password, token);
}

/* method path with "Authorization: <authorization>" (NULL = no header). */
static void with_authorization(int port, const char *method, const char *path, const char *authorization,
                               struct http_response *resp)
{
    size_t size = (authorization ? strlen(authorization) : 0) + 32;
    char *headers = malloc(size);
    ck_assert_ptr_nonnull(headers);
    headers[0] = '\0';
    if (authorization != NULL)
        snprintf(headers, size, "Authorization: %s\r\n", authorization);
    ck_assert_msg(send_request(port, method, path, headers, NULL, NULL, 0, resp), "no HTTP response to %s %s", method,
                  path);
    free(headers);
}

static void with_token(int port, const char *method, const char *path, const char *token, struct http_response *resp)
{
    size_t size = strlen(token) + 8;
    char *authorization = malloc(size);
    ck_assert_ptr_nonnull(authorization);
    snprintf(authorization, size, "Bearer %s", token);
    with_authorization(port, method, path, authorization, resp);
    free(authorization);
}

static int status_with_token(int port, const char *method, const char *path, const char *token)
{
    struct http_response resp;
    with_token(port, method, path, token, &resp);
    int status = resp.status;
    http_response_free(&resp);
    return status;
}

static int session_status(int port, const char *token)
{
    return status_with_token(port, "GET", "/session", token);
}

static void assert_json_200(const struct http_response *resp)
{
    char content_type[128];
    ck_assert_msg(resp->status == 200, "expected 200, got %d: %s", resp->status, resp->body);
    ck_assert(http_header(resp, "Content-Type", content_type, sizeof content_type));
    ck_assert_str_eq(content_type, "application/json");
    ck_assert_ptr_nonnull(resp->json);
    assert_no_store(resp);
}

static void assert_unauthorized(const struct http_response *resp)
{
    char challenge[64];
    assert_problem(resp, 401, "unauthorized");
    ck_assert_msg(http_header(resp, "WWW-Authenticate", challenge, sizeof challenge), "401 without WWW-Authenticate");
    ck_assert_str_eq(challenge, "Bearer");
}

/* Retry-After as whole seconds within 1..max. */
static long assert_retry_after(const struct http_response *resp, long max)
{
    char text[32];
    ck_assert_msg(http_header(resp, "Retry-After", text, sizeof text), "%d without Retry-After", resp->status);
    ck_assert_msg(strspn(text, "0123456789") == strlen(text) && atol(text) >= 1 && atol(text) <= max,
                  "Retry-After: %s (expected 1..%ld)", text, max);
    return atol(text);
}

/* The header block minus the lines that differ by nature (Date, X-Request-Id). */
static void stable_headers(const struct http_response *resp, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (const char *line = resp->headers; line != NULL && *line != '\0';) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (strncasecmp(line, "Date:", 5) != 0 && strncasecmp(line, "X-Request-Id:", 13) != 0 &&
            used + len + 2 < size) {
            memcpy(out + used, line, len);
            used += len;
            out[used++] = '\n';
            out[used] = '\0';
        }
        line = eol ? eol + 2 : NULL;
    }
}

static void assert_same_answer(const struct http_response *a, const struct http_response *b, const char *what)
{
    char headers_a[2048], headers_b[2048];
    ck_assert_msg(a->status == b->status, "%s: status %d vs %d", what, a->status, b->status);
    ck_assert_msg(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0, "%s: body\n%s\nvs\n%s",
                  what, a->body, b->body);
    stable_headers(a, headers_a, sizeof headers_a);
    stable_headers(b, headers_b, sizeof headers_b);
    ck_assert_msg(strcmp(headers_a, headers_b) == 0, "%s: headers\n%s\nvs\n%s", what, headers_a, headers_b);
}

/* The value of one Prometheus series on port, or -1 when absent. */
static long metric(int port, const char *series)
{
    struct http_response resp;
    long value = -1;
    size_t len = strlen(series);
    ck_assert(send_request(port, "GET", "/metrics", NULL, NULL, NULL, 0, &resp));
    ck_assert_int_eq(resp.status, 200);
    for (const char *line = resp.body; line != NULL && *line != '\0';) {
        if (strncmp(line, series, len) == 0 && line[len] == ' ') {
            value = atol(line + len + 1);
            break;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    http_response_free(&resp);
    return value;
}

/* Case-insensitive strstr (strcasestr is a GNU extension). */
static bool contains_ci(const char *haystack, const char *needle)
{
    size_t len = strlen(needle);
    for (; *haystack != '\0'; haystack++) {
        if (strncasecmp(haystack, needle, len) == 0)
            return true;
    }
    return false;
}

/* A client address no other test of this run uses: the pid tells forked
 * tests apart, the counter the addresses of one process (CK_FORK=no too). */
static void fresh_client(char out[CLIENT_BUF])
{
    static unsigned counter;
    unsigned v = ((unsigned)getpid() * 64u + counter++) & 0xFFFFFFu;
    snprintf(out, CLIENT_BUF, "10.%u.%u.%u", v >> 16, (v >> 8) & 255u, v & 255u);
}

static void upper_case(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - 32 : in[i]);
    out[i] = '\0';
}

/* ---- Database and account helpers (all values are parameters) ---- */

/* One expression (as text) over the session row of token; NULL when none. */
static char *session_value(const char *expr, const char *token)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT (%s)::text FROM sessions WHERE token_hash = " TOKEN_HASH(1), expr);
    const char *params[] = {token};
    return db_query_value(sql, 1, params);
}

static long session_rows(const char *token)
{
    return query_long("SELECT count(*) FROM sessions WHERE token_hash = " TOKEN_HASH(1), token);
}

static long sessions_of(const char *email)
{
    return query_long("SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id "
                      " WHERE lower(a.email) = lower($1)",
                      email);
}

/* The boolean query answers true for the given text parameters. */
static bool db_true(const char *sql, int n_params, const char *const *params)
{
    char *value = db_query_value(sql, n_params, params);
    bool is_true = value != NULL && strcmp(value, "t") == 0; /* libpq's text form of a boolean */
    free(value);
    return is_true;
}

static void sign_up(int port, const char *full_name, const char *email, const char *password)
{
    struct http_response resp;
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "full_name", full_name, "email", email, "password", password,
                          "phone_number", "0812-3456-7890", "accept_terms", 1);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    ck_assert_msg(send_request(port, "POST", "/signup", NULL, "application/json", body, strlen(body), &resp),
                  "no HTTP response to POST /signup");
    ck_assert_msg(resp.status == 201, "POST /signup: %d %s", resp.status, resp.body ? resp.body : "");
    http_response_free(&resp);
    free(body);
}

/* As if the link in the email had been followed. */
static void mark_verified(const char *email)
{
    const char *params[] = {email};
    char *done = db_query_value("UPDATE accounts SET email_verified_at = now() WHERE lower(email) = lower($1) "
                                "RETURNING 1",
                                1, params);
    ck_assert_msg(done != NULL, "no account %s to verify", email);
    free(done);
}

/* Signs up a fresh address on port with password and verifies it. */
static void verified_account(int port, const char *prefix, const char *password, char email[EMAIL_BUF])
{
    unique_email(email, EMAIL_BUF, prefix, CORP_DOMAIN);
    sign_up(port, "Signin Person", email, password);
    mark_verified(email);
}

static char *password_hash_of(const char *email)
{
    const char *params[] = {email};
    return db_query_value("SELECT password_hash FROM accounts WHERE lower(email) = lower($1)", 1, params);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

static void sleep_until(double deadline_ms)
{
    double left = deadline_ms - now_ms();
    if (left > 0)
        mail_sleep_ms((int)left + 1);
}

/* ---- The shared server ("http" case) ---- */

START_TEST(test_signin_verified_account_gets_200_with_bearer_token_and_profile)
{
    char email[EMAIL_BUF];
    struct http_response resp;
    unique_email(email, sizeof email, "budi", CORP_DOMAIN);
    sign_up(main_port, "Budi Santoso", email, PASSWORD);
    mark_verified(email);

    sign_in(main_port, email, PASSWORD, &resp);
    assert_json_200(&resp);
    ck_assert_str_eq(json_str(resp.json, "status"), "signed_in");
    ck_assert_str_eq(json_str(resp.json, "token_type"), "Bearer");
    const char *token = json_str(resp.json, "session_token");
    ck_assert_msg(token != NULL && strlen(token) == TOKEN_LEN && is_base64url(token), "session_token %s",
                  token ? token : "(none)");

    json_t *account = json_object_get(resp.json, "account");
    const char *params[] = {email};
    char *id = db_query_value("SELECT id::text FROM accounts WHERE email = $1", 1, params);
    ck_assert_str_eq(json_str(account, "id"), id);
    ck_assert_str_eq(json_str(account, "email"), email);
    ck_assert_str_eq(json_str(account, "full_name"), "Budi Santoso");
    ck_assert_str_eq(json_str(account, "phone_number"), "+6281234567890");
    const char *verified_at = json_str(account, "email_verified_at");
    ck_assert_ptr_nonnull(verified_at);
    const char *verified_params[] = {email, verified_at};
    ck_assert_msg(db_true("SELECT abs(extract(epoch FROM $2::timestamptz - email_verified_at)) < 1 "
                          "  FROM accounts WHERE email = $1",
                          2, verified_params),
                  "email_verified_at %s is not the stored time", verified_at);

    /* One row, found by the token's SHA-256: idle expiry (3600 s) is what the
     * client is told, within the absolute one (43200 s); peer and
     * User-Agent kept for the owner's own list. */
    ck_assert_int_eq(session_rows(token), 1);
    char *row = session_value("account_id::text || ' ' || client_ip || ' ' || user_agent || ' ' || "
                              "(revoked_at IS NULL) || ' ' || "
                              "round(extract(epoch FROM idle_expires_at - created_at)) || ' ' || "
                              "round(extract(epoch FROM absolute_expires_at - created_at))",
                              token);
    char expected[256];
    snprintf(expected, sizeof expected, "%s 127.0.0.1 " USER_AGENT " true 3600 43200", id);
    ck_assert_str_eq(row, expected);
    const char *expires_at = json_str(resp.json, "expires_at");
    ck_assert_ptr_nonnull(expires_at);
    const char *expiry_params[] = {token, expires_at};
    ck_assert_msg(db_true("SELECT abs(extract(epoch FROM $2::timestamptz - idle_expires_at)) < 1 "
                          "  FROM sessions WHERE token_hash = " TOKEN_HASH(1),
                          2, expiry_params),
                  "expires_at %s is not the session's idle expiry", expires_at);
    ck_assert_msg(strlen(expires_at) >= 20 && expires_at[10] == 'T' &&
                      (expires_at[strlen(expires_at) - 1] == 'Z' || strchr(expires_at + 19, '+') != NULL),
                  "expires_at %s is not RFC 3339", expires_at);
    free(row);
    free(id);
    http_response_free(&resp);
}
END_TEST

START_TEST(test_signin_email_in_other_letter_case_with_surrounding_spaces_signs_in)
{
    char email[EMAIL_BUF], upper[EMAIL_BUF], padded[EMAIL_BUF + 8];
    struct http_response resp;
    verified_account(main_port, "case", PASSWORD, email);
    upper_case(email, upper, sizeof upper);
    snprintf(padded, sizeof padded, "  %s \t", upper);
    sign_in(main_port, padded, PASSWORD, &resp);
    assert_json_200(&resp);
    ck_assert_str_eq(json_str(json_object_get(resp.json, "account"), "email"), email);
    http_response_free(&resp);
}
END_TEST

/* The two kinds of 401 must not tell who has an account: same status,
 * headers (but Date and X-Request-Id) and body, byte for byte. */
START_TEST(test_signin_unknown_email_and_wrong_password_get_identical_401)
{
    char known[EMAIL_BUF], unverified[EMAIL_BUF], unknown[EMAIL_BUF];
    struct http_response reference, resp;
    verified_account(main_port, "known", PASSWORD, known);
    unique_email(unverified, sizeof unverified, "unverified", CORP_DOMAIN);
    sign_up(main_port, "Not Verified", unverified, PASSWORD);
    unique_email(unknown, sizeof unknown, "nobody", CORP_DOMAIN);

    sign_in(main_port, unknown, PASSWORD, &reference);
    assert_problem(&reference, 401, "invalid_credentials");
    const struct {
        const char *email, *password, *what;
    } OTHERS[] = {
        {known, WRONG_PASSWORD, "wrong password"},
        {known, "s1gn-in!pass", "password in another letter case"},
        {known, PASSWORD " ", "password with a trailing space"},
        {known, " " PASSWORD, "password with a leading space"},
        {unverified, WRONG_PASSWORD, "wrong password for an unverified account"},
        {unknown, WRONG_PASSWORD, "unknown email, other password"},
    };
    for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++) {
        sign_in(main_port, OTHERS[i].email, OTHERS[i].password, &resp);
        assert_problem(&resp, 401, "invalid_credentials");
        assert_same_answer(&resp, &reference, OTHERS[i].what);
        http_response_free(&resp);
    }
    ck_assert_int_eq(sessions_of(known), 0);
    /* A wrong password on an unverified account sends nothing. */
    ck_assert_int_eq(outbox_rows_of_kind(unverified, "verification"), 1);
    http_response_free(&reference);
}
END_TEST

START_TEST(test_signin_unverified_account_with_right_password_gets_403_and_a_fresh_email)
{
    char email[EMAIL_BUF], token1[TOKEN_BUF], token2[TOKEN_BUF], path[128];
    struct http_response resp, again;
    unique_email(email, sizeof email, "pending", CORP_DOMAIN);
    sign_up(main_port, "Pending Person", email, PASSWORD);
    json_t *mails = mail_wait_for(mail_shared_dir(), email, SUBJECT_VERIFY, 1, ARRIVAL_TIMEOUT_MS);
    ck_assert_msg(json_array_size(mails) == 1, "the sign-up's verification email did not arrive");
    ck_assert_ptr_nonnull(mail_verify_link(json_array_get(mails, 0)));
    ck_assert(mail_link_token(mail_verify_link(json_array_get(mails, 0)), token1, sizeof token1));
    json_decref(mails);

    sign_in(main_port, email, PASSWORD, &resp);
    assert_problem(&resp, 403, "email_not_verified");
    ck_assert_msg(strstr(json_str(resp.json, "detail"), "verification email") != NULL, "detail: %s",
                  json_str(resp.json, "detail"));
    ck_assert_int_eq(sessions_of(email), 0);
    mails = mail_wait_for(mail_shared_dir(), email, SUBJECT_VERIFY, 2, ARRIVAL_TIMEOUT_MS);
    ck_assert_msg(json_array_size(mails) == 2, "no fresh verification email after the 403");
    ck_assert_ptr_nonnull(mail_verify_link(json_array_get(mails, 1)));
    ck_assert(mail_link_token(mail_verify_link(json_array_get(mails, 1)), token2, sizeof token2));
    ck_assert_msg(strcmp(token1, token2) != 0, "the fresh email carries the old token");
    json_decref(mails);

    /* Within the minute: the same 403, no third email (RESEND_PER_MINUTE=1). */
    sign_in(main_port, email, PASSWORD, &again);
    assert_problem(&again, 403, "email_not_verified");
    ck_assert_str_eq(again.body, resp.body);
    http_response_free(&again);
    ck_assert_int_eq(outbox_rows_of_kind(email, "verification"), 2);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(mail_shared_dir(), email, SUBJECT_VERIFY), 2);

    /* The fresh link verifies; then the same password signs in. */
    snprintf(path, sizeof path, "/verify?token=%s", token2);
    ck_assert(send_request(main_port, "GET", path, "Accept: application/json\r\n", NULL, NULL, 0, &again));
    ck_assert_msg(again.status == 200 && strcmp(json_str(again.json, "status"), "verified") == 0, "GET /verify: %d %s",
                  again.status, again.body);
    http_response_free(&again);
    sign_in(main_port, email, PASSWORD, &again);
    assert_json_200(&again);
    ck_assert_ptr_nonnull(json_str(json_object_get(again.json, "account"), "email_verified_at"));
    http_response_free(&again);
    http_response_free(&resp);
}
END_TEST

static const struct {
    const char *body;
    bool is_email_missing, is_password_missing;
} MISSING[] = {
    {"{}", true, true},
    {"{\"email\":null,\"password\":null}", true, true},
    {"{\"email\":\"\",\"password\":\"\"}", true, true},
    {"{\"email\":\"   \",\"password\":\"   \"}", true, true},
    {"{\"email\":\"\\t\\n \",\"password\":\"\\r\\n\"}", true, true},
    {"{\"email\":\"someone@" CORP_DOMAIN "\"}", false, true},
    {"{\"email\":\"someone@" CORP_DOMAIN "\",\"password\":null}", false, true},
    {"{\"password\":\"" PASSWORD "\"}", true, false},
    {"{\"email\":\" \",\"password\":\"" PASSWORD "\",\"remember\":true}", true, false},
};

START_TEST(test_signin_missing_null_or_blank_fields_get_422_naming_each)
{
    struct http_response resp;
    post_signin_body(main_port, NULL, MISSING[_i].body, strlen(MISSING[_i].body), &resp);
    assert_problem(&resp, 422, "validation_failed");
    json_t *errors = json_object_get(resp.json, "errors");
    size_t expected = (size_t)MISSING[_i].is_email_missing + (size_t)MISSING[_i].is_password_missing;
    ck_assert_msg(json_array_size(errors) == expected, "%s: %s", MISSING[_i].body, resp.body);
    size_t i;
    json_t *error;
    bool has_email = false, has_password = false;
    json_array_foreach(errors, i, error)
    {
        has_email = has_email || (strcmp(json_str(error, "field"), "email") == 0 &&
                                  strcmp(json_str(error, "code"), "email_required") == 0);
        has_password = has_password || (strcmp(json_str(error, "field"), "password") == 0 &&
                                        strcmp(json_str(error, "code"), "password_required") == 0);
        ck_assert_ptr_nonnull(json_str(error, "message"));
    }
    ck_assert_msg(has_email == MISSING[_i].is_email_missing && has_password == MISSING[_i].is_password_missing,
                  "%s: %s", MISSING[_i].body, resp.body);
    http_response_free(&resp);
}
END_TEST

#define RAW_NUL_BODY "{\"email\":\"a@b\",\"password\":\"x\0y\"}"

static const struct {
    const char *body;
    size_t len; /* 0: strlen(body) */
    const char *code, *field;
} MALFORMED[] = {
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"password\":", 0, "malformed_json", NULL},
    {"email=a&password=b", 0, "malformed_json", NULL},
    {"", 0, "malformed_json", NULL},
    {"[\"a@" CORP_DOMAIN "\",\"" PASSWORD "\"]", 0, "body_not_object", NULL},
    {"\"a@" CORP_DOMAIN "\"", 0, "body_not_object", NULL},
    {"42", 0, "body_not_object", NULL},
    {"null", 0, "body_not_object", NULL},
    {"{\"email\":42,\"password\":\"" PASSWORD "\"}", 0, "wrong_field_type", "email"},
    {"{\"email\":[\"a@" CORP_DOMAIN "\"],\"password\":\"" PASSWORD "\"}", 0, "wrong_field_type", "email"},
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"password\":12345678}", 0, "wrong_field_type", "password"},
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"password\":[\"" PASSWORD "\"]}", 0, "wrong_field_type", "password"},
    {"{\"email\":true,\"password\":\"" PASSWORD "\"}", 0, "wrong_field_type", "email"},
    {"{\"email\":{\"a\":1},\"password\":\"" PASSWORD "\"}", 0, "wrong_field_type", "email"},
    /* Duplicate keys: which password was meant? */
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"password\":\"x\",\"password\":\"" PASSWORD "\"}", 0, "malformed_json", NULL},
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"email\":\"b@" CORP_DOMAIN "\",\"password\":\"" PASSWORD "\"}", 0,
     "malformed_json", NULL},
    /* NUL inside a field, escaped and raw. */
    {"{\"email\":\"a\\u0000@" CORP_DOMAIN "\",\"password\":\"" PASSWORD "\"}", 0, "malformed_json", NULL},
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"password\":\"S1gn\\u0000-In!Pass\"}", 0, "malformed_json", NULL},
    {RAW_NUL_BODY, sizeof RAW_NUL_BODY - 1, "malformed_json", NULL},
    /* Not UTF-8: a stray byte, an overlong '/', a lone surrogate. */
    {"{\"email\":\"\xff@" CORP_DOMAIN "\",\"password\":\"" PASSWORD "\"}", 0, "malformed_json", NULL},
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"password\":\"\xC0\xAF" PASSWORD "\"}", 0, "malformed_json", NULL},
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"password\":\"\\ud800" PASSWORD "\"}", 0, "malformed_json", NULL},
};

START_TEST(test_signin_malformed_or_mistyped_body_gets_400)
{
    struct http_response resp;
    size_t len = MALFORMED[_i].len ? MALFORMED[_i].len : strlen(MALFORMED[_i].body);
    post_signin_body(main_port, NULL, MALFORMED[_i].body, len, &resp);
    assert_problem(&resp, 400, MALFORMED[_i].code);
    if (MALFORMED[_i].field != NULL) {
        json_t *error = json_array_get(json_object_get(resp.json, "errors"), 0);
        ck_assert_int_eq(json_array_size(json_object_get(resp.json, "errors")), 1);
        ck_assert_str_eq(json_str(error, "field"), MALFORMED[_i].field);
        ck_assert_str_eq(json_str(error, "code"), "wrong_type");
    }
    http_response_free(&resp);
}
END_TEST

static const char *const BAD_CONTENT_TYPES[] = {
    NULL, "text/plain", "application/x-www-form-urlencoded", "application/jsonx", "application/problem+json",
};

START_TEST(test_signin_without_json_content_type_gets_415)
{
    struct http_response resp;
    char *body = signin_body("someone@" CORP_DOMAIN, PASSWORD);
    ck_assert(send_request(main_port, "POST", "/signin", NULL, BAD_CONTENT_TYPES[_i], body, strlen(body), &resp));
    assert_problem(&resp, 415, "unsupported_media_type");
    http_response_free(&resp);
    free(body);
}
END_TEST

START_TEST(test_signin_json_content_type_with_charset_is_accepted)
{
    char email[EMAIL_BUF];
    struct http_response resp;
    verified_account(main_port, "charset", PASSWORD, email);
    char *body = signin_body(email, PASSWORD);
    ck_assert(
        send_request(main_port, "POST", "/signin", NULL, "Application/JSON; charset=utf-8", body, strlen(body), &resp));
    assert_json_200(&resp);
    http_response_free(&resp);
    free(body);
}
END_TEST

/* Whitespace pads a valid body to exactly n bytes. */
static char *padded_signin_body(const char *email, size_t n)
{
    char *body = malloc(n + 1);
    ck_assert_ptr_nonnull(body);
    int head = snprintf(body, n + 1, "{\"email\":\"%s\",\"password\":\"%s\"", email, WRONG_PASSWORD);
    ck_assert((size_t)head < n);
    memset(body + head, ' ', n - (size_t)head - 1);
    body[n - 1] = '}';
    body[n] = '\0';
    return body;
}

START_TEST(test_signin_body_over_16_kib_gets_413_and_exactly_16_kib_is_read)
{
    char email[EMAIL_BUF];
    struct http_response resp;
    unique_email(email, sizeof email, "big", CORP_DOMAIN);
    char *body = padded_signin_body(email, 16384);
    post_signin_body(main_port, NULL, body, 16384, &resp);
    assert_problem(&resp, 401, "invalid_credentials");
    http_response_free(&resp);
    free(body);

    body = padded_signin_body(email, 16385);
    post_signin_body(main_port, NULL, body, 16385, &resp);
    assert_problem(&resp, 413, "payload_too_large");
    http_response_free(&resp);
    free(body);
}
END_TEST

/* Text no account can have as its address is not a 422: just 401. */
START_TEST(test_signin_addresses_no_account_can_have_get_401)
{
    static char huge[16000];
    memset(huge, 'a', sizeof huge - 1);
    memcpy(huge + sizeof huge - 1 - strlen("@" CORP_DOMAIN), "@" CORP_DOMAIN, strlen("@" CORP_DOMAIN));
    const char *const EMAILS[] = {
        "not-an-email",   "a@b@" CORP_DOMAIN, "jos\xC3\xA9@" CORP_DOMAIN, "' OR '1'='1@" CORP_DOMAIN,
        "%@" CORP_DOMAIN, "_@" CORP_DOMAIN,   "a\nb@" CORP_DOMAIN,        huge,
    };
    struct http_response resp;
    for (size_t i = 0; i < sizeof EMAILS / sizeof EMAILS[0]; i++) {
        sign_in(main_port, EMAILS[i], PASSWORD, &resp);
        ck_assert_msg(resp.status == 401, "email %.40s: %d %s", EMAILS[i], resp.status, resp.body);
        assert_problem(&resp, 401, "invalid_credentials");
        http_response_free(&resp);
    }
}
END_TEST

/* Sign-up accepts up to 256 bytes; one byte more can match no account, and
 * a 300-byte password is a 401 like any wrong one, never a 500. */
START_TEST(test_signin_password_over_256_bytes_gets_401_and_256_bytes_sign_in)
{
    char email[EMAIL_BUF], unknown[EMAIL_BUF], longest[257], longer[258], huge[301];
    struct http_response resp;
    memset(longest, 'x', 256);
    memcpy(longest, "Aa1!", 4);
    longest[256] = '\0';
    snprintf(longer, sizeof longer, "%sy", longest);
    snprintf(huge, sizeof huge, "%s%.*s", longest, 44, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    ck_assert_uint_eq(strlen(huge), 300);
    verified_account(main_port, "longpw", longest, email);
    unique_email(unknown, sizeof unknown, "longpw-nobody", CORP_DOMAIN);

    sign_in(main_port, email, longest, &resp);
    assert_json_200(&resp);
    http_response_free(&resp);
    const struct {
        const char *email, *password;
    } TOO_LONG[] = {{email, longer}, {email, huge}, {unknown, huge}};
    for (size_t i = 0; i < sizeof TOO_LONG / sizeof TOO_LONG[0]; i++) {
        sign_in(main_port, TOO_LONG[i].email, TOO_LONG[i].password, &resp);
        ck_assert_msg(resp.status == 401, "%zu-byte password: %d %s", strlen(TOO_LONG[i].password), resp.status,
                      resp.body);
        assert_problem(&resp, 401, "invalid_credentials");
        http_response_free(&resp);
    }
    ck_assert_int_eq(sessions_of(email), 1);
}
END_TEST

START_TEST(test_session_returns_account_and_session_times)
{
    char email[EMAIL_BUF];
    struct http_response signed_in, resp;
    verified_account(main_port, "whoami", PASSWORD, email);
    sign_in(main_port, email, PASSWORD, &signed_in);
    assert_json_200(&signed_in);
    const char *token = json_str(signed_in.json, "session_token");

    with_token(main_port, "GET", "/session", token, &resp);
    assert_json_200(&resp);
    ck_assert_msg(json_equal(json_object_get(resp.json, "account"), json_object_get(signed_in.json, "account")),
                  "GET /session account %s differs from the sign-in's %s", resp.body, signed_in.body);
    json_t *session = json_object_get(resp.json, "session");
    ck_assert_ptr_nonnull(session);
    /* Within the first minute nothing is written: the expiry stands. */
    ck_assert_str_eq(json_str(session, "expires_at"), json_str(signed_in.json, "expires_at"));
    const char *params[] = {token, json_str(session, "created_at")};
    ck_assert_ptr_nonnull(params[1]);
    ck_assert_msg(db_true("SELECT abs(extract(epoch FROM $2::timestamptz - created_at)) < 1 "
                          "  FROM sessions WHERE token_hash = " TOKEN_HASH(1),
                          2, params),
                  "created_at %s is not the session's", params[1]);
    http_response_free(&resp);
    http_response_free(&signed_in);
}
END_TEST

START_TEST(test_session_scheme_is_case_insensitive)
{
    static const char *const SCHEMES[] = {"bearer", "BEARER", "BeArEr"};
    char email[EMAIL_BUF], token[TOKEN_BUF], authorization[TOKEN_BUF + 16];
    struct http_response resp;
    verified_account(main_port, "scheme", PASSWORD, email);
    sign_in_token(main_port, email, PASSWORD, token);
    for (size_t i = 0; i < sizeof SCHEMES / sizeof SCHEMES[0]; i++) {
        snprintf(authorization, sizeof authorization, "%s %s", SCHEMES[i], token);
        with_authorization(main_port, "GET", "/session", authorization, &resp);
        ck_assert_msg(resp.status == 200, "Authorization: %s: %d", SCHEMES[i], resp.status);
        assert_json_200(&resp);
        http_response_free(&resp);
    }
}
END_TEST

/* What each Authorization value is made of: %s is a live token. */
static const char *const BAD_AUTHORIZATIONS[] = {
    NULL, /* no header at all */
    "",
    "Bearer",
    "Bearer ",
    "Bearer      ",
    "Basic dXNlcjpwYXNz",
    "Basic %s",
    "Token %s",
    "%s",
    "Bearer\t%s",
    "Bearer,%s",
    "Bearer:%s",
    "Bearer Bearer %s",
    "Bearer %s extra",
    "Bearer %s,Bearer %s",
    "Bearer %sA",        /* 44 characters */
    "Bearer %s=",        /* padding our tokens never have */
    "Bearer \"%s\"",     /* quoted */
    "Bearer %s\xC3\xA9", /* non-ASCII after the token */
    "Bearer \xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9",
    "Bearer \xff\xfe\xfd",
    "Bearer \xE2\x80\x8B%s",                              /* zero-width space before it */
    "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* well-formed, nobody's */
};

/* The live token with its 21st character changed (still base64url). */
static void changed_token(const char *token, char out[TOKEN_BUF])
{
    snprintf(out, TOKEN_BUF, "%s", token);
    out[20] = out[20] == 'A' ? 'B' : 'A';
}

START_TEST(test_session_unusable_authorization_gets_the_one_401)
{
    char email[EMAIL_BUF], token[TOKEN_BUF], authorization[512];
    struct http_response reference, resp;
    verified_account(main_port, "hostile", PASSWORD, email);
    sign_in_token(main_port, email, PASSWORD, token);
    with_authorization(main_port, "GET", "/session", NULL, &reference);
    assert_unauthorized(&reference);

    static const char *const PATHS[][2] = {{"GET", "/session"}, {"POST", "/signout"}, {"POST", "/signout/all"}};
    for (size_t k = 0; k < sizeof BAD_AUTHORIZATIONS / sizeof BAD_AUTHORIZATIONS[0]; k++) {
        const char *format = BAD_AUTHORIZATIONS[k];
        /* The table holds formats on purpose (-Wformat-nonliteral is off). */
        if (format != NULL)
            snprintf(authorization, sizeof authorization, format, token, token);
        for (size_t i = 0; i < sizeof PATHS / sizeof PATHS[0]; i++) {
            with_authorization(main_port, PATHS[i][0], PATHS[i][1], format ? authorization : NULL, &resp);
            ck_assert_msg(resp.status == 401, "%s %s with Authorization [%s]: %d %s", PATHS[i][0], PATHS[i][1],
                          format ? authorization : "(none)", resp.status, resp.body);
            assert_unauthorized(&resp);
            ck_assert_msg(strcmp(resp.body, reference.body) == 0, "Authorization [%s]: body %s",
                          format ? authorization : "(none)", resp.body);
            http_response_free(&resp);
        }
    }
    /* A token with one character changed names no session. */
    char changed[TOKEN_BUF];
    changed_token(token, changed);
    ck_assert_int_eq(session_status(main_port, changed), 401);
    /* None of it touched the real session. */
    ck_assert_int_eq(session_status(main_port, token), 200);
    http_response_free(&reference);
}
END_TEST

/* Two Authorization headers are ambiguous: neither is used. */
START_TEST(test_session_two_authorization_headers_get_401)
{
    char email[EMAIL_BUF], token[TOKEN_BUF], request[512];
    struct http_response reference, resp;
    verified_account(main_port, "twice", PASSWORD, email);
    sign_in_token(main_port, email, PASSWORD, token);
    with_authorization(main_port, "GET", "/session", NULL, &reference);
    const char *const SECONDS[] = {token, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "garbage"};
    for (size_t i = 0; i < sizeof SECONDS / sizeof SECONDS[0]; i++) {
        for (int order = 0; order < 2; order++) {
            int n = snprintf(request, sizeof request,
                             "GET /session HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                             "Authorization: Bearer %s\r\nAuthorization: Bearer %s\r\n\r\n",
                             order == 0 ? token : SECONDS[i], order == 0 ? SECONDS[i] : token);
            ck_assert(http_raw(main_port, request, (size_t)n, &resp));
            ck_assert_msg(resp.status == 401, "two Authorization headers (%s, %s): %d %s",
                          order == 0 ? "live" : "other", order == 0 ? "other" : "live", resp.status, resp.body);
            assert_unauthorized(&resp);
            ck_assert_str_eq(resp.body, reference.body);
            http_response_free(&resp);
        }
    }
    ck_assert_int_eq(session_status(main_port, token), 200);
    http_response_free(&reference);
}
END_TEST

START_TEST(test_session_huge_authorization_header_gets_4xx_and_server_keeps_serving)
{
    static const size_t SIZES[] = {20 * 1024, 64 * 1024};
    char email[EMAIL_BUF], token[TOKEN_BUF];
    struct http_response resp;
    verified_account(main_port, "huge", PASSWORD, email);
    sign_in_token(main_port, email, PASSWORD, token);
    for (size_t i = 0; i < sizeof SIZES / sizeof SIZES[0]; i++) {
        size_t size = SIZES[i] + 256;
        char *request = malloc(size);
        ck_assert_ptr_nonnull(request);
        int n = snprintf(request, size,
                         "GET /session HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                         "Authorization: Bearer ");
        memset(request + n, 'A', SIZES[i]);
        n += (int)SIZES[i];
        n += snprintf(request + n, size - (size_t)n, "\r\n\r\n");
        /* MHD may answer 431 or just close; either is fine, a 2xx or 5xx is not. */
        bool is_answered = http_raw(main_port, request, (size_t)n, &resp);
        ck_assert_msg(!is_answered || (resp.status >= 400 && resp.status < 500), "%zu-byte Authorization: %d", SIZES[i],
                      resp.status);
        if (is_answered && resp.status == 401)
            assert_unauthorized(&resp);
        printf("signin: a %zu-byte Authorization header got %s%d\n", SIZES[i], is_answered ? "" : "no answer, ",
               is_answered ? resp.status : 0);
        http_response_free(&resp);
        free(request);
    }
    ck_assert(send_request(main_port, "GET", "/healthz", NULL, NULL, NULL, 0, &resp));
    ck_assert_int_eq(resp.status, 200);
    http_response_free(&resp);
    ck_assert_int_eq(session_status(main_port, token), 200);
}
END_TEST

START_TEST(test_session_expired_token_gets_the_same_401)
{
    char email[EMAIL_BUF], idle[TOKEN_BUF], absolute[TOKEN_BUF], live[TOKEN_BUF];
    struct http_response reference, resp;
    verified_account(main_port, "expired", PASSWORD, email);
    sign_in_token(main_port, email, PASSWORD, idle);
    sign_in_token(main_port, email, PASSWORD, absolute);
    sign_in_token(main_port, email, PASSWORD, live);
    with_authorization(main_port, "GET", "/session", NULL, &reference);
    free(db_query_value("UPDATE sessions SET idle_expires_at = now() - interval '1 second' "
                        " WHERE token_hash = " TOKEN_HASH(1) " RETURNING 1",
                        1, (const char *const[]){idle}));
    free(db_query_value("UPDATE sessions SET idle_expires_at = now() - interval '1 second', "
                        "       absolute_expires_at = now() - interval '1 second' "
                        " WHERE token_hash = " TOKEN_HASH(1) " RETURNING 1",
                        1, (const char *const[]){absolute}));
    const char *const EXPIRED[] = {idle, absolute};
    for (size_t i = 0; i < 2; i++) {
        with_token(main_port, "GET", "/session", EXPIRED[i], &resp);
        assert_unauthorized(&resp);
        ck_assert_str_eq(resp.body, reference.body);
        http_response_free(&resp);
        /* An expired session cannot be extended or signed out either. */
        ck_assert_int_eq(status_with_token(main_port, "POST", "/signout", EXPIRED[i]), 401);
    }
    ck_assert_int_eq(session_status(main_port, live), 200);
    http_response_free(&reference);
}
END_TEST

START_TEST(test_signout_ends_only_that_session)
{
    char email[EMAIL_BUF], first[TOKEN_BUF], second[TOKEN_BUF];
    struct http_response resp, reference;
    verified_account(main_port, "signout", PASSWORD, email);
    sign_in_token(main_port, email, PASSWORD, first);
    sign_in_token(main_port, email, PASSWORD, second);
    ck_assert_str_ne(first, second);
    with_authorization(main_port, "GET", "/session", NULL, &reference);

    with_token(main_port, "POST", "/signout", first, &resp);
    ck_assert_msg(resp.status == 204, "POST /signout: %d %s", resp.status, resp.body);
    ck_assert_uint_eq(resp.body_len, 0);
    assert_no_store(&resp);
    http_response_free(&resp);

    with_token(main_port, "GET", "/session", first, &resp);
    assert_unauthorized(&resp);
    ck_assert_str_eq(resp.body, reference.body); /* revoked looks like unknown */
    http_response_free(&resp);
    ck_assert_int_eq(session_status(main_port, second), 200);
    char *revoked = session_value("revoked_at IS NOT NULL", first);
    ck_assert_str_eq(revoked, "true");
    free(revoked);

    with_token(main_port, "POST", "/signout", first, &resp);
    assert_unauthorized(&resp);
    http_response_free(&resp);
    ck_assert_int_eq(status_with_token(main_port, "POST", "/signout/all", first), 401);
    ck_assert_int_eq(session_status(main_port, second), 200);
    http_response_free(&reference);
}
END_TEST

START_TEST(test_signout_all_ends_every_session_of_the_account_only)
{
    char email[EMAIL_BUF], other[EMAIL_BUF], tokens[3][TOKEN_BUF], others[TOKEN_BUF], fresh[TOKEN_BUF];
    struct http_response resp;
    verified_account(main_port, "everywhere", PASSWORD, email);
    verified_account(main_port, "bystander", PASSWORD, other);
    for (int i = 0; i < 3; i++)
        sign_in_token(main_port, email, PASSWORD, tokens[i]);
    sign_in_token(main_port, other, PASSWORD, others);

    with_token(main_port, "POST", "/signout/all", tokens[1], &resp);
    ck_assert_msg(resp.status == 204, "POST /signout/all: %d %s", resp.status, resp.body);
    ck_assert_uint_eq(resp.body_len, 0);
    assert_no_store(&resp);
    http_response_free(&resp);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(session_status(main_port, tokens[i]) == 401, "session %d still works", i);
    ck_assert_int_eq(session_status(main_port, others), 200);
    ck_assert_int_eq(status_with_token(main_port, "POST", "/signout/all", tokens[0]), 401);
    ck_assert_int_eq(query_long("SELECT count(*) FROM sessions s JOIN accounts a ON a.id = s.account_id "
                                " WHERE a.email = $1 AND s.revoked_at IS NULL",
                                email),
                     0);

    /* Signing in again starts over. */
    sign_in_token(main_port, email, PASSWORD, fresh);
    ck_assert_int_eq(session_status(main_port, fresh), 200);
}
END_TEST

/* The raw token is nowhere but in the client's hands: not in any table (a
 * full pg_dump of the suite's database), not in the server log. */
START_TEST(test_signin_token_and_password_absent_from_pg_dump_and_log)
{
    char email[EMAIL_BUF], password[64], token[TOKEN_BUF], command[1400];
    snprintf(password, sizeof password, "Dump!Pw%ld", (long)getpid());
    verified_account(main_port, "dump", password, email);
    sign_in_token(main_port, email, password, token);
    ck_assert_int_eq(session_status(main_port, token), 200);
    char *hash_hex = session_value("encode(token_hash, 'hex')", token);
    ck_assert_ptr_nonnull(hash_hex);

    const char *url = getenv("TEST_DATABASE_URL");
    ck_assert_msg(url != NULL && strchr(url, '\'') == NULL, "TEST_DATABASE_URL");
    const char *pg_dump =
        access("/usr/lib/postgresql/15/bin/pg_dump", X_OK) == 0 ? "/usr/lib/postgresql/15/bin/pg_dump" : "pg_dump";
    snprintf(command, sizeof command, "%s --no-owner '%s' 2>&1", pg_dump, url);
    FILE *dump = popen(command, "r");
    ck_assert_ptr_nonnull(dump);
    size_t len = 0, cap = 1 << 20;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    size_t n;
    while ((n = fread(text + len, 1, cap - len - 1, dump)) > 0) {
        len += n;
        if (cap - len < 4096) {
            char *grown = realloc(text, cap * 2);
            ck_assert_ptr_nonnull(grown);
            text = grown;
            cap *= 2;
        }
    }
    text[len] = '\0';
    int status = pclose(dump);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pg_dump failed: %.500s", text);
    /* The dump does hold the session (as its hash) and the account. */
    ck_assert_msg(strstr(text, hash_hex) != NULL, "the session's hash is not in the dump: wrong database?");
    ck_assert_msg(strstr(text, email) != NULL, "the account is not in the dump");
    ck_assert_msg(strstr(text, token) == NULL, "the raw session token is in pg_dump");
    ck_assert_msg(strstr(text, password) == NULL, "the password is in pg_dump");

    ck_assert_msg(!log_file_contains(server_log(), token), "the session token is in the server log");
    ck_assert_msg(!log_file_contains(server_log(), hash_hex), "the session token's hash is in the server log");
    ck_assert_msg(!log_file_contains(server_log(), password), "the password is in the server log");
    free(text);
    free(hash_hex);
}
END_TEST

START_TEST(test_signin_ignores_x_forwarded_for_from_untrusted_peers)
{
    char email[EMAIL_BUF], token[TOKEN_BUF];
    verified_account(main_port, "untrusted", PASSWORD, email);
    /* The main server trusts no proxy: the header is the client's own claim. */
    sign_in_token_from(main_port, "203.0.113.9", email, PASSWORD, token);
    char *where = session_value("client_ip", token);
    ck_assert_str_eq(where, "127.0.0.1");
    free(where);
}
END_TEST

/* The User-Agent is kept for the owner's own list of sessions: cut to the
 * column's 512 bytes on a character boundary, and whatever bytes a client
 * sends must not turn a right password into an error. */
START_TEST(test_signin_keeps_user_agent_cut_to_512_bytes_and_accepts_any_bytes)
{
    char email[EMAIL_BUF], headers[1024];
    struct http_response resp;
    verified_account(main_port, "agent", PASSWORD, email);
    char *body = signin_body(email, PASSWORD);

    size_t n = (size_t)snprintf(headers, sizeof headers, "User-Agent: ");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(headers + n, sizeof headers - n, "\xC3\xA9"); /* 600 bytes of e-acute */
    snprintf(headers + n, sizeof headers - n, "\r\n");
    post_signin_with_headers(main_port, headers, body, strlen(body), &resp);
    assert_json_200(&resp);
    char *kept = session_value("user_agent = repeat(U&'\\00E9', 256)", json_str(resp.json, "session_token"));
    ck_assert_str_eq(kept, "true");
    free(kept);
    http_response_free(&resp);

    static const char *const ODD_AGENTS[] = {
        "User-Agent: Mozilla/5.0 (caf\xe9)\r\n", /* Latin-1 */
        "User-Agent: \xff\xfe\xfd\r\n",          /* no encoding at all */
        "User-Agent: a\xC3\r\n",                 /* a cut sequence */
        "User-Agent: \r\n",                      /* empty */
        "User-Agent: '); DROP TABLE sessions; --\r\n",
    };
    for (size_t i = 0; i < sizeof ODD_AGENTS / sizeof ODD_AGENTS[0]; i++) {
        post_signin_with_headers(main_port, ODD_AGENTS[i], body, strlen(body), &resp);
        ck_assert_msg(resp.status == 200, "sign-in with %.*s: %d %s", (int)strlen(ODD_AGENTS[i]) - 2, ODD_AGENTS[i],
                      resp.status, resp.body);
        http_response_free(&resp);
    }
    free(body);
}
END_TEST

/* The extension without waiting a minute: the row is aged in the database. */
START_TEST(test_session_use_after_a_minute_extends_idle_expiry_but_never_past_the_absolute_one)
{
    char email[EMAIL_BUF], token[TOKEN_BUF];
    struct http_response resp;
    verified_account(main_port, "extend", PASSWORD, email);
    sign_in_token(main_port, email, PASSWORD, token);

    /* Uses within the minute write nothing. */
    char *before = session_value("last_used_at::text || ' ' || idle_expires_at::text", token);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(session_status(main_port, token), 200);
    char *after = session_value("last_used_at::text || ' ' || idle_expires_at::text", token);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);

    /* Last written two minutes ago, ten minutes of idle time left: a use
     * writes again and gives a full SESSION_IDLE_TIMEOUT (3600 s). */
    free(db_query_value("UPDATE sessions SET last_used_at = now() - interval '2 minutes', "
                        "       idle_expires_at = now() + interval '10 minutes' "
                        " WHERE token_hash = " TOKEN_HASH(1) " RETURNING 1",
                        1, (const char *const[]){token}));
    with_token(main_port, "GET", "/session", token, &resp);
    assert_json_200(&resp);
    const char *params[] = {token, json_str(json_object_get(resp.json, "session"), "expires_at")};
    ck_assert_msg(db_true("SELECT abs(extract(epoch FROM idle_expires_at - (now() + interval '3600 seconds'))) < 30 "
                          "   AND last_used_at > now() - interval '30 seconds' "
                          "   AND abs(extract(epoch FROM $2::timestamptz - idle_expires_at)) < 1 "
                          "  FROM sessions WHERE token_hash = " TOKEN_HASH(1),
                          2, params),
                  "not extended to an hour from now: expires_at %s", params[1]);
    http_response_free(&resp);

    /* Five minutes before the absolute expiry, the extension stops there. */
    free(db_query_value("UPDATE sessions SET last_used_at = now() - interval '2 minutes', "
                        "       idle_expires_at = now() + interval '1 minute', "
                        "       absolute_expires_at = now() + interval '5 minutes' "
                        " WHERE token_hash = " TOKEN_HASH(1) " RETURNING 1",
                        1, (const char *const[]){token}));
    with_token(main_port, "GET", "/session", token, &resp);
    assert_json_200(&resp);
    const char *capped[] = {token, json_str(json_object_get(resp.json, "session"), "expires_at")};
    ck_assert_msg(db_true("SELECT idle_expires_at = absolute_expires_at "
                          "   AND abs(extract(epoch FROM $2::timestamptz - absolute_expires_at)) < 1 "
                          "  FROM sessions WHERE token_hash = " TOKEN_HASH(1),
                          2, capped),
                  "extended past the absolute expiry: expires_at %s", capped[1]);
    http_response_free(&resp);
}
END_TEST

#define SIGNINS_OK "signup_signins_total{result=\"ok\"}"
#define SIGNINS_INVALID "signup_signins_total{result=\"invalid\"}"
#define SIGNINS_UNVERIFIED "signup_signins_total{result=\"unverified\"}"
#define SIGNINS_THROTTLED "signup_signins_total{result=\"throttled\"}"
#define SESSIONS_ACTIVE "signup_sessions_active"

START_TEST(test_signin_metrics_count_results_and_active_sessions)
{
    char email[EMAIL_BUF], unverified[EMAIL_BUF], token[TOKEN_BUF];
    struct http_response resp;
    verified_account(main_port, "metrics", PASSWORD, email);
    unique_email(unverified, sizeof unverified, "metrics-pending", CORP_DOMAIN);
    sign_up(main_port, "Metrics Pending", unverified, PASSWORD);

    long ok = metric(main_port, SIGNINS_OK), invalid = metric(main_port, SIGNINS_INVALID);
    long pending = metric(main_port, SIGNINS_UNVERIFIED), active = metric(main_port, SESSIONS_ACTIVE);
    ck_assert_msg(ok >= 0 && invalid >= 0 && pending >= 0 && active >= 0, "a sign-in series is missing");
    ck_assert_int_ge(metric(main_port, SIGNINS_THROTTLED), 0);

    sign_in_token(main_port, email, PASSWORD, token);
    ck_assert_int_eq(sign_in(main_port, email, WRONG_PASSWORD, &resp), 401);
    http_response_free(&resp);
    ck_assert_int_eq(sign_in(main_port, unverified, PASSWORD, &resp), 403);
    http_response_free(&resp);
    ck_assert_int_eq(sign_in(main_port, "", PASSWORD, &resp), 422); /* not an attempt */
    http_response_free(&resp);

    ck_assert_int_eq(metric(main_port, SIGNINS_OK), ok + 1);
    ck_assert_int_eq(metric(main_port, SIGNINS_INVALID), invalid + 1);
    ck_assert_int_eq(metric(main_port, SIGNINS_UNVERIFIED), pending + 1);
    ck_assert_int_eq(metric(main_port, SESSIONS_ACTIVE), active + 1);
    ck_assert_int_eq(status_with_token(main_port, "POST", "/signout", token), 204);
    ck_assert_int_eq(metric(main_port, SESSIONS_ACTIVE), active);
}
END_TEST

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define TIMING_ROUNDS 15
/* The two medians within this factor of each other, plus an absolute slack
 * for scheduling noise on a shared machine. */
#define TIMING_FACTOR 1.5
#define TIMING_SLACK_MS 5.0

static double timed_signin(const char *email, const char *password)
{
    struct http_response resp;
    double started = now_ms();
    sign_in(main_port, email, password, &resp);
    double elapsed = now_ms() - started;
    ck_assert_msg(resp.status == 401, "%s: %d", email, resp.status);
    http_response_free(&resp);
    return elapsed;
}

/* An unknown email costs the same argon2 work as a wrong password, so the
 * time of the answer does not say which it was. */
START_TEST(test_signin_unknown_email_and_wrong_password_take_the_same_time)
{
    char known[EMAIL_BUF], unknown[EMAIL_BUF];
    double unknown_ms[TIMING_ROUNDS], wrong_ms[TIMING_ROUNDS];
    verified_account(main_port, "timing", PASSWORD, known);
    unique_email(unknown, sizeof unknown, "timing-nobody", CORP_DOMAIN);
    for (int i = 0; i < 2; i++) { /* warm the pool's connections and statements */
        timed_signin(unknown, WRONG_PASSWORD);
        timed_signin(known, WRONG_PASSWORD);
    }
    for (int i = 0; i < TIMING_ROUNDS; i++) {
        /* Alternate which goes first, so drift hits both alike. */
        if (i % 2 == 0) {
            unknown_ms[i] = timed_signin(unknown, WRONG_PASSWORD);
            wrong_ms[i] = timed_signin(known, WRONG_PASSWORD);
        } else {
            wrong_ms[i] = timed_signin(known, WRONG_PASSWORD);
            unknown_ms[i] = timed_signin(unknown, WRONG_PASSWORD);
        }
    }
    qsort(unknown_ms, TIMING_ROUNDS, sizeof unknown_ms[0], compare_doubles);
    qsort(wrong_ms, TIMING_ROUNDS, sizeof wrong_ms[0], compare_doubles);
    double a = unknown_ms[TIMING_ROUNDS / 2], b = wrong_ms[TIMING_ROUNDS / 2];
    double low = a < b ? a : b, high = a < b ? b : a;
    printf("signin: median 401 over %d tries: unknown email %.1f ms, wrong password %.1f ms (ratio %.2f)\n",
           TIMING_ROUNDS, a, b, high / low);
    ck_assert_msg(high <= TIMING_FACTOR * low + TIMING_SLACK_MS,
                  "medians %.1f ms (unknown email) and %.1f ms (wrong password) differ by more than %.1fx + %.0f ms", a,
                  b, TIMING_FACTOR, TIMING_SLACK_MS);
    /* Both really ran argon2 (m=19456, t=2 takes milliseconds, not microseconds). */
    ck_assert_msg(low >= 5.0, "a 401 in %.1f ms: was argon2 skipped?", low);
}
END_TEST

static const struct {
    const char *method, *path, *allowed;
} WRONG_METHODS[] = {
    {"GET", "/signin", "POST"},  {"PUT", "/signin", "POST"},  {"DELETE", "/session", "GET"},
    {"POST", "/session", "GET"}, {"GET", "/signout", "POST"}, {"GET", "/signout/all", "POST"},
};

START_TEST(test_signin_routes_with_wrong_method_get_405_with_allow)
{
    char allow[128];
    struct http_response resp;
    ck_assert(send_request(main_port, WRONG_METHODS[_i].method, WRONG_METHODS[_i].path, NULL, NULL, NULL, 0, &resp));
    assert_problem(&resp, 405, "method_not_allowed");
    ck_assert(http_header(&resp, "Allow", allow, sizeof allow));
    ck_assert_msg(strstr(allow, WRONG_METHODS[_i].allowed) != NULL, "%s %s: Allow: %s", WRONG_METHODS[_i].method,
                  WRONG_METHODS[_i].path, allow);
    http_response_free(&resp);
}
END_TEST

/* The SPA sends the token cross-origin: the preflight must allow the header
 * and the 401's challenge must be readable. */
START_TEST(test_session_cors_preflight_allows_authorization)
{
    char allowed[256], exposed[256];
    struct http_response resp;
    ck_assert(send_request(main_port, "OPTIONS", "/session",
                           "Origin: " SPA_ORIGIN "\r\nAccess-Control-Request-Method: GET\r\n"
                           "Access-Control-Request-Headers: authorization\r\n",
                           NULL, NULL, 0, &resp));
    ck_assert_msg(resp.status == 204, "preflight: %d", resp.status);
    ck_assert(http_header(&resp, "Access-Control-Allow-Headers", allowed, sizeof allowed));
    ck_assert_msg(contains_ci(allowed, "Authorization"), "Access-Control-Allow-Headers: %s", allowed);
    http_response_free(&resp);
    ck_assert(send_request(main_port, "GET", "/session", "Origin: " SPA_ORIGIN "\r\n", NULL, NULL, 0, &resp));
    assert_unauthorized(&resp);
    ck_assert(http_header(&resp, "Access-Control-Expose-Headers", exposed, sizeof exposed));
    ck_assert_msg(contains_ci(exposed, "WWW-Authenticate"), "Access-Control-Expose-Headers: %s", exposed);
    http_response_free(&resp);
}
END_TEST

/* ---- Brute-force throttling ("throttle" case) ---- */

/* Fixed windows aligned to the epoch: a test that needs its failures to
 * share one window starts in a fresh one when the current ends too soon. */
static void wait_for_window_room(void)
{
    char window[24];
    snprintf(window, sizeof window, "%ld", failure_window_s());
    long left = query_long("SELECT ceil(extract(epoch FROM date_bin(make_interval(secs => $1::int), now(), "
                           "timestamptz 'epoch') + make_interval(secs => $1::int) - now()))::bigint",
                           window);
    long needed = mail_scaled_ms(20000) / 1000;
    if (left < needed) {
        printf("signin: waiting %ld s for a fresh failure window\n", left + 1);
        mail_sleep_ms((int)(left + 1) * 1000);
    }
}

static void assert_throttled(const struct http_response *resp)
{
    assert_problem(resp, 429, "rate_limited");
    assert_retry_after(resp, failure_window_s());
}

START_TEST(test_signin_five_failures_throttle_that_client_for_that_address_only)
{
    char email[EMAIL_BUF], upper[EMAIL_BUF], other[EMAIL_BUF], attacker[CLIENT_BUF], owner[CLIENT_BUF];
    struct http_response resp;
    wait_for_window_room();
    verified_account(main_port, "pair", PASSWORD, email);
    verified_account(main_port, "pair-other", PASSWORD, other);
    fresh_client(attacker);
    fresh_client(owner);
    long throttled = metric(throttle_port, SIGNINS_THROTTLED);

    for (int i = 0; i < PAIR_LIMIT; i++) {
        sign_in_from(throttle_port, attacker, email, WRONG_PASSWORD, &resp);
        ck_assert_msg(resp.status == 401, "wrong password %d: %d %s", i + 1, resp.status, resp.body);
        http_response_free(&resp);
    }
    /* Now even the right password is turned away for this pair, in any case. */
    sign_in_from(throttle_port, attacker, email, PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    upper_case(email, upper, sizeof upper);
    sign_in_from(throttle_port, attacker, upper, PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    sign_in_from(throttle_port, attacker, email, WRONG_PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    /* Entries left of the client's own were written by the client: they
     * change nothing. */
    char forged[2 * CLIENT_BUF + 8];
    snprintf(forged, sizeof forged, "198.51.100.7, %s", attacker);
    sign_in_from(throttle_port, forged, email, PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);

    /* The owner from another address, and the same address for another account. */
    char token[TOKEN_BUF];
    sign_in_token_from(throttle_port, owner, email, PASSWORD, token);
    sign_in_token_from(throttle_port, attacker, other, PASSWORD, token);
    /* The owner's success does not lift the attacker's pair. */
    sign_in_from(throttle_port, attacker, email, PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);

    ck_assert_int_eq(metric(throttle_port, SIGNINS_THROTTLED), throttled + 5);
    ck_assert_int_eq(sessions_of(email), 1);
    char *where = db_query_value("SELECT s.client_ip FROM sessions s JOIN accounts a ON a.id = s.account_id "
                                 " WHERE a.email = $1",
                                 1, (const char *const[]){email});
    ck_assert_str_eq(where, owner); /* the X-Forwarded-For entry behind the trusted proxy */
    free(where);
    /* The counters are keyed by a hash of (address, client), not the text,
     * and count every attempt on the pair as it arrives: the 5 wrong ones
     * and the 5 turned away. */
    char key[EMAIL_BUF + CLIENT_BUF + 2];
    snprintf(key, sizeof key, "%s\n%s", email, attacker);
    ck_assert_int_eq(query_long("SELECT max(hits) FROM rate_limit_counters "
                                " WHERE key_hash = sha256(convert_to(lower($1), 'UTF8'))",
                                key),
                     PAIR_LIMIT + 5);
}
END_TEST

START_TEST(test_signin_success_resets_the_failures_of_that_client)
{
    char email[EMAIL_BUF], client[CLIENT_BUF], token[TOKEN_BUF];
    struct http_response resp;
    wait_for_window_room();
    verified_account(main_port, "reset", PASSWORD, email);
    fresh_client(client);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(sign_in_from(throttle_port, client, email, WRONG_PASSWORD, &resp), 401);
        http_response_free(&resp);
    }
    sign_in_token_from(throttle_port, client, email, PASSWORD, token);
    /* 3 + 4 would be over the limit of 5 without the reset. */
    for (int i = 0; i < PAIR_LIMIT - 1; i++) {
        ck_assert_int_eq(sign_in_from(throttle_port, client, email, WRONG_PASSWORD, &resp), 401);
        http_response_free(&resp);
    }
    sign_in_token_from(throttle_port, client, email, PASSWORD, token);
}
END_TEST

/* An IPv6 client can pick any address of its /64, so the /64 is the client. */
START_TEST(test_signin_ipv6_clients_are_counted_by_their_64_prefix)
{
    char email[EMAIL_BUF], v4[CLIENT_BUF], first[64], neighbour[64], elsewhere[64], token[TOKEN_BUF];
    struct http_response resp;
    wait_for_window_room();
    verified_account(main_port, "ipv6", PASSWORD, email);
    fresh_client(v4); /* only for its unique number */
    unsigned a, b, c;
    ck_assert_int_eq(sscanf(v4, "10.%u.%u.%u", &a, &b, &c), 3);
    snprintf(first, sizeof first, "2001:db8:%x:%x::1", a, b * 256 + c);
    snprintf(neighbour, sizeof neighbour, "2001:db8:%x:%x:ffff:ffff:ffff:fffe", a, b * 256 + c);
    snprintf(elsewhere, sizeof elsewhere, "2001:db8:%x:%x::1", a + 256, b * 256 + c);
    for (int i = 0; i < PAIR_LIMIT; i++) {
        ck_assert_int_eq(sign_in_from(throttle_port, first, email, WRONG_PASSWORD, &resp), 401);
        http_response_free(&resp);
    }
    sign_in_from(throttle_port, neighbour, email, PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    sign_in_token_from(throttle_port, elsewhere, email, PASSWORD, token);
}
END_TEST

/* Password spraying: one wrong guess each for many addresses from one client. */
START_TEST(test_signin_failures_across_addresses_throttle_that_client)
{
    char target[EMAIL_BUF], email[EMAIL_BUF], sprayer[CLIENT_BUF], other[CLIENT_BUF], token[TOKEN_BUF];
    struct http_response resp;
    wait_for_window_room();
    verified_account(main_port, "spray-target", PASSWORD, target);
    fresh_client(sprayer);
    fresh_client(other);
    for (int i = 0; i < CLIENT_LIMIT; i++) {
        unique_email(email, sizeof email, "sprayed", CORP_DOMAIN);
        sign_in_from(throttle_port, sprayer, email, WRONG_PASSWORD, &resp);
        ck_assert_msg(resp.status == 401, "guess %d: %d %s", i + 1, resp.status, resp.body);
        http_response_free(&resp);
    }
    sign_in_from(throttle_port, sprayer, target, PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    unique_email(email, sizeof email, "sprayed", CORP_DOMAIN);
    sign_in_from(throttle_port, sprayer, email, WRONG_PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    sign_in_token_from(throttle_port, other, target, PASSWORD, token);
}
END_TEST

/* Distributed guessing: one wrong guess each from many clients for one
 * address. New clients are turned away, the owner's known one is not, and
 * the owner hears of it once. */
START_TEST(test_signin_failures_from_many_clients_cap_the_address_but_not_its_known_clients)
{
    char email[EMAIL_BUF], known[CLIENT_BUF], client[CLIENT_BUF], token[TOKEN_BUF];
    struct http_response resp;
    wait_for_window_room();
    verified_account(main_port, "capped", PASSWORD, email);
    fresh_client(known);
    sign_in_token_from(throttle_port, known, email, PASSWORD, token);

    for (int i = 0; i < ACCOUNT_LIMIT; i++) {
        fresh_client(client);
        sign_in_from(throttle_port, client, email, WRONG_PASSWORD, &resp);
        ck_assert_msg(resp.status == 401, "guess %d: %d %s", i + 1, resp.status, resp.body);
        http_response_free(&resp);
    }
    fresh_client(client);
    sign_in_from(throttle_port, client, email, PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    fresh_client(client);
    sign_in_from(throttle_port, client, email, WRONG_PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    sign_in_token_from(throttle_port, known, email, PASSWORD, token);
    ck_assert_int_eq(session_status(throttle_port, token), 200);

    json_t *notices = mail_wait_for(mail_shared_dir(), email, SUBJECT_ATTEMPTS, 1, ARRIVAL_TIMEOUT_MS);
    ck_assert_msg(json_array_size(notices) == 1, "no \"" SUBJECT_ATTEMPTS "\" email to %s", email);
    json_t *notice = json_array_get(notices, 0);
    ck_assert_ptr_null(mail_verify_link(notice));
    const char *to = mail_header(notice, "to");
    ck_assert_msg(to != NULL && strstr(to, email) != NULL, "To: %s", to ? to : "(none)");
    ck_assert_ptr_nonnull(mail_part_text(notice, "text/plain"));
    ck_assert_ptr_nonnull(mail_part_text(notice, "text/html"));
    json_decref(notices);

    /* As if the window had passed: the cap trips again, but the owner was
     * told within the hour, so no second email. */
    const char *params[] = {email};
    free(db_query_value("DELETE FROM rate_limit_counters WHERE key_hash = sha256(convert_to(lower($1), 'UTF8')) "
                        "RETURNING 1",
                        1, params));
    for (int i = 0; i < ACCOUNT_LIMIT; i++) {
        fresh_client(client);
        ck_assert_int_eq(sign_in_from(throttle_port, client, email, WRONG_PASSWORD, &resp), 401);
        http_response_free(&resp);
    }
    fresh_client(client);
    sign_in_from(throttle_port, client, email, PASSWORD, &resp);
    assert_throttled(&resp);
    http_response_free(&resp);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(mail_shared_dir(), email, SUBJECT_ATTEMPTS), 1);
    ck_assert_int_eq(outbox_rows_of_kind(email, "signin_attempts"), 1);
}
END_TEST

/* ---- Servers of their own ("servers" case) ---- */

/* Two instances on one database, one with more argon2 passes: whichever the
 * account signs in on rewrites the hash to its own parameters, and the
 * password works on both throughout. */
START_TEST(test_signin_rehashes_a_stored_hash_whose_parameters_changed)
{
    static const char *const A_ENV[] = {"ARGON2_MEMORY_KIB=19456", "ARGON2_ITERATIONS=2", "MAIL_WORKERS=0", NULL};
    static const char *const B_ENV[] = {"ARGON2_MEMORY_KIB=19456", "ARGON2_ITERATIONS=3", "MAIL_WORKERS=0", NULL};
    int port_a = port_of(PORT_REHASH_A), port_b = port_of(PORT_REHASH_B);
    char email[EMAIL_BUF], token[TOKEN_BUF];
    struct http_response resp;
    pid_t a = start_own_server(port_a, A_ENV);
    pid_t b = start_own_server(port_b, B_ENV);
    verified_account(port_a, "rehash", PASSWORD, email);
    char *original = password_hash_of(email);
    ck_assert_msg(strncmp(original, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "hash %s", original);

    sign_in_token(port_a, email, PASSWORD, token);
    char *same = password_hash_of(email);
    ck_assert_str_eq(same, original); /* parameters match: left alone */
    ck_assert_int_eq(sign_in(port_b, email, WRONG_PASSWORD, &resp), 401);
    http_response_free(&resp);
    char *after_wrong = password_hash_of(email);
    ck_assert_str_eq(after_wrong, original); /* only a right password may rewrite it */

    sign_in_token(port_b, email, PASSWORD, token);
    char *rehashed = password_hash_of(email);
    ck_assert_msg(strncmp(rehashed, "$argon2id$v=19$m=19456,t=3,p=1$", 31) == 0, "after B: %s", rehashed);
    ck_assert_int_eq(argon2id_verify(rehashed, PASSWORD, strlen(PASSWORD)), ARGON2_OK);
    sign_in_token(port_b, email, PASSWORD, token);
    char *kept = password_hash_of(email);
    ck_assert_str_eq(kept, rehashed); /* a fresh salt every time would show here */

    sign_in_token(port_a, email, PASSWORD, token);
    char *back = password_hash_of(email);
    ck_assert_msg(strncmp(back, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "after A again: %s", back);
    ck_assert_int_eq(argon2id_verify(back, PASSWORD, strlen(PASSWORD)), ARGON2_OK);
    sign_in_token(port_b, email, PASSWORD, token);
    ck_assert_int_eq(session_status(port_a, token), 200); /* sessions are shared too */

    free(original);
    free(same);
    free(after_wrong);
    free(rehashed);
    free(kept);
    free(back);
    stop_own_server(b, "server B");
    stop_own_server(a, "server A");
}
END_TEST

START_TEST(test_session_sweep_deletes_revoked_and_expired_rows)
{
    static const char *const ENV[] = {"SWEEP_INTERVAL=1", "MAIL_WORKERS=0", NULL};
    int port = port_of(PORT_SWEEP);
    char email[EMAIL_BUF], revoked[TOKEN_BUF], expired[TOKEN_BUF], live[TOKEN_BUF];
    pid_t pid = start_own_server(port, ENV);
    verified_account(port, "sweep", PASSWORD, email);
    sign_in_token(port, email, PASSWORD, revoked);
    sign_in_token(port, email, PASSWORD, expired);
    sign_in_token(port, email, PASSWORD, live);
    ck_assert_int_eq(status_with_token(port, "POST", "/signout", revoked), 204);
    free(db_query_value("UPDATE sessions SET idle_expires_at = now() - interval '1 second' "
                        " WHERE token_hash = " TOKEN_HASH(1) " RETURNING 1",
                        1, (const char *const[]){expired}));

    long long started = mail_now_ms();
    const char *params[] = {revoked, expired};
    char *left = db_wait_value("SELECT count(*)::text FROM sessions "
                               " WHERE token_hash IN (" TOKEN_HASH(1) ", " TOKEN_HASH(2) ")",
                               2, params, "0", mail_scaled_ms(5000));
    ck_assert_msg(left != NULL && strcmp(left, "0") == 0, "%s revoked/expired rows left after %lld ms",
                  left ? left : "?", mail_now_ms() - started);
    free(left);
    printf("signin: sweep removed a revoked and an expired session within %lld ms\n", mail_now_ms() - started);
    ck_assert_int_eq(session_rows(live), 1);
    ck_assert_int_eq(session_status(port, live), 200);
    stop_own_server(pid, "sweeping server");
}
END_TEST

#define BUSY_CALLS 10

struct signin_call {
    int port;
    pthread_barrier_t *start;
    const char *client; /* X-Forwarded-For, or NULL */
    char email[EMAIL_BUF];
    int status;
    char code[64];
    bool has_retry_after;
};

/* No ck_assert here: it runs on its own thread. */
static void *signin_call_run(void *arg)
{
    struct signin_call *call = arg;
    char request[512];
    struct http_response resp;
    char body[256];
    int len = snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"" WRONG_PASSWORD "\"}", call->email);
    int n = snprintf(request, sizeof request,
                     "POST /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     call->client ? "X-Forwarded-For: " : "", call->client ? call->client : "",
                     call->client ? "\r\n" : "", len, body);
    pthread_barrier_wait(call->start);
    if (http_raw(call->port, request, (size_t)n, &resp)) {
        char retry_after[32];
        call->status = resp.status;
        snprintf(call->code, sizeof call->code, "%s", json_str(resp.json, "code") ? json_str(resp.json, "code") : "");
        call->has_retry_after = http_header(&resp, "Retry-After", retry_after, sizeof retry_after);
    }
    http_response_free(&resp);
    return NULL;
}

START_TEST(test_signin_hash_queue_full_gives_503_service_busy_with_retry_after)
{
    /* One slow hash at a time and no patience: a burst must shed some. */
    static const char *const ENV[] = {"HASH_CONCURRENCY=1",  "HASH_QUEUE_TIMEOUT_MS=1", "ARGON2_MEMORY_KIB=65536",
                                      "ARGON2_ITERATIONS=4", "MAIL_WORKERS=0",          NULL};
    int port = port_of(PORT_BUSY);
    static struct signin_call calls[BUSY_CALLS];
    pthread_t threads[BUSY_CALLS];
    pthread_barrier_t start;
    pid_t pid = start_own_server(port, ENV);

    pthread_barrier_init(&start, NULL, BUSY_CALLS);
    for (int i = 0; i < BUSY_CALLS; i++) {
        calls[i] = (struct signin_call){.port = port, .start = &start};
        unique_email(calls[i].email, sizeof calls[i].email, "busy", CORP_DOMAIN);
        ck_assert_int_eq(pthread_create(&threads[i], NULL, signin_call_run, &calls[i]), 0);
    }
    for (int i = 0; i < BUSY_CALLS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);

    int n_invalid = 0, n_busy = 0;
    for (int i = 0; i < BUSY_CALLS; i++) {
        if (calls[i].status == 401 && strcmp(calls[i].code, "invalid_credentials") == 0) {
            n_invalid++;
            continue;
        }
        ck_assert_msg(calls[i].status == 503 && strcmp(calls[i].code, "service_busy") == 0 && calls[i].has_retry_after,
                      "sign-in %d: %d %s (Retry-After: %s)", i, calls[i].status, calls[i].code,
                      calls[i].has_retry_after ? "yes" : "no");
        n_busy++;
    }
    printf("signin: %d simultaneous sign-ins with one hash slot: %d answered 401, %d got 503 service_busy\n",
           BUSY_CALLS, n_invalid, n_busy);
    ck_assert_msg(n_invalid >= 1 && n_busy >= 1, "%d answered, %d busy: expected some of each", n_invalid, n_busy);

    struct http_response resp;
    sign_in(port, calls[0].email, WRONG_PASSWORD, &resp);
    assert_problem(&resp, 401, "invalid_credentials"); /* alone again, it is served */
    http_response_free(&resp);
    stop_own_server(pid, "busy server");
}
END_TEST

#define RACE_CALLS 20

/* The throttle is read before argon2 and written after it: wrong passwords
 * sent all at once must not all be checked before any is counted, or the
 * pair limit is no limit for a client that guesses in parallel. */
START_TEST(test_signin_simultaneous_wrong_passwords_stay_within_the_pair_limit)
{
    char email[EMAIL_BUF], client[CLIENT_BUF];
    static struct signin_call calls[RACE_CALLS];
    pthread_t threads[RACE_CALLS];
    pthread_barrier_t start;
    struct http_response resp;
    wait_for_window_room();
    verified_account(main_port, "race", PASSWORD, email);
    fresh_client(client);

    pthread_barrier_init(&start, NULL, RACE_CALLS);
    for (int i = 0; i < RACE_CALLS; i++) {
        calls[i] = (struct signin_call){.port = throttle_port, .start = &start, .client = client};
        snprintf(calls[i].email, sizeof calls[i].email, "%s", email);
        ck_assert_int_eq(pthread_create(&threads[i], NULL, signin_call_run, &calls[i]), 0);
    }
    for (int i = 0; i < RACE_CALLS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);

    int n_checked = 0, n_throttled = 0, n_busy = 0;
    for (int i = 0; i < RACE_CALLS; i++) {
        if (calls[i].status == 401 && strcmp(calls[i].code, "invalid_credentials") == 0)
            n_checked++;
        else if (calls[i].status == 429 && strcmp(calls[i].code, "rate_limited") == 0)
            n_throttled++;
        else if (calls[i].status == 503 && strcmp(calls[i].code, "service_busy") == 0)
            n_busy++;
        else
            ck_abort_msg("sign-in %d: %d %s", i, calls[i].status, calls[i].code);
    }
    printf("signin: %d simultaneous wrong passwords for one (address, client): %d checked (401), %d got 429, "
           "%d got 503\n",
           RACE_CALLS, n_checked, n_throttled, n_busy);
    ck_assert_int_eq(sign_in_from(throttle_port, client, email, PASSWORD, &resp), 429);
    http_response_free(&resp);
    ck_assert_msg(n_checked <= PAIR_LIMIT,
                  "%d of %d simultaneous wrong passwords were checked against the account's hash in one window "
                  "(%d got 429, %d got 503); SIGNIN_FAILURES_PER_ADDRESS_AND_CLIENT is %d",
                  n_checked, RACE_CALLS, n_throttled, n_busy, PAIR_LIMIT);
}
END_TEST

START_TEST(test_signin_and_session_without_database_give_503_service_unavailable)
{
    static const char *const ENV[] = {"AUTO_MIGRATE=false", "DATABASE_URL=postgresql://signup@127.0.0.1:1/x",
                                      "MAIL_WORKERS=0", NULL};
    int port = port_of(PORT_NO_DB);
    struct http_response resp;
    pid_t pid = start_own_server(port, ENV);

    sign_in(port, "someone@" CORP_DOMAIN, PASSWORD, &resp);
    assert_problem(&resp, 503, "service_unavailable");
    assert_retry_after(&resp, 3600);
    http_response_free(&resp);
    /* A well-formed token needs the database to be judged; no token does not. */
    static const char *const TOKEN = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    static const char *const PATHS[][2] = {{"GET", "/session"}, {"POST", "/signout"}, {"POST", "/signout/all"}};
    for (size_t i = 0; i < sizeof PATHS / sizeof PATHS[0]; i++) {
        with_token(port, PATHS[i][0], PATHS[i][1], TOKEN, &resp);
        assert_problem(&resp, 503, "service_unavailable");
        assert_retry_after(&resp, 3600);
        http_response_free(&resp);
    }
    with_authorization(port, "GET", "/session", NULL, &resp);
    assert_unauthorized(&resp);
    http_response_free(&resp);
    /* Shape errors are answered without it too. */
    post_signin_body(port, NULL, "{}", 2, &resp);
    assert_problem(&resp, 422, "validation_failed");
    http_response_free(&resp);
    stop_own_server(pid, "server without database");
}
END_TEST

/* ---- Real-time expiry ("timeline" case) ---- */

struct timed_session {
    char token[TOKEN_BUF];
    char expires_at[64];
    double before_ms, after_ms; /* around the sign-in request */
};

static void timed_sign_in(int port, const char *email, struct timed_session *s)
{
    struct http_response resp;
    s->before_ms = now_ms();
    sign_in(port, email, PASSWORD, &resp);
    s->after_ms = now_ms();
    assert_json_200(&resp);
    snprintf(s->token, sizeof s->token, "%s", json_str(resp.json, "session_token"));
    snprintf(s->expires_at, sizeof s->expires_at, "%s", json_str(resp.json, "expires_at"));
    http_response_free(&resp);
}

/* GET /session; the expires_at it reports into expires_at (when 200). */
static int use_session(int port, const struct timed_session *s, char expires_at[64])
{
    struct http_response resp;
    with_token(port, "GET", "/session", s->token, &resp);
    int status = resp.status;
    if (status == 200 && expires_at != NULL)
        snprintf(expires_at, 64, "%s", json_str(json_object_get(resp.json, "session"), "expires_at"));
    else if (status != 200)
        assert_unauthorized(&resp);
    http_response_free(&resp);
    return status;
}

/* Three servers on one database, one session each, one clock:
 *   A  SESSION_IDLE_TIMEOUT=60               unused: 401 after 60 s
 *   B  SESSION_IDLE_TIMEOUT=70               used at 30 s (nothing written: the
 *      extension is written at most once a minute), used at 61 s (extended),
 *      still 200 at 72 s although its first expiry was at 70 s
 *   C  SESSION_MAX_AGE=60, idle 3600         used at 30 s, 401 after 60 s
 * Each deadline is taken from the side of the sign-in that makes it strict. */
START_TEST(test_session_idle_and_absolute_expiry_over_real_time)
{
    static const char *const A_ENV[] = {"SESSION_IDLE_TIMEOUT=60", "MAIL_WORKERS=0", NULL};
    static const char *const B_ENV[] = {"SESSION_IDLE_TIMEOUT=70", "MAIL_WORKERS=0", NULL};
    static const char *const C_ENV[] = {"SESSION_MAX_AGE=60", "SESSION_IDLE_TIMEOUT=3600", "MAIL_WORKERS=0", NULL};
    int port_a = port_of(PORT_IDLE_60), port_b = port_of(PORT_IDLE_70), port_c = port_of(PORT_MAX_AGE_60);
    char email[EMAIL_BUF], expires_at[64];
    struct timed_session a, b, c;
    pid_t pid_a = start_own_server(port_a, A_ENV);
    pid_t pid_b = start_own_server(port_b, B_ENV);
    pid_t pid_c = start_own_server(port_c, C_ENV);
    verified_account(port_a, "timeline", PASSWORD, email);

    timed_sign_in(port_b, email, &b);
    timed_sign_in(port_a, email, &a);
    timed_sign_in(port_c, email, &c);
    char *lifetimes =
        db_query_value("SELECT string_agg(round(extract(epoch FROM idle_expires_at - created_at)) || '/' || "
                       "                  round(extract(epoch FROM absolute_expires_at - created_at)), ' ' ORDER BY o) "
                       "  FROM unnest(ARRAY[" TOKEN_HASH(1) ", " TOKEN_HASH(2) ", " TOKEN_HASH(
                           3) "]) WITH ORDINALITY AS t (h, o) "
                              "  JOIN sessions s ON s.token_hash = t.h",
                       3, (const char *const[]){a.token, b.token, c.token});
    ck_assert_str_eq(lifetimes, "60/43200 70/43200 60/60"); /* C: idle clipped to the absolute expiry */
    free(lifetimes);

    /* 30 s: B and C work; B's row is not written within its first minute. */
    sleep_until(b.before_ms + 30000);
    ck_assert_int_eq(use_session(port_b, &b, expires_at), 200);
    ck_assert_str_eq(expires_at, b.expires_at);
    char *untouched = session_value("last_used_at = created_at", b.token);
    ck_assert_str_eq(untouched, "true");
    free(untouched);
    ck_assert_int_eq(use_session(port_c, &c, NULL), 200);

    /* 61 s: A (60 s idle) and C (60 s absolute) are over; B is extended. */
    sleep_until(a.after_ms + 61000);
    ck_assert_msg(use_session(port_a, &a, NULL) == 401, "A's session outlived SESSION_IDLE_TIMEOUT=60");
    sleep_until(b.after_ms + 61000);
    ck_assert_msg(now_ms() < b.before_ms + 69000, "too late to use B before its first expiry");
    ck_assert_int_eq(use_session(port_b, &b, expires_at), 200);
    ck_assert_str_ne(expires_at, b.expires_at);
    const char *moved_params[] = {expires_at, b.expires_at};
    ck_assert_msg(db_true("SELECT $1::timestamptz - $2::timestamptz > interval '55 seconds'", 2, moved_params),
                  "expiry moved from %s only to %s", b.expires_at, expires_at);
    char *touched = session_value("last_used_at > created_at + interval '60 seconds'", b.token);
    ck_assert_str_eq(touched, "true");
    free(touched);
    sleep_until(c.after_ms + 61000);
    ck_assert_msg(use_session(port_c, &c, NULL) == 401, "C's session outlived SESSION_MAX_AGE=60");
    /* The sign-in of C was also its last use: absolute expiry is not idle. */

    /* 72 s: past B's first expiry (70 s), still live thanks to the extension. */
    sleep_until(b.after_ms + 72000);
    ck_assert_msg(use_session(port_b, &b, NULL) == 200, "B's session ended at its first expiry: not extended");
    ck_assert_int_eq(use_session(port_a, &a, NULL), 401); /* other instances agree */

    stop_own_server(pid_c, "server C");
    stop_own_server(pid_b, "server B");
    stop_own_server(pid_a, "server A");
}
END_TEST

/* ---- Last ---- */

START_TEST(test_signin_passwords_never_appear_in_server_log)
{
    ck_assert_msg(!log_file_contains(server_log(), PASSWORD), "the sign-in password is in %s", server_log());
    ck_assert_msg(!log_file_contains(server_log(), WRONG_PASSWORD), "a wrong password is in %s", server_log());
}
END_TEST

static Suite *api_signin_suite(void)
{
    Suite *s = suite_create("api_signin");

    TCase *http = tcase_create("http");
    tcase_add_unchecked_fixture(http, main_server_setup, main_server_teardown);
    tcase_set_timeout(http, 120);
    tcase_add_test(http, test_signin_verified_account_gets_200_with_bearer_token_and_profile);
    tcase_add_test(http, test_signin_email_in_other_letter_case_with_surrounding_spaces_signs_in);
    tcase_add_test(http, test_signin_unknown_email_and_wrong_password_get_identical_401);
    tcase_add_test(http, test_signin_unverified_account_with_right_password_gets_403_and_a_fresh_email);
    tcase_add_loop_test(http, test_signin_missing_null_or_blank_fields_get_422_naming_each, 0,
                        sizeof MISSING / sizeof MISSING[0]);
    tcase_add_loop_test(http, test_signin_malformed_or_mistyped_body_gets_400, 0,
                        sizeof MALFORMED / sizeof MALFORMED[0]);
    tcase_add_loop_test(http, test_signin_without_json_content_type_gets_415, 0,
                        sizeof BAD_CONTENT_TYPES / sizeof BAD_CONTENT_TYPES[0]);
    tcase_add_test(http, test_signin_json_content_type_with_charset_is_accepted);
    tcase_add_test(http, test_signin_body_over_16_kib_gets_413_and_exactly_16_kib_is_read);
    tcase_add_test(http, test_signin_addresses_no_account_can_have_get_401);
    tcase_add_test(http, test_signin_password_over_256_bytes_gets_401_and_256_bytes_sign_in);
    tcase_add_test(http, test_session_returns_account_and_session_times);
    tcase_add_test(http, test_session_scheme_is_case_insensitive);
    tcase_add_test(http, test_session_unusable_authorization_gets_the_one_401);
    tcase_add_test(http, test_session_two_authorization_headers_get_401);
    tcase_add_test(http, test_session_huge_authorization_header_gets_4xx_and_server_keeps_serving);
    tcase_add_test(http, test_session_expired_token_gets_the_same_401);
    tcase_add_test(http, test_signout_ends_only_that_session);
    tcase_add_test(http, test_signout_all_ends_every_session_of_the_account_only);
    tcase_add_test(http, test_signin_ignores_x_forwarded_for_from_untrusted_peers);
    tcase_add_test(http, test_signin_keeps_user_agent_cut_to_512_bytes_and_accepts_any_bytes);
    tcase_add_test(http, test_session_use_after_a_minute_extends_idle_expiry_but_never_past_the_absolute_one);
    tcase_add_test(http, test_signin_token_and_password_absent_from_pg_dump_and_log);
    tcase_add_test(http, test_signin_metrics_count_results_and_active_sessions);
    tcase_add_test(http, test_signin_unknown_email_and_wrong_password_take_the_same_time);
    tcase_add_loop_test(http, test_signin_routes_with_wrong_method_get_405_with_allow, 0,
                        sizeof WRONG_METHODS / sizeof WRONG_METHODS[0]);
    tcase_add_test(http, test_session_cors_preflight_allows_authorization);
    suite_add_tcase(s, http);

    TCase *throttle = tcase_create("throttle");
    tcase_add_unchecked_fixture(throttle, throttle_setup, throttle_teardown);
    tcase_set_timeout(throttle, 120);
    tcase_add_test(throttle, test_signin_five_failures_throttle_that_client_for_that_address_only);
    tcase_add_test(throttle, test_signin_success_resets_the_failures_of_that_client);
    tcase_add_test(throttle, test_signin_failures_across_addresses_throttle_that_client);
    tcase_add_test(throttle, test_signin_ipv6_clients_are_counted_by_their_64_prefix);
    tcase_add_test(throttle, test_signin_failures_from_many_clients_cap_the_address_but_not_its_known_clients);
    tcase_add_test(throttle, test_signin_simultaneous_wrong_passwords_stay_within_the_pair_limit);
    suite_add_tcase(s, throttle);

    TCase *servers = tcase_create("servers");
    tcase_add_checked_fixture(servers, NULL, mail_kill_tracked);
    tcase_set_timeout(servers, 120);
    tcase_add_test(servers, test_signin_rehashes_a_stored_hash_whose_parameters_changed);
    tcase_add_test(servers, test_session_sweep_deletes_revoked_and_expired_rows);
    tcase_add_test(servers, test_signin_hash_queue_full_gives_503_service_busy_with_retry_after);
    tcase_add_test(servers, test_signin_and_session_without_database_give_503_service_unavailable);
    suite_add_tcase(s, servers);

    TCase *timeline = tcase_create("timeline");
    tcase_add_checked_fixture(timeline, NULL, mail_kill_tracked);
    tcase_set_timeout(timeline, 150);
    tcase_add_test(timeline, test_session_idle_and_absolute_expiry_over_real_time);
    suite_add_tcase(s, timeline);

    TCase *last = tcase_create("log");
    tcase_add_test(last, test_signin_passwords_never_appear_in_server_log);
    suite_add_tcase(s, last);
    return s;
}

int main(void)
{
    if (!test_database_isolate("signin"))
        return EXIT_FAILURE;
    SRunner *sr = srunner_create(api_signin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
