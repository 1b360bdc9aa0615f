//! Gift cards: issue, top up, read (balance and ledger), expire. Outlets redeem them at the till
//! within the offline allowance the hub sends them; redemptions reach the ledger as ops.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::gift_cards::{self, CardChangeError, GiftCard, LedgerEntry, NewCard};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::gift_card::{GIFT_CARD_VALUE_MINOR_MAX, OFFLINE_ALLOWANCE_MINOR_DEFAULT};
use utoipa::ToSchema;

/// Roles that issue, top up and expire gift cards (head office, the web shop selling them).
pub const GIFT_CARD_WRITERS: &[&str] = &["admin", "manager", "service"];
/// Roles that read a card and its ledger.
pub const GIFT_CARD_READERS: &[&str] = &["admin", "manager", "service", "auditor", "analyst"];
/// Longest code. Why 32: the printed codes and QR payloads of the card issuers in use.
pub const CODE_CHARS_MAX: usize = 32;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueGiftCardRequest {
    /// Printed on the card: 6 to 32 letters, digits or `-`, with at least one letter (a code
    /// of digits alone could pass for a payment-card number).
    pub code: String,
    pub currency: String,
    pub amount_minor: i64,
    /// What each outlet may redeem on the card without the hub, default 200000.
    pub offline_allowance_minor: Option<i64>,
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpRequest {
    pub amount_minor: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryDto {
    pub id: String,
    /// `issue`, `top_up`, `redeem` or `expire`.
    pub kind: String,
    /// Signed: redemptions and expiry are negative.
    pub amount_minor: i64,
    pub balance_after_minor: i64,
    /// For a redemption: the outlet and order.
    pub outlet: Option<String>,
    pub order_id: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftCardDto {
    pub code: String,
    pub currency: String,
    /// Negative when outlets offline at once took it below zero (see `offline-event-replay`).
    pub balance_minor: i64,
    pub offline_allowance_minor: i64,
    /// `active` or `expired`.
    pub state: String,
    pub expires_at_ms: Option<i64>,
    /// Newest 100 entries, oldest first (absent on writes).
    pub ledger: Option<Vec<LedgerEntryDto>>,
}

fn dto(card: &GiftCard, ledger: Option<&[LedgerEntry]>) -> GiftCardDto {
    GiftCardDto {
        code: card.code.clone(),
        currency: card.currency.clone(),
        balance_minor: card.balance_minor,
        offline_allowance_minor: card.offline_allowance_minor,
        state: card.state.clone(),
        expires_at_ms: card.expires_at_ms,
        ledger: ledger.map(|entries| {
            entries
                .iter()
                .map(|entry| LedgerEntryDto {
                    id: entry.id.to_string(),
                    kind: entry.kind.clone(),
                    amount_minor: entry.amount_minor,
                    balance_after_minor: entry.balance_after_minor,
                    outlet: entry.outlet_code.clone(),
                    order_id: entry.order_id.map(|id| id.to_string()),
                    at_ms: entry.at_ms,
                })
                .collect()
        }),
    }
}

/// A code as printed, upper-cased; `None` if it is not one.
pub(super) fn parse_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    let shaped = (6..=CODE_CHARS_MAX).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && code.chars().any(|c| c.is_ascii_alphabetic());
    shaped.then_some(code)
}

fn change_error(error: CardChangeError) -> ApiError {
    let message = error.to_string();
    match error {
        CardChangeError::DuplicateCode => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate_code",
            message,
            Some("code"),
        ),
        CardChangeError::NotFound => ApiError::not_found(),
        CardChangeError::NotActive(_) => {
            ApiError::new(StatusCode::CONFLICT, "gift_card_not_active", message, None)
        }
        CardChangeError::TooLarge(_) => ApiError::invalid("amount_minor", message),
        CardChangeError::Store(error) => error.into(),
    }
}

fn amount(field: &str, amount_minor: i64) -> Result<i64, ApiError> {
    if !(1..=GIFT_CARD_VALUE_MINOR_MAX).contains(&amount_minor) {
        return Err(ApiError::invalid(
            field,
            format!("must be between 1 and {GIFT_CARD_VALUE_MINOR_MAX}"),
        ));
    }
    Ok(amount_minor)
}

pub(super) fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(value)| value)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/gift-cards",
    params(("tenant" = String, Path)), request_body = IssueGiftCardRequest,
    responses((status = 201, body = GiftCardDto), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn issue(
    State(state): State<AppState>,
    context: TenantContext,
    request: Result<Json<IssueGiftCardRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<GiftCardDto>), ApiError> {
    context.require_any_role(GIFT_CARD_WRITERS)?;
    let request = body(request)?;
    let code = parse_code(&request.code).ok_or_else(|| {
        ApiError::invalid(
            "code",
            format!("6 to {CODE_CHARS_MAX} letters, digits or '-', at least one letter"),
        )
    })?;
    let currency = shared_model::Currency::parse(&request.currency)
        .map_err(|e| ApiError::invalid("currency", e.to_string()))?;
    let amount_minor = amount("amount_minor", request.amount_minor)?;
    let offline_allowance_minor = request
        .offline_allowance_minor
        .unwrap_or(OFFLINE_ALLOWANCE_MINOR_DEFAULT);
    if !(0..=GIFT_CARD_VALUE_MINOR_MAX).contains(&offline_allowance_minor) {
        return Err(ApiError::invalid(
            "offline_allowance_minor",
            format!("must be between 0 and {GIFT_CARD_VALUE_MINOR_MAX}"),
        ));
    }
    let now_ms = crate::now_ms();
    if request.expires_at_ms.is_some_and(|at| at <= now_ms) {
        return Err(ApiError::invalid("expires_at_ms", "must be in the future"));
    }
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let card = gift_cards::issue(
        &mut tx,
        context.tenant.id,
        &NewCard {
            code,
            currency: currency.code().to_owned(),
            amount_minor,
            offline_allowance_minor,
            expires_at_ms: request.expires_at_ms,
        },
        now_ms,
    )
    .await
    .map_err(change_error)?;
    super::commit(tx).await?;
    Ok((StatusCode::CREATED, Json(dto(&card, None))))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/gift-cards/{code}",
    params(("tenant" = String, Path), ("code" = String, Path)),
    responses((status = 200, body = GiftCardDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<GiftCardDto>, ApiError> {
    context.require_any_role(GIFT_CARD_READERS)?;
    let code = parse_code(&path.1).ok_or_else(ApiError::not_found)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let (card, ledger) = gift_cards::get(&mut tx, context.tenant.id, &code)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(dto(&card, Some(&ledger))))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/gift-cards/{code}/top-ups",
    params(("tenant" = String, Path), ("code" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "send one: a retried top-up is then applied once")),
    request_body = TopUpRequest,
    responses((status = 200, body = GiftCardDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn top_up(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    request: Result<Json<TopUpRequest>, JsonRejection>,
) -> Result<Json<GiftCardDto>, ApiError> {
    context.require_any_role(GIFT_CARD_WRITERS)?;
    let code = parse_code(&path.1).ok_or_else(ApiError::not_found)?;
    let amount_minor = amount("amount_minor", body(request)?.amount_minor)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let card = gift_cards::top_up(
        &mut tx,
        context.tenant.id,
        &code,
        amount_minor,
        GIFT_CARD_VALUE_MINOR_MAX,
        crate::now_ms(),
    )
    .await
    .map_err(change_error)?;
    super::commit(tx).await?;
    Ok(Json(dto(&card, None)))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/gift-cards/{code}/expire",
    params(("tenant" = String, Path), ("code" = String, Path)),
    responses((status = 200, body = GiftCardDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn expire(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<GiftCardDto>, ApiError> {
    context.require_any_role(GIFT_CARD_WRITERS)?;
    let code = parse_code(&path.1).ok_or_else(ApiError::not_found)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let card = gift_cards::expire(&mut tx, context.tenant.id, &code, crate::now_ms())
        .await
        .map_err(change_error)?;
    super::commit(tx).await?;
    Ok(Json(dto(&card, None)))
}
