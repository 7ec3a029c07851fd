-- The one wrk script of the Portcullis load-test harness.
--
-- bench/run.py writes a small prelude per run that defines the global table BENCH and then
-- loads this file (dofile); wrk runs it in its main Lua state (setup, done) and in one state
-- per thread (init, request, response). BENCH holds:
--
--   out       = path of the JSON result file written by done()
--   threads   = the -t given to wrk (each thread takes every threads-th line of a pool)
--   addrs     = { {host, port}, ... } ; thread i connects to addrs[i % #addrs + 1]
--   check     = true to see every response (non-2xx counted by status, a sample kept);
--               false for static scenarios, where wrk's own count of statuses > 399 is used
--   redirect_ok = true when 3xx answers are expected (minting authorization codes)
--   check_every = look at the body of every Nth answer only (1: every answer); statuses are
--               always counted
--   items     = { {weight, method, path, headers, body | body_prefix + pool_file, mode,
--                  expect, status}, ... }
--               expect: strings that a right answer's body contains, all of them (plain
--                       substrings, no patterns: one string.find each); with several items the
--                       answer cannot be told apart from its request (responses of a thread's
--                       connections interleave), so it is right when it meets any item's list
--               status: the one status a right answer has (otherwise any 2xx)
--               mode: "static"  one fixed request
--                     "cycle"   body_prefix .. next pool line, round and round
--                     "wrap"    each pool line once; when used up, start again, counted as wrapped
--                     "once"    each pool line once; when used up the thread stops (exhausted)
--                     "chain"   pop a pool line; a 2xx body's refresh_token is pushed back
--                               (refresh-token rotation: one live token per connection)
--   collect   = { kind = "json", field = "access_token", file = PATH, max = N }
--               or { kind = "location", param = "code", file = PATH, max = N }:
--               keep that value from each answer and write them to file (minting pools)
--   rate      = this thread's requests per second (run.py --sustained), or nil: as fast as the
--               connections go (see delay() at the end)
--
-- Nothing here sends a request anywhere but to the addresses in BENCH.addrs, which run.py only
-- ever fills with 127.0.0.1.

local B = BENCH
local items = B.items

-- ---------------------------------------------------------------- main state: setup / done

local threads = {}
local thread_count = 0

