//! Group commit at the hub: batches of several devices applied in one transaction, each judged
//! on its own. A refused batch (a gap, a broken chain) writes nothing and does not disturb the
//! batches beside it; a device's two batches in one group continue its chain; replaying a
//! whole group changes nothing.
#![allow(clippy::unwrap_used)]

use cloud_hub::store::TenantId;
use cloud_hub::store::devices::DeviceIdentity;
use cloud_hub::store::ingest::{ingest_group, op_count};
use kibanda_tests::{TestDb, runtime, tenant_with_outlet, wire_sale};
use sync_protocol::WireOp;
use sync_protocol::op::GENESIS_HASH;
use sync_protocol::session::IngestError;
use uuid::Uuid;

/// An edge device registered directly in the database, with its chain state.
struct Edge {
    identity: DeviceIdentity,
    next_seq: u64,
    prev_hash: [u8; 32],
}

impl Edge {
    async fn register(pool: &sqlx::PgPool, tenant: Uuid, outlet: Uuid) -> Edge {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO devices (tenant_id, id, outlet_id, kind, cert_fingerprint)
             VALUES ($1, $2, $3, 'edge', $4)",
        )
        .bind(tenant)
        .bind(id)
        .bind(outlet)
        .bind(id.as_bytes().to_vec())
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO sync_cursors (tenant_id, device_id, acked_through_seq, acked_hash)
             VALUES ($1, $2, 0, $3)",
        )
        .bind(tenant)
        .bind(id)
        .bind(GENESIS_HASH.to_vec())
        .execute(pool)
        .await
        .unwrap();
        Edge {
            identity: DeviceIdentity {
                tenant_id: TenantId(tenant),
                id,
                outlet_id: outlet,
                revoked: false,
            },
            next_seq: 1,
            prev_hash: GENESIS_HASH,
        }
    }

    fn sale(&mut self) -> Vec<WireOp> {
        wire_sale(
            *self.identity.id.as_bytes(),
            &mut self.next_seq,
            &mut self.prev_hash,
            1_790_000_000_000,
        )
    }
}

async fn outlet_of(pool: &sqlx::PgPool, slug: &str) -> (Uuid, Uuid) {
    sqlx::query_as(
        "SELECT t.id, o.id FROM tenants t JOIN outlets o ON o.tenant_id = t.id WHERE t.slug = $1",
    )
    .bind(slug)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A migrated hub database with one tenant and its outlet: (pool, tenant id, outlet id).
async fn one_outlet(url: &str) -> (sqlx::PgPool, Uuid, Uuid) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    cloud_hub::store::connect(url, 4).await.unwrap();
    tenant_with_outlet(&pool, "mama-oliech", "nairobi-cbd").await;
    let (tenant, outlet) = outlet_of(&pool, "mama-oliech").await;
    (pool, tenant, outlet)
}

