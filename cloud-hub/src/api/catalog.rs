//! Outlet catalog upload: the inventory service (or an admin) sets what an outlet sells and at
//! what price; changes reach the outlet's edge over the downstream feed.

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::store::feed::{catalog, remove_catalog_item, upsert_catalog};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared_model::tax::{BPS_WHOLE, TaxMode, TaxRate};
use shared_model::{CatalogItem, Unit};
use utoipa::ToSchema;

/// Roles that may change an outlet's catalog.
pub const CATALOG_WRITERS: &[&str] = &["admin", "manager", "service"];
/// Most items per upload. Why: one upload is one transaction; larger catalogs go in pages.
pub const ITEMS_PER_UPLOAD_MAX: usize = 1_000;
/// Most tax rates on one item.
pub const TAX_RATES_PER_ITEM_MAX: usize = 8;
/// Highest shelf price accepted, in minor units (a typo guard, far above any real price).
pub const PRICE_MINOR_MAX: i64 = 1_000_000_000_000;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRateDto {
    pub code: String,
    pub rate_bps: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogItemDto {
    /// Canonical item id from the inventory catalog.
    pub id: String,
    pub name: String,
    pub category: String,
    pub price_minor: i64,
    /// `inclusive` (price includes tax) or `exclusive`.
    pub tax_mode: String,
    pub tax_rates: Vec<TaxRateDto>,
    /// `each` (default), `kg` (priced per kilogram, sold by weight) or `litre`.
    #[serde(default = "unit_each")]
    pub unit: String,
    /// Needs the cashier to confirm the customer's age at the till (alcohol, tobacco).
    #[serde(default)]
    pub age_restricted: bool,
    /// Product barcodes (EAN-13/UPC) that scan to this item.
    #[serde(default)]
    pub barcodes: Vec<String>,
    /// Price look-up code for scale labels and produce keys.
    #[serde(default)]
    pub plu: Option<String>,
}

fn unit_each() -> String {
    "each".into()
}

/// Most barcodes on one item.
pub const BARCODES_PER_ITEM_MAX: usize = 16;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogUpload {
    pub items: Vec<CatalogItemDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogUploadResult {
    pub changed: usize,
    pub unchanged: usize,
    /// The outlet feed's sequence after this upload; an edge holding it has the change.
    pub feed_through_seq: u64,
}

fn valid_text(text: &str, max: usize) -> bool {
    !text.trim().is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
}

fn parse_item(index: usize, dto: &CatalogItemDto) -> Result<CatalogItem, ApiError> {
    let field = |name: &str| format!("items[{index}].{name}");
    let id_ok = !dto.id.is_empty()
        && dto.id.len() <= 64
        && dto
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if !id_ok {
        return Err(ApiError::invalid(
            &field("id"),
            "1-64 letters, digits, '-', '_', '.', ':'",
        ));
    }
    if !valid_text(&dto.name, 120) {
        return Err(ApiError::invalid(
            &field("name"),
            "1-120 printable characters",
        ));
    }
    if !valid_text(&dto.category, 60) {
        return Err(ApiError::invalid(
            &field("category"),
            "1-60 printable characters",
        ));
    }
    if !(0..=PRICE_MINOR_MAX).contains(&dto.price_minor) {
        return Err(ApiError::invalid(
            &field("price_minor"),
            format!("0 to {PRICE_MINOR_MAX}"),
        ));
    }
    let tax_mode = match dto.tax_mode.as_str() {
        "inclusive" => TaxMode::Inclusive,
        "exclusive" => TaxMode::Exclusive,
        _ => {
            return Err(ApiError::invalid(
                &field("tax_mode"),
                "inclusive or exclusive",
            ));
        }
    };
    if dto.tax_rates.len() > TAX_RATES_PER_ITEM_MAX {
        return Err(ApiError::invalid(
            &field("tax_rates"),
            format!("at most {TAX_RATES_PER_ITEM_MAX}"),
        ));
    }
    let mut tax_rates = Vec::with_capacity(dto.tax_rates.len());
    for rate in &dto.tax_rates {
        if !valid_text(&rate.code, 16) || rate.rate_bps > BPS_WHOLE {
            return Err(ApiError::invalid(
                &field("tax_rates"),
                "code of 1-16 characters, rate_bps 0-10000",
            ));
        }
        tax_rates.push(TaxRate::new(rate.code.clone(), rate.rate_bps));
    }
    let unit = match dto.unit.as_str() {
        "each" => Unit::Each,
        "kg" => Unit::Kilogram,
        "litre" => Unit::Litre,
        _ => return Err(ApiError::invalid(&field("unit"), "each, kg or litre")),
    };
    if dto.barcodes.len() > BARCODES_PER_ITEM_MAX
        || dto
            .barcodes
            .iter()
            .any(|code| shared_model::barcode::Ean13::parse(code).is_err())
    {
        return Err(ApiError::invalid(
            &field("barcodes"),
            format!("at most {BARCODES_PER_ITEM_MAX} valid EAN-13 codes"),
        ));
    }
    if dto.plu.as_deref().is_some_and(|plu| {
        plu.is_empty() || plu.len() > 10 || !plu.chars().all(|c| c.is_ascii_digit())
    }) {
        return Err(ApiError::invalid(&field("plu"), "1-10 digits"));
    }
    let mut item = CatalogItem::simple(
        &dto.id,
        dto.name.trim(),
        dto.category.trim(),
        dto.price_minor,
        tax_mode,
        tax_rates,
    );
    item.unit = unit;
    item.age_restricted = dto.age_restricted;
    item.barcodes = dto
        .barcodes
        .iter()
        .map(|code| code.trim().to_owned())
        .collect();
    item.plu = dto.plu.clone();
    Ok(item)
}

fn to_dto(item: &CatalogItem) -> CatalogItemDto {
    CatalogItemDto {
        id: item.id.0.clone(),
        name: item.name.clone(),
        category: item.category.clone(),
        price_minor: item.price_minor,
        tax_mode: match item.tax_mode {
            TaxMode::Inclusive => "inclusive".into(),
            TaxMode::Exclusive => "exclusive".into(),
        },
        tax_rates: item
            .tax_rates
            .iter()
            .map(|r| TaxRateDto {
                code: r.code.clone(),
                rate_bps: r.rate_bps,
            })
            .collect(),
        unit: match item.unit {
            Unit::Each => "each",
            Unit::Kilogram => "kg",
            Unit::Litre => "litre",
        }
        .into(),
        age_restricted: item.age_restricted,
        barcodes: item.barcodes.clone(),
        plu: item.plu.clone(),
    }
}

#[utoipa::path(put, path = "/v1/{tenant}/pos/outlets/{outlet}/catalog/items",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    request_body = CatalogUpload,
    responses((status = 200, body = CatalogUploadResult), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    body: Result<Json<CatalogUpload>, JsonRejection>,
) -> Result<Json<CatalogUploadResult>, ApiError> {
    context.require_any_role(CATALOG_WRITERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let Json(upload) = body
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    if upload.items.is_empty() || upload.items.len() > ITEMS_PER_UPLOAD_MAX {
        return Err(ApiError::invalid(
            "items",
            format!("1 to {ITEMS_PER_UPLOAD_MAX} items per upload"),
        ));
    }
    let items = upload
        .items
        .iter()
        .enumerate()
        .map(|(index, dto)| parse_item(index, dto))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = std::collections::HashSet::new();
    if let Some(duplicate) = items.iter().find(|item| !seen.insert(item.id.0.clone())) {
        return Err(ApiError::invalid(
            "items",
            format!("item {} appears twice", duplicate.id),
        ));
    }
    let outcome = upsert_catalog(&mut tx, context.tenant.id, outlet, &items).await?;
    super::commit(tx).await?;
    Ok(Json(CatalogUploadResult {
        changed: outcome.changed,
        unchanged: outcome.unchanged,
        feed_through_seq: outcome.feed_through_seq,
    }))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/catalog/items",
    params(("tenant" = String, Path), ("outlet" = String, Path, description = "outlet code")),
    responses((status = 200, body = [CatalogItemDto]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<CatalogItemDto>>, ApiError> {
    context.require_any_role(&["admin", "manager", "service", "analyst", "auditor"])?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let items = catalog(&mut tx, context.tenant.id, outlet).await?;
    super::commit(tx).await?;
    Ok(Json(items.iter().map(to_dto).collect()))
}

#[utoipa::path(delete, path = "/v1/{tenant}/pos/outlets/{outlet}/catalog/items/{item_id}",
    params(("tenant" = String, Path), ("outlet" = String, Path), ("item_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    context.require_any_role(CATALOG_WRITERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let removed = remove_catalog_item(&mut tx, context.tenant.id, outlet, &path.2).await?;
    super::commit(tx).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// Most groups on an item, options in a group, and choices allowed in one group. Why: a
/// burger's build-your-own screen; more is a menu design error, and the bounds keep the feed
/// entry small.
pub const MODIFIER_GROUPS_PER_ITEM_MAX: usize = 16;
pub const MODIFIER_OPTIONS_PER_GROUP_MAX: usize = 50;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemModifiersDto {
    /// e.g. `[{"id": "milk", "name": "Milk", "min_choices": 1, "max_choices": 1, "options":
    /// [{"id": "whole", "name": "Whole"}, {"id": "oat", "name": "Oat", "price_delta_minor":
    /// 5000, "nested_groups": []}]}]`; `min_choices` 1 or more makes a group required.
    #[schema(value_type = Vec<Object>)]
    pub groups: Vec<shared_model::modifiers::ModifierGroup>,
    /// The outlet's feed position that carries the change (on writes).
    #[serde(default)]
    pub feed_through_seq: Option<u64>,
}

fn check_label(field: &str, text: &str) -> Result<(), ApiError> {
    let count = text.chars().count();
    if text.trim().is_empty() || count > 64 || text.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "1 to 64 printable characters"));
    }
    Ok(())
}

fn check_groups(
    field: &str,
    groups: &[shared_model::modifiers::ModifierGroup],
    depth: usize,
) -> Result<(), ApiError> {
    if depth > shared_model::modifiers::MODIFIER_DEPTH_MAX {
        return Err(ApiError::invalid(
            field,
            format!(
                "modifiers nest at most {} levels",
                shared_model::modifiers::MODIFIER_DEPTH_MAX
            ),
        ));
    }
    if groups.len() > MODIFIER_GROUPS_PER_ITEM_MAX {
        return Err(ApiError::invalid(
            field,
            format!("at most {MODIFIER_GROUPS_PER_ITEM_MAX} groups"),
        ));
    }
    for (index, group) in groups.iter().enumerate() {
        let at = format!("{field}[{index}]");
        check_label(&format!("{at}.id"), &group.id)?;
        check_label(&format!("{at}.name"), &group.name)?;
        if groups[..index].iter().any(|other| other.id == group.id) {
            return Err(ApiError::invalid(
                &format!("{at}.id"),
                "group ids are unique",
            ));
        }
        if group.options.is_empty() || group.options.len() > MODIFIER_OPTIONS_PER_GROUP_MAX {
            return Err(ApiError::invalid(
                &format!("{at}.options"),
                format!("1 to {MODIFIER_OPTIONS_PER_GROUP_MAX} options"),
            ));
        }
        if group.max_choices == 0
            || group.min_choices > group.max_choices
            || usize::from(group.min_choices) > group.options.len()
        {
            return Err(ApiError::invalid(
                &format!("{at}.max_choices"),
                "1 or more, at least min_choices, and min_choices no more than the options",
            ));
        }
        for (n, option) in group.options.iter().enumerate() {
            let at = format!("{at}.options[{n}]");
            check_label(&format!("{at}.id"), &option.id)?;
            check_label(&format!("{at}.name"), &option.name)?;
            if group.options[..n].iter().any(|other| other.id == option.id) {
                return Err(ApiError::invalid(
                    &format!("{at}.id"),
                    "option ids are unique in a group",
                ));
            }
            if option.price_delta_minor.abs() > PRICE_MINOR_MAX {
                return Err(ApiError::invalid(
                    &format!("{at}.price_delta_minor"),
                    format!("between -{PRICE_MINOR_MAX} and {PRICE_MINOR_MAX}"),
                ));
            }
            check_groups(
                &format!("{at}.nested_groups"),
                &option.nested_groups,
                depth + 1,
            )?;
        }
    }
    Ok(())
}

/// Sets the modifier groups an item offers at the outlet (replacing what it had; empty: none).
/// The till validates and prices choices with them offline.
#[utoipa::path(put, path = "/v1/{tenant}/pos/outlets/{outlet}/catalog/items/{item_id}/modifiers",
    params(("tenant" = String, Path), ("outlet" = String, Path), ("item_id" = String, Path)),
    request_body = ItemModifiersDto,
    responses((status = 200, body = ItemModifiersDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_modifiers(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
    request: Result<Json<ItemModifiersDto>, JsonRejection>,
) -> Result<Json<ItemModifiersDto>, ApiError> {
    context.require_any_role(CATALOG_WRITERS)?;
    let Json(request) = request
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    check_groups("groups", &request.groups, 1)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let seq = crate::store::feed::set_item_modifiers(
        &mut tx,
        context.tenant.id,
        outlet,
        &path.2,
        &request.groups,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(ItemModifiersDto {
        groups: request.groups,
        feed_through_seq: Some(seq),
    }))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/catalog/items/{item_id}/modifiers",
    params(("tenant" = String, Path), ("outlet" = String, Path), ("item_id" = String, Path)),
    responses((status = 200, body = ItemModifiersDto), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_modifiers(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
) -> Result<Json<ItemModifiersDto>, ApiError> {
    context.require_any_role(&["admin", "manager", "service", "analyst", "auditor"])?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let groups = crate::store::feed::item_modifiers(&mut tx, context.tenant.id, outlet, &path.2)
        .await?
        .ok_or_else(ApiError::not_found)?;
    super::commit(tx).await?;
    Ok(Json(ItemModifiersDto {
        groups,
        feed_through_seq: None,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComboDto {
    /// Absent in requests (the path names it).
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// What the whole combo costs before upcharges; shared over its lines by shelf price.
    pub price_minor: i64,
    /// e.g. `[{"id": "main", "name": "Main", "options": [{"item_id": "sku-burger"}]},
    /// {"id": "drink", "name": "Drink", "options": [{"item_id": "sku-soda"}, {"item_id":
    /// "sku-shake", "upcharge_minor": 5000}]}]`.
    #[schema(value_type = Vec<Object>)]
    pub slots: Vec<shared_model::modifiers::ComboSlot>,
}

fn check_combo(id: &str, request: ComboDto) -> Result<shared_model::modifiers::Combo, ApiError> {
    check_label("id", id)?;
    check_label("name", &request.name)?;
    if !(0..=PRICE_MINOR_MAX).contains(&request.price_minor) {
        return Err(ApiError::invalid(
            "price_minor",
            format!("0 to {PRICE_MINOR_MAX}"),
        ));
    }
    if request.slots.is_empty() || request.slots.len() > shared_model::modifiers::COMBO_SLOTS_MAX {
        return Err(ApiError::invalid(
            "slots",
            format!("1 to {} slots", shared_model::modifiers::COMBO_SLOTS_MAX),
        ));
    }
    for (index, slot) in request.slots.iter().enumerate() {
        let at = format!("slots[{index}]");
        check_label(&format!("{at}.id"), &slot.id)?;
        check_label(&format!("{at}.name"), &slot.name)?;
        if request.slots[..index]
            .iter()
            .any(|other| other.id == slot.id)
        {
            return Err(ApiError::invalid(
                &format!("{at}.id"),
                "slot ids are unique",
            ));
        }
        if slot.options.is_empty() || slot.options.len() > MODIFIER_OPTIONS_PER_GROUP_MAX {
            return Err(ApiError::invalid(
                &format!("{at}.options"),
                format!("1 to {MODIFIER_OPTIONS_PER_GROUP_MAX} items"),
            ));
        }
        if slot
            .options
            .iter()
            .any(|option| !(0..=PRICE_MINOR_MAX).contains(&option.upcharge_minor))
        {
            return Err(ApiError::invalid(
                &format!("{at}.options"),
                format!("upcharges are 0 to {PRICE_MINOR_MAX}"),
            ));
        }
    }
    Ok(shared_model::modifiers::Combo {
        id: id.to_owned(),
        name: request.name,
        price_minor: request.price_minor,
        slots: request.slots,
    })
}

/// Creates or replaces a combo the outlet sells; every slot item must be in its catalog.
#[utoipa::path(put, path = "/v1/{tenant}/pos/outlets/{outlet}/combos/{combo_id}",
    params(("tenant" = String, Path), ("outlet" = String, Path), ("combo_id" = String, Path)),
    request_body = ComboDto,
    responses((status = 200, body = ComboDto), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_combo(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
    request: Result<Json<ComboDto>, JsonRejection>,
) -> Result<Json<ComboDto>, ApiError> {
    context.require_any_role(CATALOG_WRITERS)?;
    let Json(request) = request
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))?;
    let combo = check_combo(&path.2, request)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    if let Err(missing) =
        crate::store::feed::put_combo(&mut tx, context.tenant.id, outlet, &combo).await?
    {
        return Err(ApiError::invalid(
            "slots",
            format!("item {missing} is not in the outlet's catalog"),
        ));
    }
    super::commit(tx).await?;
    Ok(Json(ComboDto {
        id: Some(combo.id),
        name: combo.name,
        price_minor: combo.price_minor,
        slots: combo.slots,
    }))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/outlets/{outlet}/combos",
    params(("tenant" = String, Path), ("outlet" = String, Path)),
    responses((status = 200, body = [ComboDto]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_combos(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<Vec<ComboDto>>, ApiError> {
    context.require_any_role(&["admin", "manager", "service", "analyst", "auditor"])?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let combos = crate::store::feed::combos(&mut tx, context.tenant.id, outlet).await?;
    super::commit(tx).await?;
    Ok(Json(
        combos
            .into_iter()
            .map(|combo| ComboDto {
                id: Some(combo.id),
                name: combo.name,
                price_minor: combo.price_minor,
                slots: combo.slots,
            })
            .collect(),
    ))
}

#[utoipa::path(delete, path = "/v1/{tenant}/pos/outlets/{outlet}/combos/{combo_id}",
    params(("tenant" = String, Path), ("outlet" = String, Path), ("combo_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn remove_combo(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    context.require_any_role(CATALOG_WRITERS)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let outlet = super::outlets::resolve(&state, &mut tx, &context, &path.1)
        .await?
        .id;
    let removed =
        crate::store::feed::remove_combo(&mut tx, context.tenant.id, outlet, &path.2).await?;
    super::commit(tx).await?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
