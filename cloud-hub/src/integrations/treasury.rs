//! The treasury service's payments API, as the hub calls it.
//!
//! `POST {base}/v1/{tenant}/payments` with `Idempotency-Key: <intent id>` (a retry after a lost
//! answer is the same payment, never a second one) and a JSON body naming the intent, order,
//! outlet, method (`mpesa_stk` with `msisdn`, or `card` with `terminal_ref`), amount and
//! currency. `2xx {"payment_id"}`: accepted, the customer is being prompted. `4xx {"reason"}`:
//! declined (a real answer; the service is healthy). `5xx`, `429`, timeouts and connection
//! errors: unavailable, retried later, and counted by the circuit breaker.
//!
//! `GET {base}/v1/{tenant}/payments?mpesa_receipt=<code>` or `?offline_ref=<reference>`:
//! `200 {"payment_id", "amount_minor", "status": "captured"}`, `200 {"status": "declined",
//! "reason"}` or `404`: what the treasury knows of a payment the till took without it (an M-Pesa
//! receipt code typed in, a card approved offline by the terminal).
//!
//! The treasury's answer arrives later at the hub's inbound webhook
//! (`/v1/{tenant}/pos/integrations/treasury/events`).

use super::breaker::CircuitBreaker;
use serde::Serialize;
use std::future::Future;
use std::time::{Duration, Instant};
use thiserror::Error;
use uuid::Uuid;

/// How the customer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    MpesaStk { msisdn: String },
    Card { terminal_ref: String },
}

#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub intent_id: Uuid,
    pub order_id: Uuid,
    pub outlet_code: String,
    pub method: Method,
    pub amount_minor: i64,
    pub currency: String,
}

/// A refund to the tender a customer paid with.
#[derive(Debug, Clone, Serialize)]
pub struct RefundRequest {
    pub refund_id: Uuid,
    pub order_id: Uuid,
    pub outlet: String,
    /// `card` or `mpesa`.
    pub tender: String,
    /// The treasury's id of the payment being refunded, when it collected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreasuryAnswer {
    Accepted { provider_ref: String },
    Declined { reason: String },
}

#[derive(Debug, Clone, Error)]
pub enum TreasuryError {
    #[error("treasury unavailable: {0}")]
    Unavailable(String),
    #[error("treasury circuit open after repeated failures; not calling it for now")]
    CircuitOpen { retry_at: Instant },
}

/// A payment the till took without the treasury, to be looked up in its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentLookup<'a> {
    /// The code on the customer's M-Pesa SMS.
    MpesaReceipt(&'a str),
    /// The card terminal's reference of a store-and-forward approval.
    OfflineCard(&'a str),
}

impl PaymentLookup<'_> {
    fn query(&self) -> String {
        match self {
            PaymentLookup::MpesaReceipt(code) => format!("mpesa_receipt={}", percent_encode(code)),
            PaymentLookup::OfflineCard(reference) => {
                format!("offline_ref={}", percent_encode(reference))
            }
        }
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// What the treasury's records say of a payment taken without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptAnswer {
    Found {
        provider_ref: String,
        amount_minor: i64,
    },
    /// The processor refused it (a forwarded offline card payment the issuer declined).
    Declined {
        reason: String,
    },
    NotFound,
}

/// The treasury as the payment worker needs it.
pub trait Treasury: Send + Sync + 'static {
    fn request_payment(
        &self,
        tenant_slug: &str,
        request: &PaymentRequest,
    ) -> impl Future<Output = Result<TreasuryAnswer, TreasuryError>> + Send;

    /// Sends money back to the customer's card or M-Pesa account.
    fn request_refund(
        &self,
        tenant_slug: &str,
        request: &RefundRequest,
    ) -> impl Future<Output = Result<TreasuryAnswer, TreasuryError>> + Send;

    /// Looks a payment the till took without the treasury up in the treasury's records.
    fn find_payment(
        &self,
        tenant_slug: &str,
        lookup: PaymentLookup<'_>,
    ) -> impl Future<Output = Result<ReceiptAnswer, TreasuryError>> + Send;
}

#[derive(Debug, Clone)]
pub struct TreasuryConfig {
    /// e.g. `https://treasury.internal`; `None`: no treasury (payment intents fail at once).
    pub base_url: Option<String>,
    /// Shared secret of the treasury's signed callbacks.
    pub webhook_secret: Option<String>,
    pub request_timeout: Duration,
    /// How long a prompted payment may wait for the treasury's word before the till is told
    /// it timed out (a confirmation after that is still reconciled).
    pub prompt_timeout: Duration,
    /// Calls per intent before it is failed as unreachable.
    pub attempts_max: u32,
    /// First retry delay; doubles per attempt.
    pub retry_base: Duration,
    pub breaker_failures: u32,
    pub breaker_cool_down: Duration,
}

