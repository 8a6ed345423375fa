/* phc_string: reading the argon2id PHC strings the service stores,
 * "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt b64>$<hash b64>". */
#ifndef SIGNUP_PHC_STRING_H
#define SIGNUP_PHC_STRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PHC_SALT_MAX 64
#define PHC_HASH_MAX 64

struct phc_argon2id {
    uint32_t version;
    uint32_t memory_kib;
    uint32_t iterations;
    uint32_t parallelism;
    uint8_t salt[PHC_SALT_MAX];
    size_t salt_len;
    uint8_t hash[PHC_HASH_MAX];
    size_t hash_len;
};

/* Parses text (NUL-terminated). False unless it is a well-formed argon2id
 * string with version 19, parameters in argon2's ranges, a salt of 8..64
 * bytes and a hash of 16..64 bytes, in unpadded standard base64. */
bool phc_argon2id_parse(const char *text, struct phc_argon2id *out) __attribute__((warn_unused_result));

#endif
