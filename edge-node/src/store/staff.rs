//! Devices, pairing codes, staff, staff sessions and the audit trail.
//!
//! Every change here that the hub must learn of is committed with its op in one transaction.

use super::{OpRecord, Store, StoreError, append_op_body, parse_uuid};
use rusqlite::{OptionalExtension, Transaction, params};
use shared_model::staff::{Action, Role};
use sync_protocol::op::{
    AuditActionV1, AuditEventV1, DeviceEventV1, DeviceKindV1, OpBody, RoleV1, StaffEventV1,
};
use uuid::Uuid;

/// What a paired device is; it decides what the device may do without a staff member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    Terminal,
    Kds,
    Kiosk,
    Printer,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 4] = [
        DeviceKind::Terminal,
        DeviceKind::Kds,
        DeviceKind::Kiosk,
        DeviceKind::Printer,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            DeviceKind::Terminal => "terminal",
            DeviceKind::Kds => "kds",
            DeviceKind::Kiosk => "kiosk",
            DeviceKind::Printer => "printer",
        }
    }

    pub fn parse(text: &str) -> Option<DeviceKind> {
        DeviceKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    fn to_wire(self) -> DeviceKindV1 {
        match self {
            DeviceKind::Terminal => DeviceKindV1::Terminal,
            DeviceKind::Kds => DeviceKindV1::Kds,
            DeviceKind::Kiosk => DeviceKindV1::Kiosk,
            DeviceKind::Printer => DeviceKindV1::Printer,
        }
    }
}

/// A device as a manager sees it in the device list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: Uuid,
    pub name: String,
    pub kind: DeviceKind,
    pub created_at_ms: i64,
    pub disabled: bool,
}

/// A change a manager makes to a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceChange {
    Rename(String),
    Disable,
    Enable,
    Remove,
}

/// A staff member known to this edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub pin_hash: String,
    pub disabled: bool,
    pub locked_until_ms: Option<i64>,
}

/// An open staff session: who is signed in on which device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    pub id: Uuid,
    pub staff_id: Uuid,
    pub staff_name: String,
    pub role: Role,
    pub device_id: Uuid,
    pub started_at_ms: i64,
    pub last_seen_at_ms: i64,
}

/// Why a session ended; recorded on the session and in its op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    SignOut,
    IdleTimeout,
    Forced {
        by_staff_id: Uuid,
    },
    /// Another staff member signed in on the same device.
    Replaced,
    /// The hub ended it (a forced logout at HQ, or the staff member was disabled there).
    ForcedByHub,
}

impl SessionEnd {
    fn reason(&self) -> &'static str {
        match self {
            SessionEnd::SignOut => "sign_out",
            SessionEnd::IdleTimeout => "idle_timeout",
            SessionEnd::Forced { .. } => "forced",
            SessionEnd::Replaced => "replaced",
            SessionEnd::ForcedByHub => "forced_by_hub",
        }
    }

    fn by(&self) -> Option<Uuid> {
        match self {
            SessionEnd::Forced { by_staff_id } => Some(*by_staff_id),
            _ => None,
        }
    }
}

/// One audit-trail entry: a high-risk action, who asked, who approved, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub action: Action,
    pub actor_staff_id: Option<Uuid>,
    pub approver_staff_id: Option<Uuid>,
    pub device_id: Uuid,
    pub subject: String,
    pub reason: String,
    pub at_ms: i64,
}

/// What happened to a new pairing code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingCodeInsert {
    Stored,
    /// The same code is already open; draw another.
    Duplicate,
    TooMany,
}

/// What happened to a registration attempt with a pairing code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingRedeem {
    Registered,
    /// No open code matched; `revoked_all` when this failure used up the attempt budget.
    NoSuchCode {
        revoked_all: bool,
    },
}

impl Store {
    // ---- devices ---------------------------------------------------------------------------

