/* secret: wiping secrets from memory. */
#ifndef SIGNUP_SECRET_H
#define SIGNUP_SECRET_H

#include <stddef.h>

/* Overwrites size bytes at secret with zeros; never elided by the compiler. */
void secret_wipe(void *secret, size_t size);

#endif
