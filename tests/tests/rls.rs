//! Row-level security, the second wall: inside a tenant-scoped transaction a query that forgets
//! its tenant filter still sees only that tenant's rows, and cannot write another tenant's.
#![allow(clippy::unwrap_used)]

use cloud_hub::store::TenantId;
use kibanda_tests::*;
use uuid::Uuid;

async fn insert_order(pool: &sqlx::PgPool, tenant: Uuid) {
    sqlx::query(
        "INSERT INTO orders (tenant_id, id, outlet_id, device_id, number, order_type, state, currency,
                             net_minor, tax_minor, total_minor, paid_minor, opened_at_ms, doc)
         VALUES ($1, $2, $3, $4, 1, 'take_out', 'closed', 'KES', 100, 16, 116, 116, 0, '{}'::jsonb)",
    )
    .bind(tenant)
    .bind(Uuid::now_v7())
    .bind(Uuid::now_v7())
    .bind(Uuid::now_v7())
    .execute(pool)
    .await
    .unwrap();
}

#[test]
fn a_query_that_forgets_its_tenant_filter_still_sees_only_its_tenant() {
    let driver = runtime();
    let db = TestDb::create(&driver);
    let hub = RunningHub::start(&db.url, "127.0.0.1:0".parse().unwrap());
    let pool = driver.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    driver.block_on(async {
        let acme = cloud_hub::services::admin::create_tenant(&pool, "acme", "Acme").await.unwrap();
        let bravo = cloud_hub::services::admin::create_tenant(&pool, "bravo", "Bravo").await.unwrap();
        let empty = cloud_hub::services::admin::create_tenant(&pool, "empty", "Empty").await.unwrap();
        insert_order(&pool, acme.id.0).await;
        insert_order(&pool, bravo.id.0).await;
        insert_order(&pool, bravo.id.0).await;

        let count_all = |tenant: TenantId| {
            let pool = pool.clone();
            async move {
                let mut tx = cloud_hub::store::scoped::begin(&pool, tenant).await.unwrap();
                // No tenant filter on purpose.
                let all: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut *tx).await.unwrap();
                let foreign: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id <> $1")
                    .bind(tenant.0)
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                tx.rollback().await.unwrap();
                (all, foreign)
            }
        };
        assert_eq!(count_all(acme.id).await, (1, 0));
        assert_eq!(count_all(bravo.id).await, (2, 0));
        assert_eq!(count_all(empty.id).await, (0, 0), "sees nothing at all");

        // Writing another tenant's row is refused by the policy.
        let mut tx = cloud_hub::store::scoped::begin(&pool, acme.id).await.unwrap();
        let forged = sqlx::query(
            "INSERT INTO orders (tenant_id, id, outlet_id, device_id, number, order_type, state, currency,
                                 net_minor, tax_minor, total_minor, paid_minor, opened_at_ms, doc)
             VALUES ($1, $2, $2, $2, 1, 'take_out', 'open', 'KES', 0, 0, 0, 0, 0, '{}'::jsonb)",
        )
        .bind(bravo.id.0)
        .bind(Uuid::now_v7())
        .execute(&mut *tx)
        .await;
        assert!(forged.is_err(), "row-level security refuses the write");
        drop(tx);
        let updated = {
            let mut tx = cloud_hub::store::scoped::begin(&pool, acme.id).await.unwrap();
            let result = sqlx::query("UPDATE orders SET state = 'voided'").execute(&mut *tx).await.unwrap();
            tx.rollback().await.unwrap();
            result.rows_affected()
        };
        assert_eq!(updated, 1, "an unfiltered update touches only the tenant's own row");

        // A transaction that never set its tenant sees nothing.
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL ROLE kibanda_api").execute(&mut *tx).await.unwrap();
        let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut *tx).await.unwrap();
        assert_eq!(visible, 0);
        tx.rollback().await.unwrap();
        pool.close().await;
    });
    hub.kill();
}