    pub fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT id, name, kind, created_at_ms, disabled_at_ms IS NOT NULL FROM devices
             WHERE removed_at_ms IS NULL ORDER BY created_at_ms, id",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, bool>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, name, kind, created_at_ms, disabled)| {
                Ok(DeviceRecord {
                    id: parse_uuid(&id)?,
                    name,
                    kind: DeviceKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("device kind {kind}")))?,
                    created_at_ms,
                    disabled,
                })
            })
            .collect()
    }

    /// Applies `change` to a device and records it as an op; `false` if no such device.
    pub fn change_device(
        &self,
        device_id: Uuid,
        change: &DeviceChange,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let id = device_id.to_string();
        let device = *device_id.as_bytes();
        let (changed, event) = match change {
            DeviceChange::Rename(name) => (
                tx.execute(
                    "UPDATE devices SET name = ?2 WHERE id = ?1 AND removed_at_ms IS NULL",
                    params![id, name],
                )?,
                DeviceEventV1::Renamed {
                    device_id: device,
                    name: name.clone(),
                    at_ms: now_ms,
                },
            ),
            DeviceChange::Disable => (
                tx.execute(
                    "UPDATE devices SET disabled_at_ms = ?2 WHERE id = ?1 AND removed_at_ms IS NULL",
                    params![id, now_ms],
                )?,
                DeviceEventV1::Disabled {
                    device_id: device,
                    at_ms: now_ms,
                },
            ),
            DeviceChange::Enable => (
                tx.execute(
                    "UPDATE devices SET disabled_at_ms = NULL WHERE id = ?1 AND removed_at_ms IS NULL",
                    params![id],
                )?,
                DeviceEventV1::Enabled {
                    device_id: device,
                    at_ms: now_ms,
                },
            ),
            DeviceChange::Remove => (
                tx.execute(
                    "UPDATE devices SET removed_at_ms = ?2 WHERE id = ?1 AND removed_at_ms IS NULL",
                    params![id, now_ms],
                )?,
                DeviceEventV1::Removed {
                    device_id: device,
                    at_ms: now_ms,
                },
            ),
        };
        if changed == 0 {
            return Ok(false);
        }
        if matches!(change, DeviceChange::Disable | DeviceChange::Remove) {
            // A device that can no longer call the edge keeps no one signed in.
            let open: Option<String> = tx
                .query_row(
                    "SELECT id FROM staff_sessions WHERE device_id = ?1 AND ended_at_ms IS NULL",
                    params![id],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(session_id) = open {
                end_session_tx(
                    &tx,
                    self.node_id,
                    parse_uuid(&session_id)?,
                    SessionEnd::SignOut,
                    now_ms,
                )?;
            }
        }
        append_op_body(&tx, self.node_id, "device", &OpBody::Device(event), now_ms)?;
        tx.commit()?;
        Ok(true)
    }

    // ---- pairing codes ---------------------------------------------------------------------

    /// Stores a new pairing code (by hash); refuses when `open_codes_max` are already open.
    pub fn insert_pairing_code(
        &self,
        code_hash: &[u8; 32],
        kind: DeviceKind,
        created_by_staff_id: Uuid,
        now_ms: i64,
        expires_at_ms: i64,
        open_codes_max: usize,
    ) -> Result<PairingCodeInsert, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        tx.execute(
            "DELETE FROM pairing_codes WHERE used_at_ms IS NOT NULL OR expires_at_ms <= ?1",
            params![now_ms],
        )?;
        let open: i64 = tx.query_row("SELECT count(*) FROM pairing_codes", [], |row| row.get(0))?;
        if open as usize >= open_codes_max {
            return Ok(PairingCodeInsert::TooMany);
        }
        // A code equal to one still open is refused (`false`) rather than failing: the caller
        // draws another.
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO pairing_codes (code_hash, kind, created_by_staff_id,
                created_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                code_hash.as_slice(),
                kind.as_str(),
                created_by_staff_id.to_string(),
                now_ms,
                expires_at_ms
            ],
        )?;
        tx.commit()?;
        Ok(if inserted == 1 {
            PairingCodeInsert::Stored
        } else {
            PairingCodeInsert::Duplicate
        })
    }

    /// Redeems an open pairing code and registers the device in one transaction. A miss counts
    /// against `failures_max` misses in a row; when it is reached every open code is revoked, so
    /// guessing six digits stays hopeless.
    #[allow(clippy::too_many_arguments)]
    pub fn redeem_pairing_code(
        &self,
        code_hash: &[u8; 32],
        device_id: Uuid,
        name: &str,
        token_hash: &[u8; 32],
        now_ms: i64,
        failures_max: u32,
    ) -> Result<(PairingRedeem, Option<DeviceKind>), StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let kind: Option<String> = tx
            .query_row(
                "SELECT kind FROM pairing_codes
                 WHERE code_hash = ?1 AND used_at_ms IS NULL AND expires_at_ms > ?2",
                params![code_hash.as_slice(), now_ms],
                |row| row.get(0),
            )
            .optional()?;
        let Some(kind) = kind else {
            let failures: i64 = tx.query_row(
                "UPDATE counters SET value = value + 1 WHERE name = 'pairing_failures'
                 RETURNING value",
                [],
                |row| row.get(0),
            )?;
            let revoked_all = failures >= i64::from(failures_max);
            if revoked_all {
                tx.execute(
                    "UPDATE pairing_codes SET used_at_ms = ?1 WHERE used_at_ms IS NULL",
                    params![now_ms],
                )?;
                tx.execute(
                    "UPDATE counters SET value = 0 WHERE name = 'pairing_failures'",
                    [],
                )?;
            }
            tx.commit()?;
            return Ok((PairingRedeem::NoSuchCode { revoked_all }, None));
        };
        let kind = DeviceKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("pairing code kind {kind}")))?;
        tx.execute(
            "UPDATE pairing_codes SET used_at_ms = ?2 WHERE code_hash = ?1",
            params![code_hash.as_slice(), now_ms],
        )?;
        // The budget counts misses in a row: a device that got its code right starts it again.
        tx.execute(
            "UPDATE counters SET value = 0 WHERE name = 'pairing_failures'",
            [],
        )?;
        insert_device_tx(&tx, self.node_id, device_id, name, kind, token_hash, now_ms)?;
        tx.commit()?;
        Ok((PairingRedeem::Registered, Some(kind)))
    }

    // ---- staff -----------------------------------------------------------------------------

    /// Adds a staff member and records the op (with the PIN's argon2 hash only).
    pub fn insert_staff(
        &self,
        id: Uuid,
        name: &str,
        role: Role,
        pin_hash: &str,
        now_ms: i64,
    ) -> Result<OpRecord, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        tx.execute(
            "INSERT INTO staff (id, name, role, pin_hash, origin, created_at_ms)
             VALUES (?1, ?2, ?3, ?4, 'local', ?5)",
            params![id.to_string(), name, role.as_str(), pin_hash, now_ms],
        )?;
        let body = OpBody::Staff(StaffEventV1::Created {
            staff_id: *id.as_bytes(),
            name: name.to_owned(),
            role: RoleV1::from(role),
            pin_hash_phc: pin_hash.to_owned(),
            at_ms: now_ms,
        });
        let op = append_op_body(&tx, self.node_id, "staff.created", &body, now_ms)?;
        tx.commit()?;
        Ok(op)
    }

    pub fn staff_member(&self, id: Uuid) -> Result<Option<StaffMember>, StoreError> {
        let connection = self.lock();
        let row = connection
            .query_row(
                "SELECT id, name, role, pin_hash, disabled_at_ms IS NOT NULL, locked_until_ms
                 FROM staff WHERE id = ?1",
                params![id.to_string()],
                staff_row,
            )
            .optional()?;
        row.map(staff_from_row).transpose()
    }

    pub fn staff_members(&self) -> Result<Vec<StaffMember>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT id, name, role, pin_hash, disabled_at_ms IS NOT NULL, locked_until_ms
             FROM staff ORDER BY name, id",
        )?;
        let rows = statement
            .query_map([], staff_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(staff_from_row).collect()
    }

    /// Counts a wrong PIN; at `attempts_max` the staff member is locked until
    /// `now_ms + lockout_ms` and the count starts again.
    pub fn record_pin_failure(
        &self,
        staff_id: Uuid,
        now_ms: i64,
        attempts_max: u32,
        lockout_ms: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE staff SET
                failed_pin_attempts = CASE WHEN failed_pin_attempts + 1 >= ?2 THEN 0
                                           ELSE failed_pin_attempts + 1 END,
                locked_until_ms = CASE WHEN failed_pin_attempts + 1 >= ?2 THEN ?3
                                       ELSE locked_until_ms END
             WHERE id = ?1",
            params![
                staff_id.to_string(),
                i64::from(attempts_max),
                now_ms.saturating_add(lockout_ms)
            ],
        )?;
        Ok(())
    }

    pub fn clear_pin_failures(&self, staff_id: Uuid) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE staff SET failed_pin_attempts = 0, locked_until_ms = NULL WHERE id = ?1",
            params![staff_id.to_string()],
        )?;
        Ok(())
    }

    // ---- sessions --------------------------------------------------------------------------

    /// Signs `staff_id` in on `device_id`, ending whoever was signed in there before.
    pub fn start_session(
        &self,
        session_id: Uuid,
        staff_id: Uuid,
        device_id: Uuid,
        now_ms: i64,
    ) -> Result<StaffSession, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        tx.execute(
            "UPDATE staff SET failed_pin_attempts = 0, locked_until_ms = NULL WHERE id = ?1",
            params![staff_id.to_string()],
        )?;
        if let Some(previous) = open_session_tx(&tx, device_id)? {
            end_session_tx(&tx, self.node_id, previous.id, SessionEnd::Replaced, now_ms)?;
        }
        tx.execute(
            "INSERT INTO staff_sessions (id, staff_id, device_id, started_at_ms, last_seen_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![
                session_id.to_string(),
                staff_id.to_string(),
                device_id.to_string(),
                now_ms
            ],
        )?;
        let body = OpBody::Staff(StaffEventV1::SignedIn {
            session_id: *session_id.as_bytes(),
            staff_id: *staff_id.as_bytes(),
            device_id: *device_id.as_bytes(),
            at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "staff.signed_in", &body, now_ms)?;
        let session = open_session_tx(&tx, device_id)?
            .ok_or_else(|| StoreError::Corrupt("the new session is not open".into()))?;
        tx.commit()?;
        Ok(session)
    }

    /// The session open on `device_id`, ending it first if it has been idle longer than
    /// `idle_timeout_ms`.
    pub fn current_session(
        &self,
        device_id: Uuid,
        now_ms: i64,
        idle_timeout_ms: i64,
    ) -> Result<Option<StaffSession>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some(session) = open_session_tx(&tx, device_id)? else {
            return Ok(None);
        };
        if shared_model::staff::session_is_idle(session.last_seen_at_ms, now_ms, idle_timeout_ms) {
            end_session_tx(
                &tx,
                self.node_id,
                session.id,
                SessionEnd::IdleTimeout,
                now_ms,
            )?;
            tx.commit()?;
            return Ok(None);
        }
        Ok(Some(session))
    }

    /// Marks a session as seen now; `false` if it is no longer open.
    pub fn heartbeat(&self, session_id: Uuid, now_ms: i64) -> Result<bool, StoreError> {
        Ok(self.lock().execute(
            "UPDATE staff_sessions SET last_seen_at_ms = max(last_seen_at_ms, ?2)
             WHERE id = ?1 AND ended_at_ms IS NULL",
            params![session_id.to_string(), now_ms],
        )? == 1)
    }

    /// Ends an open session; `false` if it was not open.
    pub fn end_session(
        &self,
        session_id: Uuid,
        end: SessionEnd,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let ended = end_session_tx(&tx, self.node_id, session_id, end, now_ms)?;
        tx.commit()?;
        Ok(ended)
    }

    pub fn open_sessions(&self) -> Result<Vec<StaffSession>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "{SESSION_SELECT} WHERE s.ended_at_ms IS NULL ORDER BY s.started_at_ms"
        ))?;
        let rows = statement
            .query_map([], session_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(session_from_row).collect()
    }

    // ---- audit -----------------------------------------------------------------------------

    /// Records a high-risk action on its own (one that changes nothing else at the edge).
    pub fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        insert_audit_tx(&tx, self.node_id, entry)?;
        tx.commit()?;
        Ok(())
    }

    /// The newest `count_max` audit entries, newest first.
    pub fn audit_entries(&self, count_max: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT id, action, actor_staff_id, approver_staff_id, device_id, subject, reason,
                    at_ms FROM audit_log ORDER BY op_seq DESC LIMIT ?1",
        )?;
        let rows = statement
            .query_map(params![count_max as i64], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, i64>(7)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(id, action, actor, approver, device, subject, reason, at_ms)| {
                    let action = Action::AUDITED
                        .into_iter()
                        .find(|candidate| candidate.as_str() == action)
                        .ok_or_else(|| StoreError::Corrupt(format!("audit action {action}")))?;
                    Ok(AuditEntry {
                        id: parse_uuid(&id)?,
                        action,
                        actor_staff_id: actor.as_deref().map(parse_uuid).transpose()?,
                        approver_staff_id: approver.as_deref().map(parse_uuid).transpose()?,
                        device_id: parse_uuid(&device)?,
                        subject,
                        reason,
                        at_ms,
                    })
                },
            )
            .collect()
    }
}

