/* Email side of the integration tests; see mail_support.h. Messages are
 * read through tests/tools/eml_to_json.py (Python's email package decodes
 * MIME far more faithfully than anything we would write here). */
#include "mail_support.h"

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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define PYTHON "/usr/bin/python3"
#define EML_TOOL "tests/tools/eml_to_json.py"
#define CATCHER_SCRIPT "scripts/mail-catcher.py"
#define CATCHER_START_TIMEOUT_MS 15000
#define POLL_STEP_MS 100

long long mail_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void mail_sleep_ms(int ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

#define TRACKED_MAX 32
static pid_t tracked[TRACKED_MAX];

void mail_track_pid(pid_t pid)
{
    for (size_t i = 0; i < TRACKED_MAX; i++) {
        if (tracked[i] <= 0) {
            tracked[i] = pid;
            return;
        }
    }
    ck_abort_msg("more than %d child processes tracked", TRACKED_MAX);
}

void mail_untrack_pid(pid_t pid)
{
    for (size_t i = 0; i < TRACKED_MAX; i++) {
        if (tracked[i] == pid)
            tracked[i] = 0;
    }
}

void mail_kill_tracked(void)
{
    for (size_t i = 0; i < TRACKED_MAX; i++) {
        if (tracked[i] > 0) {
            kill(tracked[i], SIGKILL);
            while (waitpid(tracked[i], NULL, 0) < 0 && errno == EINTR)
                ;
            tracked[i] = 0;
        }
    }
}

int mail_scaled_ms(int ms)
{
    const char *text = getenv("CK_TIMEOUT_MULTIPLIER");
    double factor = text ? strtod(text, NULL) : 1.0;
    return factor > 1.0 ? (int)(ms * factor) : ms;
}

static bool run_admin(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    bool is_ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!is_ok)
        fprintf(stderr, "test setup: %s: %s", sql, PQerrorMessage(conn));
    PQclear(res);
    return is_ok;
}

bool test_database_isolate(const char *suffix)
{
    const char *base = getenv("TEST_DATABASE_URL");
    char url[1024], dbname[128], sql[256];
    if (base == NULL || strncmp(base, "postgres", 8) != 0 || strlen(base) >= sizeof url) {
        fprintf(stderr, "test setup: TEST_DATABASE_URL must be a postgresql:// URI\n");
        return false;
    }
    /* postgresql://user:pw@host:port/dbname[?params] */
    const char *name = strrchr(base, '/');
    size_t name_len = strcspn(name + 1, "?");
    if (name_len == 0 || name_len + strlen(suffix) + 2 > sizeof dbname) {
        fprintf(stderr, "test setup: no database name in TEST_DATABASE_URL\n");
        return false;
    }
    snprintf(dbname, sizeof dbname, "%.*s_%s", (int)name_len, name + 1, suffix);
    for (const char *p = dbname; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            fprintf(stderr, "test setup: unexpected database name %s\n", dbname);
            return false;
        }
    }
    snprintf(url, sizeof url, "%.*s/%s%s", (int)(name - base), base, dbname, name + 1 + name_len);

    PGconn *conn = PQconnectdb(base);
    bool is_ok = PQstatus(conn) == CONNECTION_OK;
    if (!is_ok)
        fprintf(stderr, "test setup: %s", PQerrorMessage(conn));
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    is_ok = is_ok && run_admin(conn, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
    is_ok = is_ok && run_admin(conn, sql);
    PQfinish(conn);
    if (is_ok)
        setenv("TEST_DATABASE_URL", url, 1);
    return is_ok;
}

const char *mail_shared_dir(void)
{
    const char *dir = getenv("TEST_MAIL_DIR");
    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "test setup: TEST_MAIL_DIR is not set (run the suites through `make test`)\n");
        exit(EXIT_FAILURE);
    }
    return dir;
}

/* Runs the Python tool with args (NULL-terminated, after the script name)
 * without a shell, and parses what it prints. New reference. */
