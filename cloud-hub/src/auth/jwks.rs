//! A cache of the auth service's signing keys (JWKS).

use super::AuthError;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// Keys are refetched after this long even if all `kid`s are known (revoked keys disappear).
pub const KEYS_TTL: Duration = Duration::from_secs(3600);
/// How long one JWKS fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest JWKS document accepted.
pub const JWKS_BYTES_MAX: usize = 256 * 1024;

struct Cached {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    fetched_at: Option<Instant>,
}

pub struct JwksCache {
    url: String,
    /// Refetch at most this often when tokens name unknown keys. Why: a flood of tokens with
    /// made-up `kid`s must not become a flood of requests to the auth service.
    refresh_min: Duration,
    client: reqwest::Client,
    cached: RwLock<Cached>,
}

fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm};
    if let Some(alg) = jwk.common.key_algorithm {
        return match alg {
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::RS512 => Some(Algorithm::RS512),
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::ES384 => Some(Algorithm::ES384),
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            _ => None,
        };
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

impl JwksCache {
    pub fn new(url: String, refresh_min: Duration) -> JwksCache {
        JwksCache {
            url,
            refresh_min,
            client: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .build()
                .unwrap_or_default(),
            cached: RwLock::new(Cached {
                keys: HashMap::new(),
                fetched_at: None,
            }),
        }
    }

    /// The key and algorithm for `kid`, fetching the JWKS when needed.
    pub async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), AuthError> {
        {
            let cached = self.cached.read().await;
            let fresh = cached.fetched_at.is_some_and(|at| at.elapsed() < KEYS_TTL);
            if fresh && let Some(found) = cached.keys.get(kid) {
                return Ok(found.clone());
            }
        }
        let mut cached = self.cached.write().await;
        let may_refresh = cached
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.refresh_min);
        if may_refresh {
            match self.fetch().await {
                Ok(keys) => {
                    cached.keys = keys;
                    cached.fetched_at = Some(Instant::now());
                }
                Err(error) if cached.keys.is_empty() => return Err(error),
                Err(error) => tracing::warn!(%error, "JWKS refresh failed; using cached keys"),
            }
        }
        cached.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
    }

    async fn fetch(&self) -> Result<HashMap<String, (DecodingKey, Algorithm)>, AuthError> {
        let unavailable = |e: reqwest::Error| AuthError::JwksUnavailable(e.to_string());
        let response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(unavailable)?;
        let response = response.error_for_status().map_err(unavailable)?;
        let bytes = response.bytes().await.map_err(unavailable)?;
        if bytes.len() > JWKS_BYTES_MAX {
            return Err(AuthError::JwksUnavailable("JWKS document too large".into()));
        }
        let set: JwkSet = serde_json::from_slice(&bytes)
            .map_err(|e| AuthError::JwksUnavailable(e.to_string()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(algorithm)) = (jwk.common.key_id.clone(), algorithm_of(jwk))
            else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, algorithm));
            }
        }
        Ok(keys)
    }
}
