/* The slow-client flood of flood_support.h: one epoll thread drives every
 * slow connection, and each legitimate client is a thread of its own doing
 * one request per connection, timed from connect() to the server's close. */
#include "flood_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLOW_HEAD "POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Drip: "
#define CONNECT_TIMEOUT_MS 10000
#define TICK_MS 20
#define LATENCIES_MAX 200000

enum slot_state { SLOT_WAITING, SLOT_CONNECTING, SLOT_DRIPPING };

struct slot {
    int fd;
    enum slot_state state;
    bool is_greedy;
    struct in_addr source;
    long long next_ms; /* WAITING: when to connect; CONNECTING: give-up time; DRIPPING: next byte */
};

struct latency {
    double at_ms, took_ms;
    int status;
    bool is_signup, is_ok;
};

struct legit_shared {
    const struct flood_plan *plan;
    double started_ms;
    atomic_int is_running;
    atomic_long sequence; /* picks each request's source address and email */
    pthread_mutex_t lock;
    struct latency *latencies;
    long n_latencies;
    long requests, ok, failed, healthz, signups;
    char first_failure[160];
};

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static double now_precise_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

long flood_raise_open_files(void)
{
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) != 0)
        return -1;
    if (files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &files) != 0)
            getrlimit(RLIMIT_NOFILE, &files);
    }
    return files.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)files.rlim_cur;
}

/* A non-blocking socket bound to source, connecting to 127.0.0.1:port;
 * -1 on failure. */
static int connect_from(struct in_addr source, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    /* Ports are picked at connect(), per destination, not at bind(). */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr = source};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0 ||
        (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct in_addr ipv4(int a, int b, int c, int d)
{
    struct in_addr addr = {.s_addr = htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | (uint32_t)d)};
    return addr;
}

/* ---- Legitimate clients ---- */

/* Sends request and reads the answer until the server closes, within
 * timeout_ms; returns the HTTP status, 0 when the connection ended without
 * a status line, -1 on a connect failure or timeout. */
static int exchange(struct in_addr source, int port, const char *request, size_t len, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    char reply[512];
    size_t got = 0, sent = 0;
    int status = -1;
    int fd = connect_from(source, port);
    if (fd < 0)
        return -1;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            goto done;
        struct pollfd p = {.fd = fd, .events = sent < len ? POLLOUT : POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        if (sent < len) {
            int error = 0;
            socklen_t error_len = sizeof error;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0 || error != 0)
                goto done;
            ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                sent = len; /* dropped: read whatever it answered */
            continue;
        }
        char scratch[4096];
        ssize_t n = recv(fd, scratch, sizeof scratch, 0);
        if (n > 0) {
            size_t keep = (size_t)n < sizeof reply - 1 - got ? (size_t)n : sizeof reply - 1 - got;
            memcpy(reply + got, scratch, keep);
            got += keep;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            reply[got] = '\0';
            status = got > 12 && strncmp(reply, "HTTP/1.", 7) == 0 ? atoi(reply + 9) : 0;
            goto done;
        }
    }
done:
    close(fd);
    return status;
}

