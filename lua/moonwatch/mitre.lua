--[[
lua/moonwatch/mitre.lua - the MITRE ATT&CK (Enterprise) catalogue behind mw.mitre

mw.mitre(tactic, technique, subtechnique) looks ids up here, so that a typo in
a rule's threat mapping is caught by `moonwatch check` instead of shipping a
broken link in every alert. This module is data only; the lookups, the
reference URLs and the error messages live in lua/moonwatch.lua.

Shape:
  tactics    = { TAxxxx = "Official Name", ... }
  techniques = { Txxxx = { name = "Official Name",
                           tactics = { "TAxxxx", ... },   -- where ATT&CK lists it
                           sub = { ["yyy"] = "Sub-technique Name", ... } } }

A sub-technique Txxxx.yyy is stored under its parent technique, keyed by its
three-digit suffix, so "belongs to the technique" is true by construction.
`tactics` lists every tactic under which ATT&CK files the technique; mw.mitre
refuses a technique under a tactic it does not belong to (the same check
Elastic's detection-rules run over their rule corpus).

Names are the official ones as of ATT&CK Enterprise v16, spelled and
capitalised exactly as on attack.mitre.org (they end up in ECS `threat.*`).
The set covers the cloud, identity and container techniques that Azure and
Entra ID rules use. To add one: copy its name and tactics from its ATT&CK page;
keep the lists sorted by id.
]]

local tactics = {
  TA0001 = "Initial Access",
  TA0002 = "Execution",
  TA0003 = "Persistence",
  TA0004 = "Privilege Escalation",
  TA0005 = "Defense Evasion",
  TA0006 = "Credential Access",
  TA0007 = "Discovery",
  TA0008 = "Lateral Movement",
  TA0009 = "Collection",
  TA0010 = "Exfiltration",
  TA0011 = "Command and Control",
  TA0040 = "Impact",
  TA0042 = "Resource Development",
  TA0043 = "Reconnaissance",
}

local techniques = {
  T1021 = { name = "Remote Services", tactics = { "TA0008" },
            sub = { ["007"] = "Cloud Services" } },
  T1059 = { name = "Command and Scripting Interpreter", tactics = { "TA0002" },
            sub = { ["009"] = "Cloud API" } },
  T1069 = { name = "Permission Groups Discovery", tactics = { "TA0007" },
            sub = { ["003"] = "Cloud Groups" } },
  T1070 = { name = "Indicator Removal", tactics = { "TA0005" } },
  T1071 = { name = "Application Layer Protocol", tactics = { "TA0011" } },
  T1078 = { name = "Valid Accounts", tactics = { "TA0001", "TA0003", "TA0004", "TA0005" },
            sub = { ["004"] = "Cloud Accounts" } },
  T1087 = { name = "Account Discovery", tactics = { "TA0007" },
            sub = { ["003"] = "Email Account", ["004"] = "Cloud Account" } },
  T1090 = { name = "Proxy", tactics = { "TA0011" } },
  T1098 = { name = "Account Manipulation", tactics = { "TA0003", "TA0004" },
            sub = { ["001"] = "Additional Cloud Credentials",
                    ["002"] = "Additional Email Delegate Permissions",
                    ["003"] = "Additional Cloud Roles",
                    ["005"] = "Device Registration",
                    ["006"] = "Additional Container Cluster Roles" } },
  T1110 = { name = "Brute Force", tactics = { "TA0006" },
            sub = { ["001"] = "Password Guessing", ["003"] = "Password Spraying",
                    ["004"] = "Credential Stuffing" } },
  T1114 = { name = "Email Collection", tactics = { "TA0009" },
            sub = { ["002"] = "Remote Email Collection", ["003"] = "Email Forwarding Rule" } },
  T1133 = { name = "External Remote Services", tactics = { "TA0001", "TA0003" } },
  T1136 = { name = "Create Account", tactics = { "TA0003" },
            sub = { ["003"] = "Cloud Account" } },
  T1190 = { name = "Exploit Public-Facing Application", tactics = { "TA0001" } },
  T1199 = { name = "Trusted Relationship", tactics = { "TA0001" } },
  T1204 = { name = "User Execution", tactics = { "TA0002" } },
  T1484 = { name = "Domain or Tenant Policy Modification", tactics = { "TA0004", "TA0005" },
            sub = { ["002"] = "Trust Modification" } },
  T1485 = { name = "Data Destruction", tactics = { "TA0040" } },
  T1486 = { name = "Data Encrypted for Impact", tactics = { "TA0040" } },
  T1490 = { name = "Inhibit System Recovery", tactics = { "TA0040" } },
  T1496 = { name = "Resource Hijacking", tactics = { "TA0040" } },
  T1525 = { name = "Implant Internal Image", tactics = { "TA0003" } },
  T1526 = { name = "Cloud Service Discovery", tactics = { "TA0007" } },
  T1528 = { name = "Steal Application Access Token", tactics = { "TA0006" } },
  T1530 = { name = "Data from Cloud Storage", tactics = { "TA0009" } },
  T1531 = { name = "Account Access Removal", tactics = { "TA0040" } },
  T1537 = { name = "Transfer Data to Cloud Account", tactics = { "TA0010" } },
  T1538 = { name = "Cloud Service Dashboard", tactics = { "TA0007" } },
  T1539 = { name = "Steal Web Session Cookie", tactics = { "TA0006" } },
  T1548 = { name = "Abuse Elevation Control Mechanism", tactics = { "TA0004", "TA0005" },
            sub = { ["005"] = "Temporary Elevated Cloud Access" } },
  T1550 = { name = "Use Alternate Authentication Material", tactics = { "TA0005", "TA0008" },
            sub = { ["001"] = "Application Access Token", ["004"] = "Web Session Cookie" } },
  T1552 = { name = "Unsecured Credentials", tactics = { "TA0006" },
            sub = { ["001"] = "Credentials In Files", ["005"] = "Cloud Instance Metadata API",
                    ["007"] = "Container API" } },
  T1555 = { name = "Credentials from Password Stores", tactics = { "TA0006" },
            sub = { ["006"] = "Cloud Secrets Management Stores" } },
  T1556 = { name = "Modify Authentication Process", tactics = { "TA0003", "TA0005", "TA0006" },
            sub = { ["006"] = "Multi-Factor Authentication", ["007"] = "Hybrid Identity" } },
  T1557 = { name = "Adversary-in-the-Middle", tactics = { "TA0006", "TA0009" } },
  T1562 = { name = "Impair Defenses", tactics = { "TA0005" },
            sub = { ["001"] = "Disable or Modify Tools",
                    ["007"] = "Disable or Modify Cloud Firewall",
                    ["008"] = "Disable or Modify Cloud Logs" } },
  T1566 = { name = "Phishing", tactics = { "TA0001" },
            sub = { ["001"] = "Spearphishing Attachment", ["002"] = "Spearphishing Link" } },
  T1567 = { name = "Exfiltration Over Web Service", tactics = { "TA0010" } },
  T1572 = { name = "Protocol Tunneling", tactics = { "TA0011" } },
  T1578 = { name = "Modify Cloud Compute Infrastructure", tactics = { "TA0005" },
            sub = { ["002"] = "Create Cloud Instance", ["003"] = "Delete Cloud Instance" } },
  T1580 = { name = "Cloud Infrastructure Discovery", tactics = { "TA0007" } },
  T1586 = { name = "Compromise Accounts", tactics = { "TA0042" },
            sub = { ["003"] = "Cloud Accounts" } },
  T1589 = { name = "Gather Victim Identity Information", tactics = { "TA0043" } },
  T1595 = { name = "Active Scanning", tactics = { "TA0043" } },
  T1606 = { name = "Forge Web Credentials", tactics = { "TA0006" },
            sub = { ["001"] = "Web Cookies", ["002"] = "SAML Tokens" } },
  T1609 = { name = "Container Administration Command", tactics = { "TA0002" } },
  T1610 = { name = "Deploy Container", tactics = { "TA0002", "TA0005" } },
  T1611 = { name = "Escape to Host", tactics = { "TA0004" } },
  T1613 = { name = "Container and Resource Discovery", tactics = { "TA0007" } },
  T1619 = { name = "Cloud Storage Object Discovery", tactics = { "TA0007" } },
  T1621 = { name = "Multi-Factor Authentication Request Generation", tactics = { "TA0006" } },
  T1648 = { name = "Serverless Execution", tactics = { "TA0002" } },
  T1649 = { name = "Steal or Forge Authentication Certificates", tactics = { "TA0006" } },
  T1651 = { name = "Cloud Administration Command", tactics = { "TA0002" } },
}

return {
  tactics = tactics,
  techniques = techniques,
}
