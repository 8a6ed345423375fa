/* password_hash: argon2id hashing with bounded concurrency. Each hash holds
 * ARGON2_MEMORY_KIB of RAM, so at most `concurrency` run at once, each in a
 * work buffer allocated once at start-up and reused (no page faults per hash).
 * Two backends, libsodium and libargon2, write the same PHC strings and
 * verify each other's. */
#ifndef SIGNUP_PASSWORD_HASH_H
#define SIGNUP_PASSWORD_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "account_fields.h" /* PASSWORD_HASH_ENCODED_MAX */
#include "config.h"         /* enum password_hash_backend */


struct password_hasher_params {
    uint32_t memory_kib;
    uint32_t iterations;
    uint32_t parallelism;
    int concurrency;      /* buffers, i.e. hashes at once; >= 1 */
    int queue_timeout_ms; /* longest wait for a free buffer */
    enum password_hash_backend backend; /* libsodium (0) needs parallelism 1 */
};

enum password_hash_result {
    PASSWORD_HASH_OK,
    PASSWORD_HASH_BUSY,   /* no buffer freed up within queue_timeout_ms */
    PASSWORD_HASH_FAILED, /* argon2 or the kernel's RNG failed; logged */
};

struct password_hasher;

/* Allocates concurrency work buffers; with libsodium, initialises it and
 * checks that it uses them (if not, warns once and lets it map its own).
 * Returns NULL on out-of-memory, when the backend cannot hash with these
 * parameters (libsodium with parallelism > 1) or when a first hash fails;
 * logged. Call before the threads that hash start. Caller frees with
 * password_hasher_free(). */
struct password_hasher *password_hasher_create(const struct password_hasher_params *params)
    __attribute__((warn_unused_result));

/* Hashes password with a fresh 16-byte random salt into a PHC string
 * "$argon2id$v=19$m=..,t=..,p=..$salt$hash" written to encoded. */
enum password_hash_result password_hash(struct password_hasher *hasher, const char *password, size_t len,
                                        char encoded[PASSWORD_HASH_ENCODED_MAX])
    __attribute__((warn_unused_result));

enum password_verify_result {
    PASSWORD_VERIFY_MATCH,
    PASSWORD_VERIFY_MISMATCH,
    PASSWORD_VERIFY_BUSY,   /* no buffer freed up within queue_timeout_ms */
    PASSWORD_VERIFY_FAILED, /* malformed stored hash or argon2 failure; logged */
};

/* Checks password against a stored PHC string written by either backend,
 * with the string's own parameters (any number of lanes), under the same
 * concurrency bound as password_hash. The comparison takes the same time
 * wherever the hashes differ. */
enum password_verify_result password_verify(struct password_hasher *hasher, const char *encoded,
                                            const char *password, size_t len) __attribute__((warn_unused_result));

/* True when encoded is a valid argon2id string made with other parameters
 * (memory, passes, lanes, salt or hash length) than the hasher's: after a
 * successful sign-in it is replaced by a fresh hash of the same password. */
bool password_needs_rehash(const struct password_hasher *hasher, const char *encoded);

/* libsodium only: whether its work areas are the kept buffers (the start-up
 * self-test saw libsodium take one). Always false for libargon2, which gets
 * its buffer through its own allocation callback. */
bool password_hasher_keeps_work_area(const struct password_hasher *hasher);

/* How many hashes waited for a buffer, and their total wait in seconds
 * (for the argon2 queue-wait metric). */
void password_hasher_stats(struct password_hasher *hasher, unsigned long long *waits, double *wait_seconds);

/* NULL-safe; no hash may be running. */
void password_hasher_free(struct password_hasher *hasher);

#endif
