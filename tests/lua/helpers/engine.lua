--[[
tests/lua/helpers/engine.lua - drive the real moonwatch engine from busted

Specs get the C engine's exact semantics (matchers, sequences, alerts) by
running bin/moonwatch: a session collects events, then `run()` writes them to
a temporary NDJSON file, runs `moonwatch run --alert-time event --summary json`
over it with the rule, and decodes the alerts (stdout) and the summary
(stderr) with dkjson (installed with busted).

  local engine = require("helpers.engine")
  local s = engine.session("rules/azure/sp_signin_then_arc_credential_access.lua")
  s:at("2025-10-14T09:00:00Z")            -- the virtual clock
  s:feed(signin)                          -- a Lua table (stamped with the clock
  s:advance("4m12s")                      --   when it has no @timestamp) ...
  s:feed('{"@timestamp": ..., ...}')      -- ... or a JSON line, used as is
  local alerts, summary = s:run()
  assert.equals(1, #alerts)

Events are fed in the order given (one input, like a file). Time only moves
with the events: nothing waits for the wall clock. `run()` may be called
again after more feeds; it replays everything fed so far from a fresh state.
Set MW_BIN to test another binary (default bin/moonwatch).
]]

local json = require("dkjson")

local M = {}

local BIN = os.getenv("MW_BIN") or "bin/moonwatch"

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- "4m12s", "30m", "1h", "500ms", "2s" (compound forms allowed) -> seconds
local function seconds(d)
  if type(d) == "number" then
    return d
  end
  local total, rest = 0, d
  for n, unit in d:gmatch("(%d+%.?%d*)(%a+)") do
    local f = ({ ms = 0.001, s = 1, m = 60, h = 3600, d = 86400 })[unit]
    assert(f, "unknown duration unit in " .. d)
    total = total + tonumber(n) * f
    rest = rest:gsub(n .. unit, "", 1)
  end
  assert(rest == "", "bad duration " .. d)
  return total
end

-- RFC 3339 UTC ("2025-10-14T09:00:00Z", optional fraction) <-> epoch seconds
local function parse_time(s)
  local y, mo, d, h, mi, sec, frac = s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)(%.?%d*)Z$")
  assert(y, "use UTC RFC 3339 times like 2025-10-14T09:00:00Z (got " .. s .. ")")
  -- days from civil (Howard Hinnant), no os.time timezone surprises
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then
    y = y - 1
  end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
         + (frac ~= "" and tonumber("0" .. frac) or 0)
end

local function format_time(t)
  local whole = math.floor(t)
  local ms = math.floor((t - whole) * 1000 + 0.5)
  return os.date("!%Y-%m-%dT%H:%M:%S", whole) .. string.format(".%03dZ", ms)
end

M.parse_time, M.format_time, M.seconds = parse_time, format_time, seconds

local Session = {}
Session.__index = Session

-- A session for one rule file (or folder) and optional extra `run` options.
function M.session(rules, opts)
  return setmetatable({ rules = rules, opts = opts or {}, lines = {}, now = nil }, Session)
end

-- Sets the virtual clock ("2025-10-14T09:00:00Z").
function Session:at(ts)
  self.now = parse_time(ts)
  return self
end

-- Moves the virtual clock forward ("4m12s", or seconds).
function Session:advance(d)
  assert(self.now, "set the clock with :at(...) first")
  self.now = self.now + seconds(d)
  return self
end

-- Adds an event: a JSON string (as is) or a table (copied; stamped with the
-- clock when it has no "@timestamp").
function Session:feed(ev)
  if type(ev) == "string" then
    self.lines[#self.lines + 1] = ev
    return self
  end
  local copy = {}
  for k, v in pairs(ev) do
    copy[k] = v
  end
  if copy["@timestamp"] == nil then
    assert(self.now, "event without @timestamp and no clock set")
    copy["@timestamp"] = format_time(self.now)
  end
  self.lines[#self.lines + 1] = json.encode(copy)
  return self
end

-- Runs the engine over everything fed. Returns alerts (list of tables), the
-- JSON summary (table) and the raw stderr text.
function Session:run()
  local input = os.tmpname()
  local errf = os.tmpname()
  local f = assert(io.open(input, "w"))
  for _, l in ipairs(self.lines) do
    f:write(l, "\n")
  end
  f:close()
  local cmd = { BIN, "run", "--rules", shell_quote(self.rules), "--alert-time", "event",
                "--summary", "json" }
  for _, o in ipairs(self.opts) do
    cmd[#cmd + 1] = shell_quote(o)
  end
  cmd[#cmd + 1] = shell_quote(input)
  cmd[#cmd + 1] = "2>" .. shell_quote(errf)
  local p = assert(io.popen(table.concat(cmd, " "), "r"))
  local out = p:read("a")
  local ok, _, code = p:close()
  local ef = assert(io.open(errf, "r"))
  local err = ef:read("a")
  ef:close()
  os.remove(input)
  os.remove(errf)
  assert(ok, string.format("moonwatch exited %s:\n%s", tostring(code), err))
  local alerts = {}
  for line in out:gmatch("[^\n]+") do
    local a, _, e = json.decode(line, 1, json.null)
    assert(a, "bad alert JSON: " .. tostring(e))
    alerts[#alerts + 1] = a
  end
  local summary
  for line in err:gmatch("[^\n]+") do
    if line:sub(1, 1) == "{" then
      summary = json.decode(line, 1, json.null)
    end
  end
  return alerts, summary, err
end

-- The rule's statistics in a summary, by id.
function M.rule_stats(summary, id)
  for _, r in ipairs(summary and summary.rules or {}) do
    if r.id == id then
      return r
    end
  end
end

return M
