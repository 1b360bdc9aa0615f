//! The downstream feed: what the hub decided for one outlet (catalog, and in time prices,
//! staff, configuration, cloud orders), as a numbered stream the edge applies in order and
//! resumes from its own durable cursor.
//!
//! Entries carry a versioned body as opaque postcard bytes, like ops. Add variants only at the
//! end of [`FeedBody`].

use crate::op::{OpDecodeError, RoleV1, TaxRateV1};
use serde::{Deserialize, Serialize};
use shared_model::CatalogItem;
use shared_model::catalog::Unit;
use shared_model::tax::{TaxMode, TaxRate};

/// Most feed entries in one `FeedBatch`. Why: one batch is one SQLite transaction at the edge;
/// 1,000 catalog rows apply in a few milliseconds and fit easily in a frame.
pub const FEED_BATCH_MAX: usize = 1_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    pub seq: u64,
    /// postcard bytes of [`FeedBody`].
    pub body: Vec<u8>,
}

impl FeedEntry {
    pub fn decode_body(&self) -> Result<FeedBody, OpDecodeError> {
        let (body, rest) = postcard::take_from_bytes::<FeedBody>(&self.body)
            .map_err(|error| OpDecodeError::Malformed(error.to_string()))?;
        if !rest.is_empty() {
            return Err(OpDecodeError::Malformed("trailing bytes".into()));
        }
        Ok(body)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeedBody {
    CatalogItemUpserted(CatalogItemV1),
    CatalogItemRemoved {
        item_id: String,
    },
    /// A staff member as the hub knows them, with the PIN only as its argon2 PHC string.
    StaffUpserted(StaffV1),
    /// A forced logout from the hub: every open session of this staff member ends.
    StaffLoggedOut {
        staff_id: [u8; 16],
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffV1 {
    pub id: [u8; 16],
    pub name: String,
    pub role: RoleV1,
    pub pin_hash_phc: String,
    /// A disabled staff member cannot sign in, and their open sessions end.
    pub disabled: bool,
}

impl FeedBody {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItemV1 {
    pub id: String,
    pub name: String,
    pub category: String,
    pub price_minor: i64,
    pub tax_inclusive: bool,
    pub tax_rates: Vec<TaxRateV1>,
    pub unit: UnitV1,
    pub barcodes: Vec<String>,
    pub plu: Option<String>,
    pub age_restricted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitV1 {
    Each,
    Kilogram,
    Litre,
}

impl From<&CatalogItem> for CatalogItemV1 {
    fn from(item: &CatalogItem) -> Self {
        CatalogItemV1 {
            id: item.id.0.clone(),
            name: item.name.clone(),
            category: item.category.clone(),
            price_minor: item.price_minor,
            tax_inclusive: item.tax_mode == TaxMode::Inclusive,
            tax_rates: item
                .tax_rates
                .iter()
                .map(|rate| TaxRateV1 {
                    code: rate.code.clone(),
                    rate_bps: rate.rate_bps,
                })
                .collect(),
            unit: match item.unit {
                Unit::Each => UnitV1::Each,
                Unit::Kilogram => UnitV1::Kilogram,
                Unit::Litre => UnitV1::Litre,
            },
            barcodes: item.barcodes.clone(),
            plu: item.plu.clone(),
            age_restricted: item.age_restricted,
        }
    }
}

impl From<&CatalogItemV1> for CatalogItem {
    /// Allergen, nutrition and modifier metadata do not travel in v1 of the feed yet.
    fn from(item: &CatalogItemV1) -> Self {
        let mut domain = CatalogItem::simple(
            &item.id,
            &item.name,
            &item.category,
            item.price_minor,
            if item.tax_inclusive {
                TaxMode::Inclusive
            } else {
                TaxMode::Exclusive
            },
            item.tax_rates
                .iter()
                .map(|rate| TaxRate::new(rate.code.clone(), rate.rate_bps))
                .collect(),
        );
        domain.unit = match item.unit {
            UnitV1::Each => Unit::Each,
            UnitV1::Kilogram => Unit::Kilogram,
            UnitV1::Litre => Unit::Litre,
        };
        domain.barcodes = item.barcodes.clone();
        domain.plu = item.plu.clone();
        domain.age_restricted = item.age_restricted;
        domain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_entries_survive_the_wire_unchanged() {
        for body in [
            FeedBody::StaffUpserted(StaffV1 {
                id: [7; 16],
                name: "Wanjiru".into(),
                role: RoleV1::Supervisor,
                pin_hash_phc: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
                disabled: false,
            }),
            FeedBody::StaffLoggedOut { staff_id: [7; 16] },
        ] {
            let entry = FeedEntry {
                seq: 1,
                body: body.encode(),
            };
            assert_eq!(entry.decode_body().expect("decode"), body);
        }
    }
}
