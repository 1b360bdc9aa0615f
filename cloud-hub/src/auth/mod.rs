//! Bearer-token authentication of the hub API.
//!
//! Tokens are JWTs. Production tokens come from the auth service and are checked against its
//! JWKS (fetched, cached by `kid`, refetched when an unknown `kid` appears, so key rotation
//! needs no restart). For local use the hub mints dev tokens with its own key
//! (`cloud-hub dev-token`); they carry `"dev": true` and are refused when dev tokens are off.

pub mod dev;
pub mod jwks;

use crate::config::{AuthConfig, DEV_TOKEN_ISSUER};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    /// The tenant slug this token acts for.
    pub tenant: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    #[serde(default)]
    pub dev: bool,
}

#[derive(Debug, Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token signed by an unknown key")]
    UnknownKey,
    #[error("dev tokens are not accepted by this hub")]
    DevTokensOff,
    #[error("cannot fetch the auth service's keys: {0}")]
    JwksUnavailable(String),
}

pub struct Authenticator {
    config: AuthConfig,
    dev_key: Option<DecodingKey>,
    dev_kid: Option<String>,
    jwks: Option<jwks::JwksCache>,
}

impl Authenticator {
    pub fn new(config: AuthConfig, dev_key: Option<&dev::DevKey>) -> Authenticator {
        let refresh_min = std::time::Duration::from_secs(config.jwks_refresh_min_secs);
        let jwks = config
            .jwks_url
            .clone()
            .map(|url| jwks::JwksCache::new(url, refresh_min));
        Authenticator {
            dev_key: dev_key.map(|k| k.decoding.clone()),
            dev_kid: dev_key.map(|k| k.kid.clone()),
            jwks,
            config,
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let kid = header.kid.clone().unwrap_or_default();
        if self.dev_kid.as_deref() == Some(kid.as_str()) {
            if !self.config.allow_dev_tokens {
                return Err(AuthError::DevTokensOff);
            }
            let key = self.dev_key.as_ref().ok_or(AuthError::UnknownKey)?;
            let mut validation = Validation::new(Algorithm::ES256);
            validation.set_issuer(&[DEV_TOKEN_ISSUER]);
            return self.check(token, key, validation);
        }
        let jwks = self.jwks.as_ref().ok_or(AuthError::UnknownKey)?;
        let (key, algorithm) = jwks.key(&kid).await?;
        let mut validation = Validation::new(algorithm);
        if let Some(issuer) = &self.config.issuer {
            validation.set_issuer(&[issuer]);
        }
        let claims = self.check(token, &key, validation)?;
        if claims.dev {
            return Err(AuthError::Invalid("dev claim in a production token".into()));
        }
        Ok(claims)
    }

    fn check(
        &self,
        token: &str,
        key: &DecodingKey,
        mut validation: Validation,
    ) -> Result<Claims, AuthError> {
        validation.set_audience(&[&self.config.audience]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        decode::<Claims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::Invalid(e.to_string()))
    }
}
