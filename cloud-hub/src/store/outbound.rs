//! What the hub's outbound queues share (payment intents, treasury refunds, notifications, inventory and logistics calls):
//! each row is retried by its worker at `next_attempt_at`, with the attempts so far and the
//! last word kept in `detail`.

use super::{StoreError, TenantId};
use uuid::Uuid;

/// A queue table with `attempts`, `next_attempt_at`, `detail` and `updated_at` columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundQueue {
    PaymentIntents,
    TreasuryRefunds,
    Notifications,
    ServiceCalls,
}

impl OutboundQueue {
    fn table(self) -> &'static str {
        match self {
            OutboundQueue::PaymentIntents => "payment_intents",
            OutboundQueue::TreasuryRefunds => "treasury_refunds",
            OutboundQueue::Notifications => "notifications",
            OutboundQueue::ServiceCalls => "service_calls",
        }
    }
}

impl OutboundQueue {
    /// Puts row `id` back for an attempt in `delay_ms`, with `attempts` so far and why.
    pub async fn reschedule(
        self,
        tx: &mut sqlx::PgConnection,
        tenant: TenantId,
        id: Uuid,
        attempts: i32,
        delay_ms: i64,
        detail: &str,
    ) -> Result<(), StoreError> {
        // The table name comes from the enum above, never from input.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {} SET attempts = $3,
                next_attempt_at = now() + make_interval(secs => $4::double precision / 1000),
                detail = $5, updated_at = now()
             WHERE tenant_id = $1 AND id = $2",
            self.table()
        )))
        .bind(tenant.0)
        .bind(id)
        .bind(attempts)
        .bind(delay_ms)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
