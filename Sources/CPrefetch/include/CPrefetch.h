#ifndef SLUICE_CPREFETCH_H
#define SLUICE_CPREFETCH_H

#if defined(__linux__)
#include <features.h>  // defines __GLIBC__ when the C library is glibc
#endif
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// Swift has no prefetch intrinsic; the keyspace uses this to start loading the buckets
// of a read burst's keys before it looks them up, so their cache misses overlap.
static inline void sluice_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

// Hands pages that malloc holds free back to the kernel. glibc keeps freed memory of
// an arena's heap resident; the keyspace calls this after it replaced a large table,
// so the old table does not stay in the resident size. Swift's Glibc does not export
// malloc_trim.
static inline void sluice_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

#endif
