--[[
rules/azure/entra/device_code_signin_aad_graph_enumeration.lua

Entra ID OAuth Device Code Sign-in to Azure AD Graph Enumeration: a port of
Elastic's EQL rule aa04377a-19b5-4940-952f-aad173790d23 (Elastic License v2;
metadata summarised in our own words). Exercises a sequence with two SHARED
join keys (user.id, azure.tenant_id), category gates on both steps and a
list of wildcard patterns.

  sequence by user.id, azure.tenant_id with maxspan=5m
  [authentication where data_stream.dataset == "azure.signinlogs" and
     event.outcome == "success" and
     azure.signinlogs.properties.authentication_protocol == "deviceCode" and
     azure.signinlogs.properties.device_detail.is_managed == false and
     azure.signinlogs.properties.resource_id == "00000002-0000-0000-c000-000000000000"]
  [web where data_stream.dataset == "azure.aadgraphactivitylogs" and
     url.path : ("*/users*", "*/groups*", ... 17 patterns)]
]]

local mw = require("moonwatch")
local t = require("moonwatch.testing")

local AAD_GRAPH = "00000002-0000-0000-c000-000000000000"

local ENUM_PATHS = {
  "*/users*", "*/groups*", "*/servicePrincipals*", "*/applications*", "*/applicationRefs*",
  "*/devices*", "*/directoryRoles*", "*/roleAssignments*", "*/eligibleRoleAssignments*",
  "*/roleDefinitions*", "*/directoryObjects*", "*/policies*", "*/oauth2PermissionGrants*",
  "*/administrativeUnits*", "*/tenantDetails*", "*/directorySettingTemplates*", "*/me*",
}

local USER = "3f7a2b1c-9d8e-4f60-a1b2-c3d4e5f60718"
local TENANT = "4bbb79f7-5724-4c9e-95f3-de075f6ec090"
local SIGNIN = {
  ["@timestamp"] = "2025-11-03T14:00:00.000Z",
  data_stream = { dataset = "azure.signinlogs" },
  event = { category = { "authentication" }, dataset = "azure.signinlogs", outcome = "success" },
  user = { id = USER, name = "megan.bowen@contoso.example" },
  source = { ip = "203.0.113.45" },
  azure = {
    tenant_id = TENANT,
    signinlogs = {
      category = "SignInLogs",
      properties = {
        authentication_protocol = "deviceCode",
        app_id = "d3590ed6-52b3-4102-aeff-aad2292ab01c",
        app_display_name = "Microsoft Office",
        resource_id = AAD_GRAPH,
        device_detail = { is_managed = false, operating_system = "Linux" },
        user_principal_name = "megan.bowen@contoso.example",
      },
    },
  },
}
local GRAPH = {
  ["@timestamp"] = "2025-11-03T14:01:30.000Z",
  data_stream = { dataset = "azure.aadgraphactivitylogs" },
  event = { category = { "web" }, dataset = "azure.aadgraphactivitylogs" },
  user = { id = USER },
  url = { path = "/4bbb79f7-5724-4c9e-95f3-de075f6ec090/users" },
  user_agent = { original = "python-requests/2.31.0" },
  source = { ip = "198.51.100.7" },
  azure = {
    tenant_id = TENANT,
    aadgraphactivitylogs = { properties = { api_version = "1.61-internal" } },
  },
}

