/* Request id, access log and request metrics, in one wrapper so no handler
 * can forget them. */
#include "request_observer.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "connection_guard.h"
#include "log.h"

#define REQUEST_ID_MAX 128

static atomic_long in_flight;

long request_observer_in_flight(void)
{
    return atomic_load(&in_flight);
}

/* Client ids are echoed only when they are short and made of safe characters,
 * so they cannot inject anything into logs or headers. */
static bool is_well_formed_id(const char *id)
{
    size_t len = id ? strlen(id) : 0;
    return len > 0 && len <= REQUEST_ID_MAX &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == len;
}

/* splitmix64: request ids must be unique, not secret, so a per-thread
 * sequence seeded once from getrandom saves a system call per request. */
static uint64_t next_id_bits(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool is_seeded;
    if (!is_seeded) {
        if (getrandom(&state, sizeof state, GRND_NONBLOCK) != (ssize_t)sizeof state) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            state = (uint64_t)now.tv_sec * 1000000007u ^ (uint64_t)now.tv_nsec ^ (uint64_t)(uintptr_t)&state;
        }
        is_seeded = true;
    }
    uint64_t z = (state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void new_request_id(char id[REQUEST_ID_MAX + 1])
{
    snprintf(id, REQUEST_ID_MAX + 1, "%016" PRIx64 "%016" PRIx64, next_id_bits(), next_id_bits());
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int request_observe(enum metrics_route route, const struct _u_request *request, struct _u_response *response,
                    request_handler handler, void *user_data)
{
    struct timespec start;
    char id[REQUEST_ID_MAX + 1];
    clock_gettime(CLOCK_MONOTONIC, &start);

    const char *client_id = u_map_get_case(request->map_header, "X-Request-Id");
    if (is_well_formed_id(client_id))
        snprintf(id, sizeof id, "%s", client_id);
    else
        new_request_id(id);
    u_map_put(response->map_header, "X-Request-Id", id);

    /* A refused or cut connection gets its answer, never its handler. */
    int rc = U_CALLBACK_COMPLETE;
    if (connection_guard_admit_request(response)) {
        atomic_fetch_add(&in_flight, 1);
        rc = handler(request, response, user_data);
        atomic_fetch_sub(&in_flight, 1);
    }

    double duration = seconds_since(&start);
    metrics_record_request(route, (unsigned)response->status, duration);
    log_http_request(id, request->http_verb ? request->http_verb : "",
                     route == METRICS_ROUTE_OTHER ? "(unmatched)" : metrics_route_name(route), (unsigned)response->status,
                     duration * 1e3);
    return rc;
}
