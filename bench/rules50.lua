#!/usr/bin/env lua5.4
--[[
rules50.lua - writes the benchmark's 50-rule set into a folder

    lua5.4 bench/rules50.lua OUTDIR

OUTDIR gets a copy of the shipped Arc rule and 49 more rules in the style of
Elastic's Azure and Entra ID detections (names and operations from their
rule set): activity-log operations, sign-in, audit, Graph, Key Vault, AKS
and firewall rules, some with a Lua predicate beside their matchers, and a
second sequence. Every rule gives the prefilter a literal (its data set,
category or operation), as well-written rules do.
]]

local OUT = assert(arg[1], "usage: lua5.4 bench/rules50.lua OUTDIR")

-- activity-log operations: { name, operation (ieq), severity }
local ops = {
  { "Azure Automation Account Created", "MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/WRITE", "low" },
  { "Azure Automation Runbook Created or Modified", "MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/RUNBOOKS/DRAFT/WRITE", "low" },
  { "Azure Automation Webhook Created", "MICROSOFT.AUTOMATION/AUTOMATIONACCOUNTS/WEBHOOKS/WRITE", "low" },
  { "Azure Blob Container Access Level Modification", "MICROSOFT.STORAGE/STORAGEACCOUNTS/BLOBSERVICES/CONTAINERS/WRITE", "low" },
  { "Azure Blob Permissions Modification", "MICROSOFT.STORAGE/STORAGEACCOUNTS/BLOBSERVICES/CONTAINERS/BLOBS/MANAGEOWNERSHIP/ACTION", "medium" },
  { "Azure Command Execution on Virtual Machine", "MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION", "medium" },
  { "Azure Diagnostic Settings Deletion", "MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/DELETE", "medium" },
  { "Azure Event Hub Authorization Rule Created or Updated", "MICROSOFT.EVENTHUB/NAMESPACES/AUTHORIZATIONRULES/WRITE", "medium" },
  { "Azure Event Hub Deletion", "MICROSOFT.EVENTHUB/NAMESPACES/EVENTHUBS/DELETE", "medium" },
  { "Azure Firewall Policy Deletion", "MICROSOFT.NETWORK/FIREWALLPOLICIES/DELETE", "medium" },
  { "Azure Frontdoor Web Application Firewall (WAF) Policy Deleted", "MICROSOFT.NETWORK/FRONTDOORWEBAPPLICATIONFIREWALLPOLICIES/DELETE", "medium" },
  { "Azure Full Network Packet Capture Detected", "MICROSOFT.NETWORK/*/STARTPACKETCAPTURE/ACTION", "medium" },
  { "Azure Key Vault Modified", "MICROSOFT.KEYVAULT/VAULTS/WRITE", "medium" },
  { "Azure Kubernetes Events Deleted", "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/EVENTS.K8S.IO/EVENTS/DELETE", "low" },
  { "Azure Kubernetes Pods Deleted", "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/PODS/DELETE", "medium" },
  { "Azure Kubernetes Rolebindings Created", "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/RBAC.AUTHORIZATION.K8S.IO/ROLEBINDINGS/WRITE", "medium" },
  { "Azure Network Watcher Deletion", "MICROSOFT.NETWORK/NETWORKWATCHERS/DELETE", "medium" },
  { "Azure Resource Group Deletion", "MICROSOFT.RESOURCES/SUBSCRIPTIONS/RESOURCEGROUPS/DELETE", "medium" },
  { "Azure Storage Account Key Regenerated", "MICROSOFT.STORAGE/STORAGEACCOUNTS/REGENERATEKEY/ACTION", "low" },
  { "Azure Virtual Network Device Modified or Deleted", "MICROSOFT.NETWORK/NETWORKINTERFACES/WRITE", "medium" },
  { "Azure Alert Suppression Rule Created or Modified", "MICROSOFT.SECURITY/ALERTSSUPPRESSIONRULES/WRITE", "low" },
  { "Azure Storage Account Keys Listed", "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION", "low" },
  { "Azure Role Assignment Created", "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE", "low" },
  { "Azure Web App Configuration Listed", "MICROSOFT.WEB/SITES/CONFIG/LIST/ACTION", "low" },
}

