/* The use cases: sign up, verify, resend. Duplicates take the same path and
 * the same time as new accounts, so neither the response nor its timing
 * reveals who is registered. */
#include "signup_service.h"

#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "db_pool.h"
#include "log.h"
#include "metrics.h"
#include "password_hash.h"
#include "secret_token.h"

/* Longest VERIFY_URL we build links from, plus "?token=" and the token. */
#define VERIFY_LINK_MAX 2048

/* A fresh token, its hash and its link, ready for verification_queue. */
struct fresh_token {
    char text[SECRET_TOKEN_TEXT_LEN + 1];
    char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE];
    char link[VERIFY_LINK_MAX];
    struct verification_mail mail;
};

static bool fresh_token_create(const struct signup_service *service, struct fresh_token *t)
{
    if (!secret_token_generate(t->text, t->hash_hex)) {
        log_event(LOG_LEVEL_ERROR, "token_generate_failed", LOG_END);
        return false;
    }
    int n = snprintf(t->link, sizeof t->link, "%s?token=%s", service->verify_url, t->text);
    if (n < 0 || (size_t)n >= sizeof t->link) {
        log_event(LOG_LEVEL_ERROR, "verify_link_too_long", LOG_END);
        return false;
    }
    t->mail = (struct verification_mail){
        .token_hash_hex = t->hash_hex,
        .verify_link = t->link,
        .token_ttl_s = service->token_ttl_s,
        .message_id_domain = service->message_id_domain,
    };
    return true;
}

static void fresh_token_wipe(struct fresh_token *t)
{
    secret_wipe(t, sizeof *t);
}

enum signup_outcome signup_register(const struct signup_service *service, const struct signup_request *req)
{
    char encoded[PASSWORD_HASH_ENCODED_MAX];
    struct fresh_token token;
    PGconn *conn = NULL;
    enum signup_outcome outcome = SIGNUP_FAILED;

    /* Hash before looking anything up: a duplicate costs the same argon2 work. */
    switch (password_hash(service->hasher, req->password, req->password_len, encoded)) {
    case PASSWORD_HASH_OK:
        break;
    case PASSWORD_HASH_BUSY:
        return SIGNUP_BUSY;
    case PASSWORD_HASH_FAILED:
        return SIGNUP_FAILED;
    }
    if (!fresh_token_create(service, &token))
        goto cleanup;
    conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL) {
        outcome = SIGNUP_UNAVAILABLE;
        goto cleanup;
    }

    /* The link carries what this sign-up typed: if the address is already
     * registered but unverified (perhaps by someone else), whoever follows
     * this link from the mailbox gets the password they chose. */
    struct signup_values values = {
        .password_hash = encoded, .full_name = req->full_name, .phone_number = req->phone_number};
    token.mail.values = &values;
    struct new_account account = {
        .email = req->email,
        .full_name = req->full_name,
        .phone_number = req->phone_number,
        .password_hash = encoded,
        .terms_version = service->terms_version,
    };
    switch (accounts_register(conn, &account, &token.mail, &service->repeat_limits)) {
    case ACCOUNT_CREATED:
        log_event(LOG_LEVEL_INFO, "account_created", LOG_END);
        metrics_record_signup(METRICS_SIGNUP_CREATED);
        outcome = SIGNUP_ACCEPTED;
        break;
    case ACCOUNT_ALREADY_EXISTS:
        metrics_record_signup(METRICS_SIGNUP_DUPLICATE);
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

cleanup:
    db_pool_release(service->pool, conn);
    fresh_token_wipe(&token);
    memset(encoded, 0, sizeof encoded);
    return outcome;
}

enum verify_result signup_verify(const struct signup_service *service, const char *token, size_t len,
                                 char email[EMAIL_BUF_SIZE])
{
    static const char *const RESULT_NAMES[] = {
        [VERIFY_VERIFIED] = "verified", [VERIFY_ALREADY_VERIFIED] = "already_verified",
        [VERIFY_EXPIRED] = "expired",   [VERIFY_INVALID] = "invalid",
        [VERIFY_UNAVAILABLE] = "error", [VERIFY_ERROR] = "error",
    };
    char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE];
    enum verify_result result = VERIFY_INVALID;
    PGconn *conn = NULL;

    email[0] = '\0';
    if (secret_token_hash(token, len, hash_hex)) {
        conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
        result = conn ? verification_consume(conn, hash_hex, email) : VERIFY_UNAVAILABLE;
        db_pool_release(service->pool, conn);
    }
    metrics_record_verification(RESULT_NAMES[result]);
    if (result == VERIFY_VERIFIED)
        log_event(LOG_LEVEL_INFO, "email_verified", LOG_END);
    return result;
}

enum limit_outcome signup_check_limits(const struct signup_service *service, enum limited_action action,
                                       const char *client_ip, const char *email, long *retry_after_s)
{
    char email_key[EMAIL_BUF_SIZE];
    *retry_after_s = 0;
    if (!service->are_limits_enabled)
        return LIMIT_ALLOWED;
    PGconn *conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL)
        return LIMIT_UNAVAILABLE;

    const struct rate_limit_rule *per_ip = action == LIMITED_SIGNUP ? &service->signup_per_ip : &service->resend_per_ip;
    const struct rate_limit_rule *per_email =
        action == LIMITED_SIGNUP ? &service->signup_per_email : service->resend_per_email;
    size_t n_email_rules = action == LIMITED_SIGNUP ? 1 : 2;
    (void)email_limit_key(email, email_key);

    enum db_status status = rate_limit_hit(conn, per_ip, 1, client_ip, retry_after_s);
    if (status == DB_OK && *retry_after_s == 0 && email_key[0] != '\0')
        status = rate_limit_hit(conn, per_email, n_email_rules, email_key, retry_after_s);
    db_pool_release(service->pool, conn);
    if (status != DB_OK)
        return LIMIT_UNAVAILABLE;
    if (*retry_after_s > 0) {
        log_event(LOG_LEVEL_WARN, "rate_limited", "action", action == LIMITED_SIGNUP ? "signup" : "resend", LOG_END);
        return LIMIT_EXCEEDED;
    }
    return LIMIT_ALLOWED;
}

enum resend_result signup_resend(const struct signup_service *service, const char *email)
{
    struct fresh_token token;
    enum resend_result result = RESEND_ERROR;
    PGconn *conn = NULL;

    if (!fresh_token_create(service, &token))
        goto cleanup;
    conn = db_pool_acquire(service->pool, service->db_acquire_timeout_ms);
    if (conn == NULL) {
        result = RESEND_UNAVAILABLE;
        goto cleanup;
    }
    result = verification_resend(conn, email, &token.mail, &service->repeat_limits);
    log_event(LOG_LEVEL_INFO, "verification_resend",
              "result", result == RESEND_QUEUED ? "queued"
                        : result == RESEND_RATE_LIMITED ? "rate_limited"
                        : result == RESEND_NOTHING_TO_DO ? "nothing_to_do" : "failed",
              LOG_END);

cleanup:
    db_pool_release(service->pool, conn);
    fresh_token_wipe(&token);
    return result;
}
