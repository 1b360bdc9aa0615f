//! Envelope encryption of tenant secrets (integration providers' API keys and the like).
//!
//! Each secret blob is sealed with its own random AES-256-GCM data key; the data key is sealed
//! with the hub's master key, which comes from configuration and never touches the database.
//! Both seals bind the owner (tenant and provider) as associated data, so a ciphertext copied
//! to another tenant's row does not open. Rotating the master key re-wraps the data keys only:
//! configure the new key as current and the old one as previous, and the hub re-wraps every
//! row at start; then the old key can go.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use rand::RngCore;
use thiserror::Error;

const NONCE_BYTES: usize = 12;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("a master key is `<id>:<base64 of 32 bytes>`: {0}")]
    BadKey(String),
    #[error("no master key is configured (KIBANDA_MASTER_KEY); secrets cannot be sealed")]
    NoKey,
    #[error("sealed with master key {0}, which this hub does not have")]
    UnknownKey(String),
    #[error("a sealed secret does not open (tampered, or moved to another owner)")]
    Tampered,
}

/// The master keys of this hub: the current one seals, any of them opens.
#[derive(Clone)]
pub struct MasterKeys {
    current: Option<(String, [u8; 32])>,
    previous: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeys")
            .field("current", &self.current.as_ref().map(|(id, _)| id))
            .field(
                "previous",
                &self.previous.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A sealed blob: the data key wrapped by a master key, and the blob sealed by the data key
/// (each `nonce ‖ ciphertext+tag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub wrapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

fn parse_key(text: &str) -> Result<(String, [u8; 32]), EnvelopeError> {
    let (id, encoded) = text
        .split_once(':')
        .ok_or_else(|| EnvelopeError::BadKey("missing ':'".into()))?;
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(EnvelopeError::BadKey(
            "the id is 1-32 letters, digits or '-'".into(),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| EnvelopeError::BadKey(e.to_string()))?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| EnvelopeError::BadKey("the key must be 32 bytes".into()))?;
    Ok((id.to_owned(), key))
}

fn seal_with(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| EnvelopeError::Tampered)?;
    let mut nonce = [0_u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| EnvelopeError::Tampered)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn open_with(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    if sealed.len() < NONCE_BYTES {
        return Err(EnvelopeError::Tampered);
    }
    let (nonce, body) = sealed.split_at(NONCE_BYTES);
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| EnvelopeError::Tampered)?;
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| EnvelopeError::Tampered)?;
    cipher
        .decrypt(&nonce.into(), Payload { msg: body, aad })
        .map_err(|_| EnvelopeError::Tampered)
}

impl MasterKeys {
    /// No keys: nothing can be sealed (the embedded default, where no provider is configured).
    pub fn none() -> MasterKeys {
        MasterKeys {
            current: None,
            previous: Vec::new(),
        }
    }

    /// `current` and `previous` as `<id>:<base64>` (previous: comma-separated).
    pub fn parse(
        current: Option<&str>,
        previous: Option<&str>,
    ) -> Result<MasterKeys, EnvelopeError> {
        Ok(MasterKeys {
            current: current.map(parse_key).transpose()?,
            previous: previous
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(parse_key)
                .collect::<Result<_, _>>()?,
        })
    }

    pub fn current_id(&self) -> Option<&str> {
        self.current.as_ref().map(|(id, _)| id.as_str())
    }

    fn key(&self, id: &str) -> Result<&[u8; 32], EnvelopeError> {
        self.current
            .iter()
            .chain(&self.previous)
            .find(|(key_id, _)| key_id == id)
            .map(|(_, key)| key)
            .ok_or_else(|| EnvelopeError::UnknownKey(id.to_owned()))
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, EnvelopeError> {
        let (key_id, master) = self.current.as_ref().ok_or(EnvelopeError::NoKey)?;
        let mut data_key = [0_u8; 32];
        rand::rng().fill_bytes(&mut data_key);
        Ok(Sealed {
            key_id: key_id.clone(),
            wrapped_key: seal_with(master, &data_key, aad)?,
            ciphertext: seal_with(&data_key, plaintext, aad)?,
        })
    }

    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let master = self.key(&sealed.key_id)?;
        let data_key: [u8; 32] = open_with(master, &sealed.wrapped_key, aad)?
            .try_into()
            .map_err(|_| EnvelopeError::Tampered)?;
        open_with(&data_key, &sealed.ciphertext, aad)
    }

    /// The same secret with its data key wrapped by the current master key; `None` if it
    /// already is.
    pub fn rewrap(&self, sealed: &Sealed, aad: &[u8]) -> Result<Option<Sealed>, EnvelopeError> {
        let (current_id, current) = self.current.as_ref().ok_or(EnvelopeError::NoKey)?;
        if &sealed.key_id == current_id {
            return Ok(None);
        }
        let master = self.key(&sealed.key_id)?;
        let data_key = open_with(master, &sealed.wrapped_key, aad)?;
        Ok(Some(Sealed {
            key_id: current_id.clone(),
            wrapped_key: seal_with(current, &data_key, aad)?,
            ciphertext: sealed.ciphertext.clone(),
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> String {
        format!(
            "{id}:{}",
            base64::engine::general_purpose::STANDARD.encode([byte; 32])
        )
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_owner_and_survives_rotation() {
        let old = MasterKeys::parse(Some(&key("k1", 1)), None).unwrap();
        let sealed = old.seal(b"sk_live_123", b"tenant-a/mpesa").unwrap();
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"sk_live"));
        assert_eq!(
            old.open(&sealed, b"tenant-a/mpesa").unwrap(),
            b"sk_live_123"
        );
        assert_eq!(
            old.open(&sealed, b"tenant-b/mpesa"),
            Err(EnvelopeError::Tampered)
        );
        let mut flipped = sealed.clone();
        flipped.ciphertext[14] ^= 1;
        assert_eq!(
            old.open(&flipped, b"tenant-a/mpesa"),
            Err(EnvelopeError::Tampered)
        );

        // Rotate: k2 current, k1 previous; re-wrapped, the secret opens with k2 alone.
        let both = MasterKeys::parse(Some(&key("k2", 2)), Some(&key("k1", 1))).unwrap();
        let rewrapped = both.rewrap(&sealed, b"tenant-a/mpesa").unwrap().unwrap();
        assert_eq!(rewrapped.key_id, "k2");
        assert_eq!(both.rewrap(&rewrapped, b"tenant-a/mpesa").unwrap(), None);
        let new = MasterKeys::parse(Some(&key("k2", 2)), None).unwrap();
        assert_eq!(
            new.open(&rewrapped, b"tenant-a/mpesa").unwrap(),
            b"sk_live_123"
        );
        assert_eq!(
            new.open(&sealed, b"tenant-a/mpesa"),
            Err(EnvelopeError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn bad_keys_are_refused_and_no_key_seals_nothing() {
        assert!(MasterKeys::parse(Some("nocolon"), None).is_err());
        assert!(MasterKeys::parse(Some("k1:c2hvcnQ="), None).is_err());
        assert_eq!(
            MasterKeys::none().seal(b"x", b"y"),
            Err(EnvelopeError::NoKey)
        );
        assert!(
            !format!(
                "{:?}",
                MasterKeys::parse(Some(&key("k1", 7)), None).unwrap()
            )
            .contains("BwcH")
        );
    }
}
