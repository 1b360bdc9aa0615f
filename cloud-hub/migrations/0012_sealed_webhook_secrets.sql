-- Webhook signing secrets sealed like provider secrets when the hub has a master key; the clear
-- column stays for hubs without one (and empties as rows are sealed at start).
ALTER TABLE webhook_endpoints ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE webhook_endpoints ADD COLUMN secret_key_id text;
ALTER TABLE webhook_endpoints ADD COLUMN secret_wrapped bytea;
ALTER TABLE webhook_endpoints ADD COLUMN secret_sealed bytea;
