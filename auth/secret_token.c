/* Secret token codec (verification links, sessions). Decoding is strict (canonical base64url of
 * exactly 32 bytes) so each token has exactly one spelling. */
#include "secret_token.h"

#include <errno.h>
#include <openssl/sha.h>
#include <string.h>
#include <sys/random.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(const uint8_t in[SECRET_TOKEN_BYTES], char out[SECRET_TOKEN_TEXT_LEN + 1])
{
    size_t n = 0;
    uint32_t bits = 0;
    int bit_count = 0;
    for (size_t i = 0; i < SECRET_TOKEN_BYTES; i++) {
        bits = (bits << 8) | in[i];
        bit_count += 8;
        while (bit_count >= 6) {
            bit_count -= 6;
            out[n++] = ALPHABET[(bits >> bit_count) & 63];
        }
    }
    if (bit_count > 0)
        out[n++] = ALPHABET[(bits << (6 - bit_count)) & 63];
    out[n] = '\0';
}

static int decode_char(char c)
{
    const char *p = c ? strchr(ALPHABET, c) : NULL;
    return p ? (int)(p - ALPHABET) : -1;
}

static bool decode(const char *text, size_t len, uint8_t out[SECRET_TOKEN_BYTES])
{
    uint32_t bits = 0;
    int bit_count = 0;
    size_t n = 0;
    if (len != SECRET_TOKEN_TEXT_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        int v = decode_char(text[i]);
        if (v < 0)
            return false;
        bits = (bits << 6) | (uint32_t)v;
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out[n++] = (uint8_t)(bits >> bit_count);
        }
    }
    /* 43 characters carry 258 bits; the 2 spare bits must be zero. */
    return n == SECRET_TOKEN_BYTES && (bits & ((1u << bit_count) - 1)) == 0;
}

static void hash_to_hex(const uint8_t raw[SECRET_TOKEN_BYTES], char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE])
{
    static const char HEX[] = "0123456789abcdef";
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(raw, SECRET_TOKEN_BYTES, digest);
    hash_hex[0] = '\\';
    hash_hex[1] = 'x';
    for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hash_hex[2 + 2 * i] = HEX[digest[i] >> 4];
        hash_hex[3 + 2 * i] = HEX[digest[i] & 15];
    }
    hash_hex[2 + 2 * SHA256_DIGEST_LENGTH] = '\0';
}

bool secret_token_generate(char text[SECRET_TOKEN_TEXT_LEN + 1], char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE])
{
    uint8_t raw[SECRET_TOKEN_BYTES];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return false;
        got += (size_t)n;
    }
    encode(raw, text);
    hash_to_hex(raw, hash_hex);
    memset(raw, 0, sizeof raw);
    return true;
}

bool secret_token_hash(const char *text, size_t len, char hash_hex[SECRET_TOKEN_HASH_HEX_SIZE])
{
    uint8_t raw[SECRET_TOKEN_BYTES];
    if (text == NULL || !decode(text, len, raw))
        return false;
    hash_to_hex(raw, hash_hex);
    memset(raw, 0, sizeof raw);
    return true;
}
