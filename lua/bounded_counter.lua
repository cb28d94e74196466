-- Sluice backend mode: dramatiq's bounded counters (ADD, INCR, DECR, INCR_AND_SUM),
-- the same answers as SluiceCore.BoundedCounter, as one atomic script.
--
--   EVAL <script> 1 key add value ttl_ms [NOW ns]
--   EVAL <script> 1 key incr amount maximum ttl_ms [NOW ns]
--   EVAL <script> 1 key decr amount minimum ttl_ms [NOW ns]
--   EVAL <script> N key sumkey... incr_and_sum amount maximum ttl_ms [NOW ns]
--
-- Reply: 1 (done) or 0 (refused, nothing changed).
-- State: the counter as a decimal string (TYPE string, readable with GET), with a
-- deadline set by PXAT: now + ttl_ms in whole milliseconds, as SET ... PX sets it.
-- INCR_AND_SUM reads every key in KEYS (KEYS[1] is the counter, the rest are summed):
-- in Redis Cluster they must share a hash tag, e.g. {window}:1 {window}:2.
-- Integers are exact over the whole 64-bit range (kept as two Lua numbers).
-- NOW ns (nanoseconds since the epoch) replaces Redis's TIME: for tests and replays.
-- BATCH (serve, in the shared helpers) runs many calls in one script run, as Sluice sends them.

-- ---- shared helpers: generated from lua/prelude/common.lua by scripts/generate-lua; edit that file, not this block ----
-- The helpers every lua/ script shares. Their single source is lua/prelude/common.lua:
-- scripts/generate-lua copies it into each script between the shared-helpers markers,
-- since a script run by EVAL or redis-cli --eval cannot load another file.
--
-- A script defines main(KEYS, ARGV) for one call and ends with `return serve(main)`.

-- Lua numbers are doubles, exact only below 2^53; 64-bit integers and instants are
-- kept as pairs {high, low} meaning high * 1e9 + low with 0 <= low < 1e9.
local B = 1000000000
local INT64_MIN = {-9223372037, 145224192}
local INT64_MAX = {9223372036, 854775807}

-- Raised by argument and state checks; run (below) turns it into an error reply.
local function fail(message) error({sluice = message}, 0) end

-- Redis's integer syntax (optional '-', no '+', no leading zeros) within 64 bits, as a pair.
local function parse_int(s)
  if type(s) ~= 'string' or not (s == '0' or s:find('^%-?[1-9]%d*$')) then return nil end
  local negative = s:byte(1) == 45
  local digits = negative and s:sub(2) or s
  if #digits > 19 or (#digits == 19 and digits > (negative and '9223372036854775808' or '9223372036854775807')) then
    return nil
  end
  local high = #digits > 9 and tonumber(digits:sub(1, -10)) or 0
  local low = tonumber(digits:sub(-9))
  if negative then
    if low > 0 then return {-high - 1, B - low} end
    return {-high, 0}
  end
  return {high, low}
end

local function add(a, b)
  local high, low = a[1] + b[1], a[2] + b[2]
  if low >= B then return {high + 1, low - B} end
  return {high, low}
end

local function negate(a)
  if a[2] > 0 then return {-a[1] - 1, B - a[2]} end
  return {-a[1], 0}
end

local function compare(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] and -1 or 1 end
  if a[2] ~= b[2] then return a[2] < b[2] and -1 or 1 end
  return 0
end

-- The last pair format_int wrote and its text: a batch's calls often write the same
-- instant (the shared clock, for new buckets), and string.format is costly in Redis's Lua.
-- Pairs are never changed once made, so the same table means the same value.
local formatted, formatted_text

local function format_int(a)
  if a == formatted then return formatted_text end
  local text
  if a[1] < 0 then
    text = '-' .. format_int(negate(a))
  elseif a[1] == 0 then
    text = string.format('%d', a[2])
  else
    text = string.format('%d%09d', a[1], a[2])
  end
  formatted, formatted_text = a, text
  return text
end

-- Redis's TIME as a pair, read once per script run: the calls of a batch share it.
local clock

-- now as a pair and the number of arguments in argv before a trailing "NOW ns".
local function read_now(argv)
  local count = #argv
  if count >= 2 and #argv[count - 1] == 3 and string.upper(argv[count - 1]) == 'NOW' then
    local now = parse_int(argv[count])
    if not now then fail('ERR NOW must be an integer (nanoseconds since the epoch)') end
    return now, count - 2
  end
  if not clock then
    local time = redis.call('TIME')
    clock = {tonumber(time[1]), tonumber(time[2]) * 1000}
  end
  return clock, count
end

