//! Wiping an edge's store, with the safety valve: never while sales are un-synced, unless a
//! manager exports them first and forces it.

use crate::config::STORE_FILE;
use crate::store::{Store, StoreError};
use std::io::Write;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WipeError {
    #[error(
        "refusing to wipe: {pending} ops (sales, payments) have not reached the hub; export them with --export FILE --force, or let the edge sync first"
    )]
    UnsyncedOps { pending: u64 },
    #[error("--force wipes un-synced ops and needs --export FILE to keep a copy")]
    ForceWithoutExport,
    #[error("export to {path} failed: {source}")]
    Export {
        path: String,
        source: std::io::Error,
    },
    #[error("could not remove {path}: {source}")]
    Remove {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, PartialEq, Eq)]
pub struct WipeOutcome {
    pub exported_ops: u64,
}

/// Wipes the store in `data_dir`. With un-synced ops it needs `export` and `force`: the ops are
/// written (and fsync'd) to `export` as JSON lines before anything is removed.
pub fn wipe(data_dir: &Path, export: Option<&Path>, force: bool) -> Result<WipeOutcome, WipeError> {
    let store_path = data_dir.join(STORE_FILE);
    let store = Store::open(&store_path)?;
    let outbox = store.outbox_status()?;
    let pending = outbox.last_seq.saturating_sub(outbox.acked_through_seq);
    let mut exported_ops = 0;
    if pending > 0 {
        let Some(export) = export else {
            return Err(WipeError::UnsyncedOps { pending });
        };
        if !force {
            return Err(WipeError::UnsyncedOps { pending });
        }
        exported_ops = export_pending(&store, outbox.acked_through_seq + 1, export)?;
    } else if force && export.is_none() {
        // Nothing un-synced: --force is harmless, but say what it is for.
        tracing::info!("no un-synced ops; --force was not needed");
    }
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let path = data_dir.join(format!("{STORE_FILE}{suffix}"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(WipeError::Remove {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
    }
    Ok(WipeOutcome { exported_ops })
}

fn export_pending(store: &Store, from_seq: u64, path: &Path) -> Result<u64, WipeError> {
    let export_error = |source: std::io::Error| WipeError::Export {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(export_error)?;
    let mut next = from_seq;
    let mut count = 0;
    loop {
        let ops = store.ops_from(next, 1_000)?;
        let Some(last) = ops.last().map(|op| op.seq) else {
            break;
        };
        for op in &ops {
            let line = serde_json::json!({
                "origin": uuid::Uuid::from_bytes(op.origin).to_string(),
                "seq": op.seq,
                "hlc_wall_ms": op.hlc.wall_ms,
                "hlc_logical": op.hlc.logical,
                "prev_hash": hex::encode(op.prev_hash),
                "hash": hex::encode(op.chain_hash()),
                "body_hex": hex::encode(&op.body),
            });
            writeln!(file, "{line}").map_err(export_error)?;
            count += 1;
        }
        next = last + 1;
    }
    file.sync_all().map_err(export_error)?;
    Ok(count)
}
