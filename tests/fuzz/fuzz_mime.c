/* libFuzzer harness: mime_build() with fuzzed display name, address, link,
 * Message-ID, From and sign-in URL. It may refuse (NULL); whatever it
 * returns must be a 7-bit message with only CRLF line ends, no line over 998
 * octets, exactly the headers we write (so a name can never start a header
 * line of its own), and a MIME structure the name cannot break.
 *
 * Input: one flag byte (template, name absent, link TTL, sign-in URL absent,
 * boundary seed), then fields separated by NUL bytes: name, address, link,
 * Message-ID, From, sign-in URL. Missing fields get valid defaults so short
 * inputs reach the builder. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "invariant violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                            \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#define FIELD_COUNT 6
#define DATE_2026_11_28 ((time_t)1795858933)

static const char *const HEADERS[] = {"Date",       "From",         "To",           "Subject",
                                      "Message-ID", "MIME-Version", "Content-Type", "Auto-Submitted"};
#define HEADER_COUNT (sizeof HEADERS / sizeof HEADERS[0])

static void check_lines(const char *msg)
{
    size_t line_len = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p != '\0'; p++) {
        if (*p == '\r') {
            CHECK(p[1] == '\n');
            CHECK(line_len <= 998);
            line_len = 0;
            p++;
            continue;
        }
        CHECK(*p != '\n');                               /* no bare LF */
        CHECK(*p == '\t' || (*p >= 0x20 && *p <= 0x7E)); /* 7-bit, no controls */
        line_len++;
    }
    CHECK(line_len == 0); /* ends with CRLF */
}

/* Every header line is one of ours, each exactly once; continuation lines
 * start with white space. Returns the boundary from Content-Type. */
static void check_headers(const char *msg, char *boundary, size_t boundary_size)
{
    const char *end = strstr(msg, "\r\n\r\n");
    int seen[HEADER_COUNT] = {0};
    CHECK(end != NULL);
    boundary[0] = '\0';
    for (const char *line = msg; line <= end; line = strstr(line, "\r\n") + 2) {
        size_t len = (size_t)(strstr(line, "\r\n") - line);
        if (line[0] == ' ' || line[0] == '\t')
            continue;
        const char *colon = memchr(line, ':', len);
        CHECK(colon != NULL);
        size_t name_len = (size_t)(colon - line);
        size_t h = 0;
        while (h < HEADER_COUNT && !(strlen(HEADERS[h]) == name_len && strncasecmp(line, HEADERS[h], name_len) == 0))
            h++;
        if (h == HEADER_COUNT) {
            fprintf(stderr, "injected header line: %.*s\n", (int)len, line);
            abort();
        }
        CHECK(++seen[h] == 1);
    }
    for (size_t h = 0; h < HEADER_COUNT; h++)
        CHECK(seen[h] == 1);
    /* Our Content-Type line, not a "boundary=" a name may carry elsewhere. */
    static const char CONTENT_TYPE[] = "\r\nContent-Type: multipart/alternative;\r\n boundary=\"";
    const char *b = strstr(msg, CONTENT_TYPE);
    CHECK(b != NULL && b < end);
    b += strlen(CONTENT_TYPE);
    size_t n = strcspn(b, "\"");
    CHECK(n > 0 && n < boundary_size);
    memcpy(boundary, b, n);
    boundary[n] = '\0';
}

/* Exactly two part delimiters and one close delimiter, in that order. */
static void check_parts(const char *msg, const char *boundary)
{
    char delimiter[128], close[128];
    int parts = 0, closes = 0;
    snprintf(delimiter, sizeof delimiter, "\r\n--%s\r\n", boundary);
    snprintf(close, sizeof close, "\r\n--%s--\r\n", boundary);
    for (const char *p = strstr(msg, delimiter); p != NULL; p = strstr(p + 1, delimiter))
        parts++;
    for (const char *p = strstr(msg, close); p != NULL; p = strstr(p + 1, close))
        closes++;
    CHECK(parts == 2 && closes == 1);
    CHECK(strcmp(msg + strlen(msg) - strlen(close), close) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long TTLS[] = {86400, 1, 59, 60, 3599, 3600, 2592000, 0};
    const char *defaults[FIELD_COUNT] = {"Budi Santoso",
                                         "budi@lintasarta.co.id",
                                         "https://portal.example.com/verify?token=abc",
                                         "42.abcdef@example.com",
                                         "Services Portal <no-reply@example.com>",
                                         "https://portal.example.com/"};
    const char *fields[FIELD_COUNT];
    char *copy;
    uint8_t flags;

    if (size == 0)
        return 0;
    flags = data[0];
    /* A NUL-terminated copy of the rest: NUL separates the fields. */
    copy = malloc(size);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    size_t at = 0;
    for (size_t f = 0; f < FIELD_COUNT; f++) {
        if (at < size - 1) {
            fields[f] = copy + at;
            at += strlen(copy + at) + 1;
        } else {
            fields[f] = defaults[f];
        }
    }

    struct mime_message msg = {
        .template_kind = (flags & 1) ? MIME_TEMPLATE_ALREADY_REGISTERED : MIME_TEMPLATE_VERIFICATION,
        .from = fields[4],
        .to_address = fields[1],
        .to_name = (flags & 2) ? NULL : fields[0],
        .message_id = fields[3],
        .verify_link = fields[2],
        .link_ttl_s = TTLS[(flags >> 2) & 7],
        .sign_in_url = (flags & 32) ? NULL : fields[5],
        .date = DATE_2026_11_28,
        .boundary_seed = (flags & 64)    ? fields[5]
                         : (flags & 128) ? NULL
                                         : fields[3],
    };
    char *message = mime_build(&msg);
    if (message != NULL) {
        char boundary[128];
        check_lines(message);
        check_headers(message, boundary, sizeof boundary);
        check_parts(message, boundary);
    }
    free(message);
    free(copy);
    return 0;
}
