#ifndef SLUICE_CLUA_SHIM_H
#define SLUICE_CLUA_SHIM_H

// Lua 5.1 as Debian ships it (liblua5.1-0-dev), plus lua-cjson and Lua BitOp
// (lua-cjson-dev, lua-bitop-dev), the two C libraries Redis also bundles.
// Swift cannot import Lua's function-like macros or write a C function that
// raises a Lua error safely (lua_error jumps over the caller's frames), so the
// small helpers that need either live here as static inline C.

#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#include <lua-cjson.h>
#include <lua-bitop.h>
#include "numbers.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/// Small blocks of one size class that Lua freed, kept for its next allocations.
typedef struct {
    void *first;
    uint32_t count;
} sluice_lua_pool;

/// Size classes of 16 bytes up to 256: Lua's strings, tables and closures of one
/// script call are mostly that small, and each call frees as many as it makes.
#define SLUICE_LUA_POOL_STEP 16
#define SLUICE_LUA_POOL_CLASSES 16
/// At most this many free blocks are kept per class; more go back to malloc.
#define SLUICE_LUA_POOL_KEEP 4096

/// Field and global names the host reads or writes on every script run (a reply
/// table's `err`, `ok`, `double` ... and the `KEYS` and `ARGV` globals). Each state keeps
/// them in its registry, so pushing one is an index into it: `lua_pushstring` measured,
/// hashed and looked up the name each time, and made it anew whenever the collector
/// had freed it (a returned table is checked for seven of them).
enum {
    SLUICE_LUA_NAME_ERR,
    SLUICE_LUA_NAME_OK,
    SLUICE_LUA_NAME_DOUBLE,
    SLUICE_LUA_NAME_BIG_NUMBER,
    SLUICE_LUA_NAME_MAP,
    SLUICE_LUA_NAME_SET,
    SLUICE_LUA_NAME_VERBATIM_STRING,
    SLUICE_LUA_NAME_FORMAT,
    SLUICE_LUA_NAME_STRING,
    SLUICE_LUA_NAME_IGNORE_ERROR_STATS_UPDATE,
    SLUICE_LUA_NAME_SOURCE,
    SLUICE_LUA_NAME_LINE,
    SLUICE_LUA_NAME_KEYS,
    SLUICE_LUA_NAME_ARGV,
    SLUICE_LUA_NAME_COUNT
};

/// Per-state bookkeeping, reached from every callback through the allocator's
/// user data, so that several states (one per server) never share anything.
typedef struct {
    /// Bytes Lua has allocated, and the most it may (0: no limit).
    size_t memory_used;
    size_t memory_limit;
    /// While nonzero, allocations ignore the limit: host code pushing a reply must
    /// never see a Lua memory error, which would jump over its frames.
    int in_host;
    /// CLOCK_MONOTONIC nanoseconds after which the running script is stopped (0: none).
    int64_t deadline_ns;
    /// Set once the hook has stopped a script for running past its deadline.
    int timed_out;
    /// The main thread, so the hook can re-arm it from inside a coroutine.
    lua_State *main_thread;
    /// The host's state for the script being run; NULL between scripts.
    void *host;
    /// Set when a script called `collectgarbage`, which may have stopped the collector or
    /// changed its pace; `sluice_lua_restore_collector` undoes that after the script.
    int collector_touched;
    /// The collector's pause and step multiplier as the state was made.
    int collector_pause;
    int collector_step;
    /// Freed small blocks by size class (`sluice_lua_alloc`); emptied by `sluice_lua_close`.
    sluice_lua_pool pools[SLUICE_LUA_POOL_CLASSES];
    /// Registry references of the names in `SLUICE_LUA_NAME_*` (`sluice_lua_make_names`).
    int names[SLUICE_LUA_NAME_COUNT];
} sluice_lua_context;

/// The size class of a block of `size` bytes (1 to 256), 0 for 1 to 16 bytes.
static inline size_t sluice_lua_pool_class(size_t size) {
    return (size - 1) / SLUICE_LUA_POOL_STEP;
}

