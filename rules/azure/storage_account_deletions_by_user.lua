--[[
rules/azure/storage_account_deletions_by_user.lua

Azure Storage Account Deletions by User: follows Elastic's threshold rule of
that name (summarised in ../shared/ELASTIC-RULES.md §3b; Elastic License v2):
successful MICROSOFT.STORAGE/STORAGEACCOUNTS/DELETE operations in the
activity logs, grouped by the initiating user, alerting when one user deletes
at least 5 distinct storage accounts (cardinality of azure.resource.name).
Our notes do not record Elastic's rule id or its exact look-back, so this port
has its own id, and the window is one hour (Elastic's threshold rules count
within each run's look-back). It exercises a distinct-count window.
]]

local mw = require("moonwatch")
local t = require("moonwatch.testing")

local USER = "megan.bowen@contoso.example"
local SUB = "5f1c2a7e-3d84-4b69-9a0e-7c2d1b8e4f36"

-- One activity-log record of a storage account deletion, as Elastic's Azure
-- integration indexes it; the tests vary the time, account and user.
local function deletion(ts, account, user)
  local rid = "/SUBSCRIPTIONS/" .. SUB .. "/RESOURCEGROUPS/RG-DATA/PROVIDERS/"
           .. "MICROSOFT.STORAGE/STORAGEACCOUNTS/" .. account
  return {
    ["@timestamp"] = ts,
    event = { dataset = "azure.activitylogs", kind = "event", outcome = "success",
              action = "MICROSOFT.STORAGE/STORAGEACCOUNTS/DELETE", type = { "change" } },
    data_stream = { dataset = "azure.activitylogs", namespace = "default", type = "logs" },
    cloud = { provider = "azure", account = { id = SUB } },
    source = { ip = "198.51.100.23", address = "198.51.100.23" },
    azure = {
      subscription_id = SUB,
      resource = { name = account, group = "RG-DATA", id = rid,
                   provider = "MICROSOFT.STORAGE/STORAGEACCOUNTS" },
      activitylogs = {
        operation_name = "MICROSOFT.STORAGE/STORAGEACCOUNTS/DELETE",
        category = "Administrative",
        result_type = "Success",
        result_signature = "Succeeded.",
        identity = {
          claims_initiated_by_user = { name = user or USER },
          authorization = { action = "Microsoft.Storage/storageAccounts/delete", scope = rid },
        },
      },
    },
  }
end

-- five accounts of one user, a minute apart from 10:00
local function spree(n, user, start_minute)
  local evs = {}
  for i = 1, n do
    evs[i] = deletion(string.format("2025-11-05T10:%02d:00.000Z", (start_minute or 0) + i - 1),
                      string.format("STCONTOSO%02d", i), user)
  end
  return evs
end

return mw.rule {
  id = "b3a7d0c4-6e21-4f5a-9c8d-2e1f0a9b7c63",
  name = "Azure Storage Account Deletions by User",
  description = "One user deletes five or more distinct Azure storage accounts within an "
    .. "hour. Mass deletion of storage accounts destroys data and backups, as in "
    .. "destructive or ransomware attacks on cloud estates.",
  severity = "medium",
  risk_score = 47,
  tags = { "Domain: Cloud", "Data Source: Azure", "Data Source: Azure Activity Logs",
           "Use Case: Threat Detection", "Tactic: Impact", "Rule Type: Threshold" },
  references = { "https://learn.microsoft.com/en-us/azure/storage/common/storage-account-overview" },
  author = { "Elastic" },
  license = "Elastic License v2",
  version = 1,
  threat = { mw.mitre("TA0040", "T1485") },
  false_positives = { "Decommissioning of an environment, or infrastructure-as-code pipelines "
                      .. "tearing down test resources under a user's identity." },
  note = [[
## Triage and analysis

- List the deleted accounts (moonwatch.distinct.values) and the resource
  groups and subscriptions they belonged to; were they production data or
  backups?
- Check whether the user normally manages these accounts, from where the
  operations came (source.ip), and whether a change ticket covers them.
- Look for preceding role assignments, credential changes or unusual
  sign-ins of the same user.

## Response

- Suspend the user's sessions and credentials if the deletions are not
  expected; recover soft-deleted accounts while their retention allows;
  review resource locks on storage holding backups.
]],
  message = "{key} deleted 5 or more distinct storage accounts within an hour, among them {1:azure.resource.name}",

  distinct = mw.distinct {
    where = mw.all {
      mw.eq("event.dataset", "azure.activitylogs"),
      mw.ieq("azure.activitylogs.operation_name", "MICROSOFT.STORAGE/STORAGEACCOUNTS/DELETE"),
      mw.ieq("event.outcome", { "Success", "success" }),
    },
    by = "azure.activitylogs.identity.claims_initiated_by_user.name",
    field = "azure.resource.name",
    count = 5,
    window = "1h",
  },

  tests = {
    {
      name = "true positive: one user deletes five accounts in five minutes",
      events = spree(5),
      expect = { count = 1, fields = {
        ["moonwatch.join_key"] = { USER },
        ["moonwatch.distinct.count"] = 5,
      } },
    },
    {
      name = "near miss: four accounts only",
      events = spree(4),
      expect = { count = 0 },
    },
    {
      name = "near miss: the same account deleted five times is one distinct value",
      events = {
        deletion("2025-11-05T10:00:00.000Z", "STCONTOSO01"), deletion("2025-11-05T10:01:00.000Z", "STCONTOSO01"),
        deletion("2025-11-05T10:02:00.000Z", "STCONTOSO01"), deletion("2025-11-05T10:03:00.000Z", "STCONTOSO01"),
        deletion("2025-11-05T10:04:00.000Z", "STCONTOSO01"),
      },
      expect = { count = 0 },
    },
    {
      name = "near miss: five accounts by five different users",
      events = {
        deletion("2025-11-05T10:00:00.000Z", "STCONTOSO01", "a@contoso.example"),
        deletion("2025-11-05T10:01:00.000Z", "STCONTOSO02", "b@contoso.example"),
        deletion("2025-11-05T10:02:00.000Z", "STCONTOSO03", "c@contoso.example"),
        deletion("2025-11-05T10:03:00.000Z", "STCONTOSO04", "d@contoso.example"),
        deletion("2025-11-05T10:04:00.000Z", "STCONTOSO05", "e@contoso.example"),
      },
      expect = { count = 0 },
    },
    {
      name = "near miss: the fifth deletion comes after the hour",
      events = {
        deletion("2025-11-05T10:00:00.000Z", "STCONTOSO01"), deletion("2025-11-05T10:10:00.000Z", "STCONTOSO02"),
        deletion("2025-11-05T10:20:00.000Z", "STCONTOSO03"), deletion("2025-11-05T10:30:00.000Z", "STCONTOSO04"),
        deletion("2025-11-05T11:10:00.000Z", "STCONTOSO05"),
      },
      expect = { count = 0 },
    },
    {
      name = "near miss: failed deletions do not count",
      events = (function()
        local evs = spree(5)
        evs[5] = t.event(evs[5], { ["event.outcome"] = "failure",
                                   ["azure.activitylogs.result_type"] = "Failure" })
        return evs
      end)(),
      expect = { count = 0 },
    },
    {
      name = "near miss: listing keys is not a deletion",
      events = (function()
        local evs = spree(5)
        evs[5] = t.event(evs[5], {
          ["azure.activitylogs.operation_name"] = "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION" })
        return evs
      end)(),
      expect = { count = 0 },
    },
  },
}
