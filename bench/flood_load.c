/* bench/flood.sh's load generator: runs the slow-client flood of
 * tests/flood_support.c against a running signup-api and prints one JSON
 * object with what the clients saw and, given the server's pid, its peak
 * memory and threads.
 *
 *   flood_load port=18710 server_pid=1234 slow_addresses=100 slow_per_address=100 \
 *              greedy=1000 drip_ms=5000 ramp_ms=5000 hold_ms=40000 reconnect_ms=1000 \
 *              legit_threads=4 legit_pause_ms=50 legit_timeout_ms=5000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "flood_support.h"

struct server_sample {
    pid_t pid;
    long peak_rss_kib, peak_threads;
};

static long proc_status(pid_t pid, const char *field)
{
    char path[64], line[256];
    long value = -1;
    size_t len = strlen(field);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            value = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value;
}

/* utime + stime of pid in seconds, or -1. */
static double proc_cpu_seconds(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* Fields after the command name, which is in parentheses. */
    const char *p = strrchr(text, ')');
    unsigned long utime = 0, stime = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void sample_server(void *arg, long long ms)
{
    struct server_sample *s = arg;
    (void)ms;
    long rss = proc_status(s->pid, "VmRSS"), threads = proc_status(s->pid, "Threads");
    if (rss > s->peak_rss_kib)
        s->peak_rss_kib = rss;
    if (threads > s->peak_threads)
        s->peak_threads = threads;
}

static int arg_int(int argc, char **argv, const char *name, int fallback)
{
    size_t len = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
            return atoi(argv[i] + len + 1);
    }
    return fallback;
}

int main(int argc, char **argv)
{
    struct flood_plan plan = {
        .port = arg_int(argc, argv, "port", 18710),
        .slow_addresses = arg_int(argc, argv, "slow_addresses", 100),
        .slow_per_address = arg_int(argc, argv, "slow_per_address", 100),
        .greedy_connections = arg_int(argc, argv, "greedy", 1000),
        .drip_interval_ms = arg_int(argc, argv, "drip_ms", 5000),
        .head_pad_bytes = arg_int(argc, argv, "head_pad", 0),
        .ramp_ms = arg_int(argc, argv, "ramp_ms", 5000),
        .hold_ms = arg_int(argc, argv, "hold_ms", 40000),
        .reconnect_delay_ms = arg_int(argc, argv, "reconnect_ms", 1000),
        .legit_threads = arg_int(argc, argv, "legit_threads", 4),
        .legit_pause_ms = arg_int(argc, argv, "legit_pause_ms", 50),
        .legit_timeout_ms = arg_int(argc, argv, "legit_timeout_ms", 5000),
        .email_domain = "lintasarta.co.id",
        .email_tag = "bench-flood",
        .latency_log = getenv("FLOOD_LATENCY_LOG"),
    };
    struct server_sample server = {.pid = (pid_t)arg_int(argc, argv, "server_pid", 0)};
    struct flood_result result;
    char err[256], json[4096];

    long files = flood_raise_open_files();
    long needed = (long)plan.slow_addresses * plan.slow_per_address + plan.greedy_connections + plan.legit_threads + 64;
    if (files < needed) {
        fprintf(stderr, "flood_load: RLIMIT_NOFILE is %ld, %ld needed (raise the hard limit: ulimit -Hn)\n", files,
                needed);
        return 2;
    }
    double cpu_before = server.pid > 0 ? proc_cpu_seconds(server.pid) : -1;
    if (!flood_run(&plan, &result, server.pid > 0 ? sample_server : NULL, &server, err, sizeof err)) {
        fprintf(stderr, "flood_load: %s\n", err);
        return 1;
    }
    flood_result_json(&result, json, sizeof json);
    /* The server's own peak (VmHWM) covers the moments between samples. */
    long hwm = server.pid > 0 ? proc_status(server.pid, "VmHWM") : -1;
    double cpu = server.pid > 0 ? proc_cpu_seconds(server.pid) - cpu_before : -1;
    size_t len = strlen(json);
    snprintf(json + len - 1, sizeof json - len + 1,
             ",\"server\":{\"peak_rss_kib_sampled\":%ld,\"vm_hwm_kib\":%ld,\"peak_threads\":%ld,\"cpu_s\":%.2f}}",
             server.peak_rss_kib, hwm, server.peak_threads, cpu);
    printf("%s\n", json);
    return 0;
}
