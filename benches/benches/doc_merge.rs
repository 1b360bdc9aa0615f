//! Merge cost of the automerge documents Kibanda syncs (the floor plan and each cloud order's
//! notes, `sync_protocol::docs`).
//!
//! Criterion measures, on a 100-table plan with a year of edits behind it:
//! - `edit_one_table`: a manager re-seats one table (diff against the plan, commit, changes out);
//! - `apply_one_edit`: the other side applies that change (strict parse + merge);
//! - `apply_100_edits_batch`: a replica that was offline applies 100 edits in one batch;
//! - `load_saved_plan`: a restart loads the saved document.
//!
//! Before the criterion runs it prints the figures `docs/figures.md` records: edits applied per
//! second, the saved document's size and the resident memory one loaded document adds, for a
//! floor plan and for a busy cloud order's notes (a long conversation both sides write).
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;
use sync_protocol::docs::{
    Arrival, CloudOrderDoc, FloorPlanDoc, NoteSide, NotesField, OrderNote, PlanTable,
};

fn plan(tables: u32, seats_bump: u32) -> Vec<PlanTable> {
    (0..tables)
        .map(|n| PlanTable {
            code: format!("T{n}"),
            area: ["Patio", "Bar", "Hall", "Terrace"][(n % 4) as usize].to_owned(),
            seats: 2 + (n + seats_bump) % 8,
            position: n,
        })
        .collect()
}

/// A 100-table plan after `history` single-table edits.
fn aged_doc(history: u32) -> FloorPlanDoc {
    let mut doc = FloorPlanDoc::new([1; 16]);
    let mut tables = plan(100, 0);
    doc.set_tables(&tables).unwrap();
    for n in 0..history {
        let index = (n % 100) as usize;
        tables[index].seats = 2 + (tables[index].seats + 1) % 8;
        doc.set_tables(&tables).unwrap();
    }
    doc
}

