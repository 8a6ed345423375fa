/* utf8: strict UTF-8 decoding shared by the validators. */
#ifndef SIGNUP_UTF8_H
#define SIGNUP_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point starting at s[*pos] (s has len bytes), advances *pos
 * past it and returns true; returns false on any ill-formed sequence
 * (overlong forms, surrogates, values above U+10FFFF, truncation). */
bool utf8_decode_next(const char *s, size_t len, size_t *pos, uint32_t *codepoint);

/* Number of code points in s[0..len), or -1 when s is not well-formed UTF-8. */
long utf8_count_codepoints(const char *s, size_t len);

#endif
