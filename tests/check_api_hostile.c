/* Hostile input, end to end: one table of attacks sent as raw bytes to the
 * real signup-api binary, each with the answer it must get, and after every
 * one a normal sign-up that must still succeed, so a request that crashed,
 * hung or poisoned the server fails the very row that did it.
 *
 * Answers come from two places. Everything that reaches our handlers is
 * problem+json (or the endpoint's documented JSON) and is checked exactly.
 * A few requests are refused by libmicrohttpd before any of our code runs, so
 * their answers are MHD's own HTML (or nothing); for those rows (SERVER_LEVEL)
 * only "4xx, or the connection closed, and the server keeps serving" is
 * asserted:
 *   - a request line that is not HTTP ("GARBAGE"): MHD closes without answering;
 *   - HTTP/1.1 without Host: MHD answers 400 itself (RFC 9112 section 3.2);
 *   - a header block or request target larger than MHD_OPTION_CONNECTION_MEMORY_LIMIT
 *     (32 KiB in api/http_server.c): 431 / 414 from MHD;
 *   - a header line without a colon, a non-numeric Content-Length, a chunk size
 *     that is not hex or overflows: 400 / 413 from MHD's parser;
 *   - HTTP/2.0 in an HTTP/1 request line: 505 from MHD;
 *   - bytes that never complete a header block (a TLS ClientHello), a
 *     transfer coding MHD does not know, or a Content-Length far beyond what
 *     is sent: MHD waits for more and closes after CONNECTION_TIMEOUT (set to
 *     3 s below so these rows stay fast), never reaching a handler. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_assert.h"
#include "support.h"

#define CORP_DOMAIN "lintasarta.co.id"
#define GOOD_PASSWORD "Str0ng!Pass"
#define ALLOWED_ORIGIN "https://portal.example.com"
/* MHD drops a connection idle this long; the hanging rows wait for it. */
#define CONNECTION_TIMEOUT_S "3"
/* Generously above CONNECTION_TIMEOUT, well below http_raw's 30 s. */
#define SERVER_LEVEL_MAX_SECONDS 15.0
#define MIB (1024 * 1024)

/* Placeholders in bodies, stored values and targets: a fresh address for
 * each row, and its local part. */
#define EMAIL_SLOT "@EMAIL@"
#define LOCAL_SLOT "@LOCAL@"

/* A valid sign-up body with one field replaced by a raw JSON value. */
#define MEMBERS(name, email, password, phone, terms)                                                                   \
    "\"full_name\":" name ",\"email\":" email ",\"password\":" password ",\"phone_number\":" phone                     \
    ",\"accept_terms\":" terms
#define SIGNUP(name, email, password, phone, terms) "{" MEMBERS(name, email, password, phone, terms) "}"
#define NAME_OK "\"Valid Name\""
#define EMAIL_OK "\"" EMAIL_SLOT "\""
#define PASSWORD_OK "\"" GOOD_PASSWORD "\""
#define PHONE_OK "\"0812-3456-7890\""
#define TERMS_OK "true"
#define WITH_NAME(v) SIGNUP(v, EMAIL_OK, PASSWORD_OK, PHONE_OK, TERMS_OK)
#define WITH_EMAIL(v) SIGNUP(NAME_OK, v, PASSWORD_OK, PHONE_OK, TERMS_OK)
#define WITH_PASSWORD(v) SIGNUP(NAME_OK, EMAIL_OK, v, PHONE_OK, TERMS_OK)
#define WITH_PHONE(v) SIGNUP(NAME_OK, EMAIL_OK, PASSWORD_OK, v, TERMS_OK)
#define WITH_TERMS(v) SIGNUP(NAME_OK, EMAIL_OK, PASSWORD_OK, PHONE_OK, v)
#define VALID_MEMBERS MEMBERS(NAME_OK, EMAIL_OK, PASSWORD_OK, PHONE_OK, TERMS_OK)
#define VALID_SIGNUP "{" VALID_MEMBERS "}"

/* Literal bodies and raw requests may hold NUL bytes, so their length is taken
 * from the array, not strlen. */
#define BODY(s) .body = (s), .body_len = sizeof(s) - 1
#define RAW(s) .raw = (s), .raw_len = sizeof(s) - 1

#define TWO_POW_70 "1180591620717411303424"
#define TOKEN_42 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define TOKEN_43 TOKEN_42 "A"

enum framing {
    FRAME_LENGTH,  /* Content-Length (the default) */
    FRAME_CHUNKED, /* Transfer-Encoding: chunked, 4 KiB chunks */
    FRAME_NONE,    /* neither header; the body, if any, follows the head as is */
};

enum case_flags {
    SERVER_LEVEL = 1 << 0, /* refused by MHD: 4xx or closed, nothing more */
    NO_BODY = 1 << 1,      /* HEAD: the answer has headers only */
    FRESH_ID = 1 << 2,     /* the client's X-Request-Id must not come back */
    NO_CORS = 1 << 3,      /* no Access-Control-Allow-Origin at all */
};

/* Per row: a fresh address and its local part, for bodies that need one. */
struct row_context {
    char email[128];
    char local[128];
};

struct hostile_case {
    const char *name;
    /* The request, either fully raw (raw or make_raw) or assembled from parts. */
    const char *raw;
    size_t raw_len;
    char *(*make_raw)(const struct row_context *ctx, size_t *len);
    const char *method;
    const char *target;
    const char *version;      /* NULL: HTTP/1.1 with Host and Connection: close */
    const char *headers;      /* extra header lines, each ending in CRLF */
    const char *content_type; /* NULL: no Content-Type header */
    const char *body;
    size_t body_len;
    char *(*make_body)(const struct row_context *ctx, size_t *len);
    enum framing framing;
    /* The answer. */
    int status;              /* for SERVER_LEVEL rows: 0 = any 4xx or a close */
    const char *code;        /* problem code; NULL for the endpoint's JSON */
    const char *error_field; /* optional errors[] entry */
    const char *error_code;
    const char *json_status;   /* success bodies: their "status" */
    const char *allow;         /* expected Allow header */
    const char *stored_email;  /* when set, the account with this email ... */
    const char *stored_column; /* ... has this column ... */
    const char *stored_value;  /* ... equal to this */
    unsigned flags;
};

static int port;
static pid_t server_pid = -1;

