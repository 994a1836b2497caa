--[[
moonwatch.testing - helpers for the `tests` a rule carries

Rule tests (docs/RULE-TESTS.md) give events as Lua tables. Realistic events
are large, and near misses differ from a true positive in one or two fields,
so a rule usually defines one base event per data set and derives the cases:

  local t = require("moonwatch.testing")
  local signin = { ["@timestamp"] = "2025-10-14T09:00:00Z", event = { ... }, ... }
  t.event(signin, { ["event.outcome"] = "failure" })           -- a copy, one field changed
  t.at("2025-10-14T09:04:12Z", listing)                         -- a copy at another time
  t.at("2025-10-14T09:04:12Z", listing, { ["a.b"] = t.REMOVE }) -- both, a field removed

Paths are dotted and create nested tables as needed; mw.null sets a JSON null;
t.REMOVE deletes the field. The base tables are never modified.
]]

local mw = require("moonwatch")

local M = {}

-- A string sentinel: modules are handed to rules through a read-only view,
-- so a table sentinel would not keep its identity across that boundary.
M.REMOVE = "\0moonwatch.testing.REMOVE"

local function copy(v)
  if type(v) ~= "table" or v == mw.null then
    return v
  end
  local c = {}
  for k, x in pairs(v) do
    c[k] = copy(x)
  end
  return c
end

local function set(t, path, v)
  if type(path) ~= "string" or path == "" then
    error("moonwatch.testing: field paths are dotted strings (got " .. tostring(path) .. ")", 3)
  end
  local node = t
  local parts = {}
  for part in path:gmatch("[^.]+") do
    parts[#parts + 1] = part
  end
  for i = 1, #parts - 1 do
    local k = parts[i]
    if type(node[k]) ~= "table" or node[k] == mw.null then
      if v == M.REMOVE then
        return
      end
      node[k] = {}
    end
    node = node[k]
  end
  if v == M.REMOVE then
    node[parts[#parts]] = nil
  else
    node[parts[#parts]] = copy(v)
  end
end

-- A deep copy of base with each ["dotted.path"] = value of changes applied.
function M.event(base, changes)
  local ev = copy(base)
  for path, v in pairs(changes or {}) do
    set(ev, path, v)
  end
  return ev
end

-- M.event(base, changes) with "@timestamp" set to ts.
function M.at(ts, base, changes)
  local ev = M.event(base, changes)
  ev["@timestamp"] = ts
  return ev
end

return M
