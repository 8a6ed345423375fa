/* capacity: how many HTTP connections this process can hold, from the limits
 * the system sets it. Each connection costs one socket, one thread and some
 * memory, so each of those limits bounds the count. */
#ifndef SIGNUP_CAPACITY_H
#define SIGNUP_CAPACITY_H

/* Resident memory one held connection may cost: its libmicrohttpd buffer
 * (CONNECTION_MEMORY_LIMIT, 32 KiB, all of it touched by a full header
 * block), the touched part of its thread's stack and its malloc share.
 * Measured with bench/flood.sh (README "Under load"): 14 KiB per dripping
 * half-request, 46 KiB per connection holding a 30 KiB header block; this
 * rounds the worst case up. */
#define CAPACITY_CONNECTION_BYTES (64L * 1024)
/* At most this share of the memory (1/N) goes to connections: the rest is
 * for the argon2 buffers, the database pool and the other processes. */
#define CAPACITY_MEMORY_SHARE 4
/* The process shares thread ids and memory mappings with the whole system,
 * so it plans for at most 1/N of those. */
#define CAPACITY_THREAD_SHARE 2
/* The most connections ever planned for, however generous the limits. */
#define CAPACITY_CONNECTIONS_MAX 100000L

/* The limits that bound the number of connections; -1 = unknown/none. */
struct capacity_limits {
    long open_files;     /* RLIMIT_NOFILE (soft) */
    long threads;        /* min of RLIMIT_NPROC, kernel.threads-max, kernel.pid_max, vm.max_map_count / 2 */
    long long memory;    /* bytes: physical memory, or the cgroup's limit when lower */
};

/* Raises the soft RLIMIT_NOFILE to the hard limit (one socket per
 * connection; the soft default of 1024 is a relic of select()). Returns the
 * soft limit in effect afterwards, or -1 if it cannot be read. */
long capacity_raise_open_files(void);

/* Reads the current limits of this process from getrlimit, /proc and the
 * cgroup file system. */
void capacity_measure(struct capacity_limits *limits);

/* How many connections fit: the smallest of open files less reserved_files
 * (database pool, mail, logs), threads / CAPACITY_THREAD_SHARE less
 * reserved_threads, and memory / CAPACITY_MEMORY_SHARE /
 * CAPACITY_CONNECTION_BYTES, capped at CAPACITY_CONNECTIONS_MAX. Unknown
 * limits do not bound. At least 1. */
long capacity_connections(const struct capacity_limits *limits, long reserved_files, long reserved_threads);

#endif
