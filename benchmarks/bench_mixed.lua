-- The mixed workload's wrk script; benchmarks/bench_mixed.py prepends `KINDS` and `BOX`.
--
-- KINDS[i] = {tag, weight, method, headers, paths, bodies, cycle, shelter}: each request
-- picks a kind by weight, then a path (and body) of it; `cycle` kinds walk their list
-- (each thread its own stride, so no two requests share an entry until it wraps);
-- `shelter` builds a new shelter Feature each time. bench_mixed runs one connection per
-- wrk thread, so a thread's response() always answers its last request(): that is how
-- each status and latency is put down to its kind.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local total_weight = 0
local pos = {} -- per kind: next index of a cycle kind
-- Globals, so that done() can read them from each thread (thread:get). Flat: this wrk
-- (4.1, Debian) crashes copying nested tables between Lua states.
counts = {} -- counts["<tag> <status>"] = n
lat_kind, lat_ms = {}, {} -- per response: its kind's index in KINDS, its milliseconds
local last_kind, started = nil, 0
local seq = 0

function init(args)
  nthreads = tonumber(args[1])
  math.randomseed(id * 7919 + 17)
  for i, k in ipairs(KINDS) do
    total_weight = total_weight + k.weight
    pos[i] = id - 1
  end
end

local function pick()
  local r = math.random() * total_weight
  for i, k in ipairs(KINDS) do
    r = r - k.weight
    if r <= 0 then
      return i, k
    end
  end
  return #KINDS, KINDS[#KINDS]
end

local SHELTER_KINDS = { "park", "square", "school", "stadium", "indoor", "other" }

local function shelter_body()
  seq = seq + 1
  local lon = BOX[1] + math.random() * (BOX[3] - BOX[1])
  local lat_ = BOX[2] + math.random() * (BOX[4] - BOX[2])
  return string.format(
    '{"type":"Feature","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},'
      .. '"properties":{"name":"bench shelter %d-%d","capacity":%d,"kind":"%s",'
      .. '"area_m2":%.1f,"status":"open"}}',
    lon, lat_, id, seq, math.random(50, 5000), SHELTER_KINDS[math.random(#SHELTER_KINDS)],
    200 + math.random() * 50000
  )
end

function request()
  local i, k = pick()
  local j
  if k.cycle then
    j = (pos[i] % #k.paths) + 1
    pos[i] = pos[i] + nthreads
  else
    j = math.random(#k.paths)
  end
  local body = nil
  if k.shelter then
    body = shelter_body()
  elseif k.bodies then
    body = k.bodies[math.random(#k.bodies)]
  end
  last_kind, started = i, now_ms()
  return wrk.format(k.method, k.paths[j], k.headers, body)
end

function response(status, headers, body)
  if last_kind == nil then
    return
  end
  local key = KINDS[last_kind].tag .. " " .. status
  counts[key] = (counts[key] or 0) + 1
  lat_kind[#lat_kind + 1] = last_kind
  lat_ms[#lat_ms + 1] = now_ms() - started
  last_kind = nil
end

local function percentile(sorted, p)
  if #sorted == 0 then
    return 0
  end
  local i = math.max(1, math.ceil(p * #sorted))
  return sorted[i]
end

function done(summary, latency, requests)
  local all_counts, all_lat = {}, {}
  for _, t in ipairs(threads) do
    for key, n in pairs(t:get("counts")) do
      all_counts[key] = (all_counts[key] or 0) + n
    end
    local kinds, ms = t:get("lat_kind"), t:get("lat_ms")
    for j = 1, #kinds do
      local tag = KINDS[kinds[j]].tag
      all_lat[tag] = all_lat[tag] or {}
      table.insert(all_lat[tag], ms[j])
    end
  end
  -- One line per kind and status, and per kind its latency: bench_mixed.py parses these.
  for key, n in pairs(all_counts) do
    io.write(string.format("MIXED status %s %d\n", key, n))
  end
  for tag, ms in pairs(all_lat) do
    table.sort(ms)
    io.write(string.format(
      "MIXED latency %s %d %.2f %.2f %.2f\n",
      tag, #ms, percentile(ms, 0.5), percentile(ms, 0.99), ms[#ms]
    ))
  end
end
