/* How passwords are stored: argon2id PHC strings. The work buffers are a
 * small pool guarded by a mutex and condition variable; taking a buffer is
 * what bounds both concurrency and memory. */
#include "password_hash.h"

#include <argon2.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "phc_string.h"
#include "secret.h"

#define SALT_BYTES 16
#define HASH_BYTES 32

struct password_hasher {
    struct password_hasher_params params;
    size_t buffer_bytes;
    uint8_t **free_buffers; /* stack of buffers not in use; each owned by the hasher */
    int free_count;
    uint8_t **all_buffers;
    pthread_mutex_t lock;
    pthread_cond_t buffer_returned;
    unsigned long long waits;   /* under lock */
    double wait_seconds;        /* under lock */
};

/* argon2's allocation callback has no context argument, so the buffer this
 * thread took from the pool is passed through a thread-local. */
static _Thread_local uint8_t *thread_buffer;
static _Thread_local size_t thread_buffer_bytes;

static int take_thread_buffer(uint8_t **memory, size_t bytes)
{
    /* libargon2 ignores the return value and tests *memory for NULL. */
    if (thread_buffer == NULL || bytes > thread_buffer_bytes) {
        *memory = NULL;
        return ARGON2_MEMORY_ALLOCATION_ERROR;
    }
    *memory = thread_buffer;
    return ARGON2_OK;
}

static void keep_thread_buffer(uint8_t *memory, size_t bytes)
{
    (void)memory;
    (void)bytes; /* the pool owns it; argon2 has already wiped it */
}

struct password_hasher *password_hasher_create(const struct password_hasher_params *params)
{
    struct password_hasher *hasher = calloc(1, sizeof *hasher);
    if (hasher == NULL)
        return NULL;
    hasher->params = *params;
    /* argon2 rounds memory down to a multiple of 4*lanes blocks of 1 KiB,
     * with a floor of 8 blocks per lane. */
    size_t blocks = params->memory_kib > 8 * params->parallelism ? params->memory_kib : 8 * params->parallelism;
    hasher->buffer_bytes = blocks * 1024;
    hasher->all_buffers = calloc((size_t)params->concurrency, sizeof *hasher->all_buffers);
    hasher->free_buffers = calloc((size_t)params->concurrency, sizeof *hasher->free_buffers);
    if (hasher->all_buffers == NULL || hasher->free_buffers == NULL)
        goto failed;
    for (int i = 0; i < params->concurrency; i++) {
        hasher->all_buffers[i] = malloc(hasher->buffer_bytes);
        if (hasher->all_buffers[i] == NULL)
            goto failed;
        /* Touch every page now so the first sign-ups do not pay the faults. */
        memset(hasher->all_buffers[i], 0, hasher->buffer_bytes);
        hasher->free_buffers[i] = hasher->all_buffers[i];
    }
    hasher->free_count = params->concurrency;
    pthread_mutex_init(&hasher->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hasher->buffer_returned, &attr);
    pthread_condattr_destroy(&attr);
    return hasher;

failed:
    if (hasher->all_buffers != NULL) {
        for (int i = 0; i < params->concurrency; i++)
            free(hasher->all_buffers[i]);
    }
    free(hasher->all_buffers);
    free(hasher->free_buffers);
    free(hasher);
    return NULL;
}

static uint8_t *acquire_buffer(struct password_hasher *hasher)
{
    struct timespec deadline;
    struct timespec start, end;
    uint8_t *buffer = NULL;
    int ms = hasher->params.queue_timeout_ms;

    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline = start;
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&hasher->lock);
    while (hasher->free_count == 0) {
        if (pthread_cond_timedwait(&hasher->buffer_returned, &hasher->lock, &deadline) == ETIMEDOUT)
            break;
    }
    if (hasher->free_count > 0)
        buffer = hasher->free_buffers[--hasher->free_count];
    clock_gettime(CLOCK_MONOTONIC, &end);
    hasher->waits++;
    hasher->wait_seconds += (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    pthread_mutex_unlock(&hasher->lock);
    return buffer;
}

static void release_buffer(struct password_hasher *hasher, uint8_t *buffer)
{
    pthread_mutex_lock(&hasher->lock);
    hasher->free_buffers[hasher->free_count++] = buffer;
    pthread_cond_signal(&hasher->buffer_returned);
    pthread_mutex_unlock(&hasher->lock);
}

/* Unpadded standard base64, as the PHC string format uses. Returns chars written. */
static size_t base64_unpadded(const uint8_t *in, size_t len, char *out)
{
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[n++] = ALPHABET[(v >> 18) & 63];
        out[n++] = ALPHABET[(v >> 12) & 63];
        if (i + 1 < len)
            out[n++] = ALPHABET[(v >> 6) & 63];
        if (i + 2 < len)
            out[n++] = ALPHABET[v & 63];
    }
    out[n] = '\0';
    return n;
}

static bool fill_random(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        got += (size_t)n;
    }
    return true;
}