pub(crate) fn insert_device_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    id: Uuid,
    name: &str,
    kind: DeviceKind,
    token_hash: &[u8; 32],
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO devices (id, name, token_hash, created_at_ms, kind)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            id.to_string(),
            name,
            token_hash.as_slice(),
            now_ms,
            kind.as_str()
        ],
    )?;
    let body = OpBody::Device(DeviceEventV1::Registered {
        device_id: *id.as_bytes(),
        name: name.to_owned(),
        kind: kind.to_wire(),
        at_ms: now_ms,
    });
    append_op_body(tx, node_id, "device", &body, now_ms)?;
    Ok(())
}

/// Writes an audit row and its op inside the caller's transaction.
pub(crate) fn insert_audit_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    let action = AuditActionV1::try_from(entry.action)
        .map_err(|error| StoreError::Corrupt(format!("audit of a low-risk action: {error}")))?;
    let body = OpBody::Audit(AuditEventV1 {
        audit_id: *entry.id.as_bytes(),
        action,
        actor_staff_id: entry.actor_staff_id.map(|id| *id.as_bytes()),
        approver_staff_id: entry.approver_staff_id.map(|id| *id.as_bytes()),
        device_id: *entry.device_id.as_bytes(),
        subject: entry.subject.clone(),
        reason: entry.reason.clone(),
        at_ms: entry.at_ms,
    });
    let op = append_op_body(tx, node_id, "audit", &body, entry.at_ms)?;
    tx.execute(
        "INSERT INTO audit_log (id, action, actor_staff_id, approver_staff_id, device_id, subject,
            reason, at_ms, op_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            entry.id.to_string(),
            entry.action.as_str(),
            entry.actor_staff_id.map(|id| id.to_string()),
            entry.approver_staff_id.map(|id| id.to_string()),
            entry.device_id.to_string(),
            entry.subject,
            entry.reason,
            entry.at_ms,
            op.seq as i64
        ],
    )?;
    Ok(())
}

