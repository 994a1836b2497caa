-- Tries to load precompiled bytecode (which can crash the VM): load and
-- string.dump are blocked.
local mw = require("moonwatch")
return mw.rule {
  id = "test-load-bytecode",
  name = "Test: loads bytecode",
  where = function(ev)
    local chunk = "\27Lua\84\0\25\147\13\10\26\10\4\8\8\120\86"
    local f = load(chunk, "evil", "b")
    return f() == true
  end,
}
