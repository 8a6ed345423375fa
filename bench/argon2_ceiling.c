/* argon2 ceiling: argon2id (16-byte salt, 32-byte hash, p=1) on every core at
 * once, one thread per core, each hashing the way auth/password_hash.c does
 * with the chosen backend. Prints machine-readable "key=value" lines.
 *
 *   argon2_ceiling [seconds] [threads] [memory_kib] [iterations] [backend]
 *
 * backend: libargon2 (default): each thread reuses one pre-faulted buffer
 *          through allocate_cbk/free_cbk;
 *          libsodium: each thread lends libsodium one pre-faulted work area
 *          (auth/sodium_work_area.c, built in) and wipes it after each hash;
 *          libsodium-fresh: libsodium as shipped, a fresh mapping per hash.
 * Build: cc -O2 -Iinclude bench/argon2_ceiling.c auth/sodium_work_area.c -largon2 -lsodium -pthread
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <argon2.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "sodium_work_area.h"

enum backend { LIBARGON2, LIBSODIUM, LIBSODIUM_FRESH };

static uint32_t memory_kib = 19456, iterations = 2;
static double run_seconds = 10.0;
static enum backend backend = LIBARGON2;

/* What argon2 maps for m KiB with one lane (see password_hash.c). */
static size_t work_bytes(void)
{
    size_t blocks = memory_kib > 8 ? memory_kib : 8;
    return (blocks - blocks % 4) * 1024;
}

static _Thread_local uint8_t *thread_buffer;
static _Thread_local struct sodium_work_area thread_area;

static int take_buffer(uint8_t **memory, size_t bytes)
{
    if (thread_buffer == NULL || bytes > work_bytes()) {
        *memory = NULL;
        return ARGON2_MEMORY_ALLOCATION_ERROR;
    }
    *memory = thread_buffer;
    return ARGON2_OK;
}

static void keep_buffer(uint8_t *memory, size_t bytes)
{
    (void)memory;
    (void)bytes;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hash_once(const char *password)
{
    if (backend != LIBARGON2) {
        char encoded[crypto_pwhash_STRBYTES];
        if (backend == LIBSODIUM)
            sodium_work_area_lend(&thread_area);
        int rc = crypto_pwhash_str_alg(encoded, password, strlen(password), iterations, (size_t)memory_kib * 1024,
                                       crypto_pwhash_ALG_ARGON2ID13);
        if (backend == LIBSODIUM) {
            if (!sodium_work_area_end_loan()) {
                fprintf(stderr, "libsodium did not use the kept work area\n");
                return -1;
            }
            sodium_memzero(thread_area.base, thread_area.bytes); /* as password_hash.c does */
        }
        return rc == 0 ? 0 : -1;
    }
    uint8_t salt[16], out[32];
    if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt)
        return -1;
    argon2_context ctx = {
        .out = out, .outlen = sizeof out,
        .pwd = (uint8_t *)(uintptr_t)password, .pwdlen = (uint32_t)strlen(password),
        .salt = salt, .saltlen = sizeof salt,
        .t_cost = iterations, .m_cost = memory_kib, .lanes = 1, .threads = 1,
        .version = ARGON2_VERSION_13,
        .allocate_cbk = take_buffer, .free_cbk = keep_buffer,
        .flags = ARGON2_DEFAULT_FLAGS,
    };
    int rc = argon2_ctx(&ctx, Argon2_id);
    if (rc != ARGON2_OK) {
        fprintf(stderr, "argon2_ctx: %s\n", argon2_error_message(rc));
        return -1;
    }
    return 0;
}

struct worker {
    pthread_t thread;
    double deadline;
    unsigned long hashes;
    int failed;
};

/* The thread's pre-faulted memory, as password_hasher_create() maps it. */
static int setup_memory(void)
{
    if (backend == LIBSODIUM_FRESH)
        return 0;
    void *memory = mmap(NULL, work_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        return -1;
    memset(memory, 0, work_bytes()); /* fault the pages in once */
    thread_buffer = memory;
    thread_area = (struct sodium_work_area){.base = memory, .bytes = work_bytes()};
    return 0;
}

static void release_memory(void)
{
    if (thread_buffer != NULL)
        munmap(thread_buffer, work_bytes());
    thread_buffer = NULL;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    if (setup_memory() != 0) {
        w->failed = 1;
        return NULL;
    }
    while (now_s() < w->deadline) {
        if (hash_once("Str0ng!Pass-benchmark") != 0) {
            w->failed = 1;
            break;
        }
        w->hashes++;
    }
    release_memory();
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *const NAMES[] = {"libargon2", "libsodium", "libsodium-fresh"};
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (argc > 1)
        run_seconds = atof(argv[1]);
    if (argc > 2)
        threads = atol(argv[2]);
    if (argc > 3)
        memory_kib = (uint32_t)atol(argv[3]);
    if (argc > 4)
        iterations = (uint32_t)atol(argv[4]);
    if (argc > 5) {
        int found = 0;
        for (int i = 0; i < 3; i++) {
            if (strcmp(argv[5], NAMES[i]) == 0) {
                backend = (enum backend)i;
                found = 1;
            }
        }
        if (!found)
            threads = 0;
    }
    if (threads < 1 || run_seconds <= 0) {
        fprintf(stderr, "usage: %s [seconds] [threads] [memory_kib] [iterations] [libargon2|libsodium|libsodium-fresh]\n",
                argv[0]);
        return 2;
    }
    if (sodium_init() < 0)
        return 1;

    /* Single-hash latency on an otherwise idle machine (warm memory). */
    if (setup_memory() != 0 || hash_once("warm-up") != 0)
        return 1;
    int single_n = 20;
    double t0 = now_s();
    for (int i = 0; i < single_n; i++)
        if (hash_once("Str0ng!Pass-benchmark") != 0)
            return 1;
    double single_ms = (now_s() - t0) * 1000.0 / single_n;
    release_memory();

    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    if (workers == NULL)
        return 1;
    double start = now_s();
    for (long i = 0; i < threads; i++) {
        workers[i].deadline = start + run_seconds;
        if (pthread_create(&workers[i].thread, NULL, run, &workers[i]) != 0)
            return 1;
    }
    unsigned long total = 0;
    int failed = 0;
    for (long i = 0; i < threads; i++) {
        pthread_join(workers[i].thread, NULL);
        total += workers[i].hashes;
        failed |= workers[i].failed;
    }
    double elapsed = now_s() - start;
    free(workers);
    if (failed)
        return 1;
    printf("backend=%s\nthreads=%ld\nm_kib=%u\nt=%u\np=1\nseconds=%.3f\nhashes=%lu\nhashes_per_s=%.2f\n"
           "single_hash_ms=%.2f\n",
           NAMES[backend], threads, memory_kib, iterations, elapsed, total, (double)total / elapsed, single_ms);
    return 0;
}
