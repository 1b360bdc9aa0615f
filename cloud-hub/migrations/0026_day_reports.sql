-- The outlets' closed business days: each Z report as the edge closed it, beside the figures the
-- hub computes from its own copy of the orders (shared_model::day_report), and whether they agree.
CREATE TABLE day_reports (
    tenant_id     uuid NOT NULL,
    outlet_id     uuid NOT NULL,
    z_number      bigint NOT NULL,
    device_id     uuid NOT NULL,
    op_seq        bigint NOT NULL,
    from_ms       bigint NOT NULL,
    to_ms         bigint NOT NULL,
    currency      text NOT NULL,
    summary       jsonb NOT NULL,
    hub_summary   jsonb NOT NULL,
    matches       boolean NOT NULL,
    closed_by     uuid NOT NULL,
    closed_at_ms  bigint NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id, z_number)
);

ALTER TABLE day_reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON day_reports TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON day_reports TO kibanda_api;

-- When an order's latest fact happened (opened, paid, tipped, refunded, voided, closed), so a
-- period's report reads only the orders that can hold a fact of it.
ALTER TABLE orders ADD COLUMN last_activity_ms bigint;
UPDATE orders SET last_activity_ms = GREATEST(
    opened_at_ms,
    closed_at_ms,
    (SELECT max((p->>'taken_at_ms')::bigint) FROM jsonb_array_elements(coalesce(doc->'payments', '[]'::jsonb)) p),
    (SELECT max((t->>'added_at_ms')::bigint) FROM jsonb_array_elements(coalesce(doc->'tips', '[]'::jsonb)) t),
    (SELECT max((r->>'refunded_at_ms')::bigint) FROM jsonb_array_elements(coalesce(doc->'refunds', '[]'::jsonb)) r),
    (SELECT max((l->'voided'->>'voided_at_ms')::bigint) FROM jsonb_array_elements(coalesce(doc->'lines', '[]'::jsonb)) l));
CREATE INDEX orders_by_outlet_activity ON orders (tenant_id, outlet_id, last_activity_ms);
