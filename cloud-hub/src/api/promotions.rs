//! The tenant's promotions: percent or amount off an item, a category or the order, buy X get
//! Y, bulk prices; automatic or behind a code, in validity and weekly windows, for a membership
//! plan, for every outlet or some. Each change goes down the feeds of the outlets concerned,
//! where the tills apply it offline with `shared_model::promotions`.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::promotions::{self, StoredPromotion};
use crate::store::tenants::outlet_by_code;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::pricebook::WeeklyWindow;
use shared_model::pricing::UNIT_PRICE_MINOR_MAX;
use shared_model::promotions::{Activation, Promotion, PromotionRule, PromotionTarget};
use utoipa::ToSchema;

pub const PROMOTION_WRITERS: &[&str] = &["admin", "manager"];
pub const PROMOTION_READERS: &[&str] = &["admin", "manager", "service", "auditor", "analyst"];
/// Longest id, name, code, item or category. Why: labels on a receipt line and a till screen.
pub const PROMOTION_TEXT_CHARS_MAX: usize = 64;
/// Most units in a "buy X get Y" or bulk group. Why 100: a case of soda; more is a typo.
pub const PROMOTION_GROUP_UNITS_MAX: u32 = 100;
/// Most weekly windows on one promotion.
pub const PROMOTION_WINDOWS_MAX: usize = 21;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionRequest {
    pub name: String,
    /// e.g. `{"rule": "percent_off", "target": {"target": "category", "category": "beer"},
    /// "percent_bps": 2000}`; rules `percent_off`, `amount_off` (`amount_minor`),
    /// `buy_x_get_y` (`buy_quantity`, `get_quantity`, `get_percent_bps`), `bulk_price`
    /// (`quantity`, `price_minor`); targets `item` (`item_id`), `category` (`category`),
    /// `order`.
    #[schema(value_type = Object)]
    pub rule: PromotionRule,
    /// Applies only when the customer's code is entered at the till; absent: automatic.
    pub code: Option<String>,
    /// Higher applies first.
    #[serde(default)]
    pub priority: u32,
    /// Never combines with another promotion.
    #[serde(default)]
    pub exclusive: bool,
    pub valid_from_ms: Option<i64>,
    pub valid_until_ms: Option<i64>,
    /// Most redemptions; each till counts its own while offline.
    pub usage_limit: Option<u32>,
    /// Only for customers entitled to this plan.
    pub membership_plan: Option<String>,
    /// Weekly windows in the outlet's local time (`days_mask` bit 0 = Monday, minutes of the
    /// day); empty: at any time.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub windows: Vec<WeeklyWindow>,
    /// Outlet codes it is limited to; absent: every outlet, including outlets added later.
    pub outlets: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionDto {
    pub id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub rule: PromotionRule,
    pub code: Option<String>,
    pub priority: u32,
    pub exclusive: bool,
    pub valid_from_ms: Option<i64>,
    pub valid_until_ms: Option<i64>,
    pub usage_limit: Option<u32>,
    /// For a promotion with a usage limit: the uses the hub has counted across the tenant's
    /// outlets (orders not voided that carry it; tills offline may add theirs later).
    pub uses: Option<i64>,
    pub membership_plan: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub windows: Vec<WeeklyWindow>,
    pub outlets: Option<Vec<String>>,
}

fn text(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty()
        || value.chars().count() > PROMOTION_TEXT_CHARS_MAX
        || value.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            field,
            format!("1 to {PROMOTION_TEXT_CHARS_MAX} printable characters"),
        ));
    }
    Ok(value.to_owned())
}

fn check_target(target: &PromotionTarget) -> Result<(), ApiError> {
    match target {
        PromotionTarget::Item { item_id } => text("rule.target.item_id", &item_id.0).map(drop),
        PromotionTarget::Category { category } => text("rule.target.category", category).map(drop),
        PromotionTarget::Order => Ok(()),
    }
}

