/* Whole-file reads for start-up data (migrations, the OpenAPI document). */
#include "text_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

char *text_file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)size + 1);
        if (text != NULL && fread(text, 1, (size_t)size, f) == (size_t)size) {
            text[size] = '\0';
            if (len != NULL)
                *len = (size_t)size;
        } else {
            free(text);
            text = NULL;
            errno = errno ? errno : EIO;
        }
    }
    fclose(f);
    return text;
}
