/* Email verification end to end: sign-up queues a verification email in the
 * outbox, workers deliver it over SMTP to a real mail catcher, GET /verify
 * consumes the token, POST /verify/resend queues another. The "mail" case
 * shares one server sending to the shared catcher; the "faults" case starts
 * its own servers, workers and private catchers (SMTP down, kill -9, kill -9
 * mid-send, a stalled live worker, INSTANCE_ID, expired lease, 550, max
 * attempts, NOTIFY, two worker processes, SIGTERM), with no
 * other worker running so nothing steals their rows. The suite has a
 * database of its own for the same reason. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
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
#define GOOD_PASSWORD "Str0ng!Pass"
#define MAIL_FROM_VALUE "Services Portal <no-reply@portal.example.test>"
#define MESSAGE_ID_DOMAIN "portal.example.test"
#define REDIRECT_URL "http://app.example.test/verified"
#define BROWSER_ACCEPT "text/html,application/xhtml+xml,*/*;q=0.8"
#define SUBJECT_VERIFY "Verify your email address"
#define SUBJECT_NOTICE "Sign-up attempt with your email address"
#define TOKEN_LEN 43
/* Waits scale with CK_TIMEOUT_MULTIPLIER (valgrind runs). */
#define ARRIVAL_TIMEOUT_MS mail_scaled_ms(15000)
#define DB_TIMEOUT_MS mail_scaled_ms(10000)
/* Long enough for several poll intervals (200 ms) to pass without a send. */
#define QUIET_PERIOD_MS 1500

/* Ports: the shared server at TEST_HTTP_PORT+10, fault-test servers at
 * +11..+19, private catchers at +20..+29, the lease tests' servers and SMTP
 * ports at +1..+9 (all below the ephemeral range). */
enum { PORT_MAIN = 10, PORT_FAULT_SERVER = 11, PORT_CATCHER = 20, PORT_LEASE = 1 };

static int main_port;
static pid_t main_pid = -1;
static char main_verify_url[128];

static int base_port(void)
{
    const char *text = getenv("TEST_HTTP_PORT");
    return text ? atoi(text) : 18080;
}

static const char *server_log(void)
{
    return getenv("TEST_SERVER_LOG") ? getenv("TEST_SERVER_LOG") : "build/test-server.log";
}

static void main_server_setup(void)
{
    static char verify_url_env[160];
    main_port = base_port() + PORT_MAIN;
    snprintf(main_verify_url, sizeof main_verify_url, "http://127.0.0.1:%d/verify", main_port);
    snprintf(verify_url_env, sizeof verify_url_env, "VERIFY_URL=%s", main_verify_url);
    const char *env[] = {"MAIL_WORKERS=1",
                         "OUTBOX_POLL_INTERVAL_MS=200",
                         "OUTBOX_RETRY_BASE_MS=100",
                         "OUTBOX_RETRY_MAX_MS=500",
                         "VERIFY_REDIRECT_URL=" REDIRECT_URL,
                         "MAIL_FROM=" MAIL_FROM_VALUE,
                         verify_url_env,
                         NULL};
    (void)mail_shared_dir(); /* exits early when the environment is incomplete */
    main_pid = test_server_start(main_port, env, server_log());
    if (main_pid < 0)
        exit(EXIT_FAILURE);
}

static void main_server_teardown(void)
{
    test_server_stop(main_pid);
}

/* HTTP helpers. */

static char *signup_body(const char *full_name, const char *email, const char *password)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "full_name", full_name, "email", email, "password", password,
                          "phone_number", "0812-3456-7890", "accept_terms", 1);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

static void sign_up_as(int port, const char *full_name, const char *email, const char *password)
{
    struct http_response resp;
    char *body = signup_body(full_name, email, password);
    ck_assert_msg(http_request(port, "POST", "/signup", "application/json", body, strlen(body), &resp),
                  "no HTTP response to POST /signup");
    ck_assert_msg(resp.status == 201, "POST /signup: %d %s", resp.status, resp.body ? resp.body : "");
    http_response_free(&resp);
    free(body);
}

static void sign_up(int port, const char *full_name, const char *email)
{
    sign_up_as(port, full_name, email, GOOD_PASSWORD);
}

/* GET path with an optional Accept header. */
static void http_get(int port, const char *path, const char *accept, struct http_response *resp)
{
    size_t size = strlen(path) + 512;
    char *request = malloc(size);
    int n = snprintf(request, size, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%sConnection: close\r\n\r\n", path,
                     port, accept ? "Accept: " : "", accept ? accept : "", accept ? "\r\n" : "");
    ck_assert(n > 0 && (size_t)n < size);
    ck_assert_msg(http_raw(port, request, (size_t)n, resp), "no HTTP response to GET %.80s", path);
    free(request);
}

static void get_verify_token(int port, const char *token, const char *accept, struct http_response *resp)
{
    char path[256];
    snprintf(path, sizeof path, "/verify?token=%s", token);
    http_get(port, path, accept, resp);
}

static void post_resend(int port, const char *content_type, const char *body, struct http_response *resp)
{
    ck_assert_msg(http_request(port, "POST", "/verify/resend", content_type, body, strlen(body), resp),
                  "no HTTP response to POST /verify/resend");
}

static void post_resend_email(int port, const char *email, struct http_response *resp)
{
    json_t *j = json_pack("{s:s}", "email", email);
    char *body = json_dumps(j, JSON_COMPACT);
    post_resend(port, "application/json", body, resp);
    free(body);
    json_decref(j);
}

static void assert_redirect(const struct http_response *resp, const char *status_word)
{
    char location[512], expected[512];
    ck_assert_msg(resp->status == 303, "expected 303, got %d: %s", resp->status, resp->body);
    ck_assert_msg(http_header(resp, "Location", location, sizeof location), "303 without Location");
    snprintf(expected, sizeof expected, "%s?status=%s", REDIRECT_URL, status_word);
    ck_assert_str_eq(location, expected);
    assert_no_store(resp);
}

/* Mail helpers. */

/* Waits for the count-th verification email to email in dir and returns it
 * (new reference). */
static json_t *wait_verification_mail(const char *dir, const char *email, size_t count)
{
    json_t *mails = mail_wait_for(dir, email, SUBJECT_VERIFY, count, ARRIVAL_TIMEOUT_MS);
    ck_assert_msg(json_array_size(mails) >= count, "%zu of %zu verification emails to %s arrived in %s",
                  json_array_size(mails), count, email, dir);
    json_t *mail = json_incref(json_array_get(mails, count - 1));
    json_decref(mails);
    return mail;
}

static void token_of(const json_t *mail, char token[TOKEN_LEN + 8])
{
    const char *link = mail_verify_link(mail);
    ck_assert_msg(link != NULL, "no verification link in %s", json_str(mail, "path"));
    ck_assert_msg(mail_link_token(link, token, TOKEN_LEN + 8), "no token in %s", link);
}

/* Signs up and returns the token from the verification email. */
static void sign_up_and_get_token(const char *full_name, const char *email, char token[TOKEN_LEN + 8])
{
    sign_up(main_port, full_name, email);
    json_t *mail = wait_verification_mail(mail_shared_dir(), email, 1);
    token_of(mail, token);
    json_decref(mail);
}

/* Database helpers (all values are parameters). */

static long outbox_rows(const char *email)
{
    return query_long("SELECT count(*) FROM email_outbox WHERE lower(recipient) = lower($1)", email);
}

/* One column (as text) of the newest outbox row for email. */
static char *outbox_value(const char *column_expr, const char *email)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT (%s)::text FROM email_outbox WHERE lower(recipient) = lower($1) ORDER BY id DESC LIMIT 1",
             column_expr);
    const char *params[] = {email};
    return db_query_value(sql, 1, params);
}

static void wait_outbox_status(const char *email, const char *status, int timeout_ms)
{
    const char *params[] = {email};
    char *value = db_wait_value("SELECT status FROM email_outbox WHERE lower(recipient) = lower($1) "
                                "ORDER BY id DESC LIMIT 1",
                                1, params, status, timeout_ms);
    char *error = outbox_value("coalesce(last_error, '')", email);
    ck_assert_msg(value != NULL && strcmp(value, status) == 0, "outbox row for %s is %s, expected %s (last_error: %s)",
                  email, value ? value : "(none)", status, error ? error : "");
    free(error);
    free(value);
}

static bool is_verified(const char *email)
{
    return query_long("SELECT count(*) FROM accounts WHERE lower(email) = lower($1) AND email_verified_at IS NOT NULL",
                      email) == 1;
}