static json_t *run_tool(const char *const *args)
{
    const char *argv[12] = {PYTHON, EML_TOOL};
    size_t argc = 2;
    for (size_t i = 0; args[i] != NULL && argc + 1 < sizeof argv / sizeof argv[0]; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;

    int out[2];
    ck_assert_msg(pipe(out) == 0, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execv(PYTHON, (char *const *)argv);
        perror(PYTHON);
        _exit(127);
    }
    close(out[1]);

    size_t len = 0, cap = 16384;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            text = realloc(text, cap);
            ck_assert_ptr_nonnull(text);
        }
        ssize_t n = read(out[0], text + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    close(out[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s %s %s failed (status %d)", EML_TOOL, argv[2],
                  argc > 3 ? argv[3] : "", status);
    json_error_t error;
    json_t *result = json_loadb(text, len, 0, &error);
    ck_assert_msg(result != NULL, "%s printed no JSON (%s): %.200s", EML_TOOL, error.text, text);
    free(text);
    return result;
}

json_t *mail_find(const char *dir, const char *recipient, const char *subject)
{
    const char *with_subject[] = {"--find", dir, recipient, "--subject", subject, NULL};
    const char *without_subject[] = {"--find", dir, recipient, NULL};
    return run_tool(subject != NULL ? with_subject : without_subject);
}

json_t *mail_index(const char *dir)
{
    const char *args[] = {"--index", dir, NULL};
    return run_tool(args);
}

json_t *mail_parse(const char *path)
{
    const char *args[] = {path, NULL};
    return run_tool(args);
}

size_t mail_count(const char *dir, const char *recipient, const char *subject)
{
    json_t *paths = mail_find(dir, recipient, subject);
    size_t n = json_array_size(paths);
    json_decref(paths);
    return n;
}

json_t *mail_wait_for(const char *dir, const char *recipient, const char *subject, size_t count, int timeout_ms)
{
    long long deadline = mail_now_ms() + timeout_ms;
    json_t *paths = mail_find(dir, recipient, subject);
    while (json_array_size(paths) < count && mail_now_ms() < deadline) {
        mail_sleep_ms(POLL_STEP_MS);
        json_decref(paths);
        paths = mail_find(dir, recipient, subject);
    }
    json_t *messages = json_array();
    size_t i;
    json_t *path;
    json_array_foreach(paths, i, path)
    {
        json_array_append_new(messages, mail_parse(json_string_value(path)));
    }
    json_decref(paths);
    return messages;
}

const char *mail_header(const json_t *mail, const char *name)
{
    return json_string_value(json_array_get(json_object_get(json_object_get(mail, "headers"), name), 0));
}

size_t mail_header_count(const json_t *mail, const char *name)
{
    return json_array_size(json_object_get(json_object_get(mail, "headers"), name));
}

const char *mail_part_text(const json_t *mail, const char *content_type)
{
    size_t i;
    json_t *part;
    json_array_foreach(json_object_get(mail, "parts"), i, part)
    {
        const char *type = json_string_value(json_object_get(part, "content_type"));
        if (type != NULL && strcmp(type, content_type) == 0)
            return json_string_value(json_object_get(part, "text"));
    }
    return NULL;
}

const char *mail_verify_link(const json_t *mail)
{
    size_t i;
    json_t *link;
    json_array_foreach(json_object_get(mail, "links"), i, link)
    {
        const char *text = json_string_value(link);
        if (text != NULL && strstr(text, "token=") != NULL)
            return text;
    }
    return NULL;
}

bool mail_link_token(const char *link, char *token, size_t size)
{
    const char *query = link ? strchr(link, '?') : NULL;
    const char *p = query;
    while (p != NULL) {
        p++;
        if (strncmp(p, "token=", 6) == 0) {
            size_t len = strcspn(p + 6, "&#");
            if (len >= size)
                return false;
            memcpy(token, p + 6, len);
            token[len] = '\0';
            return true;
        }
        p = strchr(p, '&');
    }
    return false;
}

/* Private catchers. */

void mail_catcher_init(struct mail_catcher *c, int port, const char *reject)
{
    char cwd[MAIL_PATH_MAX / 2];
    memset(c, 0, sizeof *c);
    c->pid = -1;
    c->port = port;
    snprintf(c->reject, sizeof c->reject, "%s", reject ? reject : "");
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    /* The catcher resolves a relative MAIL_CATCHER_DIR against the project
     * root, not our cwd: pass an absolute path. */
    mkdir("build", 0755);
    mkdir("build/test-output", 0755);
    snprintf(c->dir, sizeof c->dir, "%s/build/test-output/mail-XXXXXX", cwd);
    ck_assert_msg(mkdtemp(c->dir) != NULL, "mkdtemp %s: %s", c->dir, strerror(errno));
    snprintf(c->log_path, sizeof c->log_path, "%s.log", c->dir);
}

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return false;
    bool is_open = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return is_open;
}

void mail_catcher_start(struct mail_catcher *c)
{
    ck_assert_msg(c->pid < 0, "catcher on port %d already running", c->port);
    ck_assert_msg(!port_accepts(c->port), "port %d is already in use", c->port);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        char port_text[16];
        snprintf(port_text, sizeof port_text, "%d", c->port);
        setenv("MAIL_CATCHER_HOST", "127.0.0.1", 1);
        setenv("MAIL_CATCHER_PORT", port_text, 1);
        setenv("MAIL_CATCHER_DIR", c->dir, 1);
        if (c->reject[0] != '\0')
            setenv("MAIL_CATCHER_REJECT", c->reject, 1);
        else
            unsetenv("MAIL_CATCHER_REJECT");
        int fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execl(PYTHON, PYTHON, "-u", CATCHER_SCRIPT, (char *)NULL);
        perror(PYTHON);
        _exit(127);
    }
    long long deadline = mail_now_ms() + CATCHER_START_TIMEOUT_MS;
    while (!port_accepts(c->port)) {
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) != pid, "mail catcher exited during start-up; see %s",
                      c->log_path);
        if (mail_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            ck_abort_msg("mail catcher did not listen on port %d; see %s", c->port, c->log_path);
        }
        mail_sleep_ms(50);
    }
    c->pid = pid;
    mail_track_pid(pid);
}

