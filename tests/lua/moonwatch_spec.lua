-- tests/lua/moonwatch_spec.lua - the rule API (lua/moonwatch.lua) against
-- docs/DESCRIPTORS.md: every constructor's output, every validation message,
-- and where errors are reported.

local mw = require("moonwatch")
local sandbox = require("helpers.sandbox")
local contract = require("helpers.contract")

local SPEC = debug.getinfo(1, "S").short_src

local function escape(s)
  return (s:gsub("%p", "%%%0"))
end

-- Call f(...) from a Lua frame of this file (not a tail call, so the API sees
-- this file as its caller) and return the error message without the
-- "tests/lua/moonwatch_spec.lua:N: " prefix, which must be there.
local function err(f, ...)
  local args = table.pack(...)
  local ok, e = pcall(function()
    local r = f(table.unpack(args, 1, args.n))
    return r
  end)
  assert(not ok, "expected an error")
  assert(type(e) == "string", "expected a string error")
  local stripped, n = e:gsub("^" .. escape(SPEC) .. ":%d+: ", "")
  assert(n == 1, "error lacks the caller's position: " .. e)
  return stripped
end

local function eq(field, v)
  return { op = "eq", field = field, values = { v } }
end

describe("mw", function()
  it("runs under Lua 5.4, like the host", function()
    assert.equals("Lua 5.4", _VERSION)
  end)

  it("has version 0.1.0", function()
    assert.equals("0.1.0", mw.version)
  end)

  it("exports every constructor in the contract", function()
    for _, name in ipairs({ "rule", "sequence", "mitre", "eq", "ieq", "like", "prefix", "suffix",
                            "contains", "lt", "le", "gt", "ge", "exists", "cidr", "category",
                            "regex", "all", "any", "none", "not_", "fn", "duration", "log" }) do
      assert.is_function(mw[name], name)
    end
    assert.is_not_nil(mw.null)
  end)
end)

describe("host hooks", function()
  it("uses the host's log and null when moonwatch.host exists", function()
    local log, null = function() end, {}
    local env = sandbox.new({ host = { log = log, null = null } })
    local m = env.require("moonwatch")
    assert.equals(log, m.log)
    assert.equals(null, m.null)
  end)

  it("falls back to a unique null sentinel", function()
    local a = sandbox.new().require("moonwatch")
    local b = sandbox.new().require("moonwatch")
    assert.is_table(a.null)
    assert.equals("mw.null", tostring(a.null))
    assert.are_not.equal(a.null, b.null)
  end)

  it("logs to io.stderr when io exists", function()
    local written = {}
    local fake_io = { stderr = { write = function(_, ...) table.insert(written, table.concat({ ... })) end } }
    local m = sandbox.new({ globals = { io = fake_io } }).require("moonwatch")
    m.log("hello", 1, true, nil)
    assert.same({ "hello\t1\ttrue\tnil\n" }, written)
  end)

  it("logs nowhere (and does not fail) without io", function()
    local m = sandbox.new().require("moonwatch")
    assert.has_no.errors(function() m.log("nothing to see") end)
  end)

  it("routes print to mw.log in the sandbox", function()
    local got
    local env = sandbox.new({ host = { log = function(...) got = { ... } end, null = {} } })
    env.print("x", 2)
    assert.same({ "x", 2 }, got)
  end)
end)

