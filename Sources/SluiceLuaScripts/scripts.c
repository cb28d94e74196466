// Embeds lua/*.lua with C23 #embed (clang 19 and later), so `swift build` from a fresh clone
// picks up the scripts without a generation step, and the compiler's dependency file names
// them, so editing a script rebuilds this file.
#include "SluiceLuaScripts.h"

#pragma clang diagnostic ignored "-Wc23-extensions"

static const char leaky_bucket[] = {
#embed "../../lua/leaky_bucket.lua"
    , 0
};
static const char bounded_counter[] = {
#embed "../../lua/bounded_counter.lua"
    , 0
};
static const char cell_throttle[] = {
#embed "../../lua/cell_throttle.lua"
    , 0
};
static const char sliding_window[] = {
#embed "../../lua/sliding_window.lua"
    , 0
};

const char *sluice_lua_leaky_bucket(void) { return leaky_bucket; }
const char *sluice_lua_bounded_counter(void) { return bounded_counter; }
const char *sluice_lua_cell_throttle(void) { return cell_throttle; }
const char *sluice_lua_sliding_window(void) { return sliding_window; }
