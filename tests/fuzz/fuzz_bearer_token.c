/* libFuzzer harness: bearer_token_parse() on arbitrary header values against
 * a model written from RFC 6750's grammar ("Bearer" 1*SP token68, here with
 * trailing spaces allowed and the scheme case-insensitive). The token it
 * returns must lie inside the header and be exactly the model's token. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bearer_token.h"

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "invariant violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                            \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static bool model_is_token_char(char c)
{
    return strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/", c) != NULL && c != '\0';
}

static bool model_parse(const char *h, size_t *start, size_t *len)
{
    size_t i = 0, n = strlen(h);
    static const char SCHEME[] = "bearer";
    for (; i < 6; i++) {
        char c = h[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != SCHEME[i])
            return false;
    }
    if (h[i] != ' ')
        return false;
    while (h[i] == ' ')
        i++;
    *start = i;
    while (i < n && model_is_token_char(h[i]))
        i++;
    while (h[i] == '=')
        i++;
    *len = i - *start;
    while (h[i] == ' ')
        i++;
    return *len > 0 && *len <= 512 && h[i] == '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *header = malloc(size + 1);
    if (header == NULL)
        return 0;
    memcpy(header, data, size);
    header[size] = '\0'; /* a NUL inside ends the value, as in a header map */

    const char *token = NULL;
    size_t len = 0, model_start = 0, model_len = 0;
    bool is_accepted = bearer_token_parse(header, &token, &len);
    bool is_expected = model_parse(header, &model_start, &model_len);
    CHECK(is_accepted == is_expected);
    if (is_accepted) {
        CHECK(token == header + model_start);
        CHECK(len == model_len);
    } else {
        CHECK(token == NULL && len == 0);
    }
    free(header);
    return 0;
}
