/* log: one JSON object per line on stderr, so logs can be parsed and
 * searched. Never pass a password, token or SMTP credential as a value. */
#ifndef SIGNUP_LOG_H
#define SIGNUP_LOG_H

#include <jansson.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Ends log_event's argument list: a typed null pointer, because a bare NULL
 * passed through "..." may be a plain int 0 on some platforms. */
#define LOG_END ((const char *)NULL)

/* Writes {"ts","level","event", key: value...}. The variadic part is pairs of
 * const char * key and const char * value, ended by LOG_END; a null value
 * is written as null. */
void log_event(enum log_level level, const char *event, ...);

/* Like log_event, with the extra members taken from fields (any JSON types).
 * Steals the reference to fields (NULL allowed). */
void log_event_json(enum log_level level, const char *event, json_t *fields);

/* The access log line of one request (event "http_request"), written without
 * building a JSON tree: it is on every request's path. */
void log_http_request(const char *request_id, const char *method, const char *path, unsigned status,
                      double duration_ms);

#endif
