-- tests/conformance/eql2lua.lua - translate an EQL `sequence` query (the
-- Endgame dialect of the conformance suite) into a moonwatch rule file.
--
-- translate(query, id) returns rule_source, pipes or nil, reason.
--   rule_source  Lua text of a rule file returning mw.rule{...}
--   pipes        list of {op = "head"|"tail", n = N} or
--                {op = "filter", index = i, field = f, value = v}
--
-- What it covers: `sequence [by keys] [with maxspan=N<unit>]`, terms
-- `[category where cond] [by keys]`, `until [...] by ...`, conditions made of
-- `and`/`or`/`not`/parentheses, `true`/`false`, comparisons (= == != < <= >
-- >=) of a field with a number or a string, and the pipes head/tail and
-- `filter events[N].field == value`. Endgame semantics: `==`/`=` on strings
-- is case-insensitive with `*` wildcards, so it becomes mw.ieq. A category
-- tests the field `event_type` (R1, PyEQL). A join key that is an injective
-- function of one field (`x * 2`, `string(x)`) joins exactly the events the
-- field joins, so the field is the key. Refused, with the reason: `fork=true`
-- (Endgame only, R18), `length()` on a key (null for numbers: only PyEQL
-- joins null keys, R9), anything else outside the grammar.

local M = {}

