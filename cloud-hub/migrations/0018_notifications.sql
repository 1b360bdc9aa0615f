-- Messages the hub asks the notifications service to send (`POST /v1/{tenant}/notify`): today
-- "your order is ready" to the customer of a cloud order who left a phone number.
CREATE TABLE notifications (
    tenant_id        uuid NOT NULL,
    -- The event that asked for it (e.g. the order's pos.order.ready): one message per event.
    id               uuid NOT NULL,
    outlet_id        uuid NOT NULL,
    order_id         uuid,
    channel          text NOT NULL,
    recipient        text NOT NULL,
    template         text NOT NULL,
    data             jsonb NOT NULL,
    -- 'pending', 'sent' or 'failed'
    state            text NOT NULL DEFAULT 'pending',
    provider_ref     text,
    detail           text NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notifications TO kibanda_api
    USING (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = nullif(current_setting('kibanda.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON notifications TO kibanda_api;
