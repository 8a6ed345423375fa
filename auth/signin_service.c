/* Sign-in. Unknown emails and wrong passwords take the same path: the same
 * throttle reads, one argon2 verification (against a dummy hash when there is
 * no account), the same failure writes and the same answer, so neither the
 * answer nor its timing tells who has an account. The database connection is
 * never held while argon2 runs. */
#include "signin_service.h"

#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "db_pool.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "password_hash.h"
#include "secret.h"
#include "signup_validation.h"

/* 32 random bytes, base64: long enough that nobody signs in with it. */
#define DUMMY_PASSWORD_BYTES 32

bool signin_service_prepare(struct signin_service *service)
{
    char password[SECRET_TOKEN_TEXT_LEN + 1], unused_hash[SECRET_TOKEN_HASH_HEX_SIZE];
    bool is_ok = secret_token_generate(password, unused_hash) &&
                 password_hash(service->hasher, password, strlen(password), service->dummy_hash) == PASSWORD_HASH_OK;
    secret_wipe(password, sizeof password);
    if (!is_ok)
        log_event(LOG_LEVEL_ERROR, "startup_failed", "reason", "cannot make the sign-in dummy hash", LOG_END);
    return is_ok;
}

static enum signin_outcome db_outcome(enum db_status status)
{
    return status == DB_UNAVAILABLE ? SIGNIN_UNAVAILABLE : SIGNIN_FAILED;
}

/* The throttle: this attempt is counted before any argon2 work (which is
 * what a guesser wants), so parallel guesses are counted as they arrive. */
static enum signin_outcome count_attempt(const struct signin_service *service, PGconn *conn,
                                         const struct signin_keys *keys, long *retry_after_s,
                                         long *account_attempts)
{
    enum signin_throttle throttle = SIGNIN_NOT_THROTTLED;
    *retry_after_s = 0;
    *account_attempts = 0;
    if (!service->are_limits_enabled)
        return SIGNIN_OK;
    enum db_status status =
        signin_attempts_count(conn, &service->limits, keys, &throttle, retry_after_s, account_attempts);
    if (status != DB_OK)
        return db_outcome(status);
    if (throttle == SIGNIN_NOT_THROTTLED)
        return SIGNIN_OK;
    log_event(LOG_LEVEL_WARN, "signin_throttled", "limit",
              throttle == SIGNIN_THROTTLED_PAIR ? "address_and_client"
              : throttle == SIGNIN_THROTTLED_CLIENT ? "client" : "address",
              LOG_END);
    return SIGNIN_THROTTLED;
}

/* Tells the owner, at most once an hour, that their account's cap tripped. */
static void notify_owner(const struct signin_service *service, PGconn *conn, const struct account_profile *account)
{
    bool is_queued = false;
    struct outbox_entry entry = {
        .kind = OUTBOX_KIND_SIGNIN_ATTEMPTS,
        .account_id = account->id,
        .recipient = account->email,
        .recipient_name = account->full_name,
        .verify_link = NULL,
        .message_id_domain = service->message_id_domain,
    };
    if (outbox_enqueue_hourly(conn, &entry, &is_queued) == DB_OK)
        log_event(LOG_LEVEL_WARN, "signin_account_capped", "account_id", account->id, "notice",
                  is_queued ? "queued" : "sent_within_the_hour", LOG_END);
}

/* A wrong password (or no account), already counted by count_attempt. The
 * one attempt of the window whose count reached the per-address cap tells
 * the owner, if there is one. */
static enum signin_outcome record_failure(const struct signin_service *service,
                                          const struct account_profile *account, bool is_known_account,
                                          long account_attempts)
{
    if (!service->are_limits_enabled || !is_known_account || account_attempts != service->limits.per_account)
        return SIGNIN_INVALID;
    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return SIGNIN_UNAVAILABLE;
    notify_owner(service, conn, account);
    db_pool_release(service->pool, conn);
    return SIGNIN_INVALID;
}

static enum signin_outcome start_session(const struct signin_service *service, const struct signin_keys *keys,
                                         const struct signin_attempt *attempt,
                                         const struct account_credentials *account, const char *new_hash,
                                         struct signin_success *out)
{
    char token_hash[SECRET_TOKEN_HASH_HEX_SIZE];
    enum db_status status;

    if (!secret_token_generate(out->session_token, token_hash)) {
        log_event(LOG_LEVEL_ERROR, "token_generate_failed", LOG_END);
        return SIGNIN_FAILED;
    }
    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return SIGNIN_UNAVAILABLE;
    struct new_session session = {
        .token_hash_hex = token_hash,
        .account_id = account->profile.id,
        .idle_timeout_s = service->session_idle_timeout_s,
        .max_age_s = service->session_max_age_s,
        .client_ip = attempt->client_ip,
        .user_agent = attempt->user_agent,
    };
    status = signin_attempts_succeed(conn, &service->limits, keys, &session, &out->times);
    /* Same password, today's parameters; a failure here only means the old
     * hash stays until the next sign-in. */
    if (status == DB_OK && new_hash != NULL &&
        accounts_replace_hash(conn, account->profile.id, account->password_hash, new_hash) == DB_OK)
        log_event(LOG_LEVEL_INFO, "password_rehashed", "account_id", account->profile.id, LOG_END);
    db_pool_release(service->pool, conn);
    if (status != DB_OK) {
        secret_wipe(out->session_token, sizeof out->session_token);
        return db_outcome(status);
    }
    out->account = account->profile;
    log_event(LOG_LEVEL_INFO, "signed_in", "account_id", account->profile.id, LOG_END);
    return SIGNIN_OK;
}

