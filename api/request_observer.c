/* Request id, access log and request metrics, in one wrapper so no handler
 * can forget them. */
#include "request_observer.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

static void new_request_id(char id[REQUEST_ID_MAX + 1])
{
    static const char HEX[] = "0123456789abcdef";
    unsigned char raw[16] = {0};
    if (getrandom(raw, sizeof raw, GRND_NONBLOCK) != (ssize_t)sizeof raw) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        memcpy(raw, &now, sizeof now < sizeof raw ? sizeof now : sizeof raw);
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        id[2 * i] = HEX[raw[i] >> 4];
        id[2 * i + 1] = HEX[raw[i] & 15];
    }
    id[2 * sizeof raw] = '\0';
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

    atomic_fetch_add(&in_flight, 1);
    int rc = handler(request, response, user_data);
    atomic_fetch_sub(&in_flight, 1);

    double duration = seconds_since(&start);
    metrics_record_request(route, (unsigned)response->status, duration);
    json_t *fields = json_pack("{s:s, s:s, s:s, s:i, s:f}", "request_id", id, "method", request->http_verb, "path",
                               route == METRICS_ROUTE_OTHER ? "(unmatched)" : metrics_route_name(route), "status",
                               (int)response->status, "duration_ms", (double)(long long)(duration * 1e6) / 1000.0);
    log_event_json(LOG_LEVEL_INFO, "http_request", fields);
    return rc;
}
