// The backend-mode Lua scripts, embedded at build time from the repository's lua/ directory
// (their single source), as NUL-terminated UTF-8.
#ifndef SLUICE_LUA_SCRIPTS_H
#define SLUICE_LUA_SCRIPTS_H

const char *sluice_lua_leaky_bucket(void);
const char *sluice_lua_bounded_counter(void);
const char *sluice_lua_cell_throttle(void);
const char *sluice_lua_sliding_window(void);

#endif
