//! Modifiers and combos: "large, oat milk, extra shot", and "burger meal with a soda".
//!
//! A [`ModifierGroup`] offers options with price deltas and says how many may be chosen
//! (`min_choices` ≥ 1 makes it required). An option may open nested groups ("extra shot" →
//! "which bean?"). [`resolve_modifiers`] checks a terminal's choices against the groups and
//! returns the flat list printed on tickets plus the total price delta.
//!
//! A [`Combo`] sells several items for one price; each slot takes one choice, some with an
//! upcharge. [`price_combo`] spreads the combo price over the chosen components by their
//! shelf prices, so each component can carry its own tax rate.

use crate::allocation::allocate_largest_remainder;
use crate::catalog::ItemId;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use thiserror::Error;

/// Deepest nesting of modifier groups. Why: real menus nest at most twice ("extra shot" →
/// "bean"); a deeper tree is a configuration loop, and the limit bounds recursion.
pub const MODIFIER_DEPTH_MAX: usize = 3;
/// Most modifiers chosen on one line, nested ones included. Why: bounds ticket size and work.
pub const MODIFIERS_PER_LINE_MAX: usize = 32;
/// Most slots in a combo. Why: a meal has a handful of parts; more is a data error.
pub const COMBO_SLOTS_MAX: usize = 12;

/// One choosable option.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifierOption {
    pub id: String,
    pub name: String,
    /// Added to the line's unit price when chosen; may be negative ("no cheese").
    #[serde(default)]
    pub price_delta_minor: i64,
    /// Groups that open when this option is chosen.
    #[serde(default)]
    pub nested_groups: Vec<ModifierGroup>,
}

/// A set of options with a choice count rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifierGroup {
    pub id: String,
    pub name: String,
    /// At least this many choices; 1 or more makes the group required.
    #[serde(default)]
    pub min_choices: u8,
    /// At most this many choices.
    pub max_choices: u8,
    pub options: Vec<ModifierOption>,
}

/// A terminal's choice of one option, with its nested choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifierChoice {
    pub group_id: String,
    pub option_id: String,
    #[serde(default)]
    pub nested: Vec<ModifierChoice>,
}

impl ModifierChoice {
    /// A top-level choice with no nested choices.
    pub fn new(group_id: &str, option_id: &str) -> ModifierChoice {
        ModifierChoice {
            group_id: group_id.to_owned(),
            option_id: option_id.to_owned(),
            nested: Vec::new(),
        }
    }
}

/// A validated modifier as it goes on the line, the ticket and the receipt.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChosenModifier {
    pub group_id: String,
    pub option_id: String,
    pub name: String,
    pub price_delta_minor: i64,
    /// 0 for top-level choices, 1 for choices nested under one, and so on.
    pub depth: u8,
}

/// The validated modifiers of one line.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResolvedModifiers {
    pub chosen: Vec<ChosenModifier>,
    /// Sum of the chosen price deltas, per unit of the line.
    pub price_delta_minor: i64,
}

/// Why a line's modifier choices were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModifierError {
    #[error("group {0:?} is not offered here")]
    UnknownGroup(String),
    #[error("option {option:?} is not in group {group:?}")]
    UnknownOption { group: String, option: String },
    #[error("group {group:?} needs {min} to {max} choices, got {got}")]
    ChoiceCount {
        group: String,
        min: u8,
        max: u8,
        got: usize,
    },
    #[error("option {0:?} was chosen twice")]
    DuplicateChoice(String),
    #[error("modifiers nest deeper than {MODIFIER_DEPTH_MAX} levels")]
    TooDeep,
    #[error("a line takes at most {MODIFIERS_PER_LINE_MAX} modifiers")]
    TooMany,
    #[error("price delta out of range")]
    Overflow,
}

/// Validates `choices` against the `groups` offered and flattens them.
///
/// ```
/// use shared_model::modifiers::*;
/// let size = ModifierGroup { id: "size".into(), name: "Size".into(), min_choices: 1, max_choices: 1, options: vec![
///     ModifierOption { id: "regular".into(), name: "Regular".into(), price_delta_minor: 0, nested_groups: vec![] },
///     ModifierOption { id: "large".into(), name: "Large".into(), price_delta_minor: 5_000, nested_groups: vec![] },
/// ]};
/// let resolved = resolve_modifiers(&[size.clone()], &[ModifierChoice::new("size", "large")]).expect("valid");
/// assert_eq!(resolved.price_delta_minor, 5_000);
/// // The size group is required.
/// assert!(matches!(resolve_modifiers(&[size], &[]), Err(ModifierError::ChoiceCount { .. })));
/// ```
pub fn resolve_modifiers<G: Borrow<ModifierGroup>>(
    groups: &[G],
    choices: &[ModifierChoice],
) -> Result<ResolvedModifiers, ModifierError> {
    let mut resolved = ResolvedModifiers::default();
    resolve_level(groups, choices, 0, &mut resolved)?;
    Ok(resolved)
}

