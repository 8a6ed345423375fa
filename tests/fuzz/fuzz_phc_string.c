/* libFuzzer harness: phc_argon2id_parse() on arbitrary bytes. What it
 * accepts must be one canonical spelling: writing the parsed fields back
 * (decimal without leading zeros, unpadded standard base64) gives the input
 * again, and the fields are within argon2's limits. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phc_string.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "invariant violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                            \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static size_t model_base64(const uint8_t *in, size_t len, char *out)
{
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[n++] = ALPHABET[v >> 18 & 63];
        out[n++] = ALPHABET[v >> 12 & 63];
        if (i + 1 < len)
            out[n++] = ALPHABET[v >> 6 & 63];
        if (i + 2 < len)
            out[n++] = ALPHABET[v & 63];
    }
    out[n] = '\0';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    struct phc_argon2id phc;
    if (phc_argon2id_parse(text, &phc)) {
        char salt[PHC_SALT_MAX * 2], hash[PHC_HASH_MAX * 2], again[512];
        CHECK(phc.version == 19 && phc.iterations >= 1 && phc.parallelism >= 1);
        CHECK(phc.memory_kib >= 8 * phc.parallelism);
        CHECK(phc.salt_len >= 8 && phc.salt_len <= PHC_SALT_MAX);
        CHECK(phc.hash_len >= 16 && phc.hash_len <= PHC_HASH_MAX);
        model_base64(phc.salt, phc.salt_len, salt);
        model_base64(phc.hash, phc.hash_len, hash);
        snprintf(again, sizeof again, "$argon2id$v=19$m=%u,t=%u,p=%u$%s$%s", phc.memory_kib, phc.iterations,
                 phc.parallelism, salt, hash);
        CHECK(strcmp(again, text) == 0);
    }
    free(text);
    return 0;
}
