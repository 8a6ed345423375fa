/* Account recovery end to end (issue 13): POST /password/forgot sends a
 * reset email through the outbox to the real mail catcher, POST
 * /password/reset and POST /password/change set a new password and end
 * sessions, the pre-hijacking defence lets the mailbox's owner keep the
 * password they typed, and unverified accounts expire. The "recovery" case
 * shares one server; "limits" has a server with the abuse limits on; "clock"
 * has a server with 60-second TTLs on a database of its own (its sweeper
 * would otherwise delete the other cases' unverified accounts), planted when
 * the suite starts so its minute passes while the other cases run. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api_assert.h"
#include "mail_support.h"
#include "support.h"

#define CORP_DOMAIN "lintasarta.co.id"
#define PASSWORD_A "Str0ng!Pass"
#define PASSWORD_B "An0ther!Pass"
#define PASSWORD_NEW "N3w!Secret#Pw"
#define PASSWORD_WRONG "Wr0ng!Guess9"
#define PHONE_A "0812-3456-7890"
#define PHONE_A_STORED "+6281234567890"
#define PHONE_B "0813-9999-0000"
#define PHONE_B_STORED "+6281399990000"
#define MAIL_FROM_VALUE "Services Portal <no-reply@portal.example.test>"
#define RESET_URL "http://app.example.test/reset-password.html"
#define FORGOT_URL "http://app.example.test/forgot-password.html"
#define SUBJECT_VERIFY "Verify your email address"
#define SUBJECT_RESET "Reset your password"
#define SUBJECT_CHANGED "Your password was changed"
#define TOKEN_LEN 43
#define TOKEN_SIZE (TOKEN_LEN + 8)
#define SESSION_SIZE 128
#define PG_DUMP "/usr/lib/postgresql/15/bin/pg_dump"
/* Waits scale with CK_TIMEOUT_MULTIPLIER (valgrind runs). */
#define ARRIVAL_TIMEOUT_MS mail_scaled_ms(15000)
#define DB_TIMEOUT_MS mail_scaled_ms(10000)
/* Long enough for several outbox polls (200 ms) to pass without a send. */
#define QUIET_PERIOD_MS 1500
/* The clock server's UNVERIFIED_ACCOUNT_TTL and PASSWORD_RESET_TTL (the
 * smallest values the configuration accepts), and its SWEEP_INTERVAL. */
#define CLOCK_TTL_MS 60000
#define CLOCK_SWEEP_S "1"

/* Ports: TEST_HTTP_PORT + 140..179 belong to this suite. */
enum { PORT_MAIN = 140, PORT_REHASH = 141, PORT_LIMITS = 142, PORT_CLOCK = 143 };
/* The limits server's caps, small so a test reaches them in a few requests. */
enum { LIMIT_FORGOTS_PER_IP = 3, LIMIT_SIGNIN_FAILURES_PER_PAIR = 2 };

static int main_port = -1, limits_port = -1, clock_port = -1;
static pid_t main_pid = -1, limits_pid = -1, clock_pid = -1;
static char clock_db_url[1024];

/* An account with a live session on the main server, for the hostile
 * /password/change bodies (none of which may change anything). */
static char hostile_session[SESSION_SIZE];

/* What the clock case checks, planted when the suite starts. The times are
 * monotonic milliseconds taken before (signed_up_ms) or after (issued_ms)
 * the request, so the server's own timestamps lie on the safe side. */
static struct {
    bool is_planted;
    char unverified_email[128];
    char unverified_id[64];
    long long unverified_signed_up_ms;
    char kept_email[128];
    long long kept_signed_up_ms;
    char reset_email[128];
    char reset_token[TOKEN_SIZE];
    long long reset_issued_ms;
} clock_plant;

static int base_port(void)
{
    const char *text = getenv("TEST_HTTP_PORT");
    return text ? atoi(text) : 18080;
}

static const char *server_log(void)
{
    return getenv("TEST_SERVER_LOG") ? getenv("TEST_SERVER_LOG") : "build/test-server.log";
}

/* Environment of one of this suite's servers: fast outbox timings, the
 * reset and forgot pages, today's argon2 parameters, then extra (later
 * entries win). Borrowed from *e. */
struct server_env {
    char verify_url[96];
    const char *vars[32];
};

static const char *const *server_env(struct server_env *e, int http_port, const char *const *extra)
{
    static const char *const FIXED[] = {"MAIL_WORKERS=1",
                                        "OUTBOX_POLL_INTERVAL_MS=200",
                                        "OUTBOX_RETRY_BASE_MS=100",
                                        "OUTBOX_RETRY_MAX_MS=500",
                                        "MAIL_FROM=" MAIL_FROM_VALUE,
                                        "PASSWORD_RESET_URL=" RESET_URL,
                                        "PASSWORD_FORGOT_URL=" FORGOT_URL,
                                        "ARGON2_ITERATIONS=2"};
    size_t n = 0;
    snprintf(e->verify_url, sizeof e->verify_url, "VERIFY_URL=http://127.0.0.1:%d/verify", http_port);
    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++)
        e->vars[n++] = FIXED[i];
    e->vars[n++] = e->verify_url;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n + 1 < sizeof e->vars / sizeof e->vars[0]; i++)
        e->vars[n++] = extra[i];
    e->vars[n] = NULL;
    return e->vars;
}

static pid_t start_server(int http_port, const char *const *extra)
{
    struct server_env env;
    pid_t pid = test_server_start(http_port, server_env(&env, http_port, extra), server_log());
    ck_assert_msg(pid > 0, "server on port %d did not start; see %s", http_port, server_log());
    return pid;
}

static void stop_server(pid_t *pid)
{
    if (*pid > 0)
        test_server_stop(*pid);
    *pid = -1;
}

/* ---- HTTP helpers ---- */

/* Sends method path with an optional Authorization value, Content-Type and
 * body (body_len bytes; may hold NULs). */
static void http_send(int port, const char *method, const char *path, const char *authorization,
                      const char *content_type, const char *body, size_t body_len, struct http_response *resp)
{
    size_t size = strlen(path) + (authorization ? strlen(authorization) : 0) + body_len + 512;
    char *request = malloc(size);
    ck_assert_ptr_nonnull(request);
    int n =
        snprintf(request, size, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method, path, port);
    if (authorization != NULL)
        n += snprintf(request + n, size - (size_t)n, "Authorization: %s\r\n", authorization);
    if (content_type != NULL)
        n += snprintf(request + n, size - (size_t)n, "Content-Type: %s\r\n", content_type);
    if (body != NULL)
        n += snprintf(request + n, size - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(request + n, size - (size_t)n, "\r\n");
    ck_assert((size_t)n + body_len < size);
    if (body != NULL)
        memcpy(request + n, body, body_len);
    ck_assert_msg(http_raw(port, request, (size_t)n + (body ? body_len : 0), resp), "no HTTP response to %s %s", method,
                  path);
    free(request);
}

/* POSTs the JSON j (a new reference, consumed) with an optional session. */
static void post_json(int port, const char *path, const char *session, json_t *j, struct http_response *resp)
{
    char authorization[SESSION_SIZE + 16];
    ck_assert_ptr_nonnull(j);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    ck_assert_ptr_nonnull(body);
    if (session != NULL)
        snprintf(authorization, sizeof authorization, "Bearer %s", session);
    http_send(port, "POST", path, session ? authorization : NULL, "application/json", body, strlen(body), resp);
    free(body);
}

static void post_forgot(int port, const char *email, struct http_response *resp)
{
    post_json(port, "/password/forgot", NULL, json_pack("{s:s}", "email", email), resp);
}

static void post_reset(int port, const char *token, const char *password, struct http_response *resp)
{
    post_json(port, "/password/reset", NULL, json_pack("{s:s, s:s}", "token", token, "password", password), resp);
}

static void post_change(int port, const char *session, const char *current, const char *new_password,
                        struct http_response *resp)
{
    post_json(port, "/password/change", session,
              json_pack("{s:s, s:s}", "current_password", current, "new_password", new_password), resp);
}

/* A 422 whose every error names field and one of which has code. */
static void assert_field_errors(const struct http_response *resp, const char *field, const char *code)
{
    assert_problem(resp, 422, "validation_failed");
    json_t *errors = json_object_get(resp->json, "errors");
    bool has_code = false;
    size_t i;
    json_t *error;
    ck_assert_msg(json_array_size(errors) > 0, "422 without errors: %s", resp->body);
    json_array_foreach(errors, i, error)
    {
        ck_assert_msg(strcmp(json_str(error, "field"), field) == 0, "error names %s, expected %s: %s",
                      json_str(error, "field"), field, resp->body);
        has_code = has_code || strcmp(json_str(error, "code"), code) == 0;
    }
    ck_assert_msg(has_code, "no %s among the errors: %s", code, resp->body);
}

static void assert_retry_after(const struct http_response *resp)
{
    char retry_after[32];
    ck_assert_msg(http_header(resp, "Retry-After", retry_after, sizeof retry_after), "429 without Retry-After");
    ck_assert_msg(atol(retry_after) > 0, "Retry-After: %s", retry_after);
}

/* ---- Accounts and sessions ---- */

/* Signs up and returns the 201's body (caller frees). */
static char *sign_up(int port, const char *full_name, const char *email, const char *password, const char *phone)
{
    struct http_response resp;
    post_json(port, "/signup", NULL,
              json_pack("{s:s, s:s, s:s, s:s, s:b}", "full_name", full_name, "email", email, "password", password,
                        "phone_number", phone, "accept_terms", 1),
              &resp);
    ck_assert_msg(resp.status == 201, "POST /signup: %d %s", resp.status, resp.body);
    char *body = strdup(resp.body);
    http_response_free(&resp);
    return body;
}

/* Waits for the count-th email with subject to email in the shared catcher
 * and returns it (new reference). */
static json_t *wait_mail(const char *email, const char *subject, size_t count)
{
    json_t *mails = mail_wait_for(mail_shared_dir(), email, subject, count, ARRIVAL_TIMEOUT_MS);
    ck_assert_msg(json_array_size(mails) >= count, "%zu of %zu \"%s\" emails to %s arrived", json_array_size(mails),
                  count, subject, email);
    json_t *mail = json_incref(json_array_get(mails, count - 1));
    json_decref(mails);
    return mail;
}

static void token_of(const json_t *mail, char token[TOKEN_SIZE])
{
    const char *link = mail_verify_link(mail);
    ck_assert_msg(link != NULL, "no link with a token in %s", json_str(mail, "path"));
    ck_assert_msg(mail_link_token(link, token, TOKEN_SIZE), "no token in %s", link);
}

/* The token of the count-th verification email to email. */
static void verification_token(const char *email, size_t count, char token[TOKEN_SIZE])
{
    json_t *mail = wait_mail(email, SUBJECT_VERIFY, count);
    token_of(mail, token);
    json_decref(mail);
}

/* GET /verify?token=… as an API client; expects 200 with status_word. */
static void follow_verify(int port, const char *token, const char *status_word)
{
    char path[128];
    struct http_response resp;
    snprintf(path, sizeof path, "/verify?token=%s", token);
    http_send(port, "GET", path, NULL, NULL, NULL, 0, &resp);
    assert_json_status(&resp, 200, status_word);
    http_response_free(&resp);
}

/* Signs up and follows the link in the verification email. */
static void sign_up_verified(int port, const char *full_name, const char *email, const char *password)
{
    char token[TOKEN_SIZE];
    free(sign_up(port, full_name, email, password, PHONE_A));
    verification_token(email, 1, token);
    follow_verify(port, token, "verified");
}

/* POST /signin; returns the status, and the session token on 200. */
static int sign_in_as(int port, const char *email, const char *password, char session[SESSION_SIZE])
{
    struct http_response resp;
    post_json(port, "/signin", NULL, json_pack("{s:s, s:s}", "email", email, "password", password), &resp);
    int status = resp.status;
    if (status == 200) {
        assert_json_status(&resp, 200, "signed_in");
        ck_assert_ptr_nonnull(json_str(resp.json, "session_token"));
        if (session != NULL)
            snprintf(session, SESSION_SIZE, "%s", json_str(resp.json, "session_token"));
    } else if (status == 401) {
        assert_problem(&resp, 401, "invalid_credentials");
    }
    http_response_free(&resp);
    return status;
}

static void sign_in(int port, const char *email, const char *password, char session[SESSION_SIZE])
{
    int status = sign_in_as(port, email, password, session);
    ck_assert_msg(status == 200, "sign-in of %s: %d", email, status);
}

/* GET /session with the token; returns the status (401 checked in full). */
static int session_status(int port, const char *session)
{
    char authorization[SESSION_SIZE + 16];
    struct http_response resp;
    snprintf(authorization, sizeof authorization, "Bearer %s", session);
    http_send(port, "GET", "/session", authorization, NULL, NULL, 0, &resp);
    int status = resp.status;
    if (status == 401)
        assert_problem(&resp, 401, "unauthorized");
    http_response_free(&resp);
    return status;
}

/* POST /password/forgot, then the token of the count-th reset email. */
static void forgot_token(int port, const char *email, size_t count, char token[TOKEN_SIZE])
{
    struct http_response resp;
    post_forgot(port, email, &resp);
    assert_json_status(&resp, 202, "accepted");
    http_response_free(&resp);
    json_t *mail = wait_mail(email, SUBJECT_RESET, count);
    token_of(mail, token);
    json_decref(mail);
}

/* ---- Database helpers (values are parameters) ---- */

/* One expression (as text) over the account with this address; caller frees. */
static char *account_value(const char *expr, const char *email)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT (%s)::text FROM accounts WHERE lower(email) = lower($1)", expr);
    const char *params[] = {email};
    return db_query_value(sql, 1, params);
}