/// A block of `size` bytes (0 < size): a pooled one of its class, else malloc's.
static inline void *sluice_lua_block(sluice_lua_context *context, size_t size) {
    if (size > SLUICE_LUA_POOL_STEP * SLUICE_LUA_POOL_CLASSES) return malloc(size);
    sluice_lua_pool *pool = &context->pools[sluice_lua_pool_class(size)];
    void *block = pool->first;
    if (block == NULL) {
        // The class's full size, so the block can serve any size of its class later.
        return malloc((sluice_lua_pool_class(size) + 1) * SLUICE_LUA_POOL_STEP);
    }
    pool->first = *(void **)block;
    pool->count -= 1;
    return block;
}

/// Gives back a block of `size` bytes (0 < size) that `sluice_lua_block` made.
static inline void sluice_lua_release(sluice_lua_context *context, void *block, size_t size) {
    if (size > SLUICE_LUA_POOL_STEP * SLUICE_LUA_POOL_CLASSES) {
        free(block);
        return;
    }
    sluice_lua_pool *pool = &context->pools[sluice_lua_pool_class(size)];
    if (pool->count >= SLUICE_LUA_POOL_KEEP) {
        free(block);
        return;
    }
    *(void **)block = pool->first;
    pool->first = block;
    pool->count += 1;
}

static inline int64_t sluice_lua_monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/// Growing a block to this many bytes or more looks at the clock as well as the hook.
/// One instruction can take a second when it builds a big string: 200 rounds of
/// `string.rep('y', 1e8)` ran 158 s in under 1,000 instructions, never reaching the
/// hook. The clock costs little next to writing 64 KiB.
#define SLUICE_LUA_CLOCKED_ALLOCATION (64 * 1024)

static inline void sluice_lua_time_hook(lua_State *L, lua_Debug *ar);

/// Whether the running script is past its deadline. If so, it is marked timed out and
/// the main thread raises at its next instruction. The hook then raises at once; the
/// allocator fails the allocation, which ends the C call that asked for it.
static inline int sluice_lua_past_deadline(sluice_lua_context *context) {
    if (context->deadline_ns == 0 || sluice_lua_monotonic_ns() < context->deadline_ns) return 0;
    context->timed_out = 1;
    if (context->main_thread != NULL) lua_sethook(context->main_thread, sluice_lua_time_hook, LUA_MASKCOUNT, 1);
    return 1;
}

/// Lua's allocator. Blocks of up to 256 bytes come from per-class free lists that
/// freed blocks refill: a script call made and freed about 50 of them, and glibc's
/// malloc and free spent about 5,000 instructions per `EVALSHA` on them (callgrind).
/// Lua always says how big the block it frees or resizes is (`osize`), so a block's
/// class is known without a header.
static inline void *sluice_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    sluice_lua_context *context = (sluice_lua_context *)ud;
    if (nsize == 0) {
        if (ptr != NULL) {
            sluice_lua_release(context, ptr, osize);
            context->memory_used -= osize;
        }
        return NULL;
    }
    if (ptr == NULL) osize = 0;
    if (nsize > osize && context->memory_limit != 0 && !context->in_host
        && context->memory_used - osize + nsize > context->memory_limit) {
        return NULL;  // Lua turns this into a "not enough memory" error the script sees
    }
    if (nsize >= SLUICE_LUA_CLOCKED_ALLOCATION && nsize > osize && !context->in_host
        && sluice_lua_past_deadline(context)) {
        return NULL;  // the script is stopped as by the hook: see sluice_lua_past_deadline
    }
    const size_t pooled = SLUICE_LUA_POOL_STEP * SLUICE_LUA_POOL_CLASSES;
    void *resized;
    if (ptr != NULL && osize > pooled && nsize > pooled) {
        resized = realloc(ptr, nsize);
    } else if (ptr != NULL && osize <= pooled && nsize <= pooled
               && sluice_lua_pool_class(osize) == sluice_lua_pool_class(nsize)) {
        resized = ptr;  // the block already has its class's full size
    } else {
        resized = sluice_lua_block(context, nsize);
        if (resized != NULL && ptr != NULL) {
            memcpy(resized, ptr, osize < nsize ? osize : nsize);
            sluice_lua_release(context, ptr, osize);
        }
    }
    if (resized != NULL) context->memory_used = context->memory_used - osize + nsize;
    return resized;
}

