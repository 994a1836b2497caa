-- Never returns: the instruction budget must stop it, even though it tries
-- to swallow the kill with pcall.
local mw = require("moonwatch")
return mw.rule {
  id = "test-looping-predicate",
  name = "Test: predicate that loops forever",
  where = function(ev)
    while true do pcall(function() while true do end end) end
  end,
}
