"""The audit log's admin is `workspaces.admin.AuditEventAdmin`: the audit trail lies below the apps and
knows no workspace, while its admin shows each workspace's people only their workspace's events."""
