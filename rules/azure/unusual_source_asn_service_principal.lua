--[[
rules/azure/unusual_source_asn_service_principal.lua

Entra ID Service Principal with Unusual Source ASN.
A port of Elastic's new_terms rule db97a2aa-3ba5-4fa5-b8b9-bf42284edb5f: a
successful service-principal sign-in whose (service principal id, source AS
number) pair this rule has not seen in the previous 10 days, leaving out
Microsoft-labelled AS organisations and Microsoft-owned applications.

    data_stream.dataset:azure.signinlogs
      and azure.signinlogs.category:ServicePrincipalSignInLogs
      and azure.signinlogs.properties.status.error_code:0
      and azure.signinlogs.properties.service_principal_id:*
      and source.as.number:*
      and not source.as.organization.name:(*MICROSOFT* or *Microsoft*)
      and not azure.signinlogs.properties.app_owner_tenant_id:
            (72f988bf-86f1-41af-91ab-2d7cd011db47 or f8cdef31-a31e-4b4a-93e4-5f571e91255a)
    new terms: [azure.signinlogs.properties.service_principal_id, source.as.number], now-10d

KQL's `not field:value` is true when the field is missing, whereas moonwatch
matchers follow EQL (a test on a missing field is null, and `not null` is
null). So each exclusion is written "missing, or present and not matching".
History: as in unusual_source_arc_credential_access.lua (warmup, --state-dir).
]]

local mw = require("moonwatch")

-- "not field:(a or b)" with KQL's meaning: a missing field passes.
local function kql_not(field, matcher)
  return mw.any { mw.not_(mw.exists(field)), mw.none { matcher } }
end

local t = require("moonwatch.testing")

local SIGNIN = {
  ["@timestamp"] = "2025-10-01T09:00:00.000Z",
  data_stream = { dataset = "azure.signinlogs" },
  event = { category = { "authentication" }, dataset = "azure.signinlogs", outcome = "success" },
  azure = { signinlogs = {
    category = "ServicePrincipalSignInLogs",
    properties = {
      service_principal_id = "b029d485-a308-4311-8720-fb3192e5284e",
      service_principal_name = "Terraform-Datadog-CLI",
      app_id = "6131d760-7fda-4db5-8bb1-b771898e9f15",
      app_owner_tenant_id = "4bbb79f7-5724-4c9e-95f3-de075f6ec090",
      status = { error_code = 0 },
    },
  } },
  source = { ip = "1.128.3.4", as = { number = 1221, organization = { name = "Telstra Pty Ltd" } } },
}
local NEW_ASN = { ["source.ip"] = "159.89.10.20", ["source.as.number"] = 14061,
                  ["source.as.organization.name"] = "DIGITALOCEAN-ASN" }
-- day 0 starts the history, day 9 refreshes the known pair, day 11 is past the warmup
local function after_warmup(changes)
  return { SIGNIN, t.at("2025-10-10T09:00:00.000Z", SIGNIN),
           t.at("2025-10-12T09:00:00.000Z", SIGNIN, changes) }
end
local function with(a, b)
  local c = {}
  for k, v in pairs(a) do c[k] = v end
  for k, v in pairs(b) do c[k] = v end
  return c
end

local TESTS = {
  {
    name = "true positive: the service principal signs in from a new AS after the warmup",
    events = after_warmup(NEW_ASN),
    expect = { count = 1, fields = { ["rule.id"] = "db97a2aa-3ba5-4fa5-b8b9-bf42284edb5f" } },
  },
  {
    name = "near miss: the known AS, seen 2 days before",
    events = after_warmup({}),
    expect = { count = 0 },
  },
  {
    name = "near miss: a new AS during the warmup",
    events = { SIGNIN, t.at("2025-10-04T09:00:00.000Z", SIGNIN, NEW_ASN) },
    expect = { count = 0 },
  },
  {
    name = "near miss: a new AS owned by Microsoft",
    events = after_warmup({ ["source.as.number"] = 8075,
                            ["source.as.organization.name"] = "MICROSOFT-CORP-MSN-AS-BLOCK" }),
    expect = { count = 0 },
  },
  {
    name = "near miss: a failed sign-in from a new AS",
    events = after_warmup(with(NEW_ASN, { ["azure.signinlogs.properties.status.error_code"] = 7000215 })),
    expect = { count = 0 },
  },
  {
    name = "near miss: a Microsoft-owned application",
    events = after_warmup(with(NEW_ASN, { ["azure.signinlogs.properties.app_owner_tenant_id"] =
      "f8cdef31-a31e-4b4a-93e4-5f571e91255a" })),
    expect = { count = 0 },
  },
}

