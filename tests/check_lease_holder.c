/* lease_holder: this process's name as a lease holder, and telling a dead
 * holder (gone, pid reused, zombie) from a live one, on real processes. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lease_holder.h"

static void sleep_ms(int ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

/* The state letter of /proc/<pid>/stat, or '?'. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *comm_end = strrchr(buf, ')');
    return comm_end != NULL && comm_end[1] == ' ' ? comm_end[2] : '?';
}

static void wait_for_state(pid_t pid, char state)
{
    for (int i = 0; i < 200 && proc_state(pid) != state; i++)
        sleep_ms(10);
    ck_assert_msg(proc_state(pid) == state, "process %ld is in state %c, not %c", (long)pid, proc_state(pid), state);
}

static void *park(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

/* Forks a child that describes itself, reports its scope (into scope, when
 * not NULL) and start time, and waits to be killed; with is_leader_exiting
 * its main thread ends first (pthread_exit) while another thread goes on. */
static pid_t start_child(long long *start, char *scope, size_t scope_size, bool is_leader_exiting)
{
    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct lease_holder me;
        lease_holder_describe_self(&me);
        char report[sizeof me.scope + sizeof me.start + 2];
        int len = snprintf(report, sizeof report, "%s\n%s", me.start, me.scope);
        ssize_t written = write(out[1], report, (size_t)len + 1);
        (void)written;
        close(out[1]);
        pthread_t thread;
        if (is_leader_exiting && pthread_create(&thread, NULL, park, NULL) == 0)
            pthread_exit(NULL);
        park(NULL);
    }
    close(out[1]);
    char text[512] = "";
    size_t len = 0;
    ssize_t n;
    while ((n = read(out[0], text + len, sizeof text - 1 - len)) > 0)
        len += (size_t)n;
    close(out[0]);
    text[len] = '\0';
    const char *newline = strchr(text, '\n');
    ck_assert_msg(newline != NULL, "child reported %s", text);
    *start = atoll(text);
    ck_assert_int_gt(*start, 0);
    if (scope != NULL)
        snprintf(scope, scope_size, "%s", newline + 1);
    return pid;
}

START_TEST(test_lease_holder_self_is_judgeable_and_alive)
{
    struct lease_holder me;
    lease_holder_describe_self(&me);
    ck_assert_msg(me.can_judge, "no consistent /proc here: scope %s", me.scope);
    ck_assert_int_eq(atol(me.pid), (long)getpid());
    ck_assert_ptr_nonnull(strstr(me.scope, " boot="));
    ck_assert_ptr_nonnull(strstr(me.scope, " pid:["));
    ck_assert_int_gt(atoll(me.start), 0);
    ck_assert(!lease_holder_is_gone(getpid(), atoll(me.start)));

    struct lease_holder again;
    lease_holder_describe_self(&again);
    ck_assert_str_eq(again.scope, me.scope);
    ck_assert_str_eq(again.start, me.start);
}
END_TEST

START_TEST(test_lease_holder_children_share_the_scope_with_their_own_start)
{
    struct lease_holder me;
    lease_holder_describe_self(&me);
    long long child_start;
    char child_scope[sizeof me.scope];
    pid_t child = start_child(&child_start, child_scope, sizeof child_scope, false);
    ck_assert_str_eq(child_scope, me.scope);
    ck_assert(child_start >= atoll(me.start));
    ck_assert(!lease_holder_is_gone(child, child_start));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}
END_TEST

START_TEST(test_lease_holder_killed_process_is_gone_before_and_after_it_is_reaped)
{
    long long start;
    pid_t child = start_child(&start, NULL, 0, false);
    ck_assert(!lease_holder_is_gone(child, start));
    kill(child, SIGKILL);
    wait_for_state(child, 'Z'); /* killed, not yet reaped by its parent */
    ck_assert(lease_holder_is_gone(child, start));
    waitpid(child, NULL, 0);
    ck_assert(lease_holder_is_gone(child, start));
}
END_TEST

START_TEST(test_lease_holder_pid_reused_by_a_later_process_is_gone)
{
    struct lease_holder me;
    lease_holder_describe_self(&me);
    /* Our pid with another start time: the holder was an earlier process. */
    ck_assert(lease_holder_is_gone(getpid(), atoll(me.start) - 1));
    ck_assert(lease_holder_is_gone(getpid(), atoll(me.start) + 1));
}
END_TEST

START_TEST(test_lease_holder_zombie_leader_with_a_running_thread_is_not_gone)
{
    long long start;
    pid_t child = start_child(&start, NULL, 0, true);
    wait_for_state(child, 'Z'); /* the main thread ended, the other one runs */
    ck_assert(!lease_holder_is_gone(child, start));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ck_assert(lease_holder_is_gone(child, start));
}
END_TEST

START_TEST(test_lease_holder_nonsense_pid_is_never_gone)
{
    ck_assert(!lease_holder_is_gone(0, 1));
    ck_assert(!lease_holder_is_gone(-1, 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lease_holder");
    TCase *tc = tcase_create("processes");
    tcase_add_test(tc, test_lease_holder_self_is_judgeable_and_alive);
    tcase_add_test(tc, test_lease_holder_children_share_the_scope_with_their_own_start);
    tcase_add_test(tc, test_lease_holder_killed_process_is_gone_before_and_after_it_is_reaped);
    tcase_add_test(tc, test_lease_holder_pid_reused_by_a_later_process_is_gone);
    tcase_add_test(tc, test_lease_holder_zombie_leader_with_a_running_thread_is_not_gone);
    tcase_add_test(tc, test_lease_holder_nonsense_pid_is_never_gone);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
