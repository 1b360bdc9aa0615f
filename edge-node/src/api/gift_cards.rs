//! Gift cards at the till: pay part or all of an order with a card, within what the hub allows
//! this outlet on it (works with the internet down), beyond it through a hold the hub approves
//! against the card's balance (needs the link), and look a card up.

use super::AppState;
use super::dto::OrderDto;
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::staff::Caller;
use crate::store::{GiftCardHold, GiftCardPaymentError, GiftCardView, HoldCancelError};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shared_model::OrderId;
use shared_model::gift_card::RedeemError;
use utoipa::ToSchema;

/// Longest gift-card code. Why 32: printed codes and QR payloads of the card issuers in use.
pub const GIFT_CARD_CODE_CHARS_MAX: usize = 32;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GiftCardPaymentRequest {
    /// The code on the card (letters, digits and `-`).
    pub code: String,
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftCardDto {
    pub code: String,
    pub currency: String,
    pub active: bool,
    pub expires_at_ms: Option<i64>,
    /// What this outlet may still take on the card before the hub confirms its balance.
    pub remaining_minor: i64,
    /// Redeemed here and not yet counted by the hub.
    pub unconfirmed_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftCardPaymentResponse {
    pub order: OrderDto,
    pub card: GiftCardDto,
}

impl From<&GiftCardView> for GiftCardDto {
    fn from(view: &GiftCardView) -> Self {
        GiftCardDto {
            code: view.allowance.code.clone(),
            currency: view.allowance.currency.clone(),
            active: view.allowance.active,
            expires_at_ms: view.allowance.expires_at_ms,
            remaining_minor: view.remaining_minor(),
            unconfirmed_minor: (view.local_redeemed_minor - view.allowance.outlet_redeemed_minor)
                .max(0),
        }
    }
}

/// A code as printed: letters, digits and `-`, upper-cased.
fn parse_code(code: &str) -> Result<String, ApiError> {
    let code = code.trim().to_ascii_uppercase();
    if code.is_empty()
        || code.len() > GIFT_CARD_CODE_CHARS_MAX
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::invalid(
            "code",
            format!("1 to {GIFT_CARD_CODE_CHARS_MAX} letters, digits or '-'"),
        ));
    }
    Ok(code)
}

fn card_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_gift_card",
        "the hub has not told this outlet about that gift card",
        Some("code"),
    )
}