const SESSION_SELECT: &str = "SELECT s.id, s.staff_id, st.name, st.role, s.device_id,
        s.started_at_ms, s.last_seen_at_ms
     FROM staff_sessions s JOIN staff st ON st.id = s.staff_id";

type SessionRow = (String, String, String, String, String, i64, i64);

/// Reads the columns in order (rusqlite converts rows to tuples).
fn session_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    SessionRow::try_from(row)
}

fn session_from_row(row: SessionRow) -> Result<StaffSession, StoreError> {
    let (id, staff_id, staff_name, role, device_id, started_at_ms, last_seen_at_ms) = row;
    Ok(StaffSession {
        id: parse_uuid(&id)?,
        staff_id: parse_uuid(&staff_id)?,
        staff_name,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        device_id: parse_uuid(&device_id)?,
        started_at_ms,
        last_seen_at_ms,
    })
}

fn open_session_tx(
    tx: &Transaction<'_>,
    device_id: Uuid,
) -> Result<Option<StaffSession>, StoreError> {
    let row = tx
        .query_row(
            &format!("{SESSION_SELECT} WHERE s.device_id = ?1 AND s.ended_at_ms IS NULL"),
            params![device_id.to_string()],
            session_row,
        )
        .optional()?;
    row.map(session_from_row).transpose()
}

