-- Raises on every event: the host must count it and keep the other rules.
local mw = require("moonwatch")
return mw.rule {
  id = "test-failing-predicate",
  name = "Test: predicate that always raises",
  where = function(ev) error("boom on " .. tostring(ev:get("event.dataset"))) end,
}
