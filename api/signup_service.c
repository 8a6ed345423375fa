/* The sign-up use case: hash the password, then create the account in one
 * transaction. Duplicates take the same path and the same time as new
 * accounts, so neither the response nor its timing reveals who is registered. */
#include "signup_service.h"

#include <string.h>

#include "accounts.h"
#include "db_pool.h"
#include "log.h"
#include "password_hash.h"

enum signup_outcome signup_register(const struct signup_service *service, const struct signup_request *req)
{
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    PGconn *conn = NULL;
    enum signup_outcome outcome;

    /* Hash before looking anything up: a duplicate costs the same argon2 work. */
    switch (password_hash(service->hasher, req->password, req->password_len, encoded)) {
    case PASSWORD_HASH_OK:
        break;
    case PASSWORD_HASH_BUSY:
        return SIGNUP_BUSY;
    case PASSWORD_HASH_FAILED:
        return SIGNUP_FAILED;
    }

    conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return SIGNUP_UNAVAILABLE;

    struct new_account account = {
        .email = req->email,
        .full_name = req->full_name,
        .phone_number = req->phone_number,
        .password_hash = encoded,
        .terms_version = service->terms_version,
    };
    switch (accounts_register(conn, &account)) {
    case ACCOUNT_CREATED:
        log_event(LOG_LEVEL_INFO, "account_created", NULL);
        outcome = SIGNUP_ACCEPTED;
        break;
    case ACCOUNT_ALREADY_EXISTS:
        /* Logged without the address: logs must not become a list of who has an account. */
        log_event(LOG_LEVEL_INFO, "signup_duplicate", NULL);
        outcome = SIGNUP_ACCEPTED;
        break;
    case ACCOUNT_DATABASE_UNAVAILABLE:
        outcome = SIGNUP_UNAVAILABLE;
        break;
    case ACCOUNT_DATABASE_ERROR:
    default:
        outcome = SIGNUP_FAILED;
        break;
    }
    db_pool_release(service->pool, conn);
    memset(encoded, 0, sizeof encoded);
    return outcome;
}
