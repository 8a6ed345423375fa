/* Integration-test support; see support.h. Failures call ck_abort so the
 * test that hit them is reported with the reason. */
#include "support.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
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

#define IO_TIMEOUT_MS 30000

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool wait_ready(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, IO_TIMEOUT_MS) == 1;
}

static void parse_response(char *data, size_t len, struct http_response *resp)
{
    char *end = strstr(data, "\r\n\r\n");
    if (strncmp(data, "HTTP/1.", 7) != 0 || end == NULL) {
        free(data);
        return;
    }
    resp->status = atoi(data + 9);
    size_t header_len = (size_t)(end - data);
    resp->headers = strndup(data, header_len);
    resp->body_len = len - header_len - 4;
    resp->body = malloc(resp->body_len + 1);
    memcpy(resp->body, end + 4, resp->body_len);
    resp->body[resp->body_len] = '\0';
    free(data);
    /* Connection: close replies are not chunked by libmicrohttpd when the
     * length is known, which is always the case for our JSON bodies. */
    if (resp->body_len > 0)
        resp->json = json_loadb(resp->body, resp->body_len, 0, NULL);
}

/* Appends one exchange to $TEST_RESPONSE_LOG (JSON lines), so every
 * response the suites received can be checked against openapi.yaml. */
static void record_exchange(const char *request, size_t len, const struct http_response *resp)
{
    const char *path = getenv("TEST_RESPONSE_LOG");
    if (path == NULL || resp->status == 0)
        return;
    char method[16] = "", target[2048] = "";
    const char *space = memchr(request, ' ', len < sizeof method ? len : sizeof method);
    if (space == NULL)
        return;
    memcpy(method, request, (size_t)(space - request));
    const char *target_end = memchr(space + 1, ' ', len - (size_t)(space + 1 - request));
    size_t target_len = target_end ? (size_t)(target_end - space - 1) : 0;
    if (target_len >= sizeof target)
        target_len = sizeof target - 1;
    memcpy(target, space + 1, target_len);

    json_t *headers = json_object();
    const char *line = strstr(resp->headers, "\r\n");
    while (line != NULL) {
        line += 2;
        const char *colon = strchr(line, ':');
        const char *eol = strstr(line, "\r\n");
        size_t line_len = eol ? (size_t)(eol - line) : strlen(line);
        if (colon != NULL && (size_t)(colon - line) < line_len) {
            char name[128];
            size_t name_len = (size_t)(colon - line) < sizeof name - 1 ? (size_t)(colon - line) : sizeof name - 1;
            for (size_t i = 0; i < name_len; i++)
                name[i] = (char)((line[i] >= 'A' && line[i] <= 'Z') ? line[i] + 32 : line[i]);
            name[name_len] = '\0';
            const char *value = colon + 1;
            while (*value == ' ')
                value++;
            json_object_set_new(headers, name, json_stringn_nocheck(value, (size_t)(line + line_len - value)));
        }
        line = eol;
    }
    json_t *entry = json_pack("{s:s, s:s%, s:i, s:o, s:s%}", "method", method, "target", target, target_len,
                              "status", resp->status, "headers", headers, "body", resp->body ? resp->body : "",
                              resp->body_len);
    char *text = entry ? json_dumps(entry, JSON_COMPACT) : NULL;
    if (text != NULL) {
        /* O_APPEND writes of one line each: safe from the suites' threads and forks. */
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            size_t n = strlen(text);
            text[n] = '\n';
            ssize_t written = write(fd, text, n + 1);
            (void)written;
            close(fd);
        }
    }
    free(text);
    json_decref(entry);
}

bool http_raw(int port, const char *request, size_t len, struct http_response *resp)
{
    size_t sent = 0, got = 0, cap = 65536;
    char *data = NULL;
    int fd;

    memset(resp, 0, sizeof *resp);
    fd = connect_local(port);
    if (fd < 0)
        return false;
    while (sent < len) {
        if (!wait_ready(fd, POLLOUT))
            goto failed;
        ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0) {
            /* The server may answer (413) and close before reading it all. */
            if (errno == EPIPE || errno == ECONNRESET)
                break;
            goto failed;
        }
        sent += (size_t)n;
    }
    data = malloc(cap);
    for (;;) {
        if (!wait_ready(fd, POLLIN))
            goto failed;
        if (got + 1 == cap) {
            cap *= 2;
            data = realloc(data, cap);
        }
        ssize_t n = recv(fd, data + got, cap - got - 1, 0);
        if (n < 0 && errno == ECONNRESET && got > 0)
            break;
        if (n < 0)
            goto failed;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    data[got] = '\0';
    parse_response(data, got, resp);
    record_exchange(request, len, resp);
    return resp->status != 0;

failed:
    free(data);
    close(fd);
    return false;
}

