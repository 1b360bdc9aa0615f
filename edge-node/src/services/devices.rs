//! Terminal pairing: bearer tokens for devices on the LAN.
//!
//! A token is 32 random bytes shown once; the store keeps only its SHA-256, so a copy of the
//! database does not let anyone act as a terminal.

use crate::store::{Device, Store, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

/// Prefix that makes a Kibanda device token recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "kbd_";
/// Longest device name. Why: it is printed on receipts and shown on small screens.
pub const DEVICE_NAME_CHARS_MAX: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error("device name must be 1 to {DEVICE_NAME_CHARS_MAX} characters")]
    BadName,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Registers a device and returns its token (shown once).
pub fn pair(store: &Store, name: &str, now_ms: i64) -> Result<(Device, String), PairError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > DEVICE_NAME_CHARS_MAX {
        return Err(PairError::BadName);
    }
    let mut secret = [0_u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
    let id = Uuid::now_v7();
    store.insert_device(id, name, &token_hash(&token), now_ms)?;
    Ok((
        Device {
            id,
            name: name.to_owned(),
        },
        token,
    ))
}

/// The device a bearer token belongs to, if any.
pub async fn authenticate(store: Arc<Store>, token: String) -> Result<Option<Device>, StoreError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Ok(None);
    }
    super::blocking(move || store.device_by_token_hash(&token_hash(&token))).await
}
