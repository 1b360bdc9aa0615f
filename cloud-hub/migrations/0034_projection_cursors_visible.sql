-- How far each device's ops are projected is shown to a tenant's managers and auditors beside
-- how far they are stored (GET /v1/{tenant}/pos/sync/devices), so tenant API transactions read
-- projection_cursors, behind the same row-level wall as every tenant table.
ALTER TABLE projection_cursors ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON projection_cursors TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT ON projection_cursors TO kibanda_api;
