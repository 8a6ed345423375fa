/* accounts: the sign-up transaction. */
#ifndef SIGNUP_ACCOUNTS_H
#define SIGNUP_ACCOUNTS_H

#include <libpq-fe.h>

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

#endif