static void assert_account_value(const char *expr, const char *email, const char *expected)
{
    char *value = account_value(expr, email);
    ck_assert_msg(value != NULL && strcmp(value, expected) == 0, "%s of %s is %s, expected %s", expr, email,
                  value ? value : "(no row)", expected);
    free(value);
}

/* db_query_value on the clock server's database. */
static char *clock_db_value(const char *sql, const char *param)
{
    char *saved = strdup(getenv("TEST_DATABASE_URL"));
    const char *params[] = {param};
    setenv("TEST_DATABASE_URL", clock_db_url, 1);
    char *value = db_query_value(sql, 1, params);
    setenv("TEST_DATABASE_URL", saved, 1);
    free(saved);
    return value;
}

static long clock_db_long(const char *sql, const char *param)
{
    char *value = clock_db_value(sql, param);
    long n = value ? atol(value) : -1;
    free(value);
    return n;
}

/* ---- Fixtures ---- */

/* Plants the clock case's accounts on its server: one left unverified, one
 * verified (to be kept), one verified with a reset link (to expire). */
static void plant_clock_accounts(void)
{
    char token[TOKEN_SIZE];
    unique_email(clock_plant.unverified_email, sizeof clock_plant.unverified_email, "clock-unverified", CORP_DOMAIN);
    unique_email(clock_plant.kept_email, sizeof clock_plant.kept_email, "clock-kept", CORP_DOMAIN);
    unique_email(clock_plant.reset_email, sizeof clock_plant.reset_email, "clock-reset", CORP_DOMAIN);

    clock_plant.unverified_signed_up_ms = mail_now_ms();
    free(sign_up(clock_port, "Clock Unverified", clock_plant.unverified_email, PASSWORD_A, PHONE_A));
    char *id = clock_db_value("SELECT id::text FROM accounts WHERE email = $1", clock_plant.unverified_email);
    ck_assert_ptr_nonnull(id);
    snprintf(clock_plant.unverified_id, sizeof clock_plant.unverified_id, "%s", id);
    free(id);

    clock_plant.kept_signed_up_ms = mail_now_ms();
    sign_up_verified(clock_port, "Clock Kept", clock_plant.kept_email, PASSWORD_A);

    sign_up_verified(clock_port, "Clock Reset", clock_plant.reset_email, PASSWORD_A);
    forgot_token(clock_port, clock_plant.reset_email, 1, token);
    clock_plant.reset_issued_ms = mail_now_ms();
    snprintf(clock_plant.reset_token, sizeof clock_plant.reset_token, "%s", token);
    clock_plant.is_planted = true;
}

static void recovery_setup(void)
{
    (void)mail_shared_dir(); /* exits early when the environment is incomplete */
    char clock_db_env[1100];
    snprintf(clock_db_env, sizeof clock_db_env, "DATABASE_URL=%s", clock_db_url);
    const char *const clock_extra[] = {clock_db_env, "UNVERIFIED_ACCOUNT_TTL=60", "PASSWORD_RESET_TTL=60",
                                       "SWEEP_INTERVAL=" CLOCK_SWEEP_S, NULL};
    main_port = base_port() + PORT_MAIN;
    clock_port = base_port() + PORT_CLOCK;
    main_pid = start_server(main_port, NULL);
    /* First, so the clock's minute runs while the other cases do. */
    clock_pid = start_server(clock_port, clock_extra);
    plant_clock_accounts();

    char email[128];
    unique_email(email, sizeof email, "hostile", CORP_DOMAIN);
    sign_up_verified(main_port, "Hostile Person", email, PASSWORD_A);
    sign_in(main_port, email, PASSWORD_A, hostile_session);
}

static void recovery_teardown(void)
{
    stop_server(&main_pid);
}

static void limits_setup(void)
{
    static char forgots[64], failures[64];
    snprintf(forgots, sizeof forgots, "RATE_LIMIT_FORGOTS_PER_IP_HOUR=%d", LIMIT_FORGOTS_PER_IP);
    snprintf(failures, sizeof failures, "SIGNIN_FAILURES_PER_ADDRESS_AND_CLIENT=%d", LIMIT_SIGNIN_FAILURES_PER_PAIR);
    const char *const extra[] = {"RATE_LIMITS_ENABLED=true", forgots, failures, NULL};
    limits_port = base_port() + PORT_LIMITS;
    limits_pid = start_server(limits_port, extra);
}

static void limits_teardown(void)
{
    stop_server(&limits_pid);
}

static void clock_teardown(void)
{
    stop_server(&clock_pid);
}

/* ---- Forgot ---- */

START_TEST(test_recovery_forgot_email_has_button_raw_link_expiry_and_ignore_advice)
{
    char email[128], expected_to[256], token[TOKEN_SIZE], line[512];
    struct http_response resp;
    unique_email(email, sizeof email, "forgot", CORP_DOMAIN);
    sign_up_verified(main_port, "Reset Person", email, PASSWORD_A);

    /* Typed in another letter case: the email still goes to the account's
     * own address. */
    char typed[128];
    for (size_t i = 0; i <= strlen(email); i++)
        typed[i] = (email[i] >= 'a' && email[i] <= 'z') ? (char)(email[i] - 32) : email[i];
    post_forgot(main_port, typed, &resp);
    assert_json_status(&resp, 202, "accepted");
    ck_assert_msg(json_str(resp.json, "message") && strlen(json_str(resp.json, "message")) > 0, "no message");
    http_response_free(&resp);

    json_t *mail = wait_mail(email, SUBJECT_RESET, 1);
    const char *path = json_str(mail, "path");
    ck_assert_str_eq(mail_header(mail, "subject"), SUBJECT_RESET);
    snprintf(expected_to, sizeof expected_to, "Reset Person <%s>", email);
    ck_assert_str_eq(mail_header(mail, "to"), expected_to);
    ck_assert_str_eq(mail_header(mail, "from"), MAIL_FROM_VALUE);
    ck_assert_str_eq(json_str(mail, "content_type"), "multipart/alternative");
    ck_assert_msg(json_is_true(json_object_get(mail, "header_is_ascii")), "%s: 8-bit header", path);
    ck_assert_int_le(json_integer_value(json_object_get(mail, "max_line_octets")), 998);
    ck_assert(json_is_false(json_object_get(mail, "has_bare_lf")));
    ck_assert(json_is_false(json_object_get(mail, "has_bare_cr")));
    json_t *parts = json_object_get(mail, "parts");
    ck_assert_int_eq(json_array_size(parts), 2);
    ck_assert_str_eq(json_str(json_array_get(parts, 0), "content_type"), "text/plain");
    ck_assert_str_eq(json_str(json_array_get(parts, 1), "content_type"), "text/html");

    /* PASSWORD_RESET_URL?token=<43 base64url>: the frontend's page, the same
     * link everywhere in the email. */
    const char *link = mail_verify_link(mail);
    ck_assert_ptr_nonnull(link);
    ck_assert_msg(strncmp(link, RESET_URL "?token=", strlen(RESET_URL "?token=")) == 0, "link %s", link);
    token_of(mail, token);
    ck_assert_msg(strlen(token) == TOKEN_LEN && is_base64url(token), "token %s", token);
    ck_assert_uint_eq(strlen(link), strlen(RESET_URL "?token=") + TOKEN_LEN);
    size_t i;
    json_t *each;
    json_array_foreach(json_object_get(mail, "links"), i, each)
    {
        if (strstr(json_string_value(each), "token=") != NULL)
            ck_assert_str_eq(json_string_value(each), link);
    }

    /* Text: the link alone on its line, the expiry, what to do if not you. */
    const char *text = mail_part_text(mail, "text/plain");
    snprintf(line, sizeof line, "\n%s\n", link);
    ck_assert_msg(strstr(text, line) != NULL, "link not alone on a line:\n%s", text);
    ck_assert_msg(strstr(text, "expires in 1 hour") != NULL, "no expiry in:\n%s", text);
    ck_assert_msg(strstr(text, "ignore this email; your password is unchanged") != NULL, "no advice in:\n%s", text);

    /* HTML: a "Reset Your Password" button to the link, and the raw link. */
    const char *html = mail_part_text(mail, "text/html");
    bool has_button = false, has_raw_link = false;
    json_array_foreach(json_object_get(mail, "anchors"), i, each)
    {
        const char *href = json_str(each, "href"), *anchor_text = json_str(each, "text");
        if (strstr(anchor_text, "Reset Your Password") != NULL) {
            ck_assert_msg(!has_button, "two buttons");
            has_button = true;
            ck_assert_str_eq(href, link);
        }
        if (strcmp(anchor_text, link) == 0) {
            has_raw_link = true;
            ck_assert_str_eq(href, link);
        }
    }
    ck_assert_msg(has_button, "no <a> \"Reset Your Password\" in:\n%s", html);
    ck_assert_msg(has_raw_link, "no raw link <a href=link>link</a> in:\n%s", html);
    ck_assert_msg(strstr(html, "expires in 1 hour") != NULL, "no expiry in:\n%s", html);
    ck_assert_msg(strstr(html, "ignore this email; your password is unchanged") != NULL, "no advice in:\n%s", html);
    ck_assert_int_eq(outbox_rows_of_kind(email, "password_reset"), 1);
    json_decref(mail);
}
END_TEST

