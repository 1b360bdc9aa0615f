//! Staff: PINs (argon2), sign-in sessions bound to a device, overrides and the audit trail.
//!
//! A device's requests act as whoever is signed in on it. A high-risk action is allowed by the
//! signed-in staff member's role or by a second staff member's PIN sent in the same request
//! (`approval`); either way it is written to the audit trail with its op.

use crate::store::{AuditEntry, Device, SessionEnd, StaffMember, StaffSession, Store, StoreError};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use shared_model::staff::{
    Action, Actor, Approval, AuditReason, AuthorizeError, Pin, Role, StaffName, authorize,
};
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

/// Wrong PINs in a row before a staff member is locked out. Why 5: a slip or two is normal on
/// a till; five guesses at a 10,000-PIN space is a 0.05 % chance before the lock.
pub const PIN_ATTEMPTS_MAX: u32 = 5;
/// How long a lockout lasts. Why 5 minutes: long enough to make guessing impractical (at most
/// 60 guesses an hour), short enough that a flustered cashier is back before the queue is.
pub const PIN_LOCKOUT_MS: i64 = 5 * 60 * 1_000;
/// Default idle timeout of a staff session. Why 15 minutes: a shift break leaves no one signed
/// in on an unattended till, while a terminal that heartbeats every minute never times out.
pub const SESSION_IDLE_TIMEOUT_MS_DEFAULT: i64 = 15 * 60 * 1_000;
/// Most audit entries one listing returns. Why: bounds the answer; older entries are at the hub.
pub const AUDIT_LIST_MAX: usize = 200;

/// Why a staff request or an authorisation was refused.
#[derive(Debug, Error)]
pub enum AccessError {
    #[error("unknown staff member or wrong PIN")]
    InvalidCredentials,
    #[error("too many wrong PINs; try again after {until_ms}")]
    Locked { until_ms: i64 },
    #[error(transparent)]
    Denied(#[from] AuthorizeError),
    #[error("{0}")]
    BadPin(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Error)]
pub enum StaffError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("{0}")]
    BadName(String),
    #[error("unknown role {0:?}")]
    BadRole(String),
    #[error("no such open session")]
    SessionNotFound,
    #[error("no staff member is signed in on this device")]
    NotSignedIn,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The device and (if any) the staff member signed in on it: who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub device: Device,
    pub staff: Option<StaffSession>,
}

impl Caller {
    /// A terminal with no one signed in (tools, benchmarks): it may do what needs no staff.
    pub fn unattended_terminal() -> Caller {
        Caller {
            device: crate::store::Device {
                id: Uuid::nil(),
                name: "unattended".into(),
                kind: crate::store::DeviceKind::Terminal,
            },
            staff: None,
        }
    }

    pub fn actor(&self) -> Option<Actor<Uuid>> {
        self.staff.as_ref().map(|session| Actor {
            id: session.staff_id,
            role: session.role,
        })
    }

    /// Requires the signed-in staff member's own role to permit `action` (no overrides).
    pub fn require(&self, action: Action) -> Result<&StaffSession, AccessError> {
        let session = self
            .staff
            .as_ref()
            .ok_or(AuthorizeError::NotSignedIn(action.as_str()))?;
        if session.role.permits(action) {
            Ok(session)
        } else {
            Err(AuthorizeError::NeedsOverride {
                role: session.role.as_str(),
                action: action.as_str(),
            }
            .into())
        }
    }
}

/// A second staff member's PIN sent with a high-risk request.
#[derive(Debug, Clone)]
pub struct OverrideRequest {
    pub staff_id: Uuid,
    pub pin: String,
}

/// Hashes a PIN with argon2id (the crate's default parameters) into a PHC string.
pub fn hash_pin(pin: &Pin) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(pin.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| StoreError::Corrupt(format!("hashing a PIN failed: {error}")))
}

fn pin_matches(phc: &str, pin: &[u8]) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default().verify_password(pin, &hash).is_ok(),
        Err(_) => false,
    }
}