fn resident_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn print_figures() {
    let mut source = aged_doc(1_000);
    let saved = source.save();
    let mut replica = FloorPlanDoc::load(&saved, [2; 16]).unwrap();
    // 2,000 further edits at the source, each shipped as its own change batch.
    let mut tables = source.tables();
    let mut batches = Vec::with_capacity(2_000);
    for n in 0..2_000_u32 {
        let heads = source.heads();
        let index = (n % 100) as usize;
        tables[index].seats = 2 + (tables[index].seats + 1) % 8;
        source.set_tables(&tables).unwrap();
        batches.push(source.changes_since(&heads));
    }
    let bytes: usize = batches.iter().map(Vec::len).sum();
    let started = Instant::now();
    for batch in &batches {
        replica.apply(batch).unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(replica.tables(), source.tables());
    let before = resident_kib();
    let held: Vec<FloorPlanDoc> = (0..20)
        .map(|_| FloorPlanDoc::load(&saved, [3; 16]).unwrap())
        .collect();
    let per_doc_kib = resident_kib().saturating_sub(before) / held.len() as u64;
    println!(
        "doc_merge: applied 2000 single-edit batches ({bytes} bytes, {:.0} bytes/edit) in {:.1} ms = {:.0} edits/s",
        bytes as f64 / 2_000.0,
        elapsed.as_secs_f64() * 1e3,
        2_000.0 / elapsed.as_secs_f64()
    );
    println!(
        "doc_merge: 100-table plan with 1000 edits saves to {} bytes; one loaded copy adds ~{per_doc_kib} KiB resident",
        saved.len()
    );
    drop(held);
}

/// A cloud order's notes written from both sides: 60 messages, 40 edits of the instructions
/// and 20 changes of the promise and check-in, each side's edit shipped as its own change and
/// applied by the other, as the feed and the op log carry them.
fn print_notes_figures() {
    let order = [9; 16];
    let mut hub = CloudOrderDoc::seeded(order, [1; 16]).unwrap();
    let mut edge = CloudOrderDoc::seeded(order, [2; 16]).unwrap();
    let (mut applied, mut bytes, mut edits) = (std::time::Duration::ZERO, 0_usize, 0_u32);
    let mut instructions = String::from("Ring the bell");
    for n in 0..120_u32 {
        let (writer, reader, side) = if n % 2 == 0 {
            (&mut hub, &mut edge, NoteSide::Hub)
        } else {
            (&mut edge, &mut hub, NoteSide::Outlet)
        };
        let heads = writer.heads();
        match n % 6 {
            0..=2 => writer
                .add_note(&OrderNote {
                    id: format!("note-{n}"),
                    side,
                    author: "Amina".into(),
                    text: format!("Message {n}: running about ten minutes late, sorry"),
                    at_ms: i64::from(n),
                })
                .unwrap(),
            3 | 4 => {
                instructions.push_str(&format!(" #{n}"));
                writer.set_instructions(&instructions).unwrap();
            }
            _ => {
                if side == NoteSide::Hub {
                    writer
                        .set(NotesField::Arrival(Some(Arrival {
                            at_ms: i64::from(n),
                            bay: Some(format!("{}", n % 9)),
                        })))
                        .unwrap();
                } else {
                    writer
                        .set(NotesField::PromisedReady(Some(i64::from(n) * 1_000)))
                        .unwrap();
                }
            }
        }
        let change = writer.changes_since(&heads);
        bytes += change.len();
        let started = Instant::now();
        reader.apply(&change).unwrap();
        applied += started.elapsed();
        edits += 1;
    }
    assert_eq!(hub.read(), edge.read());
    let saved = hub.save();
    let before = resident_kib();
    let held: Vec<CloudOrderDoc> = (0..200)
        .map(|_| CloudOrderDoc::load(&saved, [3; 16]).unwrap())
        .collect();
    let per_doc_kib = resident_kib().saturating_sub(before) as f64 / held.len() as f64;
    println!(
        "doc_merge: order notes: applied {edits} single-edit changes ({:.0} bytes/edit) in {:.1} ms = {:.0} edits/s",
        bytes as f64 / f64::from(edits),
        applied.as_secs_f64() * 1e3,
        f64::from(edits) / applied.as_secs_f64()
    );
    println!(
        "doc_merge: order notes with {} messages save to {} bytes; one loaded copy adds ~{per_doc_kib:.0} KiB resident",
        hub.read().notes.len(),
        saved.len()
    );
    drop(held);
}

fn bench(c: &mut Criterion) {
    print_figures();
    print_notes_figures();
    let base = aged_doc(1_000);
    let mut base = base;
    let saved = base.save();
    let tables = base.tables();

    c.bench_function("edit_one_table", |b| {
        let mut doc = FloorPlanDoc::load(&saved, [4; 16]).unwrap();
        let mut tables = tables.clone();
        let mut n = 0_u32;
        b.iter(|| {
            let heads = doc.heads();
            let index = (n % 100) as usize;
            tables[index].seats = 2 + (tables[index].seats + 1) % 8;
            doc.set_tables(&tables).unwrap();
            n += 1;
            black_box(doc.changes_since(&heads))
        })
    });

    // One edit made elsewhere, applied to a fresh copy each time.
    let mut editor = FloorPlanDoc::load(&saved, [5; 16]).unwrap();
    let heads = editor.heads();
    let mut edited = tables.clone();
    edited[7].seats = 2 + (edited[7].seats + 3) % 8;
    editor.set_tables(&edited).unwrap();
    let one = editor.changes_since(&heads);
    c.bench_function("apply_one_edit", |b| {
        b.iter_batched(
            || FloorPlanDoc::load(&saved, [6; 16]).unwrap(),
            |mut doc| black_box(doc.apply(&one).unwrap()),
            criterion::BatchSize::SmallInput,
        )
    });

    let mut edited = tables.clone();
    for n in 0..100_usize {
        edited[n].seats = 2 + (edited[n].seats + 1) % 8;
        editor.set_tables(&edited).unwrap();
    }
    let hundred = editor.changes_since(&heads);
    c.bench_function("apply_100_edits_batch", |b| {
        b.iter_batched(
            || FloorPlanDoc::load(&saved, [6; 16]).unwrap(),
            |mut doc| black_box(doc.apply(&hundred).unwrap()),
            criterion::BatchSize::SmallInput,
        )
    });

    c.bench_function("load_saved_plan", |b| {
        b.iter(|| black_box(FloorPlanDoc::load(&saved, [7; 16]).unwrap()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
