-- Which orders carry which usage-limited promotion, per outlet: the hub's count of a
-- promotion's redemptions across the tenant. Kept by ingest as orders change (a voided order
-- gives its use back); each outlet is sent how many uses the other outlets made.
CREATE TABLE promotion_uses (
    tenant_id     uuid NOT NULL,
    promotion_id  text NOT NULL,
    order_id      uuid NOT NULL,
    outlet_id     uuid NOT NULL,
    PRIMARY KEY (tenant_id, promotion_id, order_id)
);
CREATE INDEX promotion_uses_by_order ON promotion_uses (tenant_id, order_id);

ALTER TABLE promotion_uses ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON promotion_uses TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON promotion_uses TO kibanda_api;
