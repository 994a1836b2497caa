--[[
tests/lua/helpers/sandbox.lua - a pure-Lua model of the rule sandbox, for specs

The host gives each rule its own Lua state with only base, string, table, math
and utf8; dofile, loadfile, load, collectgarbage and string.dump replaced by
functions that raise "blocked: <name>"; print routed to mw.log; and a require
that serves modules from lua/ only, loaded in text mode. Reading an undefined
global is an error, which catches typos in rules.

sandbox.new(opts) returns an environment table built the same way, with its own
module cache, so every rule loaded through it gets a fresh `moonwatch` module
(as it would in its own state). Options:
  host    = table   served as require("moonwatch.host") (the C core's hooks)
  globals = table   extra globals to expose (e.g. a fake `io`)

sandbox.load_rule(path_or_chunkname, env[, source]) loads a rule in text mode
with a "@path" chunk name, runs it under pcall, and returns ok, result.
]]

local sandbox = {}

local BASE = {
  "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal",
  "rawget", "rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring",
  "type", "xpcall", "_VERSION",
}

local BLOCKED = { "dofile", "loadfile", "load", "collectgarbage" }

local function blocked(name)
  return function()
    error("blocked: " .. name, 2)
  end
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do
    c[k] = v
  end
  return c
end

function sandbox.new(opts)
  opts = opts or {}
  local env = {}
  for _, name in ipairs(BASE) do
    env[name] = _G[name]
  end
  for _, name in ipairs(BLOCKED) do
    env[name] = blocked(name)
  end
  env.string = copy(string)
  env.string.dump = blocked("string.dump")
  env.table = copy(table)
  env.math = copy(math)
  env.utf8 = copy(utf8)
  for k, v in pairs(opts.globals or {}) do
    env[k] = v
  end
  env._G = env

  local loaded = {}
  env.require = function(name)
    if loaded[name] ~= nil then
      return loaded[name]
    end
    if name == "moonwatch.host" and opts.host then
      loaded[name] = opts.host
      return opts.host
    end
    if type(name) ~= "string" or not name:find("^[%w_]+[%w_%.]*$") or name:find("%.$")
        or name:find("..", 1, true) then
      error("module name " .. tostring(name) .. " is not valid", 2)
    end
    local base = "lua/" .. name:gsub("%.", "/")
    for _, path in ipairs({ base .. ".lua", base .. "/init.lua" }) do
      local chunk = loadfile(path, "t", env)
      if chunk then
        local result = chunk(name)
        if result == nil then
          result = true
        end
        loaded[name] = result
        return result
      end
    end
    error("module '" .. name .. "' not found (rules may require modules from lua/ only)", 2)
  end

  -- print is mw.log, as in the host.
  env.print = function(...)
    return env.require("moonwatch").log(...)
  end

  -- Reading an undefined global is an error.
  return setmetatable(env, {
    __index = function(_, k)
      error("undefined global '" .. tostring(k) .. "'", 2)
    end,
  })
end

-- Load and run a rule. With `source`, `path` is only the chunk name.
function sandbox.load_rule(path, env, source)
  local chunk, err
  if source then
    chunk, err = load(source, "@" .. path, "t", env)
  else
    chunk, err = loadfile(path, "t", env)
  end
  if not chunk then
    return false, err
  end
  return pcall(chunk)
end

return sandbox