impl Default for TreasuryConfig {
    fn default() -> Self {
        TreasuryConfig {
            base_url: None,
            webhook_secret: None,
            request_timeout: Duration::from_secs(5),
            prompt_timeout: Duration::from_secs(90),
            attempts_max: 5,
            retry_base: Duration::from_millis(500),
            breaker_failures: 5,
            breaker_cool_down: Duration::from_secs(30),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    intent_id: Uuid,
    order_id: Uuid,
    outlet: &'a str,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    msisdn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    terminal_ref: Option<&'a str>,
    amount_minor: i64,
    currency: &'a str,
}

/// Longest treasury answer read. Why: an answer is a few fields; a bigger one is an error page.
const ANSWER_BYTES_MAX: usize = 64 * 1024;

pub struct HttpTreasury {
    base_url: String,
    client: reqwest::Client,
    pub breaker: CircuitBreaker,
}

impl HttpTreasury {
    pub fn new(base_url: &str, config: &TreasuryConfig) -> Result<HttpTreasury, reqwest::Error> {
        Ok(HttpTreasury {
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .timeout(config.request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            breaker: CircuitBreaker::new(config.breaker_failures, config.breaker_cool_down),
        })
    }

    async fn call(
        &self,
        tenant_slug: &str,
        request: &PaymentRequest,
    ) -> Result<TreasuryAnswer, String> {
        let (method, msisdn, terminal_ref) = match &request.method {
            Method::MpesaStk { msisdn } => ("mpesa_stk", Some(msisdn.as_str()), None),
            Method::Card { terminal_ref } => ("card", None, Some(terminal_ref.as_str())),
        };
        let response = self
            .client
            .post(format!("{}/v1/{tenant_slug}/payments", self.base_url))
            .header("Idempotency-Key", request.intent_id.to_string())
            .json(&Body {
                intent_id: request.intent_id,
                order_id: request.order_id,
                outlet: &request.outlet_code,
                method,
                msisdn,
                terminal_ref,
                amount_minor: request.amount_minor,
                currency: &request.currency,
            })
            .send()
            .await;
        read_answer(response, "payment_id").await
    }
}

/// Reads a treasury answer to a request: `2xx` with the treasury's id under `id_field` is
/// accepted, a `4xx` other than 408/429 is a decline (with its `reason`), anything else —
/// or an answer too large to be one — is the treasury being unavailable.
async fn read_answer(
    response: Result<reqwest::Response, reqwest::Error>,
    id_field: &str,
) -> Result<TreasuryAnswer, String> {
    let response = response.map_err(|error| error.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|error| error.to_string())?;
    if bytes.len() > ANSWER_BYTES_MAX {
        return Err(format!("answer of {} bytes", bytes.len()));
    }
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if status.is_success() {
        let provider_ref = answer[id_field]
            .as_str()
            .filter(|id| !id.is_empty() && id.len() <= 128)
            .ok_or_else(|| format!("accepted without a {id_field}"))?;
        Ok(TreasuryAnswer::Accepted {
            provider_ref: provider_ref.to_owned(),
        })
    } else if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
        let reason = answer["reason"]
            .as_str()
            .unwrap_or(status.canonical_reason().unwrap_or("declined"))
            .chars()
            .take(200)
            .collect();
        Ok(TreasuryAnswer::Declined { reason })
    } else {
        Err(format!("HTTP {status}"))
    }
}

impl HttpTreasury {
    /// `POST {base}/v1/{tenant}/refunds`, `Idempotency-Key: <refund id>`; `2xx {"refund_id"}`
    /// accepted, `4xx {"reason"}` declined, anything else unavailable.
    async fn refund(
        &self,
        tenant_slug: &str,
        request: &RefundRequest,
    ) -> Result<TreasuryAnswer, String> {
        let response = self
            .client
            .post(format!("{}/v1/{tenant_slug}/refunds", self.base_url))
            .header("Idempotency-Key", request.refund_id.to_string())
            .json(request)
            .send()
            .await;
        read_answer(response, "refund_id").await
    }

    async fn lookup(
        &self,
        tenant_slug: &str,
        lookup: PaymentLookup<'_>,
    ) -> Result<ReceiptAnswer, String> {
        let response = self
            .client
            .get(format!(
                "{}/v1/{tenant_slug}/payments?{}",
                self.base_url,
                lookup.query()
            ))
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(ReceiptAnswer::NotFound);
        }
        let bytes = response.bytes().await.map_err(|error| error.to_string())?;
        if !status.is_success() || bytes.len() > ANSWER_BYTES_MAX {
            return Err(format!("HTTP {status}"));
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|error| error.to_string())?;
        if answer["status"] == "declined" {
            return Ok(ReceiptAnswer::Declined {
                reason: answer["reason"]
                    .as_str()
                    .unwrap_or("declined")
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        match (
            answer["payment_id"].as_str(),
            answer["amount_minor"].as_i64(),
        ) {
            (Some(provider_ref), Some(amount_minor)) => Ok(ReceiptAnswer::Found {
                provider_ref: provider_ref.chars().take(128).collect(),
                amount_minor,
            }),
            _ => Err("a receipt answer without payment_id and amount_minor".into()),
        }
    }
}

impl HttpTreasury {
    /// Runs one call behind the circuit breaker: refused at once while it is open; a failure
    /// counts toward opening it, a success closes it.
    async fn guarded<T>(
        &self,
        call: impl Future<Output = Result<T, String>>,
    ) -> Result<T, TreasuryError> {
        self.breaker
            .try_acquire(Instant::now())
            .map_err(|retry_at| TreasuryError::CircuitOpen { retry_at })?;
        match call.await {
            Ok(answer) => {
                self.breaker.record_success();
                Ok(answer)
            }
            Err(error) => {
                self.breaker.record_failure(Instant::now());
                Err(TreasuryError::Unavailable(error))
            }
        }
    }
}

impl Treasury for HttpTreasury {
    async fn request_refund(
        &self,
        tenant_slug: &str,
        request: &RefundRequest,
    ) -> Result<TreasuryAnswer, TreasuryError> {
        self.guarded(self.refund(tenant_slug, request)).await
    }

    async fn find_payment(
        &self,
        tenant_slug: &str,
        lookup: PaymentLookup<'_>,
    ) -> Result<ReceiptAnswer, TreasuryError> {
        self.guarded(self.lookup(tenant_slug, lookup)).await
    }

    async fn request_payment(
        &self,
        tenant_slug: &str,
        request: &PaymentRequest,
    ) -> Result<TreasuryAnswer, TreasuryError> {
        self.guarded(self.call(tenant_slug, request)).await
    }
}