/* ---- The shared server ("mail" case) ---- */

START_TEST(test_verify_email_arrives_as_utf8_multipart_alternative)
{
    static const char *const ONCE[] = {"date", "from", "to", "subject", "message-id", "mime-version", "content-type"};
    /* Added by the catcher (x-envelope-*) or harmless (RFC 3834). */
    static const char *const ALSO_ALLOWED[] = {"auto-submitted", "x-envelope-from", "x-envelope-to"};
    char email[128], expected_to[256], expected_id[256], token[TOKEN_LEN + 8];
    unique_email(email, sizeof email, "jose", CORP_DOMAIN);
    sign_up(main_port, "José Ñúñez", email);
    json_t *mail = wait_verification_mail(mail_shared_dir(), email, 1);
    const char *path = json_str(mail, "path");

    /* Headers: each once, no others, decoded correctly, raw bytes 7-bit. */
    for (size_t i = 0; i < sizeof ONCE / sizeof ONCE[0]; i++)
        ck_assert_msg(mail_header_count(mail, ONCE[i]) == 1, "%s: header %s appears %zu times", path, ONCE[i],
                      mail_header_count(mail, ONCE[i]));
    const char *name;
    json_t *values;
    json_object_foreach(json_object_get(mail, "headers"), name, values)
    {
        bool is_known = false;
        for (size_t i = 0; i < sizeof ONCE / sizeof ONCE[0]; i++)
            is_known = is_known || strcmp(name, ONCE[i]) == 0;
        for (size_t i = 0; i < sizeof ALSO_ALLOWED / sizeof ALSO_ALLOWED[0]; i++)
            is_known = is_known || strcmp(name, ALSO_ALLOWED[i]) == 0;
        ck_assert_msg(is_known, "%s: unexpected header %s: %s", path, name,
                      json_string_value(json_array_get(values, 0)));
    }
    ck_assert_msg(json_is_true(json_object_get(mail, "header_is_ascii")), "%s: 8-bit bytes in the header", path);
    snprintf(expected_to, sizeof expected_to, "José Ñúñez <%s>", email);
    ck_assert_str_eq(mail_header(mail, "to"), expected_to);
    ck_assert_str_eq(mail_header(mail, "from"), MAIL_FROM_VALUE);
    ck_assert_str_eq(mail_header(mail, "subject"), SUBJECT_VERIFY);
    ck_assert_str_eq(mail_header(mail, "mime-version"), "1.0");
    ck_assert_str_eq(json_str(mail, "content_type"), "multipart/alternative");
    double date = json_number_value(json_object_get(mail, "date_epoch"));
    ck_assert_msg(date > (double)time(NULL) - 300 && date < (double)time(NULL) + 300, "%s: Date %s", path,
                  mail_header(mail, "date"));
    char *message_id = outbox_value("message_id", email);
    snprintf(expected_id, sizeof expected_id, "<%s>", message_id);
    ck_assert_str_eq(mail_header(mail, "message-id"), expected_id);
    ck_assert_msg(strstr(message_id, "@" MESSAGE_ID_DOMAIN) != NULL, "Message-ID %s", message_id);
    free(message_id);

    /* Lines. */
    ck_assert_msg(json_integer_value(json_object_get(mail, "max_line_octets")) <= 998, "%s: a line of %lld octets",
                  path, json_integer_value(json_object_get(mail, "max_line_octets")));
    ck_assert_msg(json_is_false(json_object_get(mail, "has_bare_lf")), "%s: bare LF", path);
    ck_assert_msg(json_is_false(json_object_get(mail, "has_bare_cr")), "%s: bare CR", path);

    /* Parts: text/plain then text/html, both UTF-8 quoted-printable. */
    json_t *parts = json_object_get(mail, "parts");
    ck_assert_int_eq(json_array_size(parts), 2);
    static const char *const TYPES[] = {"text/plain", "text/html"};
    for (size_t i = 0; i < 2; i++) {
        json_t *part = json_array_get(parts, i);
        ck_assert_str_eq(json_str(part, "content_type"), TYPES[i]);
        ck_assert_str_eq(json_str(part, "charset"), "utf-8");
        ck_assert_str_eq(json_str(part, "transfer_encoding"), "quoted-printable");
    }

    /* The link: VERIFY_URL?token=<43 base64url characters>, the same everywhere. */
    const char *link = mail_verify_link(mail);
    ck_assert_ptr_nonnull(link);
    ck_assert_msg(strncmp(link, main_verify_url, strlen(main_verify_url)) == 0 &&
                      strncmp(link + strlen(main_verify_url), "?token=", 7) == 0,
                  "link %s does not start with %s?token=", link, main_verify_url);
    token_of(mail, token);
    ck_assert_msg(strlen(token) == TOKEN_LEN && is_base64url(token), "token %s", token);
    ck_assert_uint_eq(strlen(link), strlen(main_verify_url) + 7 + TOKEN_LEN);
    size_t i;
    json_t *each;
    json_array_foreach(json_object_get(mail, "links"), i, each)
    {
        if (strstr(json_string_value(each), "token=") != NULL)
            ck_assert_str_eq(json_string_value(each), link);
    }

    /* Text part: greeting decoded, the link alone on its own line. */
    const char *text = mail_part_text(mail, "text/plain");
    char line[512];
    snprintf(line, sizeof line, "\n%s\n", link);
    ck_assert_msg(strstr(text, line) != NULL, "link not alone on a line in text part:\n%s", text);
    ck_assert_msg(strstr(text, "José Ñúñez") != NULL, "name not in text part:\n%s", text);

    /* HTML part: button "Verify Your Email Address" → link, then the
     * fallback sentence, then the raw link again (as text and href). */
    const char *html = mail_part_text(mail, "text/html");
    bool has_button = false, has_raw_link = false;
    json_array_foreach(json_object_get(mail, "anchors"), i, each)
    {
        const char *href = json_str(each, "href"), *anchor_text = json_str(each, "text");
        if (strstr(anchor_text, "Verify Your Email Address") != NULL) {
            ck_assert_msg(!has_button, "two buttons");
            has_button = true;
            ck_assert_str_eq(href, link);
            ck_assert_msg(!has_raw_link, "the raw link comes before the button");
        }
        if (strcmp(anchor_text, link) == 0) {
            has_raw_link = true;
            ck_assert_str_eq(href, link);
        }
    }
    ck_assert_msg(has_button, "no <a> \"Verify Your Email Address\" in:\n%s", html);
    ck_assert_msg(has_raw_link, "no raw link <a href=link>link</a> in:\n%s", html);
    const char *button = strstr(html, "Verify Your Email Address</a>");
    const char *fallback = strstr(html, "button cannot be used");
    snprintf(line, sizeof line, ">%s</a>", link);
    const char *raw = strstr(html, line);
    ck_assert_msg(button && fallback && raw && button < fallback && fallback < raw,
                  "expected button, fallback sentence, raw link in that order:\n%s", html);
    ck_assert_msg(strstr(html, "José Ñúñez") != NULL, "name not in HTML part");
    json_decref(mail);
}
END_TEST

/* Full names the sign-up rules accept, however awkward for a header. */
static const char *const AWKWARD_NAMES[] = {
    "Budi \"Boss\" Santoso",
    "O'Brien, Jr. <x@evil.example>",
    "a\\b (comment) ;:@[]",
    "\xF0\x9F\x98\x80 Emoji Person",
    "\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91" /* 10 x N-tilde */
    "\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91"
    "\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91"
    "\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91"
    "\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91\xC3\x91",
    "Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab Ab C",
};

/* The To header carries exactly one address, the account's, with the name
 * as typed (folded and encoded as needed, never breaking the 998 limit). */
START_TEST(test_verify_to_header_round_trips_awkward_full_names)
{
    char email[128];
    unique_email(email, sizeof email, "name", CORP_DOMAIN);
    sign_up(main_port, AWKWARD_NAMES[_i], email);
    json_t *mail = wait_verification_mail(mail_shared_dir(), email, 1);
    json_t *to = json_object_get(json_object_get(mail, "addresses"), "to");
    ck_assert_msg(json_array_size(to) == 1, "To holds %zu addresses: %s", json_array_size(to), mail_header(mail, "to"));
    ck_assert_str_eq(json_str(json_array_get(to, 0), "addr_spec"), email);
    ck_assert_str_eq(json_str(json_array_get(to, 0), "display_name"), AWKWARD_NAMES[_i]);
    ck_assert(json_is_true(json_object_get(mail, "header_is_ascii")));
    ck_assert_int_le(json_integer_value(json_object_get(mail, "max_line_octets")), 998);
    ck_assert(json_is_false(json_object_get(mail, "has_bare_lf")));
    json_decref(mail);
}
END_TEST