enum signin_outcome signin_throttle_count(const struct signin_service *service, const char *email,
                                          const char *client_ip, long *retry_after_s, long *account_attempts)
{
    char key[EMAIL_BUF_SIZE];
    (void)email_limit_key(email, key);
    struct signin_keys keys = {.email = key, .client_ip = client_ip};
    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return SIGNIN_UNAVAILABLE;
    enum signin_outcome outcome = count_attempt(service, conn, &keys, retry_after_s, account_attempts);
    db_pool_release(service->pool, conn);
    return outcome;
}

enum signin_outcome signin_throttle_fail(const struct signin_service *service, const struct account_profile *account,
                                         long account_attempts)
{
    return record_failure(service, account, true, account_attempts);
}

static void record_metric(enum signin_outcome outcome)
{
    switch (outcome) {
    case SIGNIN_OK:
        metrics_record_signin(METRICS_SIGNIN_OK);
        break;
    case SIGNIN_INVALID:
        metrics_record_signin(METRICS_SIGNIN_INVALID);
        break;
    case SIGNIN_UNVERIFIED:
        metrics_record_signin(METRICS_SIGNIN_UNVERIFIED);
        break;
    case SIGNIN_THROTTLED:
        metrics_record_signin(METRICS_SIGNIN_THROTTLED);
        break;
    default:
        break;
    }
}

enum signin_outcome signin(const struct signin_service *service, const struct signin_attempt *attempt,
                           struct signin_success *out)
{
    struct account_credentials account;
    char key[EMAIL_BUF_SIZE], new_hash[PASSWORD_HASH_ENCODED_MAX];
    bool is_found = false;
    long account_attempts = 0;
    enum signin_outcome outcome;
    enum db_status status = DB_OK;

    memset(out, 0, sizeof *out);
    memset(&account, 0, sizeof account);
    /* Text that cannot be an account's address (too long, not UTF-8) is
     * counted in the one "" bucket and never looked up. */
    bool is_matchable = email_limit_key(attempt->email, key);
    struct signin_keys keys = {.email = key, .client_ip = attempt->client_ip};

    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL) {
        outcome = SIGNIN_UNAVAILABLE;
        goto done;
    }
    outcome = count_attempt(service, conn, &keys, &out->retry_after_s, &account_attempts);
    if (outcome == SIGNIN_OK && is_matchable)
        status = accounts_find_credentials(conn, attempt->email, &account, &is_found);
    db_pool_release(service->pool, conn);
    if (outcome != SIGNIN_OK)
        goto done;
    if (status != DB_OK) {
        outcome = db_outcome(status);
        goto done;
    }

    /* A password longer than sign-up accepts matches no account, but costs
     * the same verification (of its first PASSWORD_MAX_BYTES). */
    bool is_too_long = attempt->password_len > PASSWORD_MAX_BYTES;
    size_t checked_len = is_too_long ? PASSWORD_MAX_BYTES : attempt->password_len;
    enum password_verify_result verified = password_verify(
        service->hasher, is_found ? account.password_hash : service->dummy_hash, attempt->password, checked_len);
    if (verified == PASSWORD_VERIFY_BUSY) {
        outcome = SIGNIN_BUSY;
        goto done;
    }
    if (verified == PASSWORD_VERIFY_FAILED) {
        outcome = SIGNIN_FAILED;
        goto done;
    }
    if (!is_found || is_too_long || verified != PASSWORD_VERIFY_MATCH) {
        outcome = record_failure(service, &account.profile, is_found, account_attempts);
        goto done;
    }
    if (!account.is_verified) {
        /* Only the right password gets here, so saying "not verified" tells
         * nothing to someone who does not already own the account. */
        enum resend_result resent = signup_resend(service->signup, account.profile.email);
        outcome = resent == RESEND_UNAVAILABLE ? SIGNIN_UNAVAILABLE
                  : resent == RESEND_ERROR     ? SIGNIN_FAILED
                                               : SIGNIN_UNVERIFIED;
        goto done;
    }
    const char *rehashed = NULL;
    if (password_needs_rehash(service->hasher, account.password_hash) &&
        password_hash(service->hasher, attempt->password, attempt->password_len, new_hash) == PASSWORD_HASH_OK)
        rehashed = new_hash;
    outcome = start_session(service, &keys, attempt, &account, rehashed, out);

done:
    secret_wipe(account.password_hash, sizeof account.password_hash);
    secret_wipe(new_hash, sizeof new_hash);
    record_metric(outcome);
    return outcome;
}
