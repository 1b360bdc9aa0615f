-- The modifier groups each catalog item offers at an outlet (shared_model::modifiers::ModifierGroup
-- as JSON), sent down the outlet's feed with the item's id.
CREATE TABLE item_modifiers (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    item_id     text NOT NULL,
    groups      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id, item_id)
);

ALTER TABLE item_modifiers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON item_modifiers TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON item_modifiers TO kibanda_api;