static void server_setup(void)
{
    const char *port_text = getenv("TEST_HTTP_PORT");
    const char *log_path = getenv("TEST_SERVER_LOG") ? getenv("TEST_SERVER_LOG") : "build/test-server-hostile.log";
    /* Every row ends with a sign-up from 127.0.0.1: per-IP limits would
     * answer 429 after a few rows. */
    static const char *const env[] = {"MAIL_WORKERS=0", "CONNECTION_TIMEOUT=" CONNECTION_TIMEOUT_S,
                                      "CORS_ALLOWED_ORIGINS=" ALLOWED_ORIGIN, "RATE_LIMITS_ENABLED=false", NULL};
    port = port_text ? atoi(port_text) : 18400;
    server_pid = test_server_start(port, env, log_path);
    if (server_pid < 0)
        exit(EXIT_FAILURE);
}

static void server_teardown(void)
{
    test_server_stop(server_pid);
}

/* ---- body and request generators ---------------------------------------- */

static char *repeat_around(const char *head, const char *open, size_t depth, const char *middle, const char *close,
                           const char *tail, size_t *len)
{
    size_t open_len = strlen(open), close_len = strlen(close);
    size_t total = strlen(head) + depth * (open_len + close_len) + strlen(middle) + strlen(tail);
    char *body = malloc(total + 1);
    char *p = body;
    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < depth; i++, p += open_len)
        memcpy(p, open, open_len);
    p += sprintf(p, "%s", middle);
    for (size_t i = 0; i < depth; i++, p += close_len)
        memcpy(p, close, close_len);
    sprintf(p, "%s", tail);
    *len = total;
    return body;
}

/* 5000 nested arrays in a field: 10 KB, far past jansson's depth limit (2048). */
static char *deep_arrays_in_field(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return repeat_around("{\"full_name\":", "[", 5000, "", "]", "}", len);
}

/* 8000 nested arrays as the whole body: 16000 bytes, just under the size limit. */
static char *deep_arrays_top_level(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return repeat_around("", "[", 8000, "", "]", "", len);
}

/* 2700 nested objects: 16201 bytes, past the depth limit. */
static char *deep_objects(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return repeat_around("", "{\"a\":", 2700, "1", "}", "", len);
}

/* 2000 nested objects: deep, but within jansson's limit, so it parses. */
static char *deep_objects_within_limit(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return repeat_around("", "{\"a\":", 2000, "{}", "}", "", len);
}

/* 2000 nested arrays as the full_name value: parses, but is not a string. */
static char *deep_arrays_as_name(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return repeat_around("{\"full_name\":", "[", 2000, "", "]", "}", len);
}

static char *mib_string_in(const char *field, size_t *len)
{
    char head[64];
    snprintf(head, sizeof head, "{\"%s\":\"", field);
    size_t head_len = strlen(head);
    char *body = malloc(head_len + MIB + 3);
    memcpy(body, head, head_len);
    memset(body + head_len, 'a', MIB);
    memcpy(body + head_len + MIB, "\"}", 3);
    *len = head_len + MIB + 2;
    return body;
}

static char *mib_name(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return mib_string_in("full_name", len);
}

static char *mib_email(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return mib_string_in("email", len);
}

/* A valid sign-up for email, padded with trailing spaces to exactly size
 * bytes (0: not padded). */
static char *signup_for(const char *email, size_t size, size_t *len)
{
    char json[1024];
    int n = snprintf(json, sizeof json, WITH_EMAIL("\"%s\""), email);
    size_t total = size > (size_t)n ? size : (size_t)n;
    char *body = malloc(total + 1);
    memcpy(body, json, (size_t)n);
    memset(body + n, ' ', total - (size_t)n);
    body[total] = '\0';
    *len = total;
    return body;
}

static char *valid_16384(const struct row_context *ctx, size_t *len)
{
    return signup_for(ctx->email, 16384, len);
}

static char *valid_16385(const struct row_context *ctx, size_t *len)
{
    return signup_for(ctx->email, 16385, len);
}

/* The row's local part padded with 'x' to local_len octets, then '@' and a
 * domain of domain_len octets made of 'b' labels (at most label_max each)
 * ending in CORP_DOMAIN. */
static char *signup_with_sized_email(const struct row_context *ctx, size_t local_len, size_t domain_len,
                                     size_t label_max, size_t *len)
{
    char email[600];
    size_t n = strlen(ctx->local);
    ck_assert_uint_le(n, local_len);
    memcpy(email, ctx->local, n);
    memset(email + n, 'x', local_len - n);
    n = local_len;
    email[n++] = '@';
    size_t rest = domain_len - strlen(CORP_DOMAIN);
    while (rest > 0) {
        /* Each label needs its dot; never leave a remainder too short for one. */
        size_t label = rest - 1 > label_max ? label_max : rest - 1;
        if (rest - 1 - label == 1)
            label--;
        memset(email + n, 'b', label);
        n += label;
        email[n++] = '.';
        rest -= label + 1;
    }
    memcpy(email + n, CORP_DOMAIN, strlen(CORP_DOMAIN) + 1);
    return signup_for(email, 0, len);
}

/* RFC 5321 limits: 64-octet local part, 63-octet labels, 254 octets in all. */
static char *email_local_64(const struct row_context *ctx, size_t *len)
{
    return signup_with_sized_email(ctx, 64, strlen(CORP_DOMAIN), 63, len);
}

static char *email_local_65(const struct row_context *ctx, size_t *len)
{
    return signup_with_sized_email(ctx, 65, strlen(CORP_DOMAIN), 63, len);
}

static char *email_254_octets(const struct row_context *ctx, size_t *len)
{
    return signup_with_sized_email(ctx, 64, 254 - 65, 63, len);
}

static char *email_255_octets(const struct row_context *ctx, size_t *len)
{
    return signup_with_sized_email(ctx, 64, 255 - 65, 63, len);
}

static char *email_label_63(const struct row_context *ctx, size_t *len)
{
    return signup_with_sized_email(ctx, strlen(ctx->local), 64 + strlen(CORP_DOMAIN), 63, len);
}

static char *email_label_64(const struct row_context *ctx, size_t *len)
{
    return signup_with_sized_email(ctx, strlen(ctx->local), 65 + strlen(CORP_DOMAIN), 64, len);
}

static char *head_with(const char *before, char fill, size_t fill_len, const char *after, size_t *len)
{
    size_t a = strlen(before), b = strlen(after);
    char *request = malloc(a + fill_len + b + 1);
    memcpy(request, before, a);
    memset(request + a, fill, fill_len);
    memcpy(request + a + fill_len, after, b + 1);
    *len = a + fill_len + b;
    return request;
}

/* A 10 KB token: fits in MHD's 32 KiB header memory, so it reaches /verify. */
static char *verify_10kb_token(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return head_with("GET /verify?token=", 'A', 10 * 1024, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     len);
}

static char *header_40kb(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return head_with("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: ", 'a', 40 * 1024,
                     "\r\n\r\n", len);
}

