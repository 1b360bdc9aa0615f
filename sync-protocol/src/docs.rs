//! Automerge documents for what the hub and an outlet both edit field by field: the outlet's
//! floor plan (head office lays out areas and seats, the shop adds a table the same afternoon
//! with the link down), merged table by table and field by field, never "last save wins" for
//! the whole plan; and each cloud order's notes (a thread, handoff instructions, the promised
//! ready time and the customer's check-in), which the channel and the till both write.
//!
//! A document travels as automerge change bytes inside [`DocChangeV1`] (opaque to postcard:
//! the wire types stay versioned by this crate, the CRDT format by automerge). Each side keeps
//! its own copy, applies the other's changes in any order, any number of times, and reads the
//! same plan (convergence is property-tested below).
//!
//! Layout: the document root maps each table code to a map `{area, seats, position}`. Editing
//! one field of one table writes only that field, so concurrent edits of different fields or
//! tables both survive; two writers setting the same field concurrently resolve to one value,
//! the same on every replica.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest saved document or change batch accepted. Why 1 MiB: a floor plan of hundreds of
/// tables with years of edits is tens of KiB; more is corruption or abuse.
pub const DOC_BYTES_MAX: usize = 1024 * 1024;

/// Which document a change belongs to. Append-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DocKindV1 {
    FloorPlan,
}

impl DocKindV1 {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKindV1::FloorPlan => "floor_plan",
        }
    }
}

/// Automerge changes to one of the outlet's documents (as `AutoCommit::save_after` writes
/// them; [`FloorPlanDoc::apply`] reads them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChangeV1 {
    pub doc: DocKindV1,
    pub changes: Vec<u8>,
}

/// Automerge changes to one cloud order's notes document ([`CloudOrderDoc`]), either way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDocChangeV1 {
    pub order_id: [u8; 16],
    pub changes: Vec<u8>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DocError {
    #[error("document bytes exceed {DOC_BYTES_MAX}")]
    TooLarge,
    #[error("not an automerge document or change: {0}")]
    Corrupt(String),
    #[error("the thread already holds {NOTES_MAX} notes")]
    Full,
}

/// One table as the plan holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTable {
    pub code: String,
    pub area: String,
    pub seats: u32,
    /// Order on the floor view.
    pub position: u32,
}

/// What every document here shares: an automerge document written by one actor, saved whole,
/// and exchanged as the changes made since a set of heads.
struct DocCore {
    doc: AutoCommit,
}

impl DocCore {
    fn new(actor: [u8; 16]) -> DocCore {
        DocCore {
            doc: AutoCommit::new().with_actor(ActorId::from(&actor[..])),
        }
    }

    fn load(bytes: &[u8], actor: [u8; 16]) -> Result<DocCore, DocError> {
        if bytes.len() > DOC_BYTES_MAX {
            return Err(DocError::TooLarge);
        }
        let doc = AutoCommit::load(bytes).map_err(|e| DocError::Corrupt(e.to_string()))?;
        Ok(DocCore {
            doc: doc.with_actor(ActorId::from(&actor[..])),
        })
    }

    fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        if self.doc.get_heads() == heads {
            return Vec::new();
        }
        self.doc.save_after(heads)
    }

    fn apply(&mut self, changes: &[u8]) -> Result<usize, DocError> {
        if changes.len() > DOC_BYTES_MAX {
            return Err(DocError::TooLarge);
        }
        if changes.is_empty() {
            return Ok(0);
        }
        // `load_incremental` keeps whatever prefix parses; a batch must parse whole or not at
        // all, so it is first read strictly on top of this document (whose changes it builds
        // on).
        let mut whole = self.doc.save();
        whole.extend_from_slice(changes);
        automerge::Automerge::load_with_options(
            &whole,
            automerge::LoadOptions::new().on_partial_load(automerge::OnPartialLoad::Error),
        )
        .map_err(|e| DocError::Corrupt(e.to_string()))?;
        self.doc
            .load_incremental(changes)
            .map_err(|e| DocError::Corrupt(e.to_string()))
    }
}

fn corrupt(error: automerge::AutomergeError) -> DocError {
    DocError::Corrupt(error.to_string())
}

