#ifndef SLUICE_CEPOLL_SHIM_H
#define SLUICE_CEPOLL_SHIM_H

// Linux's epoll and eventfd, which Swift's Glibc module leaves out, for the
// plain-text connections' event loop (PlainEventLoop.swift).

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

/// Names the calling thread (at most 15 bytes show); prctl is variadic, which Swift cannot call.
static inline void sluice_name_thread(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

#endif
