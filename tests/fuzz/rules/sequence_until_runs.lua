-- fuzz rule: a sequence with a shared key, runs, until, keys_ci and a Lua
-- predicate (tests/fuzz/fuzz_engine.c)
local mw = require("moonwatch")
return mw.rule {
  id = "fuzz-sequence", name = "Two sign-ins then a listing, unless a failed sign-in",
  message = "{key} from {1:source.ip} after {gap}",
  sequence = mw.sequence {
    maxspan = "15m", keys_ci = true,
    { where = mw.all { mw.category("authentication"),
                       function(ev) return ev:get("source.ip") ~= "9.9.9.9" end },
      by = "?azure.signinlogs.properties.app_id", runs = 2 },
    { where = mw.ieq("event.outcome", "success"),
      by = "?azure.activitylogs.identity.claims.appid" },
    ["until"] = { where = mw.eq("event.outcome", "failure"),
                  by = "?azure.signinlogs.properties.app_id" },
  },
}