impl From<GiftCardPaymentError> for ApiError {
    fn from(error: GiftCardPaymentError) -> Self {
        let message = error.to_string();
        match error {
            GiftCardPaymentError::OrderNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "order_not_found", message, None)
            }
            GiftCardPaymentError::UnknownCard => card_not_found(),
            GiftCardPaymentError::NotPayable(_) => {
                ApiError::new(StatusCode::CONFLICT, "order_not_payable", message, None)
            }
            GiftCardPaymentError::BadAmount { .. } => ApiError::invalid("amount_minor", message),
            GiftCardPaymentError::Redeem(RedeemError::NonPositive) => {
                ApiError::invalid("amount_minor", message)
            }
            GiftCardPaymentError::Redeem(RedeemError::OverAllowance { .. }) => ApiError::new(
                StatusCode::CONFLICT,
                "gift_card_allowance_exceeded",
                message,
                Some("amount_minor"),
            ),
            GiftCardPaymentError::Redeem(_) => ApiError::new(
                StatusCode::CONFLICT,
                "gift_card_not_usable",
                message,
                Some("code"),
            ),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftCardHoldDto {
    pub id: String,
    pub code: String,
    pub order_id: String,
    pub amount_minor: i64,
    /// `pending` (asked of the hub), `paid` (approved and taken on the order), `declined`
    /// (see `reason`), `cancelled` (at the till), `released` (approved but no longer wanted:
    /// given back).
    pub state: String,
    pub reason: String,
    pub requested_at_ms: i64,
    pub decided_at_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftCardHoldResponse {
    pub hold: GiftCardHoldDto,
}

impl From<&GiftCardHold> for GiftCardHoldDto {
    fn from(hold: &GiftCardHold) -> Self {
        GiftCardHoldDto {
            id: hold.id.to_string(),
            code: hold.code.clone(),
            order_id: hold.order_id.0.to_string(),
            amount_minor: hold.amount_minor,
            state: hold.state.clone(),
            reason: hold.reason.clone(),
            requested_at_ms: hold.requested_at_ms,
            decided_at_ms: hold.decided_at_ms,
        }
    }
}

/// Pays with a gift card. Within what this outlet may take offline the payment is taken at
/// once (201). Beyond it, with the hub reachable, the hub is asked to approve it against the
/// card's balance: 202 with a pending hold, taken on the order as soon as the hub approves
/// (`GET /v1/gift-card-holds/{id}`); with the hub unreachable, 409
/// `gift_card_allowance_exceeded`.
#[utoipa::path(post, path = "/v1/orders/{id}/gift-card-payments", params(("id" = String, Path)),
    request_body = GiftCardPaymentRequest,
    responses((status = 201, body = GiftCardPaymentResponse), (status = 202, body = GiftCardHoldResponse),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn pay(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<GiftCardPaymentRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = path?;
    let order_id: OrderId = id
        .parse()
        .map_err(|_| ApiError::from(GiftCardPaymentError::OrderNotFound))?;
    let Json(request) = body?;
    let code = parse_code(&request.code)?;
    let store = state.store.clone();
    let terminal = caller.device.id;
    let online = state.sync.is_connected();
    let paid = crate::services::blocking_with(move || {
        let now = now_ms();
        let order =
            match store.redeem_gift_card(order_id, &code, request.amount_minor, terminal, now)? {
                Ok(order) => order,
                Err(GiftCardPaymentError::Redeem(RedeemError::OverAllowance { .. })) if online => {
                    return Ok(store
                        .request_gift_card_hold(
                            order_id,
                            &code,
                            request.amount_minor,
                            terminal,
                            now,
                        )?
                        .map(Paid::Held));
                }
                Err(refusal) => return Ok(Err(refusal)),
            };
        let view = store
            .gift_card(&code)?
            .ok_or_else(|| crate::store::StoreError::Corrupt("a redeemed card vanished".into()))?;
        Ok::<_, crate::store::StoreError>(Ok(Paid::Now(Box::new(order), view)))
    })
    .await??;
    state.sync.notify_new_ops();
    Ok(match paid {
        Paid::Now(order, view) => (
            StatusCode::CREATED,
            Json(GiftCardPaymentResponse {
                order: OrderDto::from(order.as_ref()),
                card: GiftCardDto::from(&view),
            }),
        )
            .into_response(),
        Paid::Held(hold) => (
            StatusCode::ACCEPTED,
            Json(GiftCardHoldResponse {
                hold: GiftCardHoldDto::from(&hold),
            }),
        )
            .into_response(),
    })
}

/// What a gift-card payment became.
enum Paid {
    Now(Box<shared_model::Order>, GiftCardView),
    Held(GiftCardHold),
}

fn hold_id(path: Result<Path<String>, PathRejection>) -> Result<uuid::Uuid, ApiError> {
    let Path(id) = path?;
    id.parse().map_err(|_| hold_not_found())
}

fn hold_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "gift_card_hold_not_found",
        "no such gift-card hold",
        None,
    )
}

#[utoipa::path(get, path = "/v1/gift-card-holds/{id}", params(("id" = String, Path)),
    responses((status = 200, body = GiftCardHoldDto), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn get_hold(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<GiftCardHoldDto>, ApiError> {
    let id = hold_id(path)?;
    let store = state.store.clone();
    let hold = crate::services::blocking(move || store.gift_card_hold(id))
        .await?
        .ok_or_else(hold_not_found)?;
    Ok(Json(GiftCardHoldDto::from(&hold)))
}

/// Gives up on a pending hold (the customer pays another way): the hub gives the value back if
/// it approves it.
#[utoipa::path(post, path = "/v1/gift-card-holds/{id}/cancel", params(("id" = String, Path)),
    responses((status = 200, body = GiftCardHoldDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn cancel_hold(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<GiftCardHoldDto>, ApiError> {
    let id = hold_id(path)?;
    let store = state.store.clone();
    let hold = crate::services::blocking(move || store.cancel_gift_card_hold(id, now_ms()))
        .await?
        .map_err(|error| match error {
            HoldCancelError::NotFound => hold_not_found(),
            HoldCancelError::NotPending(_) => ApiError::new(
                StatusCode::CONFLICT,
                "gift_card_hold_not_pending",
                error.to_string(),
                None,
            ),
        })?;
    state.sync.notify_new_ops();
    Ok(Json(GiftCardHoldDto::from(&hold)))
}

#[utoipa::path(get, path = "/v1/gift-cards/{code}", params(("code" = String, Path)),
    responses((status = 200, body = GiftCardDto), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn get(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<GiftCardDto>, ApiError> {
    let Path(code) = path?;
    let code = parse_code(&code)?;
    let store = state.store.clone();
    let view = crate::services::blocking(move || store.gift_card(&code))
        .await?
        .ok_or_else(card_not_found)?;
    Ok(Json(GiftCardDto::from(&view)))
}
