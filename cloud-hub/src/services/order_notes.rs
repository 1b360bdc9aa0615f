//! A cloud order's notes as the channel's side writes them: a message on the thread, the
//! handoff instructions, the promised ready time, the customer's check-in. Checks what is
//! written, then edits the order's notes document (`crate::store::order_notes`), which sends
//! the change down the outlet's feed in the same transaction.

use crate::store::order_notes::{self, NotedOrder};
use crate::store::{StoreError, TenantId};
use serde::Serialize;
use sync_protocol::docs::{
    DocError, NOTE_AUTHOR_MAX, NOTE_TEXT_MAX, NoteSide, NotesPatch, OrderNote, OrderNotes,
    check_notes_text,
};
use thiserror::Error;
use utoipa::ToSchema;
use uuid::Uuid;

/// The notes of a cloud order as the hub's API and its `pos.order.notes_changed` event show
/// them.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderNotesDto {
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

impl From<&OrderNotes> for OrderNotesDto {
    fn from(notes: &OrderNotes) -> Self {
        OrderNotesDto {
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
}

#[derive(Debug, Error)]
pub enum NotesError {
    #[error("no cloud order with this id")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(
        "the order's thread already holds {} notes",
        sync_protocol::docs::NOTES_MAX
    )]
    ThreadFull,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn text(field: &'static str, value: &str, max: usize, empty_ok: bool) -> Result<(), NotesError> {
    check_notes_text(value, max, empty_ok).map_err(|message| NotesError::Invalid { field, message })
}

async fn order(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<NotedOrder, NotesError> {
    order_notes::cloud_order(tx, tenant, order_id)
        .await?
        .ok_or(NotesError::NotFound)
}

/// The order's notes as the hub has merged them.
pub async fn read(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
) -> Result<OrderNotes, NotesError> {
    order(tx, tenant, order_id).await?;
    Ok(order_notes::read(tx, tenant, order_id).await?)
}

/// Adds a message from the channel's side to the thread. A `note_id` already on the thread
/// (a retry) changes nothing. Returns the notes and the feed position carrying the change.
pub async fn add_note(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
    note_id: Uuid,
    author: &str,
    body: &str,
    now_ms: i64,
) -> Result<(OrderNotes, Option<u64>), NotesError> {
    text("author", author, NOTE_AUTHOR_MAX, false)?;
    text("text", body, NOTE_TEXT_MAX, false)?;
    let order = order(tx, tenant, order_id).await?;
    let note = OrderNote {
        id: note_id.to_string(),
        side: NoteSide::Hub,
        author: author.trim().into(),
        text: body.trim().into(),
        at_ms: now_ms,
    };
    order_notes::edit(tx, tenant, &order, |doc| match doc.add_note(&note) {
        Err(DocError::Full) => Err(NotesError::ThreadFull),
        other => other.map_err(|e| NotesError::Store(StoreError::Corrupt(e.to_string()))),
    })
    .await?
}

/// Changes the instructions, the promised ready time or the check-in.
pub async fn patch(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    order_id: Uuid,
    patch: NotesPatch,
    now_ms: i64,
) -> Result<(OrderNotes, Option<u64>), NotesError> {
    patch
        .check()
        .map_err(|(field, message)| NotesError::Invalid { field, message })?;
    let order = order(tx, tenant, order_id).await?;
    order_notes::edit(tx, tenant, &order, |doc| {
        patch
            .apply_to(doc, now_ms)
            .map_err(|e| NotesError::Store(StoreError::Corrupt(e.to_string())))
    })
    .await?
}
