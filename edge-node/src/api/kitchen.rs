//! Kitchen routes: send an order, routing rules, KDS tickets and actions, all-day counts, and
//! the live WebSocket stream.

use super::AppState;
use super::dto::{
    AllDayCountDto, KitchenRouteDto, KitchenRoutesRequest, SendRequest, SendResponse,
    StationLimitRequest, StationLoadDto, TicketActionRequest, TicketActionResponse, TicketDto,
};
use super::error::{ApiError, ErrorBody};
use super::staff::uuid_path;
use crate::now_ms;
use crate::services::staff::Caller;
use crate::store::TicketAction;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared_model::OrderId;
use utoipa::IntoParams;

/// Most events read from SQLite and sent per batch on the stream. Why 256: a reconnecting KDS
/// catches up in a few batches without one read holding the store's lock for long.
pub const STREAM_BATCH_MAX: usize = 256;
/// Most live streams open at once. Why 64: an outlet runs a few KDS screens and terminals;
/// each stream holds a task and a socket, and a runaway client must not starve the till.
pub const STREAM_CONNECTIONS_MAX: usize = 64;
/// The stream's WebSocket subprotocol. A browser names it (with its token as a second,
/// `kibanda.bearer.<token>`) and the edge answers with it, as browsers require.
pub const STREAM_PROTOCOL: &str = "kibanda.v1";
/// Largest WebSocket message accepted from a client. Why 4 KiB: clients only send pings and
/// closes on this stream; anything bigger is not a client we know.
pub const STREAM_CLIENT_MESSAGE_BYTES_MAX: usize = 4 * 1024;

