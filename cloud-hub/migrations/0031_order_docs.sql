-- Each cloud order's notes document (automerge, saved whole): the thread between the channel
-- and the outlet, handoff instructions, the promised ready time and the customer's check-in.
-- Edits from the outlet arrive as `OrderDoc` ops and are merged in; edits made here go down
-- the order's outlet feed as `OrderDocChanged` entries.
CREATE TABLE order_docs (
    tenant_id   uuid NOT NULL,
    order_id    uuid NOT NULL,
    doc         bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id)
);

ALTER TABLE order_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON order_docs TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON order_docs TO kibanda_api;
