local mw = require("moonwatch")
return mw.rule {
  id = "dacfbecd-7927-46a7-a8ba-feb65a2e990d",
  name = "Same id as the seed rule",
  where = mw.exists("event.dataset"),
}