/// Creates a staff member at this edge (a box that was never online, or a manager adding one).
pub fn create_staff(
    store: &Store,
    name: &str,
    role: &str,
    pin: &str,
    now_ms: i64,
) -> Result<StaffMember, StaffError> {
    let name = StaffName::parse(name).map_err(|e| StaffError::BadName(e.to_string()))?;
    let role = Role::parse(role).ok_or_else(|| StaffError::BadRole(role.to_owned()))?;
    let pin = Pin::parse(pin).map_err(|e| AccessError::BadPin(e.to_string()))?;
    let pin_hash = hash_pin(&pin)?;
    let id = Uuid::now_v7();
    store.insert_staff(id, name.as_str(), role, &pin_hash, now_ms)?;
    Ok(StaffMember {
        id,
        name: name.as_str().to_owned(),
        role,
        pin_hash,
        disabled: false,
        locked_until_ms: None,
    })
}

/// Checks `pin` for `staff_id`, counting failures towards a lockout.
fn check_pin(
    store: &Store,
    staff_id: Uuid,
    pin: &str,
    now_ms: i64,
) -> Result<StaffMember, AccessError> {
    // A malformed PIN is the same answer as a wrong one: it reveals nothing about the staff id.
    let Ok(pin) = Pin::parse(pin) else {
        return Err(AccessError::InvalidCredentials);
    };
    let member = store
        .staff_member(staff_id)?
        .filter(|member| !member.disabled)
        .ok_or(AccessError::InvalidCredentials)?;
    if let Some(until_ms) = member.locked_until_ms.filter(|until| *until > now_ms) {
        return Err(AccessError::Locked { until_ms });
    }
    if !pin_matches(&member.pin_hash, pin.as_bytes()) {
        store.record_pin_failure(staff_id, now_ms, PIN_ATTEMPTS_MAX, PIN_LOCKOUT_MS)?;
        return Err(AccessError::InvalidCredentials);
    }
    Ok(member)
}

pub async fn sign_in(
    store: Arc<Store>,
    device_id: Uuid,
    staff_id: Uuid,
    pin: String,
    now_ms: i64,
) -> Result<StaffSession, StaffError> {
    run(move || {
        check_pin(&store, staff_id, &pin, now_ms)?;
        Ok(store.start_session(Uuid::now_v7(), staff_id, device_id, now_ms)?)
    })
    .await
}

pub async fn heartbeat(store: Arc<Store>, caller: Caller, now_ms: i64) -> Result<(), StaffError> {
    let session = caller.staff.ok_or(StaffError::NotSignedIn)?;
    run(move || {
        if store.heartbeat(session.id, now_ms)? {
            Ok(())
        } else {
            Err(StaffError::SessionNotFound)
        }
    })
    .await
}

pub async fn sign_out(store: Arc<Store>, caller: Caller, now_ms: i64) -> Result<(), StaffError> {
    let session = caller.staff.ok_or(StaffError::NotSignedIn)?;
    run(move || {
        store.end_session(session.id, SessionEnd::SignOut, now_ms)?;
        Ok(())
    })
    .await
}

/// A manager (or supervisor) ends someone's session from any terminal.
pub async fn force_logout(
    store: Arc<Store>,
    caller: Caller,
    session_id: Uuid,
    now_ms: i64,
) -> Result<(), StaffError> {
    let by = caller.require(Action::ForceLogout)?.staff_id;
    run(move || {
        if store.end_session(session_id, SessionEnd::Forced { by_staff_id: by }, now_ms)? {
            Ok(())
        } else {
            Err(StaffError::SessionNotFound)
        }
    })
    .await
}

pub async fn list_staff(store: Arc<Store>) -> Result<Vec<StaffMember>, StaffError> {
    run(move || Ok(store.staff_members()?)).await
}

pub async fn open_sessions(
    store: Arc<Store>,
    caller: Caller,
) -> Result<Vec<StaffSession>, StaffError> {
    caller.require(Action::ForceLogout)?;
    run(move || Ok(store.open_sessions()?)).await
}

