-- Staff as the hub knows them per outlet; changes reach the outlet's edge over the feed.
CREATE TABLE outlet_staff (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    id          uuid NOT NULL,
    name        text NOT NULL,
    role        text NOT NULL,
    pin_hash    text NOT NULL,
    disabled    boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id, id),
    FOREIGN KEY (tenant_id, outlet_id) REFERENCES outlets (tenant_id, id)
);
ALTER TABLE outlet_staff ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outlet_staff TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON outlet_staff TO kibanda_api;
