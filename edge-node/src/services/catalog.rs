//! The outlet's catalog, and the demo catalog a fresh box starts with.

use crate::store::{Store, StoreError};
use shared_model::CatalogItem;
use shared_model::tax::{TaxMode, TaxRate};
use std::sync::Arc;

/// A small café catalog in KES, VAT 16 % inclusive, so a fresh box can sell at once.
pub fn demo_catalog() -> Vec<CatalogItem> {
    let vat = || vec![TaxRate::new("VAT16", 1600)];
    let item = |id: &str, name: &str, category: &str, price_minor: i64, tax_rates| {
        CatalogItem::simple(
            id,
            name,
            category,
            price_minor,
            TaxMode::Inclusive,
            tax_rates,
        )
    };
    vec![
        item("sku-espresso", "Espresso", "coffee", 20_000, vat()),
        item("sku-cappuccino", "Cappuccino", "coffee", 30_000, vat()),
        item("sku-chai", "Masala chai", "tea", 15_000, vat()),
        item("sku-mandazi", "Mandazi", "bakery", 5_000, vat()),
        item("sku-samosa", "Beef samosa", "bakery", 8_000, vat()),
        item("sku-water", "Mineral water 500ml", "drinks", 6_000, vat()),
        item(
            "sku-milk",
            "Fresh milk 500ml",
            "grocery",
            6_500,
            vec![TaxRate::new("ZERO", 0)],
        ),
    ]
}

/// Seeds the demo catalog if the store has none; returns the catalog now in force.
pub fn seed_demo_if_empty(store: &Store) -> Result<(bool, Vec<CatalogItem>), StoreError> {
    let seeded = store.seed_catalog_if_empty(&demo_catalog())?;
    Ok((seeded, store.catalog_items()?))
}

/// The catalog with the modifier groups each item offers.
pub async fn list(
    store: Arc<Store>,
) -> Result<Vec<(CatalogItem, Vec<shared_model::modifiers::ModifierGroup>)>, StoreError> {
    super::blocking(move || {
        let mut modifiers = store.all_item_modifiers()?;
        Ok(store
            .catalog_items()?
            .into_iter()
            .map(|item| {
                let groups = modifiers.remove(&item.id.0).unwrap_or_default();
                (item, groups)
            })
            .collect())
    })
    .await
}
