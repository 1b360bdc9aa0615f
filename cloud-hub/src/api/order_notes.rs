//! A cloud order's notes at the hub: the thread between the channel (web shop, delivery
//! platform, head office) and the outlet, the handoff instructions, the promised ready time and
//! the customer's check-in. One automerge document both sides write, even while the outlet is
//! offline (see `sync_protocol::docs::CloudOrderDoc`).

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::TenantContext;
use crate::services::order_notes::{self, NotesError, OrderNotesDto};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use sync_protocol::docs::{NotesPatch, OrderNotes};
use utoipa::ToSchema;
use uuid::Uuid;

/// Roles that read an order's notes, and those that write to them (the channels'
/// integrations and head office).
pub const NOTES_READERS: &[&str] = &["admin", "manager", "service", "auditor"];
pub const NOTES_WRITERS: &[&str] = &["admin", "manager", "service"];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNoteRequest {
    /// Who writes: the customer's name, "Web shop", an agent at head office.
    pub author: String,
    /// The message (at most 500 characters).
    pub text: String,
    /// The caller's id for this note: sending the same id again (a retry) adds nothing.
    /// Default: a new id.
    pub note_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalRequest {
    /// Where the customer waits (at most 20 characters).
    pub bay: Option<String>,
}

/// Fields left out stay as they are; `null` clears one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchNotesRequest {
    /// The handoff instructions as they should read (at most 500 characters). Only the
    /// characters that differ are written, so the outlet's concurrent edit elsewhere in the
    /// text survives.
    pub instructions: Option<String>,
    /// When the order is promised ready (epoch ms); `null` withdraws the promise.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub promised_ready_ms: Option<Option<i64>>,
    /// The customer has arrived (now), and where they wait; `null` withdraws the check-in.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ArrivalRequest>)]
    pub arrival: Option<Option<ArrivalRequest>>,
}

/// A field that is present (maybe `null`), as opposed to left out.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderNotesAnswer {
    pub order_id: String,
    #[serde(flatten)]
    pub notes: OrderNotesDto,
    /// The outlet's feed position carrying this change (absent when nothing changed, and on
    /// reads).
    pub feed_through_seq: Option<u64>,
}

fn answer(order_id: Uuid, notes: &OrderNotes, seq: Option<u64>) -> OrderNotesAnswer {
    OrderNotesAnswer {
        order_id: order_id.to_string(),
        notes: OrderNotesDto::from(notes),
        feed_through_seq: seq,
    }
}

fn notes_error(error: NotesError) -> ApiError {
    match error {
        NotesError::NotFound => ApiError::not_found(),
        NotesError::Invalid { field, message } => ApiError::invalid(field, message),
        error @ NotesError::ThreadFull => {
            ApiError::new(StatusCode::CONFLICT, "thread_full", error.to_string(), None)
        }
        NotesError::Store(error) => error.into(),
    }
}

fn order_id(text: &str) -> Result<Uuid, ApiError> {
    text.parse().map_err(|_| ApiError::not_found())
}

fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(body)| body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text(), None))
}

#[utoipa::path(get, path = "/v1/{tenant}/pos/orders/{id}/notes",
    params(("tenant" = String, Path), ("id" = String, Path, description = "a cloud order's id")),
    responses((status = 200, body = OrderNotesAnswer), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
) -> Result<Json<OrderNotesAnswer>, ApiError> {
    context.require_any_role(NOTES_READERS)?;
    let order_id = order_id(&path.1)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let notes = order_notes::read(&mut tx, context.tenant.id, order_id)
        .await
        .map_err(notes_error)?;
    super::commit(tx).await?;
    Ok(Json(answer(order_id, &notes, None)))
}

#[utoipa::path(post, path = "/v1/{tenant}/pos/orders/{id}/notes",
    params(("tenant" = String, Path), ("id" = String, Path, description = "a cloud order's id")),
    request_body = AddNoteRequest,
    responses((status = 201, body = OrderNotesAnswer), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    request: Result<Json<AddNoteRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderNotesAnswer>), ApiError> {
    context.require_any_role(NOTES_WRITERS)?;
    let order_id = order_id(&path.1)?;
    let request = body(request)?;
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let (notes, seq) = order_notes::add_note(
        &mut tx,
        context.tenant.id,
        order_id,
        request.note_id.unwrap_or_else(Uuid::new_v4),
        &request.author,
        &request.text,
        crate::now_ms(),
    )
    .await
    .map_err(notes_error)?;
    super::commit(tx).await?;
    Ok((StatusCode::CREATED, Json(answer(order_id, &notes, seq))))
}

#[utoipa::path(patch, path = "/v1/{tenant}/pos/orders/{id}/notes",
    params(("tenant" = String, Path), ("id" = String, Path, description = "a cloud order's id")),
    request_body = PatchNotesRequest,
    responses((status = 200, body = OrderNotesAnswer), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    context: TenantContext,
    Path(path): Path<(String, String)>,
    request: Result<Json<PatchNotesRequest>, JsonRejection>,
) -> Result<Json<OrderNotesAnswer>, ApiError> {
    context.require_any_role(NOTES_WRITERS)?;
    let order_id = order_id(&path.1)?;
    let request = body(request)?;
    let patch = NotesPatch {
        instructions: request.instructions,
        promised_ready_ms: request.promised_ready_ms,
        arrival: request
            .arrival
            .map(|arrival| arrival.map(|arrival| arrival.bay)),
    };
    let mut tx = super::tenant_tx(&state, context.tenant.id).await?;
    let (notes, seq) =
        order_notes::patch(&mut tx, context.tenant.id, order_id, patch, crate::now_ms())
            .await
            .map_err(notes_error)?;
    super::commit(tx).await?;
    Ok(Json(answer(order_id, &notes, seq)))
}
