-- The tenant's audit log at the hub: every high-risk action the tills audited (voids after
-- send, refunds, overrides, no-sales, age checks...), as their ops arrive, and what reached
-- the hub from outside about an order (a chargeback from the treasury).
CREATE TABLE audit_log (
    tenant_id          uuid NOT NULL,
    id                 uuid NOT NULL,
    outlet_id          uuid,
    -- 'till' (an edge's audit op) or 'treasury'
    source             text NOT NULL,
    action             text NOT NULL,
    actor_staff_id     uuid,
    approver_staff_id  uuid,
    device_id          uuid,
    subject            text NOT NULL,
    reason             text NOT NULL,
    detail             jsonb NOT NULL DEFAULT '{}',
    at_ms              bigint NOT NULL,
    recorded_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_newest ON audit_log (tenant_id, at_ms DESC, id DESC);

-- Chargebacks the treasury reported on an order's payments.
CREATE TABLE order_chargebacks (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL,
    order_id         uuid NOT NULL,
    outlet_id        uuid NOT NULL,
    event_id         text,
    amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
    currency         text NOT NULL,
    reason           text NOT NULL,
    provider_ref     text,
    received_at_ms   bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, event_id)
);
CREATE INDEX order_chargebacks_by_order ON order_chargebacks (tenant_id, order_id);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON audit_log TO kibanda_api;

ALTER TABLE order_chargebacks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON order_chargebacks TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON order_chargebacks TO kibanda_api;
