-- The devices each outlet's edge serves on its LAN (terminals, KDS screens, kiosks, printers),
-- as its device ops report them: paired, renamed, disabled, enabled, removed.
CREATE TABLE lan_devices (
    tenant_id         uuid NOT NULL,
    id                uuid NOT NULL,
    outlet_id         uuid NOT NULL,
    name              text NOT NULL,
    kind              text NOT NULL,
    -- 'active', 'disabled' or 'removed'
    state             text NOT NULL,
    registered_at_ms  bigint NOT NULL,
    updated_at_ms     bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX lan_devices_by_outlet ON lan_devices (tenant_id, outlet_id);

ALTER TABLE lan_devices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lan_devices TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON lan_devices TO kibanda_api;
