/* What the system lets this process hold: file descriptors, threads and
 * memory, read once at start-up to size the HTTP connection limit. */
#include "capacity.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* A number from a one-value file such as /proc/sys/kernel/pid_max; -1 when
 * absent or not a number ("max" in a cgroup file means no limit: -1). */
static long long read_number_file(const char *path)
{
    FILE *f = fopen(path, "re");
    long long value = -1;
    if (f == NULL)
        return -1;
    if (fscanf(f, "%lld", &value) != 1)
        value = -1;
    fclose(f);
    return value;
}

static long long min_known(long long a, long long b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static long rlimit_soft(int resource)
{
    struct rlimit limit;
    if (getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > (rlim_t)LONG_MAX)
        return -1;
    return (long)limit.rlim_cur;
}

long capacity_raise_open_files(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return -1;
    if (limit.rlim_cur < limit.rlim_max) {
        rlim_t wanted = limit.rlim_max;
        /* An unlimited hard limit still stops at fs.nr_open. */
        long long nr_open = read_number_file("/proc/sys/fs/nr_open");
        if (wanted == RLIM_INFINITY && nr_open > 0)
            wanted = (rlim_t)nr_open;
        struct rlimit raised = {.rlim_cur = wanted, .rlim_max = limit.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit.rlim_cur = wanted;
    }
    return rlimit_soft(RLIMIT_NOFILE);
}

/* This process's memory cgroup limit in bytes, or -1: cgroup v2 ("0::/path"
 * in /proc/self/cgroup, file memory.max) or v1 ("N:memory:/path", file
 * memory.limit_in_bytes, where "no limit" is a huge number). Inside a
 * container the path is "/" and the files are at the mount's root. */
static long long cgroup_memory_limit(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[1024], path[1200];
    long long limit = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        const char *v2 = strncmp(line, "0::", 3) == 0 ? line + 3 : NULL;
        const char *v1 = strstr(line, ":memory:");
        if (v2 != NULL) {
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", strcmp(v2, "/") == 0 ? "" : v2);
            limit = min_known(limit, read_number_file(path));
        } else if (v1 != NULL) {
            v1 += strlen(":memory:");
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes",
                     strcmp(v1, "/") == 0 ? "" : v1);
            long long v1_limit = read_number_file(path);
            if (v1_limit < 0) /* the path is not visible here: the mount's root is ours */
                v1_limit = read_number_file("/sys/fs/cgroup/memory/memory.limit_in_bytes");
            /* v1 says "no limit" with the largest page-aligned value. */
            if (v1_limit > 0 && v1_limit < (1LL << 62))
                limit = min_known(limit, v1_limit);
        }
    }
    fclose(f);
    return limit;
}

void capacity_measure(struct capacity_limits *limits)
{
    long long threads = rlimit_soft(RLIMIT_NPROC);
    threads = min_known(threads, read_number_file("/proc/sys/kernel/threads-max"));
    threads = min_known(threads, read_number_file("/proc/sys/kernel/pid_max"));
    /* Each thread's stack is a mapping plus a guard page. */
    long long map_count = read_number_file("/proc/sys/vm/max_map_count");
    threads = min_known(threads, map_count > 0 ? map_count / 2 : -1);

    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    long long memory = pages > 0 && page_size > 0 ? (long long)pages * page_size : -1;

    limits->open_files = rlimit_soft(RLIMIT_NOFILE);
    limits->threads = (long)threads;
    limits->memory = min_known(memory, cgroup_memory_limit());
}

static long long smaller(long long a, long long b)
{
    return a < b ? a : b;
}

long capacity_connections(const struct capacity_limits *limits, long reserved_files, long reserved_threads)
{
    long long room = CAPACITY_CONNECTIONS_MAX;
    if (limits->open_files >= 0)
        room = smaller(room, (long long)limits->open_files - reserved_files);
    if (limits->threads >= 0)
        room = smaller(room, (long long)limits->threads / CAPACITY_THREAD_SHARE - reserved_threads);
    if (limits->memory >= 0)
        room = smaller(room, limits->memory / CAPACITY_MEMORY_SHARE / CAPACITY_CONNECTION_BYTES);
    return room < 1 ? 1 : (long)room;
}