static void *legit_run(void *arg)
{
    struct legit_shared *shared = arg;
    const struct flood_plan *plan = shared->plan;
    char request[1024], body[512];
    while (atomic_load(&shared->is_running)) {
        long k = atomic_fetch_add(&shared->sequence, 1);
        /* 127.0.2.1 ... 127.0.9.254 in turn: far under the per-address limits. */
        struct in_addr source = ipv4(127, 0, 2 + (int)(k / 254 % 8), 1 + (int)(k % 254));
        bool is_signup = k % 2 == 1;
        size_t len;
        if (is_signup) {
            int body_len = snprintf(body, sizeof body,
                                    "{\"full_name\":\"Flood Legit\",\"email\":\"%s-%ld-%ld@%s\",\"password\":"
                                    "\"Str0ng!Pass\",\"phone_number\":\"0812-3456-7890\",\"accept_terms\":true}",
                                    plan->email_tag, (long)getpid(), k, plan->email_domain);
            len = (size_t)snprintf(request, sizeof request,
                                   "POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                   "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                                   body_len, body);
        } else {
            len = (size_t)snprintf(request, sizeof request,
                                   "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        }
        double started = now_precise_ms();
        int status = exchange(source, plan->port, request, len, plan->legit_timeout_ms);
        double took = now_precise_ms() - started;
        bool is_ok = status == (is_signup ? 201 : 200);

        pthread_mutex_lock(&shared->lock);
        shared->requests++;
        shared->healthz += !is_signup;
        shared->signups += is_signup;
        if (is_ok) {
            shared->ok++;
        } else {
            char from[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &source, from, sizeof from);
            shared->failed++;
            if (shared->first_failure[0] == '\0')
                snprintf(shared->first_failure, sizeof shared->first_failure, "%s from %s: %s %d after %.0f ms",
                         is_signup ? "POST /signup" : "GET /healthz", from,
                         status < 0 ? "no connection or timeout" : status == 0 ? "closed without answer" : "status",
                         status, took);
        }
        if (shared->n_latencies < LATENCIES_MAX)
            shared->latencies[shared->n_latencies++] =
                (struct latency){.at_ms = started - shared->started_ms,
                                 .took_ms = took,
                                 .status = status,
                                 .is_signup = is_signup,
                                 .is_ok = is_ok};
        pthread_mutex_unlock(&shared->lock);
        struct timespec pause = {.tv_sec = plan->legit_pause_ms / 1000,
                                 .tv_nsec = (long)(plan->legit_pause_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

/* The p-th percentile of the latencies of one kind (signups, healthz) or
 * of all (kind < 0), of the requests started at from_ms or later. */
static double latency_percentile(const struct latency *all, long n, int kind, double p, double from_ms)
{
    double *picked = malloc((size_t)(n > 0 ? n : 1) * sizeof *picked);
    long m = 0;
    if (picked == NULL)
        return -1;
    for (long i = 0; i < n; i++) {
        if ((kind < 0 || all[i].is_signup == (kind == 1)) && all[i].at_ms >= from_ms)
            picked[m++] = all[i].took_ms;
    }
    qsort(picked, (size_t)m, sizeof *picked, compare_doubles);
    double value = p >= 1.0 ? (m > 0 ? picked[m - 1] : 0) : percentile(picked, m, p);
    free(picked);
    return value;
}

static void write_latency_log(const char *path, const struct latency *all, long n)
{
    FILE *f = fopen(path, "we");
    if (f == NULL)
        return;
    for (long i = 0; i < n; i++)
        fprintf(f, "%.0f,%s,%d,%.1f\n", all[i].at_ms, all[i].is_signup ? "signup" : "healthz", all[i].status,
                all[i].took_ms);
    fclose(f);
}

/* ---- Slow clients ---- */

static struct flood_slow_stats *stats_of(struct flood_result *r, const struct slot *s)
{
    return s->is_greedy ? &r->greedy : &r->slow;
}

static void slot_close(struct slot *s, int epoll_fd, const struct flood_plan *plan, long long now)
{
    if (s->fd >= 0) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, s->fd, NULL);
        close(s->fd);
    }
    s->fd = -1;
    s->state = SLOT_WAITING;
    s->next_ms = plan->reconnect_delay_ms < 0 ? -1 : now + plan->reconnect_delay_ms;
}

/* The server answered or closed: count which, then close. */
static void slot_ended(struct slot *s, struct flood_result *r, int epoll_fd, const struct flood_plan *plan,
                       long long now)
{
    char reply[64];
    ssize_t n = recv(s->fd, reply, sizeof reply - 1, MSG_DONTWAIT);
    struct flood_slow_stats *st = stats_of(r, s);
    if (n > 12 && strncmp(reply, "HTTP/1.", 7) == 0) {
        reply[n] = '\0';
        int status = atoi(reply + 9);
        st->answered++;
        st->answered_503 += status == 503;
        st->answered_408 += status == 408;
        st->answered_other += status != 503 && status != 408;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return; /* spurious: still open */
    } else {
        st->closed_silent++;
    }
    slot_close(s, epoll_fd, plan, now);
}

static void slot_connect(struct slot *s, struct flood_result *r, int epoll_fd, const struct flood_plan *plan,
                         long long now)
{
    struct flood_slow_stats *st = stats_of(r, s);
    st->opened++;
    s->fd = connect_from(s->source, plan->port);
    if (s->fd < 0) {
        st->connect_failed++;
        slot_close(s, epoll_fd, plan, now);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s->fd, &ev);
    s->state = SLOT_CONNECTING;
    s->next_ms = now + CONNECT_TIMEOUT_MS;
}

/* The partial request a slow client starts with: SLOW_HEAD and pad bytes. */
static char slow_head[sizeof SLOW_HEAD + 32000];
static size_t slow_head_len;

static void slow_head_init(int pad)
{
    size_t n = pad < 0 ? 0 : pad > 32000 ? 32000 : (size_t)pad;
    memcpy(slow_head, SLOW_HEAD, sizeof SLOW_HEAD - 1);
    memset(slow_head + sizeof SLOW_HEAD - 1, 'p', n);
    slow_head_len = sizeof SLOW_HEAD - 1 + n;
}

static void slot_connected(struct slot *s, struct flood_result *r, int epoll_fd, const struct flood_plan *plan,
                           long long now)
{
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0 ||
        send(s->fd, slow_head, slow_head_len, MSG_NOSIGNAL) != (ssize_t)slow_head_len) {
        stats_of(r, s)->connect_failed++;
        slot_close(s, epoll_fd, plan, now);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = s};
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s->fd, &ev);
    s->state = SLOT_DRIPPING;
    s->next_ms = now + plan->drip_interval_ms;
}

static void slots_tick(struct slot *slots, size_t n, struct flood_result *r, int epoll_fd,
                       const struct flood_plan *plan, long long now)
{
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        if (s->next_ms < 0 || s->next_ms > now)
            continue;
        if (s->state == SLOT_WAITING) {
            slot_connect(s, r, epoll_fd, plan, now);
        } else if (s->state == SLOT_CONNECTING) {
            stats_of(r, s)->connect_failed++;
            slot_close(s, epoll_fd, plan, now);
        } else if (send(s->fd, "a", 1, MSG_NOSIGNAL) == 1) {
            s->next_ms = now + plan->drip_interval_ms;
        } else {
            slot_ended(s, r, epoll_fd, plan, now);
        }
    }
}

static void count_held(const struct slot *slots, size_t n, long *slow, long *greedy)
{
    *slow = *greedy = 0;
    for (size_t i = 0; i < n; i++) {
        if (slots[i].state == SLOT_DRIPPING)
            (slots[i].is_greedy ? greedy : slow)[0]++;
    }
}

static void held_sample(struct flood_slow_stats *st, long held, long *sum, long samples)
{
    if (samples == 1 || held < st->held_min)
        st->held_min = held;
    if (held > st->held_max)
        st->held_max = held;
    *sum += held;
    st->held_mean = (double)*sum / (double)samples;
}

bool flood_run(const struct flood_plan *plan, struct flood_result *result, void (*sample)(void *arg, long long ms),
               void *sample_arg, char *err, size_t err_size)
{
    size_t n_slow = (size_t)plan->slow_addresses * (size_t)plan->slow_per_address;
    size_t n = n_slow + (size_t)plan->greedy_connections;
    struct slot *slots = calloc(n ? n : 1, sizeof *slots);
    struct epoll_event *events = calloc(1024, sizeof *events);
    struct legit_shared shared = {.plan = plan};
    pthread_t *threads = calloc((size_t)plan->legit_threads + 1, sizeof *threads);
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int n_threads = 0;
    bool is_ok = false;

    memset(result, 0, sizeof *result);
    shared.latencies = calloc(LATENCIES_MAX, sizeof *shared.latencies);
    pthread_mutex_init(&shared.lock, NULL);
    atomic_init(&shared.is_running, 1);
    atomic_init(&shared.sequence, 0);
    if (slots == NULL || events == NULL || threads == NULL || shared.latencies == NULL || epoll_fd < 0) {
        snprintf(err, err_size, "out of memory or no epoll");
        goto cleanup;
    }
    if (plan->slow_addresses > 200) {
        snprintf(err, err_size, "at most 200 slow addresses (127.0.1.1-200)");
        goto cleanup;
    }

    slow_head_init(plan->head_pad_bytes);
    long long started = now_ms();
    shared.started_ms = now_precise_ms();
    /* Slow and greedy connections interleaved over the ramp. */
    for (size_t i = 0; i < n; i++) {
        struct slot *s = &slots[i];
        size_t greedy_every = plan->greedy_connections ? n / (size_t)plan->greedy_connections : 0;
        s->fd = -1;
        s->state = SLOT_WAITING;
        s->next_ms = started + (long long)((double)plan->ramp_ms * (double)i / (double)(n ? n : 1));
        s->is_greedy = greedy_every > 0 && i % greedy_every == greedy_every - 1 &&
                       (size_t)(i / greedy_every) < (size_t)plan->greedy_connections;
    }
    size_t slow_index = 0;
    for (size_t i = 0; i < n; i++) {
        if (slots[i].is_greedy) {
            slots[i].source = ipv4(127, 0, 1, 250);
        } else {
            slots[i].source = ipv4(127, 0, 1, 1 + (int)(slow_index % (size_t)(plan->slow_addresses ? plan->slow_addresses : 1)));
            slow_index++;
        }
    }
    for (int i = 0; i < plan->legit_threads; i++) {
        if (pthread_create(&threads[i], NULL, legit_run, &shared) != 0)
            break;
        n_threads++;
    }

    long long ramp_end = started + plan->ramp_ms, end = ramp_end + plan->hold_ms, next_sample = started + 1000;
    long samples = 0, slow_sum = 0, greedy_sum = 0;
    long long next_tick = started;
    for (long long now = now_ms(); now < end; now = now_ms()) {
        int k = epoll_wait(epoll_fd, events, 1024, TICK_MS);
        now = now_ms();
        for (int e = 0; e < k; e++) {
            struct slot *s = events[e].data.ptr;
            if (s->state == SLOT_CONNECTING)
                slot_connected(s, result, epoll_fd, plan, now);
            else if (s->state == SLOT_DRIPPING)
                slot_ended(s, result, epoll_fd, plan, now);
        }
        if (now >= next_tick) {
            slots_tick(slots, n, result, epoll_fd, plan, now);
            next_tick = now + TICK_MS;
        }
        if (now >= next_sample) {
            next_sample += 1000;
            if (sample != NULL)
                sample(sample_arg, now - started);
            if (now >= ramp_end) {
                long slow, greedy;
                count_held(slots, n, &slow, &greedy);
                samples++;
                held_sample(&result->slow, slow, &slow_sum, samples);
                held_sample(&result->greedy, greedy, &greedy_sum, samples);
            }
        }
    }
    result->ramp_done_ms = plan->ramp_ms;
    result->duration_ms = now_ms() - started;
    is_ok = true;

cleanup:
    atomic_store(&shared.is_running, 0);
    for (int i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    for (size_t i = 0; slots != NULL && i < n; i++) {
        if (slots[i].fd >= 0)
            close(slots[i].fd);
    }
    if (epoll_fd >= 0)
        close(epoll_fd);
    result->legit_requests = shared.requests;
    result->legit_ok = shared.ok;
    result->legit_failed = shared.failed;
    result->legit_healthz = shared.healthz;
    result->legit_signups = shared.signups;
    snprintf(result->first_failure, sizeof result->first_failure, "%s", shared.first_failure);
    if (shared.latencies != NULL && shared.n_latencies > 0) {
        const struct latency *all = shared.latencies;
        long m = shared.n_latencies;
        result->latency_p50_ms = latency_percentile(all, m, -1, 0.50, 0);
        result->latency_p90_ms = latency_percentile(all, m, -1, 0.90, 0);
        result->latency_p99_ms = latency_percentile(all, m, -1, 0.99, 0);
        result->latency_max_ms = latency_percentile(all, m, -1, 1.0, 0);
        result->healthz_p99_ms = latency_percentile(all, m, 0, 0.99, 0);
        result->signup_p99_ms = latency_percentile(all, m, 1, 0.99, 0);
        result->hold_p99_ms = latency_percentile(all, m, -1, 0.99, plan->ramp_ms);
        for (long i = 0; i < m; i++) {
            if (all[i].at_ms >= plan->ramp_ms) {
                result->hold_requests++;
                result->hold_ok += all[i].is_ok;
            }
        }
        if (plan->latency_log != NULL)
            write_latency_log(plan->latency_log, all, m);
    }
    pthread_mutex_destroy(&shared.lock);
    free(shared.latencies);
    free(threads);
    free(events);
    free(slots);
    return is_ok;
}

static void slow_json(const char *name, const struct flood_slow_stats *s, char *buf, size_t size)
{
    snprintf(buf, size,
             "\"%s\":{\"opened\":%ld,\"connect_failed\":%ld,\"closed_silent\":%ld,\"answered\":%ld,"
             "\"answered_503\":%ld,\"answered_408\":%ld,\"answered_other\":%ld,\"held_min\":%ld,\"held_max\":%ld,"
             "\"held_mean\":%.0f}",
             name, s->opened, s->connect_failed, s->closed_silent, s->answered, s->answered_503, s->answered_408,
             s->answered_other, s->held_min, s->held_max, s->held_mean);
}

void flood_result_json(const struct flood_result *r, char *buf, size_t size)
{
    char slow[512], greedy[512], failure[200];
    slow_json("slow", &r->slow, slow, sizeof slow);
    slow_json("greedy", &r->greedy, greedy, sizeof greedy);
    /* first_failure is our own text (no quotes or backslashes in it). */
    snprintf(failure, sizeof failure, "%s", r->first_failure);
    snprintf(buf, size,
             "{%s,%s,\"legit\":{\"requests\":%ld,\"ok\":%ld,\"failed\":%ld,\"healthz\":%ld,\"signups\":%ld,"
             "\"success_pct\":%.3f,\"p50_ms\":%.1f,\"p90_ms\":%.1f,\"p99_ms\":%.1f,\"max_ms\":%.1f,"
             "\"healthz_p99_ms\":%.1f,\"signup_p99_ms\":%.1f,\"first_failure\":\"%s\"},"
             "\"hold\":{\"requests\":%ld,\"ok\":%ld,\"success_pct\":%.3f,\"p99_ms\":%.1f},\"duration_ms\":%lld}",
             slow, greedy, r->legit_requests, r->legit_ok, r->legit_failed, r->legit_healthz, r->legit_signups,
             r->legit_requests ? 100.0 * (double)r->legit_ok / (double)r->legit_requests : 0.0, r->latency_p50_ms,
             r->latency_p90_ms, r->latency_p99_ms, r->latency_max_ms, r->healthz_p99_ms, r->signup_p99_ms, failure,
             r->hold_requests, r->hold_ok,
             r->hold_requests ? 100.0 * (double)r->hold_ok / (double)r->hold_requests : 0.0, r->hold_p99_ms,
             r->duration_ms);
}