START_TEST(test_verify_link_verifies_then_reports_already_verified)
{
    char email[128];
    struct http_response resp;
    unique_email(email, sizeof email, "click", CORP_DOMAIN);
    sign_up(main_port, "Click Person", email);
    json_t *mail = wait_verification_mail(mail_shared_dir(), email, 1);
    const char *link = mail_verify_link(mail);
    ck_assert_ptr_nonnull(link);
    const char *path = strchr(link + strlen("http://"), '/'); /* follow the link as a client would */
    ck_assert(!is_verified(email));

    http_get(main_port, path, NULL, &resp);
    assert_json_status(&resp, 200, "verified");
    ck_assert_str_eq(json_str(resp.json, "email"), email);
    ck_assert_msg(json_str(resp.json, "message") && strlen(json_str(resp.json, "message")) > 0, "no message");
    http_response_free(&resp);
    ck_assert(is_verified(email));
    char *verified_at = db_query_value("SELECT email_verified_at::text FROM accounts WHERE email = $1", 1,
                                       (const char *const[]){email});
    ck_assert_int_eq(query_long("SELECT count(*) FROM verification_tokens t JOIN accounts a ON a.id = t.account_id "
                                "WHERE a.email = $1 AND t.used_at IS NOT NULL",
                                email),
                     1);

    http_get(main_port, path, "application/json", &resp);
    assert_json_status(&resp, 200, "already_verified");
    ck_assert_str_eq(json_str(resp.json, "email"), email);
    ck_assert_msg(json_str(resp.json, "message") && strlen(json_str(resp.json, "message")) > 0, "no message");
    http_response_free(&resp);
    char *verified_again = db_query_value("SELECT email_verified_at::text FROM accounts WHERE email = $1", 1,
                                          (const char *const[]){email});
    ck_assert_str_eq(verified_again, verified_at); /* the second click changes nothing */
    char token[TOKEN_LEN + 8];
    token_of(mail, token);
    ck_assert_msg(!log_file_contains(server_log(), token), "the token of a followed link is in the server log");
    free(verified_at);
    free(verified_again);
    json_decref(mail);
}
END_TEST

START_TEST(test_outbox_sent_row_is_scrubbed_and_token_stored_only_as_sha256)
{
    char email[128], token[TOKEN_LEN + 8];
    unique_email(email, sizeof email, "scrub", CORP_DOMAIN);
    sign_up_and_get_token("Scrub Person", email, token);
    wait_outbox_status(email, "sent", DB_TIMEOUT_MS);

    char *scrubbed = outbox_value("verify_link IS NULL AND sent_at IS NOT NULL AND locked_until IS NULL AND "
                                  "last_error IS NULL AND attempts = 1 AND kind = 'verification'",
                                  email);
    ck_assert_str_eq(scrubbed, "true");
    free(scrubbed);
    ck_assert_int_eq(outbox_rows(email), 1);

    /* The raw token is nowhere in the tables; only its SHA-256 is. */
    ck_assert_int_eq(query_long("SELECT count(*) FROM email_outbox o WHERE o::text LIKE '%' || $1 || '%'", token), 0);
    ck_assert_int_eq(
        query_long("SELECT count(*) FROM verification_tokens t WHERE t::text LIKE '%' || $1 || '%'", token), 0);
    ck_assert_int_eq(query_long("SELECT count(*) FROM accounts a WHERE a::text LIKE '%' || $1 || '%'", token), 0);
    const char *params[] = {email, token};
    char *hash_matches = db_query_value(
        "SELECT count(*)::text FROM verification_tokens t JOIN accounts a ON a.id = t.account_id "
        " WHERE a.email = $1 AND t.token_hash = sha256(decode(translate($2, '-_', '+/') || '=', 'base64')) "
        "   AND t.used_at IS NULL "
        "   AND t.expires_at BETWEEN t.created_at + interval '86399 seconds' AND t.created_at + interval '86401 "
        "seconds'",
        2, params);
    ck_assert_str_eq(hash_matches, "1");
    free(hash_matches);
    ck_assert_int_eq(query_long("SELECT count(*) FROM verification_tokens t JOIN accounts a ON a.id = t.account_id "
                                "WHERE a.email = $1",
                                email),
                     1);
    ck_assert_msg(!log_file_contains(server_log(), token), "the raw token is in the server log");
}
END_TEST

START_TEST(test_verify_expired_token_gets_410_token_expired)
{
    char email[128], token[TOKEN_LEN + 8];
    struct http_response resp;
    unique_email(email, sizeof email, "expired", CORP_DOMAIN);
    sign_up_and_get_token("Expired Person", email, token);
    char *updated = db_query_value("UPDATE verification_tokens SET expires_at = now() - interval '1 second' "
                                   " WHERE account_id = (SELECT id FROM accounts WHERE email = $1) RETURNING 1",
                                   1, (const char *const[]){email});
    ck_assert_ptr_nonnull(updated);
    free(updated);

    get_verify_token(main_port, token, NULL, &resp);
    assert_problem(&resp, 410, "token_expired");
    http_response_free(&resp);
    get_verify_token(main_port, token, BROWSER_ACCEPT, &resp);
    assert_redirect(&resp, "expired");
    http_response_free(&resp);
    ck_assert(!is_verified(email));
}
END_TEST

