/* Account recovery. Forgot answers the same whatever the address: the same
 * token work, one statement that writes either way, no argon2. Reset and
 * change hash the new password before taking a database connection, then
 * apply everything in one statement. */
#include "recovery_service.h"

#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "db_pool.h"
#include "log.h"
#include "password_hash.h"
#include "password_reset.h"
#include "secret.h"
#include "secret_token.h"

/* Longest PASSWORD_RESET_URL we build links from, plus "?token=" and the token. */
#define RESET_LINK_MAX 2048

enum forgot_outcome password_forgot(const struct recovery_service *service, const char *email,
                                    const char *client_ip, long *retry_after_s)
{
    char token[SECRET_TOKEN_TEXT_LEN + 1], hash_hex[SECRET_TOKEN_HASH_HEX_SIZE], link[RESET_LINK_MAX];
    enum forgot_outcome outcome = FORGOT_FAILED;
    bool is_queued = false;
    PGconn *conn = NULL;

    *retry_after_s = 0;
    if (!secret_token_generate(token, hash_hex)) {
        log_event(LOG_LEVEL_ERROR, "token_generate_failed", LOG_END);
        goto cleanup;
    }
    int n = snprintf(link, sizeof link, "%s?token=%s", service->reset_url, token);
    if (n < 0 || (size_t)n >= sizeof link) {
        log_event(LOG_LEVEL_ERROR, "reset_link_too_long", LOG_END);
        goto cleanup;
    }
    conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL) {
        outcome = FORGOT_UNAVAILABLE;
        goto cleanup;
    }
    if (service->are_limits_enabled) {
        enum db_status limited = rate_limit_hit(conn, &service->forgot_per_ip, 1, client_ip, retry_after_s);
        if (limited != DB_OK) {
            outcome = limited == DB_UNAVAILABLE ? FORGOT_UNAVAILABLE : FORGOT_FAILED;
            goto cleanup;
        }
        if (*retry_after_s > 0) {
            outcome = FORGOT_RATE_LIMITED;
            goto cleanup;
        }
    }
    struct reset_request request = {
        .email = email,
        .token_hash_hex = hash_hex,
        .reset_link = link,
        .token_ttl_s = service->reset_ttl_s,
        .message_id_domain = service->message_id_domain,
        .limits = service->reset_limits,
    };
    enum db_status status = password_reset_request(conn, &request, &is_queued);
    outcome = status == DB_OK ? FORGOT_ACCEPTED : status == DB_UNAVAILABLE ? FORGOT_UNAVAILABLE : FORGOT_FAILED;
    /* Logged without the address, and with the same event either way. */
    if (status == DB_OK)
        log_event(LOG_LEVEL_INFO, "password_forgot", "email_queued", is_queued ? "yes" : "no", LOG_END);

cleanup:
    db_pool_release(service->pool, conn);
    secret_wipe(token, sizeof token);
    secret_wipe(link, sizeof link);
    return outcome;
}

static enum reset_outcome reset_db_failure(enum db_status status)
{
    return status == DB_UNAVAILABLE ? RESET_UNAVAILABLE : RESET_FAILED;
}

static enum reset_outcome reset_state_outcome(enum reset_token_state state)
{
    return state == RESET_LINK_LIVE ? RESET_DONE : state == RESET_LINK_EXPIRED ? RESET_TOKEN_EXPIRED
                                                                                : RESET_INVALID_TOKEN;
}

enum reset_outcome password_reset(const struct recovery_service *service, const char *token, size_t token_len,
                                  const char *password, size_t password_len, struct field_errors *errors)
{
    char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE], encoded[PASSWORD_HASH_ENCODED_MAX];
    enum reset_token_state state = RESET_LINK_INVALID;
    enum reset_outcome outcome;
    enum db_status status;

    encoded[0] = '\0';
    if (!secret_token_hash(token, token_len, hash_hex))
        return RESET_INVALID_TOKEN;
    /* The token first: a stale link should say so, not ask for a better
     * password. Then the rules, with the token still unused. */
    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return RESET_UNAVAILABLE;
    status = password_reset_check(conn, hash_hex, &state);
    db_pool_release(service->pool, conn);
    if (status != DB_OK)
        return reset_db_failure(status);
    if (state != RESET_LINK_LIVE)
        return reset_state_outcome(state);
    if (!validate_password(password, password_len, service->rules, errors))
        return RESET_WEAK_PASSWORD;

    switch (password_hash(service->hasher, password, password_len, encoded)) {
    case PASSWORD_HASH_OK:
        break;
    case PASSWORD_HASH_BUSY:
        return RESET_BUSY;
    case PASSWORD_HASH_FAILED:
    default:
        return RESET_FAILED;
    }
    conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL) {
        outcome = RESET_UNAVAILABLE;
        goto cleanup;
    }
    status = password_reset_consume(conn, hash_hex, encoded, service->message_id_domain, &state);
    db_pool_release(service->pool, conn);
    outcome = status != DB_OK ? reset_db_failure(status) : reset_state_outcome(state);
    if (outcome == RESET_DONE)
        log_event(LOG_LEVEL_INFO, "password_reset", LOG_END);

