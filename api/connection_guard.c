/* Request deadlines, per-address connection shares and 503s at capacity, on
 * top of libmicrohttpd's thread-per-connection daemon; see connection_guard.h.
 * Every connection gets an entry from its start to its close; the sweep
 * thread reads the entries, the connection's own thread moves it through
 * its phases. */
#include "connection_guard.h"

#include <arpa/inet.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "problem.h"

/* How often the sweep writes what it shed, when it shed anything. */
#define SHED_LOG_INTERVAL_MS 10000
#define ADDRESS_BYTES 16

/* Where a connection is. IDLE: waiting for a request (libmicrohttpd's idle
 * timeout applies); RECEIVING: a request's first byte has arrived, the
 * deadline runs; HANDLING: the whole request arrived and a handler has it
 * (never cut); CUT: its socket was shut down, nothing more may run for it. */
enum phase { PHASE_IDLE, PHASE_RECEIVING, PHASE_HANDLING, PHASE_CUT };

enum refusal { REFUSAL_NONE, REFUSAL_PER_ADDRESS, REFUSAL_CAPACITY };

enum shed_reason {
    SHED_REFUSED_PER_ADDRESS, /* answered 503 too_many_connections */
    SHED_REFUSED_CAPACITY,    /* answered 503 server_at_capacity */
    SHED_CUT_AT_ACCEPT,       /* over its address's share and its refusals: closed at once */
    SHED_CUT_DEADLINE,        /* the request did not arrive within REQUEST_TIMEOUT */
    SHED_CUT_REFUSED,         /* refused, and sent no request within the refusal window */
    SHED_COUNT
};

static const char *const SHED_NAMES[SHED_COUNT] = {"refused_per_address", "refused_at_capacity", "cut_at_accept",
                                                   "cut_request_deadline", "cut_refused_silent"};

struct guard_conn {
    struct guard_conn *prev, *next; /* the guard's list; under guard->lock */
    int fd;                         /* valid until the close hook: libmicrohttpd closes it after */
    unsigned char key[ADDRESS_BYTES]; /* client address (IPv4 as ::ffff:a.b.c.d, IPv6 as its /64) */
    enum refusal refusal;           /* set at start, before the connection's thread exists */
    bool is_served;                 /* counted in guard->served */
    bool is_counted_at_address;     /* counted in its address slot's served */
    bool is_refusal_at_address;     /* counted in its address slot's refusing */
    long long accepted_ms;
    _Atomic int phase;                      /* enum phase */
    _Atomic long long request_started_ms;   /* first byte of the current request; 0 = none yet */
    _Atomic unsigned long long bytes_mark;  /* bytes received when the last request completed */
};

struct address_slot {
    unsigned char key[ADDRESS_BYTES];
    bool is_used;
    int served;   /* admitted connections from this address */
    int refusing; /* connections from it being answered 503 */
};

struct connection_guard {
    long max_connections, reserve, per_address_limit;
    long long deadline_ms;
    struct in6_addr *trusted; /* TRUSTED_PROXIES; IPv4 as mapped addresses */
    size_t n_trusted;

    pthread_mutex_t lock; /* the list, the address table, served */
    struct guard_conn *head;
    long served;
    struct address_slot *slots; /* open addressing, linear probing; size a power of two */
    size_t slot_mask;

    _Atomic unsigned long shed[SHED_COUNT];
    unsigned long logged[SHED_COUNT]; /* shed[] as of the last log line; the sweep's, then free's */
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
    bool is_stopping;
    pthread_t sweeper;
};

/* The connection whose request this thread is handling: set at each request
 * line (one thread per connection, so the thread that parses a request is
 * the one that runs its handler). Ulfius does not hand handlers the
 * libmicrohttpd connection, so this is how the gate finds its entry. */
static _Thread_local struct guard_conn *current_conn;

static long long now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Payload bytes the kernel has received on fd, read or not; 0 when it
 * cannot tell (then only request lines start the deadline). */
static unsigned long long tcp_bytes_received(int fd)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
        return 0;
    return info.tcpi_bytes_received;
}

long connection_guard_reserve(long max_connections)
{
    long reserve = max_connections / 16;
    return reserve < 32 ? 32 : reserve;
}

