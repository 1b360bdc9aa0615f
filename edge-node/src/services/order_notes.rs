//! A cloud order's notes at the till: a message on the thread (signed with the staff member's
//! name), the handoff instructions, the promised ready time, the customer's check-in. Checks
//! what is written and who writes; the store saves the document and its op together.

use super::staff::{AccessError, Caller};
use crate::store::{NotesRefusal, Store, StoreError};
use shared_model::staff::Action;
use std::sync::Arc;
use sync_protocol::docs::{
    NOTE_TEXT_MAX, NoteSide, NotesPatch, OrderNote, OrderNotes, check_notes_text,
};
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum NotesError {
    #[error("no cloud order with this id")]
    NotACloudOrder,
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
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<NotesRefusal> for NotesError {
    fn from(refusal: NotesRefusal) -> Self {
        match refusal {
            NotesRefusal::NotACloudOrder => NotesError::NotACloudOrder,
            NotesRefusal::ThreadFull => NotesError::ThreadFull,
        }
    }
}

fn text(field: &'static str, value: &str, max: usize, empty_ok: bool) -> Result<(), NotesError> {
    check_notes_text(value, max, empty_ok).map_err(|message| NotesError::Invalid { field, message })
}

/// The order's notes as this outlet has them.
pub async fn read(store: Arc<Store>, order_id: Uuid) -> Result<OrderNotes, NotesError> {
    super::blocking(move || store.order_notes(order_id))
        .await?
        .ok_or(NotesError::NotACloudOrder)
}

/// Adds the signed-in staff member's message to the thread (a `note_id` already there, a
/// retry, adds nothing). Returns the notes and the stream event announcing the change.
pub async fn add_note(
    store: Arc<Store>,
    caller: &Caller,
    order_id: Uuid,
    note_id: Uuid,
    body: String,
    now_ms: i64,
) -> Result<(OrderNotes, Option<u64>), NotesError> {
    let author = caller.require(Action::TakeOrders)?.staff_name.clone();
    text("text", &body, NOTE_TEXT_MAX, false)?;
    let note = OrderNote {
        id: note_id.to_string(),
        side: NoteSide::Outlet,
        author,
        text: body.trim().into(),
        at_ms: now_ms,
    };
    let edited = super::blocking(move || {
        store.edit_order_notes(order_id, |doc| doc.add_note(&note), now_ms)
    })
    .await?;
    Ok(edited?)
}

/// Changes the instructions, the promised ready time or the check-in.
pub async fn patch(
    store: Arc<Store>,
    caller: &Caller,
    order_id: Uuid,
    patch: NotesPatch,
    now_ms: i64,
) -> Result<(OrderNotes, Option<u64>), NotesError> {
    caller.require(Action::TakeOrders)?;
    patch
        .check()
        .map_err(|(field, message)| NotesError::Invalid { field, message })?;
    let edited = super::blocking(move || {
        store.edit_order_notes(order_id, |doc| patch.apply_to(doc, now_ms), now_ms)
    })
    .await?;
    Ok(edited?)
}
