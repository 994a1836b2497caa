--[[
rules/azure/entra/aitm_phishing_kit_chain.lua

Entra ID AiTM Phishing-Kit Chain Detected: follows Elastic's EQL rule of that
name (summarised in ../shared/ELASTIC-RULES.md §3a; Elastic License v2). Our
notes do not record Elastic's rule id, so this port has its own. It exercises
a THREE-stage sequence with per-stage keys on different fields, `like` with a
wildcard, a field path with an array index and `!= null` / `!= value` tests.

  sequence with maxspan=3m
  [authentication where non-interactive sign-in, app = Microsoft Authentication
     Broker, resource = Device Registration Service, refresh token, unbound
     session, Member user, result_signature == "SUCCESS"]  by user_id
  [any where auditlogs "Register device",
     target_resources.`0`.display_name like "DESKTOP-*"]     by initiated_by.user.id
  [authentication where interactive sign-in with a primary refresh token through
     the device code flow, to a resource other than DRS, device not managed,
     device_id != null]                                      by user_id
]]

local mw = require("moonwatch")
local t = require("moonwatch.testing")

local MAB = "29d9ed98-a469-4536-ade2-f981bc1d605e"     -- Microsoft Authentication Broker
local DRS = "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9"     -- Device Registration Service
local USER = "b6f1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

local BROKER = {
  ["@timestamp"] = "2025-11-06T16:00:00.000Z",
  event = { category = { "authentication" }, dataset = "azure.signinlogs", outcome = "success" },
  azure = { signinlogs = {
    category = "NonInteractiveUserSignInLogs",
    result_signature = "SUCCESS",
    properties = {
      user_id = USER, user_principal_name = "diego.siciliani@contoso.example",
      app_id = MAB, resource_id = DRS, incoming_token_type = "refreshToken",
      user_type = "Member", is_interactive = false,
      token_protection_status_details = { sign_in_session_status = "unbound" },
    },
  } },
  source = { ip = "45.142.212.10" },
}
local REGISTER = {
  ["@timestamp"] = "2025-11-06T16:00:40.000Z",
  event = { category = { "iam" }, dataset = "azure.auditlogs", action = "Register device" },
  azure = { auditlogs = {
    operation_name = "Register device",
    properties = {
      initiated_by = { user = { id = USER } },
      target_resources = { { display_name = "DESKTOP-9F3KQ1V", type = "Device" } },
    },
  } },
}
local PRT = {
  ["@timestamp"] = "2025-11-06T16:01:30.000Z",
  event = { category = { "authentication" }, dataset = "azure.signinlogs", outcome = "success" },
  azure = { signinlogs = {
    category = "SignInLogs",
    properties = {
      user_id = USER, incoming_token_type = "primaryRefreshToken",
      original_transfer_method = "deviceCodeFlow", is_interactive = true,
      resource_id = "00000003-0000-0ff1-ce00-000000000000",        -- SharePoint Online
      device_detail = { device_id = "2f1e0d9c-8b7a-4654-9321-0fedcba98765", is_managed = false },
    },
  } },
  source = { ip = "45.142.212.10" },
}

