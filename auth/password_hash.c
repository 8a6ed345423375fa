/* How passwords are stored: argon2id PHC strings, computed by libsodium (the
 * default: its SIMD kernels, chosen at run time, are ~3x faster than Debian's
 * portable libargon2) or by libargon2 (which also hashes with several lanes).
 * The work buffers are a small pool guarded by a mutex and condition variable;
 * taking a buffer is what bounds both concurrency and memory. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MADV_DONTDUMP */
#include "password_hash.h"

#include <argon2.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "phc_string.h"
#include "secret.h"
#include "sodium_work_area.h"

#define SALT_BYTES 16
#define HASH_BYTES 32

struct hash_slot {
    uint8_t *memory;              /* work_bytes, mapped and pre-faulted at start-up; NULL if libsodium maps its own */
    struct sodium_work_area area; /* libsodium: `memory`, as it is lent to it */
};

struct password_hasher {
    struct password_hasher_params params;
    size_t work_bytes;
    bool keeps_work_area;          /* libsodium uses the slots' memory (its self-test passed) */
    struct hash_slot *slots;       /* params.concurrency of them; owned, as is their memory */
    int *free_slots;               /* stack of the indexes of slots not in use */
    int free_count;
    pthread_mutex_t lock;
    pthread_cond_t slot_returned;
    unsigned long long waits; /* under lock */
    double wait_seconds;      /* under lock */
};

/* What argon2 allocates, libargon2 and libsodium alike (argon2_ctx): m KiB
 * blocks, at least 8 per lane, rounded down to a multiple of 4 per lane. */
static size_t argon2_work_bytes(uint32_t memory_kib, uint32_t lanes)
{
    size_t blocks = memory_kib > 8 * lanes ? memory_kib : 8 * lanes;
    blocks -= blocks % (4 * (size_t)lanes);
    return blocks * 1024;
}

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

/* Returns bytes of page-aligned, pre-faulted memory; release with munmap(). */
static uint8_t *map_work_memory(size_t bytes)
{
    void *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        return NULL;
    /* Password-derived blocks stay in it between hashes: keep them out of core dumps. */
    (void)madvise(memory, bytes, MADV_DONTDUMP);
    /* Touch every page now so the first sign-ups do not pay the faults. */
    memset(memory, 0, bytes);
    return memory;
}

static void unmap_work_memory(struct password_hasher *hasher)
{
    for (int i = 0; i < hasher->params.concurrency; i++) {
        if (hasher->slots[i].memory != NULL)
            munmap(hasher->slots[i].memory, hasher->work_bytes);
        hasher->slots[i].memory = NULL;
    }
}

/* libsodium maps its work area itself; the slot's memory is lent to it for
 * the one call instead (auth/sodium_work_area.c). */
static void lend_work_area(const struct password_hasher *hasher, struct hash_slot *slot)
{
    if (hasher->keeps_work_area)
        sodium_work_area_lend(&slot->area);
}

static void take_work_area_back(const struct password_hasher *hasher, struct hash_slot *slot)
{
    if (!hasher->keeps_work_area)
        return;
    /* libsodium 1.0.18 does not wipe argon2's memory (it relies on munmap);
     * this memory outlives the call, so its password-derived blocks are
     * wiped here (~0.3 ms of a ~8 ms hash). */
    if (sodium_work_area_end_loan() && !slot->area.mapped)
        sodium_memzero(slot->memory, hasher->work_bytes);
}

/* sodium_init() picks the argon2 kernels for this CPU; then one hash with
 * the slot memory lent shows whether this libsodium takes it. If it does
 * not (another version or allocation path), it hashes with its own memory. */
static bool start_libsodium(struct password_hasher *hasher)
{
    char encoded[crypto_pwhash_STRBYTES];
    struct hash_slot *slot = &hasher->slots[0];

    if (sodium_init() < 0) {
        log_event(LOG_LEVEL_ERROR, "password_hash_failed", "error", "sodium_init failed", LOG_END);
        return false;
    }
    sodium_work_area_lend(&slot->area);
    int rc = crypto_pwhash_str_alg(encoded, "self-test", 9, hasher->params.iterations,
                                   (size_t)hasher->params.memory_kib * 1024, crypto_pwhash_ALG_ARGON2ID13);
    int saved_errno = errno;
    bool was_used = sodium_work_area_end_loan() && !slot->area.mapped;
    if (rc != 0) {
        log_event(LOG_LEVEL_ERROR, "password_hash_failed", "error", strerror(saved_errno), LOG_END);
        return false;
    }
    hasher->keeps_work_area = was_used;
    if (!was_used) {
        log_event(LOG_LEVEL_WARN, "password_hash_work_area_unused", "backend", "libsodium", "detail",
                  "libsodium did not map the kept work area; it hashes with memory it maps per call (slower)",
                  LOG_END);
        unmap_work_memory(hasher);
    }
    return true;
}

