local mw = require("moonwatch")
os.execute("touch /tmp/moonwatch-pwned") -- blocked
return mw.rule { id = "osx", name = "osx", where = mw.exists("a") }