START_TEST(test_recovery_forgot_answers_identically_for_verified_unverified_unknown_and_free_mail)
{
    char verified[128], unverified[128], unknown[128], free_mail[128], type_a[128], type_b[128];
    struct http_response first, resp;
    unique_email(verified, sizeof verified, "known", CORP_DOMAIN);
    unique_email(unverified, sizeof unverified, "pending", CORP_DOMAIN);
    unique_email(unknown, sizeof unknown, "nobody", CORP_DOMAIN);
    unique_email(free_mail, sizeof free_mail, "someone", "gmail.com");
    sign_up_verified(main_port, "Known Person", verified, PASSWORD_A);
    free(sign_up(main_port, "Pending Person", unverified, PASSWORD_A, PHONE_A));

    post_forgot(main_port, verified, &first);
    assert_json_status(&first, 202, "accepted");
    const char *const OTHERS[] = {unverified, unknown, free_mail};
    for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++) {
        post_forgot(main_port, OTHERS[i], &resp);
        ck_assert_msg(resp.status == 202, "%s: %d %s", OTHERS[i], resp.status, resp.body);
        ck_assert_msg(strcmp(resp.body, first.body) == 0, "%s: body %s differs from %s", OTHERS[i], resp.body,
                      first.body);
        ck_assert(http_header(&resp, "Content-Type", type_a, sizeof type_a));
        ck_assert(http_header(&first, "Content-Type", type_b, sizeof type_b));
        ck_assert_str_eq(type_a, type_b);
        assert_no_store(&resp);
        http_response_free(&resp);
    }
    /* Only the two accounts get a reset email, verified or not. */
    json_decref(wait_mail(verified, SUBJECT_RESET, 1));
    json_decref(wait_mail(unverified, SUBJECT_RESET, 1));
    ck_assert_int_eq(outbox_rows_of_kind(verified, "password_reset"), 1);
    ck_assert_int_eq(outbox_rows_of_kind(unverified, "password_reset"), 1);
    ck_assert_int_eq(query_long("SELECT count(*) FROM email_outbox WHERE lower(recipient) = lower($1)", unknown), 0);
    ck_assert_int_eq(query_long("SELECT count(*) FROM email_outbox WHERE lower(recipient) = lower($1)", free_mail), 0);
    ck_assert_int_eq(query_long("SELECT count(*) FROM accounts WHERE lower(email) = lower($1)", unknown), 0);
    http_response_free(&first);
}
END_TEST

static const struct {
    const char *body, *code;
} BAD_FORGOT_EMAILS[] = {
    {"{}", "email_required"},
    {"{\"email\":null}", "email_required"},
    {"{\"email\":\"\"}", "email_required"},
    {"{\"email\":\"   \"}", "email_required"},
    {"{\"email\":\"not-an-email\"}", "email_invalid"},
    {"{\"email\":\"a@b@" CORP_DOMAIN "\"}", "email_invalid"},
    {"{\"email\":\"someone@localhost\"}", "email_invalid"},
};

START_TEST(test_recovery_forgot_without_a_valid_email_gets_422)
{
    struct http_response resp;
    const char *body = BAD_FORGOT_EMAILS[_i].body;
    http_send(main_port, "POST", "/password/forgot", NULL, "application/json", body, strlen(body), &resp);
    assert_field_errors(&resp, "email", BAD_FORGOT_EMAILS[_i].code);
    http_response_free(&resp);
}
END_TEST

/* The per-address limit counts reset emails beyond the first (README): with
 * RESEND_PER_MINUTE=1 two go out at once and a third in the minute does not,
 * with the same 202. */
START_TEST(test_recovery_third_forgot_inside_a_minute_sends_nothing_and_answers_the_same)
{
    char email[128];
    struct http_response first, resp;
    unique_email(email, sizeof email, "thrice", CORP_DOMAIN);
    free(sign_up(main_port, "Thrice Person", email, PASSWORD_A, PHONE_A));

    post_forgot(main_port, email, &first);
    assert_json_status(&first, 202, "accepted");
    for (int i = 0; i < 2; i++) {
        post_forgot(main_port, email, &resp);
        assert_json_status(&resp, 202, "accepted");
        ck_assert_str_eq(resp.body, first.body);
        http_response_free(&resp);
    }
    json_decref(wait_mail(email, SUBJECT_RESET, 2));
    ck_assert_int_eq(outbox_rows_of_kind(email, "password_reset"), 2);
    ck_assert_int_eq(query_long("SELECT count(*) FROM password_reset_tokens t JOIN accounts a ON a.id = t.account_id "
                                "WHERE a.email = $1",
                                email),
                     2);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(mail_shared_dir(), email, SUBJECT_RESET), 2);
    http_response_free(&first);
}
END_TEST

static long long now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static int compare_long_long(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

#define TIMING_ROUNDS 21
/* Medians within 1.5x of each other plus 3 ms for scheduling noise on a
 * shared 2-core machine (scaled like the waits under valgrind). */
#define TIMING_FACTOR 1.5
#define TIMING_SLACK_US (1000LL * mail_scaled_ms(3))

START_TEST(test_recovery_forgot_takes_as_long_for_a_known_address_as_for_an_unknown_one)
{
    char known[128], unknown[128];
    long long times[2][TIMING_ROUNDS];
    struct http_response resp;
    unique_email(known, sizeof known, "timing-known", CORP_DOMAIN);
    unique_email(unknown, sizeof unknown, "timing-unknown", CORP_DOMAIN);
    sign_up_verified(main_port, "Timing Person", known, PASSWORD_A);
    /* Warm the connections and statements up on another unknown address. */
    for (int i = 0; i < 3; i++) {
        post_forgot(main_port, "warm-up@" CORP_DOMAIN, &resp);
        http_response_free(&resp);
    }
    /* Interleaved, alternating which goes first, so drift hits both alike. */
    for (int round = 0; round < TIMING_ROUNDS; round++) {
        for (int k = 0; k < 2; k++) {
            int which = (round + k) % 2; /* 0 known, 1 unknown */
            long long started = now_us();
            post_forgot(main_port, which == 0 ? known : unknown, &resp);
            times[which][round] = now_us() - started;
            ck_assert_int_eq(resp.status, 202);
            http_response_free(&resp);
        }
    }
    qsort(times[0], TIMING_ROUNDS, sizeof times[0][0], compare_long_long);
    qsort(times[1], TIMING_ROUNDS, sizeof times[1][0], compare_long_long);
    long long known_us = times[0][TIMING_ROUNDS / 2], unknown_us = times[1][TIMING_ROUNDS / 2];
    fprintf(stderr, "forgot timing: median %.2f ms for a known address, %.2f ms for an unknown one (%d each)\n",
            known_us / 1000.0, unknown_us / 1000.0, TIMING_ROUNDS);
    ck_assert_msg(known_us <= TIMING_FACTOR * unknown_us + TIMING_SLACK_US &&
                      unknown_us <= TIMING_FACTOR * known_us + TIMING_SLACK_US,
                  "median %lld us for a known address, %lld us for an unknown one", known_us, unknown_us);
}
END_TEST

/* ---- Reset ---- */

START_TEST(test_recovery_reset_changes_the_password_and_the_link_works_once)
{
    char email[128], token[TOKEN_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "reset", CORP_DOMAIN);
    sign_up_verified(main_port, "Reset Once", email, PASSWORD_A);
    forgot_token(main_port, email, 1, token);

    post_reset(main_port, token, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    ck_assert_msg(json_str(resp.json, "message") && strlen(json_str(resp.json, "message")) > 0, "no message");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 401);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 200);

    post_reset(main_port, token, "Th1rd!Choice", &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 200);

    /* The notice: exactly this subject, a link to the forgot page, no token. */
    json_t *notice = wait_mail(email, SUBJECT_CHANGED, 1);
    ck_assert_str_eq(mail_header(notice, "subject"), SUBJECT_CHANGED);
    ck_assert_str_eq(json_str(notice, "content_type"), "multipart/alternative");
    ck_assert_int_le(json_integer_value(json_object_get(notice, "max_line_octets")), 998);
    ck_assert(json_is_false(json_object_get(notice, "has_bare_lf")));
    bool has_forgot_link = false;
    size_t i;
    json_t *each;
    json_array_foreach(json_object_get(notice, "links"), i, each)
    {
        has_forgot_link = has_forgot_link || strcmp(json_string_value(each), FORGOT_URL) == 0;
    }
    ck_assert_msg(has_forgot_link, "no link to %s in %s", FORGOT_URL, json_str(notice, "path"));
    ck_assert_ptr_null(mail_verify_link(notice));
    ck_assert_ptr_nonnull(strstr(mail_part_text(notice, "text/plain"), FORGOT_URL));
    ck_assert_int_eq(outbox_rows_of_kind(email, "password_changed"), 1);
    assert_account_value("password_version", email, "1");
    json_decref(notice);
}
END_TEST

START_TEST(test_recovery_reset_ends_every_session_from_before)
{
    char email[128], token[TOKEN_SIZE], first[SESSION_SIZE], second[SESSION_SIZE], after[SESSION_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "sessions", CORP_DOMAIN);
    sign_up_verified(main_port, "Session Person", email, PASSWORD_A);
    sign_in(main_port, email, PASSWORD_A, first);
    sign_in(main_port, email, PASSWORD_A, second);
    ck_assert_int_eq(session_status(main_port, first), 200);
    ck_assert_int_eq(session_status(main_port, second), 200);

    forgot_token(main_port, email, 1, token);
    post_reset(main_port, token, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
    ck_assert_int_eq(session_status(main_port, first), 401);
    ck_assert_int_eq(session_status(main_port, second), 401);
    sign_in(main_port, email, PASSWORD_NEW, after);
    ck_assert_int_eq(session_status(main_port, after), 200);
}
END_TEST

START_TEST(test_recovery_reset_verifies_an_unverified_account)
{
    char email[128], token[TOKEN_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "unverified-reset", CORP_DOMAIN);
    free(sign_up(main_port, "Unverified Reset", email, PASSWORD_A, PHONE_A));
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 403); /* verify first */
    assert_account_value("email_verified_at IS NULL", email, "true");

    forgot_token(main_port, email, 1, token);
    post_reset(main_port, token, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
    assert_account_value("email_verified_at IS NOT NULL", email, "true");
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 401);
}
END_TEST