struct password_hasher *password_hasher_create(const struct password_hasher_params *params)
{
    bool is_libsodium = params->backend == PASSWORD_HASH_BACKEND_LIBSODIUM;
    if (is_libsodium && params->parallelism != 1) {
        log_event(LOG_LEVEL_ERROR, "password_hash_failed", "error", "libsodium hashes with one lane only", LOG_END);
        return NULL;
    }
    struct password_hasher *hasher = calloc(1, sizeof *hasher);
    if (hasher == NULL)
        return NULL;
    hasher->params = *params;
    hasher->work_bytes = argon2_work_bytes(params->memory_kib, params->parallelism);
    hasher->slots = calloc((size_t)params->concurrency, sizeof *hasher->slots);
    hasher->free_slots = calloc((size_t)params->concurrency, sizeof *hasher->free_slots);
    if (hasher->slots == NULL || hasher->free_slots == NULL)
        goto failed;
    for (int i = 0; i < params->concurrency; i++) {
        struct hash_slot *slot = &hasher->slots[i];
        slot->memory = map_work_memory(hasher->work_bytes);
        if (slot->memory == NULL)
            goto failed;
        slot->area = (struct sodium_work_area){.base = slot->memory, .bytes = hasher->work_bytes};
        hasher->free_slots[i] = i;
    }
    hasher->free_count = params->concurrency;
    if (is_libsodium && !start_libsodium(hasher))
        goto failed;
    pthread_mutex_init(&hasher->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hasher->slot_returned, &attr);
    pthread_condattr_destroy(&attr);
    log_event(LOG_LEVEL_INFO, "password_hasher_ready", "backend", is_libsodium ? "libsodium" : "libargon2",
              "work_area", !is_libsodium ? "allocation callback" : hasher->keeps_work_area ? "kept" : "per call",
              LOG_END);
    return hasher;

failed:
    if (hasher->slots != NULL)
        unmap_work_memory(hasher);
    free(hasher->slots);
    free(hasher->free_slots);
    free(hasher);
    return NULL;
}

static struct hash_slot *acquire_slot(struct password_hasher *hasher)
{
    struct timespec deadline;
    struct timespec start, end;
    struct hash_slot *slot = NULL;
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
        if (pthread_cond_timedwait(&hasher->slot_returned, &hasher->lock, &deadline) == ETIMEDOUT)
            break;
    }
    if (hasher->free_count > 0)
        slot = &hasher->slots[hasher->free_slots[--hasher->free_count]];
    clock_gettime(CLOCK_MONOTONIC, &end);
    hasher->waits++;
    hasher->wait_seconds += (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    pthread_mutex_unlock(&hasher->lock);
    return slot;
}

