//! Cross-cutting HTTP behaviour: request ids in every error body, per-tenant rate limits, and
//! `Idempotency-Key` on creating POSTs.

use super::AppState;
use super::error::ApiError;
use crate::store::idempotency::{Reservation, complete, release, reserve};
use crate::store::tenants::tenant_by_slug;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Longest idempotency key accepted.
pub const IDEMPOTENCY_KEY_CHARS_MAX: usize = 255;
/// Largest error body rewritten to carry the request id (error bodies are small).
const ERROR_BODY_BYTES_MAX: usize = 64 * 1024;
/// Largest response stored for idempotent replay.
const STORED_RESPONSE_BYTES_MAX: usize = 1024 * 1024;
/// Most tenants tracked by the rate limiter before idle buckets are dropped. Why: unknown
/// slugs in URLs must not grow the map without bound.
const RATE_BUCKETS_MAX: usize = 10_000;

/// The tenant slug of a `/v1/{tenant}/...` path.
fn tenant_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/")?;
    let slug = rest.split('/').next()?;
    (!slug.is_empty()).then_some(slug)
}

/// Gives every request an id (kept if the caller sent one), echoes it in the response and
/// writes it into every JSON error body.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let header_value =
        HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request
        .headers_mut()
        .insert(REQUEST_ID_HEADER, header_value.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let response = {
        let _entered = span.enter();
        next.run(request).await
    };
    let (mut parts, body) = response.into_parts();
    parts.headers.insert(REQUEST_ID_HEADER, header_value);
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if parts.status.as_u16() < 400 || !is_json {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = to_bytes(body, ERROR_BODY_BYTES_MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut object)) => {
            object.insert("request_id".into(), serde_json::Value::String(id));
            serde_json::to_vec(&object).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

/// A token bucket per tenant: `per_second` sustained, `burst` at once.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` to proceed, or `Err(seconds)` to wait before the next request is allowed.
    pub fn check(&self, tenant: &str) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if buckets.len() >= RATE_BUCKETS_MAX && !buckets.contains_key(tenant) {
            let (per_second, burst) = (self.per_second, self.burst);
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.refreshed).as_secs_f64() * per_second
                    < burst
            });
        }
        let bucket = buckets.entry(tenant.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            refreshed: now,
        });
        let elapsed = now.duration_since(bucket.refreshed).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refreshed = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// The `sub` of the bearer token, read without verifying it: only to give each calling device
/// or service its own rate bucket (a forged `sub` only moves the caller to another bucket of
/// the same tenant, whose own limit still holds; the token is verified by the route).
fn caller_of(request: &Request) -> Option<String> {
    use base64::Engine;
    let token = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let payload = token.split('.').nth(1)?;
    if payload.len() > 8 * 1024 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["sub"]
        .as_str()
        .filter(|sub| sub.len() <= 200)
        .map(str::to_owned)
}

fn too_many(whom: &str, retry_after: u64) -> Response {
    metrics::counter!("kibanda_http_rate_limited_total", "scope" => whom.to_owned()).increment(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests for this {whom}; retry after {retry_after} s"),
        None,
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Refuses requests beyond the rate of their calling device (the token's `sub`) or of their
/// tenant, with `429` and `Retry-After`: one busy terminal or service cannot spend its
/// tenant's whole budget.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(tenant) = tenant_of(request.uri().path()) {
        if let Some(caller) = caller_of(&request)
            && let Err(retry_after) = state
                .device_rate_limiter
                .check(&format!("{tenant}/{caller}"))
        {
            return too_many("device", retry_after);
        }
        if let Err(retry_after) = state.rate_limiter.check(tenant) {
            return too_many("tenant", retry_after);
        }
    }
    next.run(request).await
}

/// `Idempotency-Key` on POSTs: the same key and body get the first successful answer again;
/// the same key with a different body is a `409`.
pub async fn idempotency(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let Some(key) = request
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .map(|v| v.to_str().map(str::to_owned))
    else {
        return Ok(next.run(request).await);
    };
    let key = key.map_err(|_| ApiError::invalid("Idempotency-Key", "must be visible ASCII"))?;
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_CHARS_MAX {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!("1 to {IDEMPOTENCY_KEY_CHARS_MAX} characters"),
        ));
    }
    let Some(slug) = tenant_of(request.uri().path()).map(str::to_owned) else {
        return Ok(next.run(request).await);
    };
    let Some(tenant) = tenant_by_slug(&state.pool, &slug).await? else {
        return Ok(next.run(request).await);
    };
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, super::REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "request body too large",
                None,
            )
        })?;
    let hash: [u8; 32] = Sha256::new()
        .chain_update(parts.method.as_str())
        .chain_update(b" ")
        .chain_update(parts.uri.path())
        .chain_update(b"\n")
        .chain_update(&bytes)
        .finalize()
        .into();
    match reserve(&state.pool, tenant.id, &key, &hash).await? {
        Reservation::Reserved => {}
        Reservation::Replay { status, response } => {
            let mut replay = Response::new(Body::from(response));
            *replay.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            replay.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            replay
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(replay);
        }
        Reservation::Mismatch => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
                Some("Idempotency-Key"),
            ));
        }
        Reservation::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_progress",
                "a request with this Idempotency-Key is still running; retry shortly",
                Some("Idempotency-Key"),
            ));
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !response.status().is_success() {
        release(&state.pool, tenant.id, &key).await?;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, STORED_RESPONSE_BYTES_MAX).await else {
        release(&state.pool, tenant.id, &key).await?;
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "response too large to keep",
            None,
        ));
    };
    complete(&state.pool, tenant.id, &key, parts.status.as_u16(), &bytes).await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_asks_to_wait() {
        let limiter = RateLimiter::new(1, 3);
        assert!(limiter.check("acme").is_ok());
        assert!(limiter.check("acme").is_ok());
        assert!(limiter.check("acme").is_ok());
        assert_eq!(limiter.check("acme"), Err(1));
        assert!(
            limiter.check("bravo").is_ok(),
            "tenants have separate buckets"
        );
    }

    #[test]
    fn the_tenant_is_read_from_the_path() {
        assert_eq!(tenant_of("/v1/acme/pos/orders"), Some("acme"));
        assert_eq!(tenant_of("/healthz"), None);
        assert_eq!(tenant_of("/v1/"), None);
    }
}
