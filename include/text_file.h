/* text_file: reading a whole (small) file into memory. */
#ifndef SIGNUP_TEXT_FILE_H
#define SIGNUP_TEXT_FILE_H

#include <stddef.h>

/* Returns the file's bytes plus a terminating NUL as a new string (caller
 * free()s) and its length in *len (may be NULL); NULL with errno set on failure. */
char *text_file_read(const char *path, size_t *len) __attribute__((warn_unused_result));

#endif
