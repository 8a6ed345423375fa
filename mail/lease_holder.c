/* Lease holders as processes: who this process is (scope, pid, start time),
 * and whether a holder in the same scope still runs, read from /proc. */
#include "lease_holder.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

enum proc_state { PROC_GONE, PROC_RUNNING, PROC_ZOMBIE, PROC_UNKNOWN };

/* Reads the pid, state and start time of /proc/<pid>/stat (pid 0: "self"). */
static enum proc_state read_proc_stat(long pid, long *stat_pid, long long *start)
{
    char path[64], buf[1024];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/stat");
    else
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT || errno == ESRCH ? PROC_GONE : PROC_UNKNOWN;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
     * the fields are counted from the last ')'. State is field 3, the start
     * time field 22 (proc(5)). */
    char *comm_end = strrchr(buf, ')');
    if (comm_end == NULL)
        return PROC_UNKNOWN; /* e.g. it exited between open and read */
    *stat_pid = strtol(buf, NULL, 10);
    char state = '?', *save = NULL;
    char *field = strtok_r(comm_end + 1, " ", &save);
    for (int number = 3; field != NULL && number < 22; number++) {
        if (number == 3)
            state = field[0];
        field = strtok_r(NULL, " ", &save);
    }
    if (field == NULL)
        return PROC_UNKNOWN;
    char *end;
    errno = 0;
    *start = strtoll(field, &end, 10);
    if (errno != 0 || end == field)
        return PROC_UNKNOWN;
    return state == 'Z' || state == 'X' ? PROC_ZOMBIE : PROC_RUNNING;
}

/* A zombie thread-group leader may still have threads running (it called
 * pthread_exit); only a zombie whose task list is down to itself is over. */
static bool has_live_threads(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *tasks = opendir(path);
    if (tasks == NULL)
        return errno != ENOENT; /* reaped meanwhile: no; unreadable: assume yes */
    int count = 0;
    const struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL)
        count += entry->d_name[0] != '.';
    closedir(tasks);
    return count > 1;
}

bool lease_holder_is_gone(long pid, long long start)
{
    long stat_pid = 0;
    long long stat_start = 0;
    if (pid <= 0)
        return false;
    switch (read_proc_stat(pid, &stat_pid, &stat_start)) {
    case PROC_GONE:
        return true;
    case PROC_RUNNING:
        return stat_start != start; /* the pid was reused by a later process */
    case PROC_ZOMBIE:
        return stat_start != start || !has_live_threads(pid);
    case PROC_UNKNOWN:
        break;
    }
    return false;
}

/* The first line of path into buf (newline removed); false when unreadable. */
static bool read_first_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool is_read = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return is_read && buf[0] != '\0';
}

/* readlink of a /proc/self/ns entry ("pid:[4026531836]") into buf. */
static bool read_namespace(const char *name, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", name);
    ssize_t n = readlink(path, buf, size - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

void lease_holder_describe_self(struct lease_holder *self)
{
    char host[128] = "", boot[64] = "", pid_ns[64] = "", time_ns[64] = "";
    long own_pid = (long)getpid(), stat_pid = 0, again_pid = 0;
    long long start = 0, again = 0;

    memset(self, 0, sizeof *self);
    snprintf(self->pid, sizeof self->pid, "%ld", own_pid);
    /* Each part narrows where pids and start times mean the same thing: the
     * kernel (boot), the pid namespace (containers), the time namespace
     * (start times are shown relative to it), the user (/proc's hidepid hides
     * other users' processes) and the host name (VM clones share a boot id). */
    bool is_usable = gethostname(host, sizeof host - 1) == 0 &&
                     read_first_line("/proc/sys/kernel/random/boot_id", boot, sizeof boot) &&
                     read_namespace("pid", pid_ns, sizeof pid_ns);
    /* The time namespace exists since Linux 5.6; without it there is one. */
    if (!read_namespace("time", time_ns, sizeof time_ns))
        snprintf(time_ns, sizeof time_ns, "time:none");
    /* This /proc must be the one of our own pid namespace: the entry under
     * our pid must be us (a /proc mounted from elsewhere would name others). */
    is_usable = is_usable && read_proc_stat(0, &stat_pid, &start) == PROC_RUNNING && stat_pid == own_pid &&
                read_proc_stat(own_pid, &again_pid, &again) == PROC_RUNNING && again_pid == own_pid && again == start;
    if (is_usable) {
        int n = snprintf(self->scope, sizeof self->scope, "host=%s boot=%s %s %s uid=%ld", host, boot, pid_ns, time_ns,
                         (long)geteuid());
        is_usable = n > 0 && (size_t)n < sizeof self->scope;
    }
    if (is_usable) {
        snprintf(self->start, sizeof self->start, "%lld", start);
        self->can_judge = true;
        return;
    }
    uint64_t nonce[2];
    if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) {
        nonce[0] = (uint64_t)time(NULL);
        nonce[1] = (uint64_t)own_pid * 2654435761u;
    }
    snprintf(self->scope, sizeof self->scope, "unjudgeable:%016llx%016llx", (unsigned long long)nonce[0],
             (unsigned long long)nonce[1]);
    snprintf(self->start, sizeof self->start, "0");
    self->can_judge = false;
}
