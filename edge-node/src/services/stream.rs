//! The live stream's wake-up signal.
//!
//! The durable record is the `stream_events` table; this only tells stream readers that the
//! sequence moved, so they read the table again. A reader that subscribes, then reads, then
//! waits never misses an event: anything committed after its read changes the watched value.

use crate::store::{Store, StoreError};
use tokio::sync::watch;

pub struct EventBus {
    last_seq: watch::Sender<u64>,
}

impl EventBus {
    /// Starts at the store's last event, so a reader's first wait is for something new.
    pub fn new(store: &Store) -> Result<EventBus, StoreError> {
        let (last_seq, _) = watch::channel(store.last_stream_seq()?);
        Ok(EventBus { last_seq })
    }

    /// Called after a commit that wrote events up to `seq`.
    pub fn published(&self, seq: u64) {
        self.last_seq.send_if_modified(|current| {
            let moved = seq > *current;
            if moved {
                *current = seq;
            }
            moved
        });
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.last_seq.subscribe()
    }
}