cleanup:
    secret_wipe(encoded, sizeof encoded);
    return outcome;
}

/* The errors of validate_password name "password"; here the field is
 * new_password. The strings are static, so only the pointers change. */
static void rename_field(struct field_errors *errors, size_t from, const char *field)
{
    for (size_t i = from; i < errors->count; i++)
        errors->items[i].field = field;
}

static enum change_outcome change_from_signin(enum signin_outcome outcome)
{
    switch (outcome) {
    case SIGNIN_THROTTLED:
        return CHANGE_THROTTLED;
    case SIGNIN_INVALID:
        return CHANGE_INVALID_CREDENTIALS;
    case SIGNIN_UNAVAILABLE:
        return CHANGE_UNAVAILABLE;
    default:
        return CHANGE_FAILED;
    }
}

enum change_outcome password_change_signed_in(const struct recovery_service *service, const char *session_token,
                                              size_t session_token_len, const char *current_password,
                                              size_t current_len, const char *new_password, size_t new_len,
                                              const char *client_ip, struct field_errors *errors,
                                              long *retry_after_s)
{
    struct account_profile account;
    struct session_times times;
    struct account_credentials credentials;
    char session_hash[SECRET_TOKEN_HASH_HEX_SIZE], encoded[PASSWORD_HASH_ENCODED_MAX];
    enum change_outcome outcome = CHANGE_FAILED;
    bool is_found = false, is_changed = false;
    PGconn *conn = NULL;

    *retry_after_s = 0;
    memset(&credentials, 0, sizeof credentials);
    encoded[0] = '\0';
    switch (session_use(service->signin, session_token, session_token_len, &account, &times)) {
    case SESSION_OK:
        break;
    case SESSION_UNAUTHORIZED:
        return CHANGE_UNAUTHORIZED;
    case SESSION_UNAVAILABLE:
    default:
        return CHANGE_UNAVAILABLE;
    }
    if (!secret_token_hash(session_token, session_token_len, session_hash))
        return CHANGE_UNAUTHORIZED;
    size_t errors_before = errors->count;
    if (!validate_password(new_password, new_len, service->rules, errors)) {
        rename_field(errors, errors_before, "new_password");
        return CHANGE_WEAK_PASSWORD;
    }
    long account_attempts = 0;
    enum signin_outcome throttle =
        signin_throttle_count(service->signin, account.email, client_ip, retry_after_s, &account_attempts);
    if (throttle != SIGNIN_OK)
        return change_from_signin(throttle);

    conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return CHANGE_UNAVAILABLE;
    enum db_status status = accounts_find_credentials(conn, account.email, &credentials, &is_found);
    db_pool_release(service->pool, conn);
    conn = NULL;
    if (status != DB_OK || !is_found) {
        outcome = status == DB_UNAVAILABLE ? CHANGE_UNAVAILABLE : !is_found ? CHANGE_UNAUTHORIZED : CHANGE_FAILED;
        goto cleanup;
    }
    switch (password_verify(service->hasher, credentials.password_hash, current_password, current_len)) {
    case PASSWORD_VERIFY_MATCH:
        break;
    case PASSWORD_VERIFY_MISMATCH:
        outcome = change_from_signin(signin_throttle_fail(service->signin, &account, account_attempts));
        goto cleanup;
    case PASSWORD_VERIFY_BUSY:
        outcome = CHANGE_BUSY;
        goto cleanup;
    case PASSWORD_VERIFY_FAILED:
    default:
        goto cleanup;
    }
    switch (password_hash(service->hasher, new_password, new_len, encoded)) {
    case PASSWORD_HASH_OK:
        break;
    case PASSWORD_HASH_BUSY:
        outcome = CHANGE_BUSY;
        goto cleanup;
    case PASSWORD_HASH_FAILED:
    default:
        goto cleanup;
    }
    conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL) {
        outcome = CHANGE_UNAVAILABLE;
        goto cleanup;
    }
    status = password_change(conn, account.id, credentials.password_hash, encoded, session_hash,
                             service->message_id_domain, &is_changed);
    if (status != DB_OK)
        outcome = status == DB_UNAVAILABLE ? CHANGE_UNAVAILABLE : CHANGE_FAILED;
    else
        /* Not changed: a concurrent change won, so the current password
         * given here is no longer the current one. */
        outcome = is_changed ? CHANGE_DONE : CHANGE_INVALID_CREDENTIALS;
    if (outcome == CHANGE_DONE)
        log_event(LOG_LEVEL_INFO, "password_changed", "account_id", account.id, LOG_END);

cleanup:
    db_pool_release(service->pool, conn);
    secret_wipe(credentials.password_hash, sizeof credentials.password_hash);
    secret_wipe(encoded, sizeof encoded);
    return outcome;
}
