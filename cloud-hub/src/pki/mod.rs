//! The hub's device CA: issues the hub's QUIC server certificate and edges' device
//! certificates.
//!
//! The CA key lives in `hub_secrets` so every hub replica signs with the same CA. Edges trust
//! only this CA (received at enrollment), and the hub trusts only device certificates it
//! issued, identified afterwards by their SHA-256 fingerprint.
//!
//! With a master key configured (`KIBANDA_MASTER_KEY`) the CA key is stored sealed
//! (`crate::envelope`: AES-256-GCM under its own data key, wrapped by the master key, bound to
//! this secret's name), so a copy of the database alone cannot mint device certificates. A key
//! stored in clear by a hub that had no master key is sealed when a hub starts with one, and
//! re-wrapped after a master-key rotation (old key as previous, new as current).

use crate::envelope::{EnvelopeError, MasterKeys, Sealed};
use crate::store::{StoreError, secrets};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SerialNumber,
    SignatureAlgorithm,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use thiserror::Error;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Device certificates live five years; rotation before then is a later enrollment.
pub const DEVICE_CERT_DAYS: i64 = 5 * 365;
/// The hub's server certificate is re-issued at every start; a year covers any uptime.
pub const SERVER_CERT_DAYS: i64 = 365;
const CA_SECRET: &str = "device_ca_v1";
const CA_COMMON_NAME: &str = "Kibanda Hub Device CA";

#[derive(Debug, Error)]
pub enum PkiError {
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored CA is unreadable: {0}")]
    Corrupt(String),
    #[error("public key is not an uncompressed P-256 point")]
    BadPublicKey,
    #[error("the device CA key is sealed and does not open: {0}")]
    Sealed(#[from] EnvelopeError),
}

/// Associated data of the sealed CA key: its secret's name, so the blob opens nowhere else.
const CA_AAD: &[u8] = b"hub_secrets/device_ca_v1";

#[derive(Serialize, Deserialize)]
struct StoredCa {
    /// The key in clear (a hub with no master key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_pem: Option<String>,
    /// The key sealed under a master key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_key: Option<SealedKey>,
    cert_der_hex: String,
}

#[derive(Serialize, Deserialize)]
struct SealedKey {
    key_id: String,
    wrapped_key_hex: String,
    ciphertext_hex: String,
}

impl SealedKey {
    fn from_sealed(sealed: Sealed) -> SealedKey {
        SealedKey {
            key_id: sealed.key_id,
            wrapped_key_hex: hex::encode(sealed.wrapped_key),
            ciphertext_hex: hex::encode(sealed.ciphertext),
        }
    }

    fn to_sealed(&self) -> Result<Sealed, PkiError> {
        let bytes = |text: &str| hex::decode(text).map_err(|e| PkiError::Corrupt(e.to_string()));
        Ok(Sealed {
            key_id: self.key_id.clone(),
            wrapped_key: bytes(&self.wrapped_key_hex)?,
            ciphertext: bytes(&self.ciphertext_hex)?,
        })
    }
}

/// How the stored CA should be written under `keys`: `None` if it already is (sealed under the
/// current key, or in clear when there is no key to seal with).
fn restored(
    stored: &StoredCa,
    key_pem: &str,
    keys: &MasterKeys,
) -> Result<Option<StoredCa>, PkiError> {
    let Some(current) = keys.current_id() else {
        return Ok(None);
    };
    if stored
        .sealed_key
        .as_ref()
        .is_some_and(|sealed| sealed.key_id == current)
    {
        return Ok(None);
    }
    Ok(Some(StoredCa {
        key_pem: None,
        sealed_key: Some(SealedKey::from_sealed(
            keys.seal(key_pem.as_bytes(), CA_AAD)?,
        )),
        cert_der_hex: stored.cert_der_hex.clone(),
    }))
}

fn encode(stored: &StoredCa) -> Result<String, PkiError> {
    serde_json::to_string(stored).map_err(|e| PkiError::Corrupt(e.to_string()))
}

pub struct HubCa {
    key: KeyPair,
    cert_der: Vec<u8>,
}

/// The SHA-256 of a certificate's DER: how the hub recognises a device.
pub fn fingerprint(cert_der: &[u8]) -> [u8; 32] {
    Sha256::digest(cert_der).into()
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_COMMON_NAME);
    name.push(DnType::OrganizationName, "Kibanda POS");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2074, 1, 1);
    params
}

