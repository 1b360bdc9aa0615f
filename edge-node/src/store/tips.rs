//! What tip pooling reads: the tips taken in a period and who worked it: SQL only.

use super::{Store, StoreError, parse_json, parse_uuid};
use rusqlite::params;
use shared_model::Order;
use shared_model::staff::Role;
use shared_model::tips::TipShareInput;
use std::collections::BTreeMap;

impl Store {
    /// Tips added in `[from_ms, to_ms)` on any order (voided orders' tips excluded).
    pub fn tips_between(&self, from_ms: i64, to_ms: i64) -> Result<i64, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT doc FROM orders WHERE updated_at_ms >= ?1 AND doc LIKE '%\"tips\":[{%'",
        )?;
        let docs = statement
            .query_map(params![from_ms], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut total_minor = 0_i64;
        for doc in docs {
            let order: Order = parse_json(&doc)?;
            if order.state == shared_model::OrderState::Voided {
                continue;
            }
            total_minor += order
                .tips
                .iter()
                .filter(|tip| (from_ms..to_ms).contains(&tip.added_at_ms))
                .map(|tip| tip.amount_minor)
                .sum::<i64>();
        }
        Ok(total_minor)
    }

    /// Minutes each staff member was signed in within `[from_ms, to_ms)` (sessions still open
    /// count until `now_ms`), with their role.
    pub fn staff_time_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<TipShareInput>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT s.staff_id, st.role, s.started_at_ms, coalesce(s.ended_at_ms, ?3)
             FROM staff_sessions s JOIN staff st ON st.id = s.staff_id
             WHERE s.started_at_ms < ?2 AND coalesce(s.ended_at_ms, ?3) > ?1",
        )?;
        let rows = statement
            .query_map(params![from_ms, to_ms, now_ms], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut minutes: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (staff_id, role, started, ended) in rows {
            let worked_ms = (ended.min(to_ms) - started.max(from_ms)).max(0);
            *minutes.entry((staff_id, role)).or_default() += (worked_ms / 60_000) as u64;
        }
        minutes
            .into_iter()
            .map(|((staff_id, role), minutes_worked)| {
                Ok(TipShareInput {
                    staff_id: parse_uuid(&staff_id)?,
                    role: Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role}")))?,
                    minutes_worked,
                })
            })
            .collect()
    }
}
