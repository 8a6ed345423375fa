/* sodium_work_area: lends a kept, pre-faulted argon2 work area to libsodium,
 * which has no allocation hook and otherwise mmap()s a fresh one per hash.
 * auth/sodium_work_area.c says how (mmap/munmap interposition) and its limits. */
#ifndef SIGNUP_SODIUM_WORK_AREA_H
#define SIGNUP_SODIUM_WORK_AREA_H

#include <stdbool.h>
#include <stddef.h>

struct sodium_work_area {
    void *base;   /* page-aligned, `bytes` long; owned by whoever filled it in, never by this module */
    size_t bytes; /* the exact mapping size libsodium must ask for to be given the area */
    bool mapped;  /* libsodium holds it right now (handed out by mmap, not yet given back by munmap) */
    unsigned long long hand_outs; /* times libsodium was given it */
};

/* Lends area to the calling thread: until sodium_work_area_end_loan(), the
 * thread's first anonymous private read-write mapping of exactly area->bytes
 * is answered with area->base, and the munmap of that range gives it back
 * without unmapping. Borrowed: area must outlive the loan. One loan per
 * thread at a time; no other thread may use area during it. */
void sodium_work_area_lend(struct sodium_work_area *area);

/* Ends the calling thread's loan. Returns true when libsodium was given the
 * area during it. area->mapped still set afterwards means it was never given
 * back: the caller must not lend that area again. */
bool sodium_work_area_end_loan(void);

/* Switches the interposition on (the default) or off process-wide; when off,
 * every mmap and munmap passes through and loans are ignored. */
void sodium_work_area_set_enabled(bool enabled);

#endif
