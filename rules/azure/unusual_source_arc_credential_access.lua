--[[
rules/azure/unusual_source_arc_credential_access.lua

Azure Arc Cluster Credential Access by Identity from Unusual Source.
A port of Elastic's new_terms rule 022c37cd-5a4f-422b-8227-b136b7a23180:
a successful listClusterUserCredential call whose (caller app id, source IP)
pair this rule has not seen in the previous 7 days.

    event.dataset: "azure.activitylogs"
      and azure.activitylogs.operation_name:
            "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION"
      and event.outcome: (Success or success)
    new terms: [azure.activitylogs.identity.claims.appid, source.ip], history now-7d

History: Elastic reads the 7 days before each run from its index. moonwatch
keeps the pairs itself (run with --state-dir so they survive restarts) and,
with `warmup = true`, raises nothing until its history covers 7 days of event
time, so a fresh start does not flag every pair as new. Replay a week of
activity logs once with --state-dir to prime it.
]]

local mw = require("moonwatch")

local t = require("moonwatch.testing")

local APP = "6131d760-7fda-4db5-8bb1-b771898e9f15"
local LISTING = {
  ["@timestamp"] = "2025-10-01T09:00:00.000Z",
  event = { dataset = "azure.activitylogs", outcome = "success" },
  azure = { activitylogs = {
    operation_name = "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION",
    result_type = "Success",
    identity = { claims = { appid = APP } },
  } },
  source = { ip = "1.128.3.4", as = { number = 1221, organization = { name = "Telstra Pty Ltd" } } },
}
-- day 0 starts the history, day 6 refreshes the known pair, day 8 is past the warmup
local LEARN = { LISTING, t.at("2025-10-07T09:00:00.000Z", LISTING) }
local function after_warmup(changes)
  local evs = { LEARN[1], LEARN[2] }
  evs[#evs + 1] = t.at("2025-10-09T09:00:00.000Z", LISTING, changes)
  return evs
end

local TESTS = {
  {
    name = "true positive: the app lists credentials from a new source IP after the warmup",
    events = after_warmup({ ["source.ip"] = "203.0.113.77" }),
    expect = { count = 1, fields = {
      ["rule.id"] = "022c37cd-5a4f-422b-8227-b136b7a23180",
      ["@timestamp"] = "2025-10-09T09:00:00.000Z",
    } },
  },
  {
    name = "near miss: the same app and IP, seen 2 days before",
    events = after_warmup({}),
    expect = { count = 0 },
  },
  {
    name = "near miss: a new IP during the warmup",
    events = { LISTING, t.at("2025-10-04T09:00:00.000Z", LISTING, { ["source.ip"] = "203.0.113.77" }) },
    expect = { count = 0 },
  },
  {
    name = "near miss: the listing from a new IP failed",
    events = after_warmup({ ["source.ip"] = "203.0.113.77", ["event.outcome"] = "failure" }),
    expect = { count = 0 },
  },
  {
    name = "near miss: another operation from a new IP",
    events = after_warmup({ ["source.ip"] = "203.0.113.77", ["azure.activitylogs.operation_name"] =
      "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERADMINCREDENTIAL/ACTION" }),
    expect = { count = 0 },
  },
}

return mw.rule {
  id = "022c37cd-5a4f-422b-8227-b136b7a23180",
  name = "Azure Arc Cluster Credential Access by Identity from Unusual Source",
  description = "Detects when a service principal or user performs an Azure Arc cluster credential "
    .. "listing operation from a source IP not previously associated with that identity. The "
    .. "listClusterUserCredential action retrieves credentials for the Arc Cluster Connect proxy, "
    .. "enabling kubectl access through the Azure ARM API. An adversary using stolen service "
    .. "principal credentials will typically call this operation from infrastructure not "
    .. "previously seen for that SP.",
  severity = "medium",
  risk_score = 47,
  tags = {
    "Domain: Cloud", "Platform: Azure", "Data Source: Azure Activity Logs",
    "Service: Azure Kubernetes Service", "Rule Type: New Terms", "Tactic: Initial Access",
    "Tactic: Credential Access", "Resources: Investigation Guide",
  },
  references = {
    "https://learn.microsoft.com/en-us/azure/azure-arc/kubernetes/cluster-connect",
    "https://learn.microsoft.com/en-us/cli/azure/connectedk8s#az-connectedk8s-proxy",
    "https://www.ibm.com/think/x-force/identifying-abusing-azure-arc-for-hybrid-escalation-persistence",
    "https://nvd.nist.gov/vuln/detail/cve-2022-37968",
  },
  author = { "Elastic" },
  license = "Elastic License v2",
  version = 1,
  threat = {
    mw.mitre("TA0001", "T1078", "T1078.004"),   -- Initial Access / Cloud Accounts
    mw.mitre("TA0006", "T1552", "T1552.007"),   -- Credential Access / Container API
  },
  false_positives = {
    "A CI/CD pipeline's service principal running from a new IP range for the first time "
      .. "(a new runner pool); the 7-day history learns the new IPs after the first occurrence.",
    "Administrators reaching Arc clusters from a new VPN endpoint or while travelling.",
  },
  message = "App {1:azure.activitylogs.identity.claims.appid} listed Arc cluster user credentials "
         .. "from {1:source.ip}, not seen for it in 7 days",
  note = [==[
## Triage and analysis

The `listClusterUserCredential` operation on an Azure Arc-connected cluster returns credentials
that let the caller open a proxy tunnel (`az connectedk8s proxy`) that routes kubectl through the
Azure ARM API, without network access to the cluster's API server.

### Possible investigation steps

- Identify the caller from `azure.activitylogs.identity.claims.appid`: is it a known application?
- Check `source.ip`, its country and AS organisation: does your organisation operate there?
- Correlate with the sign-in logs around the same time (the SP sign-in that preceded the listing;
  the sequence rule dacfbecd-… covers that chain).
- Was the `Azure Arc Enabled Kubernetes Cluster User Role` recently assigned to the caller?
- Look for Arc-proxied secret or configmap operations after the listing (Kubernetes audit logs).

### Response and remediation

- Unknown caller or unexpected source: treat as credential compromise, revoke the service
  principal's credentials, remove its Arc role assignments, review Kubernetes audit logs for
  what was done through the proxy, rotate secrets that may have been read.
]==],

  new_terms = mw.new_terms {
    where = mw.all {
      mw.eq("event.dataset", "azure.activitylogs"),
      -- KQL `field: "VALUE"` on a keyword is exact, as mw.eq is
      mw.eq("azure.activitylogs.operation_name",
            "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION"),
      mw.eq("event.outcome", { "Success", "success" }),
    },
    fields = { "azure.activitylogs.identity.claims.appid", "source.ip" },
    history = "7d",
    warmup = true,
  },

  -- `moonwatch test` (docs/RULE-TESTS.md): the rule learns (app, source IP)
  -- pairs for 7 days of event time (warmup) before it reports anything.
  tests = TESTS,
}