START_TEST(test_recovery_second_forgot_link_works_and_then_the_first_is_invalid)
{
    char email[128], first[TOKEN_SIZE], second[TOKEN_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "twice", CORP_DOMAIN);
    sign_up_verified(main_port, "Twice Person", email, PASSWORD_A);
    forgot_token(main_port, email, 1, first);
    forgot_token(main_port, email, 2, second);
    ck_assert_msg(strcmp(first, second) != 0, "both reset emails carry the same token");

    post_reset(main_port, second, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
    post_reset(main_port, first, "Th1rd!Choice", &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, "Th1rd!Choice", NULL), 401);
}
END_TEST

static const struct {
    const char *password, *code;
} WEAK_PASSWORDS[] = {
    {"", "password_too_short"},
    {"Sh0rt!", "password_too_short"},
    {"alllower1!case", "password_missing_uppercase"},
    {"ALLUPPER1!CASE", "password_missing_lowercase"},
    {"No!Digits!Here", "password_missing_number"},
    {"NoSymbol1Here", "password_missing_symbol"},
    {"Password1!", "password_too_common"},
};

START_TEST(test_recovery_reset_weak_password_gets_422_and_the_link_stays_usable)
{
    char email[128], token[TOKEN_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "weak", CORP_DOMAIN);
    sign_up_verified(main_port, "Weak Person", email, PASSWORD_A);
    forgot_token(main_port, email, 1, token);

    for (size_t i = 0; i < sizeof WEAK_PASSWORDS / sizeof WEAK_PASSWORDS[0]; i++) {
        post_reset(main_port, token, WEAK_PASSWORDS[i].password, &resp);
        assert_field_errors(&resp, "password", WEAK_PASSWORDS[i].code);
        http_response_free(&resp);
    }
    /* 257 bytes: one over the sign-up limit. */
    char long_password[258];
    memset(long_password, 'a', sizeof long_password - 1);
    memcpy(long_password, "A1!", 3);
    long_password[sizeof long_password - 1] = '\0';
    post_reset(main_port, token, long_password, &resp);
    assert_field_errors(&resp, "password", "password_too_long");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 200);

    post_reset(main_port, token, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 200);
}
END_TEST

/* NULL: a well-formed token nobody was given. */
static const char *const BAD_RESET_TOKENS[] = {
    NULL,
    "",
    "not a token!",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42 characters */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 characters */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",  /* spare bits set: not canonical */
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* padded */
    "+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* '+' is not base64url */
    "\xC3\xA9"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    " AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};

START_TEST(test_recovery_reset_with_a_token_nobody_was_given_gets_400_invalid_token)
{
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char token[TOKEN_LEN + 1];
    struct http_response resp;
    const char *bad = BAD_RESET_TOKENS[_i];
    if (bad == NULL) {
        srand((unsigned)time(NULL) ^ (unsigned)getpid());
        for (int i = 0; i < TOKEN_LEN - 1; i++)
            token[i] = ALPHABET[rand() % 64];
        token[TOKEN_LEN - 1] = ALPHABET[(rand() % 16) * 4]; /* low 2 bits zero: canonical */
        token[TOKEN_LEN] = '\0';
        bad = token;
    }
    post_reset(main_port, bad, PASSWORD_NEW, &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);
}
END_TEST

START_TEST(test_recovery_reset_without_a_token_gets_400_invalid_token)
{
    struct http_response resp;
    post_json(main_port, "/password/reset", NULL, json_pack("{s:s}", "password", PASSWORD_NEW), &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);
    post_json(main_port, "/password/reset", NULL, json_pack("{s:n, s:s}", "token", "password", PASSWORD_NEW), &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);
}
END_TEST

START_TEST(test_recovery_reset_expired_link_gets_410_and_changes_nothing)
{
    char email[128], token[TOKEN_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "expired", CORP_DOMAIN);
    sign_up_verified(main_port, "Expired Person", email, PASSWORD_A);
    forgot_token(main_port, email, 1, token);
    char *updated = db_query_value("UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' "
                                   " WHERE account_id = (SELECT id FROM accounts WHERE email = $1) RETURNING 1",
                                   1, (const char *const[]){email});
    ck_assert_ptr_nonnull(updated);
    free(updated);

    post_reset(main_port, token, PASSWORD_NEW, &resp);
    assert_problem(&resp, 410, "token_expired");
    http_response_free(&resp);
    /* The link's state comes before the password's rules. */
    post_reset(main_port, token, "weak", &resp);
    assert_problem(&resp, 410, "token_expired");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 401);
    assert_account_value("password_version", email, "0");
}
END_TEST

/* Corporate link scanners open links: only a POST may use a reset token. */
START_TEST(test_recovery_get_requests_do_not_use_a_reset_link)
{
    char email[128], token[TOKEN_SIZE], path[128], allow[64];
    struct http_response resp;
    unique_email(email, sizeof email, "scanner", CORP_DOMAIN);
    sign_up_verified(main_port, "Scanned Person", email, PASSWORD_A);
    forgot_token(main_port, email, 1, token);

    snprintf(path, sizeof path, "/password/reset?token=%s", token);
    static const char *const METHODS[] = {"GET", "HEAD"};
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++) {
        http_send(main_port, METHODS[i], path, NULL, NULL, NULL, 0, &resp);
        ck_assert_msg(resp.status == 405, "%s %s: %d", METHODS[i], path, resp.status);
        ck_assert(http_header(&resp, "Allow", allow, sizeof allow));
        ck_assert_str_eq(allow, "POST, OPTIONS");
        http_response_free(&resp);
    }
    snprintf(path, sizeof path, "/verify?token=%s", token); /* not a verification token either */
    http_send(main_port, "GET", path, NULL, NULL, NULL, 0, &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);

    char verify_token[TOKEN_SIZE]; /* nor is a verification token a reset token */
    verification_token(email, 1, verify_token);
    post_reset(main_port, verify_token, PASSWORD_NEW, &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);

    assert_account_value("(SELECT count(*) FROM password_reset_tokens t WHERE t.account_id = accounts.id "
                         "   AND t.used_at IS NULL)",
                         email, "1");
    post_reset(main_port, token, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
}
END_TEST

/* Reads what argv[0] prints (no shell); aborts unless it exits 0. Caller frees. */
static char *run_capture(const char *const *argv)
{
    int out[2];
    ck_assert_msg(pipe(out) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execv(argv[0], (char *const *)argv);
        perror(argv[0]);
        _exit(127);
    }
    close(out[1]);
    size_t len = 0, cap = 1 << 20;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            text = realloc(text, cap);
            ck_assert_ptr_nonnull(text);
        }
        ssize_t n = read(out[0], text + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    close(out[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %d)", argv[0], status);
    return text;
}

START_TEST(test_recovery_reset_token_is_stored_hashed_and_absent_from_pg_dump_and_log)
{
    char email[128], token[TOKEN_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "dump", CORP_DOMAIN);
    sign_up_verified(main_port, "Dump Person", email, PASSWORD_A);
    forgot_token(main_port, email, 1, token);

    /* Once the email has left, the link is erased from its outbox row. */
    const char *params[] = {email};
    char *scrubbed = db_wait_value("SELECT (status = 'sent' AND verify_link IS NULL)::text FROM email_outbox "
                                   " WHERE recipient = $1 AND kind = 'password_reset'",
                                   1, params, "true", DB_TIMEOUT_MS);
    ck_assert_msg(scrubbed != NULL && strcmp(scrubbed, "true") == 0, "reset email row not sent and scrubbed");
    free(scrubbed);
    const char *hash_params[] = {email, token};
    char *matches = db_query_value(
        "SELECT count(*)::text FROM password_reset_tokens t JOIN accounts a ON a.id = t.account_id "
        " WHERE a.email = $1 AND t.token_hash = sha256(decode(translate($2, '-_', '+/') || '=', 'base64')) "
        "   AND t.used_at IS NULL AND t.password_version = a.password_version "
        "   AND t.expires_at BETWEEN t.created_at + interval '3599 seconds' AND t.created_at + interval '3601 seconds'",
        2, hash_params);
    ck_assert_str_eq(matches, "1");
    free(matches);

    const char *const argv[] = {PG_DUMP, "--no-owner", "--dbname", getenv("TEST_DATABASE_URL"), NULL};
    char *dump = run_capture(argv);
    ck_assert_msg(strstr(dump, "password_reset_tokens") != NULL, "pg_dump printed no reset tokens table");
    ck_assert_msg(strstr(dump, email) != NULL, "pg_dump holds no row of the account");
    ck_assert_msg(strstr(dump, token) == NULL, "the raw reset token is in pg_dump");
    free(dump);

    post_reset(main_port, token, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
    ck_assert_msg(!log_file_contains(server_log(), token), "the raw reset token is in the server log");
    ck_assert_msg(!log_file_contains(server_log(), PASSWORD_NEW), "the new password is in the server log");
    ck_assert_msg(!log_file_contains(server_log(), email), "the address is in the server log");
}
END_TEST

/* A rehash keeps the password, so it must not kill outstanding links. */
START_TEST(test_recovery_rehash_at_signin_keeps_the_reset_link_working)
{
    char email[128], token[TOKEN_SIZE];
    struct http_response resp;
    const char *const extra[] = {"ARGON2_ITERATIONS=3", "MAIL_WORKERS=0", NULL};
    unique_email(email, sizeof email, "rehash", CORP_DOMAIN);
    sign_up_verified(main_port, "Rehash Person", email, PASSWORD_A);
    assert_account_value("password_hash LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'", email, "true");
    forgot_token(main_port, email, 1, token);

    int rehash_port = base_port() + PORT_REHASH;
    pid_t rehash_pid = start_server(rehash_port, extra);
    mail_track_pid(rehash_pid);
    ck_assert_int_eq(sign_in_as(rehash_port, email, PASSWORD_A, NULL), 200);
    const char *params[] = {email};
    char *rehashed = db_wait_value("SELECT (password_hash LIKE '$argon2id$v=19$m=19456,t=3,p=1$%')::text "
                                   "  FROM accounts WHERE email = $1",
                                   1, params, "true", DB_TIMEOUT_MS);
    ck_assert_msg(rehashed != NULL && strcmp(rehashed, "true") == 0, "the sign-in did not rehash with t=3");
    free(rehashed);
    assert_account_value("password_version", email, "0");
    test_server_stop(rehash_pid);
    mail_untrack_pid(rehash_pid);

    post_reset(main_port, token, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 200);
}
END_TEST

/* ---- Change ---- */

START_TEST(test_recovery_change_keeps_this_session_and_ends_the_others)
{
    char email[128], used[SESSION_SIZE], other[SESSION_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "change", CORP_DOMAIN);
    sign_up_verified(main_port, "Change Person", email, PASSWORD_A);
    sign_in(main_port, email, PASSWORD_A, used);
    sign_in(main_port, email, PASSWORD_A, other);

    post_change(main_port, used, PASSWORD_A, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
    ck_assert_int_eq(session_status(main_port, used), 200);
    ck_assert_int_eq(session_status(main_port, other), 401);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 401);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 200);
    assert_account_value("password_version", email, "1");

    json_t *notice = wait_mail(email, SUBJECT_CHANGED, 1);
    ck_assert_ptr_nonnull(strstr(mail_part_text(notice, "text/plain"), FORGOT_URL));
    ck_assert_ptr_null(mail_verify_link(notice));
    json_decref(notice);
    ck_assert_int_eq(outbox_rows_of_kind(email, "password_changed"), 1);
}
END_TEST

START_TEST(test_recovery_change_kills_an_outstanding_reset_link)
{
    char email[128], token[TOKEN_SIZE], session[SESSION_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "change-kills", CORP_DOMAIN);
    sign_up_verified(main_port, "Kill Link", email, PASSWORD_A);
    forgot_token(main_port, email, 1, token);
    sign_in(main_port, email, PASSWORD_A, session);

    post_change(main_port, session, PASSWORD_A, PASSWORD_NEW, &resp);
    assert_json_status(&resp, 200, "password_changed");
    http_response_free(&resp);
    post_reset(main_port, token, "Th1rd!Choice", &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, "Th1rd!Choice", NULL), 401);
}
END_TEST