static char *target_40kb(const struct row_context *ctx, size_t *len)
{
    (void)ctx;
    return head_with("GET /", 'a', 40 * 1024, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", len);
}

/* ---- the table ----------------------------------------------------------- */

static const struct hostile_case CASES[] = {
    /* Invalid UTF-8 in strings and keys. */
    {"invalid UTF-8 bytes in a string", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"\xff\xfe\"")), .status = 400, .code = "malformed_json"},
    {"invalid UTF-8 in a key", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY("{\"\xff\":\"x\",\"email\":\"" EMAIL_SLOT "\"}"), .status = 400, .code = "malformed_json"},
    {"overlong UTF-8 '/' in a string", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"..\xc0\xaf..\"")), .status = 400, .code = "malformed_json"},
    {"UTF-8-encoded surrogate (CESU-8)", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"\xed\xa0\x80\"")), .status = 400, .code = "malformed_json"},
    {"code point above U+10FFFF", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"\xf4\x90\x80\x80\"")), .status = 400, .code = "malformed_json"},
    {"truncated UTF-8 sequence before the closing quote", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY(WITH_NAME("\"Budi\xe2\x82\"")), .status = 400, .code = "malformed_json"},
    /* jansson's error text for these ends inside the UTF-8 sequence ("near
     * '"\<0xC3>'"); found by tests/fuzz/fuzz_signup_request. */
    {"backslash before a multi-byte character", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY(WITH_NAME("\"\\\xc3\xa9\"")), .status = 400, .code = "malformed_json"},
    {"backslash before a multi-byte character, /verify/resend", .method = "POST", .target = "/verify/resend",
     .content_type = "application/json", BODY("{\"email\":\"\\\xc3\xa9\"}"), .status = 400, .code = "malformed_json"},
    {"lone escaped surrogate \\ud800", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"\\ud800\"")), .status = 400, .code = "malformed_json"},
    /* NUL, escaped and raw. */
    {"\\u0000 inside a string", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PASSWORD("\"Str0ng!Pass\\u0000tail\"")), .status = 400, .code = "malformed_json"},
    {"\\u0000 inside a key", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY("{\"email\\u0000x\":\"" EMAIL_SLOT "\"}"), .status = 400, .code = "malformed_json"},
    {"raw NUL byte inside a string", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"Budi\0Santoso\"")), .status = 400, .code = "malformed_json"},
    {"raw NUL byte after the object", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(VALID_SIGNUP "\0"), .status = 400, .code = "malformed_json"},
    {"body of a single NUL byte", .method = "POST", .target = "/signup", .content_type = "application/json", BODY("\0"),
     .status = 400, .code = "malformed_json"},
    /* Nesting. */
    {"5000 nested arrays in a field (10 KB)", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = deep_arrays_in_field, .status = 400, .code = "malformed_json"},
    {"8000 nested arrays as the body (16000 bytes)", .method = "POST", .target = "/signup",
     .content_type = "application/json", .make_body = deep_arrays_top_level, .status = 400, .code = "malformed_json"},
    {"2700 nested objects (16201 bytes)", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = deep_objects, .status = 400, .code = "malformed_json"},
    {"2000 nested objects, within the parser's limit", .method = "POST", .target = "/signup",
     .content_type = "application/json", .make_body = deep_objects_within_limit, .status = 422,
     .code = "validation_failed", .error_field = "full_name", .error_code = "full_name_required"},
    {"2000 nested arrays as full_name", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = deep_arrays_as_name, .status = 400, .code = "wrong_field_type", .error_field = "full_name",
     .error_code = "wrong_type"},
    /* Huge numbers in every field. */
    {"1e999999 as full_name", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("1e999999")), .status = 400, .code = "malformed_json"},
    {"1e999999 as email", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL("1e999999")), .status = 400, .code = "malformed_json"},
    {"-1e999999 as password", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PASSWORD("-1e999999")), .status = 400, .code = "malformed_json"},
    {"1e999999 as phone_number", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PHONE("1e999999")), .status = 400, .code = "malformed_json"},
    {"1e999999 as accept_terms", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_TERMS("1e999999")), .status = 400, .code = "malformed_json"},
    {"2^70 as full_name", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME(TWO_POW_70)), .status = 400, .code = "malformed_json"},
    {"2^70 as email", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL(TWO_POW_70)), .status = 400, .code = "malformed_json"},
    {"-2^70 as password", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PASSWORD("-" TWO_POW_70)), .status = 400, .code = "malformed_json"},
    {"2^70 as phone_number", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PHONE(TWO_POW_70)), .status = 400, .code = "malformed_json"},
    {"2^70 as accept_terms", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_TERMS(TWO_POW_70)), .status = 400, .code = "malformed_json"},
    {"1e-999999 (underflows to 0) as full_name", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY(WITH_NAME("1e-999999")), .status = 400, .code = "wrong_field_type",
     .error_field = "full_name", .error_code = "wrong_type"},
    /* Duplicate keys, BOM, trailing garbage, empty. */
    {"duplicate key", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY("{\"password\":\"x\"," VALID_MEMBERS "}"), .status = 400, .code = "malformed_json"},
    {"duplicate key spelled with an escape (em\\u0061il)", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY("{\"em\\u0061il\":\"x@" CORP_DOMAIN "\"," VALID_MEMBERS "}"),
     .status = 400, .code = "malformed_json"},
    {"duplicate key in a nested object", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY("{\"extra\":{\"a\":1,\"a\":2}," VALID_MEMBERS "}"), .status = 400, .code = "malformed_json"},
    {"UTF-8 byte order mark before the object", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY("\xef\xbb\xbf" VALID_SIGNUP), .status = 400, .code = "malformed_json"},
    {"trailing garbage after the object", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(VALID_SIGNUP " x"), .status = 400, .code = "malformed_json"},
    {"two objects", .method = "POST", .target = "/signup", .content_type = "application/json", BODY(VALID_SIGNUP "{}"),
     .status = 400, .code = "malformed_json"},
    {"trailing comma", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY("{\"full_name\":\"x\",}"), .status = 400, .code = "malformed_json"},
    {"single-quoted JSON", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY("{'full_name':'x'}"), .status = 400, .code = "malformed_json"},
    {"NaN literal", .method = "POST", .target = "/signup", .content_type = "application/json", BODY(WITH_TERMS("NaN")),
     .status = 400, .code = "malformed_json"},
    {"empty body", .method = "POST", .target = "/signup", .content_type = "application/json", BODY(""), .status = 400,
     .code = "malformed_json"},
    {"whitespace-only body", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(" \r\n\t "), .status = 400, .code = "malformed_json"},
    /* Size: 1 MiB strings, and the exact limit, with either framing. */
    {"1 MiB full_name with Content-Length", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = mib_name, .status = 413, .code = "payload_too_large"},
    {"1 MiB full_name chunked", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = mib_name, .framing = FRAME_CHUNKED, .status = 413, .code = "payload_too_large"},
    {"1 MiB email to /verify/resend with Content-Length", .method = "POST", .target = "/verify/resend",
     .content_type = "application/json", .make_body = mib_email, .status = 413, .code = "payload_too_large"},
    {"1 MiB email to /verify/resend chunked", .method = "POST", .target = "/verify/resend",
     .content_type = "application/json", .make_body = mib_email, .framing = FRAME_CHUNKED, .status = 413,
     .code = "payload_too_large"},
    {"valid body of exactly 16384 bytes, chunked", .method = "POST", .target = "/signup",
     .content_type = "application/json", .make_body = valid_16384, .framing = FRAME_CHUNKED, .status = 201,
     .json_status = "pending_verification"},
    {"valid body of 16385 bytes, chunked", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = valid_16385, .framing = FRAME_CHUNKED, .status = 413, .code = "payload_too_large"},
    {"Transfer-Encoding: chunked and a contradicting Content-Length", .method = "POST", .target = "/signup",
     .headers = "Content-Length: 3\r\n", .content_type = "application/json", BODY(VALID_SIGNUP),
     .framing = FRAME_CHUNKED, .status = 201, .json_status = "pending_verification"},
    /* Header injection. */
    {"X-Request-Id with spaces", .method = "GET", .target = "/healthz", .headers = "X-Request-Id: id with spaces\r\n",
     .status = 200, .json_status = "ok", .flags = FRESH_ID},
    {"X-Request-Id with %0d%0a and a Set-Cookie", .method = "POST", .target = "/signup",
     .headers = "X-Request-Id: abc%0d%0aSet-Cookie:%20injected=1%0d%0aX-Injected:%201\r\n",
     .content_type = "application/json", BODY("{}"), .status = 422, .code = "validation_failed", .flags = FRESH_ID},
    {"X-Request-Id of 200 characters", .method = "GET", .target = "/healthz",
     .headers = "X-Request-Id: "
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                "\r\n",
     .status = 200, .json_status = "ok", .flags = FRESH_ID},
    {"X-Request-Id folded onto a Set-Cookie continuation line", .method = "GET", .target = "/healthz",
     .headers = "X-Request-Id: abc\r\n Set-Cookie: injected=1\r\n", .status = 200, .json_status = "ok",
     .flags = FRESH_ID},
    {"X-Request-Id with a bare CR before Set-Cookie", .method = "GET",
     .target = "/verify?token=", .headers = "X-Request-Id: abc\rSet-Cookie: injected=1\r\n", .status = 400,
     .code = "token_required", .flags = FRESH_ID},
    {"X-Request-Id with non-ASCII bytes", .method = "GET", .target = "/healthz",
     .headers = "X-Request-Id: \xc3\xa9\xe2\x80\xae\r\n", .status = 200, .json_status = "ok", .flags = FRESH_ID},
    {"Origin that merely starts with an allowed origin", .method = "POST", .target = "/signup",
     .headers = "Origin: " ALLOWED_ORIGIN ".evil.example\r\n", .content_type = "application/json", BODY("[]"),
     .status = 400, .code = "body_not_object", .flags = NO_CORS},
    /* Mail header injection and invisible characters in the name. */
    {"CRLF in full_name to add a Bcc", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"Eve\\r\\nBcc: victim@example.com\"")), .status = 422, .code = "validation_failed",
     .error_field = "full_name", .error_code = "full_name_invalid"},
    {"bare LF in full_name to add a Bcc", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"Eve\\nBcc: victim@example.com\"")), .status = 422, .code = "validation_failed",
     .error_field = "full_name", .error_code = "full_name_invalid"},
    {"CRLF in email to add a Bcc", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL("\"eve@" CORP_DOMAIN "\\r\\nBcc: victim@example.com\"")), .status = 422,
     .code = "validation_failed", .error_field = "email", .error_code = "email_invalid"},
    {"RIGHT-TO-LEFT OVERRIDE U+202E in full_name", .method = "POST", .target = "/signup",
     .content_type = "application/json",
     BODY(WITH_NAME("\"Eve \xe2\x80\xae"
                    "exe.txt\"")),
     .status = 422, .code = "validation_failed", .error_field = "full_name", .error_code = "full_name_invalid"},
    {"LEFT-TO-RIGHT ISOLATE U+2066 in full_name", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY(WITH_NAME("\"Eve\\u2066Smith\"")), .status = 422,
     .code = "validation_failed", .error_field = "full_name", .error_code = "full_name_invalid"},
    {"RIGHT-TO-LEFT MARK U+200F in full_name", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY(WITH_NAME("\"Eve\\u200fSmith\"")), .status = 422,
     .code = "validation_failed", .error_field = "full_name", .error_code = "full_name_invalid"},
    {"C1 control NEL U+0085 in full_name", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"Eve\xc2\x85Smith\"")), .status = 422, .code = "validation_failed", .error_field = "full_name",
     .error_code = "full_name_invalid"},
    {"ESC sequence in full_name", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"Eve\\u001b[31mSmith\"")), .status = 422, .code = "validation_failed", .error_field = "full_name",
     .error_code = "full_name_invalid"},
    {"DEL in full_name", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("\"Eve\x7fSmith\"")), .status = 422, .code = "validation_failed", .error_field = "full_name",
     .error_code = "full_name_invalid"},
    {"<script> in full_name is stored literally", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY(WITH_NAME("\"<script>alert(1)</script>\"")), .status = 201,
     .json_status = "pending_verification", .stored_email = EMAIL_SLOT, .stored_column = "full_name",
     .stored_value = "<script>alert(1)</script>"},
    /* Overlong and exotic emails. */
    {"email with a 64-octet local part", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = email_local_64, .status = 201, .json_status = "pending_verification"},
    {"email with a 65-octet local part", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = email_local_65, .status = 422, .code = "validation_failed", .error_field = "email",
     .error_code = "email_invalid"},
    {"email of 254 octets", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = email_254_octets, .status = 201, .json_status = "pending_verification"},
    {"email of 255 octets", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = email_255_octets, .status = 422, .code = "validation_failed", .error_field = "email",
     .error_code = "email_invalid"},
    {"email with a 63-character label", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = email_label_63, .status = 201, .json_status = "pending_verification"},
    {"email with a 64-character label", .method = "POST", .target = "/signup", .content_type = "application/json",
     .make_body = email_label_64, .status = 422, .code = "validation_failed", .error_field = "email",
     .error_code = "email_invalid"},
    {"homoglyph domain (Cyrillic i)", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL("\"" LOCAL_SLOT "@l\xd1\x96ntasarta.co.id\"")), .status = 422, .code = "validation_failed",
     .error_field = "email", .error_code = "email_invalid"},
    {"Unicode (IDN) domain not in xn-- form", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL("\"" LOCAL_SLOT "@b\xc3\xbc"
                     "cher.example\"")),
     .status = 422, .code = "validation_failed", .error_field = "email", .error_code = "email_invalid"},
    {"fullwidth @ in email", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL("\"" LOCAL_SLOT "\xef\xbc\xa0" CORP_DOMAIN "\"")), .status = 422, .code = "validation_failed",
     .error_field = "email", .error_code = "email_invalid"},
    {"non-ASCII local part", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL("\"j\xc3\xb6rg-" LOCAL_SLOT "@" CORP_DOMAIN "\"")), .status = 422, .code = "validation_failed",
     .error_field = "email", .error_code = "email_invalid"},
    {"IP-literal domain", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL("\"" LOCAL_SLOT "@[127.0.0.1]\"")), .status = 422, .code = "validation_failed",
     .error_field = "email", .error_code = "email_invalid"},
    /* Phone numbers in other scripts. */
    {"fullwidth digits in phone_number", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PHONE("\"\xef\xbc\x90\xef\xbc\x98\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x95\xef\xbc"
                     "\x96\xef\xbc\x97\xef\xbc\x98\xef\xbc\x99\"")),
     .status = 422, .code = "validation_failed", .error_field = "phone_number", .error_code = "phone_number_invalid"},
    {"Arabic-Indic digits in phone_number", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PHONE("\"\\u0660\\u0668\\u0661\\u0662\\u0663\\u0664\\u0665\\u0666"
                     "\\u0667\\u0668\\u0669\"")),
     .status = 422, .code = "validation_failed", .error_field = "phone_number", .error_code = "phone_number_invalid"},
    /* SQL metacharacters in every field. */
    {"SQL metacharacters in full_name are stored literally", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY(WITH_NAME("\"Robert'); DROP TABLE accounts;-- \\\\ % _\"")),
     .status = 201, .json_status = "pending_verification", .stored_email = EMAIL_SLOT, .stored_column = "full_name",
     .stored_value = "Robert'); DROP TABLE accounts;-- \\ % _"},
    {"SQL metacharacters in the email's local part are stored literally", .method = "POST", .target = "/signup",
     .content_type = "application/json", BODY(WITH_EMAIL("\"" LOCAL_SLOT "'OR'1'='1@" CORP_DOMAIN "\"")), .status = 201,
     .json_status = "pending_verification", .stored_email = LOCAL_SLOT "'OR'1'='1@" CORP_DOMAIN,
     .stored_column = "full_name", .stored_value = "Valid Name"},
    {"SQL metacharacters in password", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PASSWORD("\"P4ss'word\\\";--\"")), .status = 201, .json_status = "pending_verification"},
    {"SQL metacharacters in phone_number", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PHONE("\"0812'; DROP TABLE accounts;--\"")), .status = 422, .code = "validation_failed",
     .error_field = "phone_number", .error_code = "phone_number_invalid"},
    {"SQL metacharacters in accept_terms", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_TERMS("\"true' OR '1'='1\"")), .status = 400, .code = "wrong_field_type", .error_field = "accept_terms",
     .error_code = "wrong_type"},
    {"SQL metacharacters in a resend email", .method = "POST", .target = "/verify/resend",
     .content_type = "application/json", BODY("{\"email\":\"x'; DELETE FROM accounts;--@" CORP_DOMAIN "\"}"),
     .status = 422, .code = "validation_failed", .error_field = "email", .error_code = "email_invalid"},
    /* Wrong JSON types for every field. */
    {"full_name as a number", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_NAME("123")), .status = 400, .code = "wrong_field_type", .error_field = "full_name",
     .error_code = "wrong_type"},
    {"email as an array", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_EMAIL("[\"" EMAIL_SLOT "\"]")), .status = 400, .code = "wrong_field_type", .error_field = "email",
     .error_code = "wrong_type"},
    {"password as an object", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PASSWORD("{\"$ne\":null}")), .status = 400, .code = "wrong_field_type", .error_field = "password",
     .error_code = "wrong_type"},
    {"phone_number as a number", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_PHONE("6281234567890")), .status = 400, .code = "wrong_field_type", .error_field = "phone_number",
     .error_code = "wrong_type"},
    {"accept_terms as the string \"true\"", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_TERMS("\"true\"")), .status = 400, .code = "wrong_field_type", .error_field = "accept_terms",
     .error_code = "wrong_type"},
    {"accept_terms as 1", .method = "POST", .target = "/signup", .content_type = "application/json",
     BODY(WITH_TERMS("1")), .status = 400, .code = "wrong_field_type", .error_field = "accept_terms",
     .error_code = "wrong_type"},
    {"resend email as a boolean", .method = "POST", .target = "/verify/resend", .content_type = "application/json",
     BODY("{\"email\":true}"), .status = 400, .code = "wrong_field_type", .error_field = "email",
     .error_code = "wrong_type"},
    /* Wrong methods. */
    {"PUT /signup", .method = "PUT", .target = "/signup", .content_type = "application/json", BODY(VALID_SIGNUP),
     .status = 405, .code = "method_not_allowed", .allow = "POST, OPTIONS"},
    {"DELETE /signup", .method = "DELETE", .target = "/signup", .status = 405, .code = "method_not_allowed",
     .allow = "POST, OPTIONS"},
    {"PATCH /signup", .method = "PATCH", .target = "/signup", .content_type = "application/json", BODY("{}"),
     .status = 405, .code = "method_not_allowed", .allow = "POST, OPTIONS"},
    {"TRACE /signup", .method = "TRACE", .target = "/signup", .status = 405, .code = "method_not_allowed",
     .allow = "POST, OPTIONS"},
    {"HEAD /signup", .method = "HEAD", .target = "/signup", .status = 405, .code = "method_not_allowed",
     .allow = "POST, OPTIONS", .flags = NO_BODY},
    {"an unknown method on /signup", .method = "FOO", .target = "/signup", .status = 405, .code = "method_not_allowed",
     .allow = "POST, OPTIONS"},
    {"PUT /verify", .method = "PUT", .target = "/verify?token=" TOKEN_43, .status = 405, .code = "method_not_allowed",
     .allow = "GET, OPTIONS"},
    {"DELETE /verify", .method = "DELETE", .target = "/verify", .status = 405, .code = "method_not_allowed",
     .allow = "GET, OPTIONS"},
    {"TRACE /verify", .method = "TRACE", .target = "/verify", .status = 405, .code = "method_not_allowed",
     .allow = "GET, OPTIONS"},
    {"GET /verify/resend", .method = "GET", .target = "/verify/resend", .status = 405, .code = "method_not_allowed",
     .allow = "POST, OPTIONS"},
    {"PATCH /verify/resend", .method = "PATCH", .target = "/verify/resend", .status = 405, .code = "method_not_allowed",
     .allow = "POST, OPTIONS"},
    {"HEAD /verify/resend", .method = "HEAD", .target = "/verify/resend", .status = 405, .code = "method_not_allowed",
     .allow = "POST, OPTIONS", .flags = NO_BODY},
    {"DELETE /healthz", .method = "DELETE", .target = "/healthz", .status = 405, .code = "method_not_allowed",
     .allow = "GET, OPTIONS"},
    {"PUT /readyz", .method = "PUT", .target = "/readyz", .status = 405, .code = "method_not_allowed",
     .allow = "GET, OPTIONS"},
    /* Path traversal and odd targets: Ulfius collapses empty segments ("//",
     * a trailing "/") but matches ".", ".." and percent-escapes literally. */
    {"/../etc/passwd", .method = "GET", .target = "/../etc/passwd", .status = 404, .code = "not_found"},
    {"/%2e%2e/%2e%2e/etc/passwd", .method = "GET", .target = "/%2e%2e/%2e%2e/etc/passwd", .status = 404,
     .code = "not_found"},
    {"GET /signup/..%2f..%2f", .method = "GET", .target = "/signup/..%2f..%2f", .status = 404, .code = "not_found"},
    {"POST /signup/..%2f..%2f", .method = "POST", .target = "/signup/..%2f..%2f", .content_type = "application/json",
     BODY("{}"), .status = 404, .code = "not_found"},
    {"/verify/..%2f..%2fetc%2fpasswd", .method = "GET", .target = "/verify/..%2f..%2fetc%2fpasswd", .status = 404,
     .code = "not_found"},
    {"/healthz/../signup", .method = "GET", .target = "/healthz/../signup", .status = 404, .code = "not_found"},
    {"/signup%00", .method = "GET", .target = "/signup%00", .status = 404, .code = "not_found"},
    {"GET //signup normalises to /signup", .method = "GET", .target = "//signup", .status = 405,
     .code = "method_not_allowed", .allow = "POST, OPTIONS"},
    {"POST //signup reaches the endpoint", .method = "POST", .target = "//signup", .content_type = "application/json",
     BODY("[]"), .status = 400, .code = "body_not_object"},
    {"/./healthz is not normalised", .method = "GET", .target = "/./healthz", .status = 404, .code = "not_found"},
    {"///healthz/ normalises to /healthz", .method = "GET", .target = "///healthz/", .status = 200,
     .json_status = "ok"},
    {"absolute-form target naming another host", .method = "GET", .target = "http://evil.example/healthz",
     .status = 404, .code = "not_found"},
    /* /verify tokens. */
    {"token given twice", .method = "GET", .target = "/verify?token=" TOKEN_43 "&token=" TOKEN_43, .status = 400,
     .code = "invalid_token"},
    {"token empty, then given", .method = "GET", .target = "/verify?token=&token=" TOKEN_43, .status = 400,
     .code = "invalid_token"},
    {"token empty", .method = "GET", .target = "/verify?token=", .status = 400, .code = "token_required"},
    {"token without =", .method = "GET", .target = "/verify?token", .status = 400, .code = "token_required"},
    {"token %00", .method = "GET", .target = "/verify?token=%00", .status = 400, .code = "token_required"},
    {"token %00 followed by 42 characters", .method = "GET", .target = "/verify?token=%00" TOKEN_42, .status = 400,
     .code = "token_required"},
    {"token of 10 KB", .make_raw = verify_10kb_token, .status = 400, .code = "invalid_token"},
    {"token of 43 non-base64url characters", .method = "GET",
     .target = "/verify?token=%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B"
               "%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B%2F%2B",
     .status = 400, .code = "invalid_token"},
    {"token with base64 padding", .method = "GET", .target = "/verify?token=" TOKEN_43 "%3D", .status = 400,
     .code = "invalid_token"},
    {"non-canonical token (spare bits set)", .method = "GET", .target = "/verify?token=" TOKEN_42 "B", .status = 400,
     .code = "invalid_token"},
    {"well-formed but unknown token", .method = "GET", .target = "/verify?token=" TOKEN_43, .status = 400,
     .code = "invalid_token"},
    {"token with an encoded CRLF and header", .method = "GET",
     .target = "/verify?token=" TOKEN_43 "%0d%0aSet-Cookie:%20injected=1", .status = 400, .code = "invalid_token"},
    /* Content types. */
    {"text/plain", .method = "POST", .target = "/signup", .content_type = "text/plain", BODY(VALID_SIGNUP),
     .status = 415, .code = "unsupported_media_type"},
    {"form-urlencoded with a broken escape", .method = "POST", .target = "/signup",
     .content_type = "application/x-www-form-urlencoded", BODY("full_name=%zz&email=" EMAIL_SLOT), .status = 415,
     .code = "unsupported_media_type"},
    {"multipart with a broken body", .method = "POST", .target = "/signup",
     .content_type = "multipart/form-data; boundary=x",
     BODY("--x\r\nContent-Disposition: form-data; name=\"full_name\"\r\n\r\nunterminated"), .status = 415,
     .code = "unsupported_media_type"},
    {"multipart without a boundary", .method = "POST", .target = "/verify/resend",
     .content_type = "multipart/form-data", BODY("--\r\n"), .status = 415, .code = "unsupported_media_type"},
    {"application/json-patch+json", .method = "POST", .target = "/signup",
     .content_type = "application/json-patch+json", BODY("[{\"op\":\"add\",\"path\":\"/x\",\"value\":1}]"),
     .status = 415, .code = "unsupported_media_type"},
    {"no Content-Type", .method = "POST", .target = "/verify/resend", BODY("{\"email\":\"" EMAIL_SLOT "\"}"),
     .status = 415, .code = "unsupported_media_type"},
    /* HTTP/1.0. */
    {"HTTP/1.0 valid sign-up without Host", .method = "POST", .target = "/signup", .version = "HTTP/1.0",
     .content_type = "application/json", BODY(VALID_SIGNUP), .status = 201, .json_status = "pending_verification"},
    {"HTTP/1.0 body without Content-Length is not read", .method = "POST", .target = "/signup", .version = "HTTP/1.0",
     .content_type = "application/json", BODY(VALID_SIGNUP), .framing = FRAME_NONE, .status = 400,
     .code = "malformed_json"},
    {"HTTP/1.0 /verify without token", .method = "GET", .target = "/verify", .version = "HTTP/1.0", .status = 400,
     .code = "token_required"},
    {"HTTP/1.0 DELETE /signup", .method = "DELETE", .target = "/signup", .version = "HTTP/1.0", .status = 405,
     .code = "method_not_allowed", .allow = "POST, OPTIONS"},
    /* Refused by libmicrohttpd before our code (see the comment at the top). */
    {"request line that is not HTTP", RAW("GARBAGE\r\n\r\n"), .flags = SERVER_LEVEL},
    {"HTTP/1.1 without Host",
     RAW("POST /signup HTTP/1.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
         "Content-Length: 2\r\n\r\n{}"),
     .flags = SERVER_LEVEL},
    {"40 KB header (over the 32 KiB connection memory)", .make_raw = header_40kb, .flags = SERVER_LEVEL},
    {"40 KB request target", .make_raw = target_40kb, .flags = SERVER_LEVEL},
    {"header line without a colon",
     RAW("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
         "Set-Cookie injected\r\n\r\n"),
     .flags = SERVER_LEVEL},
    {"non-numeric Content-Length",
     RAW("POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
         "Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}"),
     .flags = SERVER_LEVEL},
    {"chunk size that is not hex",
     RAW("POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
         "zz\r\n{}\r\n0\r\n\r\n"),
     .flags = SERVER_LEVEL},
    {"chunk size overflowing 64 bits",
     RAW("POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
         "ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n"),
     .flags = SERVER_LEVEL},
    {"HTTP/2.0 in an HTTP/1 request line", RAW("GET /healthz HTTP/2.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
     .status = 505, .flags = SERVER_LEVEL},
    {"TLS ClientHello on the plain-HTTP port", RAW("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x01\x02\x03"),
     .flags = SERVER_LEVEL},
    {"unknown Transfer-Encoding (gzip)",
     RAW("POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
         "Content-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}"),
     .flags = SERVER_LEVEL},
    {"Content-Length of 16 GB with a 2-byte body",
     RAW("POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Connection: close\r\nContent-Type: application/json\r\n"
         "Content-Length: 16385000000\r\n\r\n{}"),
     .flags = SERVER_LEVEL},
};

