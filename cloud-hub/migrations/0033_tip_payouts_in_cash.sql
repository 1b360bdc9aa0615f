-- Tip payouts an outlet handed out in cash from a drawer (its `TipPayoutInCash` op, sent just
-- before the payout's own op). Every other payout is sent to the treasury to pay
-- (`POST /v1/{tenant}/payouts`, a service call).
CREATE TABLE tip_payouts_in_cash (
    tenant_id          uuid NOT NULL,
    payout_id          uuid NOT NULL,
    drawer_session_id  uuid NOT NULL,
    PRIMARY KEY (tenant_id, payout_id)
);

ALTER TABLE tip_payouts_in_cash ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tip_payouts_in_cash TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON tip_payouts_in_cash TO kibanda_api;