START_TEST(test_recovery_change_without_a_live_session_gets_401_unauthorized)
{
    char email[128], session[SESSION_SIZE], ended[SESSION_SIZE + 16], www_authenticate[64];
    struct http_response resp;
    unique_email(email, sizeof email, "no-session", CORP_DOMAIN);
    sign_up_verified(main_port, "No Session", email, PASSWORD_A);
    sign_in(main_port, email, PASSWORD_A, session);
    snprintf(ended, sizeof ended, "Bearer %s", session);
    http_send(main_port, "POST", "/signout", ended, NULL, NULL, 0, &resp);
    ck_assert_msg(resp.status == 200 || resp.status == 204, "POST /signout: %d %s", resp.status, resp.body);
    http_response_free(&resp);

    const char *const AUTHORIZATIONS[] = {
        NULL,  "Bearer", "Bearer ", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Basic dXNlcjpwYXNz",
        ended, /* a session that was signed out */
    };
    char body[256];
    snprintf(body, sizeof body, "{\"current_password\":\"%s\",\"new_password\":\"%s\"}", PASSWORD_A, PASSWORD_NEW);
    for (size_t i = 0; i < sizeof AUTHORIZATIONS / sizeof AUTHORIZATIONS[0]; i++) {
        http_send(main_port, "POST", "/password/change", AUTHORIZATIONS[i], "application/json", body, strlen(body),
                  &resp);
        assert_problem(&resp, 401, "unauthorized");
        ck_assert_msg(http_header(&resp, "WWW-Authenticate", www_authenticate, sizeof www_authenticate),
                      "401 without WWW-Authenticate (Authorization: %s)", AUTHORIZATIONS[i]);
        ck_assert_str_eq(www_authenticate, "Bearer");
        http_response_free(&resp);
    }
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 200);
    assert_account_value("password_version", email, "0");
}
END_TEST

START_TEST(test_recovery_change_with_a_wrong_current_password_gets_401_invalid_credentials)
{
    char email[128], session[SESSION_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "wrong-current", CORP_DOMAIN);
    sign_up_verified(main_port, "Wrong Current", email, PASSWORD_A);
    sign_in(main_port, email, PASSWORD_A, session);

    post_change(main_port, session, PASSWORD_WRONG, PASSWORD_NEW, &resp);
    assert_problem(&resp, 401, "invalid_credentials");
    http_response_free(&resp);
    ck_assert_int_eq(session_status(main_port, session), 200); /* the session itself is fine */
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 401);
    ck_assert_int_eq(outbox_rows_of_kind(email, "password_changed"), 0);
}
END_TEST

START_TEST(test_recovery_change_missing_current_or_weak_new_password_gets_422)
{
    char email[128], session[SESSION_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "change-422", CORP_DOMAIN);
    sign_up_verified(main_port, "Change Rules", email, PASSWORD_A);
    sign_in(main_port, email, PASSWORD_A, session);

    post_json(main_port, "/password/change", session, json_pack("{s:s}", "new_password", PASSWORD_NEW), &resp);
    assert_field_errors(&resp, "current_password", "current_password_required");
    http_response_free(&resp);
    post_change(main_port, session, "", PASSWORD_NEW, &resp);
    assert_field_errors(&resp, "current_password", "current_password_required");
    http_response_free(&resp);
    for (size_t i = 0; i < sizeof WEAK_PASSWORDS / sizeof WEAK_PASSWORDS[0]; i++) {
        post_change(main_port, session, PASSWORD_A, WEAK_PASSWORDS[i].password, &resp);
        assert_field_errors(&resp, "new_password", WEAK_PASSWORDS[i].code);
        http_response_free(&resp);
    }
    post_json(main_port, "/password/change", session, json_pack("{s:s}", "current_password", PASSWORD_A), &resp);
    assert_field_errors(&resp, "new_password", "password_too_short");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 200);
    ck_assert_int_eq(session_status(main_port, session), 200);
    assert_account_value("password_version", email, "0");
}
END_TEST

/* ---- Pre-hijacking ---- */

/* A squatter signs up first with the owner's address; the owner signs up
 * too and follows the link in their own (second) email. */
START_TEST(test_recovery_prehijack_second_signups_link_sets_its_password_name_and_phone)
{
    char email[128], first_token[TOKEN_SIZE], second_token[TOKEN_SIZE];
    unique_email(email, sizeof email, "hijack", CORP_DOMAIN);
    char *first_body = sign_up(main_port, "Squatter Name", email, PASSWORD_A, PHONE_A);
    char *second_body = sign_up(main_port, "Owner Name", email, PASSWORD_B, PHONE_B);
    ck_assert_str_eq(second_body, first_body); /* the same 201 */
    verification_token(email, 1, first_token);
    verification_token(email, 2, second_token);
    ck_assert_msg(strcmp(first_token, second_token) != 0, "both emails carry the same token");

    follow_verify(main_port, second_token, "verified");
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_B, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 401);
    assert_account_value("full_name", email, "Owner Name");
    assert_account_value("phone_number", email, PHONE_B_STORED);

    follow_verify(main_port, first_token, "already_verified");
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 401);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_B, NULL), 200);
    assert_account_value("full_name", email, "Owner Name");
    assert_account_value("phone_number", email, PHONE_B_STORED);
    /* What the other link carried is erased once the address is verified. */
    assert_account_value("(SELECT count(*) FROM verification_tokens t WHERE t.account_id = accounts.id "
                         "   AND (t.password_hash IS NOT NULL OR t.full_name IS NOT NULL "
                         "        OR t.phone_number IS NOT NULL))",
                         email, "0");
    ck_assert_int_eq(query_long("SELECT count(*) FROM accounts WHERE lower(email) = lower($1)", email), 1);
    free(first_body);
    free(second_body);
}
END_TEST

START_TEST(test_recovery_prehijack_first_link_first_keeps_its_password_and_the_second_changes_nothing)
{
    char email[128], first_token[TOKEN_SIZE], second_token[TOKEN_SIZE];
    unique_email(email, sizeof email, "hijack-first", CORP_DOMAIN);
    free(sign_up(main_port, "First Name", email, PASSWORD_A, PHONE_A));
    free(sign_up(main_port, "Second Name", email, PASSWORD_B, PHONE_B));
    verification_token(email, 1, first_token);
    verification_token(email, 2, second_token);

    follow_verify(main_port, first_token, "verified");
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_B, NULL), 401);
    char *verified_at = account_value("email_verified_at", email);

    follow_verify(main_port, second_token, "already_verified");
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_B, NULL), 401);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_A, NULL), 200);
    assert_account_value("full_name", email, "First Name");
    assert_account_value("phone_number", email, PHONE_A_STORED);
    assert_account_value("email_verified_at", email, verified_at);
    assert_account_value("password_version", email, "0");
    free(verified_at);
}
END_TEST

/* The sign-up's password hash travels with its link; following it is a
 * password change, so it too kills older reset links. */
START_TEST(test_recovery_verification_that_sets_a_new_password_kills_older_reset_links)
{
    char email[128], reset_token[TOKEN_SIZE], second_token[TOKEN_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "verify-kills", CORP_DOMAIN);
    free(sign_up(main_port, "First Typist", email, PASSWORD_A, PHONE_A));
    free(sign_up(main_port, "Second Typist", email, PASSWORD_B, PHONE_B));
    verification_token(email, 2, second_token);
    forgot_token(main_port, email, 1, reset_token);
    follow_verify(main_port, second_token, "verified");
    assert_account_value("password_version", email, "1");

    post_reset(main_port, reset_token, PASSWORD_NEW, &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_B, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORD_NEW, NULL), 401);
}
END_TEST

/* ---- Simultaneous requests ---- */

/* One request of a crowd, sent by its own thread once every thread is
 * ready: a POST of body, or a GET when method says so. */
struct crowd_post {
    pthread_barrier_t *start;
    int port;
    const char *method; /* NULL: POST */
    const char *path;
    char target[128];                      /* storage for a path built at run time */
    char authorization[SESSION_SIZE + 16]; /* "" for none */
    char body[512];
    int status;    /* 0 when no answer */
    char word[64]; /* "status" of a JSON answer or "code" of a problem */
};

/* No ck_assert here: the main thread checks what was recorded. */
static void *crowd_post_run(void *arg)
{
    struct crowd_post *p = arg;
    struct http_response resp;
    char request[1024];
    bool is_get = p->method != NULL && strcmp(p->method, "GET") == 0;
    int n = snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s%s",
                     is_get ? "GET" : "POST", p->path, p->port, p->authorization[0] ? "Authorization: " : "",
                     p->authorization, p->authorization[0] ? "\r\n" : "");
    if (n > 0 && (size_t)n < sizeof request && !is_get)
        n += snprintf(request + n, sizeof request - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(p->body), p->body);
    else if (n > 0 && (size_t)n < sizeof request)
        n += snprintf(request + n, sizeof request - (size_t)n, "\r\n");
    pthread_barrier_wait(p->start);
    if (n > 0 && (size_t)n < sizeof request && http_raw(p->port, request, (size_t)n, &resp)) {
        p->status = resp.status;
        const char *word = json_str(resp.json, resp.status < 300 ? "status" : "code");
        snprintf(p->word, sizeof p->word, "%s", word ? word : "");
    }
    http_response_free(&resp);
    return NULL;
}

