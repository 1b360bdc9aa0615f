-- Integration providers a tenant configured (payment gateways, card terminals, e-commerce,
-- fiscal devices, ...). Settings are plain; secrets are envelope-encrypted by the hub with a
-- master key from its configuration (never stored here) and never returned by the API.
CREATE TABLE integration_providers (
    tenant_id     uuid NOT NULL,
    provider      text NOT NULL,
    kind          text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    settings      jsonb NOT NULL DEFAULT '{}'::jsonb,
    secret_names  text[] NOT NULL DEFAULT '{}',
    key_id        text,
    wrapped_key   bytea,
    secrets       bytea,
    version       bigint NOT NULL DEFAULT 1,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, provider)
);
ALTER TABLE integration_providers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON integration_providers TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON integration_providers TO kibanda_api;