describe("value matchers", function()
  it("eq wraps a scalar and copies a list", function()
    assert.same({ op = "eq", field = "event.dataset", values = { "azure.signinlogs" } },
                mw.eq("event.dataset", "azure.signinlogs"))
    local list = { 0, 50053 }
    local m = mw.eq("error_code", list)
    assert.same({ op = "eq", field = "error_code", values = { 0, 50053 } }, m)
    list[1] = 99
    assert.equals(0, m.values[1])
    assert.same({ op = "eq", field = "a.b", values = { true, false } }, mw.eq("a.b", { true, false }))
  end)

  it("ieq and like", function()
    assert.same({ op = "ieq", field = "event.outcome", values = { "Success", "success" } },
                mw.ieq("event.outcome", { "Success", "success" }))
    assert.same({ op = "ieq", field = "n", values = { 1 } }, mw.ieq("n", 1))
    assert.same({ op = "like", field = "host.name", values = { "DESKTOP-*" } },
                mw.like("host.name", "DESKTOP-*"))
  end)

  it("prefix, suffix and contains carry ci", function()
    assert.same({ op = "prefix", field = "user.name", values = { "system:serviceaccount:" }, ci = false },
                mw.prefix("user.name", "system:serviceaccount:"))
    assert.same({ op = "suffix", field = "f", values = { ".exe", ".dll" }, ci = true },
                mw.suffix("f", { ".exe", ".dll" }, { ci = true }))
    assert.same({ op = "contains", field = "f", values = { "secret" }, ci = false },
                mw.contains("f", "secret", { ci = false }))
    assert.same({ op = "contains", field = "f", values = { "x" }, ci = false },
                mw.contains("f", "x", {}))
    assert.same({ op = "regex", field = "f", values = { "[0-9]+", "" }, ci = true },
                mw.regex("f", { "[0-9]+", "" }, { ci = true }))
  end)

  it("comparisons", function()
    assert.same({ op = "lt", field = "n", value = 5 }, mw.lt("n", 5))
    assert.same({ op = "le", field = "n", value = 5.5 }, mw.le("n", 5.5))
    assert.same({ op = "gt", field = "n", value = -1 }, mw.gt("n", -1))
    assert.same({ op = "ge", field = "n", value = 0 }, mw.ge("n", 0))
  end)

  it("exists", function()
    assert.same({ op = "exists", field = "source.ip" }, mw.exists("source.ip"))
  end)

  it("cidr accepts IPv4 and IPv6 blocks", function()
    local blocks = { "10.0.0.0/8", "0.0.0.0/0", "192.0.2.7/32", "::/0", "fe80::1/128",
                     "2001:db8::/32", "1:2:3:4:5:6:7:8/128", "::ffff:10.0.0.0/104", "1::/16" }
    assert.same({ op = "cidr", field = "source.ip", values = blocks }, mw.cidr("source.ip", blocks))
    assert.same({ op = "cidr", field = "source.ip", values = { "10.0.0.0/8" } },
                mw.cidr("source.ip", "10.0.0.0/8"))
  end)

  it("category defaults to event.category", function()
    assert.same({ op = "category", field = "event.category", values = { "authentication" } },
                mw.category("authentication"))
    assert.same({ op = "category", field = "event_type", values = { "process", "file" } },
                mw.category({ "process", "file" }, { field = "event_type" }))
  end)

  describe("errors", function()
    it("field must be a non-empty dotted path", function()
      assert.equals("mw.eq: field must be a non-empty string (got '')", err(mw.eq, "", 1))
      assert.equals("mw.eq: field must be a non-empty string (got nil)", err(mw.eq, nil, 1))
      assert.equals("mw.ieq: field must be a non-empty string (got 5)", err(mw.ieq, 5, 1))
      assert.equals("mw.exists: field must be a non-empty string (got table)", err(mw.exists, {}))
      for _, bad in ipairs({ "a..b", ".a", "a.", "a b" }) do
        assert.equals("mw.eq: field '" .. bad .. "' is not a valid dotted field path",
                      err(mw.eq, bad, 1))
      end
      assert.equals("mw.eq: field '?a.b': the '?' (optional key) prefix is only allowed in 'by' keys",
                    err(mw.eq, "?a.b", 1))
    end)

    it("values must be scalars or a non-empty list of them", function()
      assert.equals("mw.eq: a value or a list of values is required", err(mw.eq, "f"))
      assert.equals("mw.eq: the list of values is empty", err(mw.eq, "f", {}))
      assert.equals("mw.eq: values must be a list (a table with keys 1..n)", err(mw.eq, "f", { a = 1 }))
      assert.equals("mw.eq: values must be a list (a table with keys 1..n)",
                    err(mw.eq, "f", { [1] = "a", [3] = "c" }))
      assert.equals("mw.eq: values[2] must be a string, number or boolean (got table)",
                    err(mw.eq, "f", { "a", {} }))
      assert.equals("mw.eq: values[1] must be a string, number or boolean (got function)",
                    err(mw.eq, "f", print))
      assert.matches("^mw%.eq: values%[1%] must be a string, number or boolean %(got %-?nan%)$",
                     err(mw.eq, "f", 0 / 0))
      assert.equals("mw.eq: expected a value or a list of values, got a matcher",
                    err(mw.eq, "f", mw.eq("g", 1)))
      assert.equals("mw.eq: values[1] is mw.null; test for null with mw.not_(mw.exists(field)), "
                    .. "for presence with mw.exists(field)", err(mw.eq, "f", mw.null))
    end)

    it("several values must be one list", function()
      assert.equals("mw.eq: too many arguments (usage: mw.eq(field, value_or_list); several values "
                    .. "go in one list: mw.eq(field, { 'a', 'b' }))", err(mw.eq, "f", "a", "b"))
      assert.equals("mw.prefix: too many arguments (usage: mw.prefix(field, value_or_list, "
                    .. "{ ci = true|false }))", err(mw.prefix, "f", "a", {}, "x"))
      assert.equals("mw.lt: too many arguments (usage: mw.lt(field, number))", err(mw.lt, "f", 1, 2))
      assert.equals("mw.exists: too many arguments (usage: mw.exists(field))", err(mw.exists, "f", 1))
    end)

    it("string-only matchers refuse other values", function()
      assert.equals("mw.like: values[1] must be a string (got 5)", err(mw.like, "f", 5))
      assert.equals("mw.prefix: values[2] must be a string (got true)", err(mw.prefix, "f", { "a", true }))
      assert.equals("mw.category: values[1] must be a string (got 1)", err(mw.category, 1))
    end)

    it("prefix, suffix, contains and category refuse empty strings", function()
      local msg = ": values[1] must not be empty (it would match every value; use mw.exists)"
      assert.equals("mw.prefix" .. msg, err(mw.prefix, "f", ""))
      assert.equals("mw.suffix" .. msg, err(mw.suffix, "f", ""))
      assert.equals("mw.contains" .. msg, err(mw.contains, "f", ""))
      assert.equals("mw.category" .. msg, err(mw.category, ""))
      assert.same({ op = "eq", field = "f", values = { "" } }, mw.eq("f", ""))
    end)

    it("options are checked", function()
      assert.equals("mw.prefix: unknown option 'case'", err(mw.prefix, "f", "a", { case = true }))
      assert.equals("mw.prefix: unknown option 'cl' (did you mean 'ci'?)",
                    err(mw.prefix, "f", "a", { cl = true }))
      assert.equals("mw.suffix: option ci must be a boolean (got 'yes')",
                    err(mw.suffix, "f", "a", { ci = "yes" }))
      assert.equals("mw.contains: options must be a table, e.g. { ci = ... } (got 'ci')",
                    err(mw.contains, "f", "a", "ci"))
      assert.equals("mw.category: unknown option 'fields' (did you mean 'field'?)",
                    err(mw.category, "x", { fields = "a" }))
      assert.equals("mw.category: option field 'a..b' is not a valid dotted field path",
                    err(mw.category, "x", { field = "a..b" }))
    end)

    it("comparisons need a number", function()
      assert.equals("mw.lt: value must be a number (got '5')", err(mw.lt, "f", "5"))
      assert.equals("mw.ge: value must be a number (got nil)", err(mw.ge, "f"))
      assert.matches("^mw%.gt: value must be a number %(got %-?nan%)$", err(mw.gt, "f", 0 / 0))
    end)

    it("cidr blocks must look like address/prefix-length", function()
      for _, bad in ipairs({ "10.0.0.0", "10.0.0.256/8", "10.0.0.0/33", "10.0.0/8", "2001:db8::/129",
                             "1:2:3:4:5:6:7:8:9/64", "gg::/8", ":::/8", "1::2::3/64", "host/8",
                             "10.0.0.0/", "::ffff:10.0.0.300/104", "1:2:3:4:5:6:7::8/128" }) do
        assert.equals("mw.cidr: values[1] '" .. bad .. "' is not a CIDR block (expected "
                      .. "address/prefix-length, e.g. '10.0.0.0/8', '192.0.2.7/32' or '2001:db8::/32')",
                      err(mw.cidr, "source.ip", bad))
      end
      assert.equals("mw.cidr: values[1] must be a string (got 10)", err(mw.cidr, "source.ip", 10))
    end)
  end)
end)

