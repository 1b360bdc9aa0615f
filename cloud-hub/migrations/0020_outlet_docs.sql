-- Automerge documents an outlet and the hub both edit (today the floor plan), saved whole.
-- Edits from the outlet arrive as `Doc` ops and are merged in; edits made here go down the
-- outlet's feed as `DocChanged` entries.
CREATE TABLE outlet_docs (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    kind        text NOT NULL,
    doc         bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id, kind)
);

ALTER TABLE outlet_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outlet_docs TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON outlet_docs TO kibanda_api;
