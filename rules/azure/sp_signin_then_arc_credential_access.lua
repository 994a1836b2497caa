--[[
rules/azure/sp_signin_then_arc_credential_access.lua

Azure Service Principal Sign-In Followed by Arc Cluster Credential Access.
A port of Elastic's EQL rule dacfbecd-7927-46a7-a8ba-feb65a2e990d (the text
that still filtered on event.dataset), and the example rule to copy.

How a rule file works (docs/RULE-API.md has the full reference):

  * The file runs once, when moonwatch loads it, in a sandboxed Lua state of
    its own. It must return the value of mw.rule{...}: a table describing the
    rule (metadata + detection) that the C core compiles. Nothing in this file
    runs per event, because every condition below is a declarative matcher
    (mw.eq, mw.ieq, mw.category, ...) that runs in C without entering Lua.
    Only functions you pass as matchers (mw.fn) are called per event.

  * Mistakes are caught at load time and reported with this file's name and
    line: run `moonwatch check rules/` after every edit.

  * Keep one rule per file, named after what it detects. The id is a UUID
    that never changes once the rule ships (alerts, suppressions and window
    state are keyed on it); bump `version` when the logic changes instead.
]]

local mw = require("moonwatch")
local t = require("moonwatch.testing")

-- The original EQL, for reviewers comparing the two:
--
--   sequence with maxspan=30m
--   [authentication where event.dataset == "azure.signinlogs"
--      and azure.signinlogs.category == "ServicePrincipalSignInLogs"
--      and azure.signinlogs.properties.status.error_code == 0
--   ] by azure.signinlogs.properties.app_id
--   [any where event.dataset == "azure.activitylogs"
--      and azure.activitylogs.operation_name :
--            "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION"
--      and event.outcome : ("Success", "success")
--   ] by azure.activitylogs.identity.claims.appid

-- Name the steps as locals: the sequence below then reads like the EQL, and
-- each step can be unit-tested on its own.

-- Step 1: a successful service-principal sign-in.
--   `authentication where`  -> mw.category("authentication"): event.category
--                              is a string or an array that contains it.
--   `==` on a string        -> mw.eq: exact and case-sensitive.
--   `== 0` on a number      -> mw.eq with a Lua number compares numerically
--                              (error_code is a long in the Azure data).
-- Managed identities log to ManagedIdentitySignInLogs, so the category test
-- leaves them out, as the original rule intends.
local sp_signin = mw.all {
  mw.category("authentication"),
  mw.eq("event.dataset", "azure.signinlogs"),
  mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
  mw.eq("azure.signinlogs.properties.status.error_code", 0),
}

-- Step 2: a successful listClusterUserCredential call on an Arc connected
-- cluster. `any where` has no category filter, so there is no mw.category.
--   `:` -> mw.ieq: case-insensitive (the operation name arrives upper-case
--          from Event Hub exports and mixed-case on other paths); a list is
--          any-of, and `*` / `?` would be wildcards.
-- The "Start" record of the same call has no event.outcome, so the missing
-- field makes the outcome test null and the step does not match it.
local arc_credential_listing = mw.all {
  mw.eq("event.dataset", "azure.activitylogs"),
  mw.ieq("azure.activitylogs.operation_name",
         "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION"),
  mw.ieq("event.outcome", { "Success", "success" }),
}

-- Test events (shortened ECS documents of the kinds the rule reads).
local APP = "6131d760-7fda-4db5-8bb1-b771898e9f15"
local SIGNIN = {
  ["@timestamp"] = "2025-10-14T09:00:00.000Z",
  event = { category = { "authentication" }, dataset = "azure.signinlogs", kind = "event",
            outcome = "success", action = "Sign-in activity" },
  azure = {
    tenant_id = "4bbb79f7-5724-4c9e-95f3-de075f6ec090",
    signinlogs = {
      category = "ServicePrincipalSignInLogs",
      result_type = "0",
      properties = {
        app_id = APP,
        service_principal_name = "Terraform-Datadog-CLI",
        service_principal_id = "b029d485-a308-4311-8720-fb3192e5284e",
        resource_display_name = "Windows Azure Service Management API",
        status = { error_code = 0 },
      },
    },
  },
  source = { ip = "1.128.3.4", as = { number = 1221, organization = { name = "Telstra Pty Ltd" } } },
}
local LISTING = {
  ["@timestamp"] = "2025-10-14T09:04:12.000Z",
  event = { dataset = "azure.activitylogs", kind = "event", outcome = "success",
            action = "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION" },
  azure = {
    activitylogs = {
      category = "Action",
      result_type = "Success",
      operation_name = "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION",
      identity = { claims = { appid = APP },
                   authorization = { evidence = { principal_type = "ServicePrincipal" } } },
    },
    resource = { name = "prod-arc-01", provider = "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS" },
  },
  source = { ip = "1.128.3.4" },
}

