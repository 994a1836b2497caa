-- activitylogs.lua - the Azure Activity Log, raw -> ECS
--
-- The steps of Elastic's azure.activitylogs pipeline for the fields the
-- shipped rules read (../../docs/AZURE.md; elastic/integrations
-- packages/azure/data_stream/activitylogs, default.yml @05e5dca3 and
-- azure-shared-pipeline.yml @f4104be5). Raw Activity Log records often say
-- category "Action" or "Write", which no category list routes: name the
-- dataset on the input (azure:PATH,dataset=azure.activitylogs), or rely on
-- the /subscriptions/ resource id below.
return {
    name = "azure.activitylogs",
    dataset = "azure.activitylogs",
    categories = { "Administrative", "Security", "ServiceHealth", "Alert",
                   "Recommendation", "Policy", "Autoscale", "ResourceHealth" },
    -- a record no category claims whose resourceId is a subscription's
    resource_prefix = "/subscriptions/",
    -- remove every "":"", from the message text before parsing
    repair_empty_keys = true,
    timestamp = "time",
    snake_case = {
        into = "azure.activitylogs",
        exclude = { "time", "resourceId", "tenantId", "correlationId", "callerIpAddress",
                    "durationMs", "level", "Level", "location" },
        -- identity sent as JSON text is parsed; unparsable text is kept as identity_name
        parse_json = { "identity" },
        parse_json_fallback = "_name",
        -- claim keys: '.' -> '_' (appid has no dot and is unchanged)
        dots_to_underscore = { "identity.claims" },
    },
    fields = {
        { to = "event.dataset", value = "azure.activitylogs" },
        { to = "data_stream.dataset", value = "azure.activitylogs" },
        { to = "event.kind", value = "event" },
        { to = "cloud.provider", value = "azure" },
        -- operationName keeps its case; event.action is a copy
        { to = "event.action", from = "operationName" },
        { to = "event.duration", from = "durationMs" },
        -- resultType when it is success or failure, else properties.result;
        -- lower-cased; Start records get none
        { to = "event.outcome", from = "resultType", only = { "success", "failure" },
          lower = true },
        { to = "event.outcome", from = "properties.result",
          only = { "success", "failure", "unknown" }, lower = true, if_absent = true },
        { to = "source.ip", from = "callerIpAddress", ip = true, address = "source.address" },
        { to = "azure.tenant_id", from = "tenantId" },
        { to = "azure.correlation_id", from = "correlationId" },
        { to = "azure.resource.id", from = "resourceId" },
        { to = "log.level", from = { "level", "Level" }, string = true },
    },
}
