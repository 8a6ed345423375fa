/* string_set: open-addressing hash set (FNV-1a, linear probing) of ASCII
 * case-folded strings. Built once at start-up, then only read, so concurrent
 * lookups from request threads need no lock. */
#include "string_set.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries keep their length: a NUL byte inside one is just another byte. */
struct entry {
    size_t len;
    char text[]; /* folded to lower case, NUL-terminated for convenience */
};

struct string_set {
    struct entry **slots; /* NULL = empty; each entry owned by the set */
    size_t capacity; /* power of two */
    size_t count;
};

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static uint64_t hash_folded(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= ascii_lower((unsigned char)s[i]);
        h *= 1099511628211ULL;
    }
    return h;
}

static bool equals_folded(const struct entry *entry, const char *s, size_t len)
{
    if (entry->len != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (entry->text[i] != (char)ascii_lower((unsigned char)s[i]))
            return false;
    }
    return true;
}

struct string_set *string_set_create(void)
{
    struct string_set *set = calloc(1, sizeof *set);
    if (set == NULL)
        return NULL;
    set->capacity = 64;
    set->slots = calloc(set->capacity, sizeof(struct entry *));
    if (set->slots == NULL) {
        free(set);
        return NULL;
    }
    return set;
}

/* Finds the slot holding s or the empty slot where it would go. */
static size_t find_slot(struct entry *const *slots, size_t capacity, const char *s, size_t len)
{
    size_t mask = capacity - 1;
    size_t i = (size_t)hash_folded(s, len) & mask;
    while (slots[i] != NULL && !equals_folded(slots[i], s, len))
        i = (i + 1) & mask;
    return i;
}

static bool grow(struct string_set *set)
{
    size_t capacity = set->capacity * 2;
    struct entry **slots = calloc(capacity, sizeof(struct entry *));
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < set->capacity; i++) {
        struct entry *e = set->slots[i];
        if (e != NULL)
            slots[find_slot(slots, capacity, e->text, e->len)] = e;
    }
    free(set->slots);
    set->slots = slots;
    set->capacity = capacity;
    return true;
}

bool string_set_add(struct string_set *set, const char *s, size_t len)
{
    /* Keep the load factor under 1/2 so probe chains stay short. */
    if ((set->count + 1) * 2 > set->capacity && !grow(set))
        return false;
    size_t i = find_slot(set->slots, set->capacity, s, len);
    if (set->slots[i] != NULL)
        return true;
    struct entry *e = malloc(sizeof *e + len + 1);
    if (e == NULL)
        return false;
    e->len = len;
    for (size_t k = 0; k < len; k++)
        e->text[k] = (char)ascii_lower((unsigned char)s[k]);
    e->text[len] = '\0';
    set->slots[i] = e;
    set->count++;
    return true;
}

bool string_set_add_list(struct string_set *set, const char *comma_list)
{
    for (const char *p = comma_list; *p;) {
        size_t len = strcspn(p, ",");
        if (len > 0 && !string_set_add(set, p, len))
            return false;
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

bool string_set_contains(const struct string_set *set, const char *s, size_t len)
{
    if (set == NULL)
        return false;
    return set->slots[find_slot(set->slots, set->capacity, s, len)] != NULL;
}

size_t string_set_size(const struct string_set *set)
{
    return set == NULL ? 0 : set->count;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

struct string_set *string_set_load_file(const char *path, char *err, size_t err_size)
{
    FILE *file = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t line_len;
    struct string_set *set = string_set_create();

    if (set == NULL) {
        snprintf(err, err_size, "%s: out of memory", path);
        goto failed;
    }
    file = fopen(path, "r");
    if (file == NULL) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        goto failed;
    }
    while ((line_len = getline(&line, &line_cap, file)) != -1) {
        size_t start = 0, end = (size_t)line_len;
        while (start < end && is_space(line[start]))
            start++;
        while (end > start && is_space(line[end - 1]))
            end--;
        if (start == end || line[start] == '#')
            continue;
        if (!string_set_add(set, line + start, end - start)) {
            snprintf(err, err_size, "%s: out of memory", path);
            goto failed;
        }
    }
    if (ferror(file)) {
        snprintf(err, err_size, "%s: read error", path);
        goto failed;
    }
    free(line);
    fclose(file);
    return set;

failed:
    free(line);
    if (file != NULL)
        fclose(file);
    string_set_free(set);
    return NULL;
}

void string_set_free(struct string_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->capacity; i++)
        free(set->slots[i]);
    free(set->slots);
    free(set);
}