fn random_serial() -> SerialNumber {
    let mut bytes = *Uuid::new_v4().as_bytes();
    bytes[0] &= 0x7f; // positive
    SerialNumber::from_slice(&bytes)
}

/// A raw P-256 public key sent by an edge, in the shape rcgen signs.
struct RawP256PublicKey(Vec<u8>);

impl PublicKeyData for RawP256PublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

impl HubCa {
    /// Loads the CA from the database, creating it on first use (first writer wins). Its key
    /// is sealed under `keys`' current master key when there is one (and re-sealed here if it
    /// was stored in clear or under an older key).
    pub async fn load_or_create(pool: &PgPool, keys: &MasterKeys) -> Result<HubCa, PkiError> {
        let text = match secrets::get(pool, CA_SECRET).await? {
            Some(value) => value,
            None => {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
                let cert = ca_params().self_signed(&key)?;
                let key_pem = key.serialize_pem();
                let sealed_key = match keys.current_id() {
                    Some(_) => Some(SealedKey::from_sealed(
                        keys.seal(key_pem.as_bytes(), CA_AAD)?,
                    )),
                    None => None,
                };
                let fresh = encode(&StoredCa {
                    key_pem: sealed_key.is_none().then_some(key_pem),
                    sealed_key,
                    cert_der_hex: hex::encode(cert.der()),
                })?;
                secrets::get_or_insert(pool, CA_SECRET, &fresh).await?
            }
        };
        let stored: StoredCa =
            serde_json::from_str(&text).map_err(|e| PkiError::Corrupt(e.to_string()))?;
        let key_pem = match (&stored.sealed_key, &stored.key_pem) {
            (Some(sealed), _) => String::from_utf8(keys.open(&sealed.to_sealed()?, CA_AAD)?)
                .map_err(|e| PkiError::Corrupt(e.to_string()))?,
            (None, Some(pem)) => pem.clone(),
            (None, None) => return Err(PkiError::Corrupt("the stored CA has no key".into())),
        };
        if let Some(rewritten) = restored(&stored, &key_pem, keys)? {
            // Another replica may have done the same meanwhile: either write is the same key.
            if secrets::replace(pool, CA_SECRET, &text, &encode(&rewritten)?).await? {
                tracing::info!("device CA key sealed under the current master key");
            }
        } else if stored.sealed_key.is_none() {
            tracing::warn!(
                "the device CA key is stored in clear: configure KIBANDA_MASTER_KEY to seal it"
            );
        }
        Ok(HubCa {
            key: KeyPair::from_pem(&key_pem)?,
            cert_der: hex::decode(&stored.cert_der_hex)
                .map_err(|e| PkiError::Corrupt(e.to_string()))?,
        })
    }

    /// The CA's public key (uncompressed P-256 point): the same however the key is stored.
    pub fn public_key_raw(&self) -> &[u8] {
        self.key.public_key_raw()
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::new(ca_params(), &self.key)
    }

    /// A fresh server certificate for the QUIC endpoint: `(chain DER, PKCS#8 key DER)`.
    pub fn issue_server_cert(&self) -> Result<(Vec<Vec<u8>>, Vec<u8>), PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params =
            CertificateParams::new(vec![sync_protocol::quic::HUB_SERVER_NAME.to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, sync_protocol::quic::HUB_SERVER_NAME);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(SERVER_CERT_DAYS);
        let cert = params.signed_by(&key, &self.issuer())?;
        Ok((
            vec![cert.der().to_vec(), self.cert_der.clone()],
            key.serialize_der(),
        ))
    }

    /// A device certificate for `public_key` (raw uncompressed P-256 point).
    pub fn issue_device_cert(
        &self,
        device_id: Uuid,
        tenant_slug: &str,
        outlet_code: &str,
        public_key: &[u8],
    ) -> Result<Vec<u8>, PkiError> {
        if public_key.len() != 65 || public_key[0] != 0x04 {
            return Err(PkiError::BadPublicKey);
        }
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, device_id.to_string());
        params
            .distinguished_name
            .push(DnType::OrganizationName, tenant_slug);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, outlet_code);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(DEVICE_CERT_DAYS);
        let cert = params.signed_by(&RawP256PublicKey(public_key.to_vec()), &self.issuer())?;
        Ok(cert.der().to_vec())
    }
}