/* NULL query: a well-formed token nobody was given. */
static const struct {
    const char *query, *code;
} BAD_TOKENS[] = {
    {NULL, "invalid_token"},
    {"?token=not%20a%20token%21", "invalid_token"},
    {"?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "invalid_token"},   /* 42 characters */
    {"?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "invalid_token"}, /* 44 characters */
    {"?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", "invalid_token"},  /* spare bits set: not canonical */
    {"?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D", "invalid_token"},
    {"?token=%2BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "invalid_token"}, /* '+' is not base64url */
    {"?token=%C3%A9AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "invalid_token"},
    {"?token=AAAAAAAAAAAAAAAAAAAAA%00AAAAAAAAAAAAAAAAAAAAA", "invalid_token"},
    {"?token=", "token_required"},
    {"", "token_required"},
    {"?other=1", "token_required"},
};

START_TEST(test_verify_invalid_or_missing_token_gets_400)
{
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char path[256];
    struct http_response resp;
    if (BAD_TOKENS[_i].query == NULL) {
        char token[TOKEN_LEN + 1];
        srand((unsigned)time(NULL) ^ (unsigned)getpid());
        for (int i = 0; i < TOKEN_LEN - 1; i++)
            token[i] = ALPHABET[rand() % 64];
        token[TOKEN_LEN - 1] = ALPHABET[(rand() % 16) * 4]; /* low 2 bits zero: canonical */
        token[TOKEN_LEN] = '\0';
        snprintf(path, sizeof path, "/verify?token=%s", token);
    } else {
        snprintf(path, sizeof path, "/verify%s", BAD_TOKENS[_i].query);
    }
    http_get(main_port, path, NULL, &resp);
    assert_problem(&resp, 400, BAD_TOKENS[_i].code);
    http_response_free(&resp);
    http_get(main_port, path, BROWSER_ACCEPT, &resp);
    assert_redirect(&resp, "invalid");
    http_response_free(&resp);
}
END_TEST

START_TEST(test_verify_very_long_token_gets_400_invalid_token)
{
    char path[2100] = "/verify?token=";
    size_t len = strlen(path);
    memset(path + len, 'A', sizeof path - len - 1);
    path[sizeof path - 1] = '\0';
    struct http_response resp;
    http_get(main_port, path, NULL, &resp);
    assert_problem(&resp, 400, "invalid_token");
    http_response_free(&resp);
}
END_TEST

START_TEST(test_verify_browser_is_redirected_to_frontend_api_client_gets_json)
{
    char email[128], token[TOKEN_LEN + 8];
    struct http_response resp;
    unique_email(email, sizeof email, "browser", CORP_DOMAIN);
    sign_up_and_get_token("Browser Person", email, token);

    get_verify_token(main_port, token, BROWSER_ACCEPT, &resp);
    assert_redirect(&resp, "verified");
    http_response_free(&resp);
    ck_assert(is_verified(email));
    get_verify_token(main_port, token, BROWSER_ACCEPT, &resp);
    assert_redirect(&resp, "already_verified");
    http_response_free(&resp);

    static const char *const API_ACCEPTS[] = {"application/json", "*/*", "application/json, text/html;q=0.5", NULL};
    for (size_t i = 0; i < sizeof API_ACCEPTS / sizeof API_ACCEPTS[0]; i++) {
        get_verify_token(main_port, token, API_ACCEPTS[i], &resp);
        assert_json_status(&resp, 200, "already_verified");
        ck_assert_str_eq(json_str(resp.json, "email"), email);
        http_response_free(&resp);
    }
}
END_TEST

/* RFC 9110 allows spaces around ";" before q=: "text/html; q=0.1" is a
 * low preference for HTML, not q=1. */
START_TEST(test_verify_accept_with_spaces_before_q_is_honoured)
{
    char email[128], token[TOKEN_LEN + 8];
    struct http_response resp;
    unique_email(email, sizeof email, "qvalue", CORP_DOMAIN);
    sign_up_and_get_token("Q Value Person", email, token);
    char location[512] = "";
    get_verify_token(main_port, token, "application/json, text/html; q=0.1", &resp);
    http_header(&resp, "Location", location, sizeof location);
    ck_assert_msg(resp.status == 200, "Accept \"application/json, text/html; q=0.1\" got %d, Location: %s", resp.status,
                  location);
    assert_json_status(&resp, 200, "verified");
    http_response_free(&resp);
    get_verify_token(main_port, token, "text/html; q=0.9, application/json; q=0.1", &resp);
    assert_redirect(&resp, "already_verified");
    http_response_free(&resp);
}
END_TEST

struct click {
    const char *token;
    int status;
    char word[32];
};

static void *click_link(void *arg)
{
    struct click *c = arg;
    char path[128];
    struct http_response resp;
    snprintf(path, sizeof path, "/verify?token=%s", c->token);
    size_t len = strlen(path) + 128;
    char *request = malloc(len);
    int n = snprintf(request, len, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (http_raw(main_port, request, (size_t)n, &resp)) {
        c->status = resp.status;
        snprintf(c->word, sizeof c->word, "%s", json_str(resp.json, "status") ? json_str(resp.json, "status") : "");
    }
    http_response_free(&resp);
    free(request);
    return NULL;
}

#define CLICKERS 8

START_TEST(test_verify_simultaneous_clicks_verify_exactly_once)
{
    char email[128], token[TOKEN_LEN + 8];
    pthread_t threads[CLICKERS];
    struct click clicks[CLICKERS];
    unique_email(email, sizeof email, "clicks", CORP_DOMAIN);
    sign_up_and_get_token("Many Clicks", email, token);
    for (int i = 0; i < CLICKERS; i++) {
        clicks[i] = (struct click){.token = token};
        pthread_create(&threads[i], NULL, click_link, &clicks[i]);
    }
    int verified = 0, already = 0;
    for (int i = 0; i < CLICKERS; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_msg(clicks[i].status == 200, "click %d: %d", i, clicks[i].status);
        verified += strcmp(clicks[i].word, "verified") == 0;
        already += strcmp(clicks[i].word, "already_verified") == 0;
    }
    ck_assert_int_eq(verified, 1);
    ck_assert_int_eq(already, CLICKERS - 1);
}
END_TEST

START_TEST(test_resend_unverified_sends_new_token_and_either_link_then_reports_verified)
{
    char email[128], upper[128], token1[TOKEN_LEN + 8], token2[TOKEN_LEN + 8];
    struct http_response resp;
    unique_email(email, sizeof email, "resend", CORP_DOMAIN);
    sign_up_and_get_token("Resend Person", email, token1);

    /* Any letter case finds the account. */
    for (size_t i = 0; i <= strlen(email); i++)
        upper[i] = (email[i] >= 'a' && email[i] <= 'z') ? (char)(email[i] - 32) : email[i];
    post_resend_email(main_port, upper, &resp);
    ck_assert_int_eq(resp.status, 202);
    assert_no_store(&resp);
    ck_assert_str_eq(json_str(resp.json, "status"), "accepted");
    ck_assert_msg(json_str(resp.json, "message") && strlen(json_str(resp.json, "message")) > 0, "no message");
    http_response_free(&resp);

    json_t *second = wait_verification_mail(mail_shared_dir(), email, 2);
    token_of(second, token2);
    ck_assert_msg(strcmp(token1, token2) != 0, "the resent email carries the same token");
    ck_assert_int_eq(outbox_rows(email), 2);

    get_verify_token(main_port, token2, NULL, &resp);
    assert_json_status(&resp, 200, "verified");
    http_response_free(&resp);
    get_verify_token(main_port, token1, NULL, &resp);
    assert_json_status(&resp, 200, "already_verified");
    ck_assert_str_eq(json_str(resp.json, "email"), email);
    http_response_free(&resp);
    json_decref(second);
}
END_TEST

/* The per-address limits count emails beyond the sign-up's own (README): with
 * the default RESEND_PER_MINUTE=1 the first resend goes out at once, the next
 * inside the same minute does not, and both answers are the same 202. */
START_TEST(test_resend_right_after_signup_is_sent_and_a_second_in_the_minute_is_not)
{
    char email[128], token1[TOKEN_LEN + 8], token2[TOKEN_LEN + 8];
    struct http_response first, limited, resp;
    unique_email(email, sizeof email, "limit", CORP_DOMAIN);
    sign_up_and_get_token("Limit Person", email, token1);

    post_resend_email(main_port, email, &first);
    ck_assert_int_eq(first.status, 202);
    json_t *second = wait_verification_mail(mail_shared_dir(), email, 2);
    token_of(second, token2);
    ck_assert_msg(strcmp(token1, token2) != 0, "the resent email carries the same token");

    post_resend_email(main_port, email, &limited);
    ck_assert_int_eq(limited.status, 202);
    ck_assert_str_eq(limited.body, first.body);
    assert_no_store(&limited);
    ck_assert_int_eq(outbox_rows(email), 2);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(mail_shared_dir(), email, NULL), 2);

    get_verify_token(main_port, token2, NULL, &resp);
    assert_json_status(&resp, 200, "verified");
    http_response_free(&resp);
    http_response_free(&limited);
    http_response_free(&first);
    json_decref(second);
}
END_TEST

START_TEST(test_resend_answers_identically_for_unknown_verified_and_free_mail_addresses)
{
    char queued_email[128], verified_email[128], unknown_email[128], free_email[128], token[TOKEN_LEN + 8];
    struct http_response queued, resp;

    unique_email(queued_email, sizeof queued_email, "queued", CORP_DOMAIN);
    sign_up(main_port, "Queued Person", queued_email);
    post_resend_email(main_port, queued_email, &queued);
    ck_assert_int_eq(queued.status, 202);
    ck_assert_int_eq(outbox_rows(queued_email), 2); /* this one really was queued */

    unique_email(verified_email, sizeof verified_email, "verified", CORP_DOMAIN);
    sign_up_and_get_token("Verified Person", verified_email, token);
    get_verify_token(main_port, token, NULL, &resp);
    assert_json_status(&resp, 200, "verified");
    http_response_free(&resp);
    unique_email(unknown_email, sizeof unknown_email, "nobody", CORP_DOMAIN);
    unique_email(free_email, sizeof free_email, "someone", "gmail.com");

    const char *const OTHERS[] = {unknown_email, verified_email, free_email};
    for (size_t i = 0; i < sizeof OTHERS / sizeof OTHERS[0]; i++) {
        post_resend_email(main_port, OTHERS[i], &resp);
        ck_assert_msg(resp.status == 202, "%s: %d %s", OTHERS[i], resp.status, resp.body);
        ck_assert_msg(strcmp(resp.body, queued.body) == 0, "%s: body %s differs from %s", OTHERS[i], resp.body,
                      queued.body);
        char type_a[128], type_b[128];
        ck_assert(http_header(&resp, "Content-Type", type_a, sizeof type_a));
        ck_assert(http_header(&queued, "Content-Type", type_b, sizeof type_b));
        ck_assert_str_eq(type_a, type_b);
        assert_no_store(&resp);
        http_response_free(&resp);
    }
    ck_assert_int_eq(outbox_rows(unknown_email), 0);
    ck_assert_int_eq(outbox_rows(free_email), 0);
    ck_assert_int_eq(outbox_rows(verified_email), 1);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(mail_shared_dir(), verified_email, NULL), 1);
    ck_assert_int_eq(query_long("SELECT count(*) FROM accounts WHERE lower(email) = lower($1)", free_email), 0);
    http_response_free(&queued);
}
END_TEST

static const struct {
    const char *content_type, *body;
    int status;
    const char *code;
} BAD_RESENDS[] = {
    {"application/json", "{\"email\":\"not-an-email\"}", 422, "validation_failed"},
    {"application/json", "{\"email\":\"a@b@" CORP_DOMAIN "\"}", 422, "validation_failed"},
    {"application/json", "{\"email\":", 400, "malformed_json"},
    {"application/json", "not json", 400, "malformed_json"},
    {"application/json", "[\"a@" CORP_DOMAIN "\"]", 400, "body_not_object"},
    {"application/json", "{\"email\":42}", 400, "wrong_field_type"},
    {"text/plain", "{\"email\":\"someone@" CORP_DOMAIN "\"}", 415, "unsupported_media_type"},
    {"application/x-www-form-urlencoded", "email=someone%40" CORP_DOMAIN, 415, "unsupported_media_type"},
    {NULL, "{\"email\":\"someone@" CORP_DOMAIN "\"}", 415, "unsupported_media_type"},
};

START_TEST(test_resend_malformed_requests_get_problem_json)
{
    struct http_response resp;
    post_resend(main_port, BAD_RESENDS[_i].content_type, BAD_RESENDS[_i].body, &resp);
    assert_problem(&resp, BAD_RESENDS[_i].status, BAD_RESENDS[_i].code);
    if (BAD_RESENDS[_i].status == 422) {
        json_t *error = json_array_get(json_object_get(resp.json, "errors"), 0);
        ck_assert_str_eq(json_str(error, "field"), "email");
        ck_assert_str_eq(json_str(error, "code"), "email_invalid");
    }
    http_response_free(&resp);
}
END_TEST

START_TEST(test_verify_duplicate_signup_of_unverified_account_sends_second_verification_email)
{
    char email[128], expected_to[256], token1[TOKEN_LEN + 8], token2[TOKEN_LEN + 8];
    struct http_response resp;
    unique_email(email, sizeof email, "again", CORP_DOMAIN);
    sign_up_and_get_token("First Person", email, token1);
    sign_up_as(main_port, "Second Person", email, "An0ther!Pass");

    json_t *second = wait_verification_mail(mail_shared_dir(), email, 2);
    token_of(second, token2);
    ck_assert_msg(strcmp(token1, token2) != 0, "the second email carries the same token");
    /* Addressed to the account's owner, not to whoever signed up again. */
    snprintf(expected_to, sizeof expected_to, "First Person <%s>", email);
    ck_assert_str_eq(mail_header(second, "to"), expected_to);
    ck_assert_int_eq(outbox_rows(email), 2);
    get_verify_token(main_port, token2, NULL, &resp);
    assert_json_status(&resp, 200, "verified");
    http_response_free(&resp);
    json_decref(second);
}
END_TEST

START_TEST(test_verify_duplicate_signup_of_verified_account_sends_notice_without_token)
{
    char email[128], token[TOKEN_LEN + 8];
    struct http_response resp;
    unique_email(email, sizeof email, "notice", CORP_DOMAIN);
    sign_up_and_get_token("Notice Person", email, token);
    get_verify_token(main_port, token, NULL, &resp);
    assert_json_status(&resp, 200, "verified");
    http_response_free(&resp);

    sign_up_as(main_port, "Someone Else", email, "An0ther!Pass");
    json_t *notices = mail_wait_for(mail_shared_dir(), email, SUBJECT_NOTICE, 1, ARRIVAL_TIMEOUT_MS);
    ck_assert_int_eq(json_array_size(notices), 1);
    json_t *notice = json_array_get(notices, 0);
    ck_assert_str_eq(json_str(notice, "content_type"), "multipart/alternative");
    ck_assert(json_is_false(json_object_get(notice, "has_bare_lf")));
    ck_assert(json_is_false(json_object_get(notice, "has_bare_cr")));
    ck_assert_int_le(json_integer_value(json_object_get(notice, "max_line_octets")), 998);
    ck_assert_ptr_null(mail_verify_link(notice));
    const char *text = mail_part_text(notice, "text/plain");
    const char *html = mail_part_text(notice, "text/html");
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(html);
    ck_assert_msg(strstr(text, "token") == NULL && strstr(html, "token") == NULL, "a token in the notice");
    ck_assert_msg(strstr(text, token) == NULL && strstr(html, token) == NULL, "the old token in the notice");

    char *kind = outbox_value("kind || ' ' || (verify_link IS NULL)::text", email);
    ck_assert_str_eq(kind, "already_registered true");
    free(kind);
    ck_assert_int_eq(query_long("SELECT count(*) FROM verification_tokens t JOIN accounts a ON a.id = t.account_id "
                                "WHERE a.email = $1",
                                email),
                     1);
    ck_assert_uint_eq(mail_count(mail_shared_dir(), email, SUBJECT_VERIFY), 1);
    json_decref(notices);
}
END_TEST

/* ---- Fault tests: their own servers, workers and catchers ---- */

/* Environment of a fault-test server or worker: fast timings, SMTP to the
 * catcher on catcher_port, then extra (later entries win). Borrowed from *e. */
struct fault_env {
    char smtp_port[32];
    char verify_url[96];
    char workers[32];
    const char *vars[24];
};

static const char *const *fault_env(struct fault_env *e, int http_port, int catcher_port, int workers,
                                    const char *const *extra)
{
    size_t n = 0;
    snprintf(e->smtp_port, sizeof e->smtp_port, "SMTP_PORT=%d", catcher_port);
    snprintf(e->verify_url, sizeof e->verify_url, "VERIFY_URL=http://127.0.0.1:%d/verify", http_port);
    snprintf(e->workers, sizeof e->workers, "MAIL_WORKERS=%d", workers);
    static const char *const FIXED[] = {"SMTP_HOST=127.0.0.1",      "SMTP_TLS=off",
                                        "SMTP_TIMEOUT_MS=5000",     "OUTBOX_POLL_INTERVAL_MS=200",
                                        "OUTBOX_RETRY_BASE_MS=100", "OUTBOX_RETRY_MAX_MS=500",
                                        "OUTBOX_MAX_ATTEMPTS=1000", "MAIL_FROM=" MAIL_FROM_VALUE};
    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++)
        e->vars[n++] = FIXED[i];
    e->vars[n++] = e->smtp_port;
    e->vars[n++] = e->verify_url;
    e->vars[n++] = e->workers;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n + 1 < sizeof e->vars / sizeof e->vars[0]; i++)
        e->vars[n++] = extra[i];
    e->vars[n] = NULL;
    return e->vars;
}

static pid_t start_fault_server(int http_port, const char *const *env)
{
    pid_t pid = test_server_start(http_port, env, server_log());
    ck_assert_msg(pid > 0, "server on port %d did not start; see %s", http_port, server_log());
    mail_track_pid(pid);
    return pid;
}

static void assert_exit_0(pid_t pid, const char *what)
{
    int status = test_server_stop(pid);
    mail_untrack_pid(pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: exit status %d (signal %d)", what,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

START_TEST(test_outbox_smtp_down_during_signup_delivers_once_it_is_back)
{
    int http_port = base_port() + PORT_FAULT_SERVER, catcher_port = base_port() + PORT_CATCHER;
    struct mail_catcher catcher;
    struct fault_env env;
    char email[128];
    mail_catcher_init(&catcher, catcher_port, NULL); /* not started: SMTP is down */
    pid_t pid = start_fault_server(http_port, fault_env(&env, http_port, catcher_port, 1, NULL));

    unique_email(email, sizeof email, "smtpdown", CORP_DOMAIN);
    sign_up(http_port, "Down Person", email);
    const char *params[] = {email};
    char *failing = db_wait_value("SELECT (status = 'pending' AND attempts >= 1 AND last_error IS NOT NULL)::text "
                                  "  FROM email_outbox WHERE recipient = $1",
                                  1, params, "true", DB_TIMEOUT_MS);
    ck_assert_msg(failing && strcmp(failing, "true") == 0, "row not pending with a recorded failure");
    free(failing);

    mail_catcher_start(&catcher);
    json_t *mail = wait_verification_mail(catcher.dir, email, 1);
    wait_outbox_status(email, "sent", DB_TIMEOUT_MS);
    char *scrubbed = outbox_value("verify_link IS NULL AND attempts >= 2", email);
    ck_assert_str_eq(scrubbed, "true");
    free(scrubbed);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(catcher.dir, email, NULL), 1);
    json_decref(mail);
    assert_exit_0(pid, "server");
    mail_catcher_stop(&catcher);
}
END_TEST

START_TEST(test_outbox_server_killed_with_mail_pending_delivers_once_after_restart)
{
    int http_port = base_port() + PORT_FAULT_SERVER + 1, catcher_port = base_port() + PORT_CATCHER + 1;
    struct mail_catcher catcher;
    struct fault_env env;
    char email[128];
    /* The default 120 s lease: if the kill lands while the row is being
     * sent, the restart takes the dead worker's claim back at once. */
    const char *const *vars = fault_env(&env, http_port, catcher_port, 1, NULL);
    mail_catcher_init(&catcher, catcher_port, NULL);
    pid_t pid = start_fault_server(http_port, vars);

    unique_email(email, sizeof email, "killed", CORP_DOMAIN);
    sign_up(http_port, "Killed Person", email);
    const char *params[] = {email};
    char *failing = db_wait_value("SELECT (attempts >= 1 AND last_error IS NOT NULL)::text "
                                  "  FROM email_outbox WHERE recipient = $1",
                                  1, params, "true", DB_TIMEOUT_MS);
    ck_assert_str_eq(failing, "true");
    free(failing);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    mail_untrack_pid(pid);

    mail_catcher_start(&catcher);
    pid = start_fault_server(http_port, vars);
    json_t *mail = wait_verification_mail(catcher.dir, email, 1);
    wait_outbox_status(email, "sent", DB_TIMEOUT_MS);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(catcher.dir, email, NULL), 1);
    ck_assert_int_eq(outbox_rows(email), 1);
    json_decref(mail);
    assert_exit_0(pid, "restarted server");
    mail_catcher_stop(&catcher);
}
END_TEST

/* Held claims: a worker stalls in an SMTP session (the server accepts and
 * never answers, and SMTP_TIMEOUT_MS outlasts the test), so the row is
 * certainly 'sending' under the default 120 s lease when the test acts. */
#define STALLED_SESSION_ENV "SMTP_TIMEOUT_MS=600000"
/* The promise: an email whose worker was killed mid-send leaves within this
 * long after a worker runs again (the lease alone would take 120 s). */
#define TAKEOVER_LIMIT_MS 30000

/* Waits until the worker has connected to the stalling server, then checks
 * that the row is claimed, once, under a lease that is far from over. */
static void wait_claim_held_in_stalled_session(struct smtp_stall *stall, const char *email)
{
    ck_assert_msg(smtp_stall_wait_connection(stall, DB_TIMEOUT_MS), "no worker connected to the SMTP server");
    char *held =
        outbox_value("status || ' ' || attempts || ' ' || (locked_until > now() + interval '60 seconds')", email);
    ck_assert_msg(held != NULL && strcmp(held, "sending 1 true") == 0, "claim not held: %s", held ? held : "(none)");
    free(held);
}

static void kill_9(pid_t pid)
{
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    waitpid(pid, NULL, 0);
    mail_untrack_pid(pid);
}

/* Waits for the one verification email to email, sent by a worker that took
 * over a dead worker's claim, and checks it went out once, with the row's
 * Message-ID. With is_smtp_up the taking worker's first attempt succeeds, so
 * the row was claimed exactly twice. Returns how long after since_ms it
 * arrived. */
static long long assert_taken_over_once(const char *dir, const char *email, long long since_ms, bool is_smtp_up)
{
    json_t *mails = mail_wait_for(dir, email, SUBJECT_VERIFY, 1, mail_scaled_ms(TAKEOVER_LIMIT_MS));
    long long took = mail_now_ms() - since_ms;
    ck_assert_msg(json_array_size(mails) == 1 && took <= mail_scaled_ms(TAKEOVER_LIMIT_MS), "%zu emails within %lld ms",
                  json_array_size(mails), took);
    wait_outbox_status(email, "sent", DB_TIMEOUT_MS);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(dir, email, NULL), 1);
    char *message_id = outbox_value("'<' || message_id || '>'", email);
    ck_assert_str_eq(mail_header(json_array_get(mails, 0), "message-id"), message_id);
    free(message_id);
    /* The dead worker's claim, then the one that sent it (and, while SMTP was
     * still down, refused attempts in between). */
    char *attempts = outbox_value(is_smtp_up ? "attempts = 2" : "attempts >= 2", email);
    ck_assert_str_eq(attempts, "true");
    free(attempts);
    json_decref(mails);
    return took;
}

