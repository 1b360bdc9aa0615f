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
