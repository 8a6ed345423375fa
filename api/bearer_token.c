/* Authorization: Bearer parsing. Strict on purpose: whatever is not exactly
 * one token68 after the scheme is "no token", answered with the one 401. */
#include "bearer_token.h"

#include <string.h>
#include <strings.h>

/* The longest token accepted; ours are 43 characters, the rest is slack for
 * nothing but a quicker "no". */
#define BEARER_TOKEN_MAX 512

static bool is_token68_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '+' || c == '/';
}

bool bearer_token_parse(const char *header, const char **token, size_t *len)
{
    static const char SCHEME[] = "Bearer";
    *token = NULL;
    *len = 0;
    if (header == NULL || strncasecmp(header, SCHEME, sizeof SCHEME - 1) != 0)
        return false;
    const char *p = header + sizeof SCHEME - 1;
    if (*p != ' ')
        return false;
    while (*p == ' ')
        p++;
    size_t n = 0;
    while (is_token68_char(p[n]))
        n++;
    /* token68 may end in '=' padding. */
    while (p[n] == '=')
        n++;
    const char *end = p + n;
    while (*end == ' ') /* trailing spaces are harmless */
        end++;
    if (n == 0 || n > BEARER_TOKEN_MAX || *end != '\0')
        return false;
    *token = p;
    *len = n;
    return true;
}
