-- Tries to escape the instruction budget inside a coroutine (a resume would
-- swallow the kill): coroutine is not in the sandbox, so the call is blocked.
local mw = require("moonwatch")
return mw.rule {
  id = "test-coroutine-loop",
  name = "Test: loop inside a coroutine",
  where = function(ev)
    local co = coroutine.wrap(function() while true do end end)
    return co()
  end,
}