async fn closed_orders(pool: &sqlx::PgPool, tenant: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1 AND state = 'closed'")
        .bind(tenant)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn created_events(pool: &sqlx::PgPool, tenant: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND event_type = 'pos.order.created'",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[test]
fn a_group_judges_each_batch_on_its_own_and_replays_idempotently() {
    let rt = runtime();
    let db = TestDb::create(&rt);
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        cloud_hub::store::connect(&db.url, 4).await.unwrap();
        tenant_with_outlet(&pool, "mama-oliech", "nairobi-cbd").await;
        tenant_with_outlet(&pool, "java-house", "westlands").await;
        let (tenant_a, outlet_a) = outlet_of(&pool, "mama-oliech").await;
        let (tenant_b, outlet_b) = outlet_of(&pool, "java-house").await;
        let mut first = Edge::register(&pool, tenant_a, outlet_a).await;
        let mut second = Edge::register(&pool, tenant_a, outlet_a).await;
        let mut other_tenant = Edge::register(&pool, tenant_b, outlet_b).await;

        let first_1 = first.sale();
        let first_2 = first.sale();
        let second_1 = second.sale();
        let other_1 = other_tenant.sale();
        // A batch that skips seq 5..8 of `second`: a gap.
        let _lost = second.sale();
        let second_gap = second.sale();
        // A batch whose chain does not continue `other_tenant`'s: a broken hash.
        let mut broken = other_tenant.sale();
        broken[0].prev_hash = [7; 32];

        let group: Vec<(&DeviceIdentity, &[WireOp])> = vec![
            (&first.identity, &first_1),
            (&second.identity, &second_1),
            (&first.identity, &first_2),
            (&second.identity, &second_gap),
            (&other_tenant.identity, &other_1),
            (&other_tenant.identity, &broken),
        ];
        let results = ingest_group(&pool, &group).await.unwrap();
        assert_eq!(results.len(), 6);
        let applied: Vec<(u64, usize)> = results
            .iter()
            .filter_map(|r| {
                r.as_ref()
                    .ok()
                    .map(|o| (o.cursor.acked_through_seq, o.new_ops))
            })
            .collect();
        assert_eq!(applied, vec![(4, 4), (4, 4), (8, 4), (4, 4)]);
        assert!(
            matches!(results[3], Err(IngestError::Gap { .. })),
            "{:?}",
            results[3]
        );
        assert!(
            results[5].is_err(),
            "a broken chain is refused: {:?}",
            results[5]
        );

        assert_eq!(
            op_count(&pool, TenantId(tenant_a), first.identity.id)
                .await
                .unwrap(),
            8
        );
        assert_eq!(
            op_count(&pool, TenantId(tenant_a), second.identity.id)
                .await
                .unwrap(),
            4
        );
        assert_eq!(
            op_count(&pool, TenantId(tenant_b), other_tenant.identity.id)
                .await
                .unwrap(),
            4
        );
        assert_eq!(closed_orders(&pool, tenant_a).await, 3);
        assert_eq!(closed_orders(&pool, tenant_b).await, 1);
        assert_eq!(created_events(&pool, tenant_a).await, 3);
        assert_eq!(created_events(&pool, tenant_b).await, 1);

        // The same group again (every ack lost): nothing new, the same refusals.
        let again = ingest_group(&pool, &group).await.unwrap();
        let applied: Vec<(u64, usize)> = again
            .iter()
            .filter_map(|r| {
                r.as_ref()
                    .ok()
                    .map(|o| (o.cursor.acked_through_seq, o.new_ops))
            })
            .collect();
        assert_eq!(applied, vec![(8, 0), (4, 0), (8, 0), (4, 0)]);
        assert_eq!(
            op_count(&pool, TenantId(tenant_a), first.identity.id)
                .await
                .unwrap(),
            8
        );
        assert_eq!(closed_orders(&pool, tenant_a).await, 3);
        assert_eq!(created_events(&pool, tenant_a).await, 3);

        // The cursors moved with the commit: a fresh group continues where they stand.
        let first_3 = first.sale();
        let results = ingest_group(&pool, &[(&first.identity, &first_3)])
            .await
            .unwrap();
        assert_eq!(results[0].as_ref().unwrap().cursor.acked_through_seq, 12);
        assert_eq!(closed_orders(&pool, tenant_a).await, 4);
    });
}

async fn projection_lag(pool: &sqlx::PgPool) -> (i64, i64) {
    cloud_hub::store::ingest::projection::lag(pool)
        .await
        .unwrap()
}

/// What the sync audit API shows for the tenant's one device: (stored through, projected through).
async fn device_progress(pool: &sqlx::PgPool, tenant: Uuid) -> (i64, i64) {
    let mut conn = pool.acquire().await.unwrap();
    let devices = cloud_hub::store::audit::devices(&mut conn, TenantId(tenant))
        .await
        .unwrap();
    (
        devices[0].acked_through_seq,
        devices[0].projected_through_seq,
    )
}

#[test]
fn a_backlog_is_acknowledged_when_stored_and_projected_once_in_order_by_the_projector() {
    use cloud_hub::store::ingest::projection::{PROJECT_INLINE_OPS_MAX, project_next};
    let rt = runtime();
    let db = TestDb::create(&rt);
    rt.block_on(async {
        let (pool, tenant, outlet) = one_outlet(&db.url).await;
        let mut edge = Edge::register(&pool, tenant, outlet).await;

        // A backlog batch, larger than a trickle: stored and acknowledged, not yet projected.
        let sales = PROJECT_INLINE_OPS_MAX / 4 + 10;
        let backlog: Vec<WireOp> = (0..sales).flat_map(|_| edge.sale()).collect();
        let results = ingest_group(&pool, &[(&edge.identity, &backlog)])
            .await
            .unwrap();
        let outcome = results[0].as_ref().unwrap();
        assert_eq!((outcome.new_ops, outcome.projected), (backlog.len(), false));
        assert_eq!(outcome.cursor.acked_through_seq, backlog.len() as u64);
        assert_eq!(
            op_count(&pool, edge.identity.tenant_id, edge.identity.id)
                .await
                .unwrap(),
            backlog.len() as i64
        );
        assert_eq!(closed_orders(&pool, tenant).await, 0);
        assert_eq!(projection_lag(&pool).await, (1, backlog.len() as i64));
        // Managers see it per device: stored through the backlog, projected through none of it.
        assert_eq!(
            device_progress(&pool, tenant).await,
            (backlog.len() as i64, 0)
        );

        // A small batch behind it waits for the projector too: ops are projected in order.
        let trickle = edge.sale();
        let results = ingest_group(&pool, &[(&edge.identity, &trickle)])
            .await
            .unwrap();
        assert!(!results[0].as_ref().unwrap().projected);
        assert_eq!(closed_orders(&pool, tenant).await, 0);

        // The projector catches up in one step, once.
        let step = project_next(&pool).await.unwrap().unwrap();
        assert_eq!(
            (step.device_id, step.ops, step.behind),
            (edge.identity.id, backlog.len() + 4, false)
        );
        assert_eq!(project_next(&pool).await.unwrap(), None);
        assert_eq!(closed_orders(&pool, tenant).await, sales as i64 + 1);
        assert_eq!(created_events(&pool, tenant).await, sales as i64 + 1);
        assert_eq!(projection_lag(&pool).await, (0, 0));
        let through = backlog.len() as i64 + 4;
        assert_eq!(device_progress(&pool, tenant).await, (through, through));

        // Caught up, a trickle is projected with its ack again; a replayed backlog changes nothing.
        let next = edge.sale();
        let results = ingest_group(&pool, &[(&edge.identity, &next)])
            .await
            .unwrap();
        assert!(results[0].as_ref().unwrap().projected);
        assert_eq!(closed_orders(&pool, tenant).await, sales as i64 + 2);
        let again = ingest_group(&pool, &[(&edge.identity, &backlog)])
            .await
            .unwrap();
        assert_eq!(again[0].as_ref().unwrap().new_ops, 0);
        assert_eq!(project_next(&pool).await.unwrap(), None);
        assert_eq!(closed_orders(&pool, tenant).await, sales as i64 + 2);
        let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM order_anomalies")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(anomalies, 0);
    });
}

