-- A tenant's POS subscription (licensing), as the business's licensing service sets it; the hub
-- raises pos.subscription.renewal_due once per renewal date when it comes near.
CREATE TABLE tenant_subscriptions (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants (id),
    plan             text NOT NULL,
    renews_at        timestamptz NOT NULL,
    notice_days      integer NOT NULL DEFAULT 7 CHECK (notice_days BETWEEN 1 AND 90),
    -- The renewal date the notice was raised for; NULL until one is.
    notice_sent_for  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE tenant_subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_subscriptions TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_subscriptions TO kibanda_api;