fn end_session_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    session_id: Uuid,
    end: SessionEnd,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let staff_id: Option<String> = tx
        .query_row(
            "UPDATE staff_sessions SET ended_at_ms = ?2, end_reason = ?3, ended_by_staff_id = ?4
             WHERE id = ?1 AND ended_at_ms IS NULL RETURNING staff_id",
            params![
                session_id.to_string(),
                now_ms,
                end.reason(),
                end.by().map(|id| id.to_string())
            ],
            |row| row.get(0),
        )
        .optional()?;
    let Some(staff_id) = staff_id else {
        return Ok(false);
    };
    let body = OpBody::Staff(StaffEventV1::SignedOut {
        session_id: *session_id.as_bytes(),
        staff_id: *parse_uuid(&staff_id)?.as_bytes(),
        reason: end.reason().to_owned(),
        by_staff_id: end.by().map(|id| *id.as_bytes()),
        at_ms: now_ms,
    });
    append_op_body(tx, node_id, "staff.signed_out", &body, now_ms)?;
    Ok(true)
}

type StaffRow = (String, String, String, String, bool, Option<i64>);

/// Reads the columns in order (rusqlite converts rows to tuples).
fn staff_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StaffRow> {
    StaffRow::try_from(row)
}

fn staff_from_row(row: StaffRow) -> Result<StaffMember, StoreError> {
    let (id, name, role, pin_hash, disabled, locked_until_ms) = row;
    Ok(StaffMember {
        id: parse_uuid(&id)?,
        name,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        pin_hash,
        disabled,
        locked_until_ms,
    })
}

