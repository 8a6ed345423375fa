/* account_profile: what the account's owner sees of it once signed in, as
 * read from PostgreSQL. Fixed-size buffers: no ownership to track. */
#ifndef SIGNUP_ACCOUNT_PROFILE_H
#define SIGNUP_ACCOUNT_PROFILE_H

#include "account_fields.h"

#define ACCOUNT_ID_BUF_SIZE 37 /* uuid text + NUL */
#define TIMESTAMP_BUF_SIZE 32  /* RFC 3339 UTC, e.g. 2026-12-01T20:15:00Z */

struct account_profile {
    char id[ACCOUNT_ID_BUF_SIZE];
    char email[EMAIL_BUF_SIZE];
    char full_name[FULL_NAME_BUF_SIZE];
    char phone_number[PHONE_E164_BUF_SIZE];
    char email_verified_at[TIMESTAMP_BUF_SIZE]; /* "" while unverified */
};

/* SQL expression formatting a timestamptz column as RFC 3339 in UTC. */
#define SQL_RFC3339(column) "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#endif
