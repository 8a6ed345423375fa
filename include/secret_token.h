/* secret_token: the bearer secrets the service hands out (verification links,
 * session tokens). 256 random bits from the kernel, base64url without padding;
 * only their SHA-256 is stored, each kind in its own table, so a token of one
 * kind is never accepted as another. */
#ifndef SIGNUP_SECRET_TOKEN_H
#define SIGNUP_SECRET_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_TOKEN_BYTES 32
#define SECRET_TOKEN_TEXT_LEN 43 /* ceil(32 * 8 / 6) */
#define SECRET_TOKEN_HASH_BYTES 32
/* "\x" + 64 hex digits + NUL: PostgreSQL's text form of a bytea parameter. */
#define SECRET_TOKEN_HASH_HEX_SIZE 67

/* Fills text (NUL-terminated) with a new token and hash_hex with its
 * SHA-256 as a bytea literal. False when the kernel's RNG fails. */
bool secret_token_generate(char text[SECRET_TOKEN_TEXT_LEN + 1], char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE])
    __attribute__((warn_unused_result));

/* Decodes text (len bytes) and writes its SHA-256 as a bytea literal. False
 * unless text is exactly a canonical 43-character base64url token. */
bool secret_token_hash(const char *text, size_t len, char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE])
    __attribute__((warn_unused_result));

#endif
