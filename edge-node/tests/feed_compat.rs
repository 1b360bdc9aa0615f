//! An edge one version behind its hub keeps syncing: a feed entry of a kind it does not know
//! (the hub is newer) is stepped over, and the entries around it still apply, in order.
#![allow(clippy::unwrap_used)]

use edge_node::store::Store;
use shared_model::{CatalogItem, ItemId, TaxMode};
use sync_protocol::feed::{CatalogItemV1, FeedBody, FeedEntry};

#[test]
fn an_unknown_kind_from_a_newer_hub_is_skipped_and_the_feed_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("edge.sqlite3")).unwrap();
    let item = |id: &str| {
        FeedBody::CatalogItemUpserted(CatalogItemV1::from(&CatalogItem::simple(
            id,
            "Item",
            "food",
            100,
            TaxMode::Inclusive,
            vec![],
        )))
    };
    let entries = [
        FeedEntry {
            seq: 1,
            body: item("sku-before").encode(),
        },
        // A kind appended after this version's last one.
        FeedEntry {
            seq: 2,
            body: vec![200, 1, 7, 7],
        },
        FeedEntry {
            seq: 3,
            body: item("sku-after").encode(),
        },
    ];
    let decoded: Vec<(u64, Option<FeedBody>)> = entries
        .iter()
        .map(|entry| (entry.seq, entry.decode_known().unwrap()))
        .collect();
    assert!(decoded[1].1.is_none());
    assert_eq!(store.apply_feed_entries(&decoded, 0).unwrap(), 3);
    assert_eq!(store.feed_through_seq().unwrap(), 3);
    assert!(
        store
            .catalog_item(&ItemId("sku-before".into()))
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .catalog_item(&ItemId("sku-after".into()))
            .unwrap()
            .is_some()
    );
    // A corrupt entry of a known kind is still an error, never skipped.
    assert!(
        FeedEntry {
            seq: 4,
            body: vec![0, 0xff]
        }
        .decode_known()
        .is_err()
    );
}
