/* POST /signup, /healthz, /readyz and the error contract, end to end: the real
 * signup-api binary, the real PostgreSQL test database, raw HTTP. */
#include <argon2.h>
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_assert.h"
#include "support.h"

#define CORP_DOMAIN "lintasarta.co.id"
#define GOOD_PASSWORD "Str0ng!Pass"
#define SPA_ORIGIN "http://localhost:5173"

static int port;
static pid_t server_pid = -1;
static const char *log_path;

static void server_setup(void)
{
    const char *port_text = getenv("TEST_HTTP_PORT");
    port = port_text ? atoi(port_text) : 18080;
    log_path = getenv("TEST_SERVER_LOG") ? getenv("TEST_SERVER_LOG") : "build/test-server.log";
    static const char *const env[] = {"CORS_ALLOWED_ORIGINS=" SPA_ORIGIN ",https://portal.example.com",
                                      "MAIL_WORKERS=0", NULL};
    server_pid = test_server_start(port, env, log_path);
    if (server_pid < 0)
        exit(EXIT_FAILURE);
}

static void server_teardown(void)
{
    test_server_stop(server_pid);
}

/* Sends a JSON body to POST /signup. */
static void post_signup(const char *body, struct http_response *resp)
{
    ck_assert_msg(http_request(port, "POST", "/signup", "application/json", body, strlen(body), resp),
                  "no HTTP response from the server");
}

static char *signup_body(const char *full_name, const char *email, const char *password, const char *phone)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "full_name", full_name, "email", email, "password", password,
                          "phone_number", phone, "accept_terms", 1);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

/* The message of the error with this field and code, or NULL. */
static const char *find_error(const struct http_response *resp, const char *field, const char *code)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(resp->json, "errors"), i, e) {
        if (strcmp(json_str(e, "field"), field) == 0 && strcmp(json_str(e, "code"), code) == 0)
            return json_str(e, "message");
    }
    return NULL;
}

static long count_accounts(const char *email)
{
    const char *params[] = {email};
    char *value = db_query_value("SELECT count(*) FROM accounts WHERE lower(email) = lower($1)", 1, params);
    long n = value ? atol(value) : -1;
    free(value);
    return n;
}

/* After any bad request, a good one must still succeed. */
static void assert_still_serving(void)
{
    char email[128];
    struct http_response resp;
    unique_email(email, sizeof email, "alive", CORP_DOMAIN);
    char *body = signup_body("Still Serving", email, GOOD_PASSWORD, "0812-3456-7890");
    post_signup(body, &resp);
    ck_assert_int_eq(resp.status, 201);
    http_response_free(&resp);
    free(body);
}

START_TEST(test_signup_valid_request_creates_account_and_returns_201)
{
    char email[128], content_type[64], cache_control[64];
    struct http_response resp;
    unique_email(email, sizeof email, "budi", CORP_DOMAIN);
    char *body = signup_body("  Budi   Santoso ", email, GOOD_PASSWORD, "+62 812 3456 7890");

    post_signup(body, &resp);
    ck_assert_int_eq(resp.status, 201);
    ck_assert(http_header(&resp, "Content-Type", content_type, sizeof content_type));
    ck_assert_str_eq(content_type, "application/json");
    ck_assert(http_header(&resp, "Cache-Control", cache_control, sizeof cache_control));
    ck_assert_str_eq(cache_control, "no-store");
    ck_assert_str_eq(json_str(resp.json, "status"), "pending_verification");
    ck_assert_str_eq(json_str(resp.json, "email"), email);
    ck_assert_str_eq(json_str(resp.json, "message"),
                     "Congratulations Your account has been successfully created!. Please check your email for "
                     "your account verification.");

    const char *params[] = {email};
    char *name = db_query_value("SELECT full_name FROM accounts WHERE email = $1", 1, params);
    char *phone = db_query_value("SELECT phone_number FROM accounts WHERE email = $1", 1, params);
    char *hash = db_query_value("SELECT password_hash FROM accounts WHERE email = $1", 1, params);
    char *unverified = db_query_value(
        "SELECT (email_verified_at IS NULL AND terms_version <> '' AND terms_accepted_at <= now())::text "
        "FROM accounts WHERE email = $1", 1, params);
    ck_assert_str_eq(name, "Budi Santoso");
    ck_assert_str_eq(phone, "+6281234567890");
    ck_assert_str_eq(unverified, "true");
    ck_assert_msg(strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "hash: %s", hash);
    ck_assert_int_eq(argon2id_verify(hash, GOOD_PASSWORD, strlen(GOOD_PASSWORD)), ARGON2_OK);
    ck_assert_int_eq(argon2id_verify(hash, "Wr0ng!Pass", 10), ARGON2_VERIFY_MISMATCH);
    free(name);
    free(phone);
    free(hash);
    free(unverified);
    free(body);
    http_response_free(&resp);
}
END_TEST