/// Applies a staff member sent down by the hub: inserted or updated (the hub's PIN hash and role
/// win), and signed out everywhere when the hub disabled them.
pub(crate) fn apply_staff_from_hub_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    staff: &sync_protocol::feed::StaffV1,
    now_ms: i64,
) -> Result<(), StoreError> {
    let id = Uuid::from_bytes(staff.id);
    let role = Role::from(staff.role);
    tx.execute(
        "INSERT INTO staff (id, name, role, pin_hash, origin, created_at_ms, disabled_at_ms)
         VALUES (?1, ?2, ?3, ?4, 'hub', ?5, CASE WHEN ?6 THEN ?5 END)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
            pin_hash = excluded.pin_hash, origin = 'hub',
            disabled_at_ms = CASE WHEN ?6 THEN coalesce(staff.disabled_at_ms, ?5) END",
        params![
            id.to_string(),
            staff.name,
            role.as_str(),
            staff.pin_hash_phc,
            now_ms,
            staff.disabled
        ],
    )?;
    if staff.disabled {
        end_sessions_of_staff_tx(tx, node_id, id, SessionEnd::ForcedByHub, now_ms)?;
    }
    Ok(())
}

/// Ends every open session of `staff_id`, each with its op.
pub(crate) fn end_sessions_of_staff_tx(
    tx: &Transaction<'_>,
    node_id: Uuid,
    staff_id: Uuid,
    end: SessionEnd,
    now_ms: i64,
) -> Result<(), StoreError> {
    let open: Vec<String> = {
        let mut statement = tx.prepare_cached(
            "SELECT id FROM staff_sessions WHERE staff_id = ?1 AND ended_at_ms IS NULL",
        )?;
        statement
            .query_map(params![staff_id.to_string()], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    for session_id in open {
        end_session_tx(tx, node_id, parse_uuid(&session_id)?, end, now_ms)?;
    }
    Ok(())
}