return mw.rule {
  id = "0b7a3164-bc2b-4296-b2f1-e042821422e1",
  name = "Entra ID AiTM Phishing-Kit Chain Detected",
  description = "Within three minutes for one user: the Microsoft Authentication Broker redeems "
    .. "a refresh token for the Device Registration Service, a DESKTOP-* device is registered "
    .. "by that user, and a primary refresh token from that flow signs in interactively to "
    .. "another resource from an unmanaged device. This is the chain adversary-in-the-middle "
    .. "phishing kits automate to turn a phished session into a persistent PRT.",
  severity = "high",
  risk_score = 73,
  tags = { "Domain: Cloud", "Domain: Identity", "Data Source: Microsoft Entra ID Sign-In Logs",
           "Data Source: Microsoft Entra ID Audit Logs", "Rule Type: Event Correlation (EQL)" },
  references = { "https://dirkjanm.io/phishing-for-microsoft-entra-primary-refresh-tokens/" },
  author = { "Elastic" },
  license = "Elastic License v2",
  version = 1,
  threat = { mw.mitre("TA0006", "T1528"), mw.mitre("TA0003", "T1098", "T1098.005"),
             mw.mitre("TA0001", "T1566", "T1566.002") },
  false_positives = { "Rare: a user enrolling a personal Windows device through the broker "
                      .. "while already holding a session." },
  note = [[
## Triage and analysis

- Correlate the three events: broker refresh-token redemption, device
  registration (name, OS version) and the PRT sign-in (resource, IP).
- Remove the registered device, then revoke the user's sessions and reset
  credentials; review mailbox and file access from the PRT session.
]],
  message = "User {key}: broker token for DRS from {1:source.ip}, device "
         .. "{2:azure.auditlogs.properties.target_resources.0.display_name} registered, "
         .. "PRT sign-in from {3:source.ip} within {gap}",

  sequence = mw.sequence {
    maxspan = "3m",
    {
      where = mw.all {
        mw.category("authentication"),
        mw.eq("event.dataset", "azure.signinlogs"),
        mw.eq("azure.signinlogs.category", "NonInteractiveUserSignInLogs"),
        mw.eq("azure.signinlogs.properties.app_id", MAB),
        mw.eq("azure.signinlogs.properties.resource_id", DRS),
        mw.eq("azure.signinlogs.properties.incoming_token_type", "refreshToken"),
        mw.eq("azure.signinlogs.properties.token_protection_status_details.sign_in_session_status",
              "unbound"),
        mw.eq("azure.signinlogs.properties.user_type", "Member"),
        mw.eq("azure.signinlogs.result_signature", "SUCCESS"),
      },
      by = "azure.signinlogs.properties.user_id",
    },
    {
      where = mw.all {
        mw.eq("event.dataset", "azure.auditlogs"),
        mw.eq("azure.auditlogs.operation_name", "Register device"),
        mw.like("azure.auditlogs.properties.target_resources.0.display_name", "DESKTOP-*"),
      },
      by = "azure.auditlogs.properties.initiated_by.user.id",
    },
    {
      where = mw.all {
        mw.category("authentication"),
        mw.eq("event.dataset", "azure.signinlogs"),
        mw.eq("azure.signinlogs.category", "SignInLogs"),
        mw.eq("azure.signinlogs.properties.incoming_token_type", "primaryRefreshToken"),
        mw.eq("azure.signinlogs.properties.original_transfer_method", "deviceCodeFlow"),
        mw.not_(mw.eq("azure.signinlogs.properties.resource_id", DRS)),
        mw.not_(mw.eq("azure.signinlogs.properties.device_detail.is_managed", true)),
        mw.exists("azure.signinlogs.properties.device_detail.device_id"),
      },
      by = "azure.signinlogs.properties.user_id",
    },
  },

  tests = {
    {
      name = "true positive: broker token, DESKTOP-* registration, PRT sign-in in 90s",
      events = { BROKER, REGISTER, PRT },
      expect = { count = 1, fields = {
        ["moonwatch.join_key"] = { USER },
        ["moonwatch.events.1.event.azure.auditlogs.properties.target_resources.0.display_name"] =
          "DESKTOP-9F3KQ1V",
        ["event.duration"] = 90000000000,
      } },
    },
    {
      name = "near miss: the first two stages only",
      events = { BROKER, REGISTER },
      expect = { count = 0 },
    },
    {
      name = "near miss: the device name is not DESKTOP-* (like is case-sensitive)",
      events = { BROKER, t.event(REGISTER, {
        ["azure.auditlogs.properties.target_resources"] = { { display_name = "desktop-9f3kq1v" } } }),
        PRT },
      expect = { count = 0 },
    },
    {
      name = "near miss: the PRT sign-in goes to DRS itself",
      events = { BROKER, REGISTER, t.event(PRT, { ["azure.signinlogs.properties.resource_id"] = DRS }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: the PRT sign-in comes from a managed device",
      events = { BROKER, REGISTER, t.event(PRT, {
        ["azure.signinlogs.properties.device_detail.is_managed"] = true }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: the PRT sign-in has no device id",
      events = { BROKER, REGISTER, t.event(PRT, {
        ["azure.signinlogs.properties.device_detail.device_id"] = t.REMOVE }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: stages out of order (registration before the broker token)",
      events = { t.at("2025-11-06T15:59:50.000Z", REGISTER), BROKER, PRT },
      expect = { count = 0 },
    },
    {
      name = "near miss: the chain takes 3m1s",
      events = { BROKER, REGISTER, t.at("2025-11-06T16:03:01.000Z", PRT) },
      expect = { count = 0 },
    },
    {
      name = "near miss: the broker session is bound (token protection)",
      events = { t.event(BROKER, { ["azure.signinlogs.properties.token_protection_status_details."
                                   .. "sign_in_session_status"] = "bound" }), REGISTER, PRT },
      expect = { count = 0 },
    },
  },
}