START_TEST(test_signup_email_domain_is_lowercased_and_national_phone_normalised)
{
    char local[128], email[160], expected[160];
    struct http_response resp;
    unique_email(local, sizeof local, "Siti.Nur", "x");
    local[strlen(local) - 2] = '\0'; /* drop "@x" */
    snprintf(email, sizeof email, "  %s@LintasArta.CO.ID ", local);
    snprintf(expected, sizeof expected, "%s@lintasarta.co.id", local);
    char *body = signup_body("Siti Nurhaliza", email, GOOD_PASSWORD, "0812-3456-7890");
    post_signup(body, &resp);
    ck_assert_int_eq(resp.status, 201);
    ck_assert_str_eq(json_str(resp.json, "email"), expected);
    const char *params[] = {expected};
    char *phone = db_query_value("SELECT phone_number FROM accounts WHERE email = $1", 1, params);
    ck_assert_str_eq(phone, "+6281234567890");
    free(phone);
    free(body);
    http_response_free(&resp);
}
END_TEST

START_TEST(test_signup_duplicate_in_another_letter_case_gets_identical_201_and_no_second_row)
{
    char email[128], upper[128];
    struct http_response first, second;
    unique_email(email, sizeof email, "dup", CORP_DOMAIN);
    for (size_t i = 0; email[i]; i++)
        upper[i] = (email[i] >= 'a' && email[i] <= 'z') ? (char)(email[i] - 32) : email[i];
    upper[strlen(email)] = '\0';

    char *body1 = signup_body("First Person", email, GOOD_PASSWORD, "0812-3456-7890");
    char *body2 = signup_body("Second Person", upper, "An0ther!Pass", "0813-1111-2222");
    post_signup(body1, &first);
    post_signup(body2, &second);
    ck_assert_int_eq(first.status, 201);
    ck_assert_int_eq(second.status, 201);
    ck_assert_str_eq(json_str(second.json, "status"), json_str(first.json, "status"));
    ck_assert_str_eq(json_str(second.json, "message"), json_str(first.json, "message"));
    ck_assert_int_eq(count_accounts(email), 1);

    const char *params[] = {email};
    char *name = db_query_value("SELECT full_name FROM accounts WHERE lower(email) = lower($1)", 1, params);
    ck_assert_str_eq(name, "First Person"); /* the first sign-up is never overwritten */
    free(name);
    free(body1);
    free(body2);
    http_response_free(&first);
    http_response_free(&second);
}
END_TEST

#define RACERS 20

struct racer {
    const char *body;
    int status;
};

static void *race_signup(void *arg)
{
    struct racer *r = arg;
    struct http_response resp;
    r->status = http_request(port, "POST", "/signup", "application/json", r->body, strlen(r->body), &resp)
                    ? resp.status
                    : 0;
    http_response_free(&resp);
    return NULL;
}

START_TEST(test_signup_twenty_concurrent_duplicates_create_exactly_one_row)
{
    char email[128];
    pthread_t threads[RACERS];
    struct racer racers[RACERS];
    unique_email(email, sizeof email, "race", CORP_DOMAIN);
    char *body = signup_body("Racing Person", email, GOOD_PASSWORD, "0812-3456-7890");

    for (int i = 0; i < RACERS; i++) {
        racers[i].body = body;
        pthread_create(&threads[i], NULL, race_signup, &racers[i]);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(racers[i].status, 201);
    }
    ck_assert_int_eq(count_accounts(email), 1);
    free(body);
}
END_TEST

START_TEST(test_signup_sql_metacharacters_are_stored_literally)
{
    char email[160], local[128];
    struct http_response resp;
    unique_email(local, sizeof local, "o'brien", "x");
    local[strlen(local) - 2] = '\0';
    snprintf(email, sizeof email, "%s@" CORP_DOMAIN, local);
    const char *name = "Robert'); DROP TABLE accounts;-- \\ % _";
    char *body = signup_body(name, email, "P4ss'word\";--", "0812-3456-7890");
    post_signup(body, &resp);
    ck_assert_int_eq(resp.status, 201);
    const char *params[] = {email};
    char *stored = db_query_value("SELECT full_name FROM accounts WHERE email = $1", 1, params);
    ck_assert_str_eq(stored, name);
    char *tables = db_query_value("SELECT count(*) FROM accounts", 0, NULL);
    ck_assert_ptr_nonnull(tables);
    free(tables);
    free(stored);
    free(body);
    http_response_free(&resp);
}
END_TEST

START_TEST(test_signup_lists_every_violation_at_once_as_problem_json)
{
    struct http_response resp;
    post_signup("{\"full_name\":\"   \",\"email\":\"someone@gmail.com\",\"password\":\"abc\","
                "\"phone_number\":\"12ab\",\"accept_terms\":false}",
                &resp);
    assert_problem(&resp, 422, "validation_failed");
    ck_assert_ptr_nonnull(find_error(&resp, "full_name", "full_name_required"));
    ck_assert_ptr_nonnull(find_error(&resp, "email", "email_not_corporate"));
    ck_assert_ptr_nonnull(find_error(&resp, "password", "password_too_short"));
    ck_assert_ptr_nonnull(find_error(&resp, "password", "password_missing_uppercase"));
    ck_assert_ptr_nonnull(find_error(&resp, "password", "password_missing_number"));
    ck_assert_str_eq(find_error(&resp, "password", "password_missing_symbol"), "must include the symbol");
    ck_assert_ptr_nonnull(find_error(&resp, "phone_number", "phone_number_invalid"));
    ck_assert_ptr_nonnull(find_error(&resp, "accept_terms", "terms_not_accepted"));
    ck_assert_int_eq(json_array_size(json_object_get(resp.json, "errors")), 8);
    http_response_free(&resp);
    assert_still_serving();
}
END_TEST

