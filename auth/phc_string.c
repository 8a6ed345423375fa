/* PHC string parser for argon2id. Strict: one spelling per value (no leading
 * zeros, no padding, no trailing garbage), so a stored string that parses is
 * exactly what this service or libsodium/libargon2 wrote. */
#include "phc_string.h"

#include <string.h>

#define ARGON2_VERSION_19 19u
#define MIN_SALT 8
#define MIN_HASH 16

/* Reads "<name>=<decimal>" at *p; advances past it. */
static bool read_param(const char **p, const char *name, uint32_t *value)
{
    size_t name_len = strlen(name);
    const char *s = *p;
    uint64_t v = 0;
    size_t digits = 0;

    if (strncmp(s, name, name_len) != 0 || s[name_len] != '=')
        return false;
    s += name_len + 1;
    while (s[digits] >= '0' && s[digits] <= '9') {
        v = v * 10 + (uint64_t)(s[digits] - '0');
        if (v > UINT32_MAX)
            return false;
        digits++;
    }
    if (digits == 0 || (digits > 1 && s[0] == '0'))
        return false;
    *value = (uint32_t)v;
    *p = s + digits;
    return true;
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes unpadded standard base64 text[0..len) into out (at most max
 * bytes). Rejects a length of 1 mod 4 and non-zero leftover bits. */
static bool decode_base64(const char *text, size_t len, uint8_t *out, size_t max, size_t *out_len)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;

    if (len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        int v = base64_value(text[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == max)
                return false;
            out[n++] = (uint8_t)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    if (acc != 0)
        return false;
    *out_len = n;
    return true;
}

bool phc_argon2id_parse(const char *text, struct phc_argon2id *out)
{
    static const char PREFIX[] = "$argon2id$";
    const char *p = text;

    memset(out, 0, sizeof *out);
    if (strncmp(p, PREFIX, sizeof PREFIX - 1) != 0)
        return false;
    p += sizeof PREFIX - 1;
    if (!read_param(&p, "v", &out->version) || out->version != ARGON2_VERSION_19 || *p++ != '$')
        return false;
    if (!read_param(&p, "m", &out->memory_kib) || *p++ != ',' || !read_param(&p, "t", &out->iterations) ||
        *p++ != ',' || !read_param(&p, "p", &out->parallelism) || *p++ != '$')
        return false;
    /* argon2's own limits: p in 1..2^24-1, t >= 1, m >= 8 KiB per lane. */
    if (out->parallelism < 1 || out->parallelism > 0xFFFFFFu || out->iterations < 1 ||
        out->memory_kib < 8u * out->parallelism)
        return false;
    const char *salt_end = strchr(p, '$');
    if (salt_end == NULL)
        return false;
    if (!decode_base64(p, (size_t)(salt_end - p), out->salt, sizeof out->salt, &out->salt_len) ||
        out->salt_len < MIN_SALT)
        return false;
    p = salt_end + 1;
    if (!decode_base64(p, strlen(p), out->hash, sizeof out->hash, &out->hash_len) || out->hash_len < MIN_HASH)
        return false;
    return true;
}
