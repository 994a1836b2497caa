--[[
lua/moonwatch.lua - the rule author's API: `local mw = require("moonwatch")`

A rule script runs once, in its own sandboxed Lua state, and returns the value
of mw.rule{...}. Every function here builds a *descriptor*: a plain Lua table
that the C core (src/lua/mw_ldesc.c) reads once into the rule builder
(src/detect/mw_builder.c), which compiles it into C matchers and window
definitions. The shapes are the contract in docs/DESCRIPTORS.md; the
author-facing reference is docs/RULE-API.md. Keep all three in step.

Design and invariants:

  * Validate early, report at the author's line. Each public function is made
    by api(): problems found at any depth are raised as a private Failure
    object, and the wrapper re-raises them as one string prefixed with the
    position of the line that called the API ("rules/x.lua:12: mw.eq: ..."),
    which is what error(msg, 2) gives for a direct call. Any other error (a bug
    here, or the host's memory or instruction limits) passes through untouched.

  * `return mw.rule{...}` is a tail call: by the time mw.rule runs, Lua has
    dropped the rule chunk's frame, so there is no caller line to report. The
    wrapper then falls back to the source name of the last API call that had
    one (the rule's constructors run first, as arguments), giving
    "rules/x.lua: mw.rule: ...". Failures inside the rule table (a bad mw.eq,
    mw.sequence, mw.mitre call) always carry their exact line.

  * Descriptors are plain data and are only ever built here. Constructors copy
    their inputs (a rule cannot change a descriptor by mutating the list it
    passed in), and mw.all/any/none/not_, mw.sequence and mw.rule re-validate
    every matcher below them, so a hand-written matcher table, or one mutated
    after construction, is held to exactly the same rules.

  * Everywhere a matcher is expected, a bare function means mw.fn(f) and a
    plain list of matchers means mw.all{...}; both are normalised away, so the
    C core only ever sees tables with an `op`.

  * Pure Lua: base, string, table, math and utf8 only. The module keeps no
    state beyond one upvalue (the last rule source seen, for the tail-call
    fallback), and that lives in the rule's own Lua state. It freezes nothing:
    the host hands rules a read-only view of this table.
]]

local attack = require("moonwatch.mitre")
-- The limits table of the C core (include/mw_limits.h), as the host exports it.
local limits = require("moonwatch.limits")

local mw = {}

mw.version = "0.1.0"

----------------------------------------------------------------------------
-- Host hooks
----------------------------------------------------------------------------

-- Inside the host, the C core preloads "moonwatch.host" with its logger and
-- the null sentinel its JSON conversion uses. Anywhere else (busted, a plain
-- lua5.4) both get a pure-Lua fallback so rules can be loaded and unit-tested.
local host_ok, host = pcall(require, "moonwatch.host")
if not host_ok or type(host) ~= "table" then
  host = nil
end

-- io.stderr if the io library is reachable. Looked up through pcall because a
-- sandboxed environment may make reading an undefined global an error.
local function find_stderr()
  local ok, lib = pcall(function() return io end)
  if ok and type(lib) == "table" and lib.stderr then
    return lib.stderr
  end
  return nil
end

if host and host.log then
  mw.log = host.log
else
  local stderr = find_stderr()
  if stderr then
    -- print-like: arguments through tostring, tab-separated, one line.
    mw.log = function(...)
      local parts = {}
      for i = 1, select("#", ...) do
        parts[i] = tostring((select(i, ...)))
      end
      stderr:write(table.concat(parts, "\t"), "\n")
    end
  else
    mw.log = function() end
  end
end

if host and host.null ~= nil then
  mw.null = host.null
else
  mw.null = setmetatable({}, {
    __name = "mw.null",
    __tostring = function() return "mw.null" end,
  })
end

----------------------------------------------------------------------------
-- Errors and the API wrapper
----------------------------------------------------------------------------

local Failure = {}

-- Raise a validation failure. Only api() catches it; see the header.
local function fail(fmt, ...)
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or fmt
  error(setmetatable({ msg = msg }, Failure), 0)
end

-- A short, quoted rendering of any value for error messages.
local function describe(v)
  local t = type(v)
  if v == mw.null then
    return "mw.null"
  elseif t == "string" then
    if #v > 60 then
      v = v:sub(1, 57) .. "..."
    end
    return "'" .. v .. "'"
  elseif t == "number" or t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return t
end

-- "src:line: " for the function that called the public API function, or ""
-- when that caller is C or was replaced by a tail call. Levels, counted from
-- the pcall'd error: 2 = this helper, 3 = the api() wrapper, 4 = its caller.
local function call_site()
  local _, where = pcall(error, "", 4)
  return type(where) == "string" and where or ""
end

-- Source name of the last API call with a known position (tail-call fallback).
local last_source = nil

-- Wrap an implementation as a public API function (see the header).
local function api(impl)
  return function(...)
    local site = call_site()
    if site ~= "" then
      last_source = site:match("^(.*):%d+: $") or last_source
    elseif last_source then
      site = last_source .. ": "
    end
    local ok, result = pcall(impl, ...)
    if ok then
      return result
    end
    if getmetatable(result) == Failure then
      error(site .. result.msg, 0)
    end
    error(result, 0)
  end
end

----------------------------------------------------------------------------
-- Small helpers
----------------------------------------------------------------------------

-- If every key of t is a positive integer forming 1..n (ignoring the string
-- keys in `skip`), return n; otherwise nil. An empty table is a list of 0.
local function list_length(t, skip)
  if type(t) ~= "table" or t == mw.null then
    return nil
  end
  local n = 0
  for k in pairs(t) do
    if not (skip and skip[k]) then
      if math.type(k) ~= "integer" or k < 1 then
        return nil
      end
      n = n + 1
    end
  end
  for i = 1, n do
    if t[i] == nil then
      return nil
    end
  end
  return n
end

local function copy_list(t, n)
  return table.move(t, 1, n, 1, {})
end

-- Levenshtein distance, for "did you mean" hints on misspelt keys.
local function edit_distance(a, b)
  local prev = {}
  for j = 0, #b do
    prev[j] = j
  end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

-- " (did you mean 'x'?)" for the closest of `names` (an ordered list), or "".
local function suggestion(key, names)
  if type(key) ~= "string" then
    return ""
  end
  local best, best_d = nil, 3
  for _, name in ipairs(names) do
    local d = edit_distance(key:lower(), name:lower())
    if d < best_d then
      best, best_d = name, d
    end
  end
  return best and string.format(" (did you mean '%s'?)", best) or ""
end

-- Fail on keys of t that are not in `names` (an ordered list). Integer keys
-- are allowed only when allow_list is true.
local function check_keys(ctx, what, t, names, allow_list)
  local known = {}
  for _, name in ipairs(names) do
    known[name] = true
  end
  for k in pairs(t) do
    if not known[k] and not (allow_list and math.type(k) == "integer") then
      if type(k) == "string" then
        fail("%s: unknown %s '%s'%s", ctx, what, k, suggestion(k, names))
      end
      fail("%s: unexpected key [%s] (%s are named, e.g. %s = ...)",
           ctx, tostring(k), what == "field" and "fields" or what .. "s", names[1])
    end
  end
end

-- Field paths are dotted ("a.b.c"). In join keys a leading '?' marks the key
-- optional (null joins null, EQL `?field`); nowhere else.
local function check_path(ctx, what, p, optional_ok)
  if type(p) ~= "string" or p == "" then
    fail("%s: %s must be a non-empty string (got %s)", ctx, what, describe(p))
  end
  local body = p
  if p:sub(1, 1) == "?" then
    if not optional_ok then
      fail("%s: %s %s: the '?' (optional key) prefix is only allowed in 'by' keys",
           ctx, what, describe(p))
    end
    body = p:sub(2)
  end
  if body == "" or body:find("^%?") or body:find("^%.") or body:find("%.$")
      or body:find("..", 1, true) or body:find("%s") then
    fail("%s: %s %s is not a valid dotted field path", ctx, what, describe(p))
  end
end

----------------------------------------------------------------------------
-- Durations
----------------------------------------------------------------------------

local UNIT_MS = { ms = 1, s = 1000, m = 60000, h = 3600000, d = 86400000 }

local DURATION_HINT = "expected an integer followed by ms, s, m, h or d, e.g. '30m'"

-- Milliseconds (integer >= 0) from "500ms" / "30s" / "30m" / "1h" / "7d", or
-- from a whole number of milliseconds. Everything else is refused: fractions
-- ("1.5m", 1.5), negatives, missing or unknown units, whitespace.
local function parse_duration(ctx, v)
  if type(v) == "number" then
    local n = math.tointeger(v)
    if not n then
      fail("%s: a number of milliseconds must be a whole number (got %s)", ctx, describe(v))
    elseif n < 0 then
      fail("%s: a duration must not be negative (got %s)", ctx, describe(v))
    end
    return n
  elseif type(v) ~= "string" then
    fail("%s: expected a duration string like '30m' or a number of milliseconds (got %s)",
         ctx, describe(v))
  end
  local digits, unit = v:match("^(%d+)(%a+)$")
  if not digits then
    if v:find("^%-%d") then
      fail("%s: a duration must not be negative (got %s)", ctx, describe(v))
    elseif v:find("^%d+$") then
      fail("%s: duration %s has no unit (%s)", ctx, describe(v), DURATION_HINT)
    end
    fail("%s: invalid duration %s (%s)", ctx, describe(v), DURATION_HINT)
  end
  local mult = UNIT_MS[unit]
  if not mult then
    fail("%s: unknown unit '%s' in %s (use ms, s, m, h or d)", ctx, unit, describe(v))
  end
  local n = math.tointeger(tonumber(digits))
  if not n or n > math.maxinteger // mult then
    fail("%s: duration %s is too large", ctx, describe(v))
  end
  return n * mult
end

----------------------------------------------------------------------------
-- CIDR blocks
----------------------------------------------------------------------------

local function is_ipv4(s)
  local parts = { s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
  if #parts ~= 4 then
    return false
  end
  for _, octet in ipairs(parts) do
    if #octet > 3 or tonumber(octet) > 255 then
      return false
    end
  end
  return true
end

-- Number of 16-bit groups in "a:b:c" (0 for ""), or nil if malformed.
local function ipv6_groups(part)
  if part == "" then
    return 0
  end
  local n = 0
  for group in (part .. ":"):gmatch("(.-):") do
    if not group:find("^%x%x?%x?%x?$") then
      return nil
    end
    n = n + 1
  end
  return n
end

local function is_ipv6(s)
  -- A trailing dotted quad (::ffff:10.0.0.1) stands for the last two groups.
  local v4 = s:match(":(%d+%.%d+%.%d+%.%d+)$")
  if v4 then
    if not is_ipv4(v4) then
      return false
    end
    s = s:sub(1, #s - #v4) .. "0:0"
  end
  local gap = s:find("::", 1, true)
  if not gap then
    return ipv6_groups(s) == 8
  end
  if s:find("::", gap + 1, true) then
    return false
  end
  local left, right = ipv6_groups(s:sub(1, gap - 1)), ipv6_groups(s:sub(gap + 2))
  return left ~= nil and right ~= nil and left + right <= 7
end

local function is_cidr(s)
  local addr, len = s:match("^([^/]+)/(%d%d?%d?)$")
  if not addr then
    return false
  end
  len = tonumber(len)
  if addr:find(":", 1, true) then
    return is_ipv6(addr) and len <= 128
  end
  return is_ipv4(addr) and len <= 32
end

----------------------------------------------------------------------------
-- Matchers
----------------------------------------------------------------------------

-- Value kinds a matcher's `values` may hold.
--   scalar: string, number (not NaN) or boolean   (eq, ieq)
--   string: any string                            (like)
--   text:   a non-empty string                    (prefix, suffix, contains, category)
--   cidr:   "address/prefix-length", IPv4 or IPv6 (cidr)
local function check_value(ctx, label, v, kind)
  if v == mw.null then
    fail("%s: %s is mw.null; test for null with mw.not_(mw.exists(field)), "
         .. "for presence with mw.exists(field)", ctx, label)
  end
  local t = type(v)
  if kind == "scalar" then
    if not (t == "string" or t == "boolean" or (t == "number" and v == v)) then
      fail("%s: %s must be a string, number or boolean (got %s)", ctx, label, describe(v))
    end
  elseif t ~= "string" then
    fail("%s: %s must be a string (got %s)", ctx, label, describe(v))
  elseif kind == "text" and v == "" then
    fail("%s: %s must not be empty (it would match every value; use mw.exists)", ctx, label)
  elseif kind == "cidr" and not is_cidr(v) then
    fail("%s: %s %s is not a CIDR block (expected address/prefix-length, "
         .. "e.g. '10.0.0.0/8', '192.0.2.7/32' or '2001:db8::/32')", ctx, label, describe(v))
  end
end

-- What each op's descriptor holds (see docs/DESCRIPTORS.md): its keys, the
-- kind of its `values`, whether it has a boolean `ci`, a numeric `value`, or
-- child matchers in its array part ("many", or exactly "one").
local OPS = {
  eq       = { keys = { "op", "field", "values" }, values = "scalar" },
  ieq      = { keys = { "op", "field", "values" }, values = "scalar" },
  like     = { keys = { "op", "field", "values" }, values = "string" },
  prefix   = { keys = { "op", "field", "values", "ci" }, values = "text", ci = true },
  suffix   = { keys = { "op", "field", "values", "ci" }, values = "text", ci = true },
  contains = { keys = { "op", "field", "values", "ci" }, values = "text", ci = true },
  lt       = { keys = { "op", "field", "value" }, value = true },
  le       = { keys = { "op", "field", "value" }, value = true },
  gt       = { keys = { "op", "field", "value" }, value = true },
  ge       = { keys = { "op", "field", "value" }, value = true },
  exists   = { keys = { "op", "field" } },
  cidr     = { keys = { "op", "field", "values" }, values = "cidr" },
  category = { keys = { "op", "field", "values" }, values = "text" },
  regex    = { keys = { "op", "field", "values", "ci" }, values = "string", ci = true },
  all      = { keys = { "op" }, children = "many" },
  any      = { keys = { "op" }, children = "many" },
  ["not"]  = { keys = { "op" }, children = "one" },
  fn       = { keys = { "op", "fn" } },
  kql      = { keys = { "op", "query" } },
}

local ONLY_OP = { op = true }

-- Deep enough for any real rule, shallow enough to stop a matcher that
-- contains itself long before Lua's own stack limit.
local MAX_DEPTH = limits.MATCH_MAX_DEPTH

local MATCHER_HINT = "a matcher (mw.eq, mw.all, ...), a function, or a list of matchers"

-- Validate a matcher and return its normal form: functions become fn
-- matchers, plain lists become `all`. Descriptors that are already normal are
-- returned as they are (children of combinators are normalised in place).
-- `ctx` names the position for messages ("mw.rule: field 'where' > all[2]");
-- the op is appended to it unless `named` says ctx already names it ("mw.eq").
local function normalize(m, ctx, depth, named)
  depth = depth or 1
  if depth > MAX_DEPTH then
    fail("%s: matchers nested more than %d deep (does a matcher contain itself?)",
         ctx, MAX_DEPTH)
  end
  if type(m) == "function" then
    return { op = "fn", fn = m }
  end
  if type(m) ~= "table" or m == mw.null then
    fail("%s: expected %s (got %s)", ctx, MATCHER_HINT, describe(m))
  end
  if m.op == nil then
    if m.__kind == "sequence" then
      fail("%s: expected %s, got a sequence (a sequence goes in the rule's 'sequence' field)",
           ctx, MATCHER_HINT)
    end
    local n = list_length(m)
    if not n or n == 0 then
      fail("%s: expected %s (got a table without 'op' that is not a non-empty list)",
           ctx, MATCHER_HINT)
    end
    local all = { op = "all" }
    for i = 1, n do
      all[i] = normalize(m[i], ctx .. " > [" .. i .. "]", depth + 1)
    end
    return all
  end

  local spec = OPS[m.op]
  if not spec then
    fail("%s: unknown matcher op %s", ctx, describe(m.op))
  end
  local ctx_op = named and ctx or ctx .. " (" .. m.op .. ")"
  check_keys(ctx_op, "key", m, spec.keys, spec.children ~= nil)

  if spec.children then
    local n = list_length(m, ONLY_OP)
    if not n or n == 0 then
      fail("%s: needs a list of child matchers", ctx_op)
    elseif spec.children == "one" and n ~= 1 then
      fail("%s: needs exactly one child matcher (got %d)", ctx_op, n)
    end
    for i = 1, n do
      m[i] = normalize(m[i], ctx .. " > " .. m.op .. "[" .. i .. "]", depth + 1)
    end
    return m
  end

  if m.op == "kql" then
    if type(m.query) ~= "string" then
      fail("%s: query must be a string (got %s)", ctx_op, describe(m.query))
    end
    local why = host and host.kql_check and host.kql_check(m.query)
    if why then
      fail("%s: %s", ctx_op, why)
    end
    return m
  end
  if m.op == "fn" then
    if type(m.fn) ~= "function" then
      fail("%s: fn must be a function (got %s)", ctx_op, describe(m.fn))
    end
    return m
  end

  check_path(ctx_op, "field", m.field)
  if spec.values then
    local n = list_length(m.values)
    if not n or n == 0 then
      fail("%s: values must be a non-empty list (got %s)", ctx_op, describe(m.values))
    end
    for i = 1, n do
      check_value(ctx_op, "values[" .. i .. "]", m.values[i], spec.values)
    end
  end
  if spec.ci and type(m.ci) ~= "boolean" then
    fail("%s: ci must be a boolean (got %s)", ctx_op, describe(m.ci))
  end
  if spec.value and (type(m.value) ~= "number" or m.value ~= m.value) then
    fail("%s: value must be a number (got %s)", ctx_op, describe(m.value))
  end
  return m
end

-- Refuse extra arguments: mw.eq("f", "a", "b") means mw.eq("f", {"a", "b"}).
local function check_arity(ctx, max, usage, ...)
  if select("#", ...) > max then
    fail("%s: too many arguments (usage: %s)", ctx, usage)
  end
end

-- A value or a list of values, as a fresh list.
local function value_list(ctx, v)
  if v == nil then
    fail("%s: a value or a list of values is required", ctx)
  end
  if type(v) ~= "table" or v == mw.null then
    return { v }
  end
  if v.op ~= nil then
    fail("%s: expected a value or a list of values, got a matcher", ctx)
  end
  local n = list_length(v)
  if not n then
    fail("%s: values must be a list (a table with keys 1..n)", ctx)
  elseif n == 0 then
    fail("%s: the list of values is empty", ctx)
  end
  return copy_list(v, n)
end

-- Options table of prefix/suffix/contains/category: only the given keys.
local function options(ctx, opts, names)
  if opts == nil then
    return {}
  end
  if type(opts) ~= "table" or opts == mw.null then
    fail("%s: options must be a table, e.g. { %s = ... } (got %s)", ctx, names[1], describe(opts))
  end
  check_keys(ctx, "option", opts, names, false)
  return opts
end

-- eq / ieq / like / cidr: (field, value_or_list)
local function values_matcher(op)
  local ctx = "mw." .. op
  local usage = ctx .. "(field, value_or_list); several values go in one list: "
                .. ctx .. "(field, { 'a', 'b' })"
  return api(function(...)
    check_arity(ctx, 2, usage, ...)
    local field, v = ...
    check_path(ctx, "field", field)
    return normalize({ op = op, field = field, values = value_list(ctx, v) }, ctx, 1, true)
  end)
end

-- prefix / suffix / contains / regex: (field, value_or_list, { ci = bool })
local function text_matcher(op)
  local ctx = "mw." .. op
  local usage = ctx .. "(field, value_or_list, { ci = true|false })"
  return api(function(...)
    check_arity(ctx, 3, usage, ...)
    local field, v, opts = ...
    check_path(ctx, "field", field)
    local values = value_list(ctx, v)
    local ci = options(ctx, opts, { "ci" }).ci
    if ci ~= nil and type(ci) ~= "boolean" then
      fail("%s: option ci must be a boolean (got %s)", ctx, describe(ci))
    end
    return normalize({ op = op, field = field, values = values, ci = ci or false }, ctx, 1, true)
  end)
end

-- lt / le / gt / ge: (field, number)
local function compare_matcher(op)
  local ctx = "mw." .. op
  local usage = ctx .. "(field, number)"
  return api(function(...)
    check_arity(ctx, 2, usage, ...)
    local field, n = ...
    check_path(ctx, "field", field)
    return normalize({ op = op, field = field, value = n }, ctx, 1, true)
  end)
end

-- all / any: ({ m1, m2, ... })
local function list_argument(ctx, ...)
  if select("#", ...) ~= 1 then
    fail("%s: takes one list of matchers: %s{ m1, m2, ... }", ctx, ctx)
  end
  local list = ...
  if type(list) == "table" and list.op ~= nil then
    fail("%s: expects a list of matchers, got a single matcher (write %s{ m1, m2, ... })",
         ctx, ctx)
  end
  local n = list_length(list)
  if not n then
    fail("%s: expects a list of matchers: %s{ m1, m2, ... } (got %s)", ctx, ctx, describe(list))
  elseif n == 0 then
    fail("%s: the list of matchers is empty", ctx)
  end
  local children = {}
  for i = 1, n do
    children[i] = normalize(list[i], ctx .. "[" .. i .. "]")
  end
  return children
end

local function combinator(op)
  local ctx = "mw." .. op
  return api(function(...)
    local m = list_argument(ctx, ...)
    m.op = op
    return m
  end)
end

mw.eq = values_matcher("eq")
mw.ieq = values_matcher("ieq")
mw.like = values_matcher("like")
mw.cidr = values_matcher("cidr")

mw.prefix = text_matcher("prefix")
mw.suffix = text_matcher("suffix")
mw.contains = text_matcher("contains")
-- regex(field, pattern_or_list, { ci = bool }): EQL's `regex` (`regex~` with
-- ci): a Lucene regular expression matching the whole value, run by PCRE2
-- in C under a match limit (src/detect/mw_regex.c); bad patterns fail at load
mw.regex = text_matcher("regex")

mw.lt = compare_matcher("lt")
mw.le = compare_matcher("le")
mw.gt = compare_matcher("gt")
mw.ge = compare_matcher("ge")

mw.exists = api(function(...)
  check_arity("mw.exists", 1, "mw.exists(field)", ...)
  local field = ...
  check_path("mw.exists", "field", field)
  return { op = "exists", field = field }
end)

-- category(value_or_list, { field = "event.category" }): the EQL
-- `<category> where` filter; the field may hold a string or an array.
mw.category = api(function(...)
  local ctx = "mw.category"
  check_arity(ctx, 2, "mw.category(value_or_list, { field = 'event.category' })", ...)
  local v, opts = ...
  local values = value_list(ctx, v)
  local field = options(ctx, opts, { "field" }).field
  if field ~= nil then
    check_path(ctx, "option field", field)
  end
  return normalize({ op = "category", field = field or "event.category", values = values },
                   ctx, 1, true)
end)

mw.all = combinator("all")
mw.any = combinator("any")

-- none{...} = not any{...}; a single child needs no `any` around it.
mw.none = api(function(...)
  local children = list_argument("mw.none", ...)
  if #children == 1 then
    return { op = "not", children[1] }
  end
  children.op = "any"
  return { op = "not", children }
end)

mw.not_ = api(function(...)
  check_arity("mw.not_", 1, "mw.not_(matcher)", ...)
  local m = ...
  if m == nil then
    fail("mw.not_: a matcher is required")
  end
  return { op = "not", normalize(m, "mw.not_") }
end)

-- A KQL query (Kibana's query language) as a matcher: mw.kql[[a:b and not c:d]].
-- Compiled by the host onto the same C matchers (docs/ELASTIC.md): exact,
-- case-sensitive values, wildcards, exists, ranges, and/or/not, value lists.
mw.kql = api(function(...)
  check_arity("mw.kql", 1, "mw.kql[[query]]", ...)
  local q = ...
  if type(q) ~= "string" then
    fail("mw.kql: expected a query string (got %s)", describe(q))
  end
  return normalize({ op = "kql", query = q }, "mw.kql", 1, true)
end)

mw.fn = api(function(...)
  check_arity("mw.fn", 1, "mw.fn(function(ev) ... end)", ...)
  local f = ...
  if type(f) ~= "function" then
    fail("mw.fn: expected a function (got %s)", describe(f))
  end
  return { op = "fn", fn = f }
end)

----------------------------------------------------------------------------
-- Durations (public)
----------------------------------------------------------------------------

mw.duration = api(function(...)
  check_arity("mw.duration", 1, "mw.duration('30m')", ...)
  return parse_duration("mw.duration", (...))
end)

----------------------------------------------------------------------------
-- Sequences
----------------------------------------------------------------------------

local MAX_RUNS = limits.SEQ_MAX_RUNS

-- `by` as written by the author (nil, a path, or a list of paths) -> list.
-- The paths themselves are checked by check_keylist.
local function key_list(ctx, v)
  if v == nil then
    return {}
  elseif type(v) == "string" then
    return { v }
  end
  local n = list_length(v)
  if not n then
    fail("%s: 'by' must be a field path or a list of field paths (got %s)", ctx, describe(v))
  end
  return copy_list(v, n)
end

local function check_keylist(ctx, keys)
  local n = list_length(keys)
  if not n then
    fail("%s: 'by' must be a list of field paths (got %s)", ctx, describe(keys))
  end
  for i = 1, n do
    check_path(ctx, "by[" .. i .. "]", keys[i], true)
  end
  return n
end

-- Validate a sequence descriptor (see docs/DESCRIPTORS.md) in place and
-- return the number of event positions it matches (steps with runs expanded).
local function check_sequence(ctx, seq)
  if type(seq) ~= "table" or seq.__kind ~= "sequence" then
    fail("%s: expected a sequence built with mw.sequence{...} (got %s)", ctx, describe(seq))
  end
  check_keys(ctx, "key", seq, { "__kind", "maxspan_ms", "by", "keys_ci", "steps", "until" }, false)
  if seq.maxspan_ms ~= nil
      and (math.type(seq.maxspan_ms) ~= "integer" or seq.maxspan_ms <= 0) then
    fail("%s: maxspan must be greater than 0 (got %s ms)", ctx, describe(seq.maxspan_ms))
  end
  if type(seq.keys_ci) ~= "boolean" then
    fail("%s: keys_ci must be a boolean (got %s)", ctx, describe(seq.keys_ci))
  end
  check_keylist(ctx, seq.by)

  local n = list_length(seq.steps)
  if not n or n == 0 then
    fail("%s: needs at least 2 steps (or one step with runs >= 2)", ctx)
  end
  local positions, nkeys = 0, nil
  local function check_step(sctx, step, is_until)
    if type(step) ~= "table" or step == mw.null then
      fail("%s: must be a table { where = <matcher>, by = <field or fields> } (got %s)",
           sctx, describe(step))
    end
    check_keys(sctx, "key", step, is_until and { "where", "by" } or { "where", "by", "runs" },
               false)
    if step.where == nil then
      fail("%s: 'where' is required", sctx)
    end
    step.where = normalize(step.where, sctx .. ": where")
    local k = check_keylist(sctx, step.by)
    if nkeys and k ~= nkeys then
      fail("%s: every step and 'until' must have the same number of 'by' keys "
           .. "(step 1 has %d, this has %d)", sctx, nkeys, k)
    end
    nkeys = nkeys or k
  end
  for i = 1, n do
    local sctx = ctx .. ": step " .. i
    local step = seq.steps[i]
    check_step(sctx, step, false)
    if math.type(step.runs) ~= "integer" or step.runs < 1 or step.runs > MAX_RUNS then
      fail("%s: runs must be an integer from 1 to %d (got %s)", sctx, MAX_RUNS, describe(step.runs))
    end
    positions = positions + step.runs
  end
  if seq["until"] ~= nil then
    check_step(ctx .. ": until", seq["until"], true)
  end
  if positions < 2 then
    fail("%s: needs at least 2 steps (or one step with runs >= 2)", ctx)
  end
  return positions
end

-- Build a step or `until` descriptor from what the author wrote.
local function build_step(ctx, s, is_until)
  if type(s) ~= "table" or s == mw.null or s.op ~= nil then
    fail("%s: must be a table { where = <matcher>, by = <field or fields> } (got %s)",
         ctx, (type(s) == "table" and s.op ~= nil) and "a matcher" or describe(s))
  end
  if is_until and s.runs ~= nil then
    fail("%s: 'runs' is not allowed on 'until'", ctx)
  end
  check_keys(ctx, "key", s, is_until and { "where", "by" } or { "where", "by", "runs" }, false)
  local step = { where = s.where, by = key_list(ctx, s.by) }
  if not is_until then
    step.runs = s.runs == nil and 1 or s.runs
  end
  return step
end

mw.sequence = api(function(...)
  local ctx = "mw.sequence"
  check_arity(ctx, 1, "mw.sequence{ maxspan = '30m', { where = ..., by = ... }, ... }", ...)
  local spec = ...
  if type(spec) ~= "table" or spec == mw.null then
    fail("%s: expects a table: mw.sequence{ { where = ..., by = ... }, ... } (got %s)",
         ctx, describe(spec))
  end
  check_keys(ctx, "key", spec, { "maxspan", "by", "keys_ci", "until" }, true)
  local nsteps = list_length(spec, { maxspan = true, by = true, keys_ci = true, ["until"] = true })
  if not nsteps then
    fail("%s: steps must be listed in order without gaps (keys 1..n)", ctx)
  end

  local seq = {
    __kind = "sequence",
    by = key_list(ctx, spec.by),
    keys_ci = spec.keys_ci,
    steps = {},
  }
  if seq.keys_ci == nil then
    seq.keys_ci = false
  end
  if spec.maxspan ~= nil then
    seq.maxspan_ms = parse_duration(ctx .. ": maxspan", spec.maxspan)
  end
  for i = 1, nsteps do
    seq.steps[i] = build_step(ctx .. ": step " .. i, spec[i], false)
  end
  if spec["until"] ~= nil then
    seq["until"] = build_step(ctx .. ": until", spec["until"], true)
  end
  check_sequence(ctx, seq)
  return seq
end)

----------------------------------------------------------------------------
-- Windows: threshold, distinct count, first-seen (new_terms), absence
----------------------------------------------------------------------------

local MAX_COUNT = limits.WINDOW_MAX_COUNT
local MAX_DISTINCT = limits.WINDOW_MAX_DISTINCT

local function window_table(ctx, usage, ...)
  check_arity(ctx, 1, usage, ...)
  local spec = ...
  if type(spec) ~= "table" or spec == mw.null then
    fail("%s: expects a table: %s (got %s)", ctx, usage, describe(spec))
  end
  return spec
end

local function count_field(ctx, spec, hi)
  local v = spec.count
  if math.type(v) ~= "integer" or v < 1 or v > hi then
    fail("%s: 'count' must be an integer from 1 to %d (got %s)", ctx, hi, describe(v))
  end
  return v
end

local function required_duration(ctx, spec, key)
  if spec[key] == nil then
    fail("%s: '%s' is required (a duration like '5m')", ctx, key)
  end
  local ms = parse_duration(ctx .. ": " .. key, spec[key])
  if ms <= 0 then
    fail("%s: '%s' must be greater than 0", ctx, key)
  end
  return ms
end

local function ci_field(ctx, spec)
  if spec.keys_ci ~= nil and type(spec.keys_ci) ~= "boolean" then
    fail("%s: keys_ci must be a boolean (got %s)", ctx, describe(spec.keys_ci))
  end
  return spec.keys_ci == true
end

-- Validate a window descriptor (docs/DESCRIPTORS.md) in place.
local function check_window(ctx, w)
  if type(w) ~= "table" or w.__kind == nil then
    fail("%s: expected a descriptor built with mw.threshold/mw.distinct/mw.new_terms/"
         .. "mw.absence (got %s)", ctx, describe(w))
  end
  local k = w.__kind
  if k == "threshold" or k == "distinct" then
    check_keys(ctx, "key", w, { "__kind", "where", "by", "field", "count", "window_ms",
                                "keys_ci" }, false)
    w.where = normalize(w.where, ctx .. ": where")
    check_keylist(ctx, w.by)
    if k == "distinct" then
      check_path(ctx, "field", w.field)
    end
  elseif k == "new_terms" then
    check_keys(ctx, "key", w, { "__kind", "where", "fields", "history_ms", "warmup",
                                "keys_ci" }, false)
    w.where = normalize(w.where, ctx .. ": where")
    local n = check_keylist(ctx, w.fields)
    if n < 1 or n > limits.NEW_TERMS_MAX_FIELDS then
      fail("%s: 'fields' must list 1 to %d field paths (got %d)", ctx, limits.NEW_TERMS_MAX_FIELDS, n)
    end
  elseif k == "absence" then
    check_keys(ctx, "key", w, { "__kind", "first", "absent", "within_ms", "keys_ci" }, false)
    w.first.where = normalize(w.first.where, ctx .. ": first: where")
    w.absent.where = normalize(w.absent.where, ctx .. ": absent: where")
    if check_keylist(ctx .. ": first", w.first.by) ~= check_keylist(ctx .. ": absent", w.absent.by) then
      fail("%s: 'first' and 'absent' must have the same number of 'by' keys", ctx)
    end
  else
    fail("%s: unknown window kind %s", ctx, describe(k))
  end
end

mw.threshold = api(function(...)
  local ctx = "mw.threshold"
  local spec = window_table(ctx, "mw.threshold{ where = ..., by = ..., count = N, window = '5m' }", ...)
  check_keys(ctx, "key", spec, { "where", "by", "count", "window", "keys_ci" }, false)
  if spec.where == nil then
    fail("%s: 'where' is required", ctx)
  end
  local w = {
    __kind = "threshold", where = spec.where, by = key_list(ctx, spec.by),
    count = count_field(ctx, spec, MAX_COUNT),
    window_ms = required_duration(ctx, spec, "window"), keys_ci = ci_field(ctx, spec),
  }
  check_window(ctx, w)
  return w
end)

mw.distinct = api(function(...)
  local ctx = "mw.distinct"
  local spec = window_table(ctx,
    "mw.distinct{ where = ..., by = ..., field = 'source.ip', count = N, window = '1h' }", ...)
  check_keys(ctx, "key", spec, { "where", "by", "field", "count", "window", "keys_ci" }, false)
  if spec.where == nil then
    fail("%s: 'where' is required", ctx)
  end
  if spec.field == nil then
    fail("%s: 'field' (the field whose distinct values are counted) is required", ctx)
  end
  local w = {
    __kind = "distinct", where = spec.where, by = key_list(ctx, spec.by), field = spec.field,
    count = count_field(ctx, spec, MAX_DISTINCT),
    window_ms = required_duration(ctx, spec, "window"), keys_ci = ci_field(ctx, spec),
  }
  check_window(ctx, w)
  return w
end)

mw.new_terms = api(function(...)
  local ctx = "mw.new_terms"
  local spec = window_table(ctx,
    "mw.new_terms{ where = ..., fields = { 'a', 'b' }, history = '7d' }", ...)
  check_keys(ctx, "key", spec, { "where", "fields", "history", "warmup", "keys_ci" }, false)
  if spec.where == nil then
    fail("%s: 'where' is required", ctx)
  end
  if spec.fields == nil then
    fail("%s: 'fields' (1 to 3 field paths) is required", ctx)
  end
  if spec.warmup ~= nil and type(spec.warmup) ~= "boolean" then
    fail("%s: warmup must be a boolean (got %s)", ctx, describe(spec.warmup))
  end
  local w = {
    __kind = "new_terms", where = spec.where, fields = key_list(ctx, spec.fields),
    history_ms = required_duration(ctx, spec, "history"), warmup = spec.warmup == true,
    keys_ci = ci_field(ctx, spec),
  }
  check_window(ctx, w)
  return w
end)

mw.absence = api(function(...)
  local ctx = "mw.absence"
  local usage = "mw.absence{ first = { where = ..., by = ... }, absent = { where = ..., by = ... }, "
             .. "within = '10m' }"
  local spec = window_table(ctx, usage, ...)
  check_keys(ctx, "key", spec, { "first", "absent", "within", "keys_ci" }, false)
  local parts = {}
  for _, name in ipairs({ "first", "absent" }) do
    local s = spec[name]
    if type(s) ~= "table" or s == mw.null or s.op ~= nil then
      fail("%s: '%s' must be a table { where = <matcher>, by = <field or fields> } (got %s)",
           ctx, name, (type(s) == "table" and s.op ~= nil) and "a matcher" or describe(s))
    end
    check_keys(ctx .. ": " .. name, "key", s, { "where", "by" }, false)
    if s.where == nil then
      fail("%s: %s: 'where' is required", ctx, name)
    end
    parts[name] = { where = s.where, by = key_list(ctx .. ": " .. name, s.by) }
  end
  local w = {
    __kind = "absence", first = parts.first, absent = parts.absent,
    within_ms = required_duration(ctx, spec, "within"), keys_ci = ci_field(ctx, spec),
  }
  check_window(ctx, w)
  return w
end)

----------------------------------------------------------------------------
-- MITRE ATT&CK
----------------------------------------------------------------------------

local ATTACK_URL = "https://attack.mitre.org/"
local CATALOGUE = "lua/moonwatch/mitre.lua"

local function tactic_entry(ctx, id)
  if type(id) ~= "string" then
    fail("%s: tactic id must be a string like 'TA0006' (got %s)", ctx, describe(id))
  end
  local name = attack.tactics[id]
  if not name then
    fail("%s: unknown tactic id '%s' (see %s)", ctx, id, CATALOGUE)
  end
  return { id = id, name = name, reference = ATTACK_URL .. "tactics/" .. id .. "/" }
end

local function technique_entry(ctx, id, tactic_id)
  if type(id) ~= "string" then
    fail("%s: technique id must be a string like 'T1078' (got %s)", ctx, describe(id))
  end
  local parent = id:match("^(T%d%d%d%d)%.%d%d%d$")
  if parent then
    fail("%s: '%s' is a sub-technique; pass it third: mw.mitre('%s', '%s', '%s')",
         ctx, id, tactic_id, parent, id)
  end
  local t = attack.techniques[id]
  if not t then
    fail("%s: unknown technique id '%s' (see %s)", ctx, id, CATALOGUE)
  end
  local belongs = false
  for _, tid in ipairs(t.tactics) do
    belongs = belongs or tid == tactic_id
  end
  if not belongs then
    local names = {}
    for i, tid in ipairs(t.tactics) do
      names[i] = tid .. " " .. attack.tactics[tid]
    end
    fail("%s: technique %s (%s) is not under tactic %s (%s); ATT&CK lists it under %s",
         ctx, id, t.name, tactic_id, attack.tactics[tactic_id], table.concat(names, ", "))
  end
  return { id = id, name = t.name, reference = ATTACK_URL .. "techniques/" .. id .. "/" }
end

local function subtechnique_entry(ctx, id, technique_id)
  if type(id) ~= "string" then
    fail("%s: sub-technique id must be a string like 'T1078.004' (got %s)", ctx, describe(id))
  end
  local parent, suffix = id:match("^(T%d%d%d%d)%.(%d%d%d)$")
  if not parent then
    fail("%s: unknown sub-technique id '%s' (expected the form Txxxx.yyy)", ctx, id)
  elseif parent ~= technique_id then
    fail("%s: sub-technique '%s' does not belong to technique '%s'", ctx, id, technique_id)
  end
  local name = attack.techniques[parent].sub and attack.techniques[parent].sub[suffix]
  if not name then
    fail("%s: unknown sub-technique id '%s' (see %s)", ctx, id, CATALOGUE)
  end
  return { id = id, name = name,
           reference = ATTACK_URL .. "techniques/" .. parent .. "/" .. suffix .. "/" }
end

mw.mitre = api(function(...)
  local ctx = "mw.mitre"
  check_arity(ctx, 3, "mw.mitre(tactic_id[, technique_id[, subtechnique_id]])", ...)
  local tactic_id, technique_id, sub_id = ...
  local entry = { framework = "MITRE ATT&CK", tactic = tactic_entry(ctx, tactic_id) }
  if technique_id == nil then
    if sub_id ~= nil then
      fail("%s: a sub-technique needs its technique: mw.mitre(tactic, technique, subtechnique)",
           ctx)
    end
    return entry
  end
  local technique = technique_entry(ctx, technique_id, tactic_id)
  if sub_id ~= nil then
    technique.subtechnique = { subtechnique_entry(ctx, sub_id, technique_id) }
  end
  entry.technique = { technique }
  return entry
end)

-- Validate one `threat` entry of a rule. Entries normally come from mw.mitre;
-- a hand-written one (e.g. several techniques under one tactic) must have the
-- same shape and use known ids.
local function check_threat(ctx, e)
  local function check_ref(rctx, r, extra)
    if type(r) ~= "table" or r == mw.null then
      fail("%s: expected a table { id = ..., name = ..., reference = ... } (got %s)",
           rctx, describe(r))
    end
    check_keys(rctx, "key", r, { "id", "name", "reference", extra }, false)
    for _, k in ipairs({ "id", "name", "reference" }) do
      if type(r[k]) ~= "string" or r[k] == "" then
        fail("%s: %s must be a non-empty string (got %s)", rctx, k, describe(r[k]))
      end
    end
  end
  local function check_list(lctx, list)
    local n = list_length(list)
    if not n or n == 0 then
      fail("%s: must be a non-empty list (got %s)", lctx, describe(list))
    end
    return n
  end

  if type(e) ~= "table" or e == mw.null then
    fail("%s: expected an entry built with mw.mitre(...) (got %s)", ctx, describe(e))
  end
  check_keys(ctx, "key", e, { "framework", "tactic", "technique" }, false)
  if e.framework ~= "MITRE ATT&CK" then
    fail("%s: framework must be 'MITRE ATT&CK' (got %s)", ctx, describe(e.framework))
  end
  check_ref(ctx .. ": tactic", e.tactic)
  tactic_entry(ctx .. ": tactic", e.tactic.id)
  if e.technique == nil then
    return
  end
  for i = 1, check_list(ctx .. ": technique", e.technique) do
    local tctx = ctx .. ": technique[" .. i .. "]"
    local t = e.technique[i]
    check_ref(tctx, t, "subtechnique")
    technique_entry(tctx, t.id, e.tactic.id)
    if t.subtechnique ~= nil then
      for j = 1, check_list(tctx .. ": subtechnique", t.subtechnique) do
        local sctx = tctx .. ": subtechnique[" .. j .. "]"
        check_ref(sctx, t.subtechnique[j])
        subtechnique_entry(sctx, t.subtechnique[j].id, t.id)
      end
    end
  end
end

----------------------------------------------------------------------------
-- Message templates
----------------------------------------------------------------------------

-- Check a message template: {N:field.path} with 1 <= N <= positions, {key},
-- {gap}, {rule.name}, and {{ / }} for literal braces. Anything else is an
-- error, so a typo cannot silently render as text.
local function check_template(ctx, s, positions)
  local i, len = 1, #s
  while i <= len do
    local c = s:sub(i, i)
    if c == "{" and s:sub(i + 1, i + 1) == "{" then
      i = i + 2
    elseif c == "}" and s:sub(i + 1, i + 1) == "}" then
      i = i + 2
    elseif c == "}" then
      fail("%s: unmatched '}' at position %d (write '}}' for a literal brace)", ctx, i)
    elseif c == "{" then
      local close = s:find("}", i + 1, true)
      if not close then
        fail("%s: unclosed '{' at position %d (write '{{' for a literal brace)", ctx, i)
      end
      local body = s:sub(i + 1, close - 1)
      if body ~= "key" and body ~= "gap" and body ~= "rule.name" then
        local n, path = body:match("^(%d+):(.*)$")
        if not n then
          fail("%s: unknown placeholder {%s} (use {N:field.path}, {key}, {gap} or {rule.name})",
               ctx, body)
        end
        n = tonumber(n)
        if n < 1 or n > positions then
          fail("%s: placeholder {%s} refers to event %d, but the rule matches %d event%s",
               ctx, body, n, positions, positions == 1 and "" or "s")
        end
        check_path(ctx, "placeholder {" .. body .. "}: field", path)
      end
      i = close + 1
    else
      i = i + 1
    end
  end
end

----------------------------------------------------------------------------
-- Rules
----------------------------------------------------------------------------

-- mw.eql[[ query ]]: an EQL detection (docs/EQL.md), the value of a rule's
-- `detection` field. The host parses and compiles it into C matchers and a
-- sequence when the rule loads (no Lua per event); errors point into this
-- file at the query's own line and column. Outside the host the text is only
-- kept. Not wrapped by api(): it records its caller's line itself.
function mw.eql(...)
  local text = ...
  local _, where = pcall(error, "", 3)
  if select("#", ...) ~= 1 or type(text) ~= "string" or text == "" then
    error((type(where) == "string" and where or "")
          .. "mw.eql: expects one string, the EQL query: mw.eql[[ sequence ... ]]", 0)
  end
  local line = type(where) == "string" and tonumber(where:match(":(%d+): $")) or 0
  return { __kind = "eql", text = text, line = line }
end

-- The keys mw.rule accepts, in the order of docs/DESCRIPTORS.md.
local RULE_KEYS = {
  "__kind", "id", "name", "description", "severity", "risk_score", "tags", "references",
  "author", "license", "version", "threat", "note", "false_positives", "message",
  "where", "sequence", "threshold", "distinct", "new_terms", "absence", "detection",
  "suppress", "max_alerts", "on_alert", "tests",
}

local TEST_KEYS = { "name", "events", "file", "files", "expect" }
local EXPECT_KEYS = { "count", "fields", "alerts" }

-- A field-value table of an expectation: { ["dotted.path"] = scalar, ... }.
local function check_expect_fields(ctx, t)
  if type(t) ~= "table" or t == mw.null then
    fail("%s: must be a table { [\"field.path\"] = value, ... } (got %s)", ctx, describe(t))
  end
  for k, v in pairs(t) do
    if type(k) ~= "string" or k == "" then
      fail("%s: keys must be field paths (got %s)", ctx, describe(k))
    end
    local tv = type(v)
    if tv ~= "string" and tv ~= "number" and tv ~= "boolean" and v ~= mw.null and tv ~= "table" then
      fail("%s: value of '%s' must be a string, number, boolean, table or mw.null (got %s)",
           ctx, k, describe(v))
    end
  end
end

-- `tests = { { name = ..., events = {...} | file = "x.ndjson" | files = {...},
--              expect = { count = N, fields = {...}, alerts = { {...}, ... } } }, ... }`
-- Run by `moonwatch test`; the host ignores them otherwise.
local function check_tests(ctx, tests)
  local n = list_length(tests)
  if not n then
    fail("%s: must be a list of { name = ..., events = {...}, expect = {...} } (got %s)",
         ctx, describe(tests))
  end
  local names = {}
  for i = 1, n do
    local t = tests[i]
    local tctx = string.format("%s[%d]", ctx, i)
    if type(t) ~= "table" or t == mw.null then
      fail("%s: must be a table { name = ..., events = {...}, expect = {...} } (got %s)",
           tctx, describe(t))
    end
    check_keys(tctx, "field", t, TEST_KEYS, false)
    if type(t.name) ~= "string" or t.name == "" then
      fail("%s: field 'name' is required and must be a non-empty string (got %s)", tctx,
           describe(t.name))
    end
    if names[t.name] then
      fail("%s: duplicate test name '%s'", tctx, t.name)
    end
    names[t.name] = true
    tctx = string.format("%s (%s)", tctx, t.name)
    if t.events == nil and t.file == nil and t.files == nil then
      fail("%s: give the events: 'events' (a list) or 'file'/'files' (NDJSON beside the rule)", tctx)
    end
    if t.events ~= nil then
      local ne = list_length(t.events)
      if not ne then
        fail("%s: field 'events' must be a list of event tables or JSON strings (got %s)", tctx,
             describe(t.events))
      end
      for j = 1, ne do
        local e = t.events[j]
        if type(e) ~= "string" and (type(e) ~= "table" or e == mw.null) then
          fail("%s: events[%d] must be an event table or a JSON string (got %s)", tctx, j,
               describe(e))
        end
      end
    end
    if t.file ~= nil and (type(t.file) ~= "string" or t.file == "") then
      fail("%s: field 'file' must be a file name (got %s)", tctx, describe(t.file))
    end
    if t.files ~= nil then
      local nf = list_length(t.files)
      if not nf or nf == 0 then
        fail("%s: field 'files' must be a non-empty list of file names (got %s)", tctx,
             describe(t.files))
      end
      for j = 1, nf do
        if type(t.files[j]) ~= "string" or t.files[j] == "" then
          fail("%s: files[%d] must be a file name (got %s)", tctx, j, describe(t.files[j]))
        end
      end
    end
    local x = t.expect
    if type(x) ~= "table" or x == mw.null then
      fail("%s: field 'expect' is required: { count = N, fields = {...} } (got %s)", tctx,
           describe(x))
    end
    check_keys(tctx .. ": expect", "field", x, EXPECT_KEYS, false)
    if math.type(x.count) ~= "integer" or x.count < 0 then
      fail("%s: expect.count must be an integer >= 0 (got %s)", tctx, describe(x.count))
    end
    if x.fields ~= nil then
      check_expect_fields(tctx .. ": expect.fields", x.fields)
    end
    if x.alerts ~= nil then
      local na = list_length(x.alerts)
      if not na then
        fail("%s: expect.alerts must be a list of field tables, one per alert (got %s)", tctx,
             describe(x.alerts))
      end
      if na > x.count then
        fail("%s: expect.alerts describes %d alerts but expect.count is %d", tctx, na, x.count)
      end
      for j = 1, na do
        check_expect_fields(string.format("%s: expect.alerts[%d]", tctx, j), x.alerts[j])
      end
    end
  end
  return tests
end

local SEVERITIES = { "low", "medium", "high", "critical" }
local DEFAULT_RISK = {
  low = limits.RISK_LOW,
  medium = limits.RISK_MEDIUM,
  high = limits.RISK_HIGH,
  critical = limits.RISK_CRITICAL,
}

local function string_field(ctx, spec, key, required)
  local v = spec[key]
  if v == nil and not required then
    return nil
  end
  if type(v) ~= "string" or (required and v == "") then
    fail("%s: field '%s' %s (got %s)", ctx, key,
         required and "is required and must be a non-empty string" or "must be a string",
         describe(v))
  end
  return v
end

local function string_list_field(ctx, spec, key)
  local v = spec[key]
  if v == nil then
    return {}
  end
  local n = list_length(v)
  if not n then
    fail("%s: field '%s' must be a list of strings (got %s)", ctx, key, describe(v))
  end
  for i = 1, n do
    if type(v[i]) ~= "string" or v[i] == "" then
      fail("%s: field '%s'[%d] must be a non-empty string (got %s)", ctx, key, i, describe(v[i]))
    end
  end
  return copy_list(v, n)
end

local function integer_field(ctx, spec, key, lo, hi, default)
  local v = spec[key]
  if v == nil then
    return default
  end
  if math.type(v) ~= "integer" or v < lo or (hi and v > hi) then
    fail("%s: field '%s' must be an integer %s (got %s)", ctx, key,
         hi and string.format("from %d to %d", lo, hi) or string.format(">= %d", lo), describe(v))
  end
  return v
end

mw.rule = api(function(...)
  local ctx = "mw.rule"
  check_arity(ctx, 1, "mw.rule{ id = ..., name = ..., where = ... }", ...)
  local spec = ...
  if type(spec) ~= "table" or spec == mw.null then
    fail("%s: expects a table: mw.rule{ id = ..., name = ..., ... } (got %s)", ctx, describe(spec))
  end
  check_keys(ctx, "field", spec, RULE_KEYS, false)
  if spec.__kind ~= nil and spec.__kind ~= "rule" then
    fail("%s: field '__kind' is set by mw.rule (got %s)", ctx, describe(spec.__kind))
  end

  local rule = { __kind = "rule" }
  rule.id = string_field(ctx, spec, "id", true)
  rule.name = string_field(ctx, spec, "name", true)
  rule.description = string_field(ctx, spec, "description") or ""

  local severity = spec.severity
  if severity == nil then
    severity = "medium"
  elseif not DEFAULT_RISK[severity] then
    fail("%s: field 'severity' must be one of %s (got %s)", ctx, table.concat(SEVERITIES, ", "),
         describe(severity))
  end
  rule.severity = severity
  rule.risk_score = integer_field(ctx, spec, "risk_score", 0, limits.RISK_MAX, DEFAULT_RISK[severity])

  rule.tags = string_list_field(ctx, spec, "tags")
  rule.references = string_list_field(ctx, spec, "references")
  if type(spec.author) == "string" then
    rule.author = string_list_field(ctx, { author = { spec.author } }, "author")
  else
    rule.author = string_list_field(ctx, spec, "author")
  end
  rule.license = string_field(ctx, spec, "license") or ""
  rule.version = integer_field(ctx, spec, "version", 1, nil, 1)

  local threat = spec.threat
  if threat == nil then
    threat = {}
  elseif type(threat) == "table" and threat.framework ~= nil then
    fail("%s: field 'threat' must be a list; wrap a single entry: threat = { mw.mitre(...) }", ctx)
  end
  local nthreat = list_length(threat)
  if not nthreat then
    fail("%s: field 'threat' must be a list of mw.mitre(...) entries (got %s)", ctx,
         describe(threat))
  end
  for i = 1, nthreat do
    check_threat(ctx .. ": threat[" .. i .. "]", threat[i])
  end
  rule.threat = copy_list(threat, nthreat)

  rule.note = string_field(ctx, spec, "note")
  rule.false_positives = string_list_field(ctx, spec, "false_positives")

  -- Detection: exactly one of `where` (single event), `sequence` or a window.
  local positions
  local given = {}
  for _, k in ipairs({ "where", "sequence", "threshold", "distinct", "new_terms", "absence",
                       "detection" }) do
    if spec[k] ~= nil then
      given[#given + 1] = k
    end
  end
  if #given == 2 and spec.where ~= nil and spec.sequence ~= nil then
    fail("%s: give either 'where' (single-event rule) or 'sequence', not both", ctx)
  elseif #given > 1 then
    fail("%s: give exactly one detection, not both '%s' and '%s'", ctx, given[1], given[2])
  elseif spec.detection ~= nil then
    local e = spec.detection
    if type(e) ~= "table" or e.__kind ~= "eql" then
      fail("%s: field 'detection' must be mw.eql[[ query ]] (got %s)", ctx, describe(e))
    end
    -- compiled by the host (src/frontend/eql_compile.c); the message's
    -- {N:path} positions are checked against the steps there
    rule.eql = { text = e.text, line = e.line }
    positions = limits.SEQ_MAX_STEPS
  elseif spec.where ~= nil then
    rule.where = normalize(spec.where, ctx .. ": field 'where'")
    positions = 1
  elseif spec.sequence ~= nil then
    positions = check_sequence(ctx .. ": field 'sequence'", spec.sequence)
    rule.sequence = spec.sequence
  elseif #given == 1 then
    local k = given[1]
    local w = spec[k]
    if type(w) ~= "table" or w.__kind ~= k then
      fail("%s: field '%s' must be built with mw.%s{...} (got %s)", ctx, k, k, describe(w))
    end
    check_window(ctx .. ": field '" .. k .. "'", w)
    rule[k] = w
    positions = 1
  else
    fail("%s: a rule needs a detection: field 'where' (single event), 'sequence', "
         .. "'threshold', 'distinct', 'new_terms' or 'absence'", ctx)
  end

  -- The default message is the rule's name, braces escaped so it renders as is.
  local message = string_field(ctx, spec, "message")
  if message == nil then
    message = rule.name:gsub("{", "{{"):gsub("}", "}}")
  end
  check_template(ctx .. ": field 'message'", message, positions)
  rule.message = message

  if spec.tests ~= nil then
    rule.tests = check_tests(ctx .. ": field 'tests'", spec.tests)
  end

  -- Alert shaping and the alert hook (docs/RULE-API.md#alert-shaping).
  if spec.suppress ~= nil then
    local sctx = ctx .. ": field 'suppress'"
    local sp = spec.suppress
    if type(sp) ~= "table" or sp == mw.null then
      fail("%s: expected { by = {fields...}, window = '1h' } (got %s)", sctx, describe(sp))
    end
    check_keys(sctx, "key", sp, { "by", "window" }, false)
    local by = key_list(sctx, sp.by)
    if #by == 0 then
      fail("%s: 'by' needs at least one field path", sctx)
    end
    for i = 1, #by do
      check_path(sctx, "by[" .. i .. "]", by[i], false)
    end
    if sp.window == nil then
      fail("%s: 'window' is required (a duration such as '1h')", sctx)
    end
    local window_ms = parse_duration(sctx .. ": window", sp.window)
    if window_ms < limits.SUPPRESS_MIN_MS then
      fail("%s: window must be at least 1s (got %s)", sctx, describe(sp.window))
    end
    rule.suppress = { by = by, window_ms = window_ms }
  end
  if spec.max_alerts ~= nil then
    local mctx = ctx .. ": field 'max_alerts'"
    local ma = spec.max_alerts
    if type(ma) ~= "table" or ma == mw.null then
      fail("%s: expected { count = 100, per = '15m' } (got %s)", mctx, describe(ma))
    end
    check_keys(mctx, "key", ma, { "count", "per" }, false)
    if math.type(ma.count) ~= "integer" or ma.count < 1 then
      fail("%s: 'count' must be an integer >= 1 (got %s)", mctx, describe(ma.count))
    end
    if ma.per == nil then
      fail("%s: 'per' is required (a duration such as '15m')", mctx)
    end
    local per_ms = parse_duration(mctx .. ": per", ma.per)
    if per_ms < limits.MAX_ALERTS_MIN_PER_MS then
      fail("%s: per must be at least 1s (got %s)", mctx, describe(ma.per))
    end
    rule.max_alerts = { count = ma.count, per_ms = per_ms }
  end
  if spec.on_alert ~= nil then
    if type(spec.on_alert) ~= "function" then
      fail("%s: field 'on_alert' must be a function(alert) (got %s)", ctx, describe(spec.on_alert))
    end
    rule.on_alert = spec.on_alert
  end

  return rule
end)

return mw
