//! Catalog references: what a terminal can sell, as the inventory catalog names it.

use crate::tax::{TaxMode, TaxRate};
use serde::{Deserialize, Serialize};

/// Canonical item id from the inventory catalog (e.g. `"sku-espresso"`); not minted here.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ItemId(pub String);

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A sellable item with its outlet price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    pub id: ItemId,
    pub name: String,
    pub category: String,
    /// Shelf price of one unit, in the outlet currency's minor units.
    pub price_minor: i64,
    pub tax_mode: TaxMode,
    pub tax_rates: Vec<TaxRate>,
}
