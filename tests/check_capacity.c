/* capacity: the connection count follows the tightest of open files,
 * threads and memory; the soft open-file limit is raised to the hard one. */
#include <check.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "capacity.h"

START_TEST(test_capacity_is_bounded_by_open_files_less_the_reserved_ones)
{
    struct capacity_limits limits = {.open_files = 20000, .threads = -1, .memory = -1};
    ck_assert_int_eq(capacity_connections(&limits, 100, 32), 19900);
}
END_TEST

START_TEST(test_capacity_is_bounded_by_a_share_of_the_threads)
{
    /* kernel.pid_max 32768 on the development VM: half of it, less the
     * process's own threads. */
    struct capacity_limits limits = {.open_files = 1048576, .threads = 32768, .memory = -1};
    ck_assert_int_eq(capacity_connections(&limits, 100, 32), 32768 / CAPACITY_THREAD_SHARE - 32);
}
END_TEST

START_TEST(test_capacity_is_bounded_by_a_share_of_the_memory)
{
    /* A 512 MiB container: a quarter of it at 64 KiB a connection. */
    struct capacity_limits limits = {.open_files = 1048576, .threads = 1000000, .memory = 512LL << 20};
    ck_assert_int_eq(capacity_connections(&limits, 100, 32),
                     (512L << 20) / CAPACITY_MEMORY_SHARE / CAPACITY_CONNECTION_BYTES);
}
END_TEST

START_TEST(test_capacity_unknown_limits_stop_at_the_maximum)
{
    struct capacity_limits limits = {.open_files = -1, .threads = -1, .memory = -1};
    ck_assert_int_eq(capacity_connections(&limits, 100, 32), CAPACITY_CONNECTIONS_MAX);
}
END_TEST

START_TEST(test_capacity_is_at_least_one_connection)
{
    struct capacity_limits limits = {.open_files = 50, .threads = -1, .memory = -1};
    ck_assert_int_eq(capacity_connections(&limits, 100, 32), 1);
}
END_TEST

START_TEST(test_capacity_raises_the_soft_open_file_limit_to_the_hard_one)
{
    struct rlimit files;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &files), 0);
    if (files.rlim_max < 2 || files.rlim_max == RLIM_INFINITY)
        return; /* nothing to observe here */
    struct rlimit lowered = {.rlim_cur = files.rlim_max / 2, .rlim_max = files.rlim_max};
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &lowered), 0);
    ck_assert_int_eq(capacity_raise_open_files(), (long)files.rlim_max);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &files), 0);
    ck_assert_int_eq(files.rlim_cur, files.rlim_max);
}
END_TEST

START_TEST(test_capacity_measures_this_process)
{
    struct capacity_limits limits;
    capacity_measure(&limits);
    ck_assert_int_gt(limits.open_files, 0);
    ck_assert_int_gt(limits.threads, 0);
    ck_assert(limits.memory > 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("capacity");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_capacity_is_bounded_by_open_files_less_the_reserved_ones);
    tcase_add_test(tc, test_capacity_is_bounded_by_a_share_of_the_threads);
    tcase_add_test(tc, test_capacity_is_bounded_by_a_share_of_the_memory);
    tcase_add_test(tc, test_capacity_unknown_limits_stop_at_the_maximum);
    tcase_add_test(tc, test_capacity_is_at_least_one_connection);
    tcase_add_test(tc, test_capacity_raises_the_soft_open_file_limit_to_the_hard_one);
    tcase_add_test(tc, test_capacity_measures_this_process);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