/// Closes `L` and frees the blocks its pools kept.
static inline void sluice_lua_close(lua_State *L, sluice_lua_context *context) {
    lua_close(L);
    for (int index = 0; index < SLUICE_LUA_POOL_CLASSES; index++) {
        void *block = context->pools[index].first;
        while (block != NULL) {
            void *next = *(void **)block;
            free(block);
            block = next;
        }
        context->pools[index].first = NULL;
        context->pools[index].count = 0;
    }
}

static inline sluice_lua_context *sluice_lua_context_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (sluice_lua_context *)ud;
}

static inline int sluice_lua_panic(lua_State *L) {
    // Every call into Lua is protected; reaching this is a bug. Lua aborts after it returns.
    const char *message = lua_tostring(L, -1);
    fprintf(stderr, "sluice: unprotected Lua error: %s\n", message ? message : "(not a string)");
    return 0;
}

/// Makes the state's `SLUICE_LUA_NAME_*` references; run with `lua_cpcall`, as
/// making a string may fail.
static inline int sluice_lua_make_names(lua_State *L) {
    static const char *const names[SLUICE_LUA_NAME_COUNT] = {
        "err", "ok", "double", "big_number", "map", "set", "verbatim_string", "format", "string",
        "ignore_error_stats_update", "source", "line", "KEYS", "ARGV",
    };
    sluice_lua_context *context = sluice_lua_context_of(L);
    for (int name = 0; name < SLUICE_LUA_NAME_COUNT; name++) {
        lua_pushstring(L, names[name]);
        context->names[name] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 0;
}

/// Pushes one of the `SLUICE_LUA_NAME_*` names.
static inline void sluice_lua_push_name(lua_State *L, int name) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, sluice_lua_context_of(L)->names[name]);
}

/// A new state whose allocations are counted in `context`.
static inline lua_State *sluice_lua_newstate(sluice_lua_context *context) {
    lua_State *L = lua_newstate(sluice_lua_alloc, context);
    if (L != NULL) {
        lua_atpanic(L, sluice_lua_panic);
        context->main_thread = L;
    }
    return L;
}

/// Instructions between two looks at the clock (Redis uses the same count).
#define SLUICE_LUA_HOOK_INSTRUCTIONS 100000

static inline void sluice_lua_time_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    if (!sluice_lua_past_deadline(sluice_lua_context_of(L))) return;
    // From now on raise at every instruction, in this thread as in the main one, so a
    // script that catches the error with pcall is stopped at its next step anyway.
    lua_sethook(L, sluice_lua_time_hook, LUA_MASKCOUNT, 1);
    lua_pushliteral(L, "Script killed: it ran past the time limit");
    lua_error(L);
}

