/* accounts: the queries behind sign-up. */
#ifndef SIGNUP_ACCOUNTS_H
#define SIGNUP_ACCOUNTS_H

#include <libpq-fe.h>

/* All borrowed for the duration of the call. */
struct new_account {
    const char *email;
    const char *full_name;
    const char *phone_number;  /* E.164 */
    const char *password_hash; /* argon2id PHC string */
    const char *terms_version;
};

enum account_register_result {
    ACCOUNT_CREATED,
    ACCOUNT_ALREADY_EXISTS,      /* same email in any letter case; nothing written */
    ACCOUNT_DATABASE_UNAVAILABLE, /* connection lost or server shutting down */
    ACCOUNT_DATABASE_ERROR,       /* logged with its SQLSTATE */
};

/* Creates the account in one transaction on conn (which must be idle). The
 * transaction is where the verification token and its email will be written
 * too, so an account never exists without them. */
enum account_register_result accounts_register(PGconn *conn, const struct new_account *account);

#endif
