//! Floor plan and table routes.

use super::AppState;
use super::dto::{
    FloorPlanRequest, OpenTabRequest, OrderDto, SeatRequest, TabDto, TableDto, TransferRequest,
};
use super::error::{ApiError, ErrorBody};
use super::staff::uuid_path;
use crate::now_ms;
use crate::services::staff::Caller;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use shared_model::OrderId;

#[utoipa::path(get, path = "/v1/floor-plan",
    responses((status = 200, body = [TableDto])), security(("device_token" = [])))]
pub async fn floor(State(state): State<AppState>) -> Result<Json<Vec<TableDto>>, ApiError> {
    let tables = state.tables.floor().await?;
    Ok(Json(
        tables
            .into_iter()
            .map(|view| TableDto {
                code: view.table.code,
                area: view.table.area,
                seats: view.table.seats,
                status: view.status.as_str().to_owned(),
                order_id: view.order_id.map(|id| id.to_string()),
                guests: view.guests,
            })
            .collect(),
    ))
}

#[utoipa::path(put, path = "/v1/floor-plan", request_body = FloorPlanRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<FloorPlanRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(request) = body?;
    let tables = request
        .tables
        .into_iter()
        .map(|table| (table.area, table.code, table.seats))
        .collect();
    state.tables.replace_floor_plan(&caller, tables).await?;
    state.sync.notify_new_ops();
    Ok(StatusCode::NO_CONTENT)
}

/// Seats guests at a free table with a new dine-in order.
#[utoipa::path(post, path = "/v1/tables/{code}/orders", params(("code" = String, Path)),
    request_body = SeatRequest,
    responses((status = 201, body = OrderDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn seat(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<SeatRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderDto>), ApiError> {
    let Path(code) = path?;
    let Json(request) = body?;
    let order = state.tables.seat(code, request.guests, now_ms()).await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(OrderDto::from(&order))))
}

/// Moves an order and its guests to another, free table.
#[utoipa::path(post, path = "/v1/orders/{id}/transfer", params(("id" = String, Path)),
    request_body = TransferRequest,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn transfer(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<TransferRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let order_id = OrderId(uuid_path(path, "order_not_found", "order")?);
    let Json(request) = body?;
    match (request.table, request.server_id) {
        (Some(table), None) => state.tables.transfer(order_id, table, now_ms()).await?,
        (None, Some(server)) => {
            let server = server
                .parse()
                .map_err(|_| ApiError::invalid("server_id", "staff ids are UUIDs"))?;
            state
                .orders
                .hand_over(order_id, server, caller, now_ms())
                .await?;
        }
        _ => {
            return Err(ApiError::invalid(
                "table",
                "give a table to move to or a server_id to hand over to, one of them",
            ));
        }
    }
    state.sync.notify_new_ops();
    Ok(StatusCode::NO_CONTENT)
}

fn tab_dto(tab: &crate::store::Tab) -> TabDto {
    TabDto {
        name: tab.name.clone(),
        limit_minor: tab.limit_minor,
        preauth_ref: tab.preauth_ref.clone(),
        order: OrderDto::from(&tab.order),
    }
}

/// Opens a bar tab: a `bar_tab` order known by name. Lines, payments and closing use the order
/// routes; a line that would pass the limit is refused with `tab_limit_exceeded`.
#[utoipa::path(post, path = "/v1/tabs", request_body = OpenTabRequest,
    responses((status = 201, body = TabDto), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn open_tab(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<OpenTabRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<TabDto>), ApiError> {
    let Json(request) = body?;
    // The signed-in bartender or server serves the tab they open.
    let server = caller.staff.as_ref().map(|session| session.staff_id);
    let tab = state
        .tables
        .open_tab(
            request.name,
            request.limit_minor,
            request.preauth_ref,
            server,
            now_ms(),
        )
        .await?;
    state.sync.notify_new_ops();
    Ok((StatusCode::CREATED, Json(tab_dto(&tab))))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TabQuery {
    /// Part of the tab's name, any case.
    pub name: Option<String>,
}

/// Open tabs, oldest first: recall a tab by name.
#[utoipa::path(get, path = "/v1/tabs", params(TabQuery),
    responses((status = 200, body = [TabDto])), security(("device_token" = [])))]
pub async fn tabs(
    State(state): State<AppState>,
    query: Result<axum::extract::Query<TabQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<TabDto>>, ApiError> {
    let axum::extract::Query(query) = query?;
    let tabs = state.tables.tabs(query.name).await?;
    Ok(Json(tabs.iter().map(tab_dto).collect()))
}