describe("boolean matchers", function()
  it("all and any keep their children in the array part", function()
    local a, b = mw.eq("a", 1), mw.eq("b", 2)
    assert.same({ op = "all", eq("a", 1), eq("b", 2) }, mw.all({ a, b }))
    assert.same({ op = "any", eq("a", 1), eq("b", 2) }, mw.any({ a, b }))
    assert.same({ op = "all", eq("a", 1) }, mw.all({ a }))
  end)

  it("none is not any; with one child, not that child", function()
    assert.same({ op = "not", { op = "any", eq("a", 1), eq("b", 2) } },
                mw.none({ mw.eq("a", 1), mw.eq("b", 2) }))
    assert.same({ op = "not", eq("a", 1) }, mw.none({ mw.eq("a", 1) }))
  end)

  it("not_ and fn", function()
    assert.same({ op = "not", { op = "exists", field = "x" } }, mw.not_(mw.exists("x")))
    local f = function() return true end
    assert.same({ op = "fn", fn = f }, mw.fn(f))
  end)

  it("a bare function is fn and a plain list is all, wherever a matcher goes", function()
    local f = function() return true end
    assert.same({ op = "all", eq("a", 1), { op = "fn", fn = f } }, mw.all({ mw.eq("a", 1), f }))
    assert.same({ op = "any", { op = "all", eq("a", 1), eq("b", 2) }, eq("c", 3) },
                mw.any({ { mw.eq("a", 1), mw.eq("b", 2) }, mw.eq("c", 3) }))
    assert.same({ op = "not", { op = "fn", fn = f } }, mw.not_(f))
    assert.same({ op = "not", { op = "all", eq("a", 1) } }, mw.not_({ mw.eq("a", 1) }))
  end)

  it("accepts hand-written descriptors that follow the contract", function()
    local m = mw.all({ { op = "eq", field = "a", values = { 1 } }, { op = "prefix", field = "b", values = { "x" }, ci = true } })
    assert.is_true(contract.matcher(m))
  end)

  describe("errors", function()
    it("combinators take one non-empty list", function()
      assert.equals("mw.all: takes one list of matchers: mw.all{ m1, m2, ... }",
                    err(mw.all, mw.eq("a", 1), mw.eq("b", 2)))
      assert.equals("mw.any: expects a list of matchers, got a single matcher (write mw.any{ m1, m2, ... })",
                    err(mw.any, mw.eq("a", 1)))
      assert.equals("mw.all: expects a list of matchers: mw.all{ m1, m2, ... } (got 'x')", err(mw.all, "x"))
      assert.equals("mw.all: the list of matchers is empty", err(mw.all, {}))
      assert.equals("mw.none: the list of matchers is empty", err(mw.none, {}))
    end)

    it("children must be matchers", function()
      local hint = "a matcher (mw.eq, mw.all, ...), a function, or a list of matchers"
      assert.equals("mw.all[2]: expected " .. hint .. " (got 'x')", err(mw.all, { mw.eq("a", 1), "x" }))
      assert.equals("mw.any[1]: expected " .. hint .. " (got a table without 'op' that is not a non-empty list)",
                    err(mw.any, { { x = 1 } }))
      assert.equals("mw.all[1]: unknown matcher op 'glob'", err(mw.all, { { op = "glob", field = "f" } }))
      assert.equals("mw.all[2] (eq): field must be a non-empty string (got '')",
                    err(mw.all, { mw.eq("a", 1), { op = "eq", field = "", values = { 1 } } }))
      assert.equals("mw.all[1] (eq): unknown key 'value' (did you mean 'values'?)",
                    err(mw.all, { { op = "eq", field = "f", value = 1 } }))
      assert.equals("mw.all[1] (prefix): ci must be a boolean (got nil)",
                    err(mw.all, { { op = "prefix", field = "f", values = { "x" } } }))
      assert.equals("mw.all[1] > any[1] (eq): values must be a non-empty list (got table)",
                    err(mw.all, { { op = "any", { op = "eq", field = "f", values = { a = 1 } } } }))
      assert.equals("mw.all[1] (not): needs exactly one child matcher (got 2)",
                    err(mw.all, { { op = "not", mw.eq("a", 1), mw.eq("b", 1) } }))
      assert.equals("mw.all[1] (fn): fn must be a function (got 'f')", err(mw.all, { { op = "fn", fn = "f" } }))
      assert.equals("mw.not_: a matcher is required", err(mw.not_))
      assert.equals("mw.not_: too many arguments (usage: mw.not_(matcher))", err(mw.not_, mw.eq("a", 1), 2))
      assert.equals("mw.fn: expected a function (got 'f')", err(mw.fn, "f"))
    end)

    it("refuses a sequence where a matcher goes", function()
      local seq = mw.sequence({ { where = mw.eq("a", 1) }, { where = mw.eq("b", 1) } })
      assert.equals("mw.not_: expected a matcher (mw.eq, mw.all, ...), a function, or a list of matchers, "
                    .. "got a sequence (a sequence goes in the rule's 'sequence' field)", err(mw.not_, seq))
    end)

    it("stops at a matcher that contains itself", function()
      local loop = { op = "all" }
      loop[1] = loop
      assert.matches("matchers nested more than 64 deep %(does a matcher contain itself%?%)$",
                     err(mw.not_, loop))
    end)
  end)
end)

describe("mw.duration", function()
  it("parses integer + unit into milliseconds", function()
    assert.equals(500, mw.duration("500ms"))
    assert.equals(30000, mw.duration("30s"))
    assert.equals(1800000, mw.duration("30m"))
    assert.equals(3600000, mw.duration("1h"))
    assert.equals(86400000, mw.duration("1d"))
    assert.equals(0, mw.duration("0s"))
    assert.equals("integer", math.type(mw.duration("1d")))
  end)

  it("accepts a whole number of milliseconds", function()
    assert.equals(1500, mw.duration(1500))
    assert.equals(1000, mw.duration(1000.0))
    assert.equals("integer", math.type(mw.duration(1000.0)))
  end)

  it("rejects fractions, negatives, bad or missing units", function()
    local hint = "(expected an integer followed by ms, s, m, h or d, e.g. '30m')"
    assert.equals("mw.duration: invalid duration '1.5m' " .. hint, err(mw.duration, "1.5m"))
    assert.equals("mw.duration: invalid duration ' 5m' " .. hint, err(mw.duration, " 5m"))
    assert.equals("mw.duration: invalid duration '' " .. hint, err(mw.duration, ""))
    assert.equals("mw.duration: invalid duration '1e3ms' " .. hint, err(mw.duration, "1e3ms"))
    assert.equals("mw.duration: a number of milliseconds must be a whole number (got 1.5)",
                  err(mw.duration, 1.5))
    assert.equals("mw.duration: a duration must not be negative (got '-5m')", err(mw.duration, "-5m"))
    assert.equals("mw.duration: a duration must not be negative (got -1)", err(mw.duration, -1))
    assert.equals("mw.duration: duration '30' has no unit " .. hint, err(mw.duration, "30"))
    assert.equals("mw.duration: unknown unit 'w' in '2w' (use ms, s, m, h or d)", err(mw.duration, "2w"))
    assert.equals("mw.duration: unknown unit 'M' in '5M' (use ms, s, m, h or d)", err(mw.duration, "5M"))
    assert.equals("mw.duration: duration '9999999999999999999d' is too large",
                  err(mw.duration, "9999999999999999999d"))
    assert.equals("mw.duration: expected a duration string like '30m' or a number of milliseconds "
                  .. "(got table)", err(mw.duration, {}))
    assert.equals("mw.duration: expected a duration string like '30m' or a number of milliseconds "
                  .. "(got nil)", err(mw.duration, nil))
  end)
end)

