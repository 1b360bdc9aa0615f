-- Orders placed in the cloud (web shop, delivery platforms, click-and-collect) for an outlet to
-- prepare. The order itself lives in `orders` like any other; this is where it came from and
-- what a cancel from the cloud became once the outlet's rule decided it.
CREATE TABLE cloud_orders (
    tenant_id               uuid NOT NULL,
    order_id                uuid NOT NULL,
    outlet_id               uuid NOT NULL,
    channel                 text NOT NULL,
    external_ref            text NOT NULL,
    customer_name           text,
    customer_phone          text,
    notes                   text,
    -- NULL: no cancel asked; 'requested': sent to the outlet; then the outlet's outcome:
    -- 'cancelled', 'refund_requested', 'already_voided' or 'too_late'.
    cancel_state            text,
    cancel_reason           text,
    cancel_requested_at_ms  bigint,
    cancel_resolved_at_ms   bigint,
    refund_requested_minor  bigint,
    created_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id),
    UNIQUE (tenant_id, external_ref)
);

-- Numbers of cloud orders, per outlet (shown from 900001 up, see the hub's code).
CREATE TABLE cloud_order_numbers (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    last_number bigint NOT NULL,
    PRIMARY KEY (tenant_id, outlet_id)
);

-- Every conflict a merge rule resolved while an outlet and the cloud acted apart: what met
-- what, what the rule decided. Managers and auditors read it at the hub.
CREATE TABLE offline_event_replay (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    outlet_id       uuid NOT NULL,
    order_id        uuid,
    rule            text NOT NULL,
    resolution      text NOT NULL,
    detail          jsonb NOT NULL,
    device_id       uuid,
    op_seq          bigint,
    occurred_at_ms  bigint NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX offline_event_replay_newest ON offline_event_replay (tenant_id, occurred_at_ms DESC, id DESC);

ALTER TABLE cloud_orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cloud_orders TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON cloud_orders TO kibanda_api;

ALTER TABLE cloud_order_numbers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON cloud_order_numbers TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON cloud_order_numbers TO kibanda_api;

ALTER TABLE offline_event_replay ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON offline_event_replay TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON offline_event_replay TO kibanda_api;