/// Sends the order's unsent lines to the kitchen, one ticket per station. With a body
/// `{"line_ids": [...]}` only those lines are fired (a course); the others are held for a later
/// send.
#[utoipa::path(post, path = "/v1/orders/{id}/send", params(("id" = String, Path)),
    request_body(content = Option<SendRequest>),
    responses((status = 201, body = SendResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn send(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Option<Json<SendRequest>>, JsonRejection>,
) -> Result<(StatusCode, Json<SendResponse>), ApiError> {
    let order_id = OrderId(uuid_path(path, "order_not_found", "order")?);
    let only_lines = match body?.and_then(|Json(request)| request.line_ids) {
        None => None,
        Some(line_ids) => Some(
            line_ids
                .iter()
                .map(|id| super::staff::uuid_field(id, "line_ids"))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let now = now_ms();
    let tickets = state
        .kitchen
        .send(&caller, order_id, only_lines, now)
        .await?;
    state.sync.notify_new_ops();
    state.printing.queue().wake();
    let mut stations: Vec<String> = tickets.iter().map(|t| t.station.clone()).collect();
    stations.sort();
    stations.dedup();
    let quoted_wait_ms = state.kitchen.quote_wait(order_id, stations, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(SendResponse {
            tickets: tickets
                .iter()
                .map(|ticket| TicketDto::from_ticket(ticket, now))
                .collect(),
            quoted_wait_ms,
            quoted_ready_at_ms: now + quoted_wait_ms,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/kitchen/routes",
    responses((status = 200, body = [KitchenRouteDto])), security(("device_token" = [])))]
pub async fn routes(State(state): State<AppState>) -> Result<Json<Vec<KitchenRouteDto>>, ApiError> {
    let routes = state.kitchen.routes().await?;
    Ok(Json(routes.into_iter().map(route_dto).collect()))
}

fn route_dto(route: crate::store::KitchenRoute) -> KitchenRouteDto {
    KitchenRouteDto {
        match_kind: route.match_kind.as_str().to_owned(),
        value: route.match_value,
        station: route.station,
    }
}

#[utoipa::path(put, path = "/v1/kitchen/routes", request_body = KitchenRoutesRequest,
    responses((status = 200, body = [KitchenRouteDto]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn replace_routes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<KitchenRoutesRequest>, JsonRejection>,
) -> Result<Json<Vec<KitchenRouteDto>>, ApiError> {
    let Json(request) = body?;
    let routes = request
        .routes
        .into_iter()
        .map(|route| (route.match_kind, route.value, route.station))
        .collect();
    let routes = state.kitchen.replace_routes(&caller, routes).await?;
    Ok(Json(routes.into_iter().map(route_dto).collect()))
}

/// Sets or clears a station's limit of open tickets for kiosk sends (multi-lane throttling).
#[utoipa::path(put, path = "/v1/kitchen/stations/{station}/limit", params(("station" = String, Path)),
    request_body = StationLimitRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn set_station_limit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<StationLimitRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(station) = path?;
    let Json(request) = body?;
    state
        .kitchen
        .set_station_limit(&caller, station, request.active_tickets_max)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Each station's open tickets, limit, oldest ticket age and the wait a new order sent there
/// now would be quoted.
#[utoipa::path(get, path = "/v1/kitchen/stations",
    responses((status = 200, body = [StationLoadDto])), security(("device_token" = [])))]
pub async fn stations(
    State(state): State<AppState>,
) -> Result<Json<Vec<StationLoadDto>>, ApiError> {
    let now = now_ms();
    let loads = state.kitchen.station_loads(now).await?;
    Ok(Json(
        loads
            .into_iter()
            .map(|(load, quoted_wait_ms)| StationLoadDto {
                station: load.station,
                active_tickets: load.active_tickets,
                active_tickets_max: load.active_tickets_max,
                oldest_ticket_age_ms: load.oldest_created_at_ms.map(|at| now - at),
                quoted_wait_ms,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StationQuery {
    /// A station (e.g. `grill`); omit it, or say `expo`, for every station.
    pub station: Option<String>,
}

#[utoipa::path(get, path = "/v1/kitchen/tickets", params(StationQuery),
    responses((status = 200, body = [TicketDto])), security(("device_token" = [])))]
pub async fn tickets(
    State(state): State<AppState>,
    query: Result<Query<StationQuery>, QueryRejection>,
) -> Result<Json<Vec<TicketDto>>, ApiError> {
    let Query(query) = query?;
    let now = now_ms();
    let tickets = state.kitchen.tickets(query.station).await?;
    Ok(Json(
        tickets
            .iter()
            .map(|ticket| TicketDto::from_ticket(ticket, now))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/kitchen/all-day", params(StationQuery),
    responses((status = 200, body = [AllDayCountDto])), security(("device_token" = [])))]
pub async fn all_day(
    State(state): State<AppState>,
    query: Result<Query<StationQuery>, QueryRejection>,
) -> Result<Json<Vec<AllDayCountDto>>, ApiError> {
    let Query(query) = query?;
    let counts = state.kitchen.all_day(query.station).await?;
    Ok(Json(
        counts
            .into_iter()
            .map(|(item_id, name, quantity)| AllDayCountDto {
                item_id,
                name,
                quantity,
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/kitchen/tickets/{id}/actions", params(("id" = String, Path)),
    request_body = TicketActionRequest,
    responses((status = 200, body = TicketActionResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn ticket_action(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<TicketActionRequest>, JsonRejection>,
) -> Result<Json<TicketActionResponse>, ApiError> {
    let ticket_id = uuid_path(path, "ticket_not_found", "ticket")?;
    let Json(request) = body?;
    let action = match (request.action.as_str(), request.priority) {
        ("bump", None) => TicketAction::Bump,
        ("recall", None) => TicketAction::Recall,
        ("remake", None) => TicketAction::Remake,
        ("pause", None) => TicketAction::Pause,
        ("resume", None) => TicketAction::Resume,
        ("priority", Some(rush)) => TicketAction::Priority(rush),
        ("priority", None) => {
            return Err(ApiError::invalid(
                "priority",
                "priority needs `priority`: true or false",
            ));
        }
        (_, Some(_))
            if matches!(
                request.action.as_str(),
                "bump" | "recall" | "remake" | "pause" | "resume"
            ) =>
        {
            return Err(ApiError::invalid(
                "priority",
                "only the `priority` action takes `priority`",
            ));
        }
        (other, _) => {
            return Err(ApiError::invalid(
                "action",
                format!(
                    "unknown action {other:?}: bump, recall, remake, pause, resume or priority"
                ),
            ));
        }
    };
    let now = now_ms();
    let outcome = state.kitchen.act(&caller, ticket_id, action, now).await?;
    if outcome.order_ready {
        state.sync.notify_new_ops();
    }
    if action == TicketAction::Remake {
        state.printing.queue().wake();
    }
    let ticket = outcome.tickets.first().ok_or_else(|| {
        crate::store::StoreError::Corrupt("a ticket action returned no ticket".into())
    })?;
    Ok(Json(TicketActionResponse {
        ticket: TicketDto::from_ticket(ticket, now),
        order_ready: outcome.order_ready,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// The last event `seq` this client has seen (0 or absent: everything kept).
    pub after: Option<u64>,
}

/// A WebSocket of live events, each a JSON text message
/// `{"seq", "kind", "at_ms", "body"}` with `kind` one of `ticket.created`, `ticket.updated`,
/// `order.ready`. Reconnect with `?after=<last seq>` to resume without missing any.
#[utoipa::path(get, path = "/v1/stream", params(StreamQuery),
    responses((status = 101, description = "switching to the WebSocket stream")),
    security(("device_token" = [])))]
pub async fn stream(
    State(state): State<AppState>,
    query: Result<Query<StreamQuery>, QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let after = query.after.unwrap_or(0);
    let permit = state.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            format!("at most {STREAM_CONNECTIONS_MAX} live streams at once"),
            None,
        )
    })?;
    Ok(upgrade
        .protocols([STREAM_PROTOCOL])
        .max_message_size(STREAM_CLIENT_MESSAGE_BYTES_MAX)
        .on_upgrade(move |socket| async move {
            serve_stream(state, socket, after).await;
            drop(permit);
        }))
}

async fn serve_stream(state: AppState, mut socket: WebSocket, mut after: u64) {
    // A client resuming from before the oldest kept event missed some for good: tell it to
    // reload the tickets (GET /v1/kitchen/tickets), then carry on from what is kept.
    let store = state.store.clone();
    let oldest = match crate::services::blocking(move || store.first_stream_seq()).await {
        Ok(oldest) => oldest,
        Err(error) => {
            tracing::error!(%error, "stream read failed");
            return;
        }
    };
    if let Some(oldest) = oldest
        && after > 0
        && after + 1 < oldest
    {
        let reset = serde_json::json!({
            "seq": after,
            "kind": "stream.reset",
            "at_ms": crate::now_ms(),
            "body": {"oldest_seq": oldest},
        });
        if socket
            .send(Message::Text(reset.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
    // Subscribe before the first read: an event committed after that read moves the watched
    // sequence, so the wait below wakes for it.
    let mut wake = state.events.subscribe();
    loop {
        wake.borrow_and_update();
        let store = state.store.clone();
        let batch = match crate::services::blocking(move || {
            store.stream_events_after(after, STREAM_BATCH_MAX)
        })
        .await
        {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(%error, "stream read failed");
                return;
            }
        };
        let full = batch.len() == STREAM_BATCH_MAX;
        for event in batch {
            let text = serde_json::json!({
                "seq": event.seq,
                "kind": event.kind,
                "at_ms": event.at_ms,
                "body": event.body,
            })
            .to_string();
            if socket.send(Message::Text(text.into())).await.is_err() {
                return;
            }
            after = event.seq;
        }
        if full {
            continue;
        }
        tokio::select! {
            changed = wake.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