START_TEST(test_outbox_killed_mid_send_is_sent_once_within_30s_of_restart)
{
    int http_port = base_port() + PORT_LEASE, smtp_port = base_port() + PORT_LEASE + 1;
    struct smtp_stall stall;
    struct mail_catcher catcher;
    struct fault_env env;
    char email[128];
    const char *const extra[] = {STALLED_SESSION_ENV, NULL};
    const char *const *vars = fault_env(&env, http_port, smtp_port, 1, extra);
    mail_catcher_init(&catcher, smtp_port, NULL);
    smtp_stall_start(&stall, smtp_port);
    pid_t pid = start_fault_server(http_port, vars);

    unique_email(email, sizeof email, "midsend", CORP_DOMAIN);
    sign_up(http_port, "Mid Send", email);
    wait_claim_held_in_stalled_session(&stall, email);
    kill_9(pid);
    smtp_stall_stop(&stall);

    long long restarted = mail_now_ms();
    pid = start_fault_server(http_port, vars);
    mail_catcher_start(&catcher); /* SMTP is back */
    long long took = assert_taken_over_once(catcher.dir, email, restarted, false);
    printf("verify: killed mid-send, sent once %lld ms after the restart (lease 120 s)\n", took);
    assert_exit_0(pid, "restarted server");
    mail_catcher_stop(&catcher);
}
END_TEST

