/* A slow-client flood with legitimate traffic beside it, measured from the
 * client side: thousands of connections from many loopback addresses
 * (127.0.1.x) each send part of a request and then one byte now and then,
 * one greedy address opens many more, and a few client threads (new
 * connection each, alternating GET /healthz and a valid POST /signup)
 * time every answer. Used by check_api_flood (small) and bench/flood.sh
 * (full size). Nothing here calls ck_assert. */
#ifndef SIGNUP_TEST_FLOOD_SUPPORT_H
#define SIGNUP_TEST_FLOOD_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

struct flood_plan {
    int port;                /* the server, on 127.0.0.1 */
    int slow_addresses;      /* slow clients from 127.0.1.1 ... 127.0.1.N (N <= 200) */
    int slow_per_address;    /* connections each */
    int greedy_connections;  /* from 127.0.3.1 */
    int drip_interval_ms;    /* one more byte of the request every this often */
    int head_pad_bytes;      /* the partial request's last header starts with this many bytes (max 32000) */
    int ramp_ms;             /* the slow connections are opened evenly over this */
    int hold_ms;             /* then the flood is held this long */
    int reconnect_delay_ms;  /* a connection the server closed is opened again after this; < 0: never */
    int legit_threads;       /* legitimate clients, each from 127.0.2.x addresses in turn */
    int legit_pause_ms;      /* between one client's requests */
    int legit_timeout_ms;    /* a request not answered by then failed */
    const char *email_domain; /* sign-ups are <tag>-<pid>-<n>@email_domain */
    const char *email_tag;
    const char *latency_log; /* when not NULL: one "ms_since_start,kind,status,latency_ms" line per request */
};

/* What one kind of slow client saw. */
struct flood_slow_stats {
    long opened;          /* connects attempted */
    long connect_failed;  /* refused or timed out at connect */
    long closed_silent;   /* closed by the server without an answer (cut) */
    long answered;        /* got an HTTP answer (status counts below) */
    long answered_503, answered_408, answered_other;
    long held_min, held_max; /* connected and dripping, sampled each second during the hold */
    double held_mean;
};

struct flood_result {
    struct flood_slow_stats slow, greedy;
    long legit_requests, legit_ok, legit_failed;
    long legit_healthz, legit_signups;
    double latency_p50_ms, latency_p90_ms, latency_p99_ms, latency_max_ms;
    double healthz_p99_ms, signup_p99_ms;
    /* The same for the requests started during the hold (after the ramp). */
    long hold_requests, hold_ok;
    double hold_p99_ms;
    char first_failure[160]; /* "" when none */
    long long ramp_done_ms, duration_ms;
};

/* Raises RLIMIT_NOFILE to its hard limit; returns the soft limit in effect. */
long flood_raise_open_files(void);

/* Runs plan to the end (ramp + hold) and fills result. False (with err) only
 * when the flood could not be set up at all; what the server did is in
 * result either way. sample, when not NULL, is called once a second from
 * the flood's own thread with the elapsed milliseconds (for server-side
 * figures such as its RSS). */
bool flood_run(const struct flood_plan *plan, struct flood_result *result, void (*sample)(void *arg, long long ms),
               void *sample_arg, char *err, size_t err_size);

/* Writes the result as one JSON object (for bench/flood.sh) to buf. */
void flood_result_json(const struct flood_result *result, char *buf, size_t size);

#endif
