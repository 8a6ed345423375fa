/* Slow and greedy clients with the default configuration: a request must
 * arrive within REQUEST_TIMEOUT of its first byte however slowly it drips,
 * idle keep-alive connections keep CONNECTION_TIMEOUT, one client address
 * gets PER_IP_CONNECTION_LIMIT connections (trusted proxies exempt), and
 * past a limit a connection is answered 503 problem+json with Retry-After.
 * The flood test holds 2,000 slow connections from 20 addresses and 300
 * from one greedy address while legitimate clients sign up; bench/flood.sh
 * runs the same flood at full size (10,000 + 1,000). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_support.h"
#include "flood_support.h"
#include "mail_support.h"
#include "support.h"

#define TEXT_OF(x) #x
#define TEXT(x) TEXT_OF(x)
#define TEST_TIMEOUT_S 120
#define CORP_DOMAIN "lintasarta.co.id"

/* Ports: servers at TEST_HTTP_PORT+33..+36 (check_e2e has +30/+31). */
enum { PORT_DEADLINE = 33, PORT_FLOOD, PORT_PER_ADDRESS, PORT_CAPACITY };

static int port_of(int offset)
{
    const char *text = getenv("TEST_HTTP_PORT");
    return (text ? atoi(text) : 18080) + offset;
}

static const char *server_log(void)
{
    return getenv("TEST_SERVER_LOG") ? getenv("TEST_SERVER_LOG") : "build/test-server.log";
}

static bool is_asan_build(void)
{
    const char *bin = getenv("SIGNUP_API_BIN");
    return bin != NULL && strstr(bin, "asan") != NULL;
}

/* A server with the default connection settings plus extra; no mail. */
static pid_t start_server(int port, const char *const *extra)
{
    const char *env[16] = {"MAIL_WORKERS=0"};
    size_t n = 1;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n + 1 < sizeof env / sizeof env[0]; i++)
        env[n++] = extra[i];
    env[n] = NULL;
    pid_t pid = test_server_start(port, env, server_log());
    ck_assert_msg(pid > 0, "server on port %d did not start; see %s", port, server_log());
    mail_track_pid(pid);
    return pid;
}

