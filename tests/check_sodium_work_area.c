/* sodium_work_area: which mmap/munmap calls get the lent area and which pass
 * through untouched, and that libsodium's argon2id really takes it. Runs in
 * the AddressSanitizer build (make test) and under valgrind (make test-valgrind). */
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_POPULATE, memfd_create, mincore */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sodium_work_area.h"

#define AREA_BYTES ((size_t)19456 * 1024) /* what libsodium maps for m=19456 KiB */
#define PAGE 4096

static struct sodium_work_area area;
static uint8_t *memory;

static void *map_anonymous(size_t bytes)
{
    return mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void setup(void)
{
    memory = map_anonymous(AREA_BYTES); /* no loan yet: a real mapping */
    ck_assert_ptr_ne(memory, MAP_FAILED);
    area = (struct sodium_work_area){.base = memory, .bytes = AREA_BYTES};
}

static void teardown(void)
{
    (void)sodium_work_area_end_loan();
    sodium_work_area_set_enabled(true);
    munmap(memory, AREA_BYTES);
}

static bool is_mapped(const void *address)
{
    unsigned char resident;
    return mincore((void *)((uintptr_t)address & ~(uintptr_t)(PAGE - 1)), PAGE, &resident) == 0;
}

START_TEST(test_sodium_work_area_hands_out_the_lent_area_for_an_anonymous_private_mapping_of_its_size)
{
    sodium_work_area_lend(&area);
    void *p = mmap(NULL, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    ck_assert_ptr_eq(p, memory);
    ck_assert(area.mapped);
    memory[AREA_BYTES - 1] = 7;
    ck_assert_int_eq(munmap(p, AREA_BYTES), 0);
    ck_assert(!area.mapped);
    /* Given back, not unmapped: still ours, contents and all. */
    ck_assert(is_mapped(memory));
    ck_assert_int_eq(memory[AREA_BYTES - 1], 7);
    ck_assert(sodium_work_area_end_loan());
    ck_assert_uint_eq(area.hand_outs, 1);
}
END_TEST

static const struct {
    const char *what;
    uintptr_t addr;
    size_t length;
    int prot, flags;
    bool has_fd;
} OTHER_REQUESTS[] = {
    {"one page less", 0, AREA_BYTES - PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, false},
    {"one page more", 0, AREA_BYTES + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, false},
    {"read-only", 0, AREA_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, false},
    {"executable", 0, AREA_BYTES, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, false},
    {"shared", 0, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, false},
    {"file-backed", 0, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE, true},
    {"address hint", 0x600000000000, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, false},
    {"grows down", 0, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, false},
    {"huge pages", 0, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, false},
};

START_TEST(test_sodium_work_area_passes_other_mappings_through)
{
    int fd = -1;
    if (OTHER_REQUESTS[_i].has_fd) {
        fd = memfd_create("sodium_work_area_test", 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t)AREA_BYTES), 0);
    }
    sodium_work_area_lend(&area);
    void *p = mmap((void *)OTHER_REQUESTS[_i].addr, OTHER_REQUESTS[_i].length, OTHER_REQUESTS[_i].prot,
                   OTHER_REQUESTS[_i].flags, fd, 0);
    /* MAP_HUGETLB fails without reserved huge pages; passing through is what counts. */
    ck_assert_msg(p != memory, "%s got the work area", OTHER_REQUESTS[_i].what);
    ck_assert(!area.mapped);
    if (p != MAP_FAILED) {
        ck_assert_int_eq(munmap(p, OTHER_REQUESTS[_i].length), 0);
        ck_assert(!is_mapped(p));
    }
    ck_assert(!sodium_work_area_end_loan());
    if (fd >= 0)
        close(fd);
}
END_TEST

START_TEST(test_sodium_work_area_passes_through_without_a_loan)
{
    void *p = map_anonymous(AREA_BYTES);
    ck_assert_ptr_ne(p, MAP_FAILED);
    ck_assert_ptr_ne(p, memory);
    ck_assert_int_eq(munmap(p, AREA_BYTES), 0);
    ck_assert_uint_eq(area.hand_outs, 0);
}
END_TEST

static void *map_in_thread(void *arg)
{
    (void)arg;
    return map_anonymous(AREA_BYTES);
}

START_TEST(test_sodium_work_area_passes_through_for_a_thread_it_was_not_lent_to)
{
    pthread_t thread;
    void *theirs = NULL;
    sodium_work_area_lend(&area);
    ck_assert_int_eq(pthread_create(&thread, NULL, map_in_thread, NULL), 0);
    ck_assert_int_eq(pthread_join(thread, &theirs), 0);
    ck_assert_ptr_ne(theirs, MAP_FAILED);
    ck_assert_ptr_ne(theirs, memory);
    ck_assert(!area.mapped);
    ck_assert_int_eq(munmap(theirs, AREA_BYTES), 0);
    /* The lending thread still gets it. */
    ck_assert_ptr_eq(map_anonymous(AREA_BYTES), memory);
    ck_assert_int_eq(munmap(memory, AREA_BYTES), 0);
    ck_assert(sodium_work_area_end_loan());
}
END_TEST

