/* password_hash: argon2id hashing with bounded concurrency. Each hash holds
 * ARGON2_MEMORY_KIB of RAM, so at most `concurrency` run at once, each in a
 * work buffer allocated once at start-up and reused (no page faults per hash). */
#ifndef SIGNUP_PASSWORD_HASH_H
#define SIGNUP_PASSWORD_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Enough for "$argon2id$v=19$m=4294967295,t=4294967295,p=255$" + 16-byte salt + 32-byte hash. */
#define PASSWORD_HASH_ENCODED_MAX 160

struct password_hasher_params {
    uint32_t memory_kib;
    uint32_t iterations;
    uint32_t parallelism;
    int concurrency;      /* buffers, i.e. hashes at once; >= 1 */
    int queue_timeout_ms; /* longest wait for a free buffer */
};

enum password_hash_result {
    PASSWORD_HASH_OK,
    PASSWORD_HASH_BUSY,   /* no buffer freed up within queue_timeout_ms */
    PASSWORD_HASH_FAILED, /* argon2 or the kernel's RNG failed; logged */
};

struct password_hasher;

/* Allocates concurrency work buffers. Returns NULL on out-of-memory.
 * Caller frees with password_hasher_free(). */
struct password_hasher *password_hasher_create(const struct password_hasher_params *params)
    __attribute__((warn_unused_result));

/* Hashes password with a fresh 16-byte random salt into a PHC string
 * "$argon2id$v=19$m=..,t=..,p=..$salt$hash" written to encoded. */
enum password_hash_result password_hash(struct password_hasher *hasher, const char *password, size_t len,
                                        char encoded[PASSWORD_HASH_ENCODED_MAX])
    __attribute__((warn_unused_result));

/* How many hashes waited for a buffer, and their total wait in seconds
 * (for the argon2 queue-wait metric). */
void password_hasher_stats(struct password_hasher *hasher, unsigned long long *waits, double *wait_seconds);

/* NULL-safe; no hash may be running. */
void password_hasher_free(struct password_hasher *hasher);

#endif
