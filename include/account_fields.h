/* account_fields: the sizes of an account's stored fields, shared by the
 * queries (db) and the rules that produce them (auth). */
#ifndef SIGNUP_ACCOUNT_FIELDS_H
#define SIGNUP_ACCOUNT_FIELDS_H

#define FULL_NAME_MAX_CHARS 100
#define FULL_NAME_BUF_SIZE (FULL_NAME_MAX_CHARS * 4 + 1)
#define EMAIL_MAX_OCTETS 254
#define EMAIL_LOCAL_MAX_OCTETS 64
#define EMAIL_BUF_SIZE (EMAIL_MAX_OCTETS + 1)
#define PASSWORD_MAX_BYTES 256
#define PHONE_E164_BUF_SIZE 17 /* '+', at most 15 digits, NUL */
/* A stored argon2id PHC string: enough for "$argon2id$v=19$m=4294967295,t=4294967295,p=255$"
 * + 16-byte salt + 32-byte hash. */
#define PASSWORD_HASH_ENCODED_MAX 160

#endif
