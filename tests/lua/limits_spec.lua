-- The limits table (include/mw_limits.h) is named in docs/DESCRIPTORS.md,
-- and the stand-in lua/moonwatch/limits.lua uses outside the host matches it.

local function read(path)
  local f = assert(io.open(path, "r"))
  local s = f:read("a")
  f:close()
  return s
end

local function c_limits()
  local out, n = {}, 0
  for name, value in read("include/mw_limits.h"):gmatch("X%(([%u_]+),%s*(%d+),") do
    out[name] = tonumber(value)
    n = n + 1
  end
  return out, n
end

describe("limits table", function()
  it("is parsed from include/mw_limits.h", function()
    local _, n = c_limits()
    assert.is_true(n >= 10)
  end)

  it("names every entry in docs/DESCRIPTORS.md", function()
    local doc = read("docs/DESCRIPTORS.md")
    for name, value in pairs(c_limits()) do
      assert.is_truthy(doc:find("| `" .. name .. "` | " .. value .. " |", 1, true),
        name .. " = " .. value .. " is not in docs/DESCRIPTORS.md")
    end
  end)

  it("is what lua/moonwatch/limits.lua gives outside the host", function()
    package.loaded["moonwatch.limits"] = nil
    local lua_limits = require("moonwatch.limits")
    local c = c_limits()
    for name, value in pairs(c) do
      assert.are.equal(value, lua_limits[name], name)
    end
    for name in pairs(lua_limits) do
      assert.is_not_nil(c[name], name .. " is not in include/mw_limits.h")
    end
  end)

  it("comes from moonwatch.host when the host provides it", function()
    package.loaded["moonwatch.limits"] = nil
    package.preload["moonwatch.host"] = function()
      return { limits = { SEQ_MAX_RUNS = 7 } }
    end
    local l = require("moonwatch.limits")
    package.preload["moonwatch.host"] = nil
    package.loaded["moonwatch.host"] = nil
    package.loaded["moonwatch.limits"] = nil
    assert.are.equal(7, l.SEQ_MAX_RUNS)
  end)
end)
