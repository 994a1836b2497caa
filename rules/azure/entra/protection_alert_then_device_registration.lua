--[[
rules/azure/entra/protection_alert_then_device_registration.lua

Entra ID Protection User Alert and Device Registration: follows Elastic's EQL
rule of that name (summarised in ../shared/ELASTIC-RULES.md §3a; Elastic
License v2). Our notes do not record Elastic's rule id, so this port has its
own. It exercises a cross-dataset sequence whose steps join on DIFFERENT key
fields, and its true positive comes from a fixture file beside the rule.

  sequence with maxspan=5m
  [any where event.dataset == "azure.identity_protection"]
      by azure.identityprotection.properties.user_principal_name
  [any where event.dataset == "azure.auditlogs" and
      azure.auditlogs.operation_name == "Register device"]
      by azure.auditlogs.properties.initiated_by.user.userPrincipalName
]]

local mw = require("moonwatch")
local t = require("moonwatch.testing")

local UPN = "lidia.holloway@contoso.example"
local RISK = {
  ["@timestamp"] = "2025-11-05T10:00:00.000Z",
  event = { dataset = "azure.identity_protection" },
  azure = { identityprotection = { properties = {
    user_principal_name = UPN, risk_event_type = "maliciousIPAddress", risk_level = "high" } } },
}
local REGISTER = {
  ["@timestamp"] = "2025-11-05T10:03:00.000Z",
  event = { dataset = "azure.auditlogs", action = "Register device" },
  azure = { auditlogs = {
    operation_name = "Register device",
    properties = {
      initiated_by = { user = { userPrincipalName = UPN, id = "5c9a0e7d-1b2c-4d3e-8f40-a1b2c3d4e5f6" } },
      target_resources = { { display_name = "DESKTOP-7Q2M4LK", type = "Device" } },
    },
  } },
}

return mw.rule {
  id = "50ff384a-7149-4c10-8625-41d9183eb963",
  name = "Entra ID Protection User Alert and Device Registration",
  description = "An Entra ID Protection risk event for a user, followed within five minutes by "
    .. "a device registration initiated by the same user principal: an attacker with a "
    .. "phished session registering a device to obtain a Primary Refresh Token and persist.",
  severity = "high",
  risk_score = 73,
  tags = { "Domain: Cloud", "Domain: Identity", "Data Source: Microsoft Entra ID Protection",
           "Data Source: Microsoft Entra ID Audit Logs", "Rule Type: Event Correlation (EQL)" },
  references = { "https://dirkjanm.io/abusing-azure-ad-sso-with-the-primary-refresh-token/" },
  author = { "Elastic" },
  license = "Elastic License v2",
  version = 1,
  threat = { mw.mitre("TA0003", "T1098", "T1098.005"), mw.mitre("TA0001", "T1078", "T1078.004") },
  false_positives = { "A user enrolling a new laptop just after a risky sign-in from travel." },
  note = [[
## Triage and analysis

- Read the risk event type and the registered device's name and OS.
- A DESKTOP-* name with an OS version that does not match the fleet is a
  ROADtx signature. Remove the device before revoking sessions (device-bound
  PRTs survive session revocation).
]],
  message = "Risk event {1:azure.identityprotection.properties.risk_event_type} for {key}, "
         .. "then a device registration by the same user {gap} later",

  sequence = mw.sequence {
    maxspan = "5m",
    { where = mw.eq("event.dataset", "azure.identity_protection"),
      by = "azure.identityprotection.properties.user_principal_name" },
    { where = mw.all { mw.eq("event.dataset", "azure.auditlogs"),
                       mw.eq("azure.auditlogs.operation_name", "Register device") },
      by = "azure.auditlogs.properties.initiated_by.user.userPrincipalName" },
  },

  tests = {
    {
      name = "true positive (fixture file): risk event, device registered 3 minutes later",
      file = "fixtures/protection_alert_then_device_registration.tp.ndjson",
      expect = { count = 1, fields = {
        ["moonwatch.join_key"] = { "isaiah.langer@contoso.example" },
        ["moonwatch.events.1.event.azure.auditlogs.properties.target_resources.0.display_name"] =
          "DESKTOP-4HD9R2T",
      } },
    },
    {
      name = "true positive (inline): keys joined across different field names",
      events = { RISK, REGISTER },
      expect = { count = 1, fields = { ["moonwatch.join_key"] = { UPN } } },
    },
    {
      name = "near miss: the device was registered by another user",
      events = { RISK, t.event(REGISTER, {
        ["azure.auditlogs.properties.initiated_by.user.userPrincipalName"] = "admin@contoso.example" }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: UPN differs only in case (keys are case-sensitive, as in EQL)",
      events = { RISK, t.event(REGISTER, {
        ["azure.auditlogs.properties.initiated_by.user.userPrincipalName"] = UPN:upper() }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: another audit operation",
      events = { RISK, t.event(REGISTER, { ["azure.auditlogs.operation_name"] = "Update device" }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: registration before the risk event",
      events = { t.at("2025-11-05T09:59:00.000Z", REGISTER), RISK },
      expect = { count = 0 },
    },
    {
      name = "near miss: registration 5m1s after the risk event",
      events = { RISK, t.at("2025-11-05T10:05:01.000Z", REGISTER) },
      expect = { count = 0 },
    },
  },
}
