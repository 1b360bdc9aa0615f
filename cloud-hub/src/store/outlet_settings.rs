//! Price books and the outlet configuration profile: decided at the hub, sent down the outlet's
//! feed in the same transaction as the change (see [`super::feed`]).

use super::feed::{append, feed_head};
use super::{StoreError, TenantId};
use shared_model::outlet::OutletConfig;
use shared_model::pricebook::PriceBook;
use sync_protocol::feed::{FeedBody, OutletConfigV1, OutletProfileV1, PriceBookV1};
use uuid::Uuid;

/// What a write did: whether it changed anything, and the feed position that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedWrite {
    pub changed: bool,
    pub feed_through_seq: u64,
}

/// Creates or replaces a price book; an identical book writes nothing.
pub async fn upsert_price_book(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    book: &PriceBook,
) -> Result<FeedWrite, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let existing: Option<sqlx::types::Json<PriceBook>> = sqlx::query_scalar(
        "SELECT doc FROM price_books WHERE tenant_id = $1 AND outlet_id = $2 AND book_id = $3
         FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(&book.id)
    .fetch_optional(&mut *tx)
    .await?;
    if existing.is_some_and(|doc| doc.0 == *book) {
        let head = feed_head(&mut tx, tenant, outlet_id).await?;
        return Ok(FeedWrite {
            changed: false,
            feed_through_seq: head,
        });
    }
    sqlx::query(
        "INSERT INTO price_books (tenant_id, outlet_id, book_id, doc) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, outlet_id, book_id)
         DO UPDATE SET doc = excluded.doc, updated_at = now()",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(&book.id)
    .bind(sqlx::types::Json(book))
    .execute(&mut *tx)
    .await?;
    let body = FeedBody::PriceBookUpserted(PriceBookV1::from(book)).encode();
    let seq = append(
        &mut tx,
        tenant,
        outlet_id,
        &[("price_book.upserted".into(), book.id.clone(), body)],
    )
    .await?;
    tx.commit().await?;
    Ok(FeedWrite {
        changed: true,
        feed_through_seq: seq,
    })
}

/// Removes a price book; `false` if the outlet had none of that id.
pub async fn remove_price_book(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    book_id: &str,
) -> Result<bool, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let removed = sqlx::query(
        "DELETE FROM price_books WHERE tenant_id = $1 AND outlet_id = $2 AND book_id = $3",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(book_id)
    .execute(&mut *tx)
    .await?;
    if removed.rows_affected() == 0 {
        return Ok(false);
    }
    let body = FeedBody::PriceBookRemoved {
        book_id: book_id.to_owned(),
    }
    .encode();
    append(
        &mut tx,
        tenant,
        outlet_id,
        &[("price_book.removed".into(), book_id.into(), body)],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn price_books(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<Vec<PriceBook>, StoreError> {
    let rows: Vec<sqlx::types::Json<PriceBook>> = sqlx::query_scalar(
        "SELECT doc FROM price_books WHERE tenant_id = $1 AND outlet_id = $2 ORDER BY book_id",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|doc| doc.0).collect())
}

/// The outlet's configuration and its version; `None` before it was ever set.
pub async fn outlet_config(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
) -> Result<Option<(OutletConfig, i64)>, StoreError> {
    let row: Option<(sqlx::types::Json<OutletConfig>, i64)> = sqlx::query_as(
        "SELECT doc, version FROM outlet_configs WHERE tenant_id = $1 AND outlet_id = $2",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(doc, version)| (doc.0, version)))
}

/// Why a configuration write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigConflict {
    /// The caller read version `expected`, but the outlet is at `current` now.
    Stale { current: i64 },
}

/// Sets the outlet's configuration. With `expected_version`, refuses (and changes nothing) if
/// someone else changed it since that version was read. Returns the new version.
pub async fn set_outlet_config(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    outlet_id: Uuid,
    config: &OutletConfig,
    expected_version: Option<i64>,
) -> Result<Result<(i64, FeedWrite), ConfigConflict>, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let current: Option<(sqlx::types::Json<OutletConfig>, i64)> = sqlx::query_as(
        "SELECT doc, version FROM outlet_configs WHERE tenant_id = $1 AND outlet_id = $2
         FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .fetch_optional(&mut *tx)
    .await?;
    let current_version = current.as_ref().map_or(0, |(_, version)| *version);
    if let Some(expected) = expected_version
        && expected != current_version
    {
        return Ok(Err(ConfigConflict::Stale {
            current: current_version,
        }));
    }
    if let Some((doc, version)) = &current
        && doc.0 == *config
    {
        let head = feed_head(&mut tx, tenant, outlet_id).await?;
        return Ok(Ok((
            *version,
            FeedWrite {
                changed: false,
                feed_through_seq: head,
            },
        )));
    }
    let version: i64 = sqlx::query_scalar(
        "INSERT INTO outlet_configs (tenant_id, outlet_id, doc) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, outlet_id) DO UPDATE SET doc = excluded.doc,
            version = outlet_configs.version + 1, updated_at = now()
         RETURNING version",
    )
    .bind(tenant.0)
    .bind(outlet_id)
    .bind(sqlx::types::Json(config))
    .fetch_one(&mut *tx)
    .await?;
    let body = FeedBody::OutletConfigSet(OutletConfigV1::from(config)).encode();
    // The rest of the profile follows at once, for edges that know it.
    let profile = FeedBody::OutletProfileSet(OutletProfileV1::from(config)).encode();
    let seq = append(
        &mut tx,
        tenant,
        outlet_id,
        &[
            ("outlet.config_set".into(), "config".into(), body),
            ("outlet.profile_set".into(), "profile".into(), profile),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(Ok((
        version,
        FeedWrite {
            changed: true,
            feed_through_seq: seq,
        },
    )))
}
