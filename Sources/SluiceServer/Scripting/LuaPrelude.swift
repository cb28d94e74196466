/// Lua run once when a scripting state is created, before any script: it keeps what
/// it needs from the debug library in locals, then shapes the globals scripts see.
/// Receives the Redis version text and number Sluice reports.
let luaPrelude = #"""
local redis_version, redis_version_number = ...
local getinfo, registry = debug.getinfo, debug.getregistry()
local type, tostring, tonumber, error, rawget, setmetatable, ipairs, pairs, select = type, tostring, tonumber, error, rawget, setmetatable, ipairs, pairs, select
local raw_pcall, raw_rawset, raw_loadstring, concat, floor = pcall, rawset, loadstring, table.concat, math.floor

-- Every script runs with this as its error handler. Any error becomes a table
-- {err = text, source = chunk, line = number}; the host turns it into the reply
-- "<text> script: <sha>, on <source>:<line>." as Redis 7 does. It must never run
-- script code (no metamethods: rawset, tostring of non-tables only): after the time
-- limit's hook raises an error, Lua runs the handler with hooks off, so a loop
-- there could never be stopped.
registry.sluice_error_handler = function(err)
  -- Report the script's line: skip C functions (error, redis.call), tail calls
  -- (which have no line) and this prelude's own functions (the guards).
  local level, where = 2, getinfo(2, "Sl")
  while where and (where.what == "C" or where.what == "tail" or where.source == "=sluice_prelude") do
    level = level + 1
    where = getinfo(level, "Sl")
  end
  if type(err) ~= "table" then err = {err = "ERR " .. tostring(err)} end
  if where then
    raw_rawset(err, "source", where.source)
    raw_rawset(err, "line", where.currentline)
  end
  return err
end

-- As in Redis 7: pcall hands back the text of an error table (what redis.call raises).
local function unwrap(ok, ...)
  if ok then return true, ... end
  local err = ...
  if type(err) == "table" then
    local text = rawget(err, "err")
    if type(text) == "string" then err = text end
  end
  return false, err
end
pcall = function(f, ...) return unwrap(raw_pcall(f, ...)) end

-- xpcall calls its handler after the error has been caught rather than as Lua's
-- error handler, which runs with hooks off after a time-limit error (see above).
-- Scripts have no debug library, so a handler could not inspect the failing stack anyway.
xpcall = function(f, handler)
  return (function(ok, ...)
    if ok then return true, ... end
    return false, handler((...))
  end)(raw_pcall(f))
end

-- Lua 5.1 does not verify bytecode, so loading a binary chunk could crash the server.
-- Arguments are checked here, so a bad one is reported as the script's call, not ours.
local binary = "loading binary chunks is not allowed"
loadstring = function(text, name)
  if type(text) ~= "string" then error("bad argument #1 to 'loadstring' (string expected, got " .. type(text) .. ")", 2) end
  if text:byte(1) == 27 then return nil, binary end
  return raw_loadstring(text, name)