local TESTS = {
  {
    name = "true positive: SP sign-in, then its Arc user credential listing 4m12s later",
    events = { SIGNIN, LISTING },
    expect = {
      count = 1,
      fields = {
        ["rule.id"] = "dacfbecd-7927-46a7-a8ba-feb65a2e990d",
        ["event.severity"] = 47,
        ["moonwatch.join_key"] = { APP },
        ["event.duration"] = 252000000000,
        ["@timestamp"] = "2025-10-14T09:04:12.000Z",
        ["message"] = "Service principal Terraform-Datadog-CLI (app " .. APP
                   .. ") signed in from 1.128.3.4 and listed Arc cluster credentials 4m12s later",
      },
    },
  },
  {
    name = "true positive: listing exactly at maxspan (30m is inclusive)",
    events = { SIGNIN, t.at("2025-10-14T09:30:00.000Z", LISTING) },
    expect = { count = 1 },
  },
  {
    name = "near miss: listing 1 ms beyond maxspan",
    events = { SIGNIN, t.at("2025-10-14T09:30:00.001Z", LISTING) },
    expect = { count = 0 },
  },
  {
    name = "near miss: the sign-in failed",
    events = { t.event(SIGNIN, { ["azure.signinlogs.properties.status.error_code"] = 7000215,
                                 ["event.outcome"] = "failure" }), LISTING },
    expect = { count = 0 },
  },
  {
    name = "near miss: a managed identity sign-in, not a service principal",
    events = { t.event(SIGNIN, { ["azure.signinlogs.category"] = "ManagedIdentitySignInLogs" }),
               LISTING },
    expect = { count = 0 },
  },
  {
    name = "near miss: error_code is the string \"0\" (typed comparison)",
    events = { t.event(SIGNIN, { ["azure.signinlogs.properties.status.error_code"] = "0" }),
               LISTING },
    expect = { count = 0 },
  },
  {
    name = "near miss: the listing failed",
    events = { SIGNIN, t.event(LISTING, { ["event.outcome"] = "failure",
                                          ["azure.activitylogs.result_type"] = "Failure" }) },
    expect = { count = 0 },
  },
  {
    name = "near miss: admin credential listed, not the user credential",
    events = { SIGNIN, t.event(LISTING, { ["azure.activitylogs.operation_name"] =
      "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERADMINCREDENTIAL/ACTION" }) },
    expect = { count = 0 },
  },
  {
    name = "near miss: another app lists the credential",
    events = { SIGNIN, t.event(LISTING, { ["azure.activitylogs.identity.claims.appid"] =
      "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b" }) },
    expect = { count = 0 },
  },
  {
    name = "near miss: listing before the sign-in",
    events = { t.at("2025-10-14T08:59:00.000Z", LISTING), SIGNIN },
    expect = { count = 0 },
  },
  {
    name = "near miss: null app ids never join",
    events = { t.event(SIGNIN, { ["azure.signinlogs.properties.app_id"] = mw.null }),
               t.event(LISTING, { ["azure.activitylogs.identity.claims.appid"] = mw.null }) },
    expect = { count = 0 },
  },
  {
    name = "case-insensitive operation and outcome still match",
    events = { SIGNIN, t.event(LISTING, {
      ["azure.activitylogs.operation_name"] =
        "microsoft.kubernetes/connectedclusters/listclusterusercredential/action",
      ["event.outcome"] = "Success" }) },
    expect = { count = 1 },
  },
  {
    name = "a newer sign-in replaces the pending one",
    events = { SIGNIN, t.at("2025-10-14T09:10:00.000Z", SIGNIN, { ["source.ip"] = "81.2.69.144" }),
               t.at("2025-10-14T09:20:00.000Z", LISTING),
               t.at("2025-10-14T09:25:00.000Z", LISTING) },
    expect = { count = 1, alerts = { { ["moonwatch.events.0.event.source.ip"] = "81.2.69.144",
                                       ["event.start"] = "2025-10-14T09:10:00.000Z" } } },
  },
}

