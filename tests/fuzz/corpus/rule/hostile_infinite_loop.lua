-- A plain infinite loop: the instruction budget stops it.
local mw = require("moonwatch")
return mw.rule {
  id = "test-infinite-loop",
  name = "Test: infinite loop",
  where = function(ev) while true do end end,
}
