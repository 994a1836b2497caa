--[[
rules/azure/entra/protection_alerts_for_user.lua

Entra ID Protection Alerts for User Detected: follows Elastic's EQL rule of
that name (summarised in ../shared/ELASTIC-RULES.md §3a; Elastic License v2).
Our notes do not record Elastic's rule id, so this port has its own. It
exercises `runs = 2`: one step repeated, two distinct events for one key.

  sequence by azure.identityprotection.properties.user_principal_name with maxspan=10m
  [any where event.dataset == "azure.identity_protection"] with runs=2
]]

local mw = require("moonwatch")
local t = require("moonwatch.testing")

local UPN = "adele.vance@contoso.example"
local RISK = {
  ["@timestamp"] = "2025-11-04T08:00:00.000Z",
  event = { dataset = "azure.identity_protection", module = "azure", kind = "event" },
  azure = {
    correlation_id = "7d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a",
    identityprotection = {
      category = "UserRiskEvents",
      properties = {
        user_principal_name = UPN,
        user_display_name = "Adele Vance",
        risk_event_type = "unlikelyTravel",
        risk_level = "medium",
        risk_state = "atRisk",
        detection_timing_type = "realtime",
        ip_address = "203.0.113.9",
      },
    },
  },
}

return mw.rule {
  id = "6c4d5b4b-29f3-4cd7-af5c-af26dbed827b",
  name = "Entra ID Protection Alerts for User Detected",
  description = "Two Microsoft Entra ID Protection risk events for the same user principal "
    .. "within ten minutes. One risk detection is often noise; several in a short time point "
    .. "to an account under active attack or already compromised.",
  severity = "high",
  risk_score = 73,
  tags = { "Domain: Cloud", "Domain: Identity", "Data Source: Microsoft Entra ID Protection",
           "Rule Type: Event Correlation (EQL)" },
  references = { "https://learn.microsoft.com/en-us/entra/id-protection/concept-identity-protection-risks" },
  author = { "Elastic" },
  license = "Elastic License v2",
  version = 1,
  threat = { mw.mitre("TA0001", "T1078", "T1078.004") },
  false_positives = { "Travelling users or users behind anonymising VPNs can raise several "
                      .. "risk detections in a row." },
  note = [[
## Triage and analysis

- List the risk event types (azure.identityprotection.properties.risk_event_type)
  of both events and their source addresses.
- Check the user's sign-ins around the window for new devices, MFA changes or
  token anomalies; confirm with the user.
]],
  message = "Entra ID Protection raised {1:azure.identityprotection.properties.risk_event_type} "
         .. "and {2:azure.identityprotection.properties.risk_event_type} for {key} within {gap}",

  sequence = mw.sequence {
    maxspan = "10m",
    {
      where = mw.eq("event.dataset", "azure.identity_protection"),
      by = "azure.identityprotection.properties.user_principal_name",
      runs = 2,
    },
  },

  tests = {
    {
      name = "true positive: two risk events for one user 6 minutes apart",
      events = { RISK, t.at("2025-11-04T08:06:00.000Z", RISK, {
        ["azure.identityprotection.properties.risk_event_type"] = "anonymizedIPAddress" }) },
      expect = { count = 1, fields = {
        ["moonwatch.join_key"] = { UPN },
        ["message"] = "Entra ID Protection raised unlikelyTravel and anonymizedIPAddress for "
                   .. UPN .. " within 6m",
      } },
    },
    {
      -- runs=2 expands to two steps with one matcher; steps are checked last
      -- to first, so the second event completes (1, 2) and starts a new
      -- sequence that the third completes (EQL R5/R11).
      name = "three risk events make two alerts: (1, 2) and (2, 3)",
      events = { RISK, t.at("2025-11-04T08:01:00.000Z", RISK), t.at("2025-11-04T08:02:00.000Z", RISK) },
      expect = { count = 2, alerts = {
        { ["event.start"] = "2025-11-04T08:00:00.000Z", ["event.end"] = "2025-11-04T08:01:00.000Z" },
        { ["event.start"] = "2025-11-04T08:01:00.000Z", ["event.end"] = "2025-11-04T08:02:00.000Z" },
      } },
    },
    {
      name = "four risk events make three alerts",
      events = { RISK, t.at("2025-11-04T08:01:00.000Z", RISK), t.at("2025-11-04T08:02:00.000Z", RISK),
                 t.at("2025-11-04T08:03:00.000Z", RISK) },
      expect = { count = 3 },
    },
    {
      name = "near miss: one risk event only",
      events = { RISK },
      expect = { count = 0 },
    },
    {
      name = "near miss: two users, one event each",
      events = { RISK, t.at("2025-11-04T08:01:00.000Z", RISK, {
        ["azure.identityprotection.properties.user_principal_name"] = "alex.wilber@contoso.example" }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: the second event 10m1s later",
      events = { RISK, t.at("2025-11-04T08:10:01.000Z", RISK) },
      expect = { count = 0 },
    },
    {
      name = "near miss: the second event is a sign-in log, not identity protection",
      events = { RISK, t.at("2025-11-04T08:01:00.000Z", RISK, { ["event.dataset"] = "azure.signinlogs" }) },
      expect = { count = 0 },
    },
  },
}