return mw.rule {
  id = "aa04377a-19b5-4940-952f-aad173790d23",
  name = "Entra ID OAuth Device Code Sign-in to Azure AD Graph Enumeration",
  description = "A user redeems a device code for the legacy Azure AD Graph audience from an "
    .. "unmanaged device, and within five minutes the same user in the same tenant enumerates "
    .. "directory collections (users, groups, service principals, roles, policies, ...) "
    .. "through graph.windows.net: the shape of device-code phishing followed by ROADrecon "
    .. "or AADInternals style reconnaissance.",
  severity = "high",
  risk_score = 73,
  tags = { "Domain: Cloud", "Domain: Identity", "Data Source: Microsoft Entra ID Sign-In Logs",
           "Data Source: Azure AD Graph Activity Logs", "Threat: Device Code Phishing",
           "Rule Type: Event Correlation (EQL)" },
  references = { "https://github.com/dirkjanm/ROADtools",
                 "https://learn.microsoft.com/en-us/graph/migrate-azure-ad-graph-overview" },
  author = { "Elastic" },
  license = "Elastic License v2",
  version = 1,
  threat = { mw.mitre("TA0006", "T1528"), mw.mitre("TA0001", "T1078", "T1078.004"),
             mw.mitre("TA0007", "T1087", "T1087.004") },
  false_positives = { "Authorised red-team or audit tooling run under the device-code flow.",
                      "Operators legitimately scripting directory reads with first-party clients." },
  note = [[
## Triage and analysis

- Confirm the sign-in: device-code protocol, AAD Graph resource, unmanaged device.
- Compare the sign-in source IP with the Graph caller's IP: different addresses
  suggest the victim redeemed the code and the attacker drives the token.
- Review the Graph paths and API version (1.61-internal is a tooling signal).
- Revoke the user's refresh tokens and remove devices registered in the window.
]],
  message = "User {key} redeemed a device code for Azure AD Graph from {1:source.ip} and "
         .. "enumerated {2:url.path} {gap} later",

  sequence = mw.sequence {
    maxspan = "5m",
    by = { "user.id", "azure.tenant_id" },
    {
      where = mw.all {
        mw.category("authentication"),
        mw.eq("data_stream.dataset", "azure.signinlogs"),
        mw.eq("event.outcome", "success"),
        mw.eq("azure.signinlogs.properties.authentication_protocol", "deviceCode"),
        mw.eq("azure.signinlogs.properties.device_detail.is_managed", false),
        mw.eq("azure.signinlogs.properties.resource_id", AAD_GRAPH),
      },
    },
    {
      where = mw.all {
        mw.category("web"),
        mw.eq("data_stream.dataset", "azure.aadgraphactivitylogs"),
        mw.ieq("url.path", ENUM_PATHS),
      },
    },
  },

  tests = {
    {
      name = "true positive: device-code sign-in to AAD Graph, users listed 90s later",
      events = { SIGNIN, GRAPH },
      expect = { count = 1, fields = {
        ["rule.id"] = "aa04377a-19b5-4940-952f-aad173790d23",
        ["moonwatch.join_key"] = { USER, TENANT },
        ["event.severity"] = 73,
      } },
    },
    {
      name = "true positive: a case-insensitive path match (/ServicePrincipals)",
      events = { SIGNIN, t.event(GRAPH, { ["url.path"] = "/myorganization/ServicePrincipals" }) },
      expect = { count = 1 },
    },
    {
      name = "near miss: the device is managed",
      events = { t.event(SIGNIN, { ["azure.signinlogs.properties.device_detail.is_managed"] = true }),
                 GRAPH },
      expect = { count = 0 },
    },
    {
      name = "near miss: the code was redeemed for Microsoft Graph, not AAD Graph",
      events = { t.event(SIGNIN, { ["azure.signinlogs.properties.resource_id"] =
                                     "00000003-0000-0000-c000-000000000000" }), GRAPH },
      expect = { count = 0 },
    },
    {
      name = "near miss: same user, other tenant (both shared keys must agree)",
      events = { SIGNIN, t.event(GRAPH, { ["azure.tenant_id"] = "9e0c1f4b-0000-4000-8000-00000000abcd" }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: a Graph call outside the enumeration paths",
      events = { SIGNIN, t.event(GRAPH, { ["url.path"] = "/4bbb79f7/$batch" }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: enumeration 5m1s after the sign-in",
      events = { SIGNIN, t.at("2025-11-03T14:05:01.000Z", GRAPH) },
      expect = { count = 0 },
    },
    {
      name = "near miss: the Graph event lacks web category",
      events = { SIGNIN, t.event(GRAPH, { ["event.category"] = { "iam" } }) },
      expect = { count = 0 },
    },
  },
}
