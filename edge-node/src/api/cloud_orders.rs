//! Orders placed in the cloud for this outlet (web shop, delivery platforms, click-and-collect)
//! and the refund requests their late cancels became.
//!
//! The orders themselves are worked like any other (`/v1/orders/{id}/...`): sent to the
//! kitchen, paid at the counter, closed. These routes are the outlet's view of where they came
//! from and what a cancel from the cloud did.

use super::AppState;
use super::dto::OrderDto;
use super::error::{ApiError, ErrorBody};
use crate::now_ms;
use crate::services::order_notes::{self, NotesError};
use crate::services::staff::Caller;
use crate::store::{CloudCancel, CloudOrder};
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use shared_model::cloud_order::CancelOutcome;
use sync_protocol::docs::{NotesPatch, OrderNotes};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct CloudCancelDto {
    /// `cancelled` (voided, nothing was paid), `refund_requested` (money was taken: the order
    /// stands and a manager decides the refund), `already_voided` or `too_late`.
    pub outcome: String,
    /// For `refund_requested`: what the outlet had taken when the cancel came.
    pub paid_minor: Option<i64>,
    pub reason: String,
    pub requested_at_ms: i64,
    pub resolved_at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CloudOrderDto {
    pub order: OrderDto,
    /// `ecommerce`, `delivery` or `click_and_collect`.
    pub channel: String,
    /// The web shop's or platform's own reference, for the rider or the customer at the counter.
    pub external_ref: String,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    pub notes: Option<String>,
    pub cancel: Option<CloudCancelDto>,
    /// The cancel became a refund request and the order is not yet refunded in full.
    pub refund_pending: bool,
}

impl From<&CloudCancel> for CloudCancelDto {
    fn from(cancel: &CloudCancel) -> Self {
        CloudCancelDto {
            outcome: cancel.outcome.as_str().to_owned(),
            paid_minor: match cancel.outcome {
                CancelOutcome::RefundRequested { paid_minor } => Some(paid_minor),
                _ => None,
            },
            reason: cancel.reason.clone(),
            requested_at_ms: cancel.requested_at_ms,
            resolved_at_ms: cancel.resolved_at_ms,
        }
    }
}

impl From<&CloudOrder> for CloudOrderDto {
    fn from(cloud: &CloudOrder) -> Self {
        CloudOrderDto {
            order: OrderDto::from(&cloud.order),
            channel: cloud.channel.as_str().to_owned(),
            external_ref: cloud.external_ref.clone(),
            customer_name: cloud.customer_name.clone(),
            customer_phone: cloud.customer_phone.clone(),
            notes: cloud.notes.clone(),
            cancel: cloud.cancel.as_ref().map(CloudCancelDto::from),
            refund_pending: cloud.refund_pending(),
        }
    }
}

#[utoipa::path(get, path = "/v1/cloud-orders",
    responses((status = 200, body = [CloudOrderDto])),
    security(("device_token" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<CloudOrderDto>>, ApiError> {
    let store = state.store.clone();
    let orders = crate::services::blocking(move || store.cloud_orders(false)).await?;
    Ok(Json(orders.iter().map(CloudOrderDto::from).collect()))
}

#[utoipa::path(get, path = "/v1/refund-requests",
    responses((status = 200, body = [CloudOrderDto])),
    security(("device_token" = [])))]
pub async fn refund_requests(
    State(state): State<AppState>,
) -> Result<Json<Vec<CloudOrderDto>>, ApiError> {
    let store = state.store.clone();
    let orders = crate::services::blocking(move || store.cloud_orders(true)).await?;
    Ok(Json(orders.iter().map(CloudOrderDto::from).collect()))
}

/// The notes of a cloud order, as the hub's API shows them too: one automerge document the
/// channel and the till both write, even while apart (`sync_protocol::docs::CloudOrderDoc`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderNotesDto {
    pub order_id: String,
    /// Handoff instructions, merged character by character from both sides' edits.
    pub instructions: String,
    /// The thread, oldest first.
    pub notes: Vec<NoteDto>,
    /// When the outlet promised the order ready (epoch ms).
    pub promised_ready_ms: Option<i64>,
    /// The customer's check-in, if they said they had arrived.
    pub arrival: Option<ArrivalDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoteDto {
    pub note_id: String,
    /// `outlet` (written at a till) or `hub` (the channel or head office).
    pub side: String,
    pub author: String,
    pub text: String,
    pub at_ms: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArrivalDto {
    pub at_ms: i64,
    /// Where they wait (a collection bay, a parking spot).
    pub bay: Option<String>,
}

fn notes_dto(order_id: Uuid, notes: &OrderNotes) -> OrderNotesDto {
    OrderNotesDto {
        order_id: order_id.to_string(),
        instructions: notes.instructions.clone(),
        notes: notes
            .notes
            .iter()
            .map(|note| NoteDto {
                note_id: note.id.clone(),
                side: note.side.as_str().into(),
                author: note.author.clone(),
                text: note.text.clone(),
                at_ms: note.at_ms,
            })
            .collect(),
        promised_ready_ms: notes.promised_ready_ms,
        arrival: notes.arrival.as_ref().map(|arrival| ArrivalDto {
            at_ms: arrival.at_ms,
            bay: arrival.bay.clone(),
        }),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNoteRequest {
    /// The message (at most 500 characters); signed with the signed-in staff member's name.
    pub text: String,
    /// The terminal's id for this note: sending the same id again (a retry) adds nothing.
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
    /// characters that differ are written, so the channel's concurrent edit elsewhere in the
    /// text survives.
    pub instructions: Option<String>,
    /// When the order is promised ready (epoch ms); `null` withdraws the promise.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub promised_ready_ms: Option<Option<i64>>,
    /// The customer is here (now), and where they wait; `null` withdraws the check-in.
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

impl From<NotesError> for ApiError {
    fn from(error: NotesError) -> Self {
        match error {
            error @ NotesError::NotACloudOrder => ApiError::new(
                StatusCode::NOT_FOUND,
                "cloud_order_not_found",
                error.to_string(),
                None,
            ),
            NotesError::Invalid { field, message } => ApiError::invalid(field, message),
            error @ NotesError::ThreadFull => {
                ApiError::new(StatusCode::CONFLICT, "thread_full", error.to_string(), None)
            }
            NotesError::Access(error) => error.into(),
            NotesError::Store(error) => error.into(),
        }
    }
}

fn cloud_order_id(path: Result<Path<String>, PathRejection>) -> Result<Uuid, ApiError> {
    let Path(id) = path?;
    id.parse()
        .map_err(|_| ApiError::from(NotesError::NotACloudOrder))
}

#[utoipa::path(get, path = "/v1/orders/{id}/notes", params(("id" = String, Path)),
    responses((status = 200, body = OrderNotesDto), (status = 404, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn notes(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<OrderNotesDto>, ApiError> {
    let order_id = cloud_order_id(path)?;
    let notes = order_notes::read(state.store.clone(), order_id).await?;
    Ok(Json(notes_dto(order_id, &notes)))
}

#[utoipa::path(post, path = "/v1/orders/{id}/notes", params(("id" = String, Path)),
    request_body = AddNoteRequest,
    responses((status = 201, body = OrderNotesDto), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn add_note(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<AddNoteRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<OrderNotesDto>), ApiError> {
    let order_id = cloud_order_id(path)?;
    let Json(request) = body?;
    let (notes, announced) = order_notes::add_note(
        state.store.clone(),
        &caller,
        order_id,
        request.note_id.unwrap_or_else(Uuid::now_v7),
        request.text,
        now_ms(),
    )
    .await?;
    if let Some(seq) = announced {
        state.events.published(seq);
        state.sync.notify_new_ops();
    }
    Ok((StatusCode::CREATED, Json(notes_dto(order_id, &notes))))
}

#[utoipa::path(patch, path = "/v1/orders/{id}/notes", params(("id" = String, Path)),
    request_body = PatchNotesRequest,
    responses((status = 200, body = OrderNotesDto), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn patch_notes(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PatchNotesRequest>, JsonRejection>,
) -> Result<Json<OrderNotesDto>, ApiError> {
    let order_id = cloud_order_id(path)?;
    let Json(request) = body?;
    let patch = NotesPatch {
        instructions: request.instructions,
        promised_ready_ms: request.promised_ready_ms,
        arrival: request
            .arrival
            .map(|arrival| arrival.map(|arrival| arrival.bay)),
    };
    let (notes, announced) =
        order_notes::patch(state.store.clone(), &caller, order_id, patch, now_ms()).await?;
    if let Some(seq) = announced {
        state.events.published(seq);
        state.sync.notify_new_ops();
    }
    Ok(Json(notes_dto(order_id, &notes)))
}