START_TEST(test_signup_missing_fields_are_each_required)
{
    struct http_response resp;
    post_signup("{}", &resp);
    assert_problem(&resp, 422, "validation_failed");
    ck_assert_ptr_nonnull(find_error(&resp, "full_name", "full_name_required"));
    ck_assert_ptr_nonnull(find_error(&resp, "email", "email_required"));
    ck_assert_ptr_nonnull(find_error(&resp, "password", "password_too_short"));
    ck_assert_ptr_nonnull(find_error(&resp, "phone_number", "phone_number_required"));
    ck_assert_ptr_nonnull(find_error(&resp, "accept_terms", "terms_not_accepted"));
    http_response_free(&resp);
}
END_TEST

/* One request per rule, each violating only that rule. */
static const struct {
    const char *field, *value, *code;
} SINGLE_VIOLATIONS[] = {
    {"full_name", "", "full_name_required"},
    {"full_name", "A\aB", "full_name_invalid"},
    {"full_name", "\u202eevil", "full_name_invalid"},
    {"email", "", "email_required"},
    {"email", "not-an-email", "email_invalid"},
    {"email", "a@b@" CORP_DOMAIN, "email_invalid"},
    {"email", "someone@yahoo.com", "email_not_corporate"},
    {"email", "someone@mailinator.com", "email_not_corporate"},
    {"password", "Sh0rt!", "password_too_short"},
    {"password", "nouppercase1!", "password_missing_uppercase"},
    {"password", "NOLOWERCASE1!", "password_missing_lowercase"},
    {"password", "NoNumbers!!", "password_missing_number"},
    {"password", "NoSymbols123", "password_missing_symbol"},
    {"password", "P@ssw0rd", "password_too_common"},
    {"phone_number", "", "phone_number_required"},
    {"phone_number", "812345678", "phone_number_invalid"},
    {"phone_number", "+1234567890123456", "phone_number_invalid"},
};

START_TEST(test_signup_each_rule_alone_gives_its_code)
{
    char email[128];
    struct http_response resp;
    unique_email(email, sizeof email, "rule", CORP_DOMAIN);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "full_name", "Valid Name", "email", email, "password",
                          GOOD_PASSWORD, "phone_number", "0812-3456-7890", "accept_terms", 1);
    json_object_set_new(j, SINGLE_VIOLATIONS[_i].field, json_string(SINGLE_VIOLATIONS[_i].value));
    char *body = json_dumps(j, JSON_COMPACT);
    post_signup(body, &resp);
    assert_problem(&resp, 422, "validation_failed");
    ck_assert_msg(find_error(&resp, SINGLE_VIOLATIONS[_i].field, SINGLE_VIOLATIONS[_i].code) != NULL,
                  "%s=%s: expected %s in %s", SINGLE_VIOLATIONS[_i].field, SINGLE_VIOLATIONS[_i].value,
                  SINGLE_VIOLATIONS[_i].code, resp.body);
    ck_assert_int_eq(json_array_size(json_object_get(resp.json, "errors")), 1);
    ck_assert_int_eq(count_accounts(email), 0);
    json_decref(j);
    free(body);
    http_response_free(&resp);
}
END_TEST

START_TEST(test_signup_terms_must_be_exactly_true)
{
    char email[128];
    struct http_response resp;
    unique_email(email, sizeof email, "terms", CORP_DOMAIN);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "full_name", "Valid Name", "email", email, "password",
                          GOOD_PASSWORD, "phone_number", "0812-3456-7890", "accept_terms", 0);
    char *body = json_dumps(j, JSON_COMPACT);
    post_signup(body, &resp);
    assert_problem(&resp, 422, "validation_failed");
    ck_assert_str_eq(find_error(&resp, "accept_terms", "terms_not_accepted"), "must be accepted");
    http_response_free(&resp);
    free(body);

    json_object_set_new(j, "accept_terms", json_string("true"));
    body = json_dumps(j, JSON_COMPACT);
    post_signup(body, &resp);
    assert_problem(&resp, 400, "wrong_field_type");
    ck_assert_ptr_nonnull(find_error(&resp, "accept_terms", "wrong_type"));
    ck_assert_int_eq(count_accounts(email), 0);
    http_response_free(&resp);
    free(body);
    json_decref(j);
}
END_TEST

static const struct {
    const char *body;
    const char *code;
} BAD_BODIES[] = {
    {"{\"full_name\": \"x\"", "malformed_json"},
    {"", "malformed_json"},
    {"not json at all", "malformed_json"},
    {"{\"full_name\":\"a\\u0000b\"}", "malformed_json"},
    {"{\"email\":\"a@" CORP_DOMAIN "\",\"email\":\"b@" CORP_DOMAIN "\"}", "malformed_json"},
    {"{\"full_name\":\"\xff\xfe\"}", "malformed_json"},
    {"[1,2,3]", "body_not_object"},
    {"\"a string\"", "body_not_object"},
    {"42", "body_not_object"},
    {"null", "body_not_object"},
    {"{\"full_name\":123,\"email\":[],\"password\":{},\"phone_number\":true,\"accept_terms\":1}", "wrong_field_type"},
};

