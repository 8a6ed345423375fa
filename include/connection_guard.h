/* connection_guard: what libmicrohttpd does not do for us against slow and
 * greedy clients. A request must arrive (head and body) within
 * REQUEST_TIMEOUT of its first byte; a client address may hold
 * PER_IP_CONNECTION_LIMIT connections (TRUSTED_PROXIES exempt); past either
 * limit or MAX_CONNECTIONS a connection is answered 503 problem+json with
 * Retry-After instead of being reset, where that is possible.
 *
 * It works through three libmicrohttpd hooks (connection start/close, the
 * URI log callback at each request line, request completion), a gate that
 * every handler passes (request_observe), and a sweep thread that shuts down
 * the sockets of connections past their deadline. */
#ifndef SIGNUP_CONNECTION_GUARD_H
#define SIGNUP_CONNECTION_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <ulfius.h>

/* A refused connection may send its request for this long to get its 503;
 * then it is cut, so refusals cannot pile up. */
#define CONNECTION_GUARD_REFUSAL_WINDOW_MS 2000
/* Connections over its limit one address may have answered with 503 at a
 * time; beyond that its new connections are closed at once (no thread
 * waits for their request). */
#define CONNECTION_GUARD_REFUSALS_PER_ADDRESS 8
/* How often deadlines are checked: a request is cut between REQUEST_TIMEOUT
 * and REQUEST_TIMEOUT + this after its first byte. */
#define CONNECTION_GUARD_SWEEP_MS 250

struct connection_guard_settings {
    long max_connections;    /* connections served at once (MAX_CONNECTIONS, resolved; >= 1) */
    long per_address_limit;  /* per client address (IPv6: per /64); 0 = none */
    long request_timeout_s;  /* REQUEST_TIMEOUT */
    const char *trusted_proxies; /* comma list of IP addresses, exempt from the per-address limit; read once */
};

struct connection_guard;

/* Connections held beyond max_connections only to answer them 503
 * (libmicrohttpd's own limit is max_connections + this): 1/16 of it, at
 * least 32. */
long connection_guard_reserve(long max_connections);

/* A max_connections that fits in total with its reserve (total less 1/16). */
long connection_guard_max_connections_within(long total);

/* Starts the sweep thread. Returns NULL with a reason in err on failure.
 * The caller owns the result: connection_guard_free() it after the daemon
 * has stopped. */
struct connection_guard *connection_guard_create(const struct connection_guard_settings *settings, char *err,
                                                 size_t err_size) __attribute__((warn_unused_result));

/* What to pass as MHD_OPTION_CONNECTION_LIMIT: max_connections + reserve. */
long connection_guard_daemon_limit(const struct connection_guard *guard);

/* What to pass as MHD_OPTION_PER_IP_CONNECTION_LIMIT: per_address_limit +
 * CONNECTION_GUARD_REFUSALS_PER_ADDRESS, so that libmicrohttpd closes an
 * address's connections beyond those before it makes a thread for them
 * (the guard would close them right after). 0 (none) when there is no
 * per-address limit or there are trusted proxies, which libmicrohttpd
 * cannot exempt. */
long connection_guard_daemon_per_ip_limit(const struct connection_guard *guard);

/* Stops the sweep thread and frees guard. NULL-safe. Call only once no
 * connection is left (after MHD_stop_daemon). */
void connection_guard_free(struct connection_guard *guard);

/* libmicrohttpd hooks; cls is the guard. The URI log and completion hooks
 * call Ulfius's own (ulfius_uri_logger, mhd_request_completed), which
 * ulfius_start_framework_with_mhd_options requires in those slots. */
void connection_guard_notify_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                                        enum MHD_ConnectionNotificationCode code);
void *connection_guard_uri_log(void *cls, const char *uri, struct MHD_Connection *connection);
void connection_guard_request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                                        enum MHD_RequestTerminationCode toe);

/* In a handler's thread, before the handler: true when the request may be
 * handled. False when its connection was refused or cut; response then
 * holds the answer (503 too_many_connections / server_at_capacity with
 * Retry-After and Connection: close, or a 408 nobody will read). */
bool connection_guard_admit_request(struct _u_response *response);

#endif
