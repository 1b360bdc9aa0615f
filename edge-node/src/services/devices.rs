//! Terminal pairing: bearer tokens for devices on the LAN.
//!
//! A token is 32 random bytes shown once; the store keeps only its SHA-256, so a copy of the
//! database does not let anyone act as a terminal.
//!
//! Devices pair in two ways: `edge-node pair-device` on the box, or a manager starts pairing on
//! a terminal, reads out a six-digit code, and the new device registers with it. Every change
//! to the device list becomes an op for the hub.

use super::staff::{AccessError, Caller};
use crate::store::{
    Device, DeviceChange, DeviceKind, DeviceRecord, PairingCodeInsert, PairingRedeem, Store,
    StoreError,
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared_model::staff::Action;
use std::sync::Arc;
use uuid::Uuid;

/// Prefix that makes a Kibanda device token recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "kbd_";
/// Longest device name. Why: it is printed on receipts and shown on small screens.
pub const DEVICE_NAME_CHARS_MAX: usize = 64;

/// Digits in a pairing code. Why 6: read aloud and typed on a KDS in seconds; with
/// [`PAIRING_FAILURES_MAX`] guesses allowed, a guess succeeds with odds of 1 in 100,000.
pub const PAIRING_CODE_DIGITS: u32 = 6;
/// How long a pairing code stays valid. Why 5 minutes: long enough to walk to the device.
pub const PAIRING_CODE_TTL_MS: i64 = 5 * 60 * 1_000;
/// Wrong codes (across all devices) before every open code is revoked. Why 10: a typo or two
/// is normal; a guessing device is cut off long before its odds matter.
pub const PAIRING_FAILURES_MAX: u32 = 10;
/// Draws of a fresh code before giving up. Why 3: with at most 5 open codes among a million,
/// three collisions in a row do not happen.
pub const PAIRING_CODE_DRAWS_MAX: usize = 3;
/// Most pairing codes open at once. Why: a manager pairs a few devices at a time; more is a
/// script run wild, and each open code widens the guessing target.
pub const PAIRING_CODES_OPEN_MAX: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error("device name must be 1 to {DEVICE_NAME_CHARS_MAX} characters")]
    BadName,
    #[error("unknown device kind {0:?}")]
    BadKind(String),
    #[error("the pairing code is wrong, used or expired")]
    InvalidCode,
    #[error("too many pairing codes are open; use or let one expire first")]
    TooManyCodes,
    #[error("no such device")]
    NotFound,
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn parse_name(name: &str) -> Result<&str, PairError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > DEVICE_NAME_CHARS_MAX
        || name.chars().any(char::is_control)
    {
        return Err(PairError::BadName);
    }
    Ok(name)
}

fn new_token() -> String {
    let mut secret = [0_u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{TOKEN_PREFIX}{}", hex::encode(secret))
}

/// Registers a terminal from the box's command line and returns its token (shown once).
pub fn pair(store: &Store, name: &str, now_ms: i64) -> Result<(Device, String), PairError> {
    let name = parse_name(name)?;
    let token = new_token();
    let id = Uuid::now_v7();
    store.insert_device(id, name, DeviceKind::Terminal, &token_hash(&token), now_ms)?;
    Ok((
        Device {
            id,
            name: name.to_owned(),
            kind: DeviceKind::Terminal,
        },
        token,
    ))
}

/// A manager starts pairing a device of `kind`: a six-digit code, valid for
/// [`PAIRING_CODE_TTL_MS`], good for one registration.
pub async fn start_pairing(
    store: Arc<Store>,
    caller: Caller,
    kind: String,
    now_ms: i64,
) -> Result<(String, i64), PairError> {
    let manager = caller.require(Action::ManageDevices)?.staff_id;
    let kind = DeviceKind::parse(&kind).ok_or(PairError::BadKind(kind))?;
    let expires_at_ms = now_ms + PAIRING_CODE_TTL_MS;
    // Two open codes can collide (at most 5 of a million); drawing again settles it.
    for _ in 0..PAIRING_CODE_DRAWS_MAX {
        let code = format!(
            "{:0width$}",
            rand::random_range(0..10_u32.pow(PAIRING_CODE_DIGITS)),
            width = PAIRING_CODE_DIGITS as usize
        );
        let hash = token_hash(&code);
        let store = store.clone();
        let stored = super::blocking(move || {
            store.insert_pairing_code(
                &hash,
                kind,
                manager,
                now_ms,
                expires_at_ms,
                PAIRING_CODES_OPEN_MAX,
            )
        })
        .await?;
        match stored {
            PairingCodeInsert::Stored => return Ok((code, expires_at_ms)),
            PairingCodeInsert::TooMany => return Err(PairError::TooManyCodes),
            PairingCodeInsert::Duplicate => continue,
        }
    }
    Err(PairError::TooManyCodes)
}

/// A new device trades a pairing code for its token.
pub async fn register(
    store: Arc<Store>,
    code: String,
    name: String,
    now_ms: i64,
) -> Result<(Device, String), PairError> {
    let name = parse_name(&name)?.to_owned();
    let code = code.trim().to_owned();
    let well_formed = code.len() == PAIRING_CODE_DIGITS as usize
        && code.bytes().all(|byte| byte.is_ascii_digit());
    let token = new_token();
    let id = Uuid::now_v7();
    let code_hash = token_hash(&code);
    let device_token_hash = token_hash(&token);
    let stored_name = name.clone();
    let (outcome, kind) = super::blocking(move || {
        // A malformed code still counts as a miss, so it cannot be used to probe for free.
        let code_hash = if well_formed { code_hash } else { [0; 32] };
        store.redeem_pairing_code(
            &code_hash,
            id,
            &stored_name,
            &device_token_hash,
            now_ms,
            PAIRING_FAILURES_MAX,
        )
    })
    .await?;
    match (outcome, kind) {
        (PairingRedeem::Registered, Some(kind)) => Ok((Device { id, name, kind }, token)),
        _ => Err(PairError::InvalidCode),
    }
}

pub async fn list(store: Arc<Store>, caller: Caller) -> Result<Vec<DeviceRecord>, PairError> {
    caller.require(Action::ManageDevices)?;
    Ok(super::blocking(move || store.devices()).await?)
}

/// Renames, disables, enables or removes a device (manager only).
pub async fn change(
    store: Arc<Store>,
    caller: Caller,
    device_id: Uuid,
    change: DeviceChange,
    now_ms: i64,
) -> Result<(), PairError> {
    caller.require(Action::ManageDevices)?;
    let change = match change {
        DeviceChange::Rename(name) => DeviceChange::Rename(parse_name(&name)?.to_owned()),
        other => other,
    };
    if super::blocking(move || store.change_device(device_id, &change, now_ms)).await? {
        Ok(())
    } else {
        Err(PairError::NotFound)
    }
}

/// The device a bearer token belongs to, if any.
pub async fn authenticate(store: Arc<Store>, token: String) -> Result<Option<Device>, StoreError> {
    let Some(hash) = token_hash_of(&token) else {
        return Ok(None);
    };
    super::blocking(move || store.device_by_token_hash(&hash)).await
}

/// The stored hash of `token`, if it has a device token's shape.
pub fn token_hash_of(token: &str) -> Option<[u8; 32]> {
    (token.starts_with(TOKEN_PREFIX) && token.len() <= 128).then(|| token_hash(token))
}
