//! Price books and the outlet configuration profile. Both are edited here and reach the
//! outlet's edge over the downstream feed: a happy-hour book uploaded at 16:55 prices the
//! 17:00 round at the bar, online or not.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::outlet_settings::{
    ConfigConflict, outlet_config, price_books, remove_price_book, set_outlet_config,
    upsert_price_book,
};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use shared_model::Tender;
use shared_model::catalog::ItemId;
use shared_model::outlet::OutletConfig;
use shared_model::pricebook::{Channel, PriceBook, PriceBookScope, WeeklyWindow};
use utoipa::ToSchema;

/// Roles that may change prices.
pub const PRICE_WRITERS: &[&str] = &["admin", "manager", "service"];
/// Roles that may change an outlet's configuration.
pub const CONFIG_WRITERS: &[&str] = &["admin", "manager"];
const READERS: &[&str] = &["admin", "manager", "service", "analyst", "auditor"];
/// Most prices in one book. Why: a book is one feed entry and one transaction; this keeps the
/// entry well under the feed's frame limit and the request under the body limit.
pub const PRICES_PER_BOOK_MAX: usize = 10_000;
/// Most time windows in one book (two a day for a week).
pub const WINDOWS_PER_BOOK_MAX: usize = 14;
const PRICE_MINOR_MAX: i64 = super::catalog::PRICE_MINOR_MAX;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowDto {
    /// Days the window opens on: `mon` … `sun`.
    pub days: Vec<String>,
    /// Outlet-local opening time, `HH:MM`.
    pub start: String,
    /// Outlet-local closing time, `HH:MM` (exclusive); at or before `start` means the next day.
    pub end: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceDto {
    pub item_id: String,
    pub price_minor: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBookDto {
    pub name: String,
    /// `base`, `channel`, `region`, `time_window`, `membership` or `outlet_override`; a later
    /// one in this list wins over an earlier one when both apply.
    pub scope: String,
    /// For `channel`: `dine_in`, `take_out`, `delivery`, `ecommerce`, `wholesale`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// For `region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// For `membership`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// For `outlet_override`: the outlet code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlet: Option<String>,
    /// For `time_window`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowDto>,
    /// Tie-break between books of the same scope: higher wins.
    #[serde(default)]
    pub priority: u32,
    pub prices: Vec<PriceDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PriceBookView {
    pub id: String,
    #[serde(flatten)]
    pub book: PriceBookDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedWriteResult {
    pub changed: bool,
    /// The outlet feed's sequence after this write; an edge holding it has the change.
    pub feed_through_seq: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutletConfigDto {
    /// IANA time zone name, e.g. `Africa/Nairobi`.
    pub timezone: String,
    /// Minutes east of UTC (Nairobi: 180); time-window price books follow this local time.
    pub utc_offset_minutes: i32,
    #[serde(default)]
    pub region: Option<String>,
    /// `cash`, `card`, `mpesa`, `gift_card`; empty takes every tender.
    #[serde(default)]
    pub accepted_tenders: Vec<String>,
    #[serde(default)]
    pub receipt_header: String,
    #[serde(default)]
    pub receipt_footer: String,
    /// A drawer counted off by more than this raises `pos.cash_exception` (default 50000).
    #[serde(default)]
    pub cash_exception_threshold_minor: Option<i64>,
    /// Card payments the card terminal approves offline (store-and-forward) while the link is
    /// down: the largest one, the most outstanding at once, and the hours before an unconfirmed
    /// one is flagged. Default 1000000 / 5000000 / 24.
    #[serde(default)]
    pub offline_card: Option<OfflineCardLimitsDto>,
    /// Cash collected to a step when the smallest coins are gone, e.g.
    /// `{"increment_minor": 100, "mode": "nearest"}` (whole shillings; `down`, `up`); absent:
    /// cash to the cent.
    #[serde(default)]
    pub cash_rounding: Option<CashRoundingDto>,
    /// How taxes are rounded: `{"rounding": "half_up"|"half_even", "level":
    /// "per_line"|"per_invoice"}`; absent: per line, half up.
    #[serde(default)]
    pub tax_policy: Option<TaxPolicyDto>,
    /// When the outlet trades, on its clock: `[{"days": ["mon", ...], "start": "08:00", "end":
    /// "22:00"}]` (an end at or before the start closes the next day); empty: always. Orders
    /// from the cloud are refused outside them (`outlet_closed`).
    #[serde(default)]
    pub operating_hours: Vec<WindowDto>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CashRoundingDto {
    pub increment_minor: i64,
    /// `nearest` (default), `down` or `up`.
    #[serde(default)]
    #[schema(value_type = String)]
    pub mode: shared_model::cash_rounding::CashRoundingMode,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxPolicyDto {
    /// `half_up` (default) or `half_even`.
    #[serde(default)]
    #[schema(value_type = String)]
    pub rounding: shared_model::tax::RoundingMode,
    /// `per_line` (default) or `per_invoice`.
    #[serde(default)]
    #[schema(value_type = String)]
    pub level: shared_model::tax::TaxRoundingLevel,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineCardLimitsDto {
    pub per_payment_max_minor: i64,
    pub outstanding_max_minor: i64,
    pub max_age_hours: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutletConfigView {
    /// Send it back as `If-Match` to update only what you read.
    pub version: i64,
    pub config: OutletConfigDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_through_seq: Option<u64>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

fn valid_text(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

fn parse_time(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    // 24:00 closes a window at midnight.
    ((hours < 24 && minutes < 60) || (hours == 24 && minutes == 0)).then_some(hours * 60 + minutes)
}

fn format_time(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::DineIn => "dine_in",
        Channel::TakeOut => "take_out",
        Channel::Delivery => "delivery",
        Channel::Ecommerce => "ecommerce",
        Channel::Wholesale => "wholesale",
    }
}

/// Weekly windows as the API takes them; errors name `{list}[i].{field}`.
fn parse_windows(list: &str, dtos: &[WindowDto]) -> Result<Vec<WeeklyWindow>, ApiError> {
    let mut windows = Vec::with_capacity(dtos.len());
    for (index, window) in dtos.iter().enumerate() {
        let field = |name: &str| format!("{list}[{index}].{name}");
        let mut days_mask = 0_u8;
        for day in &window.days {
            let position = DAYS.iter().position(|d| d == day).ok_or_else(|| {
                ApiError::invalid(&field("days"), "mon, tue, wed, thu, fri, sat, sun")
            })?;
            days_mask |= 1 << position;
        }
        if days_mask == 0 {
            return Err(ApiError::invalid(&field("days"), "at least one day"));
        }
        let start = parse_time(&window.start)
            .filter(|minute| *minute < 24 * 60)
            .ok_or_else(|| ApiError::invalid(&field("start"), "HH:MM, 00:00 to 23:59"))?;
        let end = parse_time(&window.end)
            .ok_or_else(|| ApiError::invalid(&field("end"), "HH:MM, 00:00 to 24:00"))?;
        windows.push(WeeklyWindow {
            days_mask,
            start_minute: start,
            end_minute: end,
        });
    }
    Ok(windows)
}

/// Weekly windows as the API shows them.
fn window_dtos(windows: &[WeeklyWindow]) -> Vec<WindowDto> {
    windows
        .iter()
        .map(|w| WindowDto {
            days: DAYS
                .iter()
                .enumerate()
                .filter(|(i, _)| w.days_mask & (1 << i) != 0)
                .map(|(_, d)| (*d).to_owned())
                .collect(),
            start: format_time(w.start_minute),
            end: format_time(w.end_minute),
        })
        .collect()
}

fn parse_book(id: &str, dto: &PriceBookDto) -> Result<PriceBook, ApiError> {
    if !valid_id(id) {
        return Err(ApiError::invalid(
            "book_id",
            "1-64 letters, digits, '-', '_', '.', ':'",
        ));
    }
    if !valid_text(&dto.name, 120) {
        return Err(ApiError::invalid("name", "1-120 printable characters"));
    }
    let required = |value: &Option<String>, field: &str| -> Result<String, ApiError> {
        match value {
            Some(text) if valid_text(text, 64) => Ok(text.trim().to_owned()),
            _ => Err(ApiError::invalid(
                field,
                format!("{field} is required for this scope"),
            )),
        }
    };
    let scope = match dto.scope.as_str() {
        "base" => PriceBookScope::Base,
        "channel" => {
            let name = required(&dto.channel, "channel")?;
            let channel = [
                Channel::DineIn,
                Channel::TakeOut,
                Channel::Delivery,
                Channel::Ecommerce,
                Channel::Wholesale,
            ]
            .into_iter()
            .find(|c| channel_name(*c) == name)
            .ok_or_else(|| {
                ApiError::invalid(
                    "channel",
                    "dine_in, take_out, delivery, ecommerce or wholesale",
                )
            })?;
            PriceBookScope::Channel { channel }
        }
        "region" => PriceBookScope::Region {
            region: required(&dto.region, "region")?,
        },
        "membership" => PriceBookScope::Membership {
            plan: required(&dto.plan, "plan")?,
        },
        "outlet_override" => PriceBookScope::OutletOverride {
            outlet: required(&dto.outlet, "outlet")?,
        },
        "time_window" => {
            if dto.windows.is_empty() || dto.windows.len() > WINDOWS_PER_BOOK_MAX {
                return Err(ApiError::invalid(
                    "windows",
                    format!("1 to {WINDOWS_PER_BOOK_MAX} windows"),
                ));
            }
            PriceBookScope::TimeWindow {
                windows: parse_windows("windows", &dto.windows)?,
            }
        }
        _ => {
            return Err(ApiError::invalid(
                "scope",
                "base, channel, region, time_window, membership or outlet_override",
            ));
        }
    };
    if dto.prices.is_empty() || dto.prices.len() > PRICES_PER_BOOK_MAX {
        return Err(ApiError::invalid(
            "prices",
            format!("1 to {PRICES_PER_BOOK_MAX} prices"),
        ));
    }
    let mut prices = std::collections::BTreeMap::new();
    for (index, price) in dto.prices.iter().enumerate() {
        if !valid_id(&price.item_id) {
            return Err(ApiError::invalid(
                &format!("prices[{index}].item_id"),
                "1-64 letters, digits, '-', '_', '.', ':'",
            ));
        }
        if !(0..=PRICE_MINOR_MAX).contains(&price.price_minor) {
            return Err(ApiError::invalid(
                &format!("prices[{index}].price_minor"),
                format!("0 to {PRICE_MINOR_MAX}"),
            ));
        }
        if prices
            .insert(ItemId(price.item_id.clone()), price.price_minor)
            .is_some()
        {
            return Err(ApiError::invalid(
                &format!("prices[{index}].item_id"),
                format!("item {} is priced twice", price.item_id),
            ));
        }
    }
    Ok(PriceBook {
        id: id.to_owned(),
        name: dto.name.trim().to_owned(),
        scope,
        priority: dto.priority,
        prices,
    })
}

fn book_view(book: &PriceBook) -> PriceBookView {
    let mut dto = PriceBookDto {
        name: book.name.clone(),
        scope: String::new(),
        channel: None,
        region: None,
        plan: None,
        outlet: None,
        windows: Vec::new(),
        priority: book.priority,
        prices: book
            .prices
            .iter()
            .map(|(item, price)| PriceDto {
                item_id: item.0.clone(),
                price_minor: *price,
            })
            .collect(),
    };
    dto.scope = match &book.scope {
        PriceBookScope::Base => "base",
        PriceBookScope::Channel { channel } => {
            dto.channel = Some(channel_name(*channel).to_owned());
            "channel"
        }
        PriceBookScope::Region { region } => {
            dto.region = Some(region.clone());
            "region"
        }
        PriceBookScope::TimeWindow { windows } => {
            dto.windows = window_dtos(windows);
            "time_window"
        }
        PriceBookScope::Membership { plan } => {
            dto.plan = Some(plan.clone());
            "membership"
        }
        PriceBookScope::OutletOverride { outlet } => {
            dto.outlet = Some(outlet.clone());
            "outlet_override"
        }
    }
    .to_owned();
    PriceBookView {
        id: book.id.clone(),
        book: dto,
    }
}

fn parse_config(dto: &OutletConfigDto) -> Result<OutletConfig, ApiError> {
    let mut accepted = Vec::with_capacity(dto.accepted_tenders.len());
    for (index, name) in dto.accepted_tenders.iter().enumerate() {
        let tender = Tender::parse(name).ok_or_else(|| {
            ApiError::invalid(
                &format!("accepted_tenders[{index}]"),
                "cash, card, mpesa or gift_card",
            )
        })?;
        accepted.push(tender);
    }
    let config = OutletConfig {
        timezone: dto.timezone.trim().to_owned(),
        utc_offset_minutes: dto.utc_offset_minutes,
        region: dto.region.as_ref().map(|r| r.trim().to_owned()),
        accepted_tenders: accepted,
        receipt_header: dto.receipt_header.clone(),
        receipt_footer: dto.receipt_footer.clone(),
        cash_exception_threshold_minor: dto.cash_exception_threshold_minor,
        offline_card: dto
            .offline_card
            .map(|limits| shared_model::outlet::OfflineCardLimits {
                per_payment_max_minor: limits.per_payment_max_minor,
                outstanding_max_minor: limits.outstanding_max_minor,
                max_age_hours: limits.max_age_hours,
            }),
        cash_rounding: dto
            .cash_rounding
            .map(|rule| {
                shared_model::cash_rounding::CashRounding::new(rule.increment_minor, rule.mode)
                    .map_err(|error| {
                        ApiError::invalid("cash_rounding.increment_minor", error.to_string())
                    })
            })
            .transpose()?,
        tax_policy: dto.tax_policy.map(|policy| shared_model::tax::TaxPolicy {
            rounding: policy.rounding,
            level: policy.level,
        }),
        operating_hours: parse_windows("operating_hours", &dto.operating_hours)?,
    };
    config
        .validate()
        .map_err(|error| ApiError::invalid(error.field(), error.to_string()))?;
    Ok(config)
}

fn config_dto(config: &OutletConfig) -> OutletConfigDto {
    OutletConfigDto {
        timezone: config.timezone.clone(),
        utc_offset_minutes: config.utc_offset_minutes,
        region: config.region.clone(),
        accepted_tenders: config
            .accepted_tenders
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        receipt_header: config.receipt_header.clone(),
        receipt_footer: config.receipt_footer.clone(),
        cash_exception_threshold_minor: config.cash_exception_threshold_minor,
        offline_card: config.offline_card.map(|limits| OfflineCardLimitsDto {
            per_payment_max_minor: limits.per_payment_max_minor,
            outstanding_max_minor: limits.outstanding_max_minor,
            max_age_hours: limits.max_age_hours,
        }),
        cash_rounding: config.cash_rounding.map(|rule| CashRoundingDto {
            increment_minor: rule.increment_minor(),
            mode: rule.mode(),
        }),
        tax_policy: config.tax_policy.map(|policy| TaxPolicyDto {
            rounding: policy.rounding,
            level: policy.level,
        }),
        operating_hours: window_dtos(&config.operating_hours),
    }
}

fn body_error(error: JsonRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_body",
        error.body_text(),
        None,
    )
}

#[utoipa::path(put, path = "/v1/{tenant}/pos/outlets/{outlet}/price-books/{book_id}",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code"), ("book_id" = String, Path)),
    request_body = PriceBookDto,
    responses((status = 200, body = FeedWriteResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_price_book(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
    body: Result<Json<PriceBookDto>, JsonRejection>,
) -> Result<Json<FeedWriteResult>, ApiError> {
    context.require_any_role(PRICE_WRITERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let Json(dto) = body.map_err(body_error)?;
    let book = parse_book(&path.2, &dto)?;
    let write = upsert_price_book(&mut tx, context.tenant.id, outlet, &book).await?;
    super::commit(tx).await?;
    Ok(Json(FeedWriteResult {
        changed: write.changed,
        feed_through_seq: write.feed_through_seq,
    }))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/price-books",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    responses((status = 200, body = [PriceBookView]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_price_books(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<PriceBookView>>, ApiError> {
    context.require_any_role(READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let books = price_books(&mut tx, context.tenant.id, outlet).await?;
    super::commit(tx).await?;
    Ok(Json(books.iter().map(book_view).collect()))
}

#[utoipa::path(delete, path = "/v1/{tenant}/pos/outlets/{outlet}/price-books/{book_id}",
    params(("tenant" = String, Path), ("outlet" = String, Path), ("book_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_price_book(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    context.require_any_role(PRICE_WRITERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let removed = remove_price_book(&mut tx, context.tenant.id, outlet, &path.2).await?;
    super::commit(tx).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/config",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    responses((status = 200, body = OutletConfigView), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_config(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<OutletConfigView>, ApiError> {
    context.require_any_role(READERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1).await?;
    let stored = outlet_config(&mut tx, context.tenant.id, outlet.id).await?;
    super::commit(tx).await?;
    // Never set: the outlet's registered time zone, every tender, plain receipts (version 0).
    let (config, version) = stored.unwrap_or_else(|| {
        let offset = shared_model::outlet::fixed_offset_minutes(&outlet.timezone).unwrap_or(0);
        (OutletConfig::in_zone(&outlet.timezone, offset), 0)
    });
    Ok(Json(OutletConfigView {
        version,
        config: config_dto(&config),
        feed_through_seq: None,
    }))
}

#[utoipa::path(put, path = "/v1/{tenant}/pos/outlets/{outlet}/config",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code"),
        ("If-Match" = Option<String>, Header, description = "the version you read; refused with 412 if it changed since")),
    request_body = OutletConfigDto,
    responses((status = 200, body = OutletConfigView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_config(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<OutletConfigDto>, JsonRejection>,
) -> Result<Json<OutletConfigView>, ApiError> {
    context.require_any_role(CONFIG_WRITERS)?;
    let expected = match headers.get(axum::http::header::IF_MATCH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .map(|text| text.trim().trim_matches('"'))
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or_else(|| ApiError::invalid("If-Match", "the version number you read"))?,
        ),
    };
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let Json(dto) = body.map_err(body_error)?;
    let config = parse_config(&dto)?;
    let (version, write) = match set_outlet_config(
        &mut tx,
        context.tenant.id,
        outlet,
        &config,
        expected,
    )
    .await?
    {
        Ok(done) => done,
        Err(ConfigConflict::Stale { current }) => {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version_conflict",
                format!(
                    "the configuration changed since you read it: it is at version {current} now"
                ),
                Some("If-Match"),
            ));
        }
    };
    super::commit(tx).await?;
    Ok(Json(OutletConfigView {
        version,
        config: config_dto(&config),
        feed_through_seq: Some(write.feed_through_seq),
    }))
}
