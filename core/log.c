/* Structured logging: each call builds one JSON object and writes it with a
 * single fwrite, so lines from concurrent threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const LEVEL_NAMES[] = {"debug", "info", "warn", "error"};

static void format_timestamp(char *buf, size_t size)
{
    struct timespec now;
    struct tm utc;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &utc);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(buf + n, size - n, ".%03ldZ", now.tv_nsec / 1000000L);
}

void log_event_json(enum log_level level, const char *event, json_t *fields)
{
    char ts[40];
    json_t *line = json_object();
    char *text = NULL;

    if (line == NULL)
        goto cleanup;
    format_timestamp(ts, sizeof ts);
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(LEVEL_NAMES[level]));
    json_object_set_new(line, "event", json_string(event));
    if (fields != NULL)
        json_object_update(line, fields);
    text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text != NULL) {
        size_t len = strlen(text);
        text[len] = '\n'; /* replaces the NUL: one write for the whole line */
        fwrite(text, 1, len + 1, stderr);
        fflush(stderr);
    }

cleanup:
    free(text);
    json_decref(line);
    json_decref(fields);
}

/* Appends s to out[*used..size) as the inside of a JSON string. Bytes that
 * are not printable ASCII become \u00XX: the callers' values are ASCII when
 * well-formed (ids, methods, route names), and escaping anything else keeps
 * the line valid JSON without UTF-8 checks. Stops early when out is full. */
static void append_json_text(char *out, size_t size, size_t *used, const char *s)
{
    static const char HEX[] = "0123456789abcdef";
    for (; *s != '\0' && *used + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[(*used)++] = '\\';
            out[(*used)++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            *used += (size_t)snprintf(out + *used, size - *used, "\\u00%c%c", HEX[c >> 4], HEX[c & 15]);
        } else {
            out[(*used)++] = (char)c;
        }
    }
    out[*used] = '\0';
}

void log_http_request(const char *request_id, const char *method, const char *path, unsigned status,
                      double duration_ms)
{
    char line[1024], ts[40];
    size_t used = 0;
    format_timestamp(ts, sizeof ts);
    used += (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"info\",\"event\":\"http_request\",\"request_id\":\"",
                             ts);
    append_json_text(line, sizeof line - 160, &used, request_id);
    used += (size_t)snprintf(line + used, sizeof line - used, "\",\"method\":\"");
    append_json_text(line, sizeof line - 120, &used, method);
    used += (size_t)snprintf(line + used, sizeof line - used, "\",\"path\":\"");
    append_json_text(line, sizeof line - 80, &used, path);
    used += (size_t)snprintf(line + used, sizeof line - used, "\",\"status\":%u,\"duration_ms\":%.3f}\n", status,
                             duration_ms);
    fwrite(line, 1, used < sizeof line ? used : sizeof line - 1, stderr);
    fflush(stderr);
}

void log_event(enum log_level level, const char *event, ...)
{
    json_t *fields = json_object();
    va_list ap;
    const char *key;

    va_start(ap, event);
    while (fields != NULL && (key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        /* json_string rejects invalid UTF-8; keep the line rather than lose it. */
        json_t *j_value = value ? json_string(value) : json_null();
        json_object_set_new(fields, key, j_value ? j_value : json_string("(not UTF-8)"));
    }
    va_end(ap);
    log_event_json(level, event, fields);
}