START_TEST(test_outbox_stalled_worker_keeps_its_claim_until_killed_then_a_running_worker_sends_it)
{
    int http_port = base_port() + PORT_LEASE + 2, stall_port = base_port() + PORT_LEASE + 3,
        catcher_port = base_port() + PORT_LEASE + 4;
    struct smtp_stall stall;
    struct mail_catcher catcher;
    struct fault_env server_env, worker_env;
    char email[128];
    const char *const extra[] = {STALLED_SESSION_ENV, NULL};
    mail_catcher_init(&catcher, catcher_port, NULL);
    mail_catcher_start(&catcher);
    smtp_stall_start(&stall, stall_port);
    /* The server's own worker sends into the stall; the other worker process,
     * on the same machine, to the catcher. */
    pid_t pid = start_fault_server(http_port, fault_env(&server_env, http_port, stall_port, 1, extra));
    unique_email(email, sizeof email, "stalled", CORP_DOMAIN);
    sign_up(http_port, "Stalled Send", email);
    wait_claim_held_in_stalled_session(&stall, email);
    pid_t other = mail_worker_start(fault_env(&worker_env, http_port, catcher_port, 1, NULL), server_log());

    /* Alive but slow: many of the other worker's looks at the holder (one
     * per 200 ms poll), and the claim stays where it is. */
    mail_sleep_ms(2 * QUIET_PERIOD_MS);
    char *held = outbox_value("status || ' ' || attempts", email);
    ck_assert_str_eq(held, "sending 1");
    free(held);
    ck_assert_uint_eq(mail_count(catcher.dir, email, NULL), 0);

    kill_9(pid);
    long long killed = mail_now_ms();
    long long took = assert_taken_over_once(catcher.dir, email, killed, true);
    printf("verify: stalled worker kept its claim; killed, sent once by the running worker %lld ms later\n", took);
    smtp_stall_stop(&stall);
    assert_exit_0(other, "other worker");
    mail_catcher_stop(&catcher);
}
END_TEST

/* Makes the newest row of email look claimed by a process elsewhere (another
 * host: no /proc to ask) as instance, with a lease of an hour. */
static void hold_elsewhere(const char *email, const char *instance)
{
    char *updated = db_query_value("UPDATE email_outbox SET status = 'sending', attempts = 1, "
                                   "       locked_until = now() + interval '1 hour', lease_instance = $2, "
                                   "       lease_scope = 'host=elsewhere', lease_pid = 4242, lease_pid_start = 1 "
                                   " WHERE recipient = $1 AND status = 'pending' RETURNING 1",
                                   2, (const char *const[]){email, instance});
    ck_assert_ptr_nonnull(updated);
    free(updated);
}

