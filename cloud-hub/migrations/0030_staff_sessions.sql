-- Who is signed in where: each staff session an outlet's till opened and how it ended, kept
-- from the edge's staff ops (the hub's view of the shop floor, and the audit of sign-ins).
CREATE TABLE staff_sessions (
    tenant_id      uuid NOT NULL,
    id             uuid NOT NULL,
    outlet_id      uuid NOT NULL,
    staff_id       uuid NOT NULL,
    device_id      uuid,
    started_at_ms  bigint,
    ended_at_ms    bigint,
    -- 'sign_out', 'idle_timeout', 'forced', 'replaced' or 'forced_by_hub'
    end_reason     text,
    ended_by       uuid,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX staff_sessions_by_outlet ON staff_sessions (tenant_id, outlet_id, started_at_ms DESC);

ALTER TABLE staff_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON staff_sessions TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON staff_sessions TO kibanda_api;
