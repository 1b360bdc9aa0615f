-- Refunds the tills gave on card or M-Pesa payments: the money goes back through the treasury
-- (`POST /v1/{tenant}/refunds`), which answers with `refund_processed` or `refund_failed`.
CREATE TABLE treasury_refunds (
    tenant_id        uuid NOT NULL,
    -- The till's refund id (the idempotency key of the treasury call).
    id               uuid NOT NULL,
    outlet_id        uuid NOT NULL,
    device_id        uuid NOT NULL,
    order_id         uuid NOT NULL,
    tender           text NOT NULL,
    amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
    currency         text NOT NULL,
    reason           text NOT NULL,
    -- 'requested' (to send), 'submitted' (the treasury took it), 'processed', 'failed'
    state            text NOT NULL DEFAULT 'requested',
    provider_ref     text,
    detail           text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX treasury_refunds_due ON treasury_refunds (next_attempt_at) WHERE state = 'requested';
CREATE INDEX treasury_refunds_by_order ON treasury_refunds (tenant_id, order_id);

ALTER TABLE treasury_refunds ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON treasury_refunds TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON treasury_refunds TO kibanda_api;
