-- The combos an outlet sells (shared_model::modifiers::Combo as JSON): slots of catalog items at
-- one price, sent down the outlet's feed.
CREATE TABLE combos (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    id          text NOT NULL,
    doc         jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id, id)
);

ALTER TABLE combos ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON combos TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON combos TO kibanda_api;
