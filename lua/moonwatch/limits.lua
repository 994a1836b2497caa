--[[
lua/moonwatch/limits.lua - the limits of the rule language, from the host

Inside moonwatch these are the C table include/mw_limits.h, exported as
`require("moonwatch.host").limits`: the host checks every descriptor against
the same numbers (src/detect/mw_builder.c), so lua/moonwatch.lua only reports
violations earlier and at the author's line. Outside the host (busted, a
plain lua5.4) the copy below stands in; tests/lua/limits_spec.lua checks it
against include/mw_limits.h and that docs/DESCRIPTORS.md names every entry.
]]

local ok, host = pcall(require, "moonwatch.host")
if ok and type(host) == "table" and type(host.limits) == "table" then
  -- a plain copy: the host module is a read-only proxy, and require wraps
  -- what this module returns in a proxy of its own
  local copy = {}
  for k, v in pairs(host.limits) do
    copy[k] = v
  end
  return copy
end

return {
  SEQ_MIN_STEPS = 2,
  SEQ_MAX_STEPS = 128,
  SEQ_MAX_RUNS = 100,
  SEQ_MAX_KEYS = 16,
  PATH_MAX_SEGMENTS = 32,
  MATCH_MAX_DEPTH = 64,
  WINDOW_MAX_COUNT = 100000,
  WINDOW_MAX_DISTINCT = 1000,
  NEW_TERMS_MAX_FIELDS = 3,
  SUPPRESS_MAX_FIELDS = 8,
  SUPPRESS_MIN_MS = 1000,
  MAX_ALERTS_MIN_PER_MS = 1000,
  RISK_MAX = 100,
  VERSION_MAX = 1073741824,
  RISK_LOW = 21,
  RISK_MEDIUM = 47,
  RISK_HIGH = 73,
  RISK_CRITICAL = 99,
}