/// The document methods every kind offers, written once.
macro_rules! doc_exchange {
    ($kind:ident) => {
        impl $kind {
            /// A saved document, to be edited further by `actor`.
            pub fn load(bytes: &[u8], actor: [u8; 16]) -> Result<$kind, DocError> {
                Ok($kind {
                    core: DocCore::load(bytes, actor)?,
                })
            }

            pub fn save(&mut self) -> Vec<u8> {
                self.core.save()
            }

            pub fn heads(&mut self) -> Vec<ChangeHash> {
                self.core.heads()
            }

            /// The changes made since `heads` (empty if none), for the other side.
            pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
                self.core.changes_since(heads)
            }

            /// Applies the other side's changes; applying them again, or out of order with
            /// others, changes nothing more. Returns how many operations were new.
            pub fn apply(&mut self, changes: &[u8]) -> Result<usize, DocError> {
                self.core.apply(changes)
            }
        }
    };
}

/// An outlet's floor plan as an automerge document.
pub struct FloorPlanDoc {
    core: DocCore,
}

doc_exchange!(FloorPlanDoc);

impl FloorPlanDoc {
    /// An empty plan written by `actor` (the node's id: each writer has its own).
    pub fn new(actor: [u8; 16]) -> FloorPlanDoc {
        FloorPlanDoc {
            core: DocCore::new(actor),
        }
    }

    /// The plan: tables by position, then code.
    pub fn tables(&self) -> Vec<PlanTable> {
        let doc = &self.core.doc;
        let mut tables: Vec<PlanTable> = doc
            .keys(ROOT)
            .filter_map(|code| {
                let (_, table) = doc.get(ROOT, code.as_str()).ok().flatten()?;
                let field = |name: &str| doc.get(&table, name).ok().flatten().map(|(v, _)| v);
                Some(PlanTable {
                    area: field("area")?.as_str()?.to_owned(),
                    seats: u32::try_from(field("seats")?.as_u64()?).ok()?,
                    position: u32::try_from(field("position")?.as_u64()?).ok()?,
                    code,
                })
            })
            .collect();
        tables.sort_by(|a, b| (a.position, &a.code).cmp(&(b.position, &b.code)));
        tables
    }

    /// Makes the plan `tables`, writing only what differs from the plan as it stands: a table
    /// left out is removed, a new one added, and of a kept table only the fields that changed.
    pub fn set_tables(&mut self, tables: &[PlanTable]) -> Result<(), DocError> {
        let current = self.tables();
        let fail = corrupt;
        let doc = &mut self.core.doc;
        for gone in current
            .iter()
            .filter(|old| !tables.iter().any(|table| table.code == old.code))
        {
            doc.delete(ROOT, gone.code.as_str()).map_err(fail)?;
        }
        for table in tables {
            let before = current.iter().find(|old| old.code == table.code);
            let object = match (before, doc.get(ROOT, table.code.as_str()).map_err(fail)?) {
                (Some(_), Some((_, object))) => object,
                _ => doc
                    .put_object(ROOT, table.code.as_str(), ObjType::Map)
                    .map_err(fail)?,
            };
            if before.is_none_or(|old| old.area != table.area) {
                doc.put(&object, "area", table.area.as_str())
                    .map_err(fail)?;
            }
            if before.is_none_or(|old| old.seats != table.seats) {
                doc.put(&object, "seats", u64::from(table.seats))
                    .map_err(fail)?;
            }
            if before.is_none_or(|old| old.position != table.position) {
                doc.put(&object, "position", u64::from(table.position))
                    .map_err(fail)?;
            }
        }
        doc.commit();
        Ok(())
    }
}

/// Longest note on a cloud order's thread, in characters.
pub const NOTE_TEXT_MAX: usize = 500;
/// Longest author name on a note, in characters.
pub const NOTE_AUTHOR_MAX: usize = 80;
/// Most notes one order's thread holds. Why 100: a real order's conversation is a handful of
/// messages; more is a loop in someone's integration.
pub const NOTES_MAX: usize = 100;
/// Longest handoff instructions ("ring the bell, flat 4"), in characters.
pub const INSTRUCTIONS_MAX: usize = 500;
/// Longest collection bay or point name, in characters.
pub const BAY_MAX: usize = 20;

