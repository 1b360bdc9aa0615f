-- Price books and outlet configuration profiles, edited at the hub and sent down each
-- outlet's feed.
CREATE TABLE price_books (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    book_id     text NOT NULL,
    doc         jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id, book_id),
    FOREIGN KEY (tenant_id, outlet_id) REFERENCES outlets (tenant_id, id)
);

CREATE TABLE outlet_configs (
    tenant_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    doc         jsonb NOT NULL,
    -- Bumped on every change: a client sends the version it read (If-Match) so two managers
    -- editing at once cannot silently overwrite each other.
    version     bigint NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, outlet_id),
    FOREIGN KEY (tenant_id, outlet_id) REFERENCES outlets (tenant_id, id)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['price_books', 'outlet_configs'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO kibanda_api
                USING (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)
                WITH CHECK (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)',
            t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO kibanda_api', t);
    END LOOP;
END $$;
