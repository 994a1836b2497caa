-- fuzz rule: an absence window (tests/fuzz/fuzz_engine.c)
local mw = require("moonwatch")
return mw.rule {
  id = "fuzz-absence", name = "Sign-in not followed by a credential listing within 10 minutes",
  absence = mw.absence {
    first = { where = mw.eq("event.dataset", "azure.signinlogs"),
              by = "azure.signinlogs.properties.app_id" },
    absent = { where = mw.eq("event.dataset", "azure.activitylogs"),
               by = "azure.activitylogs.identity.claims.appid" },
    within = "10m",
  },
}
