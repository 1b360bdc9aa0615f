-- The tenant's promotions (shared_model::promotions::Promotion as JSON), sent down the feed of
-- every outlet they apply to. `outlet_ids` NULL: every outlet of the tenant.
CREATE TABLE promotions (
    tenant_id   uuid NOT NULL,
    id          text NOT NULL,
    doc         jsonb NOT NULL,
    outlet_ids  uuid[],
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

ALTER TABLE promotions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON promotions TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON promotions TO kibanda_api;
