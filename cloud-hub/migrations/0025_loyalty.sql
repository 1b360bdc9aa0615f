-- Loyalty points and vouchers. The hub holds the ledger: every change of a member's balance is
-- a ledger entry (earned on a closed sale, burned at a till, restored by a refund, adjusted by
-- head office); the balance is the ledger's running sum. Outlets burn within a per-member
-- offline allowance the hub sends them over the feed, as for gift cards.
CREATE TABLE loyalty_programs (
    tenant_id             uuid PRIMARY KEY,
    currency              text NOT NULL,
    earn_minor_per_point  bigint NOT NULL CHECK (earn_minor_per_point > 0),
    point_value_minor     bigint NOT NULL CHECK (point_value_minor > 0),
    offline_burn_points   bigint NOT NULL CHECK (offline_burn_points >= 0),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE loyalty_members (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    code            text NOT NULL,
    name            text NOT NULL,
    balance_points  bigint NOT NULL,
    -- 'active' or 'closed'
    state           text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

CREATE TABLE loyalty_ledger (
    tenant_id            uuid NOT NULL,
    -- For a burn: the till's payment id (so a re-sent op is entered once).
    id                   uuid NOT NULL,
    member_id            uuid NOT NULL,
    -- 'earn', 'burn', 'restore' or 'adjust'; earn and restore entries of one order are summed
    -- against what the order is worth now, so they may be negative (a refund takes back).
    kind                 text NOT NULL,
    points               bigint NOT NULL,
    balance_after_points bigint NOT NULL,
    outlet_id            uuid,
    order_id             uuid,
    device_id            uuid,
    reason               text,
    at_ms                bigint NOT NULL,
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX loyalty_ledger_by_member ON loyalty_ledger (tenant_id, member_id, at_ms);
CREATE INDEX loyalty_ledger_by_order ON loyalty_ledger (tenant_id, order_id) WHERE order_id IS NOT NULL;

-- The member an order earns for (the outlet named them at the till).
CREATE TABLE loyalty_order_members (
    tenant_id   uuid NOT NULL,
    order_id    uuid NOT NULL,
    member_id   uuid NOT NULL,
    outlet_id   uuid NOT NULL,
    at_ms       bigint NOT NULL,
    PRIMARY KEY (tenant_id, order_id)
);

CREATE TABLE vouchers (
    tenant_id       uuid NOT NULL,
    id              uuid NOT NULL,
    code            text NOT NULL,
    currency        text NOT NULL,
    value_minor     bigint NOT NULL CHECK (value_minor > 0),
    -- 'active', 'redeemed' or 'cancelled'
    state           text NOT NULL,
    expires_at_ms   bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);

-- Every redemption an outlet reported; more than one per voucher is a double redemption (two
-- outlets offline at once), kept and reported.
CREATE TABLE voucher_redemptions (
    tenant_id     uuid NOT NULL,
    -- The till's payment id.
    id            uuid NOT NULL,
    voucher_id    uuid NOT NULL,
    outlet_id     uuid NOT NULL,
    order_id      uuid NOT NULL,
    device_id     uuid NOT NULL,
    amount_minor  bigint NOT NULL,
    duplicate     boolean NOT NULL,
    at_ms         bigint NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX voucher_redemptions_by_voucher ON voucher_redemptions (tenant_id, voucher_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['loyalty_programs', 'loyalty_members', 'loyalty_ledger',
                             'loyalty_order_members', 'vouchers', 'voucher_redemptions']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I TO kibanda_api
            USING (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)
            WITH CHECK (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO kibanda_api', t);
    END LOOP;
END $$;