local function lexer(s)
  local toks, i = {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif s:sub(i, i + 1):match("^[=!<>]=") then
      toks[#toks + 1] = { t = "op", v = s:sub(i, i + 1) }
      i = i + 2
    elseif c:match("[=<>]") then
      toks[#toks + 1] = { t = "op", v = c == "=" and "==" or c }
      i = i + 1
    elseif c:match("[%[%]%(%),|*]") then
      toks[#toks + 1] = { t = c }
      i = i + 1
    elseif c == '"' or c == "'" then
      local j = s:find(c, i + 1, true)
      if not j then
        return nil, "unterminated string"
      end
      toks[#toks + 1] = { t = "str", v = s:sub(i + 1, j - 1) }
      i = j + 1
    elseif c:match("%d") or (c == "-" and s:sub(i + 1, i + 1):match("%d")) then
      local num = s:match("^%-?%d+%a*", i)
      toks[#toks + 1] = { t = "num", v = num }
      i = i + #num
    elseif c:match("[%a_]") or (c == "." and s:sub(i + 1, i + 1):match("[%a_]")) then
      local w = s:match("^[%w_%.]+", i)
      toks[#toks + 1] = { t = "word", v = w }
      i = i + #w
    else
      return nil, "unexpected character '" .. c .. "'"
    end
  end
  return toks
end

local function q(s)
  return string.format("%q", s)
end

function M.translate(query, id)
  local toks, lerr = lexer(query)
  if not toks then
    return nil, lerr
  end
  local pos = 1
  local function peek(k)
    return toks[pos + (k or 0)]
  end
  local function word(w)
    local t = peek()
    if t and t.t == "word" and t.v == w then
      pos = pos + 1
      return true
    end
  end
  local function expect(tt)
    local t = peek()
    if not t or t.t ~= tt then
      error({ "expected " .. tt .. " at token " .. pos })
    end
    pos = pos + 1
    return t
  end

  local function value()
    local t = peek()
    if t and t.t == "num" and t.v:match("^%-?%d+$") then
      pos = pos + 1
      return t.v, "num"
    elseif t and t.t == "str" then
      pos = pos + 1
      return q(t.v), "str"
    end
    error({ "expected a value at token " .. pos })
  end

  local cond
  local function primary()
    if word("not") then
      return "mw.not_(" .. primary() .. ")"
    elseif word("true") then
      return "function() return true end"
    elseif word("false") then
      return "function() return false end"
    elseif peek() and peek().t == "(" then
      pos = pos + 1
      local c = cond()
      expect(")")
      return c
    end
    local f = expect("word").v
    local op = expect("op").v
    local v, kind = value()
    if kind == "str" then
      -- Endgame: string comparison is case-insensitive, `*` is a wildcard
      if op == "==" then
        return string.format("mw.ieq(%q, %s)", f, v)
      elseif op == "!=" then
        return string.format("mw.not_(mw.ieq(%q, %s))", f, v)
      end
      error({ "ordering comparison on a string" })
    end
    local fn = ({ ["=="] = "eq", ["<"] = "lt", ["<="] = "le", [">"] = "gt", [">="] = "ge" })[op]
    if op == "!=" then
      return string.format("mw.not_(mw.eq(%q, %s))", f, v)
    end
    return string.format("mw.%s(%q, %s)", fn, f, v)
  end
  local function conj()
    local parts = { primary() }
    while word("and") do
      parts[#parts + 1] = primary()
    end
    return #parts == 1 and parts[1] or "mw.all{ " .. table.concat(parts, ", ") .. " }"
  end
  cond = function()
    local parts = { conj() }
    while word("or") do
      parts[#parts + 1] = conj()
    end
    return #parts == 1 and parts[1] or "mw.any{ " .. table.concat(parts, ", ") .. " }"
  end

  local function keyexpr()
    local t = peek()
    if t and t.t == "word" and peek(1) and peek(1).t == "(" then
      local fname = t.v
      pos = pos + 2
      local f = expect("word").v
      expect(")")
      if fname == "string" then
        return f
      elseif fname == "length" then
        error({ "join key length(" .. f .. ") is null for a number: only PyEQL joins null "
                .. "keys (EQL-SEMANTICS R9); Elasticsearch and moonwatch leave such events out" })
      end
      error({ "key function " .. fname .. "()" })
    end
    local f = expect("word").v
    if peek() and peek().t == "*" then
      pos = pos + 1
      local n = expect("num").v
      if tonumber(n) == 0 then
        error({ "key multiplied by 0" })
      end
      return f   -- x * n (n ~= 0) joins exactly when x does
    end
    return f
  end
  local function keylist()
    local ks = { keyexpr() }
    while peek() and peek().t == "," do
      pos = pos + 1
      ks[#ks + 1] = keyexpr()
    end
    return ks
  end
  local function keys_lua(ks)
    local out = {}
    for i, k in ipairs(ks) do
      out[i] = q(k)
    end
    return "{ " .. table.concat(out, ", ") .. " }"
  end

  local function term()
    expect("[")
    local cat = expect("word").v
    if not word("where") then
      error({ "expected 'where'" })
    end
    local c = cond()
    expect("]")
    local where = c
    if cat ~= "any" then
      where = string.format("mw.all{ mw.eq(\"event_type\", %q), %s }", cat, c)
    end
    local by = {}
    for _ = 1, 2 do
      if word("by") then
        by = keylist()
      elseif word("fork") then
        error({ "fork=true keeps a prefix after it advances: Endgame only, not in "
                .. "Elasticsearch (EQL-SEMANTICS R18)" })
      end
    end
    return where, by
  end

  local ok, res = pcall(function()
    if not word("sequence") then
      error({ "not a sequence query" })
    end
    local shared, maxspan = {}, nil
    if word("by") then
      shared = keylist()
    end
    if word("with") then
      if not word("maxspan") then
        error({ "expected maxspan" })
      end
      expect("op")
      maxspan = expect("num").v
    end
    local steps, untilp = {}, nil
    while peek() and peek().t == "[" do
      local w, by = term()
      steps[#steps + 1] = string.format("    { where = %s, by = %s },", w, keys_lua(by))
    end
    if word("until") then
      local w, by = term()
      untilp = string.format("    [\"until\"] = { where = %s, by = %s },", w, keys_lua(by))
    end
    local pipes = {}
    while peek() and peek().t == "|" do
      pos = pos + 1
      local p = expect("word").v
      if p == "head" or p == "tail" then
        pipes[#pipes + 1] = { op = p, n = tonumber(expect("num").v) }
      elseif p == "filter" then
        local ref = expect("word").v
        expect("[")
        local idx = tonumber(expect("num").v)
        expect("]")
        local field = expect("word").v:gsub("^%.", "")
        local op = expect("op").v
        local v = value()
        if ref ~= "events" or op ~= "==" then
          error({ "filter form" })
        end
        pipes[#pipes + 1] = { op = "filter", index = idx + 1, field = field, value = load("return " .. v)() }
      else
        error({ "pipe " .. p })
      end
    end
    if peek() then
      error({ "unexpected token at " .. pos })
    end
    local lines = {
      "local mw = require(\"moonwatch\")",
      "return mw.rule {",
      "  id = " .. q(id) .. ",",
      "  name = " .. q("EQL conformance " .. id) .. ",",
      "  sequence = mw.sequence {",
    }
    if maxspan then
      lines[#lines + 1] = "    maxspan = " .. q(maxspan) .. ","
    end
    if #shared > 0 then
      lines[#lines + 1] = "    by = " .. keys_lua(shared) .. ","
    end
    for _, s in ipairs(steps) do
      lines[#lines + 1] = s
    end
    if untilp then
      lines[#lines + 1] = untilp
    end
    lines[#lines + 1] = "  },"
    lines[#lines + 1] = "}"
    return { table.concat(lines, "\n") .. "\n", pipes }
  end)
  if not ok then
    if type(res) == "table" then
      return nil, res[1]
    end
    return nil, tostring(res)
  end
  return res[1], res[2]
end

return M
