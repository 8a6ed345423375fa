/* Fault-test support; see fault_support.h. Nothing here calls ck_assert, so
 * the HTTP and process helpers are safe from the tests' client threads. */
#include "fault_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mail_support.h"

#define REPLY_MAX 65536
#define PG_LOCAL "scripts/pg-local.sh"

int fault_connect(int port, bool is_nonblocking)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (is_nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 && !(is_nonblocking && errno == EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits for events on fd until deadline_ms (mail_now_ms clock); false on timeout. */
static bool wait_fd(int fd, short events, long long deadline_ms)
{
    for (;;) {
        long long left = deadline_ms - mail_now_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

/* Copies the value of header name from the raw header block into buf ("" when absent). */
static void header_value(const char *headers, const char *name, char *buf, size_t size)
{
    size_t name_len = strlen(name);
    buf[0] = '\0';
    for (const char *line = strstr(headers, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *value = line + name_len + 1;
            while (*value == ' ')
                value++;
            size_t len = strcspn(value, "\r");
            if (len >= size)
                len = size - 1;
            memcpy(buf, value, len);
            buf[len] = '\0';
            return;
        }
    }
}

static void parse_reply(char *data, size_t len, struct fault_reply *reply)
{
    char *end = strstr(data, "\r\n\r\n");
    if (strncmp(data, "HTTP/1.", 7) != 0 || end == NULL)
        return;
    *end = '\0';
    reply->outcome = FAULT_ANSWERED;
    reply->status = atoi(data + 9);
    char retry_after[32];
    header_value(data, "Content-Type", reply->content_type, sizeof reply->content_type);
    header_value(data, "Retry-After", retry_after, sizeof retry_after);
    reply->retry_after = retry_after[0] ? strtol(retry_after, NULL, 10) : -1;
    const char *body = end + 4;
    json_t *json = json_loadb(body, len - (size_t)(body - data), 0, NULL);
    const char *code = json_string_value(json_object_get(json, "code"));
    snprintf(reply->code, sizeof reply->code, "%s", code ? code : "");
    json_decref(json);
}

void fault_http_exchange(int port, const char *request, size_t len, int timeout_ms, int *sent_counter,
                         struct fault_reply *reply)
{
    long long deadline = mail_now_ms() + timeout_ms;
    size_t sent = 0, got = 0;
    char *data = NULL;

    memset(reply, 0, sizeof *reply);
    reply->retry_after = -1;
    reply->outcome = FAULT_REFUSED;
    int fd = fault_connect(port, true);
    if (fd < 0)
        return;
    /* A refused loopback connect is reported through SO_ERROR. */
    int error = 0;
    socklen_t error_len = sizeof error;
    if (!wait_fd(fd, POLLOUT, deadline)) {
        reply->outcome = FAULT_TIMED_OUT;
        goto done;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0 || error != 0)
        goto done;

    reply->outcome = FAULT_NO_ANSWER;
    while (sent < len) {
        if (!wait_fd(fd, POLLOUT, deadline)) {
            reply->outcome = FAULT_TIMED_OUT;
            goto done;
        }
        ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            break; /* the server may have answered and closed: read what it sent */
        sent += (size_t)n;
    }
    if (sent == len) {
        reply->sent_ms = mail_now_ms();
        if (sent_counter != NULL)
            __atomic_add_fetch(sent_counter, 1, __ATOMIC_SEQ_CST);
    }
    data = malloc(REPLY_MAX);
    if (data == NULL)
        goto done;
    for (;;) {
        if (!wait_fd(fd, POLLIN, deadline)) {
            if (got == 0)
                reply->outcome = FAULT_TIMED_OUT;
            break;
        }
        ssize_t n = recv(fd, data + got, REPLY_MAX - 1 - got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0 || got + (size_t)n == REPLY_MAX - 1) {
            got += n > 0 ? (size_t)n : 0;
            break;
        }
        got += (size_t)n;
    }
    data[got] = '\0';
    parse_reply(data, got, reply);

done:
    reply->ended_ms = mail_now_ms();
    free(data);
    close(fd);
}

size_t fault_signup_request(char *buf, size_t size, int port, const char *email)
{
    char body[512];
    int body_len = snprintf(body, sizeof body,
                            "{\"full_name\":\"Fault Person\",\"email\":\"%s\",\"password\":\"Str0ng!Pass\","
                            "\"phone_number\":\"0812-3456-7890\",\"accept_terms\":true}",
                            email);
    if (body_len < 0 || (size_t)body_len >= sizeof body)
        return 0;
    int n = snprintf(buf, size,
                     "POST /signup HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     port, body_len, body);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

bool fault_is_closed_by_peer(int fd)
{
    char scratch[4096];
    for (;;) {
        ssize_t n = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0)
            return true;
        if (errno == EINTR)
            continue;
        return errno != EAGAIN && errno != EWOULDBLOCK;
    }
}

long fault_proc_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t field_len = strlen(field);
    long value = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, field, field_len) == 0 && line[field_len] == ':') {
            value = strtol(line + field_len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value;
}

bool fault_wait_exit(pid_t pid, int timeout_ms, int *status)
{
    long long deadline = mail_now_ms() + timeout_ms;
    for (;;) {
        pid_t done = waitpid(pid, status, WNOHANG);
        if (done == pid)
            return true;
        if (done < 0 && errno != EINTR)
            return false;
        if (mail_now_ms() >= deadline)
            return false;
        mail_sleep_ms(20);
    }
}

int fault_pg_local(const char *command, const char *log_path)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execl(PG_LOCAL, PG_LOCAL, command, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The guardian's side of the pipe is read-only; ours is the only writer, so
 * EOF means "we are done or dead". */
static int guard_fd = -1;
static pid_t guard_pid = -1;

bool fault_pg_guard_start(const char *log_path)
{
    int done[2], ready[2];
    if (pipe(done) != 0)
        return false;
    if (pipe(ready) != 0) {
        close(done[0]);
        close(done[1]);
        return false;
    }
    /* Servers and scripts started later must not hold our end open. */
    for (int i = 0; i < 2; i++) {
        fcntl(done[i], F_SETFD, FD_CLOEXEC);
        fcntl(ready[i], F_SETFD, FD_CLOEXEC);
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(done[0]);
        close(done[1]);
        close(ready[0]);
        close(ready[1]);
        return false;
    }
    if (pid == 0) {
        close(done[1]);
        close(ready[0]);
        /* Out of the test's process group: Check SIGKILLs that group when the
         * test ends, and this process must outlive it. */
        setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        ssize_t w = write(ready[1], "r", 1);
        (void)w;
        close(ready[1]);
        char byte;
        ssize_t r;
        while ((r = read(done[0], &byte, 1)) > 0 || (r < 0 && errno == EINTR))
            ;
        int rc = fault_pg_local("status", "/dev/null") == 0 ? 0 : fault_pg_local("start", log_path);
        _exit(rc == 0 ? 0 : 1);
    }
    close(done[0]);
    close(ready[1]);
    char byte;
    ssize_t r;
    while ((r = read(ready[0], &byte, 1)) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    guard_fd = done[1];
    guard_pid = pid;
    return r == 1;
}

void fault_pg_guard_release(void)
{
    if (guard_fd < 0)
        return;
    close(guard_fd);
    guard_fd = -1;
    while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    guard_pid = -1;
}
