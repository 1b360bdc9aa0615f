-- Gift-card holds: a till online asks to take more than it may take offline; the hub decides
-- against the card's balance at once. An approved hold is the ledger's redemption (its entry id
-- is the hold id, which is also the till's payment id, so the till's later redemption op is the
-- same entry); a released hold gives the value back with a 'release' entry.
CREATE TABLE gift_card_holds (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    card_id       uuid,
    code          text NOT NULL,
    outlet_id     uuid NOT NULL,
    order_id      uuid NOT NULL,
    device_id     uuid NOT NULL,
    amount_minor  bigint NOT NULL,
    -- 'approved', 'declined' or 'released'
    state         text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    requested_at_ms bigint NOT NULL,
    decided_at    timestamptz NOT NULL DEFAULT now(),
    released_at_ms bigint,
    PRIMARY KEY (tenant_id, id)
);

ALTER TABLE gift_card_holds ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON gift_card_holds TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON gift_card_holds TO kibanda_api;
