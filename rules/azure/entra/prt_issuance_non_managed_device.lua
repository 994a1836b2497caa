--[[
rules/azure/entra/prt_issuance_non_managed_device.lua

Entra ID OAuth PRT Issuance to Non-Managed Device Detected: follows Elastic's
EQL rule of that name (summarised in ../shared/ELASTIC-RULES.md §3a; Elastic
License v2). Our notes do not record Elastic's rule id, so this port has its
own. It exercises a sequence joined on TWO shared keys (user and device) and
`!= true` on booleans, which a missing field does not satisfy.

  sequence by azure.signinlogs.properties.user_id,
              azure.signinlogs.properties.device_detail.device_id with maxspan=1h
  [authentication where refresh-token sign-in by the Microsoft Authentication
     Broker from an Azure AD joined device]
  [authentication where primary-refresh-token sign-in, device not managed,
     app other than "Windows Sign In", user agent other than the Windows
     authentication provider]
]]

local mw = require("moonwatch")
local t = require("moonwatch.testing")

local USER = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
local DEVICE = "9a8b7c6d-5e4f-4321-a0b9-c8d7e6f5a4b3"
local REFRESH = {
  ["@timestamp"] = "2025-11-07T07:10:00.000Z",
  event = { category = { "authentication" }, dataset = "azure.signinlogs", outcome = "success" },
  azure = { signinlogs = { properties = {
    user_id = USER, user_principal_name = "joni.sherman@contoso.example",
    app_id = "29d9ed98-a469-4536-ade2-f981bc1d605e", app_display_name = "Microsoft Authentication Broker",
    incoming_token_type = "refreshToken",
    device_detail = { device_id = DEVICE, trust_type = "Azure AD joined", is_managed = false },
  } } },
  source = { ip = "185.220.101.33" },
}
local PRT = {
  ["@timestamp"] = "2025-11-07T07:40:00.000Z",
  event = { category = { "authentication" }, dataset = "azure.signinlogs", outcome = "success" },
  user_agent = { original = "Mozilla/5.0 (X11; Linux x86_64) python-requests/2.31" },
  azure = { signinlogs = { properties = {
    user_id = USER, app_display_name = "Office 365 Exchange Online",
    incoming_token_type = "primaryRefreshToken",
    device_detail = { device_id = DEVICE, is_managed = false },
  } } },
  source = { ip = "185.220.101.33" },
}

return mw.rule {
  id = "0ea5136d-5e82-4102-a526-86915a261168",
  name = "Entra ID OAuth PRT Issuance to Non-Managed Device Detected",
  description = "A refresh-token sign-in through the Microsoft Authentication Broker from an "
    .. "Azure AD joined device, then within an hour a primary-refresh-token sign-in by the "
    .. "same user on the same device id, now unmanaged and outside Windows sign-in: a device "
    .. "registered with a phished token (ROADtx) being used for persistent access.",
  severity = "medium",
  risk_score = 47,
  tags = { "Domain: Cloud", "Domain: Identity", "Data Source: Microsoft Entra ID Sign-In Logs",
           "Rule Type: Event Correlation (EQL)" },
  references = { "https://dirkjanm.io/abusing-azure-ad-sso-with-the-primary-refresh-token/" },
  author = { "Elastic" },
  license = "Elastic License v2",
  version = 1,
  threat = { mw.mitre("TA0006", "T1528"), mw.mitre("TA0003", "T1098", "T1098.005") },
  false_positives = { "Newly enrolled personal devices before they become managed." },
  note = [[
## Triage and analysis

- Check when and by whom the device id was registered (audit logs).
- Review the resources the PRT session reached and the source addresses.
]],
  message = "User {1:azure.signinlogs.properties.user_principal_name} got a PRT session on "
         .. "unmanaged device {2:azure.signinlogs.properties.device_detail.device_id} {gap} "
         .. "after a broker refresh-token sign-in",

  sequence = mw.sequence {
    maxspan = "1h",
    by = { "azure.signinlogs.properties.user_id",
           "azure.signinlogs.properties.device_detail.device_id" },
    {
      where = mw.all {
        mw.category("authentication"),
        mw.eq("event.dataset", "azure.signinlogs"),
        mw.eq("azure.signinlogs.properties.app_id", "29d9ed98-a469-4536-ade2-f981bc1d605e"),
        mw.eq("azure.signinlogs.properties.incoming_token_type", "refreshToken"),
        mw.eq("azure.signinlogs.properties.device_detail.trust_type", "Azure AD joined"),
      },
    },
    {
      where = mw.all {
        mw.category("authentication"),
        mw.eq("event.dataset", "azure.signinlogs"),
        mw.eq("azure.signinlogs.properties.incoming_token_type", "primaryRefreshToken"),
        mw.not_(mw.eq("azure.signinlogs.properties.device_detail.is_managed", true)),
        mw.not_(mw.eq("azure.signinlogs.properties.app_display_name", "Windows Sign In")),
        mw.not_(mw.eq("user_agent.original", "Windows-AzureAD-Authentication-Provider/1.0")),
      },
    },
  },

  tests = {
    {
      name = "true positive: PRT sign-in on the same device 30 minutes later",
      events = { REFRESH, PRT },
      expect = { count = 1, fields = {
        ["moonwatch.join_key"] = { USER, DEVICE },
        ["message"] = "User joni.sherman@contoso.example got a PRT session on unmanaged device "
                   .. DEVICE .. " 30m after a broker refresh-token sign-in",
      } },
    },
    {
      name = "near miss: same user, another device (second shared key differs)",
      events = { REFRESH, t.event(PRT, {
        ["azure.signinlogs.properties.device_detail.device_id"] = "00000000-1111-4222-8333-444444444444" }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: the device is managed",
      events = { REFRESH, t.event(PRT, { ["azure.signinlogs.properties.device_detail.is_managed"] = true }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: is_managed missing (a `!= true` on a missing field is null)",
      events = { REFRESH, t.event(PRT, {
        ["azure.signinlogs.properties.device_detail.is_managed"] = t.REMOVE }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: Windows Sign In",
      events = { REFRESH, t.event(PRT, { ["azure.signinlogs.properties.app_display_name"] =
                                           "Windows Sign In" }) },
      expect = { count = 0 },
    },
    {
      name = "near miss: the first sign-in is from a registered, not joined, device",
      events = { t.event(REFRESH, { ["azure.signinlogs.properties.device_detail.trust_type"] =
                                      "Azure AD registered" }), PRT },
      expect = { count = 0 },
    },
    {
      name = "near miss: PRT sign-in 1h0m1s later",
      events = { REFRESH, t.at("2025-11-07T08:10:01.000Z", PRT) },
      expect = { count = 0 },
    },
  },
}