START_TEST(test_signup_malformed_or_mistyped_body_gets_400)
{
    struct http_response resp;
    post_signup(BAD_BODIES[_i].body, &resp);
    assert_problem(&resp, 400, BAD_BODIES[_i].code);
    if (strcmp(BAD_BODIES[_i].code, "wrong_field_type") == 0) {
        ck_assert_ptr_nonnull(find_error(&resp, "full_name", "wrong_type"));
        ck_assert_ptr_nonnull(find_error(&resp, "email", "wrong_type"));
        ck_assert_ptr_nonnull(find_error(&resp, "password", "wrong_type"));
        ck_assert_ptr_nonnull(find_error(&resp, "phone_number", "wrong_type"));
        ck_assert_ptr_nonnull(find_error(&resp, "accept_terms", "wrong_type"));
    }
    http_response_free(&resp);
    assert_still_serving();
}
END_TEST

static const char *const BAD_CONTENT_TYPES[] = {
    NULL, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/jsonp", "application/xml",
};

START_TEST(test_signup_wrong_content_type_gets_415)
{
    char email[128];
    struct http_response resp;
    unique_email(email, sizeof email, "ctype", CORP_DOMAIN);
    char *body = signup_body("Valid Name", email, GOOD_PASSWORD, "0812-3456-7890");
    ck_assert(http_request(port, "POST", "/signup", BAD_CONTENT_TYPES[_i], body, strlen(body), &resp));
    assert_problem(&resp, 415, "unsupported_media_type");
    ck_assert_int_eq(count_accounts(email), 0);
    http_response_free(&resp);
    free(body);
}
END_TEST

START_TEST(test_signup_json_content_type_with_charset_is_accepted)
{
    char email[128];
    struct http_response resp;
    unique_email(email, sizeof email, "charset", CORP_DOMAIN);
    char *body = signup_body("Valid Name", email, GOOD_PASSWORD, "0812-3456-7890");
    ck_assert(http_request(port, "POST", "/signup", "Application/JSON; charset=utf-8", body, strlen(body), &resp));
    ck_assert_int_eq(resp.status, 201);
    http_response_free(&resp);
    free(body);
}
END_TEST

/* A valid sign-up padded with trailing whitespace to exactly `size` bytes. */
static char *padded_body(const char *email, size_t size)
{
    char *json = signup_body("Padded Person", email, GOOD_PASSWORD, "0812-3456-7890");
    char *body = malloc(size + 1);
    size_t len = strlen(json);
    memcpy(body, json, len);
    memset(body + len, ' ', size - len);
    body[size] = '\0';
    free(json);
    return body;
}

START_TEST(test_signup_body_of_exactly_16_kib_is_accepted)
{
    char email[128];
    struct http_response resp;
    unique_email(email, sizeof email, "limit", CORP_DOMAIN);
    char *body = padded_body(email, 16384);
    post_signup(body, &resp);
    ck_assert_int_eq(resp.status, 201);
    http_response_free(&resp);
    free(body);
}
END_TEST

START_TEST(test_signup_body_over_16_kib_gets_413_and_nothing_stored)
{
    static const size_t SIZES[] = {16385, 100000, 1024 * 1024};
    char email[128];
    struct http_response resp;
    unique_email(email, sizeof email, "huge", CORP_DOMAIN);
    for (size_t i = 0; i < sizeof SIZES / sizeof SIZES[0]; i++) {
        char *body = padded_body(email, SIZES[i]);
        post_signup(body, &resp);
        assert_problem(&resp, 413, "payload_too_large");
        http_response_free(&resp);
        free(body);
    }
    ck_assert_int_eq(count_accounts(email), 0);
    assert_still_serving();
}
END_TEST

static const struct {
    const char *method, *path, *allow;
} WRONG_METHODS[] = {
    {"GET", "/signup", "POST, OPTIONS"},  {"PUT", "/signup", "POST, OPTIONS"},
    {"DELETE", "/signup", "POST, OPTIONS"}, {"POST", "/healthz", "GET, OPTIONS"},
    {"PATCH", "/readyz", "GET, OPTIONS"},
};

START_TEST(test_wrong_method_gets_405_with_allow)
{
    char allow[64];
    struct http_response resp;
    ck_assert(http_request(port, WRONG_METHODS[_i].method, WRONG_METHODS[_i].path, NULL, NULL, 0, &resp));
    assert_problem(&resp, 405, "method_not_allowed");
    ck_assert(http_header(&resp, "Allow", allow, sizeof allow));
    ck_assert_str_eq(allow, WRONG_METHODS[_i].allow);
    http_response_free(&resp);
}
END_TEST