describe("mw.mitre", function()
  it("builds the entry of the contract", function()
    assert.same({
      framework = "MITRE ATT&CK",
      tactic = { id = "TA0006", name = "Credential Access",
                 reference = "https://attack.mitre.org/tactics/TA0006/" },
      technique = { { id = "T1552", name = "Unsecured Credentials",
                      reference = "https://attack.mitre.org/techniques/T1552/",
                      subtechnique = { { id = "T1552.007", name = "Container API",
                                         reference = "https://attack.mitre.org/techniques/T1552/007/" } } } },
    }, mw.mitre("TA0006", "T1552", "T1552.007"))
  end)

  it("omits subtechnique without one, and technique for a tactic alone", function()
    assert.same({
      framework = "MITRE ATT&CK",
      tactic = { id = "TA0006", name = "Credential Access",
                 reference = "https://attack.mitre.org/tactics/TA0006/" },
      technique = { { id = "T1528", name = "Steal Application Access Token",
                      reference = "https://attack.mitre.org/techniques/T1528/" } },
    }, mw.mitre("TA0006", "T1528"))
    assert.same({
      framework = "MITRE ATT&CK",
      tactic = { id = "TA0040", name = "Impact", reference = "https://attack.mitre.org/tactics/TA0040/" },
    }, mw.mitre("TA0040"))
  end)

  it("knows the 14 enterprise tactics by their official names", function()
    local expected = {
      TA0001 = "Initial Access", TA0002 = "Execution", TA0003 = "Persistence",
      TA0004 = "Privilege Escalation", TA0005 = "Defense Evasion", TA0006 = "Credential Access",
      TA0007 = "Discovery", TA0008 = "Lateral Movement", TA0009 = "Collection",
      TA0010 = "Exfiltration", TA0011 = "Command and Control", TA0040 = "Impact",
      TA0042 = "Resource Development", TA0043 = "Reconnaissance",
    }
    for id, name in pairs(expected) do
      assert.equals(name, mw.mitre(id).tactic.name)
    end
    assert.same(expected, require("moonwatch.mitre").tactics)
  end)

  it("knows the cloud and identity techniques rules need", function()
    -- id -> { tactic it can be used under, official name }
    local expected = {
      T1078 = { "TA0001", "Valid Accounts" }, ["T1078.004"] = { "TA0001", "Cloud Accounts" },
      T1552 = { "TA0006", "Unsecured Credentials" }, ["T1552.001"] = { "TA0006", "Credentials In Files" },
      ["T1552.007"] = { "TA0006", "Container API" }, T1528 = { "TA0006", "Steal Application Access Token" },
      T1098 = { "TA0003", "Account Manipulation" }, ["T1098.001"] = { "TA0003", "Additional Cloud Credentials" },
      ["T1098.003"] = { "TA0003", "Additional Cloud Roles" }, T1110 = { "TA0006", "Brute Force" },
      ["T1110.003"] = { "TA0006", "Password Spraying" },
      T1621 = { "TA0006", "Multi-Factor Authentication Request Generation" },
      T1556 = { "TA0006", "Modify Authentication Process" },
      ["T1556.006"] = { "TA0006", "Multi-Factor Authentication" },
      T1606 = { "TA0006", "Forge Web Credentials" }, ["T1606.002"] = { "TA0006", "SAML Tokens" },
      T1069 = { "TA0007", "Permission Groups Discovery" }, T1087 = { "TA0007", "Account Discovery" },
      ["T1087.004"] = { "TA0007", "Cloud Account" }, T1526 = { "TA0007", "Cloud Service Discovery" },
      T1580 = { "TA0007", "Cloud Infrastructure Discovery" }, T1530 = { "TA0009", "Data from Cloud Storage" },
      T1537 = { "TA0010", "Transfer Data to Cloud Account" },
      T1484 = { "TA0005", "Domain or Tenant Policy Modification" }, T1562 = { "TA0005", "Impair Defenses" },
      ["T1562.008"] = { "TA0005", "Disable or Modify Cloud Logs" }, T1566 = { "TA0001", "Phishing" },
      ["T1566.002"] = { "TA0001", "Spearphishing Link" }, T1199 = { "TA0001", "Trusted Relationship" },
      T1550 = { "TA0005", "Use Alternate Authentication Material" },
      ["T1550.001"] = { "TA0005", "Application Access Token" }, T1648 = { "TA0002", "Serverless Execution" },
      T1613 = { "TA0007", "Container and Resource Discovery" },
      T1609 = { "TA0002", "Container Administration Command" }, T1610 = { "TA0002", "Deploy Container" },
      T1611 = { "TA0004", "Escape to Host" }, T1021 = { "TA0008", "Remote Services" },
      ["T1021.007"] = { "TA0008", "Cloud Services" }, T1485 = { "TA0040", "Data Destruction" },
      T1486 = { "TA0040", "Data Encrypted for Impact" }, T1490 = { "TA0040", "Inhibit System Recovery" },
      T1496 = { "TA0040", "Resource Hijacking" }, T1059 = { "TA0002", "Command and Scripting Interpreter" },
      ["T1059.009"] = { "TA0002", "Cloud API" },
    }
    for id, want in pairs(expected) do
      local parent, suffix = id:match("^(T%d+)%.(%d+)$")
      local e = mw.mitre(want[1], parent or id, parent and id or nil)
      local t = e.technique[1]
      if parent then
        assert.equals(want[2], t.subtechnique[1].name, id)
        assert.equals("https://attack.mitre.org/techniques/" .. parent .. "/" .. suffix .. "/",
                      t.subtechnique[1].reference)
      else
        assert.equals(want[2], t.name, id)
        assert.equals("https://attack.mitre.org/techniques/" .. id .. "/", t.reference)
      end
    end
  end)

  it("has a consistent catalogue", function()
    local catalogue = require("moonwatch.mitre")
    for id, t in pairs(catalogue.techniques) do
      assert.matches("^T%d%d%d%d$", id)
      assert.is_string(t.name)
      assert.is_true(#t.tactics > 0, id)
      for _, tactic in ipairs(t.tactics) do
        assert.is_string(catalogue.tactics[tactic], id .. " lists unknown tactic " .. tactic)
        assert.has_no.errors(function() mw.mitre(tactic, id) end)
      end
      for suffix, name in pairs(t.sub or {}) do
        assert.matches("^%d%d%d$", suffix)
        assert.is_string(name)
      end
    end
  end)

  describe("errors", function()
    it("unknown ids name the id", function()
      assert.equals("mw.mitre: unknown tactic id 'TA0099' (see lua/moonwatch/mitre.lua)",
                    err(mw.mitre, "TA0099", "T1552"))
      assert.equals("mw.mitre: unknown technique id 'T9999' (see lua/moonwatch/mitre.lua)",
                    err(mw.mitre, "TA0006", "T9999"))
      assert.equals("mw.mitre: unknown sub-technique id 'T1552.099' (see lua/moonwatch/mitre.lua)",
                    err(mw.mitre, "TA0006", "T1552", "T1552.099"))
      assert.equals("mw.mitre: unknown sub-technique id '007' (expected the form Txxxx.yyy)",
                    err(mw.mitre, "TA0006", "T1552", "007"))
      assert.equals("mw.mitre: tactic id must be a string like 'TA0006' (got nil)", err(mw.mitre))
      assert.equals("mw.mitre: technique id must be a string like 'T1078' (got 1552)",
                    err(mw.mitre, "TA0006", 1552))
    end)

    it("a sub-technique must belong to its technique", function()
      assert.equals("mw.mitre: sub-technique 'T1078.004' does not belong to technique 'T1552'",
                    err(mw.mitre, "TA0006", "T1552", "T1078.004"))
      assert.equals("mw.mitre: a sub-technique needs its technique: mw.mitre(tactic, technique, subtechnique)",
                    err(mw.mitre, "TA0006", nil, "T1552.007"))
      assert.equals("mw.mitre: 'T1552.007' is a sub-technique; pass it third: "
                    .. "mw.mitre('TA0006', 'T1552', 'T1552.007')", err(mw.mitre, "TA0006", "T1552.007"))
    end)

    it("a technique must be filed under the tactic", function()
      assert.equals("mw.mitre: technique T1552 (Unsecured Credentials) is not under tactic TA0001 "
                    .. "(Initial Access); ATT&CK lists it under TA0006 Credential Access",
                    err(mw.mitre, "TA0001", "T1552"))
      assert.equals("mw.mitre: technique T1078 (Valid Accounts) is not under tactic TA0006 "
                    .. "(Credential Access); ATT&CK lists it under TA0001 Initial Access, "
                    .. "TA0003 Persistence, TA0004 Privilege Escalation, TA0005 Defense Evasion",
                    err(mw.mitre, "TA0006", "T1078"))
    end)
  end)
end)

describe("mw.sequence", function()
  it("builds the descriptor of the contract", function()
    local m1, m2, m3 = mw.eq("a", 1), mw.eq("b", 2), mw.eq("c", 3)
    assert.same({
      __kind = "sequence", maxspan_ms = 1800000, by = { "user.id" }, keys_ci = true,
      steps = { { where = eq("a", 1), by = { "a.field" }, runs = 1 },
                { where = eq("b", 2), by = { "b.field" }, runs = 2 } },
      ["until"] = { where = eq("c", 3), by = { "c.field" } },
    }, mw.sequence({
      maxspan = "30m",
      by = { "user.id" },
      keys_ci = true,
      { where = m1, by = "a.field" },
      { where = m2, by = "b.field", runs = 2 },
      ["until"] = { where = m3, by = "c.field" },
    }))
  end)

  it("fills defaults and normalises matchers", function()
    local f = function() return true end
    assert.same({
      __kind = "sequence", by = {}, keys_ci = false,
      steps = { { where = { op = "fn", fn = f }, by = {}, runs = 1 },
                { where = { op = "all", eq("a", 1), eq("b", 2) }, by = {}, runs = 1 } },
    }, mw.sequence({ { where = f }, { where = { mw.eq("a", 1), mw.eq("b", 2) } } }))
  end)

  it("accepts one step with runs >= 2, optional keys and millisecond maxspan", function()
    local s = mw.sequence({ maxspan = 500, by = "?user.name",
                            { where = mw.eq("a", 1), by = { "x", "?y" }, runs = 2 } })
    assert.equals(500, s.maxspan_ms)
    assert.same({ "?user.name" }, s.by)
    assert.same({ "x", "?y" }, s.steps[1].by)
    assert.equals(2, s.steps[1].runs)
  end)

  it("copies key lists", function()
    local keys = { "a" }
    local s = mw.sequence({ by = keys, { where = mw.eq("a", 1) }, { where = mw.eq("b", 1) } })
    keys[1] = "changed"
    assert.same({ "a" }, s.by)
  end)

  describe("errors", function()
    local function step(n, extra)
      local s = { where = mw.eq("f", n), by = "k" }
      for k, v in pairs(extra or {}) do
        s[k] = v
      end
      return s
    end

    it("needs at least two event positions", function()
      local msg = "mw.sequence: needs at least 2 steps (or one step with runs >= 2)"
      assert.equals(msg, err(mw.sequence, { step(1) }))
      assert.equals(msg, err(mw.sequence, {}))
      assert.equals(msg, err(mw.sequence, { maxspan = "1m" }))
    end)

    it("checks runs", function()
      assert.equals("mw.sequence: step 2: runs must be an integer from 1 to 100 (got 0)",
                    err(mw.sequence, { step(1), step(2, { runs = 0 }) }))
      assert.equals("mw.sequence: step 1: runs must be an integer from 1 to 100 (got 101)",
                    err(mw.sequence, { step(1, { runs = 101 }), step(2) }))
      assert.equals("mw.sequence: step 1: runs must be an integer from 1 to 100 (got 1.5)",
                    err(mw.sequence, { step(1, { runs = 1.5 }), step(2) }))
      assert.equals("mw.sequence: until: 'runs' is not allowed on 'until'",
                    err(mw.sequence, { step(1), step(2), ["until"] = step(3, { runs = 2 }) }))
      assert.is_table(mw.sequence({ step(1, { runs = 100 }) }))
    end)

    it("needs the same number of keys in every step and until", function()
      assert.equals("mw.sequence: step 2: every step and 'until' must have the same number of 'by' keys "
                    .. "(step 1 has 1, this has 2)",
                    err(mw.sequence, { step(1), step(2, { by = { "k1", "k2" } }) }))
      assert.equals("mw.sequence: until: every step and 'until' must have the same number of 'by' keys "
                    .. "(step 1 has 1, this has 0)",
                    err(mw.sequence, { step(1), step(2), ["until"] = { where = mw.eq("f", 3) } }))
    end)

    it("checks the shape of steps", function()
      assert.equals("mw.sequence: step 1: must be a table { where = <matcher>, by = <field or fields> } "
                    .. "(got a matcher)", err(mw.sequence, { mw.eq("a", 1), step(2) }))
      assert.equals("mw.sequence: step 2: must be a table { where = <matcher>, by = <field or fields> } "
                    .. "(got 'x')", err(mw.sequence, { step(1), "x" }))
      assert.equals("mw.sequence: step 2: 'where' is required", err(mw.sequence, { step(1), { by = "k" } }))
      assert.equals("mw.sequence: step 1: unknown key 'wher' (did you mean 'where'?)",
                    err(mw.sequence, { { wher = mw.eq("a", 1) }, step(2) }))
      assert.equals("mw.sequence: steps must be listed in order without gaps (keys 1..n)",
                    err(mw.sequence, { [1] = step(1), [3] = step(3) }))
      assert.equals("mw.sequence: step 2: where (eq): values must be a non-empty list (got table)",
                    err(mw.sequence, { step(1), { where = { op = "eq", field = "f", values = {} } } }))
      assert.equals("mw.sequence: until: where: expected a matcher (mw.eq, mw.all, ...), a function, "
                    .. "or a list of matchers (got 5)",
                    err(mw.sequence, { step(1), step(2), ["until"] = { where = 5, by = "k" } }))
    end)

    it("checks keys", function()
      assert.equals("mw.sequence: step 1: by[1] 'a..b' is not a valid dotted field path",
                    err(mw.sequence, { step(1, { by = "a..b" }), step(2) }))
      assert.equals("mw.sequence: by[1] '?' is not a valid dotted field path",
                    err(mw.sequence, { by = "?", step(1), step(2) }))
      assert.equals("mw.sequence: step 1: 'by' must be a field path or a list of field paths (got 5)",
                    err(mw.sequence, { step(1, { by = 5 }), step(2) }))
      assert.equals("mw.sequence: keys_ci must be a boolean (got 'yes')",
                    err(mw.sequence, { keys_ci = "yes", step(1), step(2) }))
    end)

    it("checks the sequence's own keys and maxspan", function()
      assert.equals("mw.sequence: unknown key 'maxspn' (did you mean 'maxspan'?)",
                    err(mw.sequence, { maxspn = "5m", step(1), step(2) }))
      assert.equals("mw.sequence: maxspan: unknown unit 'x' in '30x' (use ms, s, m, h or d)",
                    err(mw.sequence, { maxspan = "30x", step(1), step(2) }))
      assert.equals("mw.sequence: maxspan must be greater than 0 (got 0 ms)",
                    err(mw.sequence, { maxspan = "0s", step(1), step(2) }))
      assert.equals("mw.sequence: expects a table: mw.sequence{ { where = ..., by = ... }, ... } (got nil)",
                    err(mw.sequence))
    end)
  end)
end)

describe("mw.rule alert shaping and hooks", function()
  local function minimal(extra)
    local spec = { id = "r1", name = "Rule one", where = mw.eq("a", 1) }
    for k, v in pairs(extra or {}) do
      spec[k] = v
    end
    return spec
  end

  it("normalises suppress: by as a list, window in milliseconds", function()
    local r = mw.rule(minimal({ suppress = { by = "user.name", window = "1h" } }))
    assert.same({ by = { "user.name" }, window_ms = 3600000 }, r.suppress)
    r = mw.rule(minimal({ suppress = { by = { "user.name", "source.ip" }, window = "10m" } }))
    assert.same({ by = { "user.name", "source.ip" }, window_ms = 600000 }, r.suppress)
    assert.is_true(contract.rule(r))
  end)

  it("refuses a bad suppress", function()
    assert.equals("mw.rule: field 'suppress': expected { by = {fields...}, window = '1h' } (got 'x')",
                  err(mw.rule, minimal({ suppress = "x" })))
    assert.equals("mw.rule: field 'suppress': 'by' needs at least one field path",
                  err(mw.rule, minimal({ suppress = { by = {}, window = "1h" } })))
    assert.equals("mw.rule: field 'suppress': 'window' is required (a duration such as '1h')",
                  err(mw.rule, minimal({ suppress = { by = "a" } })))
    assert.equals("mw.rule: field 'suppress': window must be at least 1s (got '500ms')",
                  err(mw.rule, minimal({ suppress = { by = "a", window = "500ms" } })))
    assert.equals("mw.rule: field 'suppress': unknown key 'windw' (did you mean 'window'?)",
                  err(mw.rule, minimal({ suppress = { by = "a", windw = "1h" } })))
    assert.matches("not a valid dotted field path",
                   err(mw.rule, minimal({ suppress = { by = "a..b", window = "1h" } })))
  end)

  it("normalises max_alerts", function()
    local r = mw.rule(minimal({ max_alerts = { count = 100, per = "15m" } }))
    assert.same({ count = 100, per_ms = 900000 }, r.max_alerts)
    assert.is_true(contract.rule(r))
  end)

  it("refuses a bad max_alerts", function()
    assert.equals("mw.rule: field 'max_alerts': expected { count = 100, per = '15m' } (got 100)",
                  err(mw.rule, minimal({ max_alerts = 100 })))
    assert.equals("mw.rule: field 'max_alerts': 'count' must be an integer >= 1 (got 0)",
                  err(mw.rule, minimal({ max_alerts = { count = 0, per = "1m" } })))
    assert.equals("mw.rule: field 'max_alerts': 'per' is required (a duration such as '15m')",
                  err(mw.rule, minimal({ max_alerts = { count = 5 } })))
    assert.matches("per: invalid duration", err(mw.rule, minimal({ max_alerts = { count = 5, per = "15 minutes" } })))
  end)

  it("keeps an on_alert function as is and refuses anything else", function()
    local f = function() end
    local r = mw.rule(minimal({ on_alert = f }))
    assert.equals(f, r.on_alert)
    assert.is_true(contract.rule(r))
    assert.equals("mw.rule: field 'on_alert' must be a function(alert) (got 'x')",
                  err(mw.rule, minimal({ on_alert = "x" })))
  end)

  it("suggests the shaping keys on a typo", function()
    assert.equals("mw.rule: unknown field 'supress' (did you mean 'suppress'?)",
                  err(mw.rule, minimal({ supress = {} })))
  end)
end)

describe("mw.rule", function()
  local function minimal(extra)
    local spec = { id = "r1", name = "Rule one", where = mw.eq("a", 1) }
    for k, v in pairs(extra or {}) do
      spec[k] = v
    end
    return spec
  end

  it("fills the documented defaults", function()
    assert.same({
      __kind = "rule", id = "r1", name = "Rule one", description = "", severity = "medium",
      risk_score = 47, tags = {}, references = {}, author = {}, license = "", version = 1,
      threat = {}, false_positives = {}, message = "Rule one", where = eq("a", 1),
    }, mw.rule(minimal()))
  end)

  it("derives risk_score from severity", function()
    assert.equals(21, mw.rule(minimal({ severity = "low" })).risk_score)
    assert.equals(47, mw.rule(minimal({ severity = "medium" })).risk_score)
    assert.equals(73, mw.rule(minimal({ severity = "high" })).risk_score)
    assert.equals(99, mw.rule(minimal({ severity = "critical" })).risk_score)
    assert.equals(5, mw.rule(minimal({ severity = "critical", risk_score = 5 })).risk_score)
  end)

  it("keeps every given field", function()
    local threat = { mw.mitre("TA0006", "T1528") }
    local seq = mw.sequence({ { where = mw.eq("a", 1), by = "x" }, { where = mw.eq("b", 1), by = "y" } })
    local r = mw.rule({
      id = "r2", name = "Two", description = "d", severity = "high", risk_score = 70,
      tags = { "t1", "t2" }, references = { "https://example.org/" }, author = { "A", "B" },
      license = "Elastic License v2", version = 3, threat = threat, note = "# guide",
      false_positives = { "fp" }, message = "{1:user.name} then {2:host.name} ({key}, {gap}, {rule.name}) {{x}}",
      sequence = seq,
    })
    assert.same({
      __kind = "rule", id = "r2", name = "Two", description = "d", severity = "high", risk_score = 70,
      tags = { "t1", "t2" }, references = { "https://example.org/" }, author = { "A", "B" },
      license = "Elastic License v2", version = 3, threat = threat, note = "# guide",
      false_positives = { "fp" }, message = "{1:user.name} then {2:host.name} ({key}, {gap}, {rule.name}) {{x}}",
      sequence = seq,
    }, r)
    assert.is_true(contract.rule(r))
  end)

  it("normalises author, where and the default message", function()
    local f = function() return true end
    local r = mw.rule({ id = "r", name = "Odd {name}", author = "Elastic", where = f })
    assert.same({ "Elastic" }, r.author)
    assert.same({ op = "fn", fn = f }, r.where)
    assert.equals("Odd {{name}}", r.message)
    assert.same({ op = "all", eq("a", 1) }, mw.rule(minimal({ where = { mw.eq("a", 1) } })).where)
    assert.is_true(contract.rule(r))
  end)

  it("accepts its own output", function()
    local r = mw.rule(minimal())
    assert.same(r, mw.rule(r))
  end)

  describe("errors", function()
    it("names the bad field and the allowed values", function()
      assert.equals("mw.rule: field 'severity' must be one of low, medium, high, critical (got 'urgent')",
                    err(mw.rule, minimal({ severity = "urgent" })))
      assert.equals("mw.rule: field 'risk_score' must be an integer from 0 to 100 (got 150)",
                    err(mw.rule, minimal({ risk_score = 150 })))
      assert.equals("mw.rule: field 'risk_score' must be an integer from 0 to 100 (got 4.5)",
                    err(mw.rule, minimal({ risk_score = 4.5 })))
      assert.equals("mw.rule: field 'version' must be an integer >= 1 (got 0)",
                    err(mw.rule, minimal({ version = 0 })))
    end)

    it("catches typos in field names", function()
      assert.equals("mw.rule: unknown field 'severty' (did you mean 'severity'?)",
                    err(mw.rule, minimal({ severty = "high" })))
      assert.equals("mw.rule: unknown field 'mitre'", err(mw.rule, minimal({ mitre = {} })))
      assert.equals("mw.rule: unexpected key [1] (fields are named, e.g. __kind = ...)",
                    err(mw.rule, { "r1", id = "r1", name = "n", where = mw.eq("a", 1) }))
      assert.equals("mw.rule: field '__kind' is set by mw.rule (got 'sequence')",
                    err(mw.rule, minimal({ __kind = "sequence" })))
    end)

    it("requires id and name", function()
      assert.equals("mw.rule: field 'id' is required and must be a non-empty string (got nil)",
                    err(mw.rule, { name = "n", where = mw.eq("a", 1) }))
      assert.equals("mw.rule: field 'name' is required and must be a non-empty string (got '')",
                    err(mw.rule, { id = "x", name = "", where = mw.eq("a", 1) }))
      assert.equals("mw.rule: field 'description' must be a string (got 5)",
                    err(mw.rule, minimal({ description = 5 })))
      assert.equals("mw.rule: expects a table: mw.rule{ id = ..., name = ..., ... } (got 'x')",
                    err(mw.rule, "x"))
    end)

    it("checks lists of strings", function()
      assert.equals("mw.rule: field 'tags' must be a list of strings (got 'Domain: Cloud')",
                    err(mw.rule, minimal({ tags = "Domain: Cloud" })))
      assert.equals("mw.rule: field 'references'[2] must be a non-empty string (got 5)",
                    err(mw.rule, minimal({ references = { "https://x/", 5 } })))
      assert.equals("mw.rule: field 'author'[1] must be a non-empty string (got '')",
                    err(mw.rule, minimal({ author = "" })))
      assert.equals("mw.rule: field 'false_positives' must be a list of strings (got table)",
                    err(mw.rule, minimal({ false_positives = { x = "y" } })))
    end)

    it("checks threat entries", function()
      assert.equals("mw.rule: field 'threat' must be a list; wrap a single entry: threat = { mw.mitre(...) }",
                    err(mw.rule, minimal({ threat = mw.mitre("TA0006") })))
      assert.equals("mw.rule: threat[1]: expected an entry built with mw.mitre(...) (got 'TA0006')",
                    err(mw.rule, minimal({ threat = { "TA0006" } })))
      local bad = mw.mitre("TA0006", "T1528")
      bad.technique[1].id = "T1078"
      assert.equals("mw.rule: threat[1]: technique[1]: technique T1078 (Valid Accounts) is not under tactic "
                    .. "TA0006 (Credential Access); ATT&CK lists it under TA0001 Initial Access, "
                    .. "TA0003 Persistence, TA0004 Privilege Escalation, TA0005 Defense Evasion",
                    err(mw.rule, minimal({ threat = { bad } })))
      -- Several techniques under one tactic, written by hand, are fine.
      local merged = mw.mitre("TA0006", "T1552", "T1552.007")
      table.insert(merged.technique, mw.mitre("TA0006", "T1528").technique[1])
      assert.is_true(contract.rule(mw.rule(minimal({ threat = { merged } }))))
    end)

    it("needs exactly one of where and sequence", function()
      local seq = mw.sequence({ { where = mw.eq("a", 1) }, { where = mw.eq("b", 1) } })
      assert.equals("mw.rule: give either 'where' (single-event rule) or 'sequence', not both",
                    err(mw.rule, minimal({ sequence = seq })))
      assert.equals("mw.rule: a rule needs a detection: field 'where' (single event), 'sequence', "
                    .. "'threshold', 'distinct', 'new_terms' or 'absence'",
                    err(mw.rule, { id = "x", name = "n" }))
      assert.equals("mw.rule: field 'sequence': expected a sequence built with mw.sequence{...} (got table)",
                    err(mw.rule, { id = "x", name = "n", sequence = { { where = mw.eq("a", 1) } } }))
      assert.equals("mw.rule: field 'where': expected a matcher (mw.eq, mw.all, ...), a function, or a list "
                    .. "of matchers, got a sequence (a sequence goes in the rule's 'sequence' field)",
                    err(mw.rule, minimal({ where = seq })))
      assert.equals("mw.rule: field 'where' > all[2] (lt): value must be a number (got 'x')",
                    err(mw.rule, minimal({ where = { op = "all", mw.eq("a", 1), { op = "lt", field = "n", value = "x" } } })))
    end)

    it("re-validates a sequence changed after mw.sequence", function()
      local seq = mw.sequence({ { where = mw.eq("a", 1) }, { where = mw.eq("b", 1) } })
      seq.steps[2].runs = 0
      assert.equals("mw.rule: field 'sequence': step 2: runs must be an integer from 1 to 100 (got 0)",
                    err(mw.rule, { id = "x", name = "n", sequence = seq }))
    end)

    it("checks the message template", function()
      local seq = mw.sequence({ { where = mw.eq("a", 1) }, { where = mw.eq("b", 1), runs = 2 } })
      local function msg(m, detection)
        local spec = { id = "x", name = "n", message = m }
        if detection then
          spec.sequence = detection
        else
          spec.where = mw.eq("a", 1)
        end
        return err(mw.rule, spec)
      end
      assert.equals("mw.rule: field 'message': unknown placeholder {user} (use {N:field.path}, {key}, "
                    .. "{gap} or {rule.name})", msg("hi {user}"))
      assert.equals("mw.rule: field 'message': placeholder {2:a} refers to event 2, but the rule matches 1 event",
                    msg("{2:a}"))
      assert.equals("mw.rule: field 'message': placeholder {4:a} refers to event 4, but the rule matches 3 events",
                    msg("{4:a}", seq))
      assert.equals("mw.rule: field 'message': placeholder {0:a} refers to event 0, but the rule matches 1 event",
                    msg("{0:a}"))
      assert.equals("mw.rule: field 'message': unclosed '{' at position 4 (write '{{' for a literal brace)",
                    msg("ab {1:x"))
      assert.equals("mw.rule: field 'message': unmatched '}' at position 3 (write '}}' for a literal brace)",
                    msg("ab}"))
      assert.equals("mw.rule: field 'message': placeholder {1:?x}: field '?x': the '?' (optional key) "
                    .. "prefix is only allowed in 'by' keys", msg("{1:?x}"))
      assert.equals("mw.rule: field 'message': placeholder {1:}: field must be a non-empty string (got '')",
                    msg("{1:}"))
      -- Positions count runs: step 2 with runs = 2 fills positions 2 and 3.
      assert.equals("{3:a}", mw.rule({ id = "x", name = "n", message = "{3:a}", sequence = seq }).message)
    end)
  end)
end)

describe("error positions", function()
  it("point at the line that called the API", function()
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, e = pcall(function() local m = mw.eq("", 1) return m end)
    assert.is_false(ok)
    assert.equals(SPEC .. ":" .. line .. ": mw.eq: field must be a non-empty string (got '')", e)
  end)

  it("point at the outer call for problems found inside it", function()
    local line = debug.getinfo(1, "l").currentline + 2
    local ok, e = pcall(function()
      local m = mw.all {
        mw.eq("a", 1),
        { op = "eq", field = "", values = { 1 } },
      }
      return m
    end)
    assert.is_false(ok)
    assert.equals(SPEC .. ":" .. line .. ": mw.all[2] (eq): field must be a non-empty string (got '')", e)
  end)

  it("let other errors through unchanged", function()
    local boom = setmetatable({}, { __index = function() error("boom", 0) end })
    local ok, e = pcall(function() local r = mw.rule(boom) return r end)
    assert.is_false(ok)
    assert.equals("boom", e)
  end)
end)