fn check_rule(rule: &PromotionRule) -> Result<(), ApiError> {
    let units = |field: &str, value: u32, min: u32| {
        if (min..=PROMOTION_GROUP_UNITS_MAX).contains(&value) {
            Ok(())
        } else {
            Err(ApiError::invalid(
                field,
                format!("{min} to {PROMOTION_GROUP_UNITS_MAX}"),
            ))
        }
    };
    let percent = |field: &str, value: u32| {
        if (1..=10_000).contains(&value) {
            Ok(())
        } else {
            Err(ApiError::invalid(field, "1 to 10000 basis points"))
        }
    };
    let money = |field: &str, value: i64, min: i64| {
        if (min..=UNIT_PRICE_MINOR_MAX).contains(&value) {
            Ok(())
        } else {
            Err(ApiError::invalid(
                field,
                format!("{min} to {UNIT_PRICE_MINOR_MAX}"),
            ))
        }
    };
    match rule {
        PromotionRule::PercentOff {
            target,
            percent_bps,
        } => {
            check_target(target)?;
            percent("rule.percent_bps", *percent_bps)
        }
        PromotionRule::AmountOff {
            target,
            amount_minor,
        } => {
            check_target(target)?;
            money("rule.amount_minor", *amount_minor, 1)
        }
        PromotionRule::BuyXGetY {
            target,
            buy_quantity,
            get_quantity,
            get_percent_bps,
        } => {
            check_target(target)?;
            units("rule.buy_quantity", *buy_quantity, 1)?;
            units("rule.get_quantity", *get_quantity, 1)?;
            percent("rule.get_percent_bps", *get_percent_bps)
        }
        PromotionRule::BulkPrice {
            target,
            quantity,
            price_minor,
        } => {
            check_target(target)?;
            units("rule.quantity", *quantity, 2)?;
            money("rule.price_minor", *price_minor, 0)
        }
    }
}

/// The promotion a request describes, checked field by field.
fn promotion(id: &str, request: &PromotionRequest) -> Result<Promotion, ApiError> {
    let id = text("id", id)?;
    check_rule(&request.rule)?;
    if let (Some(from), Some(until)) = (request.valid_from_ms, request.valid_until_ms)
        && from >= until
    {
        return Err(ApiError::invalid(
            "valid_until_ms",
            "must be after valid_from_ms",
        ));
    }
    if request.usage_limit == Some(0) {
        return Err(ApiError::invalid("usage_limit", "at least 1"));
    }
    if request.windows.len() > PROMOTION_WINDOWS_MAX
        || request.windows.iter().any(|window| {
            window.days_mask == 0
                || window.days_mask >= 1 << 7
                || window.start_minute >= 1_440
                || window.end_minute > 1_440
        })
    {
        return Err(ApiError::invalid(
            "windows",
            format!(
                "at most {PROMOTION_WINDOWS_MAX} windows, days_mask 1..127, start_minute < 1440, end_minute <= 1440"
            ),
        ));
    }
    let activation = match &request.code {
        None => Activation::Automatic,
        Some(code) => {
            let code = text("code", code)?;
            if code.len() < 3 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(ApiError::invalid(
                    "code",
                    "3 or more letters, digits or '-'",
                ));
            }
            Activation::Code { code }
        }
    };
    Ok(Promotion {
        id,
        name: text("name", &request.name)?,
        rule: request.rule.clone(),
        activation,
        priority: request.priority,
        exclusive: request.exclusive,
        valid_from_ms: request.valid_from_ms,
        valid_until_ms: request.valid_until_ms,
        usage_limit: request.usage_limit,
        membership_plan: request
            .membership_plan
            .as_deref()
            .map(|plan| text("membership_plan", plan))
            .transpose()?,
        windows: request.windows.clone(),
    })
}