#define CASE_COUNT (sizeof CASES / sizeof CASES[0])

/* ---- running a row ------------------------------------------------------- */

/* text[0..len) with every EMAIL_SLOT and LOCAL_SLOT replaced; new buffer,
 * NUL-terminated, caller frees. */
static char *fill_slots(const char *text, size_t len, const struct row_context *ctx, size_t *out_len)
{
    size_t email_len = strlen(ctx->email), local_len = strlen(ctx->local);
    size_t slot_len = strlen(EMAIL_SLOT);
    char *out = malloc(len + 1 + (len / slot_len + 1) * (email_len > local_len ? email_len : local_len));
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (len - i >= slot_len && memcmp(text + i, EMAIL_SLOT, slot_len) == 0) {
            memcpy(out + n, ctx->email, email_len);
            n += email_len;
            i += slot_len;
        } else if (len - i >= slot_len && memcmp(text + i, LOCAL_SLOT, slot_len) == 0) {
            memcpy(out + n, ctx->local, local_len);
            n += local_len;
            i += slot_len;
        } else {
            out[n++] = text[i++];
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* The bytes to send for c; caller frees. */
static char *build_request(const struct hostile_case *c, const struct row_context *ctx, size_t *len)
{
    char *body = NULL, *request = NULL;
    size_t body_len = 0, request_len = 0;
    FILE *out;

    if (c->make_raw != NULL)
        return c->make_raw(ctx, len);
    if (c->raw != NULL) {
        request = malloc(c->raw_len);
        memcpy(request, c->raw, c->raw_len);
        *len = c->raw_len;
        return request;
    }
    if (c->make_body != NULL)
        body = c->make_body(ctx, &body_len);
    else if (c->body != NULL)
        body = fill_slots(c->body, c->body_len, ctx, &body_len);

    out = open_memstream(&request, &request_len);
    fprintf(out, "%s %s %s\r\n", c->method, c->target, c->version ? c->version : "HTTP/1.1");
    if (c->version == NULL)
        fprintf(out, "Host: 127.0.0.1:%d\r\nConnection: close\r\n", port);
    if (c->headers != NULL)
        fputs(c->headers, out);
    if (c->content_type != NULL)
        fprintf(out, "Content-Type: %s\r\n", c->content_type);
    if (c->framing == FRAME_CHUNKED) {
        fputs("Transfer-Encoding: chunked\r\n\r\n", out);
        for (size_t at = 0; at < body_len; at += 4096) {
            size_t n = body_len - at < 4096 ? body_len - at : 4096;
            fprintf(out, "%zx\r\n", n);
            fwrite(body + at, 1, n, out);
            fputs("\r\n", out);
        }
        fputs("0\r\n\r\n", out);
    } else {
        if (c->framing == FRAME_LENGTH && (body != NULL || strcmp(c->method, "POST") == 0))
            fprintf(out, "Content-Length: %zu\r\n", body_len);
        fputs("\r\n", out);
        if (body != NULL)
            fwrite(body, 1, body_len, out);
    }
    fclose(out);
    free(body);
    *len = request_len;
    return request;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static bool has_error(const struct http_response *resp, const char *field, const char *code)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(resp->json, "errors"), i, e)
    {
        const char *f = json_str(e, "field"), *c = json_str(e, "code");
        if (f != NULL && c != NULL && strcmp(f, field) == 0 && strcmp(c, code) == 0)
            return true;
    }
    return false;
}

static bool is_fresh_request_id(const char *id)
{
    return strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32;
}

/* Whatever the request, nothing it carried may become a response header. */
static void assert_no_injected_headers(const struct hostile_case *c, const struct http_response *resp)
{
    char value[256];
    ck_assert_msg(!http_header(resp, "Set-Cookie", value, sizeof value), "%s: Set-Cookie in the answer: %s", c->name,
                  value);
    ck_assert_msg(!http_header(resp, "X-Injected", value, sizeof value), "%s: X-Injected in the answer", c->name);
    ck_assert_msg(!http_header(resp, "Access-Control-Allow-Origin", value, sizeof value) ||
                      strcmp(value, ALLOWED_ORIGIN) == 0,
                  "%s: Access-Control-Allow-Origin: %s", c->name, value);
}

static void assert_server_level(const struct hostile_case *c, bool has_answer, const struct http_response *resp,
                                double elapsed)
{
    ck_assert_msg(elapsed < SERVER_LEVEL_MAX_SECONDS, "%s: no answer and no close for %.1f s", c->name, elapsed);
    if (!has_answer)
        return; /* closed without an answer: allowed for these rows */
    if (c->status != 0)
        ck_assert_msg(resp->status == c->status, "%s: status %d, expected %d", c->name, resp->status, c->status);
    else
        ck_assert_msg(resp->status >= 400 && resp->status < 500, "%s: status %d, expected 4xx", c->name, resp->status);
    assert_no_injected_headers(c, resp);
}

static void assert_stored(const struct hostile_case *c, const struct row_context *ctx)
{
    char sql[128];
    size_t email_len;
    char *email = fill_slots(c->stored_email, strlen(c->stored_email), ctx, &email_len);
    const char *params[] = {email};
    snprintf(sql, sizeof sql, "SELECT %s FROM accounts WHERE email = $1", c->stored_column);
    char *stored = db_query_value(sql, 1, params);
    ck_assert_msg(stored != NULL, "%s: no account stored for %s", c->name, email);
    ck_assert_msg(strcmp(stored, c->stored_value) == 0, "%s: stored %s '%s', expected '%s'", c->name, c->stored_column,
                  stored, c->stored_value);
    free(stored);
    free(email);
}

static void assert_answer(const struct hostile_case *c, const struct row_context *ctx, const struct http_response *resp)
{
    char value[256];

    ck_assert_msg(resp->status == c->status, "%s: status %d, expected %d; body: %s", c->name, resp->status, c->status,
                  resp->body);
    assert_no_injected_headers(c, resp);
    ck_assert_msg(http_header(resp, "Cache-Control", value, sizeof value) && strcmp(value, "no-store") == 0,
                  "%s: Cache-Control missing or not no-store", c->name);
    ck_assert_msg(http_header(resp, "Content-Type", value, sizeof value), "%s: no Content-Type", c->name);
    ck_assert_msg(strcmp(value, c->code ? "application/problem+json" : "application/json") == 0, "%s: Content-Type %s",
                  c->name, value);
    ck_assert_msg(http_header(resp, "X-Request-Id", value, sizeof value), "%s: no X-Request-Id", c->name);
    if (c->flags & NO_CORS)
        ck_assert_msg(!http_header(resp, "Access-Control-Allow-Origin", value, sizeof value),
                      "%s: Access-Control-Allow-Origin: %s", c->name, value);
    if (c->flags & FRESH_ID)
        ck_assert_msg(is_fresh_request_id(value), "%s: the client's X-Request-Id came back: '%s'", c->name, value);
    if (c->allow != NULL) {
        ck_assert_msg(http_header(resp, "Allow", value, sizeof value), "%s: no Allow header", c->name);
        ck_assert_msg(strcmp(value, c->allow) == 0, "%s: Allow: %s, expected %s", c->name, value, c->allow);
    }
    if (c->flags & NO_BODY) {
        ck_assert_msg(resp->body_len == 0, "%s: HEAD answered with a body", c->name);
        return;
    }
    ck_assert_msg(resp->json != NULL, "%s: the body is not JSON: %s", c->name, resp->body);
    if (c->code != NULL) {
        ck_assert_msg(json_str(resp->json, "code") != NULL && strcmp(json_str(resp->json, "code"), c->code) == 0,
                      "%s: code %s, expected %s; body: %s", c->name, json_str(resp->json, "code"), c->code, resp->body);
        ck_assert_int_eq(json_integer_value(json_object_get(resp->json, "status")), c->status);
        ck_assert_ptr_nonnull(json_str(resp->json, "type"));
        ck_assert_ptr_nonnull(json_str(resp->json, "title"));
        ck_assert_ptr_nonnull(json_str(resp->json, "detail"));
    }
    if (c->error_field != NULL)
        ck_assert_msg(has_error(resp, c->error_field, c->error_code), "%s: no %s/%s in %s", c->name, c->error_field,
                      c->error_code, resp->body);
    if (c->json_status != NULL)
        ck_assert_msg(json_str(resp->json, "status") != NULL &&
                          strcmp(json_str(resp->json, "status"), c->json_status) == 0,
                      "%s: status field %s, expected %s", c->name, json_str(resp->json, "status"), c->json_status);
    if (c->stored_column != NULL)
        assert_stored(c, ctx);
}

/* After any hostile request, the process is alive and a good sign-up works. */
static void assert_still_serving(const struct hostile_case *c)
{
    char email[128];
    size_t len;
    struct http_response resp;

    ck_assert_msg(kill(server_pid, 0) == 0, "%s: the server process is gone", c->name);
    unique_email(email, sizeof email, "alive", CORP_DOMAIN);
    char *body = signup_for(email, 0, &len);
    ck_assert_msg(http_request(port, "POST", "/signup", "application/json", body, len, &resp),
                  "%s: no answer to a valid sign-up afterwards", c->name);
    ck_assert_msg(resp.status == 201, "%s: a valid sign-up afterwards got %d: %s", c->name, resp.status, resp.body);
    http_response_free(&resp);
    free(body);
}

START_TEST(test_hostile_request_gets_its_answer_and_the_server_keeps_serving)
{
    const struct hostile_case *c = &CASES[_i];
    struct row_context ctx;
    struct http_response resp;
    struct timespec start;
    size_t len;

    unique_email(ctx.email, sizeof ctx.email, "hostile", CORP_DOMAIN);
    memcpy(ctx.local, ctx.email, (size_t)(strchr(ctx.email, '@') - ctx.email));
    ctx.local[strchr(ctx.email, '@') - ctx.email] = '\0';
    char *request = build_request(c, &ctx, &len);

    clock_gettime(CLOCK_MONOTONIC, &start);
    bool has_answer = http_raw(port, request, len, &resp);
    double elapsed = seconds_since(&start);
    if (c->flags & SERVER_LEVEL)
        assert_server_level(c, has_answer, &resp, elapsed);
    else {
        ck_assert_msg(has_answer, "%s: no HTTP answer (%.1f s)", c->name, elapsed);
        assert_answer(c, &ctx, &resp);
    }
    http_response_free(&resp);
    free(request);
    assert_still_serving(c);
}
END_TEST

static Suite *api_hostile_suite(void)
{
    Suite *s = suite_create("api_hostile");
    TCase *tc = tcase_create("hostile");
    tcase_add_unchecked_fixture(tc, server_setup, server_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_hostile_request_gets_its_answer_and_the_server_keeps_serving, 0, CASE_COUNT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(api_hostile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
