//! Automerge documents for what the hub and an outlet both edit field by field. Today: the
//! outlet's floor plan (head office lays out areas and seats, the shop adds a table the same
//! afternoon with the link down), merged table by table and field by field, never "last save
//! wins" for the whole plan.
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

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DocError {
    #[error("document bytes exceed {DOC_BYTES_MAX}")]
    TooLarge,
    #[error("not an automerge document or change: {0}")]
    Corrupt(String),
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

/// An outlet's floor plan as an automerge document.
pub struct FloorPlanDoc {
    doc: AutoCommit,
}

impl FloorPlanDoc {
    /// An empty plan written by `actor` (the node's id: each writer has its own).
    pub fn new(actor: [u8; 16]) -> FloorPlanDoc {
        FloorPlanDoc {
            doc: AutoCommit::new().with_actor(ActorId::from(&actor[..])),
        }
    }

    /// A saved plan, to be edited further by `actor`.
    pub fn load(bytes: &[u8], actor: [u8; 16]) -> Result<FloorPlanDoc, DocError> {
        if bytes.len() > DOC_BYTES_MAX {
            return Err(DocError::TooLarge);
        }
        let doc = AutoCommit::load(bytes).map_err(|e| DocError::Corrupt(e.to_string()))?;
        Ok(FloorPlanDoc {
            doc: doc.with_actor(ActorId::from(&actor[..])),
        })
    }

    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The changes made since `heads` (empty if none), for the other side.
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        if self.doc.get_heads() == heads {
            return Vec::new();
        }
        self.doc.save_after(heads)
    }

    /// Applies the other side's changes; applying them again, or out of order with others,
    /// changes nothing more. Returns how many operations were new.
    pub fn apply(&mut self, changes: &[u8]) -> Result<usize, DocError> {
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

    /// The plan: tables by position, then code.
    pub fn tables(&self) -> Vec<PlanTable> {
        let mut tables: Vec<PlanTable> = self
            .doc
            .keys(ROOT)
            .filter_map(|code| {
                let (_, table) = self.doc.get(ROOT, code.as_str()).ok().flatten()?;
                let field = |name: &str| self.doc.get(&table, name).ok().flatten().map(|(v, _)| v);
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
        let fail = |e: automerge::AutomergeError| DocError::Corrupt(e.to_string());
        for gone in current
            .iter()
            .filter(|old| !tables.iter().any(|table| table.code == old.code))
        {
            self.doc.delete(ROOT, gone.code.as_str()).map_err(fail)?;
        }
        for table in tables {
            let before = current.iter().find(|old| old.code == table.code);
            let object = match (
                before,
                self.doc.get(ROOT, table.code.as_str()).map_err(fail)?,
            ) {
                (Some(_), Some((_, object))) => object,
                _ => self
                    .doc
                    .put_object(ROOT, table.code.as_str(), ObjType::Map)
                    .map_err(fail)?,
            };
            if before.is_none_or(|old| old.area != table.area) {
                self.doc
                    .put(&object, "area", table.area.as_str())
                    .map_err(fail)?;
            }
            if before.is_none_or(|old| old.seats != table.seats) {
                self.doc
                    .put(&object, "seats", u64::from(table.seats))
                    .map_err(fail)?;
            }
            if before.is_none_or(|old| old.position != table.position) {
                self.doc
                    .put(&object, "position", u64::from(table.position))
                    .map_err(fail)?;
            }
        }
        self.doc.commit();
        Ok(())
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
}