/* Sends the n posts at once and waits for every answer. */
static void crowd_run(struct crowd_post *posts, size_t n)
{
    pthread_t threads[16];
    pthread_barrier_t start;
    ck_assert_uint_le(n, 16);
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (size_t i = 0; i < n; i++) {
        posts[i].start = &start;
        ck_assert_int_eq(pthread_create(&threads[i], NULL, crowd_post_run, &posts[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);
}

#define CROWD 8

/* The per-address limit holds when the requests arrive together, not just
 * one after another: RESEND_PER_MINUTE=1 allows two reset emails a minute.
 * A few rounds, each on a fresh address, since one crowd may happen to be
 * served one by one. */
#define CROWD_ROUNDS 4

START_TEST(test_recovery_simultaneous_forgots_for_one_address_send_no_more_than_the_limit)
{
    char emails[CROWD_ROUNDS][128];
    long queued[CROWD_ROUNDS];
    struct crowd_post posts[CROWD];
    for (int round = 0; round < CROWD_ROUNDS; round++) {
        unique_email(emails[round], sizeof emails[round], "forgot-crowd", CORP_DOMAIN);
        free(sign_up(main_port, "Forgot Crowd", emails[round], PASSWORD_A, PHONE_A));
        for (int i = 0; i < CROWD; i++) {
            posts[i] = (struct crowd_post){.port = main_port, .path = "/password/forgot"};
            snprintf(posts[i].body, sizeof posts[i].body, "{\"email\":\"%.200s\"}", emails[round]);
        }
        crowd_run(posts, CROWD);
        for (int i = 0; i < CROWD; i++)
            ck_assert_msg(posts[i].status == 202, "request %d: %d %s", i, posts[i].status, posts[i].word);
        queued[round] = outbox_rows_of_kind(emails[round], "password_reset");
    }
    for (int round = 0; round < CROWD_ROUNDS; round++)
        ck_assert_msg(queued[round] == 2,
                      "%d simultaneous forgot requests queued %ld, %ld, %ld, %ld reset emails in %d rounds; the "
                      "limit allows 2 each",
                      CROWD, queued[0], queued[1], queued[2], queued[3], CROWD_ROUNDS);
}
END_TEST

START_TEST(test_recovery_simultaneous_resets_with_one_link_change_the_password_once)
{
    char email[128], token[TOKEN_SIZE];
    struct crowd_post posts[CROWD];
    unique_email(email, sizeof email, "reset-crowd", CORP_DOMAIN);
    sign_up_verified(main_port, "Reset Crowd", email, PASSWORD_A);
    forgot_token(main_port, email, 1, token);
    for (int i = 0; i < CROWD; i++) {
        posts[i] = (struct crowd_post){.port = main_port, .path = "/password/reset"};
        snprintf(posts[i].body, sizeof posts[i].body, "{\"token\":\"%s\",\"password\":\"Crowd!Pass%d\"}", token, i);
    }
    crowd_run(posts, CROWD);
    int winner = -1, rejected = 0;
    for (int i = 0; i < CROWD; i++) {
        if (posts[i].status == 200 && strcmp(posts[i].word, "password_changed") == 0) {
            ck_assert_msg(winner < 0, "requests %d and %d both changed the password", winner, i);
            winner = i;
        } else {
            ck_assert_msg(posts[i].status == 400 && strcmp(posts[i].word, "invalid_token") == 0, "request %d: %d %s", i,
                          posts[i].status, posts[i].word);
            rejected++;
        }
    }
    ck_assert_msg(winner >= 0, "no request changed the password");
    ck_assert_int_eq(rejected, CROWD - 1);
    char winning[32];
    snprintf(winning, sizeof winning, "Crowd!Pass%d", winner);
    ck_assert_int_eq(sign_in_as(main_port, email, winning, NULL), 200);
    assert_account_value("password_version", email, "1");
    ck_assert_int_eq(outbox_rows_of_kind(email, "password_changed"), 1);
}
END_TEST

START_TEST(test_recovery_simultaneous_changes_from_two_sessions_change_the_password_once)
{
    char email[128], sessions[2][SESSION_SIZE];
    struct crowd_post posts[2];
    unique_email(email, sizeof email, "change-crowd", CORP_DOMAIN);
    sign_up_verified(main_port, "Change Crowd", email, PASSWORD_A);
    for (int i = 0; i < 2; i++) {
        sign_in(main_port, email, PASSWORD_A, sessions[i]);
        posts[i] = (struct crowd_post){.port = main_port, .path = "/password/change"};
        snprintf(posts[i].authorization, sizeof posts[i].authorization, "Bearer %s", sessions[i]);
        snprintf(posts[i].body, sizeof posts[i].body, "{\"current_password\":\"%s\",\"new_password\":\"Crowd!Pass%d\"}",
                 PASSWORD_A, i);
    }
    crowd_run(posts, 2);
    int winner = posts[0].status == 200 ? 0 : 1, loser = 1 - winner;
    ck_assert_msg(posts[winner].status == 200, "neither change succeeded: %d %s, %d %s", posts[0].status, posts[0].word,
                  posts[1].status, posts[1].word);
    /* The loser's current password is no longer current, or its session
     * already ended with the winner's change. */
    ck_assert_msg(posts[loser].status == 401 && (strcmp(posts[loser].word, "invalid_credentials") == 0 ||
                                                 strcmp(posts[loser].word, "unauthorized") == 0),
                  "the other change got %d %s", posts[loser].status, posts[loser].word);
    char winning[32], losing[32];
    snprintf(winning, sizeof winning, "Crowd!Pass%d", winner);
    snprintf(losing, sizeof losing, "Crowd!Pass%d", loser);
    ck_assert_int_eq(sign_in_as(main_port, email, winning, NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, losing, NULL), 401);
    ck_assert_int_eq(session_status(main_port, sessions[winner]), 200);
    ck_assert_int_eq(session_status(main_port, sessions[loser]), 401);
    assert_account_value("password_version", email, "1");
}
END_TEST

/* The squatter's and the owner's links opened at the same moment (a mail
 * scanner and a person, say): one verifies, with its own password; the
 * other changes nothing. */
START_TEST(test_recovery_prehijack_both_links_followed_at_once_verify_once)
{
    static const char *const PASSWORDS[] = {PASSWORD_A, PASSWORD_B};
    static const char *const NAMES[] = {"Race One", "Race Two"};
    char email[128], token[TOKEN_SIZE];
    struct crowd_post gets[2];
    unique_email(email, sizeof email, "hijack-race", CORP_DOMAIN);
    free(sign_up(main_port, NAMES[0], email, PASSWORDS[0], PHONE_A));
    free(sign_up(main_port, NAMES[1], email, PASSWORDS[1], PHONE_B));
    for (int i = 0; i < 2; i++) {
        verification_token(email, (size_t)i + 1, token);
        gets[i] = (struct crowd_post){.port = main_port, .method = "GET"};
        snprintf(gets[i].target, sizeof gets[i].target, "/verify?token=%s", token);
        gets[i].path = gets[i].target;
    }
    crowd_run(gets, 2);
    int winner = strcmp(gets[0].word, "verified") == 0 ? 0 : 1, loser = 1 - winner;
    ck_assert_msg(gets[winner].status == 200 && strcmp(gets[winner].word, "verified") == 0 &&
                      gets[loser].status == 200 && strcmp(gets[loser].word, "already_verified") == 0,
                  "the two links got %d %s and %d %s", gets[0].status, gets[0].word, gets[1].status, gets[1].word);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORDS[winner], NULL), 200);
    ck_assert_int_eq(sign_in_as(main_port, email, PASSWORDS[loser], NULL), 401);
    assert_account_value("full_name", email, NAMES[winner]);
    assert_account_value("phone_number", email, winner == 0 ? PHONE_A_STORED : PHONE_B_STORED);
}
END_TEST

/* ---- Hostile bodies ---- */

#define LIT(s) .body = (s), .body_len = sizeof(s) - 1
#define TOKEN_43 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define RESET_BODY(token, password) "{\"token\":" token ",\"password\":" password "}"
#define CHANGE_BODY(current, new_password) "{\"current_password\":" current ",\"new_password\":" new_password "}"
#define FORGOT "/password/forgot"
#define RESET "/password/reset"
#define CHANGE "/password/change"

enum hostile_body {
    BODY_LITERAL,
    BODY_HUGE_TOKEN, /* {"token":"AAAA…" (16,000 characters), "password":…}: under the size limit */
    BODY_OVER_LIMIT, /* 16,385 bytes of otherwise well-formed JSON */
};

static const struct hostile_case {
    const char *name, *path;
    const char *method;       /* NULL: POST */
    bool needs_session;       /* with hostile_session as Bearer */
    const char *content_type; /* NULL: no Content-Type */
    const char *body;
    size_t body_len;
    enum hostile_body kind;
    int status;
    const char *code, *error_field;
} HOSTILE[] = {
    /* Not an object. */
    {"array", RESET, .content_type = "application/json", LIT("[]"), .status = 400, .code = "body_not_object"},
    {"string", RESET, .content_type = "application/json", LIT("\"" TOKEN_43 "\""), .status = 400,
     .code = "body_not_object"},
    {"null", FORGOT, .content_type = "application/json", LIT("null"), .status = 400, .code = "body_not_object"},
    {"number", CHANGE, .needs_session = true, .content_type = "application/json", LIT("42"), .status = 400,
     .code = "body_not_object"},
    {"array with a session", CHANGE, .needs_session = true, .content_type = "application/json",
     LIT("[\"" PASSWORD_A "\"]"), .status = 400, .code = "body_not_object"},
    /* Wrong types. */
    {"email as an array", FORGOT, .content_type = "application/json", LIT("{\"email\":[\"a@" CORP_DOMAIN "\"]}"),
     .status = 400, .code = "wrong_field_type", .error_field = "email"},
    {"token as a number", RESET, .content_type = "application/json", LIT(RESET_BODY("42", "\"" PASSWORD_NEW "\"")),
     .status = 400, .code = "wrong_field_type", .error_field = "token"},
    {"token as an operator object", RESET, .content_type = "application/json",
     LIT(RESET_BODY("{\"$ne\":null}", "\"" PASSWORD_NEW "\"")), .status = 400, .code = "wrong_field_type",
     .error_field = "token"},
    {"password as an array", RESET, .content_type = "application/json",
     LIT(RESET_BODY("\"" TOKEN_43 "\"", "[\"" PASSWORD_NEW "\"]")), .status = 400, .code = "wrong_field_type",
     .error_field = "password"},
    {"current_password as a number", CHANGE, .needs_session = true, .content_type = "application/json",
     LIT(CHANGE_BODY("123", "\"" PASSWORD_NEW "\"")), .status = 400, .code = "wrong_field_type",
     .error_field = "current_password"},
    {"new_password as a boolean", CHANGE, .needs_session = true, .content_type = "application/json",
     LIT(CHANGE_BODY("\"" PASSWORD_A "\"", "true")), .status = 400, .code = "wrong_field_type",
     .error_field = "new_password"},
    /* Duplicate keys: which one was meant? */
    {"duplicate token", RESET, .content_type = "application/json",
     LIT("{\"token\":\"" TOKEN_43 "\",\"token\":\"" TOKEN_43 "\",\"password\":\"" PASSWORD_NEW "\"}"), .status = 400,
     .code = "malformed_json"},
    {"duplicate new_password", CHANGE, .needs_session = true, .content_type = "application/json",
     LIT("{\"current_password\":\"" PASSWORD_A "\",\"new_password\":\"" PASSWORD_NEW "\",\"new_password\":\"weak\"}"),
     .status = 400, .code = "malformed_json"},
    {"duplicate email", FORGOT, .content_type = "application/json",
     LIT("{\"email\":\"a@" CORP_DOMAIN "\",\"email\":\"b@" CORP_DOMAIN "\"}"), .status = 400, .code = "malformed_json"},
    /* NUL, escaped and raw. */
    {"\\u0000 inside the token", RESET, .content_type = "application/json",
     LIT(RESET_BODY("\"AAAAAAAAAAAAAAAAAAAAA\\u0000AAAAAAAAAAAAAAAAAAAAA\"", "\"" PASSWORD_NEW "\"")), .status = 400,
     .code = "malformed_json"},
    {"\\u0000 inside the password", RESET, .content_type = "application/json",
     LIT(RESET_BODY("\"" TOKEN_43 "\"", "\"N3w!Secret\\u0000#Pw\"")), .status = 400, .code = "malformed_json"},
    {"raw NUL inside the token", RESET, .content_type = "application/json",
     LIT(RESET_BODY("\"AAAAAAAAAAAAAAAAAAAAA\0AAAAAAAAAAAAAAAAAAAAA\"", "\"" PASSWORD_NEW "\"")), .status = 400,
     .code = "malformed_json"},
    {"\\u0000 inside new_password", CHANGE, .needs_session = true, .content_type = "application/json",
     LIT(CHANGE_BODY("\"" PASSWORD_A "\"", "\"N3w!Secret\\u0000#Pw\"")), .status = 400, .code = "malformed_json"},
    /* A token far longer than any token. */
    {"token of about 16,000 characters", RESET, .content_type = "application/json", .kind = BODY_HUGE_TOKEN,
     .status = 400, .code = "invalid_token"},
    /* Not UTF-8. */
    {"invalid UTF-8 in the token", RESET, .content_type = "application/json",
     LIT(RESET_BODY("\"\xFF\xFE" TOKEN_43 "\"", "\"" PASSWORD_NEW "\"")), .status = 400, .code = "malformed_json"},
    {"invalid UTF-8 in current_password", CHANGE, .needs_session = true, .content_type = "application/json",
     LIT(CHANGE_BODY("\"\xC3\x28" PASSWORD_A "\"", "\"" PASSWORD_NEW "\"")), .status = 400, .code = "malformed_json"},
    {"invalid UTF-8 in the email", FORGOT, .content_type = "application/json",
     LIT("{\"email\":\"\xE9t\xE9@" CORP_DOMAIN "\"}"), .status = 400, .code = "malformed_json"},
    /* Empty and truncated. */
    {"empty body to forgot", FORGOT, .content_type = "application/json", LIT(""), .status = 400,
     .code = "malformed_json"},
    {"empty body to reset", RESET, .content_type = "application/json", LIT(""), .status = 400,
     .code = "malformed_json"},
    {"empty body to change", CHANGE, .needs_session = true, .content_type = "application/json", LIT(""), .status = 400,
     .code = "malformed_json"},
    {"truncated reset body", RESET, .content_type = "application/json", LIT("{\"token\":\"" TOKEN_43), .status = 400,
     .code = "malformed_json"},
    /* Over 16 KiB. */
    {"16,385 bytes to forgot", FORGOT, .content_type = "application/json", .kind = BODY_OVER_LIMIT, .status = 413,
     .code = "payload_too_large"},
    {"16,385 bytes to reset", RESET, .content_type = "application/json", .kind = BODY_OVER_LIMIT, .status = 413,
     .code = "payload_too_large"},
    {"16,385 bytes to change", CHANGE, .needs_session = true, .content_type = "application/json",
     .kind = BODY_OVER_LIMIT, .status = 413, .code = "payload_too_large"},
    /* Not JSON by its media type. */
    {"text/plain to forgot", FORGOT, .content_type = "text/plain", LIT("{\"email\":\"a@" CORP_DOMAIN "\"}"),
     .status = 415, .code = "unsupported_media_type"},
    {"no Content-Type to reset", RESET, LIT(RESET_BODY("\"" TOKEN_43 "\"", "\"" PASSWORD_NEW "\"")), .status = 415,
     .code = "unsupported_media_type"},
    {"application/problem+json to reset", RESET, .content_type = "application/problem+json",
     LIT(RESET_BODY("\"" TOKEN_43 "\"", "\"" PASSWORD_NEW "\"")), .status = 415, .code = "unsupported_media_type"},
    {"form-encoded to change", CHANGE, .needs_session = true, .content_type = "application/x-www-form-urlencoded",
     LIT("current_password=a&new_password=b"), .status = 415, .code = "unsupported_media_type"},
    /* Who is asking comes before what the body says. */
    {"bad body without a session", CHANGE, .content_type = "text/plain", LIT("[]"), .status = 401,
     .code = "unauthorized"},
    /* Wrong methods. */
    {"GET /password/forgot", FORGOT, .method = "GET", .status = 405, .code = "method_not_allowed"},
    {"PUT /password/reset", RESET, .method = "PUT", .content_type = "application/json",
     LIT(RESET_BODY("\"" TOKEN_43 "\"", "\"" PASSWORD_NEW "\"")), .status = 405, .code = "method_not_allowed"},
    {"DELETE /password/change", CHANGE, .method = "DELETE", .needs_session = true, .status = 405,
     .code = "method_not_allowed"},
};

/* The body of c; caller frees. */
static char *hostile_body(const struct hostile_case *c, size_t *len)
{
    char *body;
    if (c->kind == BODY_LITERAL) {
        if (c->body == NULL) {
            *len = 0;
            return NULL;
        }
        body = malloc(c->body_len + 1);
        ck_assert_ptr_nonnull(body);
        memcpy(body, c->body, c->body_len);
        *len = c->body_len;
        return body;
    }
    size_t size = c->kind == BODY_HUGE_TOKEN ? 16100 : 16385;
    body = malloc(size + 1);
    ck_assert_ptr_nonnull(body);
    const char *head = c->kind == BODY_HUGE_TOKEN     ? "{\"password\":\"" PASSWORD_NEW "\",\"token\":\""
                       : strcmp(c->path, FORGOT) == 0 ? "{\"email\":\""
                       : strcmp(c->path, RESET) == 0  ? "{\"password\":\"" PASSWORD_NEW "\",\"token\":\""
                                                      : "{\"current_password\":\"" PASSWORD_A "\",\"new_password\":\"";
    size_t head_len = strlen(head);
    memcpy(body, head, head_len);
    memset(body + head_len, 'A', size - head_len - 2);
    memcpy(body + size - 2, "\"}", 2);
    body[size] = '\0';
    *len = size;
    return body;
}

START_TEST(test_recovery_hostile_bodies_get_their_documented_4xx_and_the_server_keeps_serving)
{
    const struct hostile_case *c = &HOSTILE[_i];
    char authorization[SESSION_SIZE + 16], allow[64];
    struct http_response resp;
    size_t len;
    char *body = hostile_body(c, &len);
    snprintf(authorization, sizeof authorization, "Bearer %s", hostile_session);
    http_send(main_port, c->method ? c->method : "POST", c->path, c->needs_session ? authorization : NULL,
              c->content_type, body, len, &resp);
    ck_assert_msg(resp.status == c->status, "%s: expected %d %s, got %d: %s", c->name, c->status, c->code, resp.status,
                  resp.body);
    assert_problem(&resp, c->status, c->code);
    if (c->error_field != NULL)
        ck_assert_str_eq(json_str(json_array_get(json_object_get(resp.json, "errors"), 0), "field"), c->error_field);
    if (c->status == 405) {
        ck_assert(http_header(&resp, "Allow", allow, sizeof allow));
        ck_assert_str_eq(allow, "POST, OPTIONS");
    }
    http_response_free(&resp);
    free(body);

    http_send(main_port, "GET", "/healthz", NULL, NULL, NULL, 0, &resp);
    ck_assert_msg(resp.status == 200, "%s: /healthz answers %d afterwards", c->name, resp.status);
    http_response_free(&resp);
    ck_assert_int_eq(session_status(main_port, hostile_session), 200);
}
END_TEST

/* ---- Limits (their own server, RATE_LIMITS_ENABLED=true) ---- */

START_TEST(test_recovery_forgot_past_the_per_client_limit_gets_429_whatever_the_address)
{
    char known[128], unknown[128];
    struct http_response resp, known_429, unknown_429;
    unique_email(known, sizeof known, "limited", CORP_DOMAIN);
    unique_email(unknown, sizeof unknown, "limited-nobody", CORP_DOMAIN);
    free(sign_up(limits_port, "Limited Person", known, PASSWORD_A, PHONE_A));

    for (int i = 0; i < LIMIT_FORGOTS_PER_IP; i++) {
        post_forgot(limits_port, i % 2 == 0 ? known : unknown, &resp);
        assert_json_status(&resp, 202, "accepted");
        http_response_free(&resp);
    }
    post_forgot(limits_port, known, &known_429);
    assert_problem(&known_429, 429, "rate_limited");
    assert_retry_after(&known_429);
    post_forgot(limits_port, unknown, &unknown_429);
    assert_problem(&unknown_429, 429, "rate_limited");
    assert_retry_after(&unknown_429);
    ck_assert_str_eq(known_429.body, unknown_429.body); /* a 429 says nothing about the address */
    ck_assert_int_eq(outbox_rows_of_kind(known, "password_reset"), 2);
    http_response_free(&known_429);
    http_response_free(&unknown_429);
}
END_TEST

START_TEST(test_recovery_change_with_wrong_current_passwords_is_throttled_like_signin)
{
    char email[128], token[TOKEN_SIZE], session[SESSION_SIZE];
    struct http_response resp;
    unique_email(email, sizeof email, "change-throttled", CORP_DOMAIN);
    free(sign_up(limits_port, "Throttled Person", email, PASSWORD_A, PHONE_A));
    verification_token(email, 1, token);
    follow_verify(limits_port, token, "verified");
    sign_in(limits_port, email, PASSWORD_A, session);

    for (int i = 0; i < LIMIT_SIGNIN_FAILURES_PER_PAIR; i++) {
        post_change(limits_port, session, PASSWORD_WRONG, PASSWORD_NEW, &resp);
        assert_problem(&resp, 401, "invalid_credentials");
        http_response_free(&resp);
    }
    post_change(limits_port, session, PASSWORD_WRONG, PASSWORD_NEW, &resp);
    assert_problem(&resp, 429, "rate_limited");
    assert_retry_after(&resp);
    http_response_free(&resp);
    /* The same counter as sign-in: even the right password waits now. */
    post_change(limits_port, session, PASSWORD_A, PASSWORD_NEW, &resp);
    assert_problem(&resp, 429, "rate_limited");
    http_response_free(&resp);
    post_json(limits_port, "/signin", NULL, json_pack("{s:s, s:s}", "email", email, "password", PASSWORD_A), &resp);
    assert_problem(&resp, 429, "rate_limited");
    assert_retry_after(&resp);
    http_response_free(&resp);
    assert_account_value("password_version", email, "0");
    ck_assert_int_eq(session_status(limits_port, session), 200);
}
END_TEST

/* ---- Clock (60-second TTLs, planted at suite start) ---- */

static void wait_until_ms(long long deadline)
{
    long long now = mail_now_ms();
    if (now < deadline)
        mail_sleep_ms((int)(deadline - now));
}

static void assert_planted(void)
{
    ck_assert_msg(clock_plant.is_planted && clock_pid > 0, "the clock accounts were not planted (see the setup)");
}

/* /metrics value of a counter without labels, or -1. */
static long metric_value(int port, const char *name)
{
    struct http_response resp;
    char prefix[128];
    long value = -1;
    http_send(port, "GET", "/metrics", NULL, NULL, NULL, 0, &resp);
    ck_assert_int_eq(resp.status, 200);
    snprintf(prefix, sizeof prefix, "\n%s ", name);
    const char *line = strstr(resp.body, prefix);
    if (line != NULL)
        value = atol(line + strlen(prefix));
    http_response_free(&resp);
    return value;
}

START_TEST(test_recovery_unverified_account_past_ttl_is_deleted_and_the_address_signs_up_again)
{
    assert_planted();
    const char *email = clock_plant.unverified_email, *id = clock_plant.unverified_id;
    /* Younger than the TTL (whatever the sweeps did): still there. */
    if (mail_now_ms() < clock_plant.unverified_signed_up_ms + CLOCK_TTL_MS - 5000) {
        ck_assert_int_eq(clock_db_long("SELECT count(*) FROM accounts WHERE email = $1", email), 1);
        ck_assert_int_gt(clock_db_long("SELECT count(*) FROM verification_tokens WHERE account_id = $1::uuid", id), 0);
        ck_assert_int_gt(clock_db_long("SELECT count(*) FROM email_outbox WHERE account_id = $1::uuid", id), 0);
    }

    wait_until_ms(clock_plant.unverified_signed_up_ms + CLOCK_TTL_MS);
    long long deadline = mail_now_ms() + mail_scaled_ms(10000);
    long accounts = clock_db_long("SELECT count(*) FROM accounts WHERE email = $1", email);
    while (accounts != 0 && mail_now_ms() < deadline) {
        mail_sleep_ms(200);
        accounts = clock_db_long("SELECT count(*) FROM accounts WHERE email = $1", email);
    }
    ck_assert_msg(accounts == 0, "the unverified account is still there %lld s after sign-up",
                  (mail_now_ms() - clock_plant.unverified_signed_up_ms) / 1000);
    ck_assert_int_eq(clock_db_long("SELECT count(*) FROM verification_tokens WHERE account_id = $1::uuid", id), 0);
    ck_assert_int_eq(clock_db_long("SELECT count(*) FROM email_outbox WHERE account_id = $1::uuid", id), 0);
    ck_assert_int_eq(clock_db_long("SELECT count(*) FROM email_outbox WHERE recipient = $1", email), 0);
    long deleted = metric_value(clock_port, "signup_unverified_accounts_deleted_total");
    ck_assert_msg(deleted >= 1, "signup_unverified_accounts_deleted_total is %ld", deleted);

    /* The address is free again: a new account, the only one. */
    free(sign_up(clock_port, "Clock Again", email, PASSWORD_B, PHONE_B));
    ck_assert_int_eq(clock_db_long("SELECT count(*) FROM accounts WHERE lower(email) = lower($1)", email), 1);
    char *name = clock_db_value("SELECT full_name FROM accounts WHERE email = $1", email);
    ck_assert_str_eq(name, "Clock Again");
    free(name);
    json_decref(wait_mail(email, SUBJECT_VERIFY, 2));
}
END_TEST

START_TEST(test_recovery_verified_account_past_ttl_is_kept)
{
    assert_planted();
    const char *email = clock_plant.kept_email;
    /* A couple of sweeps after it passed the TTL. */
    wait_until_ms(clock_plant.kept_signed_up_ms + CLOCK_TTL_MS + 2500);
    ck_assert_int_eq(clock_db_long("SELECT count(*) FROM accounts WHERE email = $1 AND email_verified_at IS NOT NULL "
                                   "   AND created_at < now() - interval '60 seconds'",
                                   email),
                     1);
    ck_assert_int_eq(sign_in_as(clock_port, email, PASSWORD_A, NULL), 200);
}
END_TEST

START_TEST(test_recovery_reset_link_past_its_ttl_gets_410_token_expired)
{
    struct http_response resp;
    assert_planted();
    wait_until_ms(clock_plant.reset_issued_ms + CLOCK_TTL_MS + 1000);
    post_reset(clock_port, clock_plant.reset_token, PASSWORD_NEW, &resp);
    assert_problem(&resp, 410, "token_expired");
    http_response_free(&resp);
    ck_assert_int_eq(sign_in_as(clock_port, clock_plant.reset_email, PASSWORD_A, NULL), 200);
    ck_assert_int_eq(sign_in_as(clock_port, clock_plant.reset_email, PASSWORD_NEW, NULL), 401);
}
END_TEST

static Suite *api_recovery_suite(void)
{
    Suite *s = suite_create("api_recovery");

    TCase *recovery = tcase_create("recovery");
    tcase_add_unchecked_fixture(recovery, recovery_setup, recovery_teardown);
    tcase_add_checked_fixture(recovery, NULL, mail_kill_tracked);
    tcase_set_timeout(recovery, 120);
    tcase_add_test(recovery, test_recovery_forgot_email_has_button_raw_link_expiry_and_ignore_advice);
    tcase_add_test(recovery, test_recovery_forgot_answers_identically_for_verified_unverified_unknown_and_free_mail);
    tcase_add_loop_test(recovery, test_recovery_forgot_without_a_valid_email_gets_422, 0,
                        sizeof BAD_FORGOT_EMAILS / sizeof BAD_FORGOT_EMAILS[0]);
    tcase_add_test(recovery, test_recovery_third_forgot_inside_a_minute_sends_nothing_and_answers_the_same);
    tcase_add_test(recovery, test_recovery_forgot_takes_as_long_for_a_known_address_as_for_an_unknown_one);
    tcase_add_test(recovery, test_recovery_reset_changes_the_password_and_the_link_works_once);
    tcase_add_test(recovery, test_recovery_reset_ends_every_session_from_before);
    tcase_add_test(recovery, test_recovery_reset_verifies_an_unverified_account);
    tcase_add_test(recovery, test_recovery_second_forgot_link_works_and_then_the_first_is_invalid);
    tcase_add_test(recovery, test_recovery_reset_weak_password_gets_422_and_the_link_stays_usable);
    tcase_add_loop_test(recovery, test_recovery_reset_with_a_token_nobody_was_given_gets_400_invalid_token, 0,
                        sizeof BAD_RESET_TOKENS / sizeof BAD_RESET_TOKENS[0]);
    tcase_add_test(recovery, test_recovery_reset_without_a_token_gets_400_invalid_token);
    tcase_add_test(recovery, test_recovery_reset_expired_link_gets_410_and_changes_nothing);
    tcase_add_test(recovery, test_recovery_get_requests_do_not_use_a_reset_link);
    tcase_add_test(recovery, test_recovery_reset_token_is_stored_hashed_and_absent_from_pg_dump_and_log);
    tcase_add_test(recovery, test_recovery_rehash_at_signin_keeps_the_reset_link_working);
    tcase_add_test(recovery, test_recovery_change_keeps_this_session_and_ends_the_others);
    tcase_add_test(recovery, test_recovery_change_kills_an_outstanding_reset_link);
    tcase_add_test(recovery, test_recovery_change_without_a_live_session_gets_401_unauthorized);
    tcase_add_test(recovery, test_recovery_change_with_a_wrong_current_password_gets_401_invalid_credentials);
    tcase_add_test(recovery, test_recovery_change_missing_current_or_weak_new_password_gets_422);
    tcase_add_test(recovery, test_recovery_prehijack_second_signups_link_sets_its_password_name_and_phone);
    tcase_add_test(recovery,
                   test_recovery_prehijack_first_link_first_keeps_its_password_and_the_second_changes_nothing);
    tcase_add_test(recovery, test_recovery_verification_that_sets_a_new_password_kills_older_reset_links);
    tcase_add_test(recovery, test_recovery_simultaneous_forgots_for_one_address_send_no_more_than_the_limit);
    tcase_add_test(recovery, test_recovery_simultaneous_resets_with_one_link_change_the_password_once);
    tcase_add_test(recovery, test_recovery_simultaneous_changes_from_two_sessions_change_the_password_once);
    tcase_add_test(recovery, test_recovery_prehijack_both_links_followed_at_once_verify_once);
    tcase_add_loop_test(recovery, test_recovery_hostile_bodies_get_their_documented_4xx_and_the_server_keeps_serving, 0,
                        sizeof HOSTILE / sizeof HOSTILE[0]);
    suite_add_tcase(s, recovery);

    TCase *limits = tcase_create("limits");
    tcase_add_unchecked_fixture(limits, limits_setup, limits_teardown);
    tcase_set_timeout(limits, 120);
    tcase_add_test(limits, test_recovery_forgot_past_the_per_client_limit_gets_429_whatever_the_address);
    tcase_add_test(limits, test_recovery_change_with_wrong_current_passwords_is_throttled_like_signin);
    suite_add_tcase(s, limits);

    /* Last: by now most of the planted accounts' minute has passed. */
    TCase *clock = tcase_create("clock");
    tcase_add_unchecked_fixture(clock, NULL, clock_teardown);
    tcase_set_timeout(clock, 150);
    tcase_add_test(clock, test_recovery_unverified_account_past_ttl_is_deleted_and_the_address_signs_up_again);
    tcase_add_test(clock, test_recovery_verified_account_past_ttl_is_kept);
    tcase_add_test(clock, test_recovery_reset_link_past_its_ttl_gets_410_token_expired);
    suite_add_tcase(s, clock);
    return s;
}

int main(void)
{
    const char *base = getenv("TEST_DATABASE_URL");
    if (base == NULL || base[0] == '\0') {
        fprintf(stderr, "test setup: TEST_DATABASE_URL is not set (run the suites through `make test`)\n");
        return EXIT_FAILURE;
    }
    /* Two databases of the suite's own: the clock server's and everyone else's. */
    char *shared = strdup(base);
    if (!test_database_isolate("recovery_clock")) {
        free(shared);
        return EXIT_FAILURE;
    }
    snprintf(clock_db_url, sizeof clock_db_url, "%s", getenv("TEST_DATABASE_URL"));
    setenv("TEST_DATABASE_URL", shared, 1);
    free(shared);
    if (!test_database_isolate("recovery"))
        return EXIT_FAILURE;

    SRunner *sr = srunner_create(api_recovery_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* When a case was skipped (CK_RUN_CASE) or failed early. */
    stop_server(&main_pid);
    stop_server(&limits_pid);
    stop_server(&clock_pid);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
