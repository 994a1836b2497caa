-- auditlogs.lua - Entra ID audit logs, raw -> ECS
--
-- The steps of Elastic's azure.auditlogs pipeline for the fields the shipped
-- rules read (azure.auditlogs.operation_name,
-- azure.auditlogs.properties.target_resources, ...initiated_by.user.id;
-- ../../docs/AZURE.md). No raw/ECS pair of audit logs is in the shared
-- samples: this mapping follows the pipeline, not a checked fixture.
return {
    name = "azure.auditlogs",
    dataset = "azure.auditlogs",
    categories = { "AuditLogs" },
    timestamp = "time",
    snake_case = {
        into = "azure.auditlogs",
        exclude = { "time", "resourceId", "tenantId", "correlationId", "Level", "level",
                    "durationMs" },
    },
    fields = {
        { to = "event.dataset", value = "azure.auditlogs" },
        { to = "data_stream.dataset", value = "azure.auditlogs" },
        { to = "event.kind", value = "event" },
        { to = "cloud.provider", value = "azure" },
        { to = "event.action", from = "operationName" },
        { to = "event.duration", from = "durationMs" },
        { to = "event.outcome", from = { "properties.result", "resultType" },
          only = { "success", "failure" }, lower = true },
        { to = "source.ip", from = "callerIpAddress", ip = true, address = "source.address" },
        { to = "azure.tenant_id", from = "tenantId" },
        { to = "azure.correlation_id", from = "correlationId" },
        { to = "azure.resource.id", from = "resourceId" },
        { to = "log.level", from = { "level", "Level" }, string = true },
    },
}