end
load = function(reader, name)
  if type(reader) ~= "function" then error("bad argument #1 to 'load' (function expected, got " .. type(reader) .. ")", 2) end
  local pieces = {}
  while true do
    local piece = reader()
    if piece == nil or piece == "" then break end
    if type(piece) ~= "string" then return nil, "reader function must return a string" end
    -- Refused at once: a reader that repeats a binary header forever would fill memory.
    if #pieces == 0 and piece:byte(1) == 27 then return nil, binary end
    pieces[#pieces + 1] = piece
  end
  return loadstring(concat(pieces), name or "=(load)")
end

-- Lua 5.1's pattern matcher recurses once per pattern item, on the C stack, and a
-- long enough pattern overflows it and crashes the process (Redis too). Patterns are
-- capped far below that; the wrappers replace the functions in the string table
-- itself, which method calls on strings ("s"):find(p) also reach.
local max_pattern = 4096
local function checked(name, plain_argument)
  local original = string[name]
  string[name] = function(subject, pattern, a, b)
    if type(pattern) == "string" and #pattern > max_pattern and not (plain_argument and b) then
      error("pattern too long (at most " .. max_pattern .. " bytes)", 2)
    end
    return original(subject, pattern, a, b)
  end
end
checked("find", true)
checked("match")
checked("gmatch")
checked("gsub")

redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = redis_version, redis_version_number
-- Sluice has no replication and no script debugger; these keep scripts written for Redis
-- working, with Redis's checks of their arguments.
redis.set_repl = function(...)
  if select("#", ...) ~= 1 then error({err = "ERR redis.set_repl() requires two arguments."}) end
  -- Read as Redis reads it: a number or numeric text, truncated; anything else is 0.
  local flags = tonumber((...)) or 0
  flags = flags < 0 and -floor(-flags) or floor(flags)
  if flags ~= flags or flags < 0 or flags > 3 then
    error({err = "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."})
  end
end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end

-- What scripts must not reach: files, the process, the debug library, other environments.
for _, name in ipairs({"dofile", "loadfile", "print", "setfenv", "getfenv", "newproxy", "module", "require", "debug", "package", "os", "io"}) do
  raw_rawset(_G, name, nil)
end

-- Read-only globals and libraries, as in Redis 7. Each library is replaced by an empty
-- proxy that reads through to it, and the globals move to a table scripts cannot reach,
-- which an empty _G reads through to: any assignment, to an existing name as much as a
-- new one, reaches __newindex and is refused, so no script changes what the next one
-- sees. What writes into or looks through a table raw (rawset, rawget, next, pairs,
-- table.insert, table.remove, table.sort) is wrapped to treat a proxy as what it
-- stands for: refused for writes, read through for looks.
local backing = setmetatable({}, {__mode = "k"})
local function refuse() error("Attempt to modify a readonly table", 2) end
local function proxy(original)
  local table = setmetatable({}, {__index = original, __newindex = refuse, __metatable = false})
  backing[table] = original
  return table
end
for _, name in ipairs({"string", "math", "table", "coroutine", "cjson", "bit", "redis"}) do
  raw_rawset(_G, name, proxy(rawget(_G, name)))
end
getmetatable("").__metatable = false

local raw_next, raw_pairs, raw_rawget = next, pairs, rawget
local library = backing[rawget(_G, "table")]
local raw_insert = library.insert
local function writable(t)
  if backing[t] then error("Attempt to modify a readonly table", 0) end
end
-- Lua's own argument errors, raised here at the script's call as the C functions would.
local function table_argument(t, count, name)
  if type(t) ~= "table" then
    error("bad argument #1 to '" .. name .. "' (table expected, got " .. (count == 0 and "no value" or type(t)) .. ")", 3)
  end
end
rawset = function(t, k, v) writable(t) return raw_rawset(t, k, v) end
-- A proxy holds nothing itself, so table.remove and table.sort find nothing to change
-- there, as in Redis; table.insert is refused where it would write.
library.insert = function(t, ...)
  local count = select("#", ...)
  table_argument(t, 1, "insert")
  if count ~= 1 and count ~= 2 then error("wrong number of arguments to 'insert'", 2) end
  if backing[t] and (count == 1 or tonumber((...)) ~= nil) then writable(t) end
  return raw_insert(t, ...)
end
-- Set through _G: rawget and pairs are also locals of this chunk.
local function wrapped_next(...)
  local t, k = ...
  table_argument(t, select("#", ...), "next")
  return raw_next(backing[t] or t, k)
end
_G.next = wrapped_next
_G.rawget = function(...)
  local t, k = ...
  table_argument(t, select("#", ...), "rawget")
  if select("#", ...) < 2 then error("bad argument #2 to 'rawget' (value expected)", 2) end
  return raw_rawget(backing[t] or t, k)
end
_G.pairs = function(...)
  local t = ...
  table_argument(t, select("#", ...), "pairs")
  if backing[t] then return wrapped_next, t, nil end
  return raw_pairs(t)
end

-- The host sets KEYS and ARGV in the globals' table (registry.sluice_globals).
local G, globals = _G, {}
for name, value in raw_pairs(G) do globals[name] = value end
for name in raw_pairs(globals) do raw_rawset(G, name, nil) end
registry.sluice_globals = globals
setmetatable(globals, {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __metatable = false,
})
backing[G] = globals
setmetatable(G, {__index = globals, __newindex = refuse, __metatable = false})
"""#
