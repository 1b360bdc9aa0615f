-- Calls the hub owes the inventory and logistics services, queued in the transaction of what
-- asked for them and sent by the service-call worker (one idempotency key per row):
--   inventory  POST /v1/{tenant}/inventory/consumption   a closed sale's stock (and waste)
--   inventory  POST /v1/{tenant}/transfers               stock moved between outlets
--   logistics  POST /v1/{tenant}/handoff/{orderId}       a delivery order ready for its rider
CREATE TABLE service_calls (
    tenant_id        uuid NOT NULL,
    -- The idempotency key: derived from what asked (the order, the transfer), so a re-sent op
    -- queues one call.
    id               uuid NOT NULL,
    service          text NOT NULL,
    kind             text NOT NULL,
    outlet_id        uuid,
    order_id         uuid,
    -- Below /v1/{tenant}, e.g. '/inventory/consumption'.
    path             text NOT NULL,
    body             jsonb NOT NULL,
    -- 'pending', 'sent' or 'failed'
    state            text NOT NULL DEFAULT 'pending',
    remote_ref       text,
    detail           text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX service_calls_due ON service_calls (next_attempt_at) WHERE state = 'pending';

-- Stock moved between two of the tenant's outlets, as asked through the hub's API.
CREATE TABLE stock_transfers (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    from_outlet_id  uuid NOT NULL,
    to_outlet_id    uuid NOT NULL,
    lines           jsonb NOT NULL,
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- inventory.low_stock as the inventory service reported it, once per event id.
CREATE TABLE stock_alerts (
    tenant_id      uuid NOT NULL,
    event_id       text NOT NULL,
    outlet_id      uuid,
    item_id        text NOT NULL,
    on_hand        bigint NOT NULL,
    reorder_level  bigint,
    unit           text NOT NULL,
    raised_at_ms   bigint NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX stock_alerts_recent ON stock_alerts (tenant_id, raised_at_ms DESC);

-- The rider's task for a delivery order, as logistics reports it (the newest report wins).
CREATE TABLE deliveries (
    tenant_id       uuid NOT NULL,
    order_id        uuid NOT NULL,
    task_id         text,
    -- 'requested' (handed off), 'assigned', then what logistics reports: 'picked_up',
    -- 'delivered', 'failed', 'cancelled' …
    status          text NOT NULL,
    rider_name      text,
    rider_phone     text,
    eta_ms          bigint,
    reported_at_ms  bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id)
);

-- Where a delivery order goes (never sent to the outlet: the rider needs it, the till does not).
ALTER TABLE cloud_orders ADD COLUMN delivery_address text;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['service_calls', 'stock_transfers', 'stock_alerts', 'deliveries'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO kibanda_api
                USING (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)
                WITH CHECK (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)',
            t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO kibanda_api', t);
    END LOOP;
END $$;
