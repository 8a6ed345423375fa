/* Assertions and queries shared by the HTTP integration suites; see
 * api_assert.h. */
#include "api_assert.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *json_str(const json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

void assert_no_store(const struct http_response *resp)
{
    char cache_control[64];
    ck_assert_msg(http_header(resp, "Cache-Control", cache_control, sizeof cache_control), "no Cache-Control");
    ck_assert_str_eq(cache_control, "no-store");
}

void assert_json_status(const struct http_response *resp, int status, const char *status_word)
{
    char content_type[128];
    ck_assert_msg(resp->status == status, "expected %d %s, got %d: %s", status, status_word, resp->status, resp->body);
    ck_assert(http_header(resp, "Content-Type", content_type, sizeof content_type));
    ck_assert_str_eq(content_type, "application/json");
    ck_assert_ptr_nonnull(resp->json);
    ck_assert_str_eq(json_str(resp->json, "status"), status_word);
    assert_no_store(resp);
}

void assert_problem(const struct http_response *resp, int status, const char *code)
{
    char content_type[128];
    ck_assert_msg(resp->status == status, "expected %d %s, got %d: %s", status, code, resp->status, resp->body);
    ck_assert(http_header(resp, "Content-Type", content_type, sizeof content_type));
    ck_assert_str_eq(content_type, "application/problem+json");
    ck_assert_ptr_nonnull(resp->json);
    ck_assert_str_eq(json_str(resp->json, "code"), code);
    ck_assert_int_eq(json_integer_value(json_object_get(resp->json, "status")), status);
    ck_assert_ptr_nonnull(json_str(resp->json, "type"));
    ck_assert_ptr_nonnull(json_str(resp->json, "title"));
    ck_assert_ptr_nonnull(json_str(resp->json, "detail"));
    assert_no_store(resp);
}

long query_long(const char *sql, const char *param)
{
    const char *params[] = {param};
    char *value = db_query_value(sql, 1, params);
    long n = value ? atol(value) : -1;
    free(value);
    return n;
}

long outbox_rows_of_kind(const char *email, const char *kind)
{
    const char *params[] = {email, kind};
    char *value =
        db_query_value("SELECT count(*) FROM email_outbox WHERE lower(recipient) = lower($1) AND kind = $2", 2, params);
    long n = value ? atol(value) : -1;
    free(value);
    return n;
}

bool log_file_contains(const char *path, const char *needle)
{
    FILE *log = fopen(path, "r");
    char line[16384];
    bool is_found = false;
    if (log == NULL)
        return false;
    while (!is_found && fgets(line, sizeof line, log) != NULL)
        is_found = strstr(line, needle) != NULL;
    fclose(log);
    return is_found;
}

bool is_base64url(const char *s)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == strlen(s);
}
