--[[
tests/lua/helpers/contract.lua - docs/DESCRIPTORS.md as an executable check

An independent reading of the descriptor contract, deliberately not sharing
code with lua/moonwatch.lua: specs use it to assert that what a rule returns is
exactly what the C compiler expects. contract.rule(d) returns true, or false
and a message naming the path of the first violation.
]]

local contract = {}

local function is_list(t)
  if type(t) ~= "table" then
    return false
  end
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then
      return false
    end
    n = n + 1
  end
  return n == #t
end

local function only_keys(t, allowed, path)
  for k in pairs(t) do
    if not allowed[k] then
      error(path .. ": unexpected key " .. tostring(k), 0)
    end
  end
end

local function check(cond, path, what)
  if not cond then
    error(path .. ": " .. what, 0)
  end
end

local function string_list(t, path)
  check(is_list(t), path, "must be a list")
  for i, v in ipairs(t) do
    check(type(v) == "string", path .. "[" .. i .. "]", "must be a string")
  end
end

local function path_ok(p)
  return type(p) == "string" and p ~= "" and not p:find("^%.") and not p:find("%.$")
    and not p:find("..", 1, true)
end

local VALUE_OPS = { eq = true, ieq = true, like = true, cidr = true, category = true }
local TEXT_OPS = { prefix = true, suffix = true, contains = true }
local CMP_OPS = { lt = true, le = true, gt = true, ge = true }

