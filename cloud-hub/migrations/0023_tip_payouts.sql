-- Tip pools the outlets' managers paid out: who got what for which period (for payroll).
CREATE TABLE tip_payouts (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    outlet_id    uuid NOT NULL,
    from_ms      bigint NOT NULL,
    to_ms        bigint NOT NULL,
    tips_minor   bigint NOT NULL,
    shares       jsonb NOT NULL,
    by_staff_id  uuid NOT NULL,
    paid_at_ms   bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tip_payouts_by_outlet ON tip_payouts (tenant_id, outlet_id, from_ms DESC);

ALTER TABLE tip_payouts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tip_payouts TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON tip_payouts TO kibanda_api;
