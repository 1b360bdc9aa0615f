//! Catalog references: what a terminal can sell, as the inventory catalog names it.
//!
//! Items are *references*: the canonical id, codes and display metadata come from the
//! inventory catalog and are carried here so a receipt, a kiosk or a KDS can show them
//! offline. This crate never edits them.

use crate::tax::{TaxMode, TaxRate};
use serde::{Deserialize, Serialize};

/// Canonical item id from the inventory catalog (e.g. `"sku-espresso"`); not minted here.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct ItemId(pub String);

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How an item is sold and what its price is per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Counted; the price is per piece.
    #[default]
    Each,
    /// Weighed; the price is per kilogram and quantities are grams.
    Kilogram,
    /// Measured; the price is per litre and quantities are millilitres.
    Litre,
}

impl Unit {
    /// Whether quantities of this unit are measured in thousandths (grams, millilitres).
    pub fn is_measured(&self) -> bool {
        !matches!(self, Unit::Each)
    }
}

/// The 14 allergens EU and Kenyan (KEBS) labelling rules name, for display only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Allergen {
    Gluten,
    Crustaceans,
    Eggs,
    Fish,
    Peanuts,
    Soy,
    Milk,
    TreeNuts,
    Celery,
    Mustard,
    Sesame,
    Sulphites,
    Lupin,
    Molluscs,
}

/// Nutrition per serving, in integer units, for display only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Nutrition {
    pub energy_kcal: u32,
    pub fat_mg: u32,
    pub sugar_mg: u32,
    pub salt_mg: u32,
}

/// A sellable item with its outlet shelf price.
///
/// Fields after `tax_rates` were added later and default when an older stored document lacks
/// them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    pub id: ItemId,
    pub name: String,
    pub category: String,
    /// Shelf price of one unit (one piece, one kilogram or one litre, see `unit`), in the
    /// outlet currency's minor units. Price books may override it.
    pub price_minor: i64,
    pub tax_mode: TaxMode,
    /// Taxes charged on this item. Empty means *exempt* (outside the tax); a rate of 0 bps
    /// means *zero-rated* (taxable at 0 %, still reported).
    pub tax_rates: Vec<TaxRate>,
    #[serde(default)]
    pub unit: Unit,
    /// EAN/UPC codes printed on the product.
    #[serde(default)]
    pub barcodes: Vec<String>,
    /// Price look-up code, typed at the till or embedded in scale labels.
    #[serde(default)]
    pub plu: Option<String>,
    #[serde(default)]
    pub allergens: Vec<Allergen>,
    #[serde(default)]
    pub nutrition: Option<Nutrition>,
    /// Needs an ID check at the till (alcohol, tobacco, some medicines).
    #[serde(default)]
    pub age_restricted: bool,
    /// Ids of the [`crate::modifiers::ModifierGroup`]s offered with this item, in display order.
    #[serde(default)]
    pub modifier_group_ids: Vec<String>,
}

impl CatalogItem {
    /// A counted item with no codes or metadata: the shape most tests and demo data need.
    ///
    /// ```
    /// use shared_model::{CatalogItem, TaxMode, TaxRate};
    /// let chai = CatalogItem::simple("sku-chai", "Masala chai", "tea", 15_000, TaxMode::Inclusive, vec![TaxRate::new("VAT16", 1600)]);
    /// assert!(chai.barcodes.is_empty());
    /// ```
    pub fn simple(
        id: &str,
        name: &str,
        category: &str,
        price_minor: i64,
        tax_mode: TaxMode,
        tax_rates: Vec<TaxRate>,
    ) -> CatalogItem {
        CatalogItem {
            id: ItemId(id.to_owned()),
            name: name.to_owned(),
            category: category.to_owned(),
            price_minor,
            tax_mode,
            tax_rates,
            unit: Unit::Each,
            barcodes: Vec::new(),
            plu: None,
            allergens: Vec::new(),
            nutrition: None,
            age_restricted: false,
            modifier_group_ids: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_stored_before_units_and_barcodes_existed_still_loads() {
        let old = r#"{"id":"sku-chai","name":"Chai","category":"tea","price_minor":15000,
            "tax_mode":"inclusive","tax_rates":[{"code":"VAT16","rate_bps":1600}]}"#;
        let item: CatalogItem = serde_json::from_str(old).expect("old document loads");
        assert_eq!(item.unit, Unit::Each);
        assert!(!item.age_restricted);
        assert!(item.modifier_group_ids.is_empty());
    }
}
