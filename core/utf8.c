/* Strict UTF-8 decoding (RFC 3629): rejects overlong forms, surrogates and
 * anything above U+10FFFF, so validators can trust what they count. */
#include "utf8.h"

bool utf8_decode_next(const char *s, size_t len, size_t *pos, uint32_t *codepoint)
{
    const unsigned char *p = (const unsigned char *)s + *pos;
    size_t left = len - *pos;
    uint32_t cp;
    size_t need;
    uint32_t min;

    if (left == 0)
        return false;
    if (p[0] < 0x80) {
        *codepoint = p[0];
        *pos += 1;
        return true;
    }
    if ((p[0] & 0xE0) == 0xC0) {
        cp = p[0] & 0x1F;
        need = 1;
        min = 0x80;
    } else if ((p[0] & 0xF0) == 0xE0) {
        cp = p[0] & 0x0F;
        need = 2;
        min = 0x800;
    } else if ((p[0] & 0xF8) == 0xF0) {
        cp = p[0] & 0x07;
        need = 3;
        min = 0x10000;
    } else {
        return false;
    }
    if (left < need + 1)
        return false;
    for (size_t i = 1; i <= need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return false;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
    *codepoint = cp;
    *pos += need + 1;
    return true;
}

long utf8_count_codepoints(const char *s, size_t len)
{
    size_t pos = 0;
    long count = 0;
    uint32_t cp;

    while (pos < len) {
        if (!utf8_decode_next(s, len, &pos, &cp))
            return -1;
        count++;
    }
    return count;
}