function setup(thread)
  local a = B.addrs[(thread_count % #B.addrs) + 1]
  local resolved = wrk.lookup(a[1], tostring(a[2]))
  thread.addr = resolved[1]
  thread:set("tid", thread_count)
  thread:set("nthreads", B.threads)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local function json_string(s)
  s = tostring(s)
  s = s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == '\\' then return '\\\\' end
    return string.format('\\u%04x', string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local non2xx, wrapped, starved, exhausted, completed_lua = 0, 0, 0, 0, 0
  local late, dropped, max_lag = 0, 0, 0
  local wrong, inspected = 0, 0
  local statuses = {}
  local sample, wrong_sample = nil, nil
  local collected = {}
  for _, t in ipairs(threads) do
    non2xx = non2xx + (t:get("non2xx") or 0)
    wrapped = wrapped + (t:get("wrapped") or 0)
    starved = starved + (t:get("starved") or 0)
    exhausted = exhausted + (t:get("exhausted") or 0)
    completed_lua = completed_lua + (t:get("seen") or 0)
    late = late + (t:get("late") or 0)
    dropped = dropped + (t:get("dropped") or 0)
    max_lag = math.max(max_lag, t:get("max_lag") or 0)
    wrong = wrong + (t:get("wrong") or 0)
    inspected = inspected + (t:get("inspected") or 0)
    if wrong_sample == nil then wrong_sample = t:get("wrong_sample") end
    local st = t:get("statuses") or {}
    for k, v in pairs(st) do statuses[k] = (statuses[k] or 0) + v end
    if sample == nil then sample = t:get("sample") end
    if B.collect then
      local c = t:get("collected") or {}
      for _, v in ipairs(c) do table.insert(collected, v) end
    end
  end
  if B.collect then
    local f = assert(io.open(B.collect.file, "w"))
    for _, v in ipairs(collected) do f:write(v, "\n") end
    f:close()
  end
  if not B.check then
    non2xx = summary.errors.status
  end
  local parts = {}
  local function add(k, v) table.insert(parts, json_string(k) .. ":" .. v) end
  add("duration_us", string.format("%d", summary.duration))
  add("requests", string.format("%d", summary.requests))
  add("bytes", string.format("%d", summary.bytes))
  add("errors_connect", string.format("%d", summary.errors.connect))
  add("errors_read", string.format("%d", summary.errors.read))
  add("errors_write", string.format("%d", summary.errors.write))
  add("errors_status", string.format("%d", summary.errors.status))
  add("errors_timeout", string.format("%d", summary.errors.timeout))
  add("non2xx", string.format("%d", non2xx))
  add("checked_by_script", B.check and "true" or "false")
  add("wrong_answers", string.format("%d", wrong))
  add("inspected_answers", string.format("%d", inspected))
  add("check_every", string.format("%d", B.check_every or 1))
  add("wrapped", string.format("%d", wrapped))
  add("starved", string.format("%d", starved))
  add("exhausted_threads", string.format("%d", exhausted))
  add("collected", string.format("%d", #collected))
  add("late_sends", string.format("%d", late))
  add("dropped_slots", string.format("%d", dropped))
  add("max_lag_ms", string.format("%.1f", max_lag))
  add("latency_min_us", string.format("%.1f", latency.min))
  add("latency_mean_us", string.format("%.1f", latency.mean))
  add("latency_max_us", string.format("%.1f", latency.max))
  add("latency_stdev_us", string.format("%.1f", latency.stdev))
  add("p50_us", string.format("%.1f", latency:percentile(50)))
  add("p90_us", string.format("%.1f", latency:percentile(90)))
  add("p99_us", string.format("%.1f", latency:percentile(99)))
  add("p999_us", string.format("%.1f", latency:percentile(99.9)))
  local st = {}
  for k, v in pairs(statuses) do table.insert(st, json_string(k) .. ":" .. string.format("%d", v)) end
  add("statuses", "{" .. table.concat(st, ",") .. "}")
  add("sample", sample and json_string(sample) or "null")
  add("wrong_sample", wrong_sample and json_string(wrong_sample) or "null")
  local f = assert(io.open(B.out, "w"))
  f:write("{", table.concat(parts, ","), "}\n")
  f:close()
end

-- ------------------------------------------------------------ thread states: init / request

-- Smooth weighted round robin: weights {7, 2, 1} give a fixed, interleaved order of 10.
local function build_schedule()
  local total, current, schedule = 0, {}, {}
  for i, it in ipairs(items) do
    total = total + it.weight
    current[i] = 0
  end
  for _ = 1, total do
    local best = nil
    for i, it in ipairs(items) do
      current[i] = current[i] + it.weight
      if best == nil or current[i] > current[best] then best = i end
    end
    current[best] = current[best] - total
    table.insert(schedule, best)
  end
  return schedule
end

local schedule = build_schedule()
local dynamic = #items > 1
for _, it in ipairs(items) do
  if it.mode ~= "static" then dynamic = true end
end

local chain_item = nil

function init(args)
  n = 0
  seen = 0
  non2xx = 0
  wrapped = 0
  starved = 0
  exhausted = 0
  statuses = {}
  sample = nil
  wrong = 0
  inspected = 0
  wrong_sample = nil
  collected = {}
  for _, it in ipairs(items) do
    if it.mode == "static" then
      it.req = wrk.format(it.method, it.path, it.headers, it.body)
    else
      it.pool = {}
      it.pos = 1
      it.wrapping = false
      local k = 0
      for line in io.lines(it.pool_file) do
        if line ~= "" then
          if k % nthreads == tid then table.insert(it.pool, line) end
          k = k + 1
        end
      end
      it.last = it.pool[1] or "none"
      if it.mode == "chain" then chain_item = it end
    end
  end
end

if dynamic then
  function request()
    local it = items[schedule[(n % #schedule) + 1]]
    n = n + 1
    local mode = it.mode
    if mode == "static" then return it.req end
    local pool = it.pool
    local tok
    if mode == "cycle" then
      tok = pool[it.pos]
      it.pos = it.pos % #pool + 1
    elseif mode == "wrap" then
      if it.pos > #pool then
        it.pos = 1
        it.wrapping = true
      end
      if it.wrapping then wrapped = wrapped + 1 end
      tok = pool[it.pos]
      it.pos = it.pos + 1
    elseif mode == "once" then
      if it.pos > #pool then
        if exhausted == 0 then
          exhausted = 1
          wrk.thread:stop()
        end
        tok = it.last
      else
        tok = pool[it.pos]
        it.pos = it.pos + 1
      end
    else -- chain
      tok = table.remove(pool)
      if tok == nil then
        starved = starved + 1
        tok = it.last
      end
    end
    if tok == nil then tok = "none" end
    it.last = tok
    return wrk.format(it.method, it.path, it.headers, it.body_prefix .. tok .. (it.body_suffix or ""))
  end
else
  local it = items[1]
  wrk.method = it.method
  wrk.path = it.path
  wrk.headers = it.headers
  wrk.body = it.body
end

-- Whether an answer is right for item it: its status, then each expected substring.
local function right_for(it, status, body)
  if it.status ~= nil and status ~= it.status then return false end
  local expect = it.expect
  if expect == nil then return true end
  for i = 1, #expect do
    if not string.find(body, expect[i], 1, true) then return false end
  end
  return true
end

local check_every = B.check_every or 1
local expecting = false
for _, it in ipairs(items) do
  if it.expect ~= nil or it.status ~= nil then expecting = true end
end

local function right(status, body)
  if #items == 1 then return right_for(items[1], status, body) end
  for _, it in ipairs(items) do
    if right_for(it, status, body) then return true end
  end
  return false
end

if B.check or B.collect then
  function response(status, headers, body)
    seen = seen + 1
    local ok = status >= 200 and status <= 299
    if not ok and B.redirect_ok and status >= 300 and status <= 399 then ok = true end
    if not ok then
      non2xx = non2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
      if sample == nil then
        sample = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
      return
    end
    if expecting and seen % check_every == 0 then
      inspected = inspected + 1
      if not right(status, body or "") then
        wrong = wrong + 1
        if wrong_sample == nil then
          wrong_sample = tostring(status) .. " " .. string.sub(body or "", 1, 300)
        end
      end
    end
    if chain_item ~= nil then
      local rt = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
      if rt ~= nil then table.insert(chain_item.pool, rt) end
    end
    local c = B.collect
    if c ~= nil and #collected < c.max then
      local v
      if c.kind == "json" then
        v = string.match(body, '"' .. c.field .. '"%s*:%s*"([^"]+)"')
      else
        local loc = headers["Location"] or headers["location"]
        if loc ~= nil then v = string.match(loc, "[?&]" .. c.param .. "=([^&]+)") end
      end
      if v ~= nil then
        table.insert(collected, v)
        if #collected >= c.max then wrk.thread:stop() end
      end
    end
  end
end

-- ------------------------------------------------------------ rate limiting (--sustained)

-- wrk (4.x, Debian's) has no rate option and wrk2 is not packaged, so the rate is kept here: wrk calls
-- delay() before each request of a connection and sends it that many milliseconds later. Every call books
-- the thread's next send slot, 1/rate seconds after the one before, so the thread sends `rate` requests a
-- second, evenly spaced, however many connections it has. When a slot has already passed (every connection
-- was waiting for an answer when it came), the request goes at once and the thread catches up, as clients
-- that keep arriving would; such a send is counted late (more than 1 ms after its slot) with its lag, and
-- a backlog of more than CATCH_UP_MS is dropped (counted) rather than sent in one burst. Latency is timed
-- from the actual send, as wrk always does, so a late request's lag is not in it (coordinated omission is
-- not corrected): run.py reports the late sends and the worst lag beside the latency.
if B.rate ~= nil then
  local ffi = require("ffi")  -- wrk runs LuaJIT; its os.* clocks have no millisecond resolution
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local CLOCK_MONOTONIC = 1
  local CATCH_UP_MS = 1000
  local ts = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = 1000 / B.rate
  local next_slot = nil
  late, dropped, max_lag = 0, 0, 0  -- globals: done() reads them from each thread

  function delay()
    local now = now_ms()
    if next_slot == nil then next_slot = now end
    local wait = next_slot - now
    if wait < -CATCH_UP_MS then
      dropped = dropped + math.floor((-wait - CATCH_UP_MS) / interval)
      next_slot = now - CATCH_UP_MS
      wait = -CATCH_UP_MS
    end
    next_slot = next_slot + interval
    if wait < -1 then
      late = late + 1
      if -wait > max_lag then max_lag = -wait end
    end
    -- wrk's timers count whole milliseconds; rounding moves a send by at most half of one, and the
    -- slots themselves stay 1/rate apart, so the rate over a run is exact
    if wait <= 0 then return 0 end
    return math.floor(wait + 0.5)
  end
end
