-- Gift cards: the hub holds the ledger. Every change of value is a ledger entry (issue, top-up,
-- redemption at an outlet, expiry); the card's balance is the ledger's running sum. Outlets
-- redeem within a per-card offline allowance the hub sends them over the feed.
CREATE TABLE gift_cards (
    tenant_id                uuid NOT NULL,
    id                       uuid NOT NULL,
    code                     text NOT NULL,
    currency                 text NOT NULL,
    balance_minor            bigint NOT NULL,
    offline_allowance_minor  bigint NOT NULL CHECK (offline_allowance_minor >= 0),
    -- 'active' or 'expired'
    state                    text NOT NULL,
    expires_at_ms            bigint,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE gift_card_ledger (
    tenant_id            uuid NOT NULL,
    -- For a redemption: the till's payment id (so a re-sent op is entered once).
    id                   uuid NOT NULL,
    card_id              uuid NOT NULL,
    -- 'issue', 'top_up', 'redeem' or 'expire'
    kind                 text NOT NULL,
    amount_minor         bigint NOT NULL,
    balance_after_minor  bigint NOT NULL,
    outlet_id            uuid,
    order_id             uuid,
    device_id            uuid,
    at_ms                bigint NOT NULL,
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX gift_card_ledger_by_card ON gift_card_ledger (tenant_id, card_id, at_ms);

ALTER TABLE gift_cards ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON gift_cards TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON gift_cards TO kibanda_api;

ALTER TABLE gift_card_ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON gift_card_ledger TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON gift_card_ledger TO kibanda_api;