local function matcher(m, path)
  check(type(m) == "table", path, "matcher must be a table")
  local op = m.op
  if VALUE_OPS[op] or TEXT_OPS[op] then
    only_keys(m, { op = true, field = true, values = true, ci = TEXT_OPS[op] }, path)
    check(path_ok(m.field), path, "field must be a dotted path")
    check(is_list(m.values) and #m.values > 0, path, "values must be a non-empty list")
    for i, v in ipairs(m.values) do
      local t = type(v)
      check(t == "string" or t == "number" or t == "boolean", path .. ".values[" .. i .. "]",
            "must be a scalar")
    end
    if TEXT_OPS[op] then
      check(type(m.ci) == "boolean", path, "ci must be a boolean")
    end
  elseif CMP_OPS[op] then
    only_keys(m, { op = true, field = true, value = true }, path)
    check(path_ok(m.field), path, "field must be a dotted path")
    check(type(m.value) == "number", path, "value must be a number")
  elseif op == "exists" then
    only_keys(m, { op = true, field = true }, path)
    check(path_ok(m.field), path, "field must be a dotted path")
  elseif op == "all" or op == "any" or op == "not" then
    local n = 0
    for k in pairs(m) do
      if k ~= "op" then
        check(math.type(k) == "integer" and k >= 1, path, "only op and an array part")
        n = n + 1
      end
    end
    check(n == #m and n > 0, path, "children must be a non-empty array")
    check(op ~= "not" or n == 1, path, "not takes exactly one child")
    for i = 1, n do
      matcher(m[i], path .. "[" .. i .. "]")
    end
  elseif op == "fn" then
    only_keys(m, { op = true, fn = true }, path)
    check(type(m.fn) == "function", path, "fn must be a function")
  else
    error(path .. ": unknown op " .. tostring(op), 0)
  end
end

local function keys(by, path)
  string_list(by, path)
  for i, k in ipairs(by) do
    check(path_ok(k:gsub("^%?", "")), path .. "[" .. i .. "]", "must be a field path")
  end
  return #by
end

local function sequence(s, path)
  only_keys(s, { __kind = true, maxspan_ms = true, by = true, keys_ci = true, steps = true,
                 ["until"] = true }, path)
  check(s.__kind == "sequence", path, "__kind must be 'sequence'")
  check(s.maxspan_ms == nil or (math.type(s.maxspan_ms) == "integer" and s.maxspan_ms > 0),
        path, "maxspan_ms must be a positive integer or nil")
  check(type(s.keys_ci) == "boolean", path, "keys_ci must be a boolean")
  keys(s.by, path .. ".by")
  check(is_list(s.steps) and #s.steps >= 1, path, "steps must be a non-empty list")
  local positions, nkeys = 0, nil
  for i, step in ipairs(s.steps) do
    local sp = path .. ".steps[" .. i .. "]"
    only_keys(step, { where = true, by = true, runs = true }, sp)
    matcher(step.where, sp .. ".where")
    local k = keys(step.by, sp .. ".by")
    check(nkeys == nil or k == nkeys, sp, "key count differs from step 1")
    nkeys = k
    check(math.type(step.runs) == "integer" and step.runs >= 1 and step.runs <= 100, sp,
          "runs must be 1..100")
    positions = positions + step.runs
  end
  check(positions >= 2, path, "needs at least 2 event positions")
  if s["until"] ~= nil then
    only_keys(s["until"], { where = true, by = true }, path .. ".until")
    matcher(s["until"].where, path .. ".until.where")
    check(keys(s["until"].by, path .. ".until.by") == nkeys, path .. ".until",
          "key count differs from the steps")
  end
end

local WINDOW_KEYS = {
  threshold = { "where", "by", "count", "window_ms", "keys_ci" },
  distinct = { "where", "by", "field", "count", "window_ms", "keys_ci" },
  new_terms = { "where", "fields", "history_ms", "warmup", "keys_ci" },
  absence = { "first", "absent", "within_ms", "keys_ci" },
}

local function window(w, kind, path)
  local allowed = { __kind = true }
  for _, k in ipairs(WINDOW_KEYS[kind]) do
    allowed[k] = true
  end
  only_keys(w, allowed, path)
  check(w.__kind == kind, path, "__kind must be '" .. kind .. "'")
  check(type(w.keys_ci) == "boolean", path, "keys_ci must be a boolean")
  local function span(k)
    check(math.type(w[k]) == "integer" and w[k] > 0, path .. "." .. k, "must be a positive integer")
  end
  if kind == "absence" then
    span("within_ms")
    for _, part in ipairs({ "first", "absent" }) do
      only_keys(w[part], { where = true, by = true }, path .. "." .. part)
      matcher(w[part].where, path .. "." .. part .. ".where")
    end
    check(keys(w.first.by, path .. ".first.by") == keys(w.absent.by, path .. ".absent.by"),
          path, "first and absent key counts differ")
    return
  end
  matcher(w.where, path .. ".where")
  if kind == "new_terms" then
    span("history_ms")
    local n = keys(w.fields, path .. ".fields")
    check(n >= 1 and n <= 3, path .. ".fields", "must list 1 to 3 fields")
    check(type(w.warmup) == "boolean", path .. ".warmup", "must be a boolean")
    return
  end
  span("window_ms")
  keys(w.by, path .. ".by")
  check(math.type(w.count) == "integer" and w.count >= 1, path .. ".count", "must be >= 1")
  if kind == "distinct" then
    check(path_ok(w.field), path .. ".field", "must be a field path")
  end
end

local function ref(r, path, extra)
  only_keys(r, { id = true, name = true, reference = true, [extra or 1] = extra and true }, path)
  for _, k in ipairs({ "id", "name", "reference" }) do
    check(type(r[k]) == "string" and r[k] ~= "", path .. "." .. k, "must be a non-empty string")
  end
  check(r.reference:find("^https://attack%.mitre%.org/"), path .. ".reference",
        "must be an attack.mitre.org URL")
end

local function threat(e, path)
  only_keys(e, { framework = true, tactic = true, technique = true }, path)
  check(e.framework == "MITRE ATT&CK", path, "framework must be 'MITRE ATT&CK'")
  ref(e.tactic, path .. ".tactic")
  if e.technique ~= nil then
    check(is_list(e.technique) and #e.technique > 0, path, "technique must be a non-empty list")
    for i, t in ipairs(e.technique) do
      local tp = path .. ".technique[" .. i .. "]"
      ref(t, tp, "subtechnique")
      if t.subtechnique ~= nil then
        check(is_list(t.subtechnique) and #t.subtechnique > 0, tp, "subtechnique must be a list")
        for j, s in ipairs(t.subtechnique) do
          ref(s, tp .. ".subtechnique[" .. j .. "]")
        end
      end
    end
  end
end

local RULE_KEYS = {
  __kind = true, id = true, name = true, description = true, severity = true, risk_score = true,
  tags = true, references = true, author = true, license = true, version = true, threat = true,
  note = true, false_positives = true, message = true, where = true, sequence = true,
  threshold = true, distinct = true, new_terms = true, absence = true,
  suppress = true, max_alerts = true, on_alert = true, tests = true, eql = true,
}

local SEVERITY = { low = true, medium = true, high = true, critical = true }

local function rule(d)
  local p = "rule"
  check(type(d) == "table", p, "must be a table")
  only_keys(d, RULE_KEYS, p)
  check(d.__kind == "rule", p, "__kind must be 'rule'")
  check(type(d.id) == "string" and d.id ~= "", p .. ".id", "must be a non-empty string")
  check(type(d.name) == "string" and d.name ~= "", p .. ".name", "must be a non-empty string")
  check(type(d.description) == "string", p .. ".description", "must be a string")
  check(SEVERITY[d.severity], p .. ".severity", "must be low/medium/high/critical")
  check(math.type(d.risk_score) == "integer" and d.risk_score >= 0 and d.risk_score <= 100,
        p .. ".risk_score", "must be an integer 0..100")
  string_list(d.tags, p .. ".tags")
  string_list(d.references, p .. ".references")
  string_list(d.author, p .. ".author")
  check(type(d.license) == "string", p .. ".license", "must be a string")
  check(math.type(d.version) == "integer" and d.version >= 1, p .. ".version",
        "must be an integer >= 1")
  check(is_list(d.threat), p .. ".threat", "must be a list")
  for i, e in ipairs(d.threat) do
    threat(e, p .. ".threat[" .. i .. "]")
  end
  check(d.note == nil or type(d.note) == "string", p .. ".note", "must be a string")
  string_list(d.false_positives, p .. ".false_positives")
  check(type(d.message) == "string" and d.message ~= "", p .. ".message",
        "must be a non-empty string")
  local detections = 0
  for _, k in ipairs({ "where", "sequence", "threshold", "distinct", "new_terms", "absence",
                       "eql" }) do
    if d[k] ~= nil then
      detections = detections + 1
    end
  end
  check(detections == 1, p, "exactly one of where / sequence / a window")
  check(d.tests == nil or is_list(d.tests), p .. ".tests", "must be a list")
  if d.eql ~= nil then
    check(type(d.eql) == "table" and type(d.eql.text) == "string" and d.eql.text ~= "",
          p .. ".eql", "must be { text = query, line = N }")
  elseif d.where ~= nil then
    matcher(d.where, p .. ".where")
  elseif d.sequence ~= nil then
    sequence(d.sequence, p .. ".sequence")
  else
    for kind in pairs(WINDOW_KEYS) do
      if d[kind] ~= nil then
        window(d[kind], kind, p .. "." .. kind)
      end
    end
  end
  if d.suppress ~= nil then
    only_keys(d.suppress, { by = true, window_ms = true }, p .. ".suppress")
    check(is_list(d.suppress.by) and #d.suppress.by >= 1 and #d.suppress.by <= 8,
          p .. ".suppress.by", "must be a list of 1 to 8 field paths")
    for i, f in ipairs(d.suppress.by) do
      check(path_ok(f), p .. ".suppress.by[" .. i .. "]", "must be a field path")
    end
    check(math.type(d.suppress.window_ms) == "integer" and d.suppress.window_ms >= 1000,
          p .. ".suppress.window_ms", "must be an integer >= 1000")
  end
  if d.max_alerts ~= nil then
    only_keys(d.max_alerts, { count = true, per_ms = true }, p .. ".max_alerts")
    check(math.type(d.max_alerts.count) == "integer" and d.max_alerts.count >= 1,
          p .. ".max_alerts.count", "must be an integer >= 1")
    check(math.type(d.max_alerts.per_ms) == "integer" and d.max_alerts.per_ms >= 1000,
          p .. ".max_alerts.per_ms", "must be an integer >= 1000")
  end
  check(d.on_alert == nil or type(d.on_alert) == "function", p .. ".on_alert",
        "must be a function")
end

function contract.rule(d)
  local ok, err = pcall(rule, d)
  return ok, err
end

function contract.matcher(m)
  return pcall(matcher, m, "matcher")
end

return contract
