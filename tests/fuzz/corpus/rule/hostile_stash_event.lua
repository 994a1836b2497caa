-- Keeps the event handle for later: using it outside its call must raise.
local mw = require("moonwatch")
local kept
return mw.rule {
  id = "test-stash-event",
  name = "Test: stashes the event handle",
  where = function(ev)
    if kept then return kept:get("event.dataset") ~= nil end
    kept = ev
    return false
  end,
}