/* Leaves nothing behind that a later worker could send when a test's hour
 * long lease runs out. */
static void retire_outbox_row(const char *email)
{
    char *updated = db_query_value("UPDATE email_outbox SET status = 'dead', verify_link = NULL, locked_until = NULL, "
                                   "       last_error = 'test cleanup' WHERE recipient = $1 RETURNING 1",
                                   1, (const char *const[]){email});
    free(updated);
}

START_TEST(test_outbox_instance_takes_back_the_claims_of_its_previous_incarnation_only)
{
    int http_port = base_port() + PORT_LEASE + 5, catcher_port = base_port() + PORT_LEASE + 6;
    struct mail_catcher catcher;
    struct fault_env server_env, worker_env;
    char mine[128], theirs[128];
    mail_catcher_init(&catcher, catcher_port, NULL);
    mail_catcher_start(&catcher);
    pid_t pid = start_fault_server(http_port, fault_env(&server_env, http_port, catcher_port, 0, NULL));
    unique_email(mine, sizeof mine, "incarnation", CORP_DOMAIN);
    unique_email(theirs, sizeof theirs, "other-instance", CORP_DOMAIN);
    sign_up(http_port, "Earlier Incarnation", mine);
    sign_up(http_port, "Other Instance", theirs);
    /* As if mailer-1 and mailer-2 had each claimed one on another machine,
     * and mailer-1 had died there. */
    hold_elsewhere(mine, "mailer-1");
    hold_elsewhere(theirs, "mailer-2");

    const char *const extra[] = {"INSTANCE_ID=mailer-1", NULL};
    long long started = mail_now_ms();
    pid_t worker = mail_worker_start(fault_env(&worker_env, http_port, catcher_port, 1, extra), server_log());
    assert_taken_over_once(catcher.dir, mine, started, true);
    ck_assert_uint_eq(mail_count(catcher.dir, theirs, NULL), 0); /* another instance's live lease */
    char *status = outbox_value("status || ' ' || attempts || ' ' || lease_instance", theirs);
    ck_assert_str_eq(status, "sending 1 mailer-2");
    free(status);
    ck_assert_msg(log_file_contains(server_log(), "\"reason\":\"previous_incarnation\""), "release not logged");

    retire_outbox_row(theirs);
    assert_exit_0(worker, "worker");
    assert_exit_0(pid, "server");
    mail_catcher_stop(&catcher);
}
END_TEST

START_TEST(test_outbox_row_left_sending_with_expired_lease_is_sent_by_a_worker)
{
    int http_port = base_port() + PORT_FAULT_SERVER + 2, catcher_port = base_port() + PORT_CATCHER + 2;
    struct mail_catcher catcher;
    struct fault_env server_env, worker_env;
    char expired[128], leased[128];
    mail_catcher_init(&catcher, catcher_port, NULL);
    mail_catcher_start(&catcher);
    pid_t pid = start_fault_server(http_port, fault_env(&server_env, http_port, catcher_port, 0, NULL));

    unique_email(expired, sizeof expired, "lease-expired", CORP_DOMAIN);
    unique_email(leased, sizeof leased, "lease-held", CORP_DOMAIN);
    sign_up(http_port, "Expired Lease", expired);
    sign_up(http_port, "Held Lease", leased);
    /* As if a worker had claimed both and died: one lease is over, one not. */
    char *updated = db_query_value("UPDATE email_outbox SET status = 'sending', attempts = 1, "
                                   "       locked_until = now() - interval '1 second' "
                                   " WHERE recipient = $1 AND status = 'pending' RETURNING 1",
                                   1, (const char *const[]){expired});
    ck_assert_ptr_nonnull(updated);
    free(updated);
    updated = db_query_value("UPDATE email_outbox SET status = 'sending', attempts = 1, "
                             "       locked_until = now() + interval '1 hour' "
                             " WHERE recipient = $1 AND status = 'pending' RETURNING 1",
                             1, (const char *const[]){leased});
    ck_assert_ptr_nonnull(updated);
    free(updated);

    pid_t worker = mail_worker_start(fault_env(&worker_env, http_port, catcher_port, 1, NULL), server_log());
    json_t *mail = wait_verification_mail(catcher.dir, expired, 1);
    wait_outbox_status(expired, "sent", DB_TIMEOUT_MS);
    char *attempts = outbox_value("attempts", expired);
    ck_assert_str_eq(attempts, "2");
    free(attempts);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(catcher.dir, expired, NULL), 1);
    ck_assert_uint_eq(mail_count(catcher.dir, leased, NULL), 0); /* a live lease is respected */
    char *status = outbox_value("status", leased);
    ck_assert_str_eq(status, "sending");
    free(status);

    retire_outbox_row(leased);
    json_decref(mail);
    assert_exit_0(worker, "worker");
    assert_exit_0(pid, "server");
    mail_catcher_stop(&catcher);
}
END_TEST

START_TEST(test_outbox_recipient_rejected_with_550_marks_row_dead)
{
    int http_port = base_port() + PORT_FAULT_SERVER + 3, catcher_port = base_port() + PORT_CATCHER + 3;
    struct mail_catcher catcher;
    struct fault_env env;
    char rejected[128], accepted[128];
    mail_catcher_init(&catcher, catcher_port, "^reject-");
    mail_catcher_start(&catcher);
    pid_t pid = start_fault_server(http_port, fault_env(&env, http_port, catcher_port, 1, NULL));

    unique_email(rejected, sizeof rejected, "reject", CORP_DOMAIN);
    unique_email(accepted, sizeof accepted, "accept", CORP_DOMAIN);
    sign_up(http_port, "Rejected Person", rejected);
    sign_up(http_port, "Accepted Person", accepted);
    wait_outbox_status(rejected, "dead", DB_TIMEOUT_MS);
    char *error = outbox_value("last_error", rejected);
    ck_assert_msg(error != NULL && strstr(error, "550") != NULL, "last_error: %s", error ? error : "(null)");
    free(error);
    char *facts = outbox_value("verify_link IS NULL AND attempts = 1 AND sent_at IS NULL", rejected);
    ck_assert_str_eq(facts, "true"); /* permanent: not retried, link scrubbed */
    free(facts);

    /* The same catcher takes mail for everyone else. */
    json_t *mail = wait_verification_mail(catcher.dir, accepted, 1);
    mail_sleep_ms(QUIET_PERIOD_MS);
    ck_assert_uint_eq(mail_count(catcher.dir, rejected, NULL), 0);
    char *still_dead = outbox_value("status || ' ' || attempts", rejected);
    ck_assert_str_eq(still_dead, "dead 1");
    free(still_dead);
    json_decref(mail);
    assert_exit_0(pid, "server");
    mail_catcher_stop(&catcher);
}
END_TEST

START_TEST(test_outbox_gives_up_after_max_attempts_and_scrubs_the_link)
{
    int http_port = base_port() + PORT_FAULT_SERVER + 6, catcher_port = base_port() + PORT_CATCHER + 6;
    struct fault_env env;
    char email[128];
    const char *const extra[] = {"OUTBOX_MAX_ATTEMPTS=3", NULL}; /* overrides the suite's 1000 */
    /* No catcher on catcher_port: every attempt is refused. */
    pid_t pid = start_fault_server(http_port, fault_env(&env, http_port, catcher_port, 1, extra));
    unique_email(email, sizeof email, "giveup", CORP_DOMAIN);
    sign_up(http_port, "Given Up", email);
    wait_outbox_status(email, "dead", DB_TIMEOUT_MS);
    char *facts = outbox_value("attempts || ' ' || (verify_link IS NULL) || ' ' || (sent_at IS NULL)", email);
    ck_assert_str_eq(facts, "3 true true");
    free(facts);
    char *error = outbox_value("last_error", email);
    ck_assert_msg(error != NULL && strlen(error) > 0, "no last_error");
    free(error);
    assert_exit_0(pid, "server");
}
END_TEST