START_TEST(test_sodium_work_area_hands_the_area_out_once_until_it_is_given_back)
{
    sodium_work_area_lend(&area);
    void *first = map_anonymous(AREA_BYTES);
    void *second = map_anonymous(AREA_BYTES);
    ck_assert_ptr_eq(first, memory);
    ck_assert_ptr_ne(second, MAP_FAILED);
    ck_assert_ptr_ne(second, memory);
    ck_assert_int_eq(munmap(second, AREA_BYTES), 0);
    ck_assert(!is_mapped(second));
    ck_assert_int_eq(munmap(first, AREA_BYTES), 0);
    ck_assert(is_mapped(memory));
    /* Given back, it can be handed out again within the same loan. */
    ck_assert_ptr_eq(map_anonymous(AREA_BYTES), memory);
    ck_assert_int_eq(munmap(memory, AREA_BYTES), 0);
    ck_assert(sodium_work_area_end_loan());
    ck_assert_uint_eq(area.hand_outs, 2);
}
END_TEST

START_TEST(test_sodium_work_area_passes_other_munmaps_through)
{
    void *other = map_anonymous(4 * PAGE);
    ck_assert_ptr_ne(other, MAP_FAILED);
    sodium_work_area_lend(&area);
    ck_assert_ptr_eq(map_anonymous(AREA_BYTES), memory);
    ck_assert_int_eq(munmap(other, 4 * PAGE), 0);
    ck_assert(!is_mapped(other));
    ck_assert_int_eq(munmap(memory, AREA_BYTES), 0);
    ck_assert(sodium_work_area_end_loan());
}
END_TEST

START_TEST(test_sodium_work_area_refuses_any_other_munmap_of_the_lent_area)
{
    sodium_work_area_lend(&area);
    /* Lent but not handed out: nobody may unmap it. */
    errno = 0;
    ck_assert_int_eq(munmap(memory, AREA_BYTES), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_eq(map_anonymous(AREA_BYTES), memory);
    errno = 0;
    ck_assert_int_eq(munmap(memory, PAGE), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(munmap(memory + PAGE, 2 * PAGE), -1);
    ck_assert_int_eq(munmap(memory - PAGE, 2 * PAGE), -1);
    ck_assert(is_mapped(memory) && is_mapped(memory + PAGE) && is_mapped(memory + AREA_BYTES - 1));
    ck_assert(area.mapped);
    ck_assert_int_eq(munmap(memory, AREA_BYTES), 0);
    ck_assert(!area.mapped);
    ck_assert(sodium_work_area_end_loan());
}
END_TEST

START_TEST(test_sodium_work_area_disabled_passes_every_mapping_through)
{
    sodium_work_area_set_enabled(false);
    sodium_work_area_lend(&area);
    void *p = map_anonymous(AREA_BYTES);
    ck_assert_ptr_ne(p, MAP_FAILED);
    ck_assert_ptr_ne(p, memory);
    ck_assert_int_eq(munmap(p, AREA_BYTES), 0);
    ck_assert(!sodium_work_area_end_loan());
    sodium_work_area_set_enabled(true);
}
END_TEST

START_TEST(test_sodium_work_area_is_what_libsodium_argon2id_maps)
{
    char encoded[crypto_pwhash_STRBYTES];
    ck_assert_int_ge(sodium_init(), 0);
    sodium_work_area_lend(&area);
    ck_assert_int_eq(crypto_pwhash_str_alg(encoded, "Str0ng!Pass", 11, 2, AREA_BYTES, crypto_pwhash_ALG_ARGON2ID13),
                     0);
    ck_assert(sodium_work_area_end_loan());
    ck_assert(!area.mapped);
    ck_assert_uint_eq(area.hand_outs, 1);
    sodium_work_area_lend(&area);
    ck_assert_int_eq(crypto_pwhash_str_verify(encoded, "Str0ng!Pass", 11), 0);
    ck_assert_int_eq(crypto_pwhash_str_verify(encoded, "Str0ng!Pas", 10), -1);
    ck_assert(sodium_work_area_end_loan());
    ck_assert_uint_eq(area.hand_outs, 3);
}
END_TEST

START_TEST(test_sodium_work_area_is_not_used_when_libsodium_asks_for_another_size)
{
    char encoded[crypto_pwhash_STRBYTES];
    ck_assert_int_ge(sodium_init(), 0);
    sodium_work_area_lend(&area);
    ck_assert_int_eq(
        crypto_pwhash_str_alg(encoded, "Str0ng!Pass", 11, 2, (size_t)16384 * 1024, crypto_pwhash_ALG_ARGON2ID13), 0);
    ck_assert(!sodium_work_area_end_loan());
    ck_assert_uint_eq(area.hand_outs, 0);
    ck_assert_int_eq(crypto_pwhash_str_verify(encoded, "Str0ng!Pass", 11), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sodium_work_area");
    TCase *tc = tcase_create("interposition");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sodium_work_area_hands_out_the_lent_area_for_an_anonymous_private_mapping_of_its_size);
    tcase_add_loop_test(tc, test_sodium_work_area_passes_other_mappings_through, 0,
                        sizeof OTHER_REQUESTS / sizeof OTHER_REQUESTS[0]);
    tcase_add_test(tc, test_sodium_work_area_passes_through_without_a_loan);
    tcase_add_test(tc, test_sodium_work_area_passes_through_for_a_thread_it_was_not_lent_to);
    tcase_add_test(tc, test_sodium_work_area_hands_the_area_out_once_until_it_is_given_back);
    tcase_add_test(tc, test_sodium_work_area_passes_other_munmaps_through);
    tcase_add_test(tc, test_sodium_work_area_refuses_any_other_munmap_of_the_lent_area);
    tcase_add_test(tc, test_sodium_work_area_disabled_passes_every_mapping_through);
    tcase_add_test(tc, test_sodium_work_area_is_what_libsodium_argon2id_maps);
    tcase_add_test(tc, test_sodium_work_area_is_not_used_when_libsodium_asks_for_another_size);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
