// hiredis (Debian's libhiredis-dev 0.14) for SluiceRedisBackend, the only module that uses it.
// Only the Argv calls are used: the variadic, format-string ones are not callable from Swift
// and would parse the arguments' bytes.
#ifndef SLUICE_CHIREDIS_SHIM_H
#define SLUICE_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif
