-- Sluice backend mode: redis-cell's GCRA (CL.THROTTLE), the same answers as
-- SluiceCore.CellThrottle, as one atomic script.
--
--   EVAL <script> 1 key max_burst count_per_period period_s quantity [NOW ns]
--
-- Reply: {limited 1|0, limit, remaining, retry_after_s, reset_after_s,
-- retry_after_ns, reset_after_ns}: redis-cell's five integers (seconds rounded up,
-- retry_after -1 when allowed or when quantity exceeds the limit), then the same two
-- durations in nanoseconds.
-- State: the TAT (theoretical arrival time), nanoseconds since the epoch, as a decimal
-- string (TYPE string, as in-memory mode and redis-cell); deadline by PXAT at the
-- TAT's millisecond, so the key is gone once the bucket is full.
-- Backend mode refuses rates whose burst window (period / count_per_period x
-- (max_burst + 1)) reaches 2^53 ns, about 104 days.
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

-- Positive nanoseconds in whole units, rounded up.
local function ceiling(nanoseconds, unit)
  local quotient = divide(nanoseconds, unit)
  if quotient * unit < nanoseconds then return quotient + 1 end
  return quotient
end

-- Whole seconds in a non-negative pair, rounded up.
local function pair_seconds(a)
  return a[1] + (a[2] > 0 and 1 or 0)
end

-- The reply when the new TAT would be 2^53 ns or more ahead of now, which only a stored
-- value written by hand makes (the burst window is below 2^53 ns): limited, as the TAT is
-- then past the window, and nothing is written. The seconds come from `far`, the exact
-- distance to the TAT; the nanoseconds past 2^53 are rounded numbers, which Sluice then
-- replaces by the seconds.
local function far_ahead(far, limit, increment, tolerance, quantity)
  -- The last double below 2^63, which Redis's integer cast still takes.
  local function nanoseconds(a) return math.min(difference(a, {0, 0}), 9223372036854774784) end
  if quantity > limit then
    return {1, limit, 0, -1, pair_seconds(far), -1, nanoseconds(far)}
  end
  local retry = later(far, increment - tolerance)
  return {1, limit, 0, pair_seconds(retry), pair_seconds(far), nanoseconds(retry), nanoseconds(far)}
end

-- KEYS and ARGV are this call's (a batch runs main once per call).
local function main(KEYS, ARGV)
  local now, count = read_now(ARGV)
  if count ~= 4 or #KEYS ~= 1 then
    fail('ERR usage: 1 key, then max_burst count_per_period period_s quantity [NOW ns]')
  end
  -- Parse errors first, then range errors, as in-memory mode.
  local max_burst = parse_int(ARGV[1])
  if not max_burst then fail('ERR max_burst must be a non-negative integer') end
  local per_period = parse_int(ARGV[2])
  if not per_period then fail('ERR count_per_period must be a positive integer') end
  if not (type(ARGV[3]) == 'string' and tonumber(ARGV[3])) then fail('ERR period must be a positive number') end
  local quantity = parse_int(ARGV[4])
  if not quantity or quantity[1] < 0 then fail('ERR quantity must be a non-negative integer') end
  local period = tonumber(ARGV[3]) == 0 and 0 or seconds_argument(ARGV[3], 'period', false)
  if max_burst[1] < 0 then fail('ERR max_burst must be a non-negative integer') end
  if per_period[1] < 0 then fail('ERR count_per_period must be a positive integer') end
  if period == 0 or (per_period[1] == 0 and per_period[2] == 0) then fail('ERR Zero rates are not supported') end
  -- Past 2^53 these are approximate, but then the checks below refuse the rate anyway.
  max_burst = max_burst[1] * B + max_burst[2]
  per_period = per_period[1] * B + per_period[2]
  quantity = quantity[1] * B + quantity[2]
  local emission = per_period > period and 0 or divide(period, per_period)
  if emission == 0 then fail('ERR Zero rates are not supported') end
  local limit = max_burst + 1
  local tolerance = emission * limit
  if limit > EXACT or tolerance > EXACT then
    -- Past 64 bits in-memory mode refuses the rate as well, in these words.
    if limit >= 2^63 or tolerance >= 2^63 then fail('ERR max_burst is out of range for this rate') end
    fail('ERR max_burst is out of range for this rate in backend mode')
  end

  local key = KEYS[1]
  local stored = call('GET', key)
  -- Nanoseconds from now until the stored TAT; a TAT in the past counts as now.
  local pending = 0
  if stored then
    local tat = parse_int(stored)
    if not tat then fail('ERR value is not an integer or out of range') end
    pending = math.max(0, difference(tat, now))
    -- Exact while the new TAT stays below 2^53 ns from now; past that, in pairs.
    if pending + emission * math.min(quantity, limit) > EXACT then
      return far_ahead(add(tat, negate(now)), limit, emission * quantity, tolerance, quantity)
    end
  end

  local limited, retry_after, ttl
  if quantity > limit then
    -- Larger than the whole burst: can never pass, so no retry time.
    limited, retry_after, ttl = true, -1, pending
  else
    local new_tat = pending + emission * quantity
    local allow_at = new_tat - tolerance
    if allow_at > 0 then
      limited, retry_after, ttl = true, allow_at, pending
    else
      limited, retry_after, ttl = false, -1, new_tat
      if quantity > 0 then
        call('SET', key, format_int(later(now, new_tat)), 'PXAT', deadline(now, new_tat))
      end
    end
  end
  local next = tolerance - ttl
  local remaining = next > 0 and divide(next, emission) or 0
  return {
    limited and 1 or 0, limit, remaining,
    retry_after < 0 and -1 or ceiling(retry_after, 1000000000), ceiling(ttl, 1000000000),
    retry_after, ttl,
  }
end

return serve(main)