/// Starts the clock for one script: it is stopped once `limit_ns` have passed (0: never).
static inline void sluice_lua_arm_time_limit(lua_State *L, int64_t limit_ns) {
    sluice_lua_context *context = sluice_lua_context_of(L);
    context->timed_out = 0;
    if (limit_ns <= 0) {
        context->deadline_ns = 0;
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    context->deadline_ns = sluice_lua_monotonic_ns() + limit_ns;
    lua_sethook(L, sluice_lua_time_hook, LUA_MASKCOUNT, SLUICE_LUA_HOOK_INSTRUCTIONS);
}

static inline void sluice_lua_disarm_time_limit(lua_State *L) {
    sluice_lua_context_of(L)->deadline_ns = 0;
    lua_sethook(L, NULL, 0, 0);
}

/// A host function: returns its result count, or -1 with an error value on top of
/// the stack, which the trampoline raises once the host's frames are gone.
typedef int (*sluice_lua_host_function)(lua_State *L);

static inline int sluice_lua_trampoline(lua_State *L) {
    sluice_lua_host_function function = (sluice_lua_host_function)lua_touserdata(L, lua_upvalueindex(1));
    sluice_lua_context *context = sluice_lua_context_of(L);
    int saved = context->in_host;
    context->in_host = 1;
    int results = function(L);
    context->in_host = saved;
    if (results < 0) return lua_error(L);
    return results;
}

static inline void sluice_lua_push_host_function(lua_State *L, sluice_lua_host_function function) {
    lua_pushlightuserdata(L, (void *)function);
    lua_pushcclosure(L, sluice_lua_trampoline, 1);
}

/// For a function installed by `sluice_lua_wrap`: runs the library function it replaced
/// in this same call, so that function's errors name the one the script called.
static inline int sluice_lua_call_replaced(lua_State *L) {
    lua_CFunction replaced = (lua_CFunction)lua_touserdata(L, lua_upvalueindex(1));
    return replaced(L);
}

/// The global `tonumber`: a plain decimal string, the common case in scripts (arguments,
/// replies, fields), is read here; anything else goes to the base library's function,
/// in this same call so its errors name `tonumber`. Lua's own reading is strtod, which
/// took about 6% of the CPU of a leaky-bucket script call.
static inline int sluice_lua_tonumber(lua_State *L) {
    if (lua_gettop(L) == 1 && lua_type(L, 1) == LUA_TSTRING) {
        size_t length = 0;
        const char *text = lua_tolstring(L, 1, &length);
        double value;
        if (sluice_plain_decimal(text, length, &value)) {
            lua_pushnumber(L, value);
            return 1;
        }
    }
    return sluice_lua_call_replaced(L);
}

/// The global `tostring`: a number is formatted here (as Lua's "%.14g" would), anything
/// else by the base library's function, in this same call.
static inline int sluice_lua_tostring_number(lua_State *L) {
    if (lua_gettop(L) == 1 && lua_type(L, 1) == LUA_TNUMBER) {
        char text[32];
        int length = sluice_format_general(lua_tonumber(L, 1), 14, text);
        if (length >= 0) {
            lua_pushlstring(L, text, (size_t)length);
            return 1;
        }
    }
    return sluice_lua_call_replaced(L);
}

/// `string.format`: a format of plain text, "%%", "%d", "%f", "%.Nf" (N up to 9) and "%s",
/// with numbers for the numeric ones and strings for "%s", is written here; any other
/// format, argument or error is the string library's, in this same call. printf took
/// about a tenth of the instructions of aiosteady's script, which stores its bucket as
/// string.format("%d %f %f", ...).
static inline int sluice_lua_string_format(lua_State *L) {
    char out[512];
    size_t length = 0;
    size_t format_length = 0;
    const char *format = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &format_length) : NULL;
    if (format == NULL) goto original;
    int argument = 1;
    for (size_t index = 0; index < format_length; index++) {
        char c = format[index];
        if (c != '%') {
            if (length >= sizeof(out)) goto original;
            out[length++] = c;
            continue;
        }
        if (++index >= format_length) goto original;
        c = format[index];
        if (c == '%') {
            if (length >= sizeof(out)) goto original;
            out[length++] = '%';
            continue;
        }
        int places = 6;
        if (c == '.') {
            if (index + 2 >= format_length || format[index + 1] < '0' || format[index + 1] > '9' || format[index + 2] != 'f') goto original;
            places = format[index + 1] - '0';
            index += 2;
            c = 'f';
        }
        argument += 1;
        if (c == 'd' || c == 'f') {
            if (lua_type(L, argument) != LUA_TNUMBER || length + 48 > sizeof(out)) goto original;
            double number = lua_tonumber(L, argument);
            if (c == 'f') {
                int written = sluice_format_fixed(number, places, out + length);
                if (written < 0) goto original;
                length += (size_t)written;
            } else {
                // Lua 5.1 casts to long; outside its range that cast is undefined in C.
                if (!(number > -9.2e18 && number < 9.2e18)) goto original;
                long whole = (long)number;
                if (whole < 0) out[length++] = '-';
                length += (size_t)sluice_write_digits(whole < 0 ? (uint64_t)0 - (uint64_t)whole : (uint64_t)whole, 1, out + length);
            }
        } else if (c == 's') {
            if (lua_type(L, argument) != LUA_TSTRING) goto original;
            size_t size = 0;
            const char *text = lua_tolstring(L, argument, &size);
            // Lua 5.1 keeps a string of 100 bytes or more whole; a shorter one goes
            // through sprintf, which stops at a NUL.
            if (size < 100) {
                const char *nul = memchr(text, 0, size);
                if (nul != NULL) size = (size_t)(nul - text);
            }
            if (length + size > sizeof(out)) goto original;
            memcpy(out + length, text, size);
            length += size;
        } else {
            goto original;
        }
    }
    lua_pushlstring(L, out, length);
    return 1;
original:
    return sluice_lua_call_replaced(L);
}