START_TEST(test_unknown_path_gets_404_problem)
{
    static const char *const PATHS[] = {"/", "/nope", "/signup/extra/deep", "/../etc/passwd", "/%00"};
    struct http_response resp;
    for (size_t i = 0; i < sizeof PATHS / sizeof PATHS[0]; i++) {
        ck_assert(http_request(port, "GET", PATHS[i], NULL, NULL, 0, &resp));
        assert_problem(&resp, 404, "not_found");
        http_response_free(&resp);
    }
}
END_TEST

START_TEST(test_healthz_and_readyz_report_ok)
{
    struct http_response resp;
    ck_assert(http_request(port, "GET", "/healthz", NULL, NULL, 0, &resp));
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(json_str(resp.json, "status"), "ok");
    http_response_free(&resp);
    ck_assert(http_request(port, "GET", "/readyz", NULL, NULL, 0, &resp));
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(json_str(resp.json, "status"), "ready");
    http_response_free(&resp);
}
END_TEST

START_TEST(test_metrics_are_prometheus_text_with_request_and_outbox_series)
{
    char content_type[128];
    struct http_response resp;
    ck_assert(http_request(port, "GET", "/metrics", NULL, NULL, 0, &resp));
    ck_assert_int_eq(resp.status, 200);
    ck_assert(http_header(&resp, "Content-Type", content_type, sizeof content_type));
    ck_assert_ptr_nonnull(strstr(content_type, "text/plain"));
    ck_assert_ptr_nonnull(strstr(resp.body, "signup_http_requests_total{route=\"/signup\",status=\"201\"}"));
    ck_assert_ptr_nonnull(strstr(resp.body, "signup_signups_total{result=\"created\"}"));
    ck_assert_ptr_nonnull(strstr(resp.body, "signup_outbox_pending "));
    ck_assert_ptr_nonnull(strstr(resp.body, "signup_password_hash_queue_wait_seconds_count"));
    http_response_free(&resp);
}
END_TEST

START_TEST(test_openapi_document_is_served)
{
    char content_type[128];
    struct http_response resp;
    ck_assert(http_request(port, "GET", "/openapi.yaml", NULL, NULL, 0, &resp));
    ck_assert_int_eq(resp.status, 200);
    ck_assert(http_header(&resp, "Content-Type", content_type, sizeof content_type));
    ck_assert_ptr_nonnull(strstr(content_type, "yaml"));
    ck_assert(strncmp(resp.body, "openapi: 3.1", 12) == 0 || strstr(resp.body, "\nopenapi: 3.1") != NULL);
    http_response_free(&resp);
}
END_TEST

START_TEST(test_request_id_is_echoed_when_well_formed_and_generated_otherwise)
{
    char id[160];
    struct http_response resp;
    const char ok_request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: abc-123.XYZ_9\r\n\r\n";
    ck_assert(http_raw(port, ok_request, sizeof ok_request - 1, &resp));
    ck_assert(http_header(&resp, "X-Request-Id", id, sizeof id));
    ck_assert_str_eq(id, "abc-123.XYZ_9");
    http_response_free(&resp);
    const char bad_request[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: a b<script>\r\n\r\n";
    ck_assert(http_raw(port, bad_request, sizeof bad_request - 1, &resp));
    ck_assert(http_header(&resp, "X-Request-Id", id, sizeof id));
    ck_assert_uint_eq(strlen(id), 32);
    ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
    http_response_free(&resp);
}
END_TEST

START_TEST(test_database_unreachable_gives_readyz_503_and_signup_503_problem)
{
    /* A second server pointed at a port where nothing listens. */
    const char *env[] = {"AUTO_MIGRATE=false", "DATABASE_URL=postgresql://nobody@127.0.0.1:1/none", NULL};
    char email[128];
    struct http_response resp;
    int other_port = port + 1;
    pid_t pid = test_server_start(other_port, env, log_path);
    ck_assert_int_gt(pid, 0);

    ck_assert(http_request(other_port, "GET", "/readyz", NULL, NULL, 0, &resp));
    ck_assert_int_eq(resp.status, 503);
    ck_assert_str_eq(json_str(resp.json, "status"), "not_ready");
    http_response_free(&resp);

    unique_email(email, sizeof email, "nodb", CORP_DOMAIN);
    char *body = signup_body("No Database", email, GOOD_PASSWORD, "0812-3456-7890");
    ck_assert(http_request(other_port, "POST", "/signup", "application/json", body, strlen(body), &resp));
    assert_problem(&resp, 503, "service_unavailable");
    char retry_after[16];
    ck_assert(http_header(&resp, "Retry-After", retry_after, sizeof retry_after));
    http_response_free(&resp);
    free(body);

    int status = test_server_stop(pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_invalid_configuration_stops_startup_naming_the_variable)
{
    const char *env[] = {"PORT=not-a-port", NULL};
    (void)env;
    char command[512];
    const char *bin = getenv("SIGNUP_API_BIN") ? getenv("SIGNUP_API_BIN") : "build/signup-api";
    snprintf(command, sizeof command, "ARGON2_ITERATIONS=zero %s 2>&1", bin);
    FILE *out = popen(command, "r");
    char line[512] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, out));
    int status = pclose(out);
    ck_assert_msg(strstr(line, "ARGON2_ITERATIONS") != NULL, "got: %s", line);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}
