-- Cash-drawer sessions as the hub rebuilds them from the edges' drawer ops (same rules as the
-- edge, from shared-model), for Z reports and cash exceptions.
CREATE TABLE drawer_sessions (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    outlet_id     uuid NOT NULL,
    device_id     uuid NOT NULL,
    state         text NOT NULL,
    z_number      bigint,
    doc           jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
ALTER TABLE drawer_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON drawer_sessions TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON drawer_sessions TO kibanda_api;
