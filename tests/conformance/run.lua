-- tests/conformance/run.lua - the EQL conformance runner (make conformance)
--
-- Reads the public EQL suite from ../shared/conformance/eql/ (reference data
-- outside the project: its AGPL licence keeps it out of the product), turns
-- every `sequence` query into a moonwatch rule with eql2lua.lua, runs
-- bin/moonwatch over the suite's events and compares the matched event ids
-- (all events of every completed sequence, in completion order, after the
-- query's pipes) with the expected ones. Prints one line per query, then
-- "conformance: N passed, M failed (of T sequence queries)". Failures that
-- are explained in docs/CONFORMANCE.md are listed with their reason; the exit
-- status is non-zero when the pass rate is under 95% or a failure is not one
-- of the explained ones. Absent suite folder: prints why and exits 0.
--
-- usage: lua5.4 tests/conformance/run.lua [SUITE_DIR] [MOONWATCH_BIN]

local dir = arg[1] or "../shared/conformance/eql"
local bin = arg[2] or "bin/moonwatch"
package.path = "tests/conformance/?.lua;" .. package.path
local eql2lua = require("eql2lua")

-- Failures we expect, each explained in docs/CONFORMANCE.md.
local EXPLAINED = {
  [93] = "length() join key: null for numbers, and only PyEQL joins null keys (R9)",
  [143] = "fork=true: Endgame-only (R18)",
}

local function readfile(p)
  local f = io.open(p, "rb")
  if not f then
    return nil
  end
  local s = f:read("a")
  f:close()
  return s
end

local toml = readfile(dir .. "/test_queries.toml")
local data_path = dir .. "/test_data.json"
if not toml or not readfile(data_path) then
  print("conformance: skipped: the EQL suite is not at " .. dir
        .. " (reference data outside the project; see docs/CONFORMANCE.md)")
  print("conformance: 0 passed, 0 failed (skipped)")
  os.exit(0)
end

-- A minimal reader for the suite's TOML: [[queries]] tables whose keys hold
-- '''...''' / """...""" / '...' / "..." strings, integer arrays (possibly
-- over several lines) and booleans.
local function parse_queries(s)
  local out, cur = {}, nil
  local i = 1
  while i <= #s do
    local line_end = s:find("\n", i, true) or #s + 1
    local line = s:sub(i, line_end - 1)
    if line:match("^%s*%[%[queries%]%]") then
      cur = {}
      out[#out + 1] = cur
      i = line_end + 1
    else
      local key, rest = line:match("^%s*([%w_]+)%s*=%s*(.*)$")
      if key and cur then
        local vstart = i + #line - #rest
        local delim = rest:match("^'''") or rest:match('^"""')
        if delim then
          local close = s:find(delim, vstart + 3, true)
          cur[key] = s:sub(vstart + 3, close - 1)
          i = (s:find("\n", close, true) or #s) + 1
        elseif rest:match("^%[") then
          local close = s:find("]", vstart, true)
          local ids = {}
          for n in s:sub(vstart + 1, close - 1):gmatch("%-?%d+") do
            ids[#ids + 1] = tonumber(n)
          end
          cur[key] = ids
          i = (s:find("\n", close, true) or #s) + 1
        else
          local sq = rest:match("^'(.-)'") or rest:match('^"(.-)"')
          cur[key] = sq or rest
          i = line_end + 1
        end
      else
        i = line_end + 1
      end
    end
  end
  return out
end

-- Events: the suite's JSON array as NDJSON with an RFC 3339 @timestamp made
-- from the FILETIME ticks with 64-bit integers (jq's doubles would round
-- them), in file order, which is the order the expectations assume.
local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. tmp))
local events = tmp .. "/events.ndjson"
local function ticks_to_rfc3339(t)
  local secs = t // 10000000 - 11644473600
  local frac = t % 10000000 // 10
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%06dZ", frac)
end
do
  local ticks = {}
  for n in readfile(data_path):gmatch('"timestamp":%s*(%d+)') do
    ticks[#ticks + 1] = math.tointeger(tonumber(n)) or error("bad timestamp " .. n)
  end
  local p = io.popen("jq -c '.[]' " .. data_path)
  local f = io.open(events, "w")
  local k = 0
  for line in p:lines() do
    k = k + 1
    f:write('{"@timestamp":"', ticks_to_rfc3339(ticks[k]), '",', line:sub(2), "\n")
  end
  p:close()
  f:close()
  assert(k == #ticks and k > 0, "events and timestamps do not line up")
end

local function run_rule(rule_path)
  -- The default --max-lateness (5m) places the data's one step back in time
  -- (44 ms, id 75304) in order, as the expectations assume (#94 needs it;
  -- with --max-lateness 0s that event is refused as too late). --max-future
  -- off: the data's clock is what it is.
  local cmd = string.format("%s run --rules %s --summary none --max-future off "
    .. "%s 2>%s/err | jq -c '[.moonwatch.events[].event.serial_event_id]'",
    bin, rule_path, events, tmp)
  local p = io.popen(cmd)
  local seqs = {}
  for line in p:lines() do
    local ids = {}
    for n in line:gmatch("%-?%d+") do
      ids[#ids + 1] = tonumber(n)
    end
    seqs[#seqs + 1] = ids
  end
  p:close()
  return seqs
end

local function apply_pipes(seqs, pipes)
  for _, p in ipairs(pipes) do
    local out = {}
    if p.op == "head" then
      for i = 1, math.min(p.n, #seqs) do
        out[#out + 1] = seqs[i]
      end
    elseif p.op == "tail" then
      for i = math.max(1, #seqs - p.n + 1), #seqs do
        out[#out + 1] = seqs[i]
      end
    else
      assert(p.field == "serial_event_id", "filter on " .. p.field)
      for _, s in ipairs(seqs) do
        if s[p.index] == p.value then
          out[#out + 1] = s
        end
      end
    end
    seqs = out
  end
  return seqs
end

local function flat(seqs)
  local t = {}
  for _, s in ipairs(seqs) do
    for _, id in ipairs(s) do
      t[#t + 1] = id
    end
  end
  return table.concat(t, ",")
end

local queries = parse_queries(toml)
local pass, failn, total, unexplained = 0, 0, 0, 0
for n, qy in ipairs(queries) do
  if type(qy.query) == "string" and qy.query:match("^%s*sequence") then
    total = total + 1
    local want = flat({ qy.expected_event_ids or {} })
    local id = "eql-" .. n
    local src, pipes = eql2lua.translate(qy.query, id)
    local got, why
    if src then
      local rule_path = string.format("%s/q%03d.lua", tmp, n)
      local f = io.open(rule_path, "w")
      f:write(src)
      f:close()
      got = flat(apply_pipes(run_rule(rule_path), pipes))
      if got == "" and (readfile(tmp .. "/err") or ""):match("error") then
        why = "moonwatch: " .. readfile(tmp .. "/err"):gsub("\n.*", "")
      end
    else
      why = "not translated: " .. pipes
    end
    if src and got == want and not why then
      pass = pass + 1
      print(string.format("ok   #%d", n))
    else
      failn = failn + 1
      local reason = why or string.format("got [%s], want [%s]", got or "", want)
      if EXPLAINED[n] then
        print(string.format("FAIL #%d (explained: %s) %s", n, EXPLAINED[n], reason))
      else
        unexplained = unexplained + 1
        print(string.format("FAIL #%d (UNEXPLAINED) %s", n, reason))
      end
    end
  end
end
os.execute("rm -rf " .. tmp)
print(string.format("conformance: %d passed, %d failed (of %d sequence queries, %.1f%%)",
                    pass, failn, total, total > 0 and 100 * pass / total or 0))
os.exit((unexplained == 0 and pass * 100 >= 95 * total) and 0 or 1)
