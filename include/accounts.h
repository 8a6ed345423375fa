/* accounts: the sign-up transaction, and the account reads and writes of
 * sign-in. */
#ifndef SIGNUP_ACCOUNTS_H
#define SIGNUP_ACCOUNTS_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "account_profile.h"
#include "verification.h"

/* All borrowed for the duration of the call. */
struct new_account {
    const char *email;
    const char *full_name;
    const char *phone_number;  /* E.164 */
    const char *password_hash; /* argon2id PHC string */
    const char *terms_version;
};

enum account_register_result {
    ACCOUNT_CREATED,              /* with its token and verification email queued */
    ACCOUNT_ALREADY_EXISTS,       /* same email in any letter case; the owner is emailed (within limits) */
    ACCOUNT_DATABASE_UNAVAILABLE, /* connection lost or server shutting down; nothing written */
    ACCOUNT_DATABASE_ERROR,       /* logged with its SQLSTATE; nothing written */
};

/* One transaction on conn (which must be idle): creates the account, its
 * verification token and its email together, so an account never exists
 * without them. For an existing address, queues instead a new verification
 * email (unverified) or a "someone tried to sign up" notice (verified),
 * subject to repeat_limits. */
enum account_register_result accounts_register(PGconn *conn, const struct new_account *account,
                                               const struct verification_mail *mail,
                                               const struct mail_limits *repeat_limits);

/* An account as sign-in needs it. */
struct account_credentials {
    struct account_profile profile;
    char password_hash[PASSWORD_HASH_ENCODED_MAX];
    bool is_verified;
};

/* Looks the account up by email (any letter case). *found tells whether it
 * exists; out is filled when it does. Caller wipes out->password_hash. */
enum db_status accounts_find_credentials(PGconn *conn, const char *email, struct account_credentials *out,
                                         bool *found);

/* Replaces the stored hash with new_hash if it is still old_hash (a
 * concurrent password change wins). */
enum db_status accounts_replace_hash(PGconn *conn, const char *account_id, const char *old_hash,
                                     const char *new_hash);

#endif