static void release_slot(struct password_hasher *hasher, struct hash_slot *slot)
{
    pthread_mutex_lock(&hasher->lock);
    hasher->free_slots[hasher->free_count++] = (int)(slot - hasher->slots);
    pthread_cond_signal(&hasher->slot_returned);
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

static enum password_hash_result libargon2_hash(struct password_hasher *hasher, struct hash_slot *slot,
                                                const uint8_t salt[SALT_BYTES], const char *password, size_t len,
                                                char encoded[PASSWORD_HASH_ENCODED_MAX])
{
    uint8_t hash[HASH_BYTES] = {0}; /* written by argon2_ctx through ctx.out */
    char salt_b64[32], hash_b64[48];
    argon2_context ctx = {
        .out = hash,
        .outlen = sizeof hash,
        .pwd = (uint8_t *)password, /* argon2 does not write to it without ARGON2_FLAG_CLEAR_PASSWORD */
        .pwdlen = (uint32_t)len,
        .salt = (uint8_t *)salt,
        .saltlen = SALT_BYTES,
        .t_cost = hasher->params.iterations,
        .m_cost = hasher->params.memory_kib,
        .lanes = hasher->params.parallelism,
        .threads = hasher->params.parallelism,
        .version = ARGON2_VERSION_13,
        .allocate_cbk = take_thread_buffer,
        .free_cbk = keep_thread_buffer,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    thread_buffer = slot->memory;
    thread_buffer_bytes = hasher->work_bytes;
    int rc = argon2_ctx(&ctx, Argon2_id);
    thread_buffer = NULL;
    if (rc != ARGON2_OK) {
        log_event(LOG_LEVEL_ERROR, "password_hash_failed", "error", argon2_error_message(rc), LOG_END);
        return PASSWORD_HASH_FAILED;
    }
    base64_unpadded(salt, SALT_BYTES, salt_b64);
    base64_unpadded(hash, sizeof hash, hash_b64);
    snprintf(encoded, PASSWORD_HASH_ENCODED_MAX, "$argon2id$v=%d$m=%u,t=%u,p=%u$%s$%s", ARGON2_VERSION_13,
             hasher->params.memory_kib, hasher->params.iterations, hasher->params.parallelism, salt_b64,
             hash_b64);
    memset(hash, 0, sizeof hash);
    return PASSWORD_HASH_OK;
}

static enum password_hash_result libsodium_hash(struct password_hasher *hasher, struct hash_slot *slot,
                                                const char *password, size_t len,
                                                char encoded[PASSWORD_HASH_ENCODED_MAX])
{
    lend_work_area(hasher, slot);
    /* Its own 16-byte salt (randombytes, i.e. getrandom) and 32-byte hash. */
    int rc = crypto_pwhash_str_alg(encoded, password, len, hasher->params.iterations,
                                   (size_t)hasher->params.memory_kib * 1024, crypto_pwhash_ALG_ARGON2ID13);
    int saved_errno = errno;
    take_work_area_back(hasher, slot);
    if (rc != 0) {
        log_event(LOG_LEVEL_ERROR, "password_hash_failed", "error", strerror(saved_errno), LOG_END);
        return PASSWORD_HASH_FAILED;
    }
    return PASSWORD_HASH_OK;
}

enum password_hash_result password_hash(struct password_hasher *hasher, const char *password, size_t len,
                                        char encoded[PASSWORD_HASH_ENCODED_MAX])
{
    uint8_t salt[SALT_BYTES];
    bool is_libsodium = hasher->params.backend == PASSWORD_HASH_BACKEND_LIBSODIUM;

    if (!is_libsodium && !fill_random(salt, sizeof salt)) {
        log_event(LOG_LEVEL_ERROR, "password_hash_failed", "error", strerror(errno), LOG_END);
        return PASSWORD_HASH_FAILED;
    }
    struct hash_slot *slot = acquire_slot(hasher);
    if (slot == NULL)
        return PASSWORD_HASH_BUSY;
    enum password_hash_result result = is_libsodium ? libsodium_hash(hasher, slot, password, len, encoded)
                                                    : libargon2_hash(hasher, slot, salt, password, len, encoded);
    release_slot(hasher, slot);
    return result;
}

static enum password_verify_result libargon2_verify(struct password_hasher *hasher, struct hash_slot *slot,
                                                    const struct phc_argon2id *stored, const char *password,
                                                    size_t len)
{
    uint8_t computed[PHC_HASH_MAX];
    argon2_context ctx = {
        .out = computed,
        .outlen = (uint32_t)stored->hash_len,
        .pwd = (uint8_t *)password,
        .pwdlen = (uint32_t)len,
        .salt = (uint8_t *)stored->salt,
        .saltlen = (uint32_t)stored->salt_len,
        .t_cost = stored->iterations,
        .m_cost = stored->memory_kib,
        .lanes = stored->parallelism,
        .threads = stored->parallelism,
        .version = ARGON2_VERSION_13,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    /* The slot's buffer serves every string it is large enough for; a larger
     * one (stored before the memory setting was lowered) gets libargon2's own. */
    if (argon2_work_bytes(stored->memory_kib, stored->parallelism) <= hasher->work_bytes) {
        ctx.allocate_cbk = take_thread_buffer;
        ctx.free_cbk = keep_thread_buffer;
        thread_buffer = slot->memory;
        thread_buffer_bytes = hasher->work_bytes;
    }
    /* Computes, then compares in constant time. */
    int rc = argon2_verify_ctx(&ctx, (const char *)stored->hash, Argon2_id);
    thread_buffer = NULL;
    secret_wipe(computed, sizeof computed);
    if (rc == ARGON2_OK)
        return PASSWORD_VERIFY_MATCH;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return PASSWORD_VERIFY_MISMATCH;
    log_event(LOG_LEVEL_ERROR, "password_verify_failed", "error", argon2_error_message(rc), LOG_END);
    return PASSWORD_VERIFY_FAILED;
}

static enum password_verify_result libsodium_verify(struct password_hasher *hasher, struct hash_slot *slot,
                                                    const char *encoded, const char *password, size_t len)
{
    /* A string with other memory parameters asks for another size and gets
     * fresh memory from the pass-through. */
    lend_work_area(hasher, slot);
    int rc = crypto_pwhash_str_verify(encoded, password, len);
    take_work_area_back(hasher, slot);
    /* -1 is also what an allocation failure returns; the string parsed, so a
     * mismatch is by far the likelier, and either way nobody signs in. */
    return rc == 0 ? PASSWORD_VERIFY_MATCH : PASSWORD_VERIFY_MISMATCH;
}

enum password_verify_result password_verify(struct password_hasher *hasher, const char *encoded,
                                            const char *password, size_t len)
{
    struct phc_argon2id stored;
    if (!phc_argon2id_parse(encoded, &stored)) {
        log_event(LOG_LEVEL_ERROR, "password_verify_failed", "error", "stored hash is not an argon2id PHC string",
                  LOG_END);
        return PASSWORD_VERIFY_FAILED;
    }
    struct hash_slot *slot = acquire_slot(hasher);
    if (slot == NULL)
        return PASSWORD_VERIFY_BUSY;
    enum password_verify_result result = hasher->params.backend == PASSWORD_HASH_BACKEND_LIBSODIUM
                                             ? libsodium_verify(hasher, slot, encoded, password, len)
                                             : libargon2_verify(hasher, slot, &stored, password, len);
    release_slot(hasher, slot);
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

bool password_hasher_keeps_work_area(const struct password_hasher *hasher)
{
    return hasher->keeps_work_area;
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
    unmap_work_memory(hasher);
    free(hasher->slots);
    free(hasher->free_slots);
    pthread_cond_destroy(&hasher->slot_returned);
    pthread_mutex_destroy(&hasher->lock);
    free(hasher);
}
