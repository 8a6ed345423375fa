/* libFuzzer harness: secret_token_hash() on arbitrary bytes against an
 * independent base64url codec. It must accept exactly the canonical
 * 43-character spellings of 32 bytes, re-encoding what it accepts must give
 * the input back, and the hash must be SHA-256 of the decoded bytes. */
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret_token.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "invariant violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                            \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static int model_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* 43 characters = 32 bytes and 2 spare bits, in 4-character groups. */
static bool model_decode(const uint8_t *text, size_t len, uint8_t out[32], bool *is_canonical)
{
    uint8_t bits[43];
    if (len != 43)
        return false;
    for (size_t i = 0; i < 43; i++) {
        int v = model_value(text[i]);
        if (v < 0)
            return false;
        bits[i] = (uint8_t)v;
    }
    for (size_t g = 0; g < 10; g++) {
        const uint8_t *q = bits + 4 * g;
        out[3 * g] = (uint8_t)(q[0] << 2 | q[1] >> 4);
        out[3 * g + 1] = (uint8_t)(q[1] << 4 | q[2] >> 2);
        out[3 * g + 2] = (uint8_t)(q[2] << 6 | q[3]);
    }
    out[30] = (uint8_t)(bits[40] << 2 | bits[41] >> 4);
    out[31] = (uint8_t)(bits[41] << 4 | bits[42] >> 2);
    *is_canonical = (bits[42] & 3) == 0;
    return true;
}

static void model_encode(const uint8_t in[32], char out[44])
{
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    for (size_t i = 0; i < 30; i += 3) {
        out[n++] = ALPHABET[in[i] >> 2];
        out[n++] = ALPHABET[(in[i] & 3) << 4 | in[i + 1] >> 4];
        out[n++] = ALPHABET[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
        out[n++] = ALPHABET[in[i + 2] & 63];
    }
    out[n++] = ALPHABET[in[30] >> 2];
    out[n++] = ALPHABET[(in[30] & 3) << 4 | in[31] >> 4];
    out[n++] = ALPHABET[(in[31] & 15) << 2];
    out[n] = '\0';
}

static void expected_hex(const uint8_t raw[32], char out[SECRET_TOKEN_HASH_HEX_SIZE])
{
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(raw, 32, digest);
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", digest[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char text[SECRET_TOKEN_TEXT_LEN + 1], hash[SECRET_TOKEN_HASH_HEX_SIZE], again[SECRET_TOKEN_HASH_HEX_SIZE];
    (void)argc;
    (void)argv;
    /* A generated token must verify to the hash generated with it. */
    CHECK(secret_token_generate(text, hash));
    CHECK(strlen(text) == SECRET_TOKEN_TEXT_LEN);
    CHECK(secret_token_hash(text, strlen(text), again));
    CHECK(strcmp(hash, again) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *hash = malloc(SECRET_TOKEN_HASH_HEX_SIZE);
    uint8_t raw[32];
    bool is_canonical = false;
    memset(hash, 0xAA, SECRET_TOKEN_HASH_HEX_SIZE);

    bool is_accepted = secret_token_hash((const char *)data, size, hash);
    bool is_token = model_decode(data, size, raw, &is_canonical) && is_canonical;

    CHECK(is_accepted == is_token);
    if (is_accepted) {
        char encoded[44], expected[SECRET_TOKEN_HASH_HEX_SIZE];
        model_encode(raw, encoded);
        CHECK(memcmp(encoded, data, 43) == 0); /* one spelling per token */
        expected_hex(raw, expected);
        CHECK(memchr(hash, '\0', SECRET_TOKEN_HASH_HEX_SIZE) == hash + SECRET_TOKEN_HASH_HEX_SIZE - 1);
        CHECK(strcmp(hash, expected) == 0);
    }
    free(hash);
    return 0;
}
