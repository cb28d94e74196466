-- Sluice backend mode: aiosteady's leaky bucket (CONSUME, PEEK), the same answers as
-- SluiceCore.LeakyBucket, as one atomic script.
--
--   EVAL <script> 1 key consume capacity recharge_s amount block_s [NOW ns]
--   EVAL <script> 1 key peek capacity recharge_s amount block_s [NOW ns]
--
-- capacity: positive integer; recharge_s: seconds per leaked drop (fractions allowed);
-- amount: integer (negative removes drops; peek ignores it but it must parse);
-- block_s: seconds a failed consume blocks the bucket, 0 for no blocking.
-- Reply: {success 1|0, level, until_next_drop_ns, blocked_for_ns or nil}; durations are
-- integer nanoseconds because Lua has no exact decimals (the server turns them into
-- CONSUME's seconds).
-- State: a hash (TYPE hash) with fields level, last_leak (the tick phase, ns since the
-- epoch) and blocked_until (ns since the epoch, empty when not blocked); deadline by
-- PEXPIREAT as in-memory mode: level x recharge after a successful consume,
-- max(block, level x recharge) when a consume starts a block; a consume that empties
-- the bucket deletes the key.
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

local WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'

-- The stored bucket relative to now: level, last_leak and blocked_until as nanoseconds
-- from now (blocked_until nil when never blocked); nil when the key is absent.
local function read_bucket(key, now)
  local fields = call('HMGET', key, 'level', 'last_leak', 'blocked_until')
  if not fields[1] and not fields[2] and call('EXISTS', key) == 0 then return nil end
  local level = parse_int(fields[1] or '')
  local last_leak = parse_int(fields[2] or '')
  local blocked_until = fields[3] and fields[3] ~= '' and parse_int(fields[3])
  -- A hash that is not a bucket is the wrong kind of value.
  if not level or not last_leak or blocked_until == nil then fail(WRONGTYPE) end
  return {
    level = math.max(0, level[1] * B + level[2]),
    last_leak = difference(last_leak, now),
    blocked_until = blocked_until and difference(blocked_until, now) or nil,
  }
end

-- Level and tick phase after leaking up to now; a clock that went backwards leaks
-- nothing and restarts the phase at now.
local function leaked(bucket, recharge)
  local level, last_leak = bucket.level, bucket.last_leak
  if last_leak > 0 then return level, 0 end
  local ticks = divide(-last_leak, recharge)
  if ticks == 0 then return level, last_leak end
  last_leak = last_leak + ticks * recharge
  if ticks >= level then return 0, last_leak end
  return level - ticks, last_leak
end

local function write(key, now, level, last_leak, blocked_until, ttl)
  call('HSET', key, 'level', string.format('%d', level),
    'last_leak', format_int(later(now, last_leak)),
    'blocked_until', blocked_until and format_int(later(now, blocked_until)) or '')
  call('PEXPIREAT', key, deadline(now, ttl))
end

-- Nanoseconds from now to the next drop, the tick after last_leak, as in-memory mode
-- counts them: to that instant clamped to the end of the Int64 range.
local function until_next_drop(now, last_leak, recharge)
  local until_next = last_leak + recharge
  local room = difference(INT64_MAX, now)
  if until_next > room then return room end
  return until_next
end

-- The consume itself, on a bucket that is not blocked.
local function fill(key, now, level, last_leak, amount, capacity, recharge, block)
  local sum = level + amount
  if sum <= 0 then
    -- aiosteady deletes the key and reports a full recharge until the next drop.
    call('DEL', key)
    return {1, 0, recharge, false}
  end
  local until_next = until_next_drop(now, last_leak, recharge)
  if sum <= capacity then
    write(key, now, sum, last_leak, nil, sum * recharge)
    return {1, sum, until_next, false}
  end
  if not block then return {0, level, until_next, false} end
  write(key, now, level, last_leak, block, math.max(block, level * recharge))
  return {0, level, until_next, block}
end

-- capacity, recharge and amount, and block (nil for none), from `capacity recharge_s
-- amount block_s`, with in-memory mode's errors; in a batch, remembered by their text.
local function limits(argv)
  local text
  if batch_memo then
    -- By the argv table first (a repeated call's), then by the arguments' text.
    local known = batch_memo[argv]
    if not known then
      text = argv[2] .. ' ' .. argv[3] .. ' ' .. argv[4] .. ' ' .. argv[5]
      known = batch_memo[text]
    end
    if known then
      batch_memo[argv] = known
      return known[1], known[2], known[3], known[4]
    end
  end
  -- Parse errors first, then range errors, in argument order, as in-memory mode.
  local capacity = parse_int(argv[2])
  if not capacity then fail('ERR capacity must be a positive integer') end
  if not tonumber(argv[3]) then fail('ERR recharge must be a positive number') end
  local amount = parse_int(argv[4])
  if not amount then fail('ERR amount must be an integer') end
  if not tonumber(argv[5]) then fail('ERR block must be a non-negative number') end
  if capacity[1] < 0 or (capacity[1] == 0 and capacity[2] == 0) then fail('ERR capacity must be a positive integer') end
  if capacity[1] * B + capacity[2] > EXACT then fail('ERR capacity must be at most 9007199254740991 in backend mode') end
  capacity = capacity[1] * B + capacity[2]
  local recharge = seconds_argument(argv[3], 'recharge', false)
  local block = seconds_argument(argv[5], 'block', true)
  if block == 0 then block = nil end
  -- Exact whenever the result fits; beyond 2^53 only the sign matters (it cannot fit).
  amount = amount[1] * B + amount[2]
  if batch_memo then
    batch_memo[text] = {capacity, recharge, amount, block}
    batch_memo[argv] = batch_memo[text]
  end
  return capacity, recharge, amount, block
end

-- KEYS and ARGV are this call's (a batch runs main once per call).
local function main(KEYS, ARGV)
  local now, count = read_now(ARGV)
  local mode = string.lower(ARGV[1] or '')
  if (mode ~= 'consume' and mode ~= 'peek') or count ~= 5 or #KEYS ~= 1 then
    fail('ERR usage: 1 key, then consume|peek capacity recharge_s amount block_s [NOW ns]')
  end
  local capacity, recharge, amount, block = limits(ARGV)

  local key = KEYS[1]
  local bucket = read_bucket(key, now)
  if mode == 'peek' then
    if not bucket then return {1, 0, recharge, false} end
    local level, last_leak = leaked(bucket, recharge)
    local blocked_for = bucket.blocked_until and bucket.blocked_until > 0 and bucket.blocked_until or nil
    local success = not blocked_for and level < capacity
    return {success and 1 or 0, level, until_next_drop(now, last_leak, recharge), blocked_for or false}
  end
  if not bucket then return fill(key, now, 0, 0, amount, capacity, recharge, block) end
  local level, last_leak = leaked(bucket, recharge)
  if bucket.blocked_until and bucket.blocked_until > 0 then
    return {0, level, until_next_drop(now, last_leak, recharge), bucket.blocked_until}
  end
  return fill(key, now, level, last_leak, amount, capacity, recharge, block)
end

return serve(main)