-- redis.call, but a Redis error (WRONGTYPE) becomes this script's error reply as is.
local function call(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then fail(reply.err) end
  return reply
end

-- Lua numbers exact up to here: durations and counts past it are refused in backend mode.
local EXACT = 9007199254740991

-- a - b in nanoseconds as a Lua number (exact while below 2^53, about 104 days).
local function difference(a, b)
  return (a[1] - b[1]) * B + (a[2] - b[2])
end

-- The instant `nanoseconds` after `now`, clamped to the Int64 range as in-memory mode does.
-- Computed in place rather than through pairs: every call of a batch makes two or three
-- of these, and the intermediate tables and their garbage collection were most of it.
local function later(now, nanoseconds)
  if nanoseconds == 0 then return now end
  local high = math.floor(nanoseconds / B)
  local low = now[2] + (nanoseconds - high * B)
  high = now[1] + high
  -- The division may round either way, and the sum may pass B: a step or two at most.
  while low >= B do high, low = high + 1, low - B end
  while low < 0 do high, low = high - 1, low + B end
  if high > INT64_MAX[1] or (high == INT64_MAX[1] and low > INT64_MAX[2]) then return INT64_MAX end
  if high < INT64_MIN[1] or (high == INT64_MIN[1] and low < INT64_MIN[2]) then return INT64_MIN end
  return {high, low}
end

-- Floor division of non-negative integral numbers below 2^53, corrected for rounding.
local function divide(a, b)
  local quotient = math.floor(a / b)
  if quotient * b > a then return quotient - 1 end
  if (quotient + 1) * b <= a then return quotient + 1 end
  return quotient
end

-- The last deadline's inputs and text, kept for the same reason as format_int's.
local deadline_now, deadline_ttl, deadline_text

-- PEXPIREAT argument for a state that may be dropped ttl nanoseconds (at least 1) after
-- now, as in-memory mode sets it: the millisecond holding now + ttl (Redis keeps a key
-- through its deadline's millisecond), but at least the next one, as Redis deletes a
-- key at once for a deadline not after its clock.
local function deadline(now, ttl)
  if now == deadline_now and ttl == deadline_ttl then return deadline_text end
  local instant = later(now, math.max(1, ttl))
  deadline_now, deadline_ttl = now, ttl
  deadline_text = string.format('%d', math.max(instant[1] * 1000 + math.floor(instant[2] / 1000000),
    now[1] * 1000 + math.floor(now[2] / 1000000) + 1))
  return deadline_text
end

-- A duration in seconds (decimal or exponent form, fractions allowed) as nanoseconds,
-- with in-memory mode's checks and texts, plus backend mode's 2^53 ns ceiling.
local function seconds_argument(text, name, allow_zero)
  local seconds = type(text) == 'string' and text:find('^[%d%.eE+-]+$') and tonumber(text)
  if not seconds or seconds ~= seconds or seconds == math.huge or (allow_zero and seconds < 0) or (not allow_zero and seconds <= 0) then
    fail('ERR ' .. name .. (allow_zero and ' must be a non-negative number' or ' must be a positive number'))
  end
  if seconds > 1000000000 then fail('ERR ' .. name .. ' must be at most 1000000000 seconds') end
  if seconds > 9007199 then fail('ERR ' .. name .. ' must be at most 9007199 seconds in backend mode') end
  local scaled = seconds * 1e9
  local nanoseconds = math.floor(scaled)
  if scaled - nanoseconds >= 0.5 then nanoseconds = nanoseconds + 1 end
  if seconds > 0 and nanoseconds < 1 then fail('ERR ' .. name .. ' must be at least one nanosecond') end
  return nanoseconds
end

-- One call's reply, or its error (raised by fail) as an error reply. Any other error
-- (a bug, SCRIPT KILL) ends the whole script run, as it would a single call.
local function run(main, keys, argv)
  local ok, reply = pcall(main, keys, argv)
  if ok then return reply end
  if type(reply) == 'table' and reply.sluice then return redis.error_reply(reply.sluice) end
  error(reply, 0)
end

-- A table that lives for one BATCH (nil for a single call): a script may keep there the
-- arguments it already checked, since a batch's calls often share them (a call that
-- repeats the previous one's arguments gets the same argv table).
local batch_memo

-- The script run's reply: main's for a single call. A batch is several calls in one run,
-- as Sluice sends runs of them (one EVALSHA instead of many; each call decides exactly
-- as alone, in order, with TIME read once):
--   EVALSHA <sha> <total keys> <each call's keys...> BATCH <calls> [<key count> <argument count> <arguments...>]...
-- An argument count of '=' (and no arguments) repeats the previous call's arguments:
-- rate limits are mostly the same limits on many keys, and Redis then has fewer
-- arguments to read. Every key is in KEYS, as Redis Cluster requires. The reply is the
-- array of the calls' replies, errors as error elements.
local function serve(main)
  if ARGV[1] ~= 'BATCH' then return run(main, KEYS, ARGV) end
  -- Checks the whole framing before any call runs, so a bad batch changes nothing. Each
  -- call is kept as where its keys start, how many, and its argv, in three flat arrays,
  -- and its keys are copied into one table reused from call to call: two tables per call
  -- fewer to make and collect.
  local total, key_total, argument_total = tonumber(ARGV[2]) or -1, #KEYS, #ARGV
  local starts, counts, argvs = {}, {}, {}
  local calls, key, argument = 0, 1, 3
  for index = 1, total do
    local key_count, argument_count = tonumber(ARGV[argument]), tonumber(ARGV[argument + 1])
    local argv
    if ARGV[argument + 1] == '=' and index > 1 then argv, argument_count = argvs[index - 1], 0 end
    if not (key_count and argument_count and key_count >= 0 and argument_count >= 0 and key + key_count - 1 <= key_total and argument + 1 + argument_count <= argument_total) then
      break
    end
    if not argv then
      argv = {}
      for offset = 1, argument_count do argv[offset] = ARGV[argument + 1 + offset] end
    end
    starts[index], counts[index], argvs[index] = key, key_count, argv
    key, argument = key + key_count, argument + 2 + argument_count
    calls = index
  end
  if calls ~= total or key ~= key_total + 1 or argument ~= argument_total + 1 then
    return redis.error_reply('ERR usage: BATCH calls, then each call\'s key count, argument count and arguments')
  end
  local replies, keys, previous = {}, {}, 0
  batch_memo = {}
  for index = 1, calls do
    local start, count = starts[index], counts[index]
    for offset = 1, count do keys[offset] = KEYS[start + offset - 1] end
    for offset = count + 1, previous do keys[offset] = nil end
    previous = count
    replies[index] = run(main, keys, argvs[index])
  end
  return replies
end
-- ---- end of shared helpers ----

local ZERO = {0, 0}

-- The stored counter (nil when absent; an empty string reads as 0, as dramatiq's int(value or 0)).
local function read_counter(key)
  local value = call('GET', key)
  if not value then return nil end
  if value == '' then return ZERO end
  local number = parse_int(value)
  if not number then fail('ERR value is not an integer or out of range') end
  return number
end

local function integer_argument(text, name)
  local number = parse_int(text)
  if not number then fail('ERR ' .. name .. ' must be an integer') end
  return number
end

local function ttl_argument(text)
  local ttl = parse_int(text)
  if not ttl or compare(ttl, ZERO) <= 0 then fail('ERR ttl must be a positive integer') end
  return ttl
end

-- SET value with the deadline now + ttl_ms in whole milliseconds, as SET ... PX (Redis
-- keeps a key through its deadline's millisecond), capped at the last millisecond an
-- Int64 nanosecond instant reaches (as in-memory mode).
local function store(key, now, value, ttl)
  local deadline = now[1] * 1000 + math.floor(now[2] / 1000000)
  deadline = math.min(deadline + ttl[1] * B + ttl[2], 9223372036854)
  call('SET', key, format_int(value), 'PXAT', string.format('%d', deadline))
end

local function checked(value)
  if compare(value, INT64_MIN) < 0 or compare(value, INT64_MAX) > 0 then
    fail('ERR increment or decrement would overflow')
  end
  return value
end

-- KEYS and ARGV are this call's (a batch runs main once per call).
local function main(KEYS, ARGV)
  local now, count = read_now(ARGV)
  local operation = string.lower(ARGV[1] or '')
  if #KEYS < 1 then fail('ERR the counter key is KEYS[1]') end
  local key = KEYS[1]
  if operation == 'add' then
    if count ~= 3 then fail('ERR usage: add value ttl_ms [NOW ns]') end
    local value = integer_argument(ARGV[2], 'value')
    local ttl = ttl_argument(ARGV[3])
    if read_counter(key) then return 0 end
    store(key, now, value, ttl)
    return 1
  end
  local bound_name = ({incr = 'maximum', decr = 'minimum', incr_and_sum = 'maximum'})[operation]
  if not bound_name or count ~= 4 then
    fail('ERR usage: incr amount maximum ttl_ms | decr amount minimum ttl_ms | incr_and_sum amount maximum ttl_ms, then [NOW ns]; or add value ttl_ms [NOW ns]')
  end
  local amount = integer_argument(ARGV[2], 'amount')
  local bound = integer_argument(ARGV[3], bound_name)
  local ttl = ttl_argument(ARGV[4])
  local current = read_counter(key) or ZERO

  if operation == 'decr' then
    local value = add(current, negate(amount))
    if compare(value, bound) < 0 then return 0 end
    store(key, now, checked(value), ttl)
    return 1
  end

  local summed = {}
  if operation == 'incr_and_sum' then
    -- Every key is read (and type-checked) before deciding, as in-memory mode does.
    for index = 2, #KEYS do summed[#summed + 1] = read_counter(KEYS[index]) or ZERO end
  end
  local value = add(current, amount)
  if compare(value, bound) > 0 then return 0 end
  if operation == 'incr_and_sum' then
    local total = amount
    for _, summand in ipairs(summed) do total = add(total, summand) end
    if compare(total, bound) > 0 then return 0 end
  end
  store(key, now, checked(value), ttl)
  return 1
end

return serve(main)
