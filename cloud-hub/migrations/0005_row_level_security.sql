-- The second wall: PostgreSQL row-level security for every tenant table.
--
-- Tenant API requests run inside a transaction that switches to the non-owner role
-- `kibanda_api` and sets `kibanda.tenant_id`; the policies below then hide every other
-- tenant's rows even from a query that forgets its `WHERE tenant_id = ...`. Hub-internal work
-- that is not on behalf of one tenant (ingest from a device certificate, the outbox dispatcher,
-- enrollment) keeps the owner role.

DO $$
BEGIN
    CREATE ROLE kibanda_api NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- roles are cluster-wide: another database of this cluster created it first
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT kibanda_api TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
    NULL; -- a superuser needs no membership to SET ROLE
END
$$;

GRANT SELECT ON tenants TO kibanda_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    outlets, devices, sync_cursors, ops, orders, order_anomalies, security_events,
    outlet_feed_heads, outlet_feed, catalog_items, outbox, webhook_endpoints,
    webhook_deliveries, idempotency_keys, enrollment_codes
TO kibanda_api;
GRANT USAGE ON SEQUENCE security_events_id_seq, outbox_seq_seq TO kibanda_api;

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY[
        'outlets', 'devices', 'sync_cursors', 'ops', 'orders', 'order_anomalies',
        'security_events', 'outlet_feed_heads', 'outlet_feed', 'catalog_items', 'outbox',
        'webhook_endpoints', 'webhook_deliveries', 'idempotency_keys', 'enrollment_codes']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO kibanda_api
               USING (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)
               WITH CHECK (tenant_id = nullif(current_setting(''kibanda.tenant_id'', true), '''')::uuid)',
            name);
    END LOOP;
END
$$;