long connection_guard_max_connections_within(long total)
{
    long served = total - connection_guard_reserve(total);
    while (served > 1 && served + connection_guard_reserve(served) > total)
        served--;
    return served < 1 ? 1 : served;
}

/* ---- Addresses ---- */

/* The 16-byte form of addr: IPv4 (and IPv4-mapped IPv6) as ::ffff:a.b.c.d;
 * with is_prefix, IPv6 cut to its /64, the unit one subscriber owns (as in
 * client_ip.c). False for other families. */
static bool address_key(const struct sockaddr *addr, bool is_prefix, unsigned char key[ADDRESS_BYTES])
{
    memset(key, 0, ADDRESS_BYTES);
    if (addr == NULL)
        return false;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)(const void *)addr;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &a4->sin_addr, 4);
        return true;
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)(const void *)addr;
        memcpy(key, &a6->sin6_addr, ADDRESS_BYTES);
        if (is_prefix && !IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
            memset(key + 8, 0, 8);
        return true;
    }
    return false;
}

static bool is_trusted(const struct connection_guard *g, const struct sockaddr *addr)
{
    unsigned char full[ADDRESS_BYTES];
    if (g->n_trusted == 0 || !address_key(addr, false, full))
        return false;
    for (size_t i = 0; i < g->n_trusted; i++) {
        if (memcmp(&g->trusted[i], full, ADDRESS_BYTES) == 0)
            return true;
    }
    return false;
}