fn dto(stored: StoredPromotion, outlets: Option<Vec<String>>, uses: i64) -> PromotionDto {
    let promotion = stored.promotion;
    PromotionDto {
        uses: promotion.usage_limit.map(|_| uses.max(0)),
        id: promotion.id,
        name: promotion.name,
        rule: promotion.rule,
        code: match promotion.activation {
            Activation::Automatic => None,
            Activation::Code { code } => Some(code),
        },
        priority: promotion.priority,
        exclusive: promotion.exclusive,
        valid_from_ms: promotion.valid_from_ms,
        valid_until_ms: promotion.valid_until_ms,
        usage_limit: promotion.usage_limit,
        membership_plan: promotion.membership_plan,
        windows: promotion.windows,
        outlets,
    }
}

/// Outlet codes of `ids`, from the tenant's outlets.
async fn codes_of(
    tx: &mut sqlx::PgConnection,
    tenant: crate::store::TenantId,
    ids: &[uuid::Uuid],
) -> Result<Vec<String>, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT code FROM outlets WHERE tenant_id = $1 AND id = ANY($2) ORDER BY code",
    )
    .bind(tenant.0)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await
    .map_err(crate::store::StoreError::from)?)
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/promotions",
    params(("tenant" = String, Path)),
    responses((status = 200, body = [PromotionDto]), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
) -> Result<Json<Vec<PromotionDto>>, ApiError> {
    context.require_any_role(PROMOTION_READERS)?;
    let tenant = context.tenant.id;
    let mut tx = super::tenant_tx(&state, tenant).await?;
    let mut dtos = Vec::new();
    let uses = promotions::use_counts(&mut tx, tenant).await?;
    for stored in promotions::list(&mut tx, tenant).await? {
        let used = uses.get(&stored.promotion.id).copied().unwrap_or(0);
        let outlets = match &stored.outlet_ids {
            Some(ids) => Some(codes_of(&mut tx, tenant, ids).await?),
            None => None,
        };
        dtos.push(dto(stored, outlets, used));
    }
    super::commit(tx).await?;
    Ok(Json(dtos))
}

/// Creates or replaces a promotion; the outlets concerned get it over their feed (and the
/// others its withdrawal).
#[utoipa::path(put, path = "/v1/{tenant}/pos/promotions/{id}",
    params(("tenant" = String, Path), ("id" = String, Path)),
    request_body = PromotionRequest,
    responses((status = 200, body = PromotionDto), (status = 201, body = PromotionDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    request: Result<Json<PromotionRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PromotionDto>), ApiError> {
    context.require_any_role(PROMOTION_WRITERS)?;
    let Json(request) = request
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    let promotion = promotion(&path.1, &request)?;
    let tenant = context.tenant.id;
    let mut tx = super::tenant_tx(&state, tenant).await?;
    let outlet_ids = match &request.outlets {
        None => None,
        Some(codes) => {
            let mut ids = Vec::with_capacity(codes.len());
            for code in codes {
                let outlet = outlet_by_code(&mut tx, tenant, code)
                    .await?
                    .ok_or_else(|| ApiError::invalid("outlets", format!("no outlet {code:?}")))?;
                ids.push(outlet.id);
            }
            Some(ids)
        }
    };
    let stored = StoredPromotion {
        promotion,
        outlet_ids,
    };
    let created = promotions::put(&mut tx, tenant, &stored).await?;
    let outlets = match &stored.outlet_ids {
        Some(ids) => Some(codes_of(&mut tx, tenant, ids).await?),
        None => None,
    };
    let used = promotions::use_counts(&mut tx, tenant)
        .await?
        .get(&stored.promotion.id)
        .copied()
        .unwrap_or(0);
    super::commit(tx).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(dto(stored, outlets, used))))
}

/// Withdraws a promotion from every outlet.
#[utoipa::path(delete, path = "/v1/{tenant}/pos/promotions/{id}",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    context.require_any_role(PROMOTION_WRITERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    if !promotions::remove(&mut tx, context.tenant.id, &path.1).await? {
        return Err(ApiError::not_found());
    }
    super::commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
