-- Payments the tills asked the treasury to collect (M-Pesa STK push, card at a provider's
-- terminal). The hub alone talks to the treasury; every state change goes down the outlet's
-- feed in the same transaction.
CREATE TABLE payment_intents (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL,
    outlet_id        uuid NOT NULL,
    device_id        uuid NOT NULL,
    order_id         uuid NOT NULL,
    method           text NOT NULL,
    msisdn           text,
    terminal_ref     text,
    amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
    currency         text NOT NULL,
    state            text NOT NULL,
    provider_ref     text,
    receipt          text,
    detail           text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    deadline_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, outlet_id) REFERENCES outlets (tenant_id, id)
);
CREATE INDEX payment_intents_due ON payment_intents (next_attempt_at) WHERE state = 'requested';
CREATE INDEX payment_intents_deadline ON payment_intents (deadline_at) WHERE state = 'prompted';

-- Every callback the treasury sent, verified or not, for the integrations monitor and so a
-- duplicate delivery is recognised.
CREATE TABLE integration_events (
    tenant_id    uuid NOT NULL,
    id           bigserial,
    provider     text NOT NULL,
    event_id     text,
    event_type   text NOT NULL,
    outcome      text NOT NULL,
    detail       text NOT NULL DEFAULT '',
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX integration_events_once ON integration_events (tenant_id, provider, event_id)
    WHERE event_id IS NOT NULL AND outcome = 'applied';

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['payment_intents', 'integration_events'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO kibanda_api
                USING (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)
                WITH CHECK (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)',
            t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO kibanda_api', t);
    END LOOP;
END $$;
GRANT USAGE ON SEQUENCE integration_events_id_seq TO kibanda_api;
