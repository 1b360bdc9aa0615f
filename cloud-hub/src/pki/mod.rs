//! The hub's device CA: issues the hub's QUIC server certificate and edges' device
//! certificates.
//!
//! The CA key lives in `hub_secrets` so every hub replica signs with the same CA. Edges trust
//! only this CA (received at enrollment), and the hub trusts only device certificates it
//! issued, identified afterwards by their SHA-256 fingerprint.

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
}

#[derive(Serialize, Deserialize)]
struct StoredCa {
    key_pem: String,
    cert_der_hex: String,
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
    /// Loads the CA from the database, creating it on first use (first writer wins).
    pub async fn load_or_create(pool: &PgPool) -> Result<HubCa, PkiError> {
        let stored = match secrets::get(pool, CA_SECRET).await? {
            Some(value) => value,
            None => {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
                let cert = ca_params().self_signed(&key)?;
                let fresh = serde_json::to_string(&StoredCa {
                    key_pem: key.serialize_pem(),
                    cert_der_hex: hex::encode(cert.der()),
                })
                .map_err(|e| PkiError::Corrupt(e.to_string()))?;
                secrets::get_or_insert(pool, CA_SECRET, &fresh).await?
            }
        };
        let stored: StoredCa =
            serde_json::from_str(&stored).map_err(|e| PkiError::Corrupt(e.to_string()))?;
        Ok(HubCa {
            key: KeyPair::from_pem(&stored.key_pem)?,
            cert_der: hex::decode(&stored.cert_der_hex)
                .map_err(|e| PkiError::Corrupt(e.to_string()))?,
        })
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