bool http_request(int port, const char *method, const char *path, const char *content_type, const char *body,
                  size_t body_len, struct http_response *resp)
{
    char head[1024];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", method,
                     path, port);
    if (content_type != NULL)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n", content_type);
    if (body != NULL)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    size_t total = (size_t)n + (body ? body_len : 0);
    char *request = malloc(total);
    memcpy(request, head, (size_t)n);
    if (body != NULL)
        memcpy(request + n, body, body_len);
    bool is_ok = http_raw(port, request, total, resp);
    free(request);
    return is_ok;
}

bool http_header(const struct http_response *resp, const char *name, char *buf, size_t buf_size)
{
    size_t name_len = strlen(name);
    const char *line = resp->headers ? strstr(resp->headers, "\r\n") : NULL;
    while (line != NULL) {
        line += 2;
        if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *value = line + name_len + 1;
            while (*value == ' ')
                value++;
            size_t value_len = strcspn(value, "\r");
            if (value_len >= buf_size)
                value_len = buf_size - 1;
            memcpy(buf, value, value_len);
            buf[value_len] = '\0';
            return true;
        }
        line = strstr(line, "\r\n");
    }
    return false;
}

void http_response_free(struct http_response *resp)
{
    free(resp->headers);
    free(resp->body);
    json_decref(resp->json);
    memset(resp, 0, sizeof *resp);
}

static const char *required_env(const char *name)
{
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        fprintf(stderr, "test setup: %s is not set (run the suites through `make test`)\n", name);
        exit(EXIT_FAILURE);
    }
    return value;
}

pid_t test_server_spawn(int port, const char *const *extra_env, const char *log_path)
{
    const char *bin = getenv("SIGNUP_API_BIN") ? getenv("SIGNUP_API_BIN") : "build/signup-api";
    const char *database_url = required_env("TEST_DATABASE_URL");
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", port);
    setenv("PORT", port_text, 1);
    setenv("DATABASE_URL", database_url, 1);
    for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL; i++) {
        char *assignment = strdup(extra_env[i]);
        char *equals = strchr(assignment, '=');
        if (equals != NULL) {
            *equals = '\0';
            setenv(assignment, equals + 1, 1);
        }
        free(assignment);
    }
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    execl(bin, bin, (char *)NULL);
    perror(bin);
    _exit(127);
}

bool test_server_wait_healthy(pid_t pid, int port)
{
    /* Ready when /healthz answers; give up after 30 s or if it exited. */
    for (int i = 0; i < 300; i++) {
        struct http_response resp;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "test setup: the server on port %d exited during start-up\n", port);
            return false;
        }
        if (http_request(port, "GET", "/healthz", NULL, NULL, 0, &resp) && resp.status == 200) {
            http_response_free(&resp);
            return true;
        }
        http_response_free(&resp);
        nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
    }
    fprintf(stderr, "test setup: the server on port %d did not become healthy\n", port);
    return false;
}

pid_t test_server_start(int port, const char *const *extra_env, const char *log_path)
{
    pid_t pid = test_server_spawn(port, extra_env, log_path);
    if (pid < 0)
        return -1;
    if (!test_server_wait_healthy(pid, port)) {
        fprintf(stderr, "test setup: see %s\n", log_path);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

int test_server_stop(pid_t pid)
{
    int status;
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *test_db_connect(void)
{
    PGconn *conn = PQconnectdb(required_env("TEST_DATABASE_URL"));
    PQsetNoticeProcessor(conn, ignore_notice, NULL);
    return conn;
}

char *db_query_value(const char *sql, int n_params, const char *const *params)
{
    PGconn *conn = test_db_connect();
    char *value = NULL;
    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "test database: %s", PQerrorMessage(conn));
    PGresult *res = PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "query failed: %s", PQerrorMessage(conn));
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        value = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(conn);
    return value;
}

void db_exec(const char *sql)
{
    PGconn *conn = test_db_connect();
    ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "test database: %s", PQerrorMessage(conn));
    PGresult *res = PQexec(conn, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK,
                  "statement failed: %s", PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
}

void unique_email(char *buf, size_t size, const char *prefix, const char *domain)
{
    static unsigned counter;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(buf, size, "%s-%ld%06ld-%d-%u@%s", prefix, (long)now.tv_sec, now.tv_nsec / 1000, (int)getpid(),
             __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST), domain);
}
