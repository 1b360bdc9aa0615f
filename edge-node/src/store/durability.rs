//! Group commit for the LAN API: one fsync of the write-ahead log for every request waiting.
//!
//! SQLite runs in WAL mode with `synchronous=NORMAL`: a commit writes its frames to the WAL
//! without an fsync (the database stays consistent whatever happens; a power cut may only lose
//! the newest commits). Before an answer that reports a change, the API waits for
//! [`GroupSync::sync`]: an fsync of the WAL that *started after* the change committed, so the
//! change is on disk — the guarantee `synchronous=FULL` gives — while every request committed
//! meanwhile shares that one fsync, and none holds the store's lock while it waits.
//! (On Linux an fsync through any descriptor flushes the file's dirty pages, including those
//! SQLite wrote through its own.)

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

#[derive(Default)]
struct State {
    /// fsyncs started so far; the one running (if any) is number `started`.
    started: u64,
    /// The last fsync finished (all before it finished too).
    completed: u64,
    running: bool,
}

pub struct GroupSync {
    wal: PathBuf,
    state: Mutex<State>,
    done: Condvar,
}

impl GroupSync {
    /// For the database at `database` (its WAL is `<database>-wal`).
    pub fn new(database: &std::path::Path) -> GroupSync {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        GroupSync {
            wal: PathBuf::from(wal),
            state: Mutex::new(State::default()),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns once everything committed before the call is on disk. Blocking: call it from a
    /// blocking thread.
    pub fn sync(&self) -> std::io::Result<()> {
        let mut state = self.lock();
        // An fsync already running may have started before our commit: we need the next one.
        let needed = state.started + 1;
        loop {
            if state.completed >= needed {
                return Ok(());
            }
            if !state.running {
                state.running = true;
                state.started += 1;
                let this = state.started;
                drop(state);
                let result = self.fsync_wal();
                state = self.lock();
                state.running = false;
                if result.is_ok() {
                    state.completed = this;
                }
                self.done.notify_all();
                result?;
                continue;
            }
            state = self
                .done
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn fsync_wal(&self) -> std::io::Result<()> {
        match File::open(&self.wal) {
            Ok(file) => file.sync_data(),
            // No WAL yet (nothing written) or just checkpointed away: the database file holds
            // everything, synced by the checkpoint.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn concurrent_callers_share_fsyncs_and_each_waits_for_one_that_started_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("edge.sqlite");
        std::fs::write(format!("{}-wal", database.display()), b"frames").unwrap();
        let sync = Arc::new(GroupSync::new(&database));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let sync = sync.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        sync.sync().unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let state = sync.lock();
        assert!(!state.running);
        assert_eq!(state.started, state.completed);
        assert!(
            state.completed >= 50,
            "each caller waited for its own fsyncs"
        );
        assert!(state.completed <= 16 * 50, "never more fsyncs than calls");
    }

    #[test]
    fn no_wal_yet_is_nothing_to_sync() {
        let dir = tempfile::tempdir().unwrap();
        GroupSync::new(&dir.path().join("edge.sqlite"))
            .sync()
            .unwrap();
    }
}
