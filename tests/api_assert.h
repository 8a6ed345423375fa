/* Assertions and small database queries shared by the HTTP integration
 * suites (tests/check_api_*.c): the shape of a problem+json answer, the
 * Cache-Control every answer carries, counts read from PostgreSQL, and a
 * search of a server log. Failed assertions use Check's ck_assert macros, so
 * this is linked only into Check suites, and only fails the running test. */
#ifndef SIGNUP_TEST_API_ASSERT_H
#define SIGNUP_TEST_API_ASSERT_H

#include <jansson.h>
#include <stdbool.h>

#include "support.h"

/* The string member key of object j, or NULL when j is not an object, has no
 * such member or it is not a string. Borrowed from j. */
const char *json_str(const json_t *j, const char *key);

/* Asserts that resp has exactly "Cache-Control: no-store". */
void assert_no_store(const struct http_response *resp);

/* Asserts that resp is a JSON answer of this status whose "status" member is
 * status_word (application/json, Cache-Control: no-store). */
void assert_json_status(const struct http_response *resp, int status, const char *status_word);

/* Asserts that resp is an RFC 9457 problem of this status and code: the
 * status line, Content-Type application/problem+json, a JSON body whose
 * "code" is code and "status" is status, with string "type", "title" and
 * "detail", and Cache-Control: no-store. */
void assert_problem(const struct http_response *resp, int status, const char *code);

/* Runs sql with the one parameter $1 = param on $TEST_DATABASE_URL and
 * returns the first column of the first row as a number (atol), or -1 when
 * there is no row. */
long query_long(const char *sql, const char *param);

/* Rows in email_outbox of this kind addressed to email (compared
 * case-insensitively); -1 when the query returns no row. */
long outbox_rows_of_kind(const char *email, const char *kind);

/* True when some line of the file at path contains needle; false when it
 * does not, or the file cannot be opened. Lines longer than 16 KiB are
 * searched in pieces, so a needle across a piece boundary is missed. */
bool log_file_contains(const char *path, const char *needle);

/* True when every character of s is in the base64url alphabet
 * (A-Z a-z 0-9 - _); true for "". */
bool is_base64url(const char *s);

#endif