return mw.rule {
  id = "db97a2aa-3ba5-4fa5-b8b9-bf42284edb5f",
  name = "Entra ID Service Principal with Unusual Source ASN",
  description = "Identifies Entra ID service principal sign-ins where the workload identity and "
    .. "source autonomous system number (ASN) together have not appeared in recent history. "
    .. "Attackers who obtain application secrets or tokens often authenticate from unfamiliar "
    .. "hosting providers, residential or VPN egress, or networks outside normal automation "
    .. "footprints, which can precede data access, lateral movement, or ransomware activity in "
    .. "the tenant.",
  severity = "medium",
  risk_score = 47,
  tags = {
    "Domain: Cloud", "Domain: Identity", "Data Source: Azure", "Data Source: Microsoft Entra ID",
    "Data Source: Microsoft Entra ID Sign-In Logs", "Use Case: Identity and Access Audit",
    "Use Case: Threat Detection", "Tactic: Initial Access", "Resources: Investigation Guide",
    "Tactic: Stealth",
  },
  references = {
    "https://learn.microsoft.com/en-us/entra/identity/monitoring-health/concept-sign-ins",
    "https://learn.microsoft.com/en-us/entra/identity/conditional-access/workload-identities",
    "https://www.microsoft.com/en-us/security/blog/2025/08/27/storm-0501s-evolving-techniques-lead-to-cloud-based-ransomware/",
  },
  author = { "Elastic" },
  license = "Elastic License v2",
  version = 1,
  threat = {
    mw.mitre("TA0001", "T1078", "T1078.004"),   -- Initial Access / Cloud Accounts
    mw.mitre("TA0005", "T1078", "T1078.004"),   -- Defense Evasion (Stealth) / Cloud Accounts
  },
  false_positives = {
    "New deployments, DR sites, IP rotation, or first-time CI/CD expansion can produce a "
      .. "genuinely new (service principal, ASN) pair.",
    "GeoIP or ASN enrichment updates can shift how a stable egress is labelled, once.",
    "Shared service principal secrets used for the first time from another site.",
  },
  message = "Service principal {1:azure.signinlogs.properties.service_principal_name} signed in "
         .. "from AS{1:source.as.number} ({1:source.as.organization.name}), not seen for it in 10 days",
  note = [==[
## Triage and analysis

A first-seen network path for a workload identity, not proof of compromise by itself.

### Possible investigation steps

- Identify the application: `azure.signinlogs.properties.app_display_name`, `app_id`,
  `service_principal_id`; first-party, partner or internal automation?
- Review `source.ip`, `source.as.organization.name`, `source.as.number` and `source.geo.*`
  against the owning team's regions, subscriptions and CI/CD footprint.
- Pivot on the same `service_principal_id` in earlier sign-ins for its usual ASNs.
- Review Entra audit logs for recent changes to the application (secrets, certificates,
  federated credentials, owners, permissions), especially shortly before the alert.
- Follow `correlation_id` / `session_id` into activity and Graph logs to see what it accessed.

### Response and remediation

- Unexpected path after risky audit activity: rotate the application's secrets and
  certificates, revoke its tokens, review Conditional Access for workload identities, and
  reduce the application's permissions.
]==],

  new_terms = mw.new_terms {
    where = mw.all {
      mw.eq("data_stream.dataset", "azure.signinlogs"),
      mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
      mw.eq("azure.signinlogs.properties.status.error_code", 0),
      mw.exists("azure.signinlogs.properties.service_principal_id"),
      mw.exists("source.as.number"),
      kql_not("source.as.organization.name",
              mw.like("source.as.organization.name", { "*MICROSOFT*", "*Microsoft*" })),
      kql_not("azure.signinlogs.properties.app_owner_tenant_id",
              mw.eq("azure.signinlogs.properties.app_owner_tenant_id",
                    { "72f988bf-86f1-41af-91ab-2d7cd011db47",
                      "f8cdef31-a31e-4b4a-93e4-5f571e91255a" })),
    },
    fields = { "azure.signinlogs.properties.service_principal_id", "source.as.number" },
    history = "10d",
    warmup = true,
  },

  -- `moonwatch test` (docs/RULE-TESTS.md): the rule learns (service
  -- principal, AS number) pairs for 10 days of event time before reporting.
  tests = TESTS,
}