enum password_hash_result password_hash(struct password_hasher *hasher, const char *password, size_t len,
                                        char encoded[PASSWORD_HASH_ENCODED_MAX])
{
    uint8_t salt[SALT_BYTES];
    uint8_t hash[HASH_BYTES];
    char salt_b64[32], hash_b64[48];
    uint8_t *buffer;
    int rc;

    if (!fill_random(salt, sizeof salt)) {
        log_event(LOG_LEVEL_ERROR, "password_hash_failed", "error", strerror(errno), LOG_END);
        return PASSWORD_HASH_FAILED;
    }
    buffer = acquire_buffer(hasher);
    if (buffer == NULL)
        return PASSWORD_HASH_BUSY;

    argon2_context ctx = {
        .out = hash,
        .outlen = sizeof hash,
        .pwd = (uint8_t *)password, /* argon2 does not write to it without ARGON2_FLAG_CLEAR_PASSWORD */
        .pwdlen = (uint32_t)len,
        .salt = salt,
        .saltlen = sizeof salt,
        .t_cost = hasher->params.iterations,
        .m_cost = hasher->params.memory_kib,
        .lanes = hasher->params.parallelism,
        .threads = hasher->params.parallelism,
        .version = ARGON2_VERSION_13,
        .allocate_cbk = take_thread_buffer,
        .free_cbk = keep_thread_buffer,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    thread_buffer = buffer;
    thread_buffer_bytes = hasher->buffer_bytes;
    rc = argon2_ctx(&ctx, Argon2_id);
    thread_buffer = NULL;
    release_buffer(hasher, buffer);
    if (rc != ARGON2_OK) {
        log_event(LOG_LEVEL_ERROR, "password_hash_failed", "error", argon2_error_message(rc), LOG_END);
        return PASSWORD_HASH_FAILED;
    }

    base64_unpadded(salt, sizeof salt, salt_b64);
    base64_unpadded(hash, sizeof hash, hash_b64);
    snprintf(encoded, PASSWORD_HASH_ENCODED_MAX, "$argon2id$v=%d$m=%u,t=%u,p=%u$%s$%s", ARGON2_VERSION_13,
             hasher->params.memory_kib, hasher->params.iterations, hasher->params.parallelism, salt_b64,
             hash_b64);
    memset(hash, 0, sizeof hash);
    return PASSWORD_HASH_OK;
}

/* Constant time in len: how long it takes must not say where they differ. */
static bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

enum password_verify_result password_verify(struct password_hasher *hasher, const char *encoded,
                                            const char *password, size_t len)
{
    struct phc_argon2id stored;
    uint8_t computed[PHC_HASH_MAX];
    enum password_verify_result result = PASSWORD_VERIFY_FAILED;

    if (!phc_argon2id_parse(encoded, &stored)) {
        log_event(LOG_LEVEL_ERROR, "password_verify_failed", "error", "stored hash is not an argon2id PHC string",
                  LOG_END);
        return PASSWORD_VERIFY_FAILED;
    }
    uint8_t *buffer = acquire_buffer(hasher);
    if (buffer == NULL)
        return PASSWORD_VERIFY_BUSY;

    argon2_context ctx = {
        .out = computed,
        .outlen = (uint32_t)stored.hash_len,
        .pwd = (uint8_t *)password,
        .pwdlen = (uint32_t)len,
        .salt = stored.salt,
        .saltlen = (uint32_t)stored.salt_len,
        .t_cost = stored.iterations,
        .m_cost = stored.memory_kib,
        .lanes = stored.parallelism,
        .threads = stored.parallelism,
        .version = ARGON2_VERSION_13,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    /* A hash made with more memory than today's buffers (parameters were
     * lowered since) gets argon2's own allocation; it is still one of the
     * `concurrency` hashes at once, since it holds a buffer slot. */
    size_t blocks = stored.memory_kib > 8 * stored.parallelism ? stored.memory_kib : 8 * stored.parallelism;
    if ((size_t)blocks * 1024 <= hasher->buffer_bytes) {
        ctx.allocate_cbk = take_thread_buffer;
        ctx.free_cbk = keep_thread_buffer;
        thread_buffer = buffer;
        thread_buffer_bytes = hasher->buffer_bytes;
    }
    int rc = argon2_ctx(&ctx, Argon2_id);
    thread_buffer = NULL;
    release_buffer(hasher, buffer);
    if (rc != ARGON2_OK)
        log_event(LOG_LEVEL_ERROR, "password_verify_failed", "error", argon2_error_message(rc), LOG_END);
    else
        result = bytes_equal(computed, stored.hash, stored.hash_len) ? PASSWORD_VERIFY_MATCH
                                                                      : PASSWORD_VERIFY_MISMATCH;
    secret_wipe(computed, sizeof computed);
    return result;
}

bool password_needs_rehash(const struct password_hasher *hasher, const char *encoded)
{
    struct phc_argon2id stored;
    if (!phc_argon2id_parse(encoded, &stored))
        return false; /* not ours to rewrite; verification already failed on it */
    return stored.memory_kib != hasher->params.memory_kib || stored.iterations != hasher->params.iterations ||
           stored.parallelism != hasher->params.parallelism || stored.salt_len != SALT_BYTES ||
           stored.hash_len != HASH_BYTES;
}

void password_hasher_stats(struct password_hasher *hasher, unsigned long long *waits, double *wait_seconds)
{
    pthread_mutex_lock(&hasher->lock);
    *waits = hasher->waits;
    *wait_seconds = hasher->wait_seconds;
    pthread_mutex_unlock(&hasher->lock);
}

void password_hasher_free(struct password_hasher *hasher)
{
    if (hasher == NULL)
        return;
    for (int i = 0; i < hasher->params.concurrency; i++)
        free(hasher->all_buffers[i]);
    free(hasher->all_buffers);
    free(hasher->free_buffers);
    pthread_cond_destroy(&hasher->buffer_returned);
    pthread_mutex_destroy(&hasher->lock);
    free(hasher);
}