/// Checks text written into an order's notes: at most `max` characters, no control characters
/// but line breaks, and (unless `empty_ok`) not blank. The message says what is wrong.
pub fn check_notes_text(value: &str, max: usize, empty_ok: bool) -> Result<(), String> {
    if !empty_ok && value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > max {
        return Err(format!("at most {max} characters"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not hold control characters".into());
    }
    Ok(())
}

/// Who wrote a note: the outlet (a till) or the cloud side (the web shop, a delivery platform,
/// head office, through the hub's API).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoteSide {
    Outlet,
    Hub,
}

impl NoteSide {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteSide::Outlet => "outlet",
            NoteSide::Hub => "hub",
        }
    }

    fn parse(text: &str) -> Option<NoteSide> {
        match text {
            "outlet" => Some(NoteSide::Outlet),
            "hub" => Some(NoteSide::Hub),
            _ => None,
        }
    }
}

/// One message on a cloud order's thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderNote {
    /// Unique per note (the writer's UUID), so a note delivered twice is still one note.
    pub id: String,
    pub side: NoteSide,
    pub author: String,
    pub text: String,
    pub at_ms: i64,
}

/// When the customer said they had arrived, and where they wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrival {
    pub at_ms: i64,
    pub bay: Option<String>,
}

/// A cloud order's notes document as one replica reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderNotes {
    /// Handoff instructions both sides edit as text: concurrent edits to different parts both
    /// survive.
    pub instructions: String,
    /// The thread, oldest first (by time, then id: the same order on every replica).
    pub notes: Vec<OrderNote>,
    /// When the outlet promised the order ready (set by the till, readable by the channel).
    pub promised_ready_ms: Option<i64>,
    /// The customer's check-in (set from the channel, or by the till when they walk in).
    pub arrival: Option<Arrival>,
}

/// A field of [`OrderNotes`] set as one value: the last writer's value wins, the same on every
/// replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotesField {
    PromisedReady(Option<i64>),
    Arrival(Option<Arrival>),
}

/// What one request changes of an order's notes at once (either side); `None` leaves a field
/// as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotesPatch {
    pub instructions: Option<String>,
    /// `Some(None)` withdraws the promise.
    pub promised_ready_ms: Option<Option<i64>>,
    /// `Some(Some(bay))`: the customer is here (now), waiting at `bay` if given; `Some(None)`:
    /// the check-in is withdrawn.
    pub arrival: Option<Option<Option<String>>>,
}

impl NotesPatch {
    /// The first field that is wrong, and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(instructions) = &self.instructions {
            check_notes_text(instructions, INSTRUCTIONS_MAX, true)
                .map_err(|message| ("instructions", message))?;
        }
        if let Some(Some(Some(bay))) = &self.arrival {
            check_notes_text(bay, BAY_MAX, false).map_err(|message| ("arrival.bay", message))?;
        }
        if let Some(Some(at_ms)) = self.promised_ready_ms
            && at_ms <= 0
        {
            return Err((
                "promised_ready_ms",
                "must be a time in epoch milliseconds".into(),
            ));
        }
        Ok(())
    }

    /// Writes the patch into `doc`; a check-in is stamped `now_ms`.
    pub fn apply_to(&self, doc: &mut CloudOrderDoc, now_ms: i64) -> Result<(), DocError> {
        if let Some(instructions) = &self.instructions {
            doc.set_instructions(instructions)?;
        }
        if let Some(promised) = self.promised_ready_ms {
            doc.set(NotesField::PromisedReady(promised))?;
        }
        if let Some(arrival) = &self.arrival {
            doc.set(NotesField::Arrival(arrival.as_ref().map(|bay| Arrival {
                at_ms: now_ms,
                bay: bay.as_ref().map(|bay| bay.trim().to_owned()),
            })))?;
        }
        Ok(())
    }
}

/// The notes, handoff instructions and collection status of an order placed in the cloud,
/// which the channel's side (through the hub) and the outlet both edit, often while apart:
/// the customer checks in at bay 3 from the app while the shop, offline, adds "swapped oat
/// milk for soy". The order's own state (paid, ready, cancelled) is not here: it follows the
/// domain rules of the op log (a late cloud cancel of a paid order becomes a refund request).
///
/// Layout: `notes` is a list of maps (concurrent appends both survive), `instructions` a text
/// object (edits merge by character), `promised_ready_ms` and `arrival` registers. Every
/// replica starts from the same seed change ([`CloudOrderDoc::seeded`]: a fixed actor made
/// from the order id and time 0, so its hash is the same everywhere), so neither side has to
/// wait for the other before writing, and the two never create rival `notes` lists.
pub struct CloudOrderDoc {
    core: DocCore,
}

doc_exchange!(CloudOrderDoc);

