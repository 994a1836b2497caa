-- signinlogs.lua - Entra ID sign-in logs (all four categories), raw -> ECS
--
-- The steps of Elastic's azure.signinlogs pipeline for the fields the
-- shipped rules read (../../docs/AZURE.md; elastic/integrations
-- packages/azure/data_stream/signinlogs, default.yml @ef4cee48). Paths in
-- `from` are raw (camelCase) record paths; `to` are ECS paths. Declarations
-- only: moonwatch compiles them to C and applies them per record without Lua.
return {
    name = "azure.signinlogs",
    dataset = "azure.signinlogs",
    -- the sign-in pipeline keeps every category ending in SignInLogs
    categories = {
        "SignInLogs",
        "NonInteractiveUserSignInLogs",
        "ServicePrincipalSignInLogs",
        "ManagedIdentitySignInLogs",
        "MicrosoftServicePrincipalSignInLogs",
    },
    category_suffix = "SignInLogs",
    -- @timestamp from `time` (7 fractional digits in, milliseconds out)
    timestamp = "time",
    -- the raw record, camelCase -> snake_case, under azure.signinlogs
    snake_case = {
        into = "azure.signinlogs",
        -- moved elsewhere by the pipeline (see the fields below)
        exclude = { "time", "resourceId", "tenantId", "correlationId", "Level", "level",
                    "location", "durationMs" },
        renames = {
            created_date_time = "created_at",
            processing_time_in_milliseconds = "processing_time_ms",
            risk_level_during_sign_in = "risk_level_during_signin",
        },
    },
    fields = {
        { to = "event.dataset", value = "azure.signinlogs" },
        { to = "data_stream.dataset", value = "azure.signinlogs" },
        { to = "event.kind", value = "event" },
        { to = "event.category", value = { "authentication" } },
        { to = "event.type", value = { "info" } },
        { to = "cloud.provider", value = "azure" },
        { to = "event.action", from = "operationName" },
        { to = "event.id", from = "properties.id" },
        { to = "event.duration", from = "durationMs" },
        -- success when errorCode is null or 0, failure when > 0
        { to = "event.outcome", outcome_of = "properties.status.errorCode" },
        -- the first non-empty address; a valid IP goes to source.ip
        { to = "source.ip", from = { "properties.ipAddress", "properties.IPAddress",
                                      "callerIpAddress" },
          ip = true, address = "source.address" },
        { to = "azure.tenant_id", from = "tenantId" },
        { to = "azure.correlation_id", from = "correlationId" },
        { to = "azure.resource.id", from = "resourceId" },
        { to = "log.level", from = { "Level", "level" }, string = true },
        { to = "user.id", from = "properties.userId" },
        { to = "user.name", from = "properties.userPrincipalName" },
        { to = "user.full_name", from = "properties.userDisplayName" },
        { to = "user_agent.original", from = "properties.userAgent" },
        { to = "geo.city_name", from = "properties.location.city" },
        { to = "geo.region_name", from = "properties.location.state" },
        { to = "geo.country_iso_code", from = "location" },
    },
}
