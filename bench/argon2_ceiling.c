/* argon2 ceiling: argon2id at the service's exact parameters (m=19456 KiB,
 * t=2, p=1, 16-byte salt, 32-byte hash) on every core at once, one thread per
 * core, each reusing one pre-faulted buffer through allocate_cbk/free_cbk as
 * auth/password_hash.c does. Prints machine-readable "key=value" lines.
 *
 *   argon2_ceiling [seconds] [threads] [memory_kib] [iterations]
 */
#define _POSIX_C_SOURCE 200809L
#include <argon2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint32_t memory_kib = 19456, iterations = 2;
static double run_seconds = 10.0;

static _Thread_local uint8_t *thread_buffer;
static _Thread_local size_t thread_buffer_bytes;

static int take_buffer(uint8_t **memory, size_t bytes)
{
    if (thread_buffer == NULL || bytes > thread_buffer_bytes) {
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

static void setup_buffer(void)
{
    size_t blocks = memory_kib > 8 ? memory_kib : 8;
    thread_buffer_bytes = blocks * 1024;
    thread_buffer = malloc(thread_buffer_bytes);
    if (thread_buffer != NULL)
        memset(thread_buffer, 0, thread_buffer_bytes); /* fault the pages in once */
}

static void *run(void *arg)
{
    struct worker *w = arg;
    setup_buffer();
    if (thread_buffer == NULL) {
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
    free(thread_buffer);
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (argc > 1)
        run_seconds = atof(argv[1]);
    if (argc > 2)
        threads = atol(argv[2]);
    if (argc > 3)
        memory_kib = (uint32_t)atol(argv[3]);
    if (argc > 4)
        iterations = (uint32_t)atol(argv[4]);
    if (threads < 1 || run_seconds <= 0) {
        fprintf(stderr, "usage: %s [seconds] [threads] [memory_kib] [iterations]\n", argv[0]);
        return 2;
    }

    /* Single-hash latency on an otherwise idle machine (warm buffer). */
    setup_buffer();
    if (thread_buffer == NULL || hash_once("warm-up") != 0)
        return 1;
    int single_n = 20;
    double t0 = now_s();
    for (int i = 0; i < single_n; i++)
        if (hash_once("Str0ng!Pass-benchmark") != 0)
            return 1;
    double single_ms = (now_s() - t0) * 1000.0 / single_n;
    free(thread_buffer);
    thread_buffer = NULL;

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
    printf("threads=%ld\nm_kib=%u\nt=%u\np=1\nseconds=%.3f\nhashes=%lu\nhashes_per_s=%.2f\nsingle_hash_ms=%.2f\n",
           threads, memory_kib, iterations, elapsed, total, (double)total / elapsed, single_ms);
    return 0;
}
