-- Doubles a string until the rule's memory cap refuses, inside pcall: the
-- memory error cannot be swallowed and is counted as class memory.
local mw = require("moonwatch")
return mw.rule {
  id = "test-memory-bomb",
  name = "Test: memory bomb",
  where = function(ev)
    while true do
      pcall(function()
        local s = "x"
        while true do s = s .. s end
      end)
    end
  end,
}
