//! The hub's dev-token key: an ES256 key kept in `hub_secrets`, so `cloud-hub dev-token` and
//! every running hub share it.

use super::Claims;
use crate::config::DEV_TOKEN_ISSUER;
use crate::store::{StoreError, secrets};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, encode};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use thiserror::Error;

const DEV_KEY_SECRET: &str = "dev_jwt_es256_v1";
/// Dev tokens last 12 hours: a working day, not a credential to keep.
pub const DEV_TOKEN_TTL_SECS: i64 = 12 * 3600;

#[derive(Debug, Error)]
pub enum DevKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("key: {0}")]
    Key(String),
}

pub struct DevKey {
    encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    pub(crate) kid: String,
}

impl DevKey {
    pub async fn load_or_create(pool: &PgPool) -> Result<DevKey, DevKeyError> {
        let pem = match secrets::get(pool, DEV_KEY_SECRET).await? {
            Some(pem) => pem,
            None => {
                let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                    .map_err(|e| DevKeyError::Key(e.to_string()))?;
                secrets::get_or_insert(pool, DEV_KEY_SECRET, &key.serialize_pem()).await?
            }
        };
        let key = rcgen::KeyPair::from_pem(&pem).map_err(|e| DevKeyError::Key(e.to_string()))?;
        let public_pem = key.public_key_pem();
        Ok(DevKey {
            encoding: EncodingKey::from_ec_pem(pem.as_bytes())
                .map_err(|e| DevKeyError::Key(e.to_string()))?,
            decoding: DecodingKey::from_ec_pem(public_pem.as_bytes())
                .map_err(|e| DevKeyError::Key(e.to_string()))?,
            kid: format!(
                "dev-{}",
                &hex::encode(Sha256::digest(key.public_key_raw()))[..16]
            ),
        })
    }

    /// Mints a dev-only token for `tenant` with one `role`.
    pub fn mint(
        &self,
        tenant: &str,
        role: &str,
        audience: &str,
        now_secs: i64,
    ) -> Result<String, DevKeyError> {
        let claims = Claims {
            sub: format!("dev:{role}"),
            tenant: tenant.to_owned(),
            roles: vec![role.to_owned()],
            iss: DEV_TOKEN_ISSUER.to_owned(),
            aud: audience.to_owned(),
            exp: now_secs + DEV_TOKEN_TTL_SECS,
            iat: now_secs,
            nbf: now_secs,
            dev: true,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        encode(&header, &claims, &self.encoding).map_err(|e| DevKeyError::Key(e.to_string()))
    }
}