/// Replaces the function `name` of the table on top of the stack with `replacement`,
/// which gets the original's C function as its upvalue.
static inline void sluice_lua_wrap(lua_State *L, const char *name, lua_CFunction replacement) {
    lua_getfield(L, -1, name);
    lua_pushlightuserdata(L, (void *)lua_tocfunction(L, -1));
    lua_pushcclosure(L, replacement, 1);
    lua_setfield(L, -3, name);
    lua_pop(L, 1);
}

/// The global `collectgarbage`: the base library's, noting that the script called it.
static inline int sluice_lua_collectgarbage(lua_State *L) {
    sluice_lua_context_of(L)->collector_touched = 1;
    return sluice_lua_call_replaced(L);
}

/// After a script: if it called `collectgarbage`, the collector runs again at the pace
/// the state was made with, so no script inherits another's `stop` or `setpause`. Only
/// then: a restart sets the collector's threshold to the bytes in use, so restarting
/// after every script had it take a step on the next one's first allocations, never
/// pausing between cycles.
static inline void sluice_lua_restore_collector(lua_State *L, sluice_lua_context *context) {
    if (!context->collector_touched) return;
    context->collector_touched = 0;
    lua_gc(L, LUA_GCSETPAUSE, context->collector_pause);
    lua_gc(L, LUA_GCSETSTEPMUL, context->collector_step);
    lua_gc(L, LUA_GCRESTART, 0);
}

/// A full garbage collection; run through lua_cpcall, so nothing it runs can panic.
static inline int sluice_lua_collect(lua_State *L) {
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}

/// Opens the libraries scripts get; run through lua_cpcall so a failure is an error, not a panic.
static inline int sluice_lua_open_libraries(lua_State *L) {
    static const lua_CFunction openers[] = {luaopen_base, luaopen_table, luaopen_string, luaopen_math, luaopen_debug, luaopen_bit};
    for (size_t index = 0; index < sizeof(openers) / sizeof(openers[0]); index++) {
        lua_pushcfunction(L, openers[index]);
        lua_call(L, 0, 0);
    }
    // Setting returns the value it replaces: Lua's defaults, put straight back.
    sluice_lua_context *context = sluice_lua_context_of(L);
    context->collector_pause = lua_gc(L, LUA_GCSETPAUSE, 200);
    lua_gc(L, LUA_GCSETPAUSE, context->collector_pause);
    context->collector_step = lua_gc(L, LUA_GCSETSTEPMUL, 200);
    lua_gc(L, LUA_GCSETSTEPMUL, context->collector_step);
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    sluice_lua_wrap(L, "collectgarbage", sluice_lua_collectgarbage);
    sluice_lua_wrap(L, "tonumber", sluice_lua_tonumber);
    sluice_lua_wrap(L, "tostring", sluice_lua_tostring_number);
    lua_getfield(L, -1, "string");
    sluice_lua_wrap(L, "format", sluice_lua_string_format);
    lua_pop(L, 2);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    return 0;
}

// Macros Swift cannot import.
static inline void sluice_lua_pop(lua_State *L, int count) { lua_pop(L, count); }
static inline void sluice_lua_newtable(lua_State *L) { lua_newtable(L); }
static inline const char *sluice_lua_tostring(lua_State *L, int index) { return lua_tostring(L, index); }
static inline int sluice_lua_isnil(lua_State *L, int index) { return lua_isnil(L, index); }
static inline void sluice_lua_getregistry(lua_State *L, const char *key) { lua_getfield(L, LUA_REGISTRYINDEX, key); }
static inline void sluice_lua_setregistry(lua_State *L, const char *key) { lua_setfield(L, LUA_REGISTRYINDEX, key); }
/* The value on top into the registry under a new integer reference (popped), and back. */
static inline int sluice_lua_ref(lua_State *L) { return luaL_ref(L, LUA_REGISTRYINDEX); }
static inline void sluice_lua_getref(lua_State *L, int ref) { lua_rawgeti(L, LUA_REGISTRYINDEX, ref); }
static inline void sluice_lua_pushglobaltable(lua_State *L) { lua_pushvalue(L, LUA_GLOBALSINDEX); }

#endif