/// The plan PostgreSQL picks for `sql` with `keys` bound as its two uuid arrays.
async fn plan(pool: &sqlx::PgPool, sql: &str, keys: &[(Uuid, Uuid)]) -> String {
    let (firsts, seconds): (Vec<Uuid>, Vec<Uuid>) = keys.iter().copied().unzip();
    let mut tx = pool.begin().await.unwrap();
    let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
        .bind(&firsts)
        .bind(&seconds)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    lines.join("\n")
}

#[test]
fn a_groups_lookups_stay_key_probes_while_statistics_are_stale() {
    // A fresh hub's first busy hour: the tables were analyzed while empty and have grown since.
    // The group's lookups must still be one key probe per key; the queries they replaced were
    // seen reading every order of the tenant (and every cursor row) per group, a cost growing
    // with the table.
    let rt = runtime();
    let db = TestDb::create(&rt);
    rt.block_on(async {
        let (pool, tenant, outlet) = one_outlet(&db.url).await;
        for table in ["orders", "sync_cursors", "devices"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE {table} SET (autovacuum_enabled = false)"
            )))
            .execute(&pool)
            .await
            .unwrap();
        }
        sqlx::query("ANALYZE orders, sync_cursors, devices")
            .execute(&pool)
            .await
            .unwrap();
        let device = Edge::register(&pool, tenant, outlet).await.identity.id;
        sqlx::query(
            "INSERT INTO orders (tenant_id, outlet_id, device_id, id, number, order_type, state,
                                 currency, net_minor, tax_minor, total_minor, paid_minor,
                                 opened_at_ms, doc, last_activity_ms)
             SELECT $1, $2, $3, gen_random_uuid(), n, 'counter', 'closed', 'KES', 100, 16, 116,
                    116, n, '{}'::jsonb, n
             FROM generate_series(1, 30000) AS n",
        )
        .bind(tenant)
        .bind(outlet)
        .bind(device)
        .execute(&pool)
        .await
        .unwrap();
        for _ in 0..2000 {
            Edge::register(&pool, tenant, outlet).await;
        }

        let mut order_keys: Vec<(Uuid, Uuid)> =
            (0..250).map(|_| (tenant, Uuid::now_v7())).collect();
        order_keys.sort_unstable();
        let orders = plan(
            &pool,
            cloud_hub::store::ingest::ORDERS_BY_KEY_SQL,
            &order_keys,
        )
        .await;
        assert!(orders.contains("Index Scan using orders_pkey"), "{orders}");
        assert!(!orders.contains("Seq Scan on orders"), "{orders}");
        assert!(!orders.contains("Bitmap Heap Scan on orders"), "{orders}");

        let devices: Vec<Uuid> = sqlx::query_scalar("SELECT device_id FROM sync_cursors LIMIT 250")
            .fetch_all(&pool)
            .await
            .unwrap();
        let mut cursor_keys: Vec<(Uuid, Uuid)> = devices.into_iter().map(|d| (tenant, d)).collect();
        cursor_keys.sort_unstable();
        let cursors = plan(
            &pool,
            cloud_hub::store::ingest::CURSORS_BY_KEY_SQL,
            &cursor_keys,
        )
        .await;
        assert!(
            cursors.contains("Index Scan using sync_cursors_pkey"),
            "{cursors}"
        );
        assert!(!cursors.contains("Seq Scan on sync_cursors"), "{cursors}");
        assert!(!cursors.contains("Hash Join"), "{cursors}");
        let projections = plan(
            &pool,
            cloud_hub::store::ingest::projection::PROJECTION_CURSORS_BY_KEY_SQL,
            &cursor_keys,
        )
        .await;
        assert!(
            !projections.contains("Seq Scan on projection_cursors"),
            "{projections}"
        );
        assert!(!projections.contains("Hash Join"), "{projections}");
    });
}