fn resolve_level<G: Borrow<ModifierGroup>>(
    groups: &[G],
    choices: &[ModifierChoice],
    depth: usize,
    resolved: &mut ResolvedModifiers,
) -> Result<(), ModifierError> {
    if depth >= MODIFIER_DEPTH_MAX {
        return Err(ModifierError::TooDeep);
    }
    for choice in choices {
        if !groups
            .iter()
            .any(|group| group.borrow().id == choice.group_id)
        {
            return Err(ModifierError::UnknownGroup(choice.group_id.clone()));
        }
    }
    for group in groups {
        let group: &ModifierGroup = group.borrow();
        let mut count = 0_usize;
        for (index, choice) in choices.iter().enumerate() {
            if choice.group_id != group.id {
                continue;
            }
            count += 1;
            if choices[..index].iter().any(|earlier| {
                earlier.group_id == choice.group_id && earlier.option_id == choice.option_id
            }) {
                return Err(ModifierError::DuplicateChoice(choice.option_id.clone()));
            }
            let option = group
                .options
                .iter()
                .find(|option| option.id == choice.option_id)
                .ok_or_else(|| ModifierError::UnknownOption {
                    group: group.id.clone(),
                    option: choice.option_id.clone(),
                })?;
            if resolved.chosen.len() >= MODIFIERS_PER_LINE_MAX {
                return Err(ModifierError::TooMany);
            }
            resolved.price_delta_minor = resolved
                .price_delta_minor
                .checked_add(option.price_delta_minor)
                .ok_or(ModifierError::Overflow)?;
            resolved.chosen.push(ChosenModifier {
                group_id: group.id.clone(),
                option_id: option.id.clone(),
                name: option.name.clone(),
                price_delta_minor: option.price_delta_minor,
                // Bounded by MODIFIER_DEPTH_MAX.
                depth: depth as u8,
            });
            resolve_level(&option.nested_groups, &choice.nested, depth + 1, resolved)?;
        }
        if count < usize::from(group.min_choices) || count > usize::from(group.max_choices) {
            return Err(ModifierError::ChoiceCount {
                group: group.id.clone(),
                min: group.min_choices,
                max: group.max_choices,
                got: count,
            });
        }
    }
    Ok(())
}

/// One allowed item in a combo slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboSlotOption {
    pub item_id: ItemId,
    /// Added to the combo price when chosen ("large fries +50").
    #[serde(default)]
    pub upcharge_minor: i64,
}

/// One part of a combo, filled by exactly one of its options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboSlot {
    pub id: String,
    pub name: String,
    pub options: Vec<ComboSlotOption>,
}

/// A bundle sold for one price, e.g. "Burger meal: burger + fries + soda, KES 950".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Combo {
    pub id: String,
    pub name: String,
    pub price_minor: i64,
    pub slots: Vec<ComboSlot>,
}

/// The terminal's pick for one slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboChoice {
    pub slot_id: String,
    pub item_id: ItemId,
}

/// One component of a priced combo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboComponent {
    pub slot_id: String,
    pub item_id: ItemId,
    pub upcharge_minor: i64,
    /// This component's share of the combo's total, for tax and sales reports.
    pub allocated_minor: i64,
}

/// A combo with its total and each component's share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedCombo {
    /// Combo price plus upcharges.
    pub total_minor: i64,
    pub components: Vec<ComboComponent>,
}

/// Why a combo could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ComboError {
    #[error("slot {0:?} needs exactly one choice")]
    SlotNotFilled(String),
    #[error("slot {0:?} is not part of this combo")]
    UnknownSlot(String),
    #[error("item {item} is not offered in slot {slot:?}")]
    NotOffered { slot: String, item: ItemId },
    #[error("item {0} has no shelf price")]
    UnknownItem(ItemId),
    #[error("a combo has at most {COMBO_SLOTS_MAX} slots")]
    TooManySlots,
    #[error("combo price is negative or out of range")]
    BadPrice,
    #[error("a combo needs exactly one line id per slot")]
    LineIdsPerSlot,
}