-- other single-event rules: { name, data set, extra matcher source, severity }
local others = {
  { "Azure AKS Cluster Credentials Listed by a Service Principal", "azure.activitylogs",
    [[mw.ieq("azure.activitylogs.operation_name", "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION"),
      mw.eq("azure.activitylogs.identity.claims.idtyp", "app"), mw.ieq("event.outcome", "success")]], "medium" },
  { "Azure Network Security Group Modified Outside Change Pipelines", "azure.activitylogs",
    [[mw.ieq("azure.activitylogs.operation_name", "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE"),
      mw.ieq("event.outcome", "success"),
      function(ev)
        local app = ev:get("azure.activitylogs.identity.claims.appid")
        return app ~= "3f9d2c41-8b7e-4a15-9e06-d4c8a1b27f53"
      end]], "low" },
  { "Entra ID Sign-In With High Risk", "azure.signinlogs",
    [[mw.ieq("azure.signinlogs.properties.risk_level_during_signin", "high")]], "high" },
  { "Entra ID Device Code Authentication", "azure.signinlogs",
    [[mw.eq("azure.signinlogs.properties.authentication_protocol", "deviceCode")]], "medium" },
  { "Entra ID Legacy Authentication Sign-In", "azure.signinlogs",
    [[mw.eq("azure.signinlogs.properties.client_app_used",
            { "Exchange ActiveSync", "IMAP4", "POP3", "Authenticated SMTP", "Other clients" })]], "medium" },
  { "Entra ID Service Principal Sign-In With an Invalid Secret", "azure.signinlogs",
    [[mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
      mw.eq("azure.signinlogs.properties.status.error_code", 7000215)]], "low" },
  { "Entra ID Sign-In Flagged for Review", "azure.signinlogs",
    [[mw.eq("azure.signinlogs.properties.flagged_for_review", true)]], "medium" },
  { "Entra ID Managed Identity Sign-In Failure", "azure.signinlogs",
    [[mw.eq("azure.signinlogs.category", "ManagedIdentitySignInLogs"), mw.eq("event.outcome", "failure")]], "low" },
  { "Entra ID Azure CLI Sign-In From Outside Australia", "azure.signinlogs",
    [[mw.eq("azure.signinlogs.properties.app_display_name", "Azure CLI"),
      mw.not_(mw.eq("source.geo.country_iso_code", "AU"))]], "medium" },
  { "Entra ID Global Administrator Role Assigned", "azure.auditlogs",
    [[mw.eq("azure.auditlogs.operation_name", "Add member to role"),
      mw.contains("azure.auditlogs.properties.target_resources.0.modified_properties.1.new_value", "Global Administrator")]], "high" },
  { "Entra ID MFA Disabled for a User", "azure.auditlogs",
    [[mw.eq("azure.auditlogs.operation_name", "Disable Strong Authentication")]], "high" },
  { "Entra ID Conditional Access Policy Modified", "azure.auditlogs",
    [[mw.eq("azure.auditlogs.operation_name", "Update conditional access policy")]], "medium" },
  { "Entra ID Service Principal Added", "azure.auditlogs",
    [[mw.eq("azure.auditlogs.operation_name", "Add service principal")]], "low" },
  { "Entra ID Application Credential Modified", "azure.auditlogs",
    [[mw.eq("azure.auditlogs.operation_name", "Update application - Certificates and secrets management")]], "medium" },
  { "Entra ID User Added as Owner of an Application", "azure.auditlogs",
    [[mw.eq("azure.auditlogs.operation_name", "Add owner to application")]], "low" },
  { "Entra ID Guest User Invited", "azure.auditlogs",
    [[mw.eq("azure.auditlogs.operation_name", "Invite external user")]], "low" },
  { "Entra ID Domain Federation Settings Modified", "azure.auditlogs",
    [[mw.eq("azure.auditlogs.operation_name", "Set domain authentication")]], "high" },
  { "Microsoft Graph Request From a Scripting Client", "azure.graphactivitylogs",
    [[mw.contains("azure.graphactivitylogs.properties.user_agent", { "python-requests", "curl/", "PowerShell" }, { ci = true })]], "low" },
  { "Microsoft Graph Service Principal Enumeration", "azure.graphactivitylogs",
    [[mw.contains("azure.graphactivitylogs.properties.request_uri", "/servicePrincipals", { ci = true })]], "low" },
  { "Azure Key Vault Secret Read From Outside the VNet", "azure.platformlogs",
    [[mw.eq("azure.platformlogs.category", "AuditEvent"), mw.eq("azure.platformlogs.operation_name", "SecretGet"),
      mw.not_(mw.cidr("source.ip", { "10.0.0.0/8" }))]], "medium" },
  { "Azure Key Vault Mass Secret Listing by a Managed Identity", "azure.platformlogs",
    [[mw.eq("azure.platformlogs.operation_name", "SecretList"),
      function(ev) return (ev:get("azure.platformlogs.duration_ms") or 0) > 80 end]], "low" },
  { "AKS Anonymous Kubernetes API Request", "azure.platformlogs",
    [[mw.eq("azure.platformlogs.category", "kube-audit"),
      mw.contains("azure.platformlogs.properties.log", "system:anonymous")]], "high" },
  { "Azure Firewall Denied Outbound SSH", "azure.firewall_logs",
    [[mw.eq("azure.firewall.action", "Deny"), mw.eq("destination.port", 22)]], "low" },
  { "Azure Firewall Traffic to a Blocked Network", "azure.firewall_logs",
    [[mw.eq("azure.firewall.action", "Allow"), mw.cidr("destination.ip", { "198.18.0.0/15", "100.64.0.0/10" })]], "medium" },
}

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function header(n, name, sev)
  return string.format([[
local mw = require("moonwatch")

return mw.rule {
  id = "bench-%02d",
  name = %q,
  severity = %q,
  tags = { "Domain: Cloud", "Data Source: Azure", "Benchmark" },
]], n, name, sev)
end

local n = 0
-- the shipped Arc rule, unchanged
local src = assert(io.open("rules/azure/sp_signin_then_arc_credential_access.lua")):read("a")
write(OUT .. "/00_arc.lua", src)

for _, op in ipairs(ops) do
  n = n + 1
  write(string.format("%s/%02d_activity.lua", OUT, n), header(n, op[1], op[3]) .. string.format([[
  where = mw.all {
    mw.eq("event.dataset", "azure.activitylogs"),
    mw.ieq("azure.activitylogs.operation_name", %q),
    mw.ieq("event.outcome", { "Success", "success" }),
  },
}
]], op[2]))
end
for _, o in ipairs(others) do
  n = n + 1
  write(string.format("%s/%02d_%s.lua", OUT, n, o[2]:gsub("^azure%.", "")), header(n, o[1], o[4]) ..
    string.format([[
  where = mw.all {
    mw.eq("event.dataset", %q),
    %s,
  },
}
]], o[2], o[3]))
end
-- a second sequence: failed then successful service-principal sign-in
n = n + 1
write(string.format("%s/%02d_sequence.lua", OUT, n), header(n,
  "Entra ID Service Principal Sign-In After a Failed Secret", "medium") .. [[
  sequence = mw.sequence {
    maxspan = "10m",
    { where = mw.all {
        mw.eq("event.dataset", "azure.signinlogs"),
        mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
        mw.eq("event.outcome", "failure"),
      }, by = "azure.signinlogs.properties.app_id" },
    { where = mw.all {
        mw.eq("event.dataset", "azure.signinlogs"),
        mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
        mw.eq("event.outcome", "success"),
      }, by = "azure.signinlogs.properties.app_id" },
  },
}
]])
assert(n == 49, "want 49 rules besides the Arc rule, have " .. n)