impl CloudOrderDoc {
    /// The order's document as every replica starts it, to be edited by `actor`.
    pub fn seeded(order_id: [u8; 16], actor: [u8; 16]) -> Result<CloudOrderDoc, DocError> {
        let mut core = DocCore::new(order_id);
        core.doc
            .put_object(ROOT, "notes", ObjType::List)
            .map_err(corrupt)?;
        core.doc
            .put_object(ROOT, "instructions", ObjType::Text)
            .map_err(corrupt)?;
        core.doc.commit();
        core.doc.set_actor(ActorId::from(&actor[..]));
        Ok(CloudOrderDoc { core })
    }

    fn object(&self, name: &str) -> Result<automerge::ObjId, DocError> {
        match self.core.doc.get(ROOT, name).map_err(corrupt)? {
            Some((_, object)) => Ok(object),
            None => Err(DocError::Corrupt(format!("no {name} in an order's notes"))),
        }
    }

    /// Appends a note to the thread; a note with an id already there changes nothing.
    pub fn add_note(&mut self, note: &OrderNote) -> Result<(), DocError> {
        let list = self.object("notes")?;
        let current = self.read().notes;
        if current.iter().any(|old| old.id == note.id) {
            return Ok(());
        }
        if current.len() >= NOTES_MAX {
            return Err(DocError::Full);
        }
        let doc = &mut self.core.doc;
        let at = doc.length(&list);
        let entry = doc
            .insert_object(&list, at, ObjType::Map)
            .map_err(corrupt)?;
        doc.put(&entry, "id", note.id.as_str()).map_err(corrupt)?;
        doc.put(&entry, "side", note.side.as_str())
            .map_err(corrupt)?;
        doc.put(&entry, "author", note.author.as_str())
            .map_err(corrupt)?;
        doc.put(&entry, "text", note.text.as_str())
            .map_err(corrupt)?;
        doc.put(&entry, "at_ms", note.at_ms).map_err(corrupt)?;
        doc.commit();
        Ok(())
    }

    /// Makes the instructions `text`, writing only the characters that differ (so a concurrent
    /// edit elsewhere in the text survives).
    pub fn set_instructions(&mut self, text: &str) -> Result<(), DocError> {
        let object = self.object("instructions")?;
        self.core.doc.update_text(&object, text).map_err(corrupt)?;
        self.core.doc.commit();
        Ok(())
    }

    /// Sets one register field (writing nothing if it already holds that value).
    pub fn set(&mut self, field: NotesField) -> Result<(), DocError> {
        let current = self.read();
        let doc = &mut self.core.doc;
        match field {
            NotesField::PromisedReady(value) if value != current.promised_ready_ms => match value {
                Some(at_ms) => doc.put(ROOT, "promised_ready_ms", at_ms),
                None => doc.delete(ROOT, "promised_ready_ms"),
            }
            .map_err(corrupt)?,
            NotesField::Arrival(value) if value != current.arrival => match value {
                Some(arrival) => {
                    let object = doc
                        .put_object(ROOT, "arrival", ObjType::Map)
                        .map_err(corrupt)?;
                    doc.put(&object, "at_ms", arrival.at_ms).map_err(corrupt)?;
                    if let Some(bay) = &arrival.bay {
                        doc.put(&object, "bay", bay.as_str()).map_err(corrupt)?;
                    }
                }
                None => doc.delete(ROOT, "arrival").map_err(corrupt)?,
            },
            _ => return Ok(()),
        }
        doc.commit();
        Ok(())
    }

