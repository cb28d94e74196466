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

// Makes malloc map blocks of `threshold` bytes or more on their own (and unmap them
// when freed), stops glibc from raising that threshold as mapped blocks are freed, and
// turns off its fast bins, so freed small blocks are merged as they are freed rather
// than all at once by the next large allocation. Swift's Glibc does not export mallopt.
static inline void sluice_configure_malloc(long threshold) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, (int)threshold);
    mallopt(M_MXFAST, 0);
#endif
}

#endif
