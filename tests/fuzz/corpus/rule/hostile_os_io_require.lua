-- Reaches for the process and the file system at event time: os.execute,
-- io.open and a require outside lua/ are all blocked.
local mw = require("moonwatch")
local n = 0
return mw.rule {
  id = "test-os-io-require",
  name = "Test: os.execute, io.open, require at event time",
  where = function(ev)
    n = n + 1
    if n % 3 == 1 then os.execute("touch /tmp/moonwatch-pwned")
    elseif n % 3 == 2 then io.open("/etc/passwd")
    else require("../../etc/passwd") end
    return true
  end,
}