    /// The document as this replica has it.
    pub fn read(&self) -> OrderNotes {
        let doc = &self.core.doc;
        let value = |object: &automerge::ObjId, name: &str| {
            doc.get(object, name).ok().flatten().map(|(value, _)| value)
        };
        let text = |object: &automerge::ObjId, name: &str| {
            value(object, name).and_then(|v| v.as_str().map(str::to_owned))
        };
        let int = |object: &automerge::ObjId, name: &str| value(object, name)?.as_i64();
        let mut notes: Vec<OrderNote> = match self.object("notes") {
            Ok(list) => (0..doc.length(&list))
                .filter_map(|index| {
                    let (_, entry) = doc.get(&list, index).ok().flatten()?;
                    Some(OrderNote {
                        id: text(&entry, "id")?,
                        side: NoteSide::parse(&text(&entry, "side")?)?,
                        author: text(&entry, "author")?,
                        text: text(&entry, "text")?,
                        at_ms: int(&entry, "at_ms")?,
                    })
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        notes.sort_by(|a, b| (a.at_ms, &a.id).cmp(&(b.at_ms, &b.id)));
        notes.dedup_by(|a, b| a.id == b.id);
        let instructions = self
            .object("instructions")
            .ok()
            .and_then(|object| doc.text(&object).ok())
            .unwrap_or_default();
        let arrival = match doc.get(ROOT, "arrival").ok().flatten() {
            Some((_, object)) => int(&object, "at_ms").map(|at_ms| Arrival {
                at_ms,
                bay: text(&object, "bay"),
            }),
            None => None,
        };
        OrderNotes {
            instructions,
            notes,
            promised_ready_ms: int(&ROOT, "promised_ready_ms"),
            arrival,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(code: &str, area: &str, seats: u32, position: u32) -> PlanTable {
        PlanTable {
            code: code.into(),
            area: area.into(),
            seats,
            position,
        }
    }

    /// Two replicas that saw the same start.
    fn pair(start: &[PlanTable]) -> (FloorPlanDoc, FloorPlanDoc) {
        let mut hub = FloorPlanDoc::new([1; 16]);
        hub.set_tables(start).unwrap();
        let saved = hub.save();
        let edge = FloorPlanDoc::load(&saved, [2; 16]).unwrap();
        (hub, edge)
    }

    #[test]
    fn concurrent_edits_of_different_fields_and_tables_both_survive() {
        let start = [table("T1", "Patio", 4, 0), table("T2", "Patio", 2, 1)];
        let (mut hub, mut edge) = pair(&start);
        let (hub_heads, edge_heads) = (hub.heads(), edge.heads());
        // Head office moves T1 to the terrace and adds T5; the shop, offline, seats six at T1
        // and removes T2.
        hub.set_tables(&[
            table("T1", "Terrace", 4, 0),
            table("T2", "Patio", 2, 1),
            table("T5", "Bar", 2, 2),
        ])
        .unwrap();
        edge.set_tables(&[table("T1", "Patio", 6, 0)]).unwrap();
        let from_hub = hub.changes_since(&hub_heads);
        let from_edge = edge.changes_since(&edge_heads);
        edge.apply(&from_hub).unwrap();
        hub.apply(&from_edge).unwrap();
        let merged = vec![table("T1", "Terrace", 6, 0), table("T5", "Bar", 2, 2)];
        assert_eq!(hub.tables(), merged);
        assert_eq!(edge.tables(), merged);
        // Applying again changes nothing.
        hub.apply(&from_edge).unwrap();
        assert_eq!(hub.tables(), merged);
    }

    #[test]
    fn bad_bytes_are_refused_and_change_nothing() {
        let (mut hub, _) = pair(&[table("T1", "Patio", 4, 0)]);
        assert!(matches!(
            hub.apply(b"not automerge"),
            Err(DocError::Corrupt(_))
        ));
        assert_eq!(
            hub.apply(&vec![0; DOC_BYTES_MAX + 1]),
            Err(DocError::TooLarge)
        );
        assert_eq!(hub.tables(), vec![table("T1", "Patio", 4, 0)]);
        assert!(FloorPlanDoc::load(b"junk", [3; 16]).is_err());
    }

    fn plan() -> impl Strategy<Value = Vec<PlanTable>> {
        proptest::collection::btree_map(
            prop::sample::select(vec!["T1", "T2", "T3", "T4", "T5"]),
            (
                prop::sample::select(vec!["Patio", "Bar", "Hall"]),
                1_u32..=12,
                0_u32..5,
            ),
            0..5,
        )
        .prop_map(|tables| {
            tables
                .into_iter()
                .map(|(code, (area, seats, position))| table(code, area, seats, position))
                .collect()
        })
    }

    proptest! {
        /// Whatever each side edits while apart, and in whatever order and however often their
        /// changes are delivered, both read the same plan afterwards.
        #[test]
        fn replicas_converge_whatever_the_edits_and_the_delivery_order(
            start in plan(),
            hub_edits in proptest::collection::vec(plan(), 1..4),
            edge_edits in proptest::collection::vec(plan(), 1..4),
            hub_first in any::<bool>(),
            duplicate in any::<bool>(),
        ) {
            let (mut hub, mut edge) = pair(&start);
            let mut from_hub = Vec::new();
            let mut from_edge = Vec::new();
            for edit in &hub_edits {
                let heads = hub.heads();
                hub.set_tables(edit).unwrap();
                from_hub.push(hub.changes_since(&heads));
            }
            for edit in &edge_edits {
                let heads = edge.heads();
                edge.set_tables(edit).unwrap();
                from_edge.push(edge.changes_since(&heads));
            }
            let deliver = |doc: &mut FloorPlanDoc, batches: &[Vec<u8>]| {
                for batch in batches {
                    doc.apply(batch).unwrap();
                    if duplicate {
                        doc.apply(batch).unwrap();
                    }
                }
            };
            if hub_first {
                deliver(&mut edge, &from_hub);
                deliver(&mut hub, &from_edge);
            } else {
                deliver(&mut hub, &from_edge);
                deliver(&mut edge, &from_hub);
            }
            prop_assert_eq!(hub.tables(), edge.tables());
            // A table only one side touched keeps that side's last word.
            let last_hub = hub_edits.last().unwrap();
            let last_edge = edge_edits.last().unwrap();
            for table in hub.tables() {
                prop_assert!(last_hub.iter().any(|t| t.code == table.code) || last_edge.iter().any(|t| t.code == table.code));
            }
        }
    }
    fn note(id: &str, side: NoteSide, text: &str, at_ms: i64) -> OrderNote {
        OrderNote {
            id: id.into(),
            side,
            author: "Amina".into(),
            text: text.into(),
            at_ms,
        }
    }

    const ORDER: [u8; 16] = [7; 16];

    #[test]
    fn every_replica_seeds_the_same_document() {
        let mut hub = CloudOrderDoc::seeded(ORDER, [1; 16]).unwrap();
        let mut edge = CloudOrderDoc::seeded(ORDER, [2; 16]).unwrap();
        assert_eq!(hub.heads(), edge.heads());
        assert_eq!(hub.save(), edge.save());
        let other = CloudOrderDoc::seeded([8; 16], [1; 16]).unwrap().heads();
        assert_ne!(hub.heads(), other);
    }

    #[test]
    fn a_thread_and_instructions_edited_apart_merge() {
        let mut hub = CloudOrderDoc::seeded(ORDER, [1; 16]).unwrap();
        let mut edge = CloudOrderDoc::seeded(ORDER, [2; 16]).unwrap();
        let seed = hub.heads();
        hub.set_instructions("Ring the bell").unwrap();
        edge.apply(&hub.changes_since(&seed)).unwrap();
        let (hub_heads, edge_heads) = (hub.heads(), edge.heads());
        // Apart: the customer checks in at bay 3 and asks for extra napkins; the shop, offline,
        // notes a swap and promises 12:30, and adds to the instructions' end.
        hub.add_note(&note("n1", NoteSide::Hub, "Extra napkins please", 20))
            .unwrap();
        hub.set(NotesField::Arrival(Some(Arrival {
            at_ms: 25,
            bay: Some("3".into()),
        })))
        .unwrap();
        hub.set_instructions("Please ring the bell").unwrap();
        edge.add_note(&note(
            "n2",
            NoteSide::Outlet,
            "Oat milk out: soy instead",
            10,
        ))
        .unwrap();
        edge.set(NotesField::PromisedReady(Some(1_230))).unwrap();
        edge.set_instructions("Ring the bell twice").unwrap();
        let from_hub = hub.changes_since(&hub_heads);
        let from_edge = edge.changes_since(&edge_heads);
        edge.apply(&from_hub).unwrap();
        hub.apply(&from_edge).unwrap();
        let merged = hub.read();
        assert_eq!(merged, edge.read());
        assert_eq!(merged.instructions, "Please ring the bell twice");
        assert_eq!(
            merged.notes,
            vec![
                note("n2", NoteSide::Outlet, "Oat milk out: soy instead", 10),
                note("n1", NoteSide::Hub, "Extra napkins please", 20),
            ]
        );
        assert_eq!(merged.promised_ready_ms, Some(1_230));
        assert_eq!(merged.arrival.and_then(|a| a.bay), Some("3".into()));
        // Delivered again: nothing changes.
        hub.apply(&from_edge).unwrap();
        assert_eq!(hub.read().notes.len(), 2);
    }

    #[test]
    fn a_note_added_twice_is_one_note_and_a_full_thread_refuses_more() {
        let mut doc = CloudOrderDoc::seeded(ORDER, [1; 16]).unwrap();
        for index in 0..NOTES_MAX {
            doc.add_note(&note(
                &format!("n{index}"),
                NoteSide::Hub,
                "hi",
                index as i64,
            ))
            .unwrap();
        }
        doc.add_note(&note("n0", NoteSide::Hub, "hi", 0)).unwrap();
        assert_eq!(doc.read().notes.len(), NOTES_MAX);
        assert_eq!(
            doc.add_note(&note("late", NoteSide::Hub, "hi", 1)),
            Err(DocError::Full)
        );
        assert_eq!(doc.read().notes.len(), NOTES_MAX);
    }

    #[derive(Clone, Debug)]
    enum NotesEdit {
        Note(u8, i64),
        Instructions(String),
        Ready(Option<i64>),
        Arrived(Option<u8>),
    }

    fn notes_edit() -> impl Strategy<Value = NotesEdit> {
        prop_oneof![
            (0_u8..6, 0_i64..50).prop_map(|(id, at)| NotesEdit::Note(id, at)),
            "[a-c ]{0,12}".prop_map(NotesEdit::Instructions),
            proptest::option::of(0_i64..100).prop_map(NotesEdit::Ready),
            proptest::option::of(0_u8..4).prop_map(NotesEdit::Arrived),
        ]
    }

    fn edit_notes(doc: &mut CloudOrderDoc, side: NoteSide, edit: &NotesEdit) {
        match edit {
            NotesEdit::Note(id, at) => doc
                .add_note(&note(&format!("{}{id}", side.as_str()), side, "x", *at))
                .unwrap(),
            NotesEdit::Instructions(text) => doc.set_instructions(text).unwrap(),
            NotesEdit::Ready(at) => doc.set(NotesField::PromisedReady(*at)).unwrap(),
            NotesEdit::Arrived(bay) => doc
                .set(NotesField::Arrival(bay.map(|bay| Arrival {
                    at_ms: 1,
                    bay: Some(bay.to_string()),
                })))
                .unwrap(),
        }
    }

    proptest! {
        /// Whatever the channel and the outlet write to an order's notes while apart, and
        /// however often and in whichever order the changes arrive, both read the same
        /// document, and every note either side wrote is on the thread once.
        #[test]
        fn order_notes_converge_and_keep_every_note(
            hub_edits in proptest::collection::vec(notes_edit(), 1..8),
            edge_edits in proptest::collection::vec(notes_edit(), 1..8),
            hub_first in any::<bool>(),
            duplicate in any::<bool>(),
        ) {
            let mut hub = CloudOrderDoc::seeded(ORDER, [1; 16]).unwrap();
            let mut edge = CloudOrderDoc::seeded(ORDER, [2; 16]).unwrap();
            let mut from_hub = Vec::new();
            let mut from_edge = Vec::new();
            for edit in &hub_edits {
                let heads = hub.heads();
                edit_notes(&mut hub, NoteSide::Hub, edit);
                from_hub.push(hub.changes_since(&heads));
            }
            for edit in &edge_edits {
                let heads = edge.heads();
                edit_notes(&mut edge, NoteSide::Outlet, edit);
                from_edge.push(edge.changes_since(&heads));
            }
            let deliver = |doc: &mut CloudOrderDoc, batches: &[Vec<u8>]| {
                for batch in batches {
                    doc.apply(batch).unwrap();
                    if duplicate {
                        doc.apply(batch).unwrap();
                    }
                }
            };
            if hub_first {
                deliver(&mut edge, &from_hub);
                deliver(&mut hub, &from_edge);
            } else {
                deliver(&mut hub, &from_edge);
                deliver(&mut edge, &from_hub);
            }
            let merged = hub.read();
            prop_assert_eq!(&merged, &edge.read());
            let written: std::collections::BTreeSet<String> = hub_edits
                .iter()
                .filter_map(|e| match e { NotesEdit::Note(id, _) => Some(format!("hub{id}")), _ => None })
                .chain(edge_edits.iter().filter_map(|e| match e {
                    NotesEdit::Note(id, _) => Some(format!("outlet{id}")),
                    _ => None,
                }))
                .collect();
            let on_thread: Vec<String> = merged.notes.iter().map(|n| n.id.clone()).collect();
            prop_assert_eq!(on_thread.len(), written.len());
            prop_assert_eq!(on_thread.into_iter().collect::<std::collections::BTreeSet<_>>(), written);
        }
    }
}