END_TEST

static int count_migration_files(void)
{
    int n = 0;
    DIR *dir = opendir("db/migrations");
    struct dirent *entry;
    ck_assert_ptr_nonnull(dir);
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        n += len > 4 && strcmp(entry->d_name + len - 4, ".sql") == 0;
    }
    closedir(dir);
    return n;
}

START_TEST(test_instances_starting_together_apply_each_migration_once)
{
    /* Three servers start at once against an empty database: the advisory
     * lock must serialise them so every migration runs exactly once. */
    char dbname[64], url[512], env_url[600], create[128], drop[160], base[512];
    snprintf(base, sizeof base, "%s", getenv("TEST_DATABASE_URL"));
    const char *slash = strrchr(base, '/');
    snprintf(dbname, sizeof dbname, "signup_migrate_race_%d", (int)getpid());
    snprintf(url, sizeof url, "%.*s/%s", (int)(slash - base), base, dbname);
    snprintf(create, sizeof create, "CREATE DATABASE %s", dbname);
    snprintf(drop, sizeof drop, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    db_exec(drop);
    db_exec(create);
    snprintf(env_url, sizeof env_url, "DATABASE_URL=%s", url);
    const char *env[] = {env_url, "MAIL_WORKERS=0", NULL};

    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = test_server_spawn(port + 2 + i, env, log_path);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(test_server_wait_healthy(pids[i], port + 2 + i), "instance %d did not start", i);
    for (int i = 0; i < 3; i++)
        test_server_stop(pids[i]);

    setenv("TEST_DATABASE_URL", url, 1);
    char *applied = db_query_value("SELECT count(*) FROM schema_migrations", 0, NULL);
    char *files = db_query_value("SELECT count(*) FROM accounts", 0, NULL);
    setenv("TEST_DATABASE_URL", base, 1);
    ck_assert_ptr_nonnull(files); /* the schema exists */
    /* Had two instances run one migration, the loser would have failed on
     * CREATE TABLE and exited; all three are healthy and all files applied. */
    ck_assert_int_eq(atoi(applied), count_migration_files());
    free(applied);
    free(files);
    db_exec(drop);
}
END_TEST

static bool send_with_headers(const char *method, const char *path, const char *extra_headers, const char *body,
                              struct http_response *resp)
{
    char request[4096];
    int n = snprintf(request, sizeof request,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%zu\r\n\r\n%s", method, path,
                     extra_headers, "Content-Length: ", body ? strlen(body) : 0, body ? body : "");
    return http_raw(port, request, (size_t)n, resp);
}

START_TEST(test_cors_preflight_from_allowed_origin_lists_methods_headers_and_max_age)
{
    char value[256];
    struct http_response resp;
    ck_assert(send_with_headers("OPTIONS", "/signup",
                                "Origin: " SPA_ORIGIN "\r\nAccess-Control-Request-Method: POST\r\n"
                                "Access-Control-Request-Headers: content-type\r\n",
                                NULL, &resp));
    ck_assert_int_eq(resp.status, 204);
    ck_assert(http_header(&resp, "Access-Control-Allow-Origin", value, sizeof value));
    ck_assert_str_eq(value, SPA_ORIGIN);
    ck_assert(http_header(&resp, "Access-Control-Allow-Methods", value, sizeof value));
    ck_assert_ptr_nonnull(strstr(value, "POST"));
    ck_assert(http_header(&resp, "Access-Control-Allow-Headers", value, sizeof value));
    ck_assert_ptr_nonnull(strstr(value, "Content-Type"));
    ck_assert(http_header(&resp, "Access-Control-Max-Age", value, sizeof value));
    ck_assert_int_gt(atoi(value), 0);
    ck_assert(!http_header(&resp, "Access-Control-Allow-Credentials", value, sizeof value));
    http_response_free(&resp);
}
END_TEST

START_TEST(test_cors_actual_response_to_allowed_origin_carries_origin_vary_and_exposed_headers)
{
    char value[256];
    struct http_response resp;
    ck_assert(send_with_headers("POST", "/signup", "Origin: " SPA_ORIGIN "\r\nContent-Type: application/json\r\n",
                                "{}", &resp));
    ck_assert_int_eq(resp.status, 422);
    ck_assert(http_header(&resp, "Access-Control-Allow-Origin", value, sizeof value));
    ck_assert_str_eq(value, SPA_ORIGIN);
    ck_assert(http_header(&resp, "Vary", value, sizeof value));
    ck_assert_ptr_nonnull(strstr(value, "Origin"));
    ck_assert(http_header(&resp, "Access-Control-Expose-Headers", value, sizeof value));
    ck_assert_ptr_nonnull(strstr(value, "Retry-After"));
    ck_assert_ptr_nonnull(strstr(value, "X-Request-Id"));
    http_response_free(&resp);

    ck_assert(send_with_headers("GET", "/no-such-path", "Origin: https://portal.example.com\r\n", NULL, &resp));
    ck_assert_int_eq(resp.status, 404);
    ck_assert(http_header(&resp, "Access-Control-Allow-Origin", value, sizeof value));
    ck_assert_str_eq(value, "https://portal.example.com");
    http_response_free(&resp);
}
END_TEST

static const char *const DISALLOWED_ORIGINS[] = {
    "http://evil.example", "http://localhost:5174", "https://localhost:5173", "null",
    "http://localhost:5173.evil.example", "*",
};

START_TEST(test_cors_disallowed_origin_gets_no_cors_headers)
{
    char headers[256], value[256];
    struct http_response resp;
    snprintf(headers, sizeof headers, "Origin: %s\r\nAccess-Control-Request-Method: POST\r\n", DISALLOWED_ORIGINS[_i]);
    ck_assert(send_with_headers("OPTIONS", "/signup", headers, NULL, &resp));
    ck_assert_int_eq(resp.status, 204);
    ck_assert(!http_header(&resp, "Access-Control-Allow-Origin", value, sizeof value));
    ck_assert(!http_header(&resp, "Access-Control-Allow-Methods", value, sizeof value));
    http_response_free(&resp);

    snprintf(headers, sizeof headers, "Origin: %s\r\nContent-Type: application/json\r\n", DISALLOWED_ORIGINS[_i]);
    ck_assert(send_with_headers("POST", "/signup", headers, "{}", &resp));
    ck_assert_int_eq(resp.status, 422);
    ck_assert(!http_header(&resp, "Access-Control-Allow-Origin", value, sizeof value));
    ck_assert(!http_header(&resp, "Access-Control-Expose-Headers", value, sizeof value));
    http_response_free(&resp);
}
END_TEST

/* Sends a sign-up as if from client_ip behind our trusted proxy (127.0.0.1). */
static int signup_from(int to_port, const char *client_ip, const char *email, struct http_response *resp)
{
    char headers[256], request[4096];
    char *body = signup_body("Limited Person", email, GOOD_PASSWORD, "0812-3456-7890");
    snprintf(headers, sizeof headers, "X-Forwarded-For: %s\r\nContent-Type: application/json\r\n", client_ip);
    int n = snprintf(request, sizeof request,
                     "POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n%s",
                     headers, strlen(body), body);
    free(body);
    ck_assert(http_raw(to_port, request, (size_t)n, resp));
    return resp->status;
}

START_TEST(test_rate_limits_per_ip_and_per_address_answer_429_with_retry_after)
{
    const char *env[] = {"RATE_LIMITS_ENABLED=true", "TRUSTED_PROXIES=127.0.0.1", "RATE_LIMIT_SIGNUPS_PER_IP_HOUR=3",
                         "RATE_LIMIT_SIGNUPS_PER_EMAIL_HOUR=2", "RATE_LIMIT_RESENDS_PER_EMAIL_MINUTE=1",
                         "MAIL_WORKERS=0", NULL};
    int limited_port = port + 5;
    char email[128], retry_after[16], client[32];
    struct http_response resp;
    pid_t pid = test_server_start(limited_port, env, log_path);
    ck_assert_int_gt(pid, 0);
    snprintf(client, sizeof client, "203.0.113.%d", (int)(getpid() % 250) + 1);

    /* Per client IP, as resolved from X-Forwarded-For behind a trusted proxy. */
    for (int i = 0; i < 3; i++) {
        unique_email(email, sizeof email, "perip", CORP_DOMAIN);
        ck_assert_int_eq(signup_from(limited_port, client, email, &resp), 201);
        http_response_free(&resp);
    }
    unique_email(email, sizeof email, "perip", CORP_DOMAIN);
    ck_assert_int_eq(signup_from(limited_port, client, email, &resp), 429);
    assert_problem(&resp, 429, "rate_limited");
    ck_assert(http_header(&resp, "Retry-After", retry_after, sizeof retry_after));
    ck_assert_int_gt(atoi(retry_after), 0);
    ck_assert_int_le(atoi(retry_after), 3600);
    http_response_free(&resp);
    ck_assert_int_eq(count_accounts(email), 0);

    /* A forged left-most entry does not escape the limit: the right-most
     * untrusted address is the one counted. */
    char forged[96];
    snprintf(forged, sizeof forged, "198.51.100.77, %s", client);
    ck_assert_int_eq(signup_from(limited_port, forged, email, &resp), 429);
    http_response_free(&resp);

    /* Another client is not affected. */
    snprintf(client, sizeof client, "192.0.2.%d", (int)(getpid() % 250) + 1);
    ck_assert_int_eq(signup_from(limited_port, client, email, &resp), 201);
    http_response_free(&resp);

    /* Per address, in any letter case, whichever IP it comes from. */
    for (size_t i = 0; email[i] != '@'; i++)
        email[i] = (char)(email[i] >= 'a' && email[i] <= 'z' ? email[i] - 32 : email[i]);
    ck_assert_int_eq(signup_from(limited_port, "192.0.2.250", email, &resp), 201); /* 2nd for this address */
    http_response_free(&resp);
    ck_assert_int_eq(signup_from(limited_port, "192.0.2.251", email, &resp), 429);
    http_response_free(&resp);

    /* Resends: one a minute per address, the same for unknown addresses. */
    char body[200];
    unique_email(email, sizeof email, "nobody", CORP_DOMAIN);
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", email);
    ck_assert(http_request(limited_port, "POST", "/verify/resend", "application/json", body, strlen(body), &resp));
    ck_assert_int_eq(resp.status, 202);
    http_response_free(&resp);
    ck_assert(http_request(limited_port, "POST", "/verify/resend", "application/json", body, strlen(body), &resp));
    assert_problem(&resp, 429, "rate_limited");
    http_response_free(&resp);

    /* The counters hold a hash of the address, never the address. */
    const char *params[] = {email};
    char *hashed = db_query_value("SELECT count(*) FROM rate_limit_counters "
                                  "WHERE key_hash = sha256(convert_to(lower($1), 'UTF8'))", 1, params);
    char *plain = db_query_value("SELECT count(*) FROM rate_limit_counters "
                                 "WHERE position(convert_to(lower($1), 'UTF8') IN key_hash) > 0", 1, params);
    ck_assert_int_gt(atoi(hashed), 0);
    ck_assert_str_eq(plain, "0");
    free(hashed);
    free(plain);

    test_server_stop(pid);
}
END_TEST

/* Runs last: every password the suite sent must be absent from the log. */
START_TEST(test_passwords_never_appear_in_server_log)
{
    static const char *const SECRETS[] = {GOOD_PASSWORD, "An0ther!Pass", "P4ss'word", "Sh0rt!"};
    FILE *log = fopen(log_path, "r");
    char line[8192];
    ck_assert_ptr_nonnull(log);
    while (fgets(line, sizeof line, log) != NULL) {
        for (size_t i = 0; i < sizeof SECRETS / sizeof SECRETS[0]; i++)
            ck_assert_msg(strstr(line, SECRETS[i]) == NULL, "password in log: %s", line);
    }
    fclose(log);
}
END_TEST

static Suite *api_signup_suite(void)
{
    Suite *s = suite_create("api_signup");
    TCase *tc = tcase_create("http");
    tcase_add_unchecked_fixture(tc, server_setup, server_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_healthz_and_readyz_report_ok);
    tcase_add_test(tc, test_signup_valid_request_creates_account_and_returns_201);
    tcase_add_test(tc, test_signup_email_domain_is_lowercased_and_national_phone_normalised);
    tcase_add_test(tc, test_signup_duplicate_in_another_letter_case_gets_identical_201_and_no_second_row);
    tcase_add_test(tc, test_signup_twenty_concurrent_duplicates_create_exactly_one_row);
    tcase_add_test(tc, test_signup_sql_metacharacters_are_stored_literally);
    tcase_add_test(tc, test_signup_lists_every_violation_at_once_as_problem_json);
    tcase_add_test(tc, test_signup_missing_fields_are_each_required);
    tcase_add_loop_test(tc, test_signup_each_rule_alone_gives_its_code, 0,
                        sizeof SINGLE_VIOLATIONS / sizeof SINGLE_VIOLATIONS[0]);
    tcase_add_test(tc, test_signup_terms_must_be_exactly_true);
    tcase_add_loop_test(tc, test_signup_malformed_or_mistyped_body_gets_400, 0,
                        sizeof BAD_BODIES / sizeof BAD_BODIES[0]);
    tcase_add_loop_test(tc, test_signup_wrong_content_type_gets_415, 0,
                        sizeof BAD_CONTENT_TYPES / sizeof BAD_CONTENT_TYPES[0]);
    tcase_add_test(tc, test_signup_json_content_type_with_charset_is_accepted);
    tcase_add_test(tc, test_signup_body_of_exactly_16_kib_is_accepted);
    tcase_add_test(tc, test_signup_body_over_16_kib_gets_413_and_nothing_stored);
    tcase_add_loop_test(tc, test_wrong_method_gets_405_with_allow, 0, sizeof WRONG_METHODS / sizeof WRONG_METHODS[0]);
    tcase_add_test(tc, test_unknown_path_gets_404_problem);
    tcase_add_test(tc, test_metrics_are_prometheus_text_with_request_and_outbox_series);
    tcase_add_test(tc, test_openapi_document_is_served);
    tcase_add_test(tc, test_request_id_is_echoed_when_well_formed_and_generated_otherwise);
    tcase_add_test(tc, test_database_unreachable_gives_readyz_503_and_signup_503_problem);
    tcase_add_test(tc, test_invalid_configuration_stops_startup_naming_the_variable);
    tcase_add_test(tc, test_instances_starting_together_apply_each_migration_once);
    tcase_add_test(tc, test_cors_preflight_from_allowed_origin_lists_methods_headers_and_max_age);
    tcase_add_test(tc, test_cors_actual_response_to_allowed_origin_carries_origin_vary_and_exposed_headers);
    tcase_add_loop_test(tc, test_cors_disallowed_origin_gets_no_cors_headers, 0,
                        sizeof DISALLOWED_ORIGINS / sizeof DISALLOWED_ORIGINS[0]);
    tcase_add_test(tc, test_rate_limits_per_ip_and_per_address_answer_429_with_retry_after);
    tcase_add_test(tc, test_passwords_never_appear_in_server_log);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(api_signup_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