static void stop_server(pid_t pid)
{
    int status = test_server_stop(pid);
    mail_untrack_pid(pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exit status %d (signal %d); see %s",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                  server_log());
}

static void teardown(void)
{
    mail_kill_tracked();
}

/* ---- Raw connections from chosen loopback addresses ---- */

/* A blocking connection from source (e.g. "127.0.1.7") to 127.0.0.1:port. */
static int connect_from(const char *source, int port)
{
    struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(inet_pton(AF_INET, source, &from.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_msg(bind(fd, (struct sockaddr *)&from, sizeof from) == 0, "bind %s: %s", source, strerror(errno));
    ck_assert_msg(connect(fd, (struct sockaddr *)&to, sizeof to) == 0, "connect from %s: %s", source,
                  strerror(errno));
    return fd;
}

static void send_text(int fd, const char *text)
{
    size_t len = strlen(text);
    ck_assert_msg(send(fd, text, len, MSG_NOSIGNAL) == (ssize_t)len, "send: %s", strerror(errno));
}

/* Reads until the server closes or timeout_ms pass; returns the bytes read
 * (NUL-terminated in buf), or -1 if the connection is still open with
 * nothing read. */
static long read_until_close(int fd, char *buf, size_t size, int timeout_ms)
{
    long long deadline = mail_now_ms() + timeout_ms;
    size_t got = 0;
    buf[0] = '\0';
    for (;;) {
        long long left = deadline - mail_now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return got > 0 ? (long)got : -1;
        ssize_t n = recv(fd, buf + got, size - 1 - got, 0);
        if (n <= 0)
            return (long)got;
        got += (size_t)n;
        buf[got] = '\0';
        if (got == size - 1)
            return (long)got;
    }
}

/* Reads one keep-alive response (headers + Content-Length body); returns
 * its status or 0. */
static int read_one_response(int fd, int timeout_ms)
{
    char buf[4096];
    size_t got = 0;
    long long deadline = mail_now_ms() + timeout_ms;
    while (got < sizeof buf - 1) {
        long long left = deadline - mail_now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return 0;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            return 0;
        got += (size_t)n;
        buf[got] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        const char *length = strstr(buf, "Content-Length: ");
        if (end != NULL && length != NULL && (size_t)(end + 4 - buf) + (size_t)atol(length + 16) <= got)
            return strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : 0;
    }
    return 0;
}

static int healthz_from(const char *source, int port)
{
    char buf[2048];
    int fd = connect_from(source, port);
    send_text(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    long n = read_until_close(fd, buf, sizeof buf, mail_scaled_ms(5000));
    close(fd);
    return n > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : 0;
}

/* A 503 problem with code, Retry-After and Connection: close. */
static void assert_refusal(const struct http_response *resp, const char *code)
{
    char value[128];
    ck_assert_msg(resp->status == 503, "expected 503 %s, got %d: %s", code, resp->status,
                  resp->body ? resp->body : "");
    ck_assert(http_header(resp, "Content-Type", value, sizeof value));
    ck_assert_str_eq(value, "application/problem+json");
    ck_assert_ptr_nonnull(resp->json);
    ck_assert_str_eq(json_string_value(json_object_get(resp->json, "code")), code);
    ck_assert_msg(http_header(resp, "Retry-After", value, sizeof value) && atol(value) > 0, "no Retry-After");
    ck_assert_msg(http_header(resp, "Connection", value, sizeof value) && strcmp(value, "close") == 0,
                  "no Connection: close");
}

/* ---- 1. The request deadline ---- */

#define DEADLINE_S 3
#define IDLE_TIMEOUT_S 7

enum drip_kind { DRIP_HEAD, DRIP_BODY, IDLE, KEEP_ALIVE, IN_TIME, DRIP_KINDS };

struct dripper {
    int fd;
    const char *text; /* what is dripped */
    size_t sent;
    int interval_ms;
    long long first_byte_ms, next_ms, closed_ms;
    long got; /* bytes the server sent before closing */
    char reply[256];
};

START_TEST(test_flood_request_deadline_cuts_a_client_sending_one_byte_per_second)
{
    static const char HEAD[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    static const char IN_TIME_REQUEST[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    static const char KEEP_ALIVE_REQUEST[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    char email[128], head[512], body[512];
    int port = port_of(PORT_DEADLINE);
    const char *const extra[] = {"REQUEST_TIMEOUT=" TEXT(DEADLINE_S), "CONNECTION_TIMEOUT=" TEXT(IDLE_TIMEOUT_S), NULL};
    pid_t pid = start_server(port, extra);

    unique_email(email, sizeof email, "deadline-body", CORP_DOMAIN);
    snprintf(body, sizeof body,
             "{\"full_name\":\"Slow Body\",\"email\":\"%s\",\"password\":\"Str0ng!Pass\","
             "\"phone_number\":\"0812-3456-7890\",\"accept_terms\":true}",
             email);
    snprintf(head, sizeof head,
             "POST /signup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             strlen(body));

    struct dripper d[DRIP_KINDS] = {
        [DRIP_HEAD] = {.text = HEAD, .interval_ms = 1000},
        [DRIP_BODY] = {.text = body, .interval_ms = 1000},
        [IDLE] = {.text = ""},
        [KEEP_ALIVE] = {.text = ""},
        [IN_TIME] = {.text = IN_TIME_REQUEST, .interval_ms = 40}, /* ~2.4 s in all: slow, but in time */
    };
    long long start = mail_now_ms();
    for (int i = 0; i < DRIP_KINDS; i++) {
        d[i].fd = connect_from("127.0.1.10", port);
        d[i].first_byte_ms = d[i].next_ms = start;
    }
    send_text(d[DRIP_BODY].fd, head); /* the head at once; the body drips */
    send_text(d[KEEP_ALIVE].fd, KEEP_ALIVE_REQUEST);
    ck_assert_int_eq(read_one_response(d[KEEP_ALIVE].fd, mail_scaled_ms(5000)), 200);

    /* Drip, and note when the server closes each connection. */
    bool has_asked_again = false;
    int keep_alive_again = 0;
    while (mail_now_ms() - start < (IDLE_TIMEOUT_S + 2) * 1000) {
        long long now = mail_now_ms();
        for (int i = 0; i < DRIP_KINDS; i++) {
            struct dripper *x = &d[i];
            if (x->closed_ms != 0)
                continue;
            struct pollfd p = {.fd = x->fd, .events = POLLIN};
            if (poll(&p, 1, 0) == 1 && i != KEEP_ALIVE) {
                x->got = read_until_close(x->fd, x->reply, sizeof x->reply, 2000);
                x->closed_ms = mail_now_ms();
                continue;
            }
            if (x->text[x->sent] != '\0' && now >= x->next_ms) {
                send_text(x->fd, (char[]){x->text[x->sent], '\0'});
                x->sent++;
                x->next_ms = now + x->interval_ms;
            }
        }
        /* Idle on keep-alive past the deadline: still open, and still serves. */
        if (!has_asked_again && now - start >= (DEADLINE_S + 2) * 1000) {
            has_asked_again = true;
            send_text(d[KEEP_ALIVE].fd, KEEP_ALIVE_REQUEST);
            keep_alive_again = read_one_response(d[KEEP_ALIVE].fd, mail_scaled_ms(5000));
        }
        mail_sleep_ms(20);
    }
    for (int i = 0; i < DRIP_KINDS; i++)
        close(d[i].fd);
    printf("flood: REQUEST_TIMEOUT=%d: head dripped 1 B/s cut after %lld ms (%zu bytes), body dripped cut after "
           "%lld ms; idle connection closed after %lld ms (CONNECTION_TIMEOUT=%d); in-time request: %.12s\n",
           DEADLINE_S, d[DRIP_HEAD].closed_ms - start, d[DRIP_HEAD].sent, d[DRIP_BODY].closed_ms - start,
           d[IDLE].closed_ms - start, IDLE_TIMEOUT_S, d[IN_TIME].reply);

    long long early = DEADLINE_S * 1000 - 200, late = mail_scaled_ms(DEADLINE_S * 1000 + 1500);
    for (int i = DRIP_HEAD; i <= DRIP_BODY; i++) {
        long long lived = d[i].closed_ms - d[i].first_byte_ms;
        ck_assert_msg(d[i].closed_ms != 0, "a request dripping one byte per second was never cut");
        ck_assert_msg(lived >= early && lived <= late, "a dripping request was cut after %lld ms, not ~%d s", lived,
                      DEADLINE_S);
        ck_assert_msg(d[i].got == 0, "the cut connection was answered: %s", d[i].reply);
    }
    ck_assert_msg(d[IDLE].closed_ms - start >= IDLE_TIMEOUT_S * 1000 - 500,
                  "an idle connection was closed after %lld ms, before CONNECTION_TIMEOUT", d[IDLE].closed_ms - start);
    ck_assert_msg(d[IDLE].closed_ms != 0, "an idle connection outlived CONNECTION_TIMEOUT");
    ck_assert_msg(keep_alive_again == 200, "the idle keep-alive connection, %d s on: %d", DEADLINE_S + 2,
                  keep_alive_again);
    ck_assert_msg(strncmp(d[IN_TIME].reply, "HTTP/1.1 200", 12) == 0, "a slow request within the deadline got: %s",
                  d[IN_TIME].reply);
    const char *params[] = {email};
    char *accounts = db_query_value("SELECT count(*) FROM accounts WHERE email = $1", 1, params);
    ck_assert_msg(accounts != NULL && strcmp(accounts, "0") == 0, "the cut sign-up was stored");
    free(accounts);
    stop_server(pid);
}
END_TEST

/* ---- 2. The flood ---- */

#define FLOOD_ADDRESSES 20
#define FLOOD_PER_ADDRESS 100
#define FLOOD_GREEDY 300
#define PER_ADDRESS_DEFAULT 128
/* Peak memory (VmHWM) with 2,300 held connections. Measured on the 2-core
 * development VM: plain -O2 build 103-108 MiB, ASan 521-632 MiB (ASan keeps
 * shadow memory and allocator caches per thread); ceilings about x1.5. */
#define FLOOD_HWM_CEILING_KIB (160L * 1024)
#define FLOOD_HWM_CEILING_ASAN_KIB (950L * 1024)
/* Legitimate latency: the real goal (p99 < 250 ms at 10,000 + 1,000) is
 * bench/flood.sh's. Here the 2 cores are shared with the other suites and
 * other people's builds, which move the p99 from 0.2 s to 2.7 s between
 * runs; the median says whether legitimate clients are served promptly,
 * and the p99 ceiling, far below the 10 s deadline and 30 s idle timeout,
 * whether any of them waited behind a slow client. */
#define FLOOD_P50_CEILING_MS 250
#define FLOOD_P50_CEILING_ASAN_MS 500
#define FLOOD_P99_CEILING_MS 5000

struct thread_sampler {
    pid_t pid;
    long peak_threads;
};

static void sample_threads(void *arg, long long ms)
{
    struct thread_sampler *s = arg;
    (void)ms;
    long threads = fault_proc_status_kib(s->pid, "Threads");
    if (threads > s->peak_threads)
        s->peak_threads = threads;
}

START_TEST(test_flood_slow_and_greedy_clients_leave_legitimate_clients_served)
{
    int port = port_of(PORT_FLOOD);
    pid_t pid = start_server(port, NULL);
    struct flood_plan plan = {
        .port = port,
        .slow_addresses = FLOOD_ADDRESSES,
        .slow_per_address = FLOOD_PER_ADDRESS,
        .greedy_connections = FLOOD_GREEDY,
        .drip_interval_ms = 2000,
        .ramp_ms = 2000,
        .hold_ms = 14000, /* past the default REQUEST_TIMEOUT (10 s): every slow request is cut once */
        .reconnect_delay_ms = 1000,
        .legit_threads = 2,
        .legit_pause_ms = 50,
        .legit_timeout_ms = mail_scaled_ms(5000),
        .email_domain = CORP_DOMAIN,
        .email_tag = "flood-legit",
    };
    struct flood_result r;
    struct thread_sampler sampler = {.pid = pid};
    char err[256];
    ck_assert_msg(flood_run(&plan, &r, sample_threads, &sampler, err, sizeof err), "%s", err);
    long hwm = fault_proc_status_kib(pid, "VmHWM");
    int status = healthz_from("127.0.0.1", port);

    double success = r.legit_requests ? 100.0 * (double)r.legit_ok / (double)r.legit_requests : 0;
    printf("flood: %d slow connections from %d addresses + %d from one address, %.0f s: legitimate %ld requests, "
           "%.2f %% ok, p50 %.0f ms, p99 %.0f ms (healthz %.0f, sign-up %.0f), max %.0f ms%s%s\n",
           FLOOD_ADDRESSES * FLOOD_PER_ADDRESS, FLOOD_ADDRESSES, FLOOD_GREEDY, (double)r.duration_ms / 1000,
           r.legit_requests, success, r.latency_p50_ms, r.latency_p99_ms, r.healthz_p99_ms, r.signup_p99_ms,
           r.latency_max_ms, r.first_failure[0] ? "; first failure: " : "", r.first_failure);
    printf("flood: slow held %ld..%ld (mean %.0f), cut %ld, answered %ld; greedy held %ld..%ld (mean %.0f), "
           "cut %ld, answered %ld; server: VmHWM %ld KiB, peak threads %ld\n",
           r.slow.held_min, r.slow.held_max, r.slow.held_mean, r.slow.closed_silent, r.slow.answered,
           r.greedy.held_min, r.greedy.held_max, r.greedy.held_mean, r.greedy.closed_silent, r.greedy.answered, hwm,
           sampler.peak_threads);

    ck_assert_msg(status == 200, "GET /healthz after the flood: %d", status);
    ck_assert_msg(r.legit_requests >= 50, "only %ld legitimate requests ran", r.legit_requests);
    ck_assert_msg(success >= 99.0, "legitimate clients: %.2f %% succeeded; first failure: %s", success,
                  r.first_failure);
    long p50_ceiling = is_asan_build() ? FLOOD_P50_CEILING_ASAN_MS : FLOOD_P50_CEILING_MS;
    ck_assert_msg(r.latency_p50_ms <= p50_ceiling, "legitimate median %.0f ms over %ld ms", r.latency_p50_ms,
                  p50_ceiling);
    ck_assert_msg(r.latency_p99_ms <= FLOOD_P99_CEILING_MS, "legitimate p99 %.0f ms over %d ms", r.latency_p99_ms,
                  FLOOD_P99_CEILING_MS);
    /* Every slow address got all its connections (under its share), and the
     * deadline cut each dripping request; none was answered. */
    ck_assert_msg(r.slow.held_max >= FLOOD_ADDRESSES * FLOOD_PER_ADDRESS - 10, "slow connections held: at most %ld",
                  r.slow.held_max);
    ck_assert_msg(r.slow.closed_silent >= FLOOD_ADDRESSES * FLOOD_PER_ADDRESS - 10,
                  "only %ld dripping requests were cut by the deadline", r.slow.closed_silent);
    ck_assert_msg(r.slow.answered == 0 && r.greedy.answered_other == 0, "unexpected answers: slow %ld, greedy %ld",
                  r.slow.answered, r.greedy.answered_other);
    /* The greedy address kept its share (and a few being refused), not 300:
     * counted in the server, since the client also counts connections that
     * wait in the kernel's accept queue. */
    ck_assert_msg(sampler.peak_threads <= FLOOD_ADDRESSES * FLOOD_PER_ADDRESS + PER_ADDRESS_DEFAULT + 8 + 64,
                  "%ld server threads: the greedy address was not held to its share", sampler.peak_threads);
    long ceiling = is_asan_build() ? FLOOD_HWM_CEILING_ASAN_KIB : FLOOD_HWM_CEILING_KIB;
    ck_assert_msg(hwm > 0 && hwm < ceiling, "peak RSS (VmHWM) %ld KiB over %ld KiB", hwm, ceiling);
    stop_server(pid);
}
END_TEST

/* ---- 3. The per-address limit ---- */

#define LIMIT 4
#define TRUSTED_PROXY "127.0.1.50"
#define TRUSTED_CONNECTIONS 12
#define REFUSALS 8 /* CONNECTION_GUARD_REFUSALS_PER_ADDRESS */

START_TEST(test_flood_per_address_limit_answers_503_and_exempts_trusted_proxies)
{
    int port = port_of(PORT_PER_ADDRESS);
    const char *const extra[] = {"PER_IP_CONNECTION_LIMIT=" TEXT(LIMIT), "TRUSTED_PROXIES=" TRUSTED_PROXY, NULL};
    pid_t pid = start_server(port, extra);
    int held[LIMIT], refused[REFUSALS], trusted[TRUSTED_CONNECTIONS];
    struct http_response resp;
    char buf[512];

    for (int i = 0; i < LIMIT; i++)
        held[i] = connect_from("127.0.0.1", port);
    mail_sleep_ms(300); /* accepted by the server, not only by the kernel */

    /* One more from 127.0.0.1: an answer, not a reset. */
    ck_assert(http_request(port, "GET", "/healthz", NULL, NULL, 0, &resp));
    assert_refusal(&resp, "too_many_connections");
    http_response_free(&resp);

    /* Other addresses do not notice; the trusted proxy has no limit. */
    ck_assert_int_eq(healthz_from("127.0.1.51", port), 200);
    for (int i = 0; i < TRUSTED_CONNECTIONS; i++) {
        trusted[i] = connect_from(TRUSTED_PROXY, port);
        send_text(trusted[i], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    }
    for (int i = 0; i < TRUSTED_CONNECTIONS; i++)
        ck_assert_msg(read_one_response(trusted[i], mail_scaled_ms(5000)) == 200,
                      "connection %d of the trusted proxy was not served", i + 1);

    /* Refusals are answered a few at a time; beyond them, connections are
     * closed at once, and silent refused ones after the refusal window. */
    for (int i = 0; i < REFUSALS; i++)
        refused[i] = connect_from("127.0.0.1", port);
    mail_sleep_ms(300);
    int extra_fd = connect_from("127.0.0.1", port);
    long long sent_at = mail_now_ms();
    send_text(extra_fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    long got = read_until_close(extra_fd, buf, sizeof buf, mail_scaled_ms(3000));
    long long closed_after = mail_now_ms() - sent_at;
    close(extra_fd);
    ck_assert_msg(got == 0 && closed_after < 1000, "a connection past the refusals: %ld bytes after %lld ms: %s", got,
                  closed_after, buf);
    for (int i = 0; i < REFUSALS; i++) {
        got = read_until_close(refused[i], buf, sizeof buf, mail_scaled_ms(4000));
        ck_assert_msg(got == 0, "a silent refused connection: %ld bytes: %s", got, buf);
        close(refused[i]);
    }

    /* One of the four leaves: room again. */
    close(held[0]);
    long long deadline = mail_now_ms() + mail_scaled_ms(3000);
    int status = 0;
    while (status != 200 && mail_now_ms() < deadline) {
        status = healthz_from("127.0.0.1", port);
        if (status != 200)
            mail_sleep_ms(50);
    }
    ck_assert_msg(status == 200, "no room for 127.0.0.1 after one of its connections closed: %d", status);
    for (int i = 1; i < LIMIT; i++)
        close(held[i]);
    for (int i = 0; i < TRUSTED_CONNECTIONS; i++)
        close(trusted[i]);
    stop_server(pid);
}
END_TEST

/* ---- 4. At capacity ---- */

#define CAPACITY 6
#define RESERVE 32 /* connection_guard_reserve(6) */

START_TEST(test_flood_at_capacity_answers_503_and_closes_only_past_the_reserve)
{
    int port = port_of(PORT_CAPACITY);
    const char *const extra[] = {"MAX_CONNECTIONS=" TEXT(CAPACITY), NULL};
    pid_t pid = start_server(port, extra);
    int held[CAPACITY], reserve[RESERVE];
    struct http_response resp;
    char source[32], buf[1024];

    for (int i = 0; i < CAPACITY; i++) {
        snprintf(source, sizeof source, "127.0.1.%d", 60 + i);
        held[i] = connect_from(source, port);
    }
    mail_sleep_ms(300);
    ck_assert(http_request(port, "GET", "/healthz", NULL, NULL, 0, &resp));
    assert_refusal(&resp, "server_at_capacity");
    http_response_free(&resp);

    /* With the reserve full of silent refused connections too, libmicrohttpd
     * closes new ones itself, unanswered (its listening socket is always
     * polled with MHD_USE_POLL, so they do not wait in the kernel's queue).
     * The refusal window empties the reserve again. */
    for (int i = 0; i < RESERVE; i++)
        reserve[i] = connect_from("127.0.1.70", port);
    mail_sleep_ms(300);
    int past = connect_from("127.0.1.71", port);
    long long sent_at = mail_now_ms();
    send_text(past, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    long got = read_until_close(past, buf, sizeof buf, mail_scaled_ms(3000));
    long long closed_after = mail_now_ms() - sent_at;
    close(past);
    ck_assert_msg(got == 0 && closed_after < 1000, "past the reserve: %ld bytes after %lld ms: %s", got, closed_after,
                  buf);
    for (int i = 0; i < RESERVE; i++) {
        got = read_until_close(reserve[i], buf, sizeof buf, mail_scaled_ms(4000));
        ck_assert_msg(got == 0, "a silent refused connection outlived the refusal window (%ld bytes)", got);
        close(reserve[i]);
    }
    /* Their slots free once libmicrohttpd has cleaned them up, a moment
     * after the client sees the close. */
    long long deadline = mail_now_ms() + mail_scaled_ms(3000);
    bool is_answered = false;
    while (!(is_answered = http_request(port, "GET", "/healthz", NULL, NULL, 0, &resp)) && mail_now_ms() < deadline) {
        http_response_free(&resp);
        mail_sleep_ms(50);
    }
    ck_assert_msg(is_answered, "no answer once the reserve was empty again");
    assert_refusal(&resp, "server_at_capacity");
    http_response_free(&resp);
    printf("flood: MAX_CONNECTIONS=%d: 503 server_at_capacity, and past the %d-connection reserve closed after "
           "%lld ms\n",
           CAPACITY, RESERVE, closed_after);

    close(held[0]);
    deadline = mail_now_ms() + mail_scaled_ms(3000);
    int status = 0;
    while (status != 200 && mail_now_ms() < deadline) {
        status = healthz_from("127.0.0.1", port);
        if (status != 200)
            mail_sleep_ms(50);
    }
    ck_assert_msg(status == 200, "no room after a connection closed: %d", status);
    for (int i = 1; i < CAPACITY; i++)
        close(held[i]);
    stop_server(pid);
}
END_TEST

static Suite *api_flood_suite(void)
{
    Suite *s = suite_create("api_flood");
    TCase *tc = tcase_create("flood");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, TEST_TIMEOUT_S);
    tcase_add_test(tc, test_flood_request_deadline_cuts_a_client_sending_one_byte_per_second);
    tcase_add_test(tc, test_flood_per_address_limit_answers_503_and_exempts_trusted_proxies);
    tcase_add_test(tc, test_flood_at_capacity_answers_503_and_closes_only_past_the_reserve);
    tcase_add_test(tc, test_flood_slow_and_greedy_clients_leave_legitimate_clients_served);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* 2,300 client sockets here, as many in the server, which inherits it. */
    long files = flood_raise_open_files();
    if (files < 2 * (FLOOD_ADDRESSES * FLOOD_PER_ADDRESS + FLOOD_GREEDY) + 256) {
        fprintf(stderr, "check_api_flood: RLIMIT_NOFILE %ld is too low (ulimit -Hn)\n", files);
        return EXIT_FAILURE;
    }
    if (!test_database_isolate("flood"))
        return EXIT_FAILURE;
    setvbuf(stdout, NULL, _IOLBF, 0);
    SRunner *sr = srunner_create(api_flood_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
