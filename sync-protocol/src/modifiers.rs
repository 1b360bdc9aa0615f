//! Wire form of an item's modifier groups ("milk: whole / oat +50"), sent down the outlet's
//! feed with the item they belong to, so the till prices and validates choices offline with
//! `shared_model::modifiers`.

use serde::{Deserialize, Serialize};
use shared_model::modifiers::{ModifierGroup, ModifierOption};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifierOptionV1 {
    pub id: String,
    pub name: String,
    pub price_delta_minor: i64,
    pub nested_groups: Vec<ModifierGroupV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifierGroupV1 {
    pub id: String,
    pub name: String,
    pub min_choices: u8,
    pub max_choices: u8,
    pub options: Vec<ModifierOptionV1>,
}

impl From<&ModifierGroup> for ModifierGroupV1 {
    fn from(group: &ModifierGroup) -> Self {
        ModifierGroupV1 {
            id: group.id.clone(),
            name: group.name.clone(),
            min_choices: group.min_choices,
            max_choices: group.max_choices,
            options: group
                .options
                .iter()
                .map(|option| ModifierOptionV1 {
                    id: option.id.clone(),
                    name: option.name.clone(),
                    price_delta_minor: option.price_delta_minor,
                    nested_groups: option.nested_groups.iter().map(Into::into).collect(),
                })
                .collect(),
        }
    }
}

impl From<&ModifierGroupV1> for ModifierGroup {
    fn from(group: &ModifierGroupV1) -> Self {
        ModifierGroup {
            id: group.id.clone(),
            name: group.name.clone(),
            min_choices: group.min_choices,
            max_choices: group.max_choices,
            options: group
                .options
                .iter()
                .map(|option| ModifierOption {
                    id: option.id.clone(),
                    name: option.name.clone(),
                    price_delta_minor: option.price_delta_minor,
                    nested_groups: option.nested_groups.iter().map(Into::into).collect(),
                })
                .collect(),
        }
    }
}

/// Wire form of a combo ("burger meal": a main, a side and a drink at one price).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboV1 {
    pub id: String,
    pub name: String,
    pub price_minor: i64,
    pub slots: Vec<ComboSlotV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboSlotV1 {
    pub id: String,
    pub name: String,
    /// `(item id, upcharge)`: the items the slot may be filled with.
    pub options: Vec<(String, i64)>,
}

impl From<&shared_model::modifiers::Combo> for ComboV1 {
    fn from(combo: &shared_model::modifiers::Combo) -> Self {
        ComboV1 {
            id: combo.id.clone(),
            name: combo.name.clone(),
            price_minor: combo.price_minor,
            slots: combo
                .slots
                .iter()
                .map(|slot| ComboSlotV1 {
                    id: slot.id.clone(),
                    name: slot.name.clone(),
                    options: slot
                        .options
                        .iter()
                        .map(|option| (option.item_id.0.clone(), option.upcharge_minor))
                        .collect(),
                })
                .collect(),
        }
    }
}

impl From<&ComboV1> for shared_model::modifiers::Combo {
    fn from(wire: &ComboV1) -> Self {
        use shared_model::modifiers::{ComboSlot, ComboSlotOption};
        shared_model::modifiers::Combo {
            id: wire.id.clone(),
            name: wire.name.clone(),
            price_minor: wire.price_minor,
            slots: wire
                .slots
                .iter()
                .map(|slot| ComboSlot {
                    id: slot.id.clone(),
                    name: slot.name.clone(),
                    options: slot
                        .options
                        .iter()
                        .map(|(item, upcharge)| ComboSlotOption {
                            item_id: shared_model::ItemId(item.clone()),
                            upcharge_minor: *upcharge,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}
