//! Card and M-Pesa payments through the hub's treasury link: ask, then follow the intent.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::payments::{self, MethodRequest, PaymentIntentError};
use crate::services::staff::Caller;
use crate::store::{IntentRequestError, PaymentIntent};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::OrderId;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentIntentRequest {
    /// `mpesa_stk` (a prompt on the customer's phone) or `card` (a card at a provider terminal).
    pub method: String,
    /// For `mpesa_stk`: the customer's number, `07…`, `01…` or `+254…`.
    #[serde(default)]
    pub phone: Option<String>,
    /// For `card`: which provider terminal takes the card.
    #[serde(default)]
    pub terminal_ref: Option<String>,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentIntentDto {
    pub id: String,
    pub order_id: String,
    pub method: String,
    pub amount_minor: i64,
    /// `requested` (on its way to the payment service), `prompted` (the customer is being
    /// asked), `captured` (paid: the payment is on the order), `failed` or `timed_out` (a later
    /// confirmation is still reconciled).
    pub state: String,
    pub provider_ref: Option<String>,
    /// The M-Pesa receipt code once captured.
    pub receipt: Option<String>,
    /// In words, for the cashier.
    pub detail: String,
    /// What a manager must do, if anything: refund a capture that came after the order was
    /// settled another way, or check an M-Pesa receipt the treasury could not confirm.
    pub attention: Option<String>,
    pub updated_at_ms: i64,
}

impl From<&PaymentIntent> for PaymentIntentDto {
    fn from(intent: &PaymentIntent) -> Self {
        PaymentIntentDto {
            id: intent.id.to_string(),
            order_id: intent.order_id.to_string(),
            method: intent.method.clone(),
            amount_minor: intent.amount_minor,
            state: intent.state.as_str().to_owned(),
            provider_ref: intent.provider_ref.clone(),
            receipt: intent.receipt.clone(),
            detail: intent.detail.clone(),
            attention: intent.attention.clone(),
            updated_at_ms: intent.updated_at_ms,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IntentQuery {
    /// `true`: the payments a manager must act on.
    pub attention: Option<bool>,
}

impl From<PaymentIntentError> for ApiError {
    fn from(error: PaymentIntentError) -> Self {
        let message = error.to_string();
        match error {
            PaymentIntentError::Store(store) => ApiError::from(store),
            PaymentIntentError::BadPhone => ApiError::invalid("phone", message),
            PaymentIntentError::BadReceipt => ApiError::invalid("receipt_code", message),
            PaymentIntentError::BadCardField(text) => {
                let field = text.split_whitespace().next().unwrap_or("card");
                ApiError::invalid(field, message)
            }
            PaymentIntentError::OfflineLimit(refusal) => ApiError::new(
                StatusCode::CONFLICT,
                match refusal {
                    shared_model::outlet::OfflineCardRefusal::BadAmount => "bad_amount",
                    _ => "offline_limit_exceeded",
                },
                message,
                Some("amount_minor"),
            ),
            PaymentIntentError::OfflineRefUsed => ApiError::new(
                StatusCode::CONFLICT,
                "offline_ref_already_used",
                message,
                Some("offline_ref"),
            ),
            PaymentIntentError::ReceiptUsed => ApiError::new(
                StatusCode::CONFLICT,
                "receipt_already_used",
                message,
                Some("receipt_code"),
            ),
            PaymentIntentError::BadTerminalRef => ApiError::invalid("terminal_ref", message),
            PaymentIntentError::TenderNotAccepted => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tender_not_accepted",
                message,
                Some("method"),
            ),
            PaymentIntentError::HubUnreachable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "hub_unreachable",
                message,
                None,
            ),
            PaymentIntentError::NotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "payment_intent_not_found",
                message,
                None,
            ),
            PaymentIntentError::Request(IntentRequestError::NotFound) => {
                ApiError::new(StatusCode::NOT_FOUND, "order_not_found", message, None)
            }
            PaymentIntentError::Request(IntentRequestError::BadAmount { .. }) => {
                ApiError::invalid("amount_minor", message)
            }
            PaymentIntentError::Request(IntentRequestError::NotPayable(_)) => {
                ApiError::new(StatusCode::CONFLICT, "order_not_payable", message, None)
            }
            PaymentIntentError::Request(IntentRequestError::AlreadyPending) => {
                ApiError::new(StatusCode::CONFLICT, "payment_pending", message, None)
            }
        }
    }
}

#[utoipa::path(post, path = "/v1/orders/{id}/payment-intents", params(("id" = String, Path)),
    request_body = PaymentIntentRequest,
    responses((status = 202, body = PaymentIntentDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn request(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PaymentIntentRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PaymentIntentDto>), ApiError> {
    let order_id = order_path(path)?;
    let Json(request) = body?;
    let method = match request.method.as_str() {
        "mpesa_stk" => MethodRequest::MpesaStk {
            phone: request.phone.ok_or_else(|| {
                ApiError::invalid("phone", "the customer's phone number is required")
            })?,
        },
        "card" => MethodRequest::Card {
            terminal_ref: request.terminal_ref.ok_or_else(|| {
                ApiError::invalid("terminal_ref", "the card terminal is required")
            })?,
        },
        _ => return Err(ApiError::invalid("method", "mpesa_stk or card")),
    };
    let intent = payments::request(
        state.store.clone(),
        order_id,
        method,
        request.amount_minor,
        caller.device.id,
        state.sync.is_connected(),
        now_ms(),
    )
    .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::ACCEPTED, Json(PaymentIntentDto::from(&intent))))
}

#[utoipa::path(get, path = "/v1/payment-intents/{id}", params(("id" = String, Path)),
    responses((status = 200, body = PaymentIntentDto), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn get(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<PaymentIntentDto>, ApiError> {
    let Path(id) = path?;
    let id =
        uuid::Uuid::parse_str(&id).map_err(|_| ApiError::from(PaymentIntentError::NotFound))?;
    let intent = payments::get(state.store.clone(), id).await?;
    Ok(Json(PaymentIntentDto::from(&intent)))
}

#[utoipa::path(get, path = "/v1/payment-intents", params(IntentQuery),
    responses((status = 200, body = [PaymentIntentDto])),
    security(("device_token" = [])))]
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<IntentQuery>, QueryRejection>,
) -> Result<Json<Vec<PaymentIntentDto>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid("attention", e.body_text()))?;
    if query.attention != Some(true) {
        return Err(ApiError::invalid(
            "attention",
            "only attention=true is listed (recall a payment by its id)",
        ));
    }
    let intents = payments::needing_attention(state.store.clone()).await?;
    Ok(Json(intents.iter().map(PaymentIntentDto::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MpesaReceiptRequest {
    /// The code on the customer's M-Pesa SMS, e.g. `QJK3H7X9TZ`.
    pub receipt_code: String,
    pub amount_minor: i64,
}

/// A payment recorded at the till without the treasury, and the intent that will confirm it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedPaymentResponse {
    pub order: super::dto::OrderDto,
    pub intent: PaymentIntentDto,
}

#[utoipa::path(post, path = "/v1/orders/{id}/mpesa-receipts", params(("id" = String, Path)),
    request_body = MpesaReceiptRequest,
    responses((status = 201, body = RecordedPaymentResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn record_receipt(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<MpesaReceiptRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<RecordedPaymentResponse>), ApiError> {
    let order_id = order_path(path)?;
    let Json(request) = body?;
    let (order, intent) = payments::record_receipt(
        state.store.clone(),
        order_id,
        &request.receipt_code,
        request.amount_minor,
        caller.device.id,
        now_ms(),
    )
    .await?;
    Ok(recorded(&state, &order, &intent))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineCardRequest {
    /// The card terminal's reference for the offline (store-and-forward) approval.
    pub offline_ref: String,
    /// The card's last four digits, as the terminal printed them. Never the card number.
    pub last4: String,
    /// `visa`, `mastercard`, `amex`, `unionpay`, `discover`, `jcb` or `other`.
    pub brand: String,
    pub amount_minor: i64,
}

#[utoipa::path(post, path = "/v1/orders/{id}/offline-card-payments", params(("id" = String, Path)),
    request_body = OfflineCardRequest,
    responses((status = 201, body = RecordedPaymentResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn record_offline_card(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<OfflineCardRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<RecordedPaymentResponse>), ApiError> {
    let order_id = order_path(path)?;
    let Json(request) = body?;
    let (order, intent) = payments::record_offline_card(
        state.store.clone(),
        order_id,
        request.offline_ref,
        request.last4,
        request.brand,
        request.amount_minor,
        caller.device.id,
        now_ms(),
    )
    .await?;
    Ok(recorded(&state, &order, &intent))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineCardLimitsDto {
    pub per_payment_max_minor: i64,
    pub outstanding_max_minor: i64,
    pub max_age_hours: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfflineCardRiskDto {
    /// Card payments taken offline and not yet confirmed by the processor.
    pub count: u32,
    pub outstanding_minor: i64,
    /// What more may still be taken offline before the outlet's limit.
    pub headroom_minor: i64,
    pub oldest_recorded_at_ms: Option<i64>,
    /// Time left before the oldest unconfirmed payment passes the outlet's age limit (negative:
    /// past it).
    pub oldest_expires_in_ms: Option<i64>,
    /// Unconfirmed payments already past the age limit: a manager must chase them.
    pub expired: u32,
    pub limits: OfflineCardLimitsDto,
}

#[utoipa::path(get, path = "/v1/offline-card-payments",
    responses((status = 200, body = OfflineCardRiskDto)),
    security(("device_token" = [])))]
pub async fn offline_card_risk(
    State(state): State<AppState>,
) -> Result<Json<OfflineCardRiskDto>, ApiError> {
    let now = now_ms();
    let (risk, limits) = payments::offline_card_risk(state.store.clone(), now).await?;
    Ok(Json(OfflineCardRiskDto {
        count: risk.count,
        outstanding_minor: risk.outstanding_minor,
        headroom_minor: (limits.outstanding_max_minor - risk.outstanding_minor).max(0),
        oldest_recorded_at_ms: risk.oldest_recorded_at_ms,
        oldest_expires_in_ms: risk
            .oldest_recorded_at_ms
            .map(|at| at + limits.max_age_ms() - now),
        expired: risk.expired,
        limits: OfflineCardLimitsDto {
            per_payment_max_minor: limits.per_payment_max_minor,
            outstanding_max_minor: limits.outstanding_max_minor,
            max_age_hours: limits.max_age_hours,
        },
    }))
}

fn order_path(path: Result<Path<String>, PathRejection>) -> Result<OrderId, ApiError> {
    let Path(id) = path?;
    id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            "order not found",
            None,
        )
    })
}

fn recorded(
    state: &AppState,
    order: &shared_model::Order,
    intent: &PaymentIntent,
) -> (StatusCode, Json<RecordedPaymentResponse>) {
    state.sync.notify_new_ops();
    (
        StatusCode::CREATED,
        Json(RecordedPaymentResponse {
            order: super::dto::OrderDto::from(order),
            intent: PaymentIntentDto::from(intent),
        }),
    )
}
