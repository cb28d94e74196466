#ifndef SLUICE_CFLOATTEXT_H
#define SLUICE_CFLOATTEXT_H

#include <stddef.h>
#include <stdio.h>

// INCRBYFLOAT's result in Redis's "%.17Lf". Swift reaches a variadic C function only
// through withVaList, whose array of CVarArg boxes the number and casts it at run time,
// which cost more than the printing.
#if defined(__x86_64__) || defined(__i386__)
static inline int sluice_format_long_double(char *out, size_t size, long double value) {
    return snprintf(out, size, "%.17Lf", value);
}
#endif

// Where Swift has no type for C's long double, the sum is a double.
static inline int sluice_format_double(char *out, size_t size, double value) {
    return snprintf(out, size, "%.17f", value);
}

#endif