return mw.rule {
  -- Identity and metadata. These land in every alert (rule.*, event.severity,
  -- event.risk_score, tags), so keep them accurate.
  id = "dacfbecd-7927-46a7-a8ba-feb65a2e990d",
  name = "Azure Service Principal Sign-In Followed by Arc Cluster Credential Access",
  description = "Detects a Microsoft Entra ID service principal that signs in successfully "
    .. "and, within 30 minutes, lists the user credentials of an Azure Arc-connected "
    .. "Kubernetes cluster (listClusterUserCredential). That credential is what "
    .. "`az connectedk8s proxy` uses to reach the cluster's API server through Cluster "
    .. "Connect, so the pair is how an attacker holding a stolen service-principal secret "
    .. "moves from the cloud control plane into on-premises or multi-cloud Kubernetes.",
  severity = "medium",
  risk_score = 47,          -- optional: medium defaults to 47 anyway; stated for clarity
  version = 1,
  author = { "Elastic" },
  license = "Elastic License v2",

  -- Tags follow Elastic's vocabulary so alerts group with theirs.
  tags = {
    "Domain: Cloud",
    "Domain: Identity",
    "Data Source: Azure",
    "Data Source: Azure Arc",
    "Data Source: Microsoft Entra ID",
    "Data Source: Microsoft Entra ID Sign-In Logs",
    "Use Case: Threat Detection",
    "Tactic: Credential Access",
    "Tactic: Initial Access",
    "Resources: Investigation Guide",
  },

  references = {
    "https://learn.microsoft.com/en-us/azure/azure-arc/kubernetes/cluster-connect",
    "https://learn.microsoft.com/en-us/cli/azure/connectedk8s#az-connectedk8s-proxy",
    "https://learn.microsoft.com/en-us/entra/identity/monitoring-health/concept-sign-ins",
    "https://www.ibm.com/think/x-force/identifying-abusing-azure-arc-for-hybrid-escalation-persistence",
    "https://www.microsoft.com/en-us/security/blog/2025/08/27/storm-0501s-evolving-techniques-lead-to-cloud-based-ransomware/",
  },

  -- mw.mitre looks names and URLs up in lua/moonwatch/mitre.lua; a wrong id,
  -- or a technique filed under the wrong tactic, fails `moonwatch check`.
  threat = {
    mw.mitre("TA0006", "T1552", "T1552.007"),   -- Credential Access / Container API
    mw.mitre("TA0001", "T1078", "T1078.004"),   -- Initial Access / Cloud Accounts
  },

  false_positives = {
    "CI/CD service principals that deploy to Arc-connected clusters sign in and fetch "
      .. "cluster credentials as part of every pipeline run. Identify them by app id and "
      .. "source network, and suppress them only for those sources.",
    "Administrators who use a service principal's credentials by hand during maintenance "
      .. "or troubleshooting of an Arc-connected cluster.",
  },

  -- One line a human reads first. {1:path} is a field of the first event of
  -- the sequence, {key} the join key (here the app id), {gap} the time from
  -- the first to the last event. A missing value renders as "?".
  message = "Service principal {1:azure.signinlogs.properties.service_principal_name} "
    .. "(app {key}) signed in from {1:source.ip} and listed Arc cluster credentials "
    .. "{gap} later",

  -- At most 100 alerts per 15 minutes of event time (Elastic's max_signals
  -- of 100 per 15m run of this rule). What goes beyond is counted and
  -- reported in one health record per interval, never silently lost.
  max_alerts = { count = 100, per = "15m" },

  -- The investigation guide travels with every alert. Write it for the
  -- analyst who has never seen this rule: why it matters, how to triage, how
  -- to respond, and what is usually benign.
  note = [==[
## Triage and analysis

### Why this matters

`listClusterUserCredential` (Azure RBAC action
`Microsoft.Kubernetes/connectedClusters/listClusterUserCredential/action`)
returns the credential that `az connectedk8s proxy` uses to open a kubectl
tunnel into an Azure Arc-connected Kubernetes cluster through Cluster Connect.
Whoever holds it can talk to the cluster's API server from anywhere on the
internet, without network access to the cluster itself, because Azure relays
the traffic.

This alert fires when a **service principal** (not a managed identity) signs
in successfully and the same application id lists those credentials within 30
minutes. That pattern matches how attackers holding a stolen client secret or
certificate have moved from Entra ID into on-premises and multi-cloud
Kubernetes: Microsoft's Storm-0501 report and IBM X-Force's Azure Arc research
both describe service-principal credentials being used to reach Arc-connected
clusters and, from there, the secrets stored in them. A managed identity can
only sign in from the Azure resource it is attached to, so it is left out; a
service principal secret works from any machine that has it.

### Triage

1. **Identify the principal.** The join key is the application (client) id.
   Resolve it in Entra ID (Enterprise applications / App registrations) to
   the application, its service principal and its owners, and ask the owner
   whether this sign-in and credential listing were expected.
2. **Check where the sign-in came from.** Compare `source.ip`,
   `source.geo.country_name`, `source.geo.city_name` and
   `source.as.organization.name` with where this principal normally runs
   (build agents, a known cloud region, a corporate egress range). A
   residential ISP, a VPN or hosting provider never seen before, or a new
   country is a strong signal.
3. **Check the principal's credentials.** Look at which credential signed in
   (`azure.signinlogs.properties.service_principal_credential_key_id`) and
   when the principal's secrets and certificates were last added or rotated.
   A credential created shortly before this sign-in, by an unusual user, is
   suspicious on its own.
4. **Look at what happened next in the activity log.** Review the principal's
   operations after the credential listing (same `azure.activitylogs.identity.claims.appid`),
   especially other operations on `MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS`,
   role assignment writes, and secret or configmap reads and writes made
   through the proxy. Note the cluster from `azure.resource.id`.
5. **Correlate Kubernetes audit logs.** Requests that arrive through Cluster
   Connect are made by the Arc proxy service account
   `system:serviceaccount:azure-arc:azure-arc-kube-aad-proxy-sa`, impersonating
   the Entra caller (`kubernetes.audit.impersonatedUser.username`). Search the
   cluster's audit log in the same window for that account reading or
   changing `secrets` or `configmaps`, creating workloads, or binding roles.
6. **Check Entra audit logs for changes to the principal.** New client
   secrets or certificates, new federated credentials, new owners, or new
   API permissions and role assignments in the days before the alert point to
   persistence being set up.

### Response and remediation

- Rotate the principal's client secrets and certificates, and remove any
  credential, federated credential or owner you cannot account for.
- Revoke the principal's active sessions and tokens so that access already
  obtained stops working.
- Remove unexpected role assignments on the Arc-connected clusters (for
  example "Azure Arc Enabled Kubernetes Cluster User Role" or any cluster
  admin role) and on the resource groups that contain them.
- Review everything done through the proxy during the window and treat every
  Kubernetes secret the principal could read as exposed: rotate those secrets
  and the credentials they contain.
- Restrict where the principal may sign in from with Conditional Access for
  workload identities (named locations or trusted IP ranges), and prefer
  managed identities or workload identity federation over long-lived secrets.
- If the activity is confirmed malicious, follow the incident response
  process for a cloud identity compromise and look for the same application
  id or source IP elsewhere in the tenant.

### Known benign causes

- CI/CD service principals that deploy to Arc-connected clusters sign in and
  fetch cluster credentials on every run. Confirm the source IP belongs to the
  pipeline's runners; tune the rule for those principals and sources only.
- Administrators using a service principal's credentials during maintenance
  or troubleshooting. Confirm with the owner and the change record.
]==],

  -- Detection: a sequence. Steps must happen in this order, for the same join
  -- key, within maxspan of the first event (inclusive, on event time).
  sequence = mw.sequence {
    maxspan = "30m",
    -- `by` is positional: step 1's app_id must equal step 2's claims.appid,
    -- even though the field names differ. An event whose key is missing or
    -- null never joins (write "?field" to let null join null).
    { where = sp_signin, by = "azure.signinlogs.properties.app_id" },
    { where = arc_credential_listing, by = "azure.activitylogs.identity.claims.appid" },
  },

  -- Run by `moonwatch test` (docs/RULE-TESTS.md): a true positive and one
  -- near miss per condition, each through the real engine on event time.
  -- tests/fixtures/arc/ holds more cases as NDJSON for the end-to-end suite.
  tests = TESTS,
}