/* TRUSTED_PROXIES (already validated by config) as binary addresses. */
static bool parse_trusted(struct connection_guard *g, const char *list)
{
    size_t n = list[0] ? 1 : 0;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    g->trusted = n ? calloc(n, sizeof *g->trusted) : NULL;
    if (n && g->trusted == NULL)
        return false;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        char text[INET6_ADDRSTRLEN + 1];
        struct in_addr a4;
        if (len < sizeof text) {
            memcpy(text, p, len);
            text[len] = '\0';
            struct in6_addr *out = &g->trusted[g->n_trusted];
            if (inet_pton(AF_INET, text, &a4) == 1) {
                memset(out, 0, sizeof *out);
                out->s6_addr[10] = out->s6_addr[11] = 0xff;
                memcpy(&out->s6_addr[12], &a4, 4);
                g->n_trusted++;
            } else if (inet_pton(AF_INET6, text, out) == 1) {
                g->n_trusted++;
            }
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

static size_t key_hash(const unsigned char key[ADDRESS_BYTES])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    uint64_t z = a * 0x9e3779b97f4a7c15u ^ b;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (size_t)(z ^ (z >> 31));
}

/* The slot of key, added when missing; NULL if the table is full (it is
 * sized for twice the connections libmicrohttpd admits, so it never is). */
static struct address_slot *slot_get(struct connection_guard *g, const unsigned char key[ADDRESS_BYTES])
{
    size_t i = key_hash(key) & g->slot_mask;
    for (size_t probes = 0; probes <= g->slot_mask; probes++, i = (i + 1) & g->slot_mask) {
        struct address_slot *s = &g->slots[i];
        if (!s->is_used) {
            memcpy(s->key, key, ADDRESS_BYTES);
            s->is_used = true;
            s->served = s->refusing = 0;
            return s;
        }
        if (memcmp(s->key, key, ADDRESS_BYTES) == 0)
            return s;
    }
    return NULL;
}

/* Frees slot s when nothing counts in it, shifting later entries of its
 * probe run back so lookups never stop at a hole. */
static void slot_release_if_empty(struct connection_guard *g, struct address_slot *s)
{
    if (s->served > 0 || s->refusing > 0)
        return;
    size_t hole = (size_t)(s - g->slots);
    for (size_t j = (hole + 1) & g->slot_mask; g->slots[j].is_used; j = (j + 1) & g->slot_mask) {
        size_t home = key_hash(g->slots[j].key) & g->slot_mask;
        /* Entry j may move into the hole only if its home is not in (hole, j]. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            g->slots[hole] = g->slots[j];
            hole = j;
        }
    }
    g->slots[hole].is_used = false;
}

/* ---- Connection start and close (libmicrohttpd's daemon thread) ---- */

static void count_shed(struct connection_guard *g, enum shed_reason reason)
{
    atomic_fetch_add(&g->shed[reason], 1);
}

/* Decides, under the lock, what the new connection gets: served, refused
 * (503 when its request arrives) or cut right away. */
static void admit(struct connection_guard *g, struct guard_conn *conn, const struct sockaddr *addr)
{
    struct address_slot *slot = NULL;
    if (g->per_address_limit > 0 && !is_trusted(g, addr) && address_key(addr, true, conn->key))
        slot = slot_get(g, conn->key);
    if (slot != NULL && slot->served >= g->per_address_limit) {
        if (slot->refusing < CONNECTION_GUARD_REFUSALS_PER_ADDRESS) {
            conn->refusal = REFUSAL_PER_ADDRESS;
            conn->is_refusal_at_address = true;
            slot->refusing++;
            count_shed(g, SHED_REFUSED_PER_ADDRESS);
        } else {
            atomic_store(&conn->phase, PHASE_CUT);
            count_shed(g, SHED_CUT_AT_ACCEPT);
            slot_release_if_empty(g, slot);
        }
        return;
    }
    /* libmicrohttpd's limit (max_connections + reserve) keeps room for this
     * refusal, so it never needs to be a reset. */
    if (g->served >= g->max_connections) {
        conn->refusal = REFUSAL_CAPACITY;
        count_shed(g, SHED_REFUSED_CAPACITY);
        if (slot != NULL)
            slot_release_if_empty(g, slot);
        return;
    }
    g->served++;
    conn->is_served = true;
    if (slot != NULL) {
        slot->served++;
        conn->is_counted_at_address = true;
    }
}

static void on_started(struct connection_guard *g, struct MHD_Connection *connection, void **socket_context)
{
    const union MHD_ConnectionInfo *fd_info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *addr_info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (fd_info == NULL)
        return;
    struct guard_conn *conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        /* Without an entry nothing would bound this connection: refuse it. */
        shutdown(fd_info->connect_fd, SHUT_RDWR);
        return;
    }
    conn->fd = fd_info->connect_fd;
    conn->accepted_ms = now_ms();
    atomic_init(&conn->phase, PHASE_IDLE);
    atomic_init(&conn->request_started_ms, 0);
    atomic_init(&conn->bytes_mark, 0);

    pthread_mutex_lock(&g->lock);
    admit(g, conn, addr_info ? addr_info->client_addr : NULL);
    conn->next = g->head;
    if (g->head != NULL)
        g->head->prev = conn;
    g->head = conn;
    pthread_mutex_unlock(&g->lock);

    /* Its thread still starts and sees the end of the stream at once; the
     * gate keeps any request it had already sent from being handled. */
    if (atomic_load(&conn->phase) == PHASE_CUT)
        shutdown(conn->fd, SHUT_RDWR);
    *socket_context = conn;
}

static void on_closed(struct connection_guard *g, void **socket_context)
{
    struct guard_conn *conn = *socket_context;
    if (conn == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        g->head = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    if (conn->is_served)
        g->served--;
    if (conn->is_counted_at_address || conn->is_refusal_at_address) {
        struct address_slot *slot = slot_get(g, conn->key);
        if (slot != NULL) {
            slot->served -= conn->is_counted_at_address;
            slot->refusing -= conn->is_refusal_at_address;
            slot_release_if_empty(g, slot);
        }
    }
    pthread_mutex_unlock(&g->lock);
    *socket_context = NULL;
    free(conn);
}

void connection_guard_notify_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                                        enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        on_started(cls, connection, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        on_closed(cls, socket_context);
}

/* ---- Requests (the connection's own thread) ---- */

static struct guard_conn *conn_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

void *connection_guard_uri_log(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    struct guard_conn *conn = conn_of(connection);
    current_conn = conn;
    if (conn != NULL) {
        /* Usually the sweep saw the first byte already; a fast request's
         * line can come first. */
        long long none = 0;
        atomic_compare_exchange_strong(&conn->request_started_ms, &none, now_ms());
        int idle = PHASE_IDLE;
        atomic_compare_exchange_strong(&conn->phase, &idle, PHASE_RECEIVING);
    }
    return ulfius_uri_logger(NULL, uri);
}

void connection_guard_request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                                        enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    mhd_request_completed(NULL, connection, con_cls, toe);
    struct guard_conn *conn = conn_of(connection);
    if (conn == NULL)
        return;
    /* Everything received so far belonged to this request (or starts the
     * next one, whose request line then starts its deadline). Mark first,
     * so a sweep that sees "no request" also sees the new mark. */
    atomic_store(&conn->bytes_mark, tcp_bytes_received(conn->fd));
    atomic_store(&conn->request_started_ms, 0);
    int phase = atomic_load(&conn->phase);
    while (phase != PHASE_CUT && !atomic_compare_exchange_weak(&conn->phase, &phase, PHASE_IDLE))
        ;
    if (current_conn == conn)
        current_conn = NULL;
}

bool connection_guard_admit_request(struct _u_response *response)
{
    struct guard_conn *conn = current_conn;
    if (conn == NULL)
        return true;
    /* Claim the request before the sweep can cut it: a request a handler
     * has started is never cut, and one that was cut never reaches one. */
    int phase = atomic_load(&conn->phase);
    while (phase != PHASE_CUT && !atomic_compare_exchange_weak(&conn->phase, &phase, PHASE_HANDLING))
        ;
    enum problem_kind kind;
    if (conn->refusal == REFUSAL_PER_ADDRESS)
        kind = PROBLEM_TOO_MANY_CONNECTIONS;
    else if (conn->refusal == REFUSAL_CAPACITY)
        kind = PROBLEM_SERVER_AT_CAPACITY;
    else if (phase == PHASE_CUT)
        kind = PROBLEM_REQUEST_TIMEOUT;
    else
        return true;
    problem_respond(response, kind, NULL, NULL);
    u_map_put(response->map_header, "Connection", "close");
    return false;
}

/* ---- The sweep ---- */

static bool cut(struct guard_conn *conn, int from_phase)
{
    if (!atomic_compare_exchange_strong(&conn->phase, &from_phase, PHASE_CUT))
        return false; /* a handler took the request meanwhile */
    /* Wakes the connection's thread with end-of-stream; libmicrohttpd then
     * closes the connection as it would for a client that hung up. */
    shutdown(conn->fd, SHUT_RDWR);
    return true;
}

static void sweep_one(struct connection_guard *g, struct guard_conn *conn, long long now)
{
    int phase = atomic_load(&conn->phase);
    if (phase == PHASE_CUT || phase == PHASE_HANDLING)
        return;
    if (conn->refusal != REFUSAL_NONE) {
        if (now - conn->accepted_ms >= CONNECTION_GUARD_REFUSAL_WINDOW_MS && cut(conn, phase))
            count_shed(g, SHED_CUT_REFUSED);
        return;
    }
    long long started = atomic_load(&conn->request_started_ms);
    if (started == 0) {
        /* Idle until now: a byte beyond the last request starts the next. */
        unsigned long long mark = atomic_load(&conn->bytes_mark);
        if (tcp_bytes_received(conn->fd) > mark) {
            long long none = 0;
            atomic_compare_exchange_strong(&conn->request_started_ms, &none, now);
        }
        return;
    }
    if (now - started < g->deadline_ms)
        return;
    /* Only the sweep saw this request start: make sure it is not the tail
     * of one that completed since. */
    if (phase == PHASE_IDLE && tcp_bytes_received(conn->fd) <= atomic_load(&conn->bytes_mark)) {
        atomic_compare_exchange_strong(&conn->request_started_ms, &started, 0);
        return;
    }
    if (cut(conn, phase))
        count_shed(g, SHED_CUT_DEADLINE);
}

static void log_shed(struct connection_guard *g)
{
    unsigned long *last = g->logged;
    char values[SHED_COUNT][24];
    bool has_news = false;
    for (int i = 0; i < SHED_COUNT; i++) {
        unsigned long now = atomic_load(&g->shed[i]);
        snprintf(values[i], sizeof values[i], "%lu", now - last[i]);
        has_news |= now != last[i];
        last[i] = now;
    }
    if (!has_news)
        return;
    char served[24];
    pthread_mutex_lock(&g->lock);
    snprintf(served, sizeof served, "%ld", g->served);
    pthread_mutex_unlock(&g->lock);
    /* Counts since the last line, not addresses: who was shed is not logged. */
    log_event(LOG_LEVEL_WARN, "connections_shed", "served_now", served, SHED_NAMES[0],
              values[0], SHED_NAMES[1], values[1], SHED_NAMES[2], values[2], SHED_NAMES[3], values[3],
              SHED_NAMES[4], values[4], LOG_END);
}

static void *sweep_run(void *arg)
{
    struct connection_guard *g = arg;
    long long next_log = now_ms() + SHED_LOG_INTERVAL_MS;
    pthread_mutex_lock(&g->stop_lock);
    while (!g->is_stopping) {
        struct timespec wake;
        clock_gettime(CLOCK_MONOTONIC, &wake);
        wake.tv_nsec += CONNECTION_GUARD_SWEEP_MS * 1000000L;
        wake.tv_sec += wake.tv_nsec / 1000000000L;
        wake.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&g->stop_cond, &g->stop_lock, &wake);
        if (g->is_stopping)
            break;
        pthread_mutex_unlock(&g->stop_lock);

        long long now = now_ms();
        pthread_mutex_lock(&g->lock);
        for (struct guard_conn *conn = g->head; conn != NULL; conn = conn->next)
            sweep_one(g, conn, now);
        pthread_mutex_unlock(&g->lock);
        if (now >= next_log) {
            log_shed(g);
            next_log = now + SHED_LOG_INTERVAL_MS;
        }
        pthread_mutex_lock(&g->stop_lock);
    }
    pthread_mutex_unlock(&g->stop_lock);
    return NULL;
}

/* ---- Lifecycle ---- */

long connection_guard_daemon_limit(const struct connection_guard *guard)
{
    return guard->max_connections + guard->reserve;
}

long connection_guard_daemon_per_ip_limit(const struct connection_guard *guard)
{
    if (guard->per_address_limit == 0 || guard->n_trusted > 0)
        return 0;
    return guard->per_address_limit + CONNECTION_GUARD_REFUSALS_PER_ADDRESS;
}

struct connection_guard *connection_guard_create(const struct connection_guard_settings *settings, char *err,
                                                 size_t err_size)
{
    struct connection_guard *g = calloc(1, sizeof *g);
    pthread_condattr_t cond_attr;
    bool has_lock = false, has_stop = false;
    if (g == NULL)
        goto out_of_memory;
    g->max_connections = settings->max_connections > 0 ? settings->max_connections : 1;
    g->reserve = connection_guard_reserve(g->max_connections);
    g->per_address_limit = settings->per_address_limit;
    g->deadline_ms = settings->request_timeout_s * 1000LL;
    if (!parse_trusted(g, settings->trusted_proxies ? settings->trusted_proxies : ""))
        goto out_of_memory;
    size_t slots = 64;
    while (slots < 2 * (size_t)connection_guard_daemon_limit(g))
        slots *= 2;
    g->slots = calloc(slots, sizeof *g->slots);
    if (g->slots == NULL)
        goto out_of_memory;
    g->slot_mask = slots - 1;

    pthread_mutex_init(&g->lock, NULL);
    has_lock = true;
    pthread_mutex_init(&g->stop_lock, NULL);
    pthread_condattr_init(&cond_attr);
    pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&g->stop_cond, &cond_attr);
    pthread_condattr_destroy(&cond_attr);
    has_stop = true;
    int rc = pthread_create(&g->sweeper, NULL, sweep_run, g);
    if (rc != 0) {
        snprintf(err, err_size, "cannot start the connection sweep thread: %s", strerror(rc));
        goto failed;
    }
    return g;

out_of_memory:
    snprintf(err, err_size, "out of memory");
failed:
    if (g != NULL) {
        if (has_stop) {
            pthread_cond_destroy(&g->stop_cond);
            pthread_mutex_destroy(&g->stop_lock);
        }
        if (has_lock)
            pthread_mutex_destroy(&g->lock);
        free(g->slots);
        free(g->trusted);
        free(g);
    }
    return NULL;
}

void connection_guard_free(struct connection_guard *guard)
{
    if (guard == NULL)
        return;
    pthread_mutex_lock(&guard->stop_lock);
    guard->is_stopping = true;
    pthread_cond_signal(&guard->stop_cond);
    pthread_mutex_unlock(&guard->stop_lock);
    pthread_join(guard->sweeper, NULL);
    log_shed(guard); /* what was shed since the sweep's last line */
    pthread_cond_destroy(&guard->stop_cond);
    pthread_mutex_destroy(&guard->stop_lock);
    pthread_mutex_destroy(&guard->lock);
    free(guard->slots);
    free(guard->trusted);
    free(guard);
}
