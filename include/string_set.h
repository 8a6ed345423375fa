/* string_set: an immutable-after-load hash set of short strings (domain names,
 * common passwords). Lookups are lock-free once loading is done. */
#ifndef SIGNUP_STRING_SET_H
#define SIGNUP_STRING_SET_H

#include <stdbool.h>
#include <stddef.h>

struct string_set;

/* Returns a new empty set, or NULL on out-of-memory. Caller frees with string_set_free(). */
struct string_set *string_set_create(void) __attribute__((warn_unused_result));

/* Adds a copy of s[0..len) lower-cased (ASCII). Adding an existing entry is a no-op.
 * Returns false only on out-of-memory. */
bool string_set_add(struct string_set *set, const char *s, size_t len) __attribute__((warn_unused_result));

/* Adds each entry of a comma-separated list (empty entries skipped).
 * Returns false only on out-of-memory. */
bool string_set_add_list(struct string_set *set, const char *comma_list) __attribute__((warn_unused_result));

/* True when s[0..len), compared ASCII case-insensitively, is in the set. */
bool string_set_contains(const struct string_set *set, const char *s, size_t len);

size_t string_set_size(const struct string_set *set);

/* Reads one entry per line (trimmed; blank lines and lines starting with '#' skipped).
 * Returns a new set, or NULL with a message naming the file in err. Caller frees. */
struct string_set *string_set_load_file(const char *path, char *err, size_t err_size)
    __attribute__((warn_unused_result));

/* NULL-safe. */
void string_set_free(struct string_set *set);

#endif