START_TEST(test_outbox_notify_wakes_the_worker_long_before_the_poll_interval)
{
    int http_port = base_port() + PORT_FAULT_SERVER + 7, catcher_port = base_port() + PORT_CATCHER + 7;
    struct mail_catcher catcher;
    struct fault_env env;
    char email[128];
    const char *const extra[] = {"OUTBOX_POLL_INTERVAL_MS=60000", NULL};
    mail_catcher_init(&catcher, catcher_port, NULL);
    mail_catcher_start(&catcher);
    pid_t pid = start_fault_server(http_port, fault_env(&env, http_port, catcher_port, 1, extra));
    mail_sleep_ms(mail_scaled_ms(500)); /* past the start-up claim: now only NOTIFY can wake it */

    unique_email(email, sizeof email, "notify", CORP_DOMAIN);
    long long started = mail_now_ms();
    sign_up(http_port, "Notify Person", email);
    json_t *mails = mail_wait_for(catcher.dir, email, SUBJECT_VERIFY, 1, mail_scaled_ms(5000));
    ck_assert_msg(json_array_size(mails) == 1, "no email within 5 s although the poll interval is 60 s");
    ck_assert_msg(mail_now_ms() - started < mail_scaled_ms(5000), "took %lld ms", mail_now_ms() - started);
    json_decref(mails);
    assert_exit_0(pid, "server");
    mail_catcher_stop(&catcher);
}
END_TEST

#define CROWD 30

START_TEST(test_outbox_two_worker_processes_deliver_each_email_exactly_once)
{
    int http_port = base_port() + PORT_FAULT_SERVER + 4, catcher_port = base_port() + PORT_CATCHER + 4;
    struct mail_catcher catcher;
    struct fault_env server_env, worker_env;
    static char emails[CROWD][128];
    mail_catcher_init(&catcher, catcher_port, NULL);
    mail_catcher_start(&catcher);
    pid_t pid = start_fault_server(http_port, fault_env(&server_env, http_port, catcher_port, 0, NULL));
    for (int i = 0; i < CROWD; i++) {
        unique_email(emails[i], sizeof emails[i], "crowd", CORP_DOMAIN);
        sign_up(http_port, "Crowd Person", emails[i]);
    }
    ck_assert_int_eq(outbox_rows(emails[0]), 1);

    /* Small batches so the two processes (two threads each) interleave. */
    const char *const extra[] = {"OUTBOX_BATCH_SIZE=3", NULL};
    const char *const *vars = fault_env(&worker_env, http_port, catcher_port, 2, extra);
    pid_t workers[2] = {mail_worker_start(vars, server_log()), mail_worker_start(vars, server_log())};

    long long deadline = mail_now_ms() + mail_scaled_ms(30000);
    size_t delivered = 0;
    while (delivered < CROWD && mail_now_ms() < deadline) {
        json_t *index = mail_index(catcher.dir);
        delivered = 0;
        for (int i = 0; i < CROWD; i++)
            delivered += json_array_size(json_object_get(index, emails[i])) > 0;
        json_decref(index);
        if (delivered < CROWD)
            mail_sleep_ms(200);
    }
    ck_assert_msg(delivered == CROWD, "%zu of %d recipients got their email", delivered, CROWD);
    for (int i = 0; i < CROWD; i++)
        wait_outbox_status(emails[i], "sent", DB_TIMEOUT_MS);
    mail_sleep_ms(QUIET_PERIOD_MS);

    json_t *index = mail_index(catcher.dir);
    for (int i = 0; i < CROWD; i++) {
        size_t n = json_array_size(json_object_get(index, emails[i]));
        ck_assert_msg(n == 1, "%s got %zu emails", emails[i], n);
        char *attempts = outbox_value("attempts", emails[i]);
        ck_assert_msg(strcmp(attempts, "1") == 0, "%s: row claimed %s times", emails[i], attempts);
        free(attempts);
    }
    json_decref(index);
    assert_exit_0(workers[0], "worker 1");
    assert_exit_0(workers[1], "worker 2");
    assert_exit_0(pid, "server");
    mail_catcher_stop(&catcher);
}
END_TEST

START_TEST(test_verify_server_and_worker_exit_0_on_sigterm)
{
    int http_port = base_port() + PORT_FAULT_SERVER + 5, catcher_port = base_port() + PORT_CATCHER + 5;
    struct mail_catcher catcher;
    struct fault_env server_env, worker_env;
    mail_catcher_init(&catcher, catcher_port, NULL);
    mail_catcher_start(&catcher);
    pid_t pid = start_fault_server(http_port, fault_env(&server_env, http_port, catcher_port, 2, NULL));
    pid_t worker = mail_worker_start(fault_env(&worker_env, http_port, catcher_port, 2, NULL), server_log());
    mail_sleep_ms(mail_scaled_ms(500)); /* let the workers connect and LISTEN */

    long long started = mail_now_ms();
    assert_exit_0(pid, "server");
    assert_exit_0(worker, "worker");
    long long elapsed = mail_now_ms() - started;
    ck_assert_msg(elapsed < mail_scaled_ms(5000), "stopping took %lld ms", elapsed);
    mail_catcher_stop(&catcher);
}
END_TEST

static Suite *api_verify_suite(void)
{
    Suite *s = suite_create("api_verify");

    TCase *mail = tcase_create("mail");
    tcase_add_unchecked_fixture(mail, main_server_setup, main_server_teardown);
    tcase_set_timeout(mail, 120);
    tcase_add_test(mail, test_verify_email_arrives_as_utf8_multipart_alternative);
    tcase_add_loop_test(mail, test_verify_to_header_round_trips_awkward_full_names, 0,
                        sizeof AWKWARD_NAMES / sizeof AWKWARD_NAMES[0]);
    tcase_add_test(mail, test_verify_link_verifies_then_reports_already_verified);
    tcase_add_test(mail, test_outbox_sent_row_is_scrubbed_and_token_stored_only_as_sha256);
    tcase_add_test(mail, test_verify_expired_token_gets_410_token_expired);
    tcase_add_loop_test(mail, test_verify_invalid_or_missing_token_gets_400, 0,
                        sizeof BAD_TOKENS / sizeof BAD_TOKENS[0]);
    tcase_add_test(mail, test_verify_very_long_token_gets_400_invalid_token);
    tcase_add_test(mail, test_verify_browser_is_redirected_to_frontend_api_client_gets_json);
    tcase_add_test(mail, test_verify_accept_with_spaces_before_q_is_honoured);
    tcase_add_test(mail, test_verify_simultaneous_clicks_verify_exactly_once);
    tcase_add_test(mail, test_resend_unverified_sends_new_token_and_either_link_then_reports_verified);
    tcase_add_test(mail, test_resend_right_after_signup_is_sent_and_a_second_in_the_minute_is_not);
    tcase_add_test(mail, test_resend_answers_identically_for_unknown_verified_and_free_mail_addresses);
    tcase_add_loop_test(mail, test_resend_malformed_requests_get_problem_json, 0,
                        sizeof BAD_RESENDS / sizeof BAD_RESENDS[0]);
    tcase_add_test(mail, test_verify_duplicate_signup_of_unverified_account_sends_second_verification_email);
    tcase_add_test(mail, test_verify_duplicate_signup_of_verified_account_sends_notice_without_token);
    suite_add_tcase(s, mail);

    /* Runs after "mail" has stopped its server: no other worker is running. */
    TCase *faults = tcase_create("faults");
    tcase_add_checked_fixture(faults, NULL, mail_kill_tracked);
    tcase_set_timeout(faults, 120);
    tcase_add_test(faults, test_outbox_smtp_down_during_signup_delivers_once_it_is_back);
    tcase_add_test(faults, test_outbox_server_killed_with_mail_pending_delivers_once_after_restart);
    tcase_add_test(faults, test_outbox_killed_mid_send_is_sent_once_within_30s_of_restart);
    tcase_add_test(faults, test_outbox_stalled_worker_keeps_its_claim_until_killed_then_a_running_worker_sends_it);
    tcase_add_test(faults, test_outbox_instance_takes_back_the_claims_of_its_previous_incarnation_only);
    tcase_add_test(faults, test_outbox_row_left_sending_with_expired_lease_is_sent_by_a_worker);
    tcase_add_test(faults, test_outbox_recipient_rejected_with_550_marks_row_dead);
    tcase_add_test(faults, test_outbox_gives_up_after_max_attempts_and_scrubs_the_link);
    tcase_add_test(faults, test_outbox_notify_wakes_the_worker_long_before_the_poll_interval);
    tcase_add_test(faults, test_outbox_two_worker_processes_deliver_each_email_exactly_once);
    tcase_add_test(faults, test_verify_server_and_worker_exit_0_on_sigterm);
    suite_add_tcase(s, faults);
    return s;
}

int main(void)
{
    if (!test_database_isolate("verify"))
        return EXIT_FAILURE;
    SRunner *sr = srunner_create(api_verify_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
