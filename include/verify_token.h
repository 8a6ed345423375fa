/* verify_token: the secret in a verification link. 256 random bits from the
 * kernel, base64url without padding in the link; only its SHA-256 is stored. */
#ifndef SIGNUP_VERIFY_TOKEN_H
#define SIGNUP_VERIFY_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERIFY_TOKEN_BYTES 32
#define VERIFY_TOKEN_TEXT_LEN 43 /* ceil(32 * 8 / 6) */
#define VERIFY_TOKEN_HASH_BYTES 32
/* "\x" + 64 hex digits + NUL: PostgreSQL's text form of a bytea parameter. */
#define VERIFY_TOKEN_HASH_HEX_SIZE 67

/* Fills text (NUL-terminated) with a new token and hash_hex with its
 * SHA-256 as a bytea literal. False when the kernel's RNG fails. */
bool verify_token_generate(char text[VERIFY_TOKEN_TEXT_LEN + 1], char hash_hex[VERIFY_TOKEN_HASH_HEX_SIZE])
    __attribute__((warn_unused_result));

/* Decodes text (len bytes) and writes its SHA-256 as a bytea literal. False
 * unless text is exactly a canonical 43-character base64url token. */
bool verify_token_hash(const char *text, size_t len, char hash_hex[VERIFY_TOKEN_HASH_HEX_SIZE])
    __attribute__((warn_unused_result));

#endif