/// Prices a combo: the combo price plus chosen upcharges, spread over the components in
/// proportion to their shelf prices (`shelf_price_minor`) so the parts add up exactly.
///
/// ```
/// use shared_model::modifiers::*;
/// use shared_model::ItemId;
/// let meal = Combo { id: "meal".into(), name: "Burger meal".into(), price_minor: 90_000, slots: vec![
///     ComboSlot { id: "main".into(), name: "Main".into(), options: vec![ComboSlotOption { item_id: ItemId("burger".into()), upcharge_minor: 0 }] },
///     ComboSlot { id: "drink".into(), name: "Drink".into(), options: vec![ComboSlotOption { item_id: ItemId("soda".into()), upcharge_minor: 5_000 }] },
/// ]};
/// let choices = [ComboChoice { slot_id: "main".into(), item_id: ItemId("burger".into()) },
///                ComboChoice { slot_id: "drink".into(), item_id: ItemId("soda".into()) }];
/// let shelf = |item: &ItemId| Some(if item.0 == "burger" { 80_000 } else { 20_000 });
/// let priced = price_combo(&meal, &choices, shelf).expect("valid");
/// assert_eq!(priced.total_minor, 95_000);
/// assert_eq!(priced.components[0].allocated_minor + priced.components[1].allocated_minor, 95_000);
/// ```
pub fn price_combo(
    combo: &Combo,
    choices: &[ComboChoice],
    shelf_price_minor: impl Fn(&ItemId) -> Option<i64>,
) -> Result<PricedCombo, ComboError> {
    if combo.slots.len() > COMBO_SLOTS_MAX {
        return Err(ComboError::TooManySlots);
    }
    if combo.price_minor < 0 {
        return Err(ComboError::BadPrice);
    }
    if let Some(stray) = choices
        .iter()
        .find(|choice| !combo.slots.iter().any(|slot| slot.id == choice.slot_id))
    {
        return Err(ComboError::UnknownSlot(stray.slot_id.clone()));
    }
    let mut components = Vec::with_capacity(combo.slots.len());
    let mut weights = Vec::with_capacity(combo.slots.len());
    let mut total_minor = combo.price_minor;
    for slot in &combo.slots {
        let mut picks = choices.iter().filter(|choice| choice.slot_id == slot.id);
        let (Some(choice), None) = (picks.next(), picks.next()) else {
            return Err(ComboError::SlotNotFilled(slot.id.clone()));
        };
        let option = slot
            .options
            .iter()
            .find(|option| option.item_id == choice.item_id)
            .ok_or_else(|| ComboError::NotOffered {
                slot: slot.id.clone(),
                item: choice.item_id.clone(),
            })?;
        let shelf = shelf_price_minor(&choice.item_id)
            .ok_or_else(|| ComboError::UnknownItem(choice.item_id.clone()))?;
        total_minor = total_minor
            .checked_add(option.upcharge_minor)
            .ok_or(ComboError::BadPrice)?;
        weights.push(shelf.max(0).unsigned_abs());
        components.push(ComboComponent {
            slot_id: slot.id.clone(),
            item_id: choice.item_id.clone(),
            upcharge_minor: option.upcharge_minor,
            allocated_minor: 0,
        });
    }
    if total_minor < 0 {
        return Err(ComboError::BadPrice);
    }
    for (component, share) in components
        .iter_mut()
        .zip(allocate_largest_remainder(total_minor, &weights))
    {
        component.allocated_minor = share;
    }
    Ok(PricedCombo {
        total_minor,
        components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(id: &str, delta: i64, nested: Vec<ModifierGroup>) -> ModifierOption {
        ModifierOption {
            id: id.into(),
            name: id.into(),
            price_delta_minor: delta,
            nested_groups: nested,
        }
    }

    fn coffee_groups() -> Vec<ModifierGroup> {
        let bean = ModifierGroup {
            id: "bean".into(),
            name: "Bean".into(),
            min_choices: 1,
            max_choices: 1,
            options: vec![
                option("house", 0, vec![]),
                option("kenya-aa", 3_000, vec![]),
            ],
        };
        vec![
            ModifierGroup {
                id: "milk".into(),
                name: "Milk".into(),
                min_choices: 1,
                max_choices: 1,
                options: vec![option("dairy", 0, vec![]), option("oat", 4_000, vec![])],
            },
            ModifierGroup {
                id: "extras".into(),
                name: "Extras".into(),
                min_choices: 0,
                max_choices: 2,
                options: vec![
                    option("shot", 5_000, vec![bean]),
                    option("syrup", 2_000, vec![]),
                    option("no-sugar", 0, vec![]),
                ],
            },
        ]
    }

    #[test]
    fn an_oat_latte_with_an_extra_kenya_aa_shot_costs_all_three_deltas() {
        let mut shot = ModifierChoice::new("extras", "shot");
        shot.nested.push(ModifierChoice::new("bean", "kenya-aa"));
        let resolved = resolve_modifiers(
            &coffee_groups(),
            &[ModifierChoice::new("milk", "oat"), shot],
        )
        .expect("valid");
        assert_eq!(resolved.price_delta_minor, 12_000);
        let depths: Vec<u8> = resolved.chosen.iter().map(|c| c.depth).collect();
        assert_eq!(depths, vec![0, 0, 1]);
    }

    #[test]
    fn a_nested_required_group_must_be_answered() {
        let result = resolve_modifiers(
            &coffee_groups(),
            &[
                ModifierChoice::new("milk", "dairy"),
                ModifierChoice::new("extras", "shot"),
            ],
        );
        assert!(matches!(result, Err(ModifierError::ChoiceCount { group, .. }) if group == "bean"));
    }

    #[test]
    fn too_many_choices_duplicates_and_strangers_are_refused() {
        let groups = coffee_groups();
        let milk = ModifierChoice::new("milk", "dairy");
        let too_many = [
            milk.clone(),
            ModifierChoice::new("extras", "syrup"),
            ModifierChoice::new("extras", "no-sugar"),
            ModifierChoice::new("milk", "oat"),
        ];
        assert!(matches!(
            resolve_modifiers(&groups, &too_many),
            Err(ModifierError::ChoiceCount { .. })
        ));
        let twice = [
            milk.clone(),
            ModifierChoice::new("extras", "syrup"),
            ModifierChoice::new("extras", "syrup"),
        ];
        assert_eq!(
            resolve_modifiers(&groups, &twice),
            Err(ModifierError::DuplicateChoice("syrup".into()))
        );
        assert_eq!(
            resolve_modifiers(
                &groups,
                &[milk.clone(), ModifierChoice::new("sauce", "bbq")]
            ),
            Err(ModifierError::UnknownGroup("sauce".into()))
        );
        assert!(matches!(
            resolve_modifiers(&groups, &[ModifierChoice::new("milk", "soy")]),
            Err(ModifierError::UnknownOption { .. })
        ));
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let mut group = ModifierGroup {
            id: "g0".into(),
            name: "g".into(),
            min_choices: 0,
            max_choices: 1,
            options: vec![option("o", 0, vec![])],
        };
        let mut choice = ModifierChoice::new("g0", "o");
        for level in 1..=MODIFIER_DEPTH_MAX {
            group = ModifierGroup {
                id: format!("g{level}"),
                name: "g".into(),
                min_choices: 0,
                max_choices: 1,
                options: vec![option("o", 0, vec![group])],
            };
            choice = ModifierChoice {
                group_id: format!("g{level}"),
                option_id: "o".into(),
                nested: vec![choice],
            };
        }
        assert_eq!(
            resolve_modifiers(&[group], &[choice]),
            Err(ModifierError::TooDeep)
        );
    }

    #[test]
    fn a_combo_with_an_empty_slot_or_an_item_from_another_slot_is_refused() {
        let combo = Combo {
            id: "meal".into(),
            name: "Meal".into(),
            price_minor: 90_000,
            slots: vec![
                ComboSlot {
                    id: "main".into(),
                    name: "Main".into(),
                    options: vec![ComboSlotOption {
                        item_id: ItemId("burger".into()),
                        upcharge_minor: 0,
                    }],
                },
                ComboSlot {
                    id: "side".into(),
                    name: "Side".into(),
                    options: vec![ComboSlotOption {
                        item_id: ItemId("fries".into()),
                        upcharge_minor: 0,
                    }],
                },
            ],
        };
        let shelf = |_: &ItemId| Some(10_000);
        let main = ComboChoice {
            slot_id: "main".into(),
            item_id: ItemId("burger".into()),
        };
        assert_eq!(
            price_combo(&combo, std::slice::from_ref(&main), shelf),
            Err(ComboError::SlotNotFilled("side".into()))
        );
        let wrong = ComboChoice {
            slot_id: "side".into(),
            item_id: ItemId("burger".into()),
        };
        assert!(matches!(
            price_combo(&combo, &[main, wrong], shelf),
            Err(ComboError::NotOffered { .. })
        ));
    }
}
