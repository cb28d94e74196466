#ifndef SLUICE_CPREFETCH_H
#define SLUICE_CPREFETCH_H

// Swift has no prefetch intrinsic; the keyspace uses this to start loading the buckets
// of a read burst's keys before it looks them up, so their cache misses overlap.
static inline void sluice_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