void mail_catcher_stop(struct mail_catcher *c)
{
    if (c == NULL || c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    mail_untrack_pid(c->pid);
    c->pid = -1;
}

void smtp_stall_start(struct smtp_stall *s, int port)
{
    *s = (struct smtp_stall){.listen_fd = socket(AF_INET, SOCK_STREAM, 0), .port = port};
    ck_assert_msg(s->listen_fd >= 0, "socket: %s", strerror(errno));
    int yes = 1;
    (void)setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(s->listen_fd, 8) == 0,
                  "stalling SMTP server on port %d: %s", port, strerror(errno));
}

bool smtp_stall_wait_connection(struct smtp_stall *s, int timeout_ms)
{
    ck_assert_msg(s->listen_fd >= 0 && s->n_conns < sizeof s->conns / sizeof s->conns[0], "stall server full");
    struct pollfd pfd = {.fd = s->listen_fd, .events = POLLIN};
    if (poll(&pfd, 1, timeout_ms) != 1)
        return false;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0)
        return false;
    s->conns[s->n_conns++] = fd;
    return true;
}

void smtp_stall_stop(struct smtp_stall *s)
{
    for (size_t i = 0; i < s->n_conns; i++)
        close(s->conns[i]);
    s->n_conns = 0;
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    s->listen_fd = -1;
}

pid_t mail_worker_start(const char *const *extra_env, const char *log_path)
{
    const char *bin = getenv("SIGNUP_API_BIN") ? getenv("SIGNUP_API_BIN") : "build/signup-api";
    const char *database_url = getenv("TEST_DATABASE_URL");
    ck_assert_msg(database_url != NULL && database_url[0] != '\0', "TEST_DATABASE_URL is not set");
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
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
        execl(bin, bin, "--worker-only", (char *)NULL);
        perror(bin);
        _exit(127);
    }
    mail_track_pid(pid);
    return pid;
}

char *db_wait_value(const char *sql, int n_params, const char *const *params, const char *expected, int timeout_ms)
{
    long long deadline = mail_now_ms() + timeout_ms;
    char *value = db_query_value(sql, n_params, params);
    while (!(value != NULL && expected != NULL && strcmp(value, expected) == 0) &&
           !(value == NULL && expected == NULL) && mail_now_ms() < deadline) {
        free(value);
        mail_sleep_ms(POLL_STEP_MS);
        value = db_query_value(sql, n_params, params);
    }
    return value;
}
