/* sodium_work_area: this process's mmap() and munmap(), which pass every call
 * through except one: libsodium asking for the argon2 work area a hashing
 * thread has lent it, which it gets without a fresh mapping.
 *
 * Why. libsodium 1.0.18 (Debian 12) allocates argon2's m KiB in
 * allocate_memory() (crypto_pwhash/argon2/argon2-core.c) with its own
 *   mmap(NULL, m * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
 * (seen in its code and traced at run time; not through sodium_malloc) and
 * munmap()s it after every hash. It has no allocation hook, and its argon2_ctx
 * is not exported. On our VMs the first write to freshly mapped pages costs
 * ~25 ms per 19 MiB even though MAP_POPULATE leaves no page faults to count,
 * three times the hash itself. docs/performance.md has the figures and the
 * alternatives measured (transparent huge pages, static linking with --wrap).
 *
 * How. The executable comes first in symbol lookup, so defining mmap and
 * munmap here takes libsodium's calls (through its PLT), and every other
 * library's. Anything that is not the matching request goes, untouched, to the
 * next definition: dlsym(RTLD_NEXT) finds libc's, or AddressSanitizer's
 * interceptor, which then sees every real mapping as before.
 *
 * What is handed out, and when. Only the area lent to the calling thread
 * (thread-local, sodium_work_area_lend()), only while libsodium does not
 * already hold it, and only for mmap(NULL, exactly area->bytes,
 * PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS [| MAP_POPULATE | MAP_NORESERVE], -1, 0).
 * The munmap of exactly that range gives it back; any other munmap touching
 * the lent area fails with EINVAL, so its owner's memory is never unmapped.
 *
 * Limits.
 * - glibc's internal mappings (malloc, thread stacks, the loader) do not go
 *   through the symbol and are never seen here.
 * - A libsodium that asks differently (another size, flags, mmap64 or a raw
 *   syscall, or sodium_malloc) just gets fresh memory: password_hash.c's
 *   self-test at start-up then finds the area unused, warns once and stops
 *   lending it.
 * - The loan is per thread and ends when the hashing call returns; libsodium
 *   hashes in the calling thread (one lane), and gives the area back there.
 * - The thread-locals use the initial-exec TLS model, so mmap can read them
 *   without allocating: link this into the executable, never a dlopen()ed
 *   library.
 * - Under valgrind nothing changes (it sees system calls, not symbols); under
 *   AddressSanitizer the pass-through reaches its interceptor. The unit tests
 *   (tests/check_sodium_work_area.c) run in both.
 * - If the next mmap or munmap cannot be found, the raw system call is used. */
#define _GNU_SOURCE /* RTLD_NEXT, MAP_ANONYMOUS, MAP_POPULATE, MAP_NORESERVE */
#include "sodium_work_area.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef void *(*mmap_function)(void *, size_t, int, int, int, off_t);
typedef int (*munmap_function)(void *, size_t);

static _Atomic(mmap_function) next_mmap;
static _Atomic(munmap_function) next_munmap;
static atomic_bool is_enabled = true;
#define INITIAL_EXEC __attribute__((tls_model("initial-exec")))
static _Thread_local struct sodium_work_area *loan INITIAL_EXEC;
static _Thread_local unsigned long long loan_hand_outs INITIAL_EXEC; /* area->hand_outs when the loan began */

static void *raw_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    return (void *)syscall(SYS_mmap, addr, length, prot, flags, fd, offset);
}

static int raw_munmap(void *addr, size_t length)
{
    return (int)syscall(SYS_munmap, addr, length);
}

/* dlsym() returns the function as a void *; POSIX guarantees the copy back
 * to a function pointer works (ISO C has no cast for it). */
static void *next_symbol(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static mmap_function resolve_mmap(void)
{
    mmap_function f = atomic_load_explicit(&next_mmap, memory_order_acquire);
    if (f == NULL) {
        void *symbol = next_symbol("mmap");
        f = raw_mmap;
        if (symbol != NULL)
            memcpy(&f, &symbol, sizeof f);
        /* Racing threads store the same value. */
        atomic_store_explicit(&next_mmap, f, memory_order_release);
    }
    return f;
}

static munmap_function resolve_munmap(void)
{
    munmap_function f = atomic_load_explicit(&next_munmap, memory_order_acquire);
    if (f == NULL) {
        void *symbol = next_symbol("munmap");
        f = raw_munmap;
        if (symbol != NULL)
            memcpy(&f, &symbol, sizeof f);
        atomic_store_explicit(&next_munmap, f, memory_order_release);
    }
    return f;
}

static bool is_work_area_request(const struct sodium_work_area *area, void *addr, size_t length, int prot, int flags,
                                 int fd, off_t offset)
{
    const int optional = MAP_POPULATE | MAP_NORESERVE;
    return !area->mapped && addr == NULL && length == area->bytes && prot == (PROT_READ | PROT_WRITE) &&
           (flags & ~optional) == (MAP_PRIVATE | MAP_ANONYMOUS) && fd == -1 && offset == 0;
}

static bool overlaps(const struct sodium_work_area *area, const void *addr, size_t length)
{
    uintptr_t start = (uintptr_t)addr, base = (uintptr_t)area->base;
    return start < base + area->bytes && base < start + length;
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    struct sodium_work_area *area = loan;
    if (area != NULL && atomic_load_explicit(&is_enabled, memory_order_relaxed) &&
        is_work_area_request(area, addr, length, prot, flags, fd, offset)) {
        area->mapped = true;
        area->hand_outs++;
        return area->base;
    }
    return resolve_mmap()(addr, length, prot, flags, fd, offset);
}

int munmap(void *addr, size_t length)
{
    struct sodium_work_area *area = loan;
    /* Checked even when disabled: an area handed out must still come back. */
    if (area != NULL && overlaps(area, addr, length)) {
        if (area->mapped && addr == area->base && length == area->bytes) {
            area->mapped = false;
            return 0;
        }
        errno = EINVAL;
        return -1;
    }
    return resolve_munmap()(addr, length);
}

void sodium_work_area_lend(struct sodium_work_area *area)
{
    loan = area;
    loan_hand_outs = area->hand_outs;
}

bool sodium_work_area_end_loan(void)
{
    struct sodium_work_area *area = loan;
    loan = NULL;
    return area != NULL && area->hand_outs != loan_hand_outs;
}

void sodium_work_area_set_enabled(bool enabled)
{
    atomic_store(&is_enabled, enabled);
}
