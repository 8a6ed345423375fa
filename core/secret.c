/* secret: overwriting secrets (passwords, raw tokens) once they are no longer
 * needed, in a way the compiler may not optimise away as a dead store. */
#include "secret.h"

void secret_wipe(void *secret, size_t size)
{
    volatile unsigned char *p = secret;
    for (size_t i = 0; i < size; i++)
        p[i] = 0;
}