pub async fn add_staff(
    store: Arc<Store>,
    caller: Caller,
    name: String,
    role: String,
    pin: String,
    now_ms: i64,
) -> Result<StaffMember, StaffError> {
    caller.require(Action::ManageStaff)?;
    run(move || create_staff(&store, &name, &role, &pin, now_ms)).await
}

pub async fn audit_trail(store: Arc<Store>, caller: Caller) -> Result<Vec<AuditEntry>, StaffError> {
    caller.require(Action::ForceLogout)?;
    run(move || Ok(store.audit_entries(AUDIT_LIST_MAX)?)).await
}

/// The staff member signed in on `device` now (ending an idle session on the way).
pub async fn current_session(
    store: Arc<Store>,
    device_id: Uuid,
    now_ms: i64,
    idle_timeout_ms: i64,
) -> Result<Option<StaffSession>, StoreError> {
    super::blocking(move || store.current_session(device_id, now_ms, idle_timeout_ms)).await
}

/// Who is calling with `token`: the device and the staff member signed in on it (an idle
/// session is ended here); `None` for an unknown or disabled token. One trip to the store.
pub async fn caller(
    store: Arc<Store>,
    token: String,
    now_ms: i64,
    idle_timeout_ms: i64,
) -> Result<Option<Caller>, StoreError> {
    let Some(hash) = super::devices::token_hash_of(&token) else {
        return Ok(None);
    };
    super::blocking(move || {
        let Some(device) = store.device_by_token_hash(&hash)? else {
            return Ok(None);
        };
        let staff = store.current_session(device.id, now_ms, idle_timeout_ms)?;
        Ok(Some(Caller { device, staff }))
    })
    .await
}

/// A high-risk action's clearance: checked before the change, recorded with it.
#[derive(Debug, Clone)]
pub struct Clearance {
    pub action: Action,
    pub actor_staff_id: Option<Uuid>,
    pub approver_staff_id: Option<Uuid>,
    pub device_id: Uuid,
}

impl Clearance {
    /// The audit entry this clearance leaves for `subject`, `reason`, at `at_ms`.
    pub fn audit(&self, subject: String, reason: &AuditReason, at_ms: i64) -> AuditEntry {
        AuditEntry {
            id: Uuid::now_v7(),
            action: self.action,
            actor_staff_id: self.actor_staff_id,
            approver_staff_id: self.approver_staff_id,
            device_id: self.device_id,
            subject,
            reason: reason.as_str().to_owned(),
            at_ms,
        }
    }
}

/// Decides whether `caller` may take the high-risk `action`, verifying the override PIN if one
/// was sent. Blocking (argon2): call from a blocking task.
pub fn clear_high_risk(
    store: &Store,
    caller: &Caller,
    approval: Option<&OverrideRequest>,
    action: Action,
    now_ms: i64,
) -> Result<Clearance, AccessError> {
    debug_assert!(action.is_high_risk());
    let actor = caller.actor();
    // The override PIN is only checked when the actor's own role does not suffice, so a manager
    // sending a stale approval field is not locked out by it.
    let approver = match approval {
        Some(request) if !actor.is_some_and(|actor| actor.role.permits(action)) => {
            let member = check_pin(store, request.staff_id, &request.pin, now_ms)?;
            Some(Actor {
                id: member.id,
                role: member.role,
            })
        }
        _ => None,
    };
    let approval = authorize(actor, approver, action)?;
    Ok(Clearance {
        action,
        actor_staff_id: actor.map(|actor| actor.id),
        approver_staff_id: match approval {
            Approval::OwnRole => None,
            Approval::Override { approver } => Some(approver),
        },
        device_id: caller.device.id,
    })
}

async fn run<T, F>(work: F) -> Result<T, StaffError>
where
    F: FnOnce() -> Result<T, StaffError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StaffError::Store(StoreError::Corrupt(format!("staff task failed: {e}"))))?
}
