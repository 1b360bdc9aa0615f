//! Wire form of the tenant's promotions, sent down each outlet's feed so the till applies them
//! offline with the same rules the hub knows (`shared_model::promotions`).

use crate::feed::WeeklyWindowV1;
use serde::{Deserialize, Serialize};
use shared_model::ItemId;
use shared_model::pricebook::WeeklyWindow;
use shared_model::promotions::{Activation, Promotion, PromotionRule, PromotionTarget};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromotionTargetV1 {
    Item(String),
    Category(String),
    Order,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromotionRuleV1 {
    PercentOff {
        target: PromotionTargetV1,
        percent_bps: u32,
    },
    AmountOff {
        target: PromotionTargetV1,
        amount_minor: i64,
    },
    BuyXGetY {
        target: PromotionTargetV1,
        buy_quantity: u32,
        get_quantity: u32,
        get_percent_bps: u32,
    },
    BulkPrice {
        target: PromotionTargetV1,
        quantity: u32,
        price_minor: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionV1 {
    pub id: String,
    pub name: String,
    pub rule: PromotionRuleV1,
    /// `None`: automatic; `Some(code)`: only when the customer's code was entered.
    pub code: Option<String>,
    pub priority: u32,
    pub exclusive: bool,
    pub valid_from_ms: Option<i64>,
    pub valid_until_ms: Option<i64>,
    pub usage_limit: Option<u32>,
    pub membership_plan: Option<String>,
    pub windows: Vec<WeeklyWindowV1>,
}

fn target_to_wire(target: &PromotionTarget) -> PromotionTargetV1 {
    match target {
        PromotionTarget::Item { item_id } => PromotionTargetV1::Item(item_id.0.clone()),
        PromotionTarget::Category { category } => PromotionTargetV1::Category(category.clone()),
        PromotionTarget::Order => PromotionTargetV1::Order,
    }
}

fn target_from_wire(target: &PromotionTargetV1) -> PromotionTarget {
    match target {
        PromotionTargetV1::Item(item) => PromotionTarget::Item {
            item_id: ItemId(item.clone()),
        },
        PromotionTargetV1::Category(category) => PromotionTarget::Category {
            category: category.clone(),
        },
        PromotionTargetV1::Order => PromotionTarget::Order,
    }
}

impl From<&Promotion> for PromotionV1 {
    fn from(promotion: &Promotion) -> Self {
        let rule = match &promotion.rule {
            PromotionRule::PercentOff {
                target,
                percent_bps,
            } => PromotionRuleV1::PercentOff {
                target: target_to_wire(target),
                percent_bps: *percent_bps,
            },
            PromotionRule::AmountOff {
                target,
                amount_minor,
            } => PromotionRuleV1::AmountOff {
                target: target_to_wire(target),
                amount_minor: *amount_minor,
            },
            PromotionRule::BuyXGetY {
                target,
                buy_quantity,
                get_quantity,
                get_percent_bps,
            } => PromotionRuleV1::BuyXGetY {
                target: target_to_wire(target),
                buy_quantity: *buy_quantity,
                get_quantity: *get_quantity,
                get_percent_bps: *get_percent_bps,
            },
            PromotionRule::BulkPrice {
                target,
                quantity,
                price_minor,
            } => PromotionRuleV1::BulkPrice {
                target: target_to_wire(target),
                quantity: *quantity,
                price_minor: *price_minor,
            },
        };
        PromotionV1 {
            id: promotion.id.clone(),
            name: promotion.name.clone(),
            rule,
            code: match &promotion.activation {
                Activation::Automatic => None,
                Activation::Code { code } => Some(code.clone()),
            },
            priority: promotion.priority,
            exclusive: promotion.exclusive,
            valid_from_ms: promotion.valid_from_ms,
            valid_until_ms: promotion.valid_until_ms,
            usage_limit: promotion.usage_limit,
            membership_plan: promotion.membership_plan.clone(),
            windows: promotion
                .windows
                .iter()
                .map(|w| WeeklyWindowV1 {
                    days_mask: w.days_mask,
                    start_minute: w.start_minute,
                    end_minute: w.end_minute,
                })
                .collect(),
        }
    }
}

impl From<&PromotionV1> for Promotion {
    fn from(wire: &PromotionV1) -> Self {
        let rule = match &wire.rule {
            PromotionRuleV1::PercentOff {
                target,
                percent_bps,
            } => PromotionRule::PercentOff {
                target: target_from_wire(target),
                percent_bps: *percent_bps,
            },
            PromotionRuleV1::AmountOff {
                target,
                amount_minor,
            } => PromotionRule::AmountOff {
                target: target_from_wire(target),
                amount_minor: *amount_minor,
            },
            PromotionRuleV1::BuyXGetY {
                target,
                buy_quantity,
                get_quantity,
                get_percent_bps,
            } => PromotionRule::BuyXGetY {
                target: target_from_wire(target),
                buy_quantity: *buy_quantity,
                get_quantity: *get_quantity,
                get_percent_bps: *get_percent_bps,
            },
            PromotionRuleV1::BulkPrice {
                target,
                quantity,
                price_minor,
            } => PromotionRule::BulkPrice {
                target: target_from_wire(target),
                quantity: *quantity,
                price_minor: *price_minor,
            },
        };
        Promotion {
            id: wire.id.clone(),
            name: wire.name.clone(),
            rule,
            activation: match &wire.code {
                None => Activation::Automatic,
                Some(code) => Activation::Code { code: code.clone() },
            },
            priority: wire.priority,
            exclusive: wire.exclusive,
            valid_from_ms: wire.valid_from_ms,
            valid_until_ms: wire.valid_until_ms,
            usage_limit: wire.usage_limit,
            membership_plan: wire.membership_plan.clone(),
            windows: wire
                .windows
                .iter()
                .map(|w| WeeklyWindow {
                    days_mask: w.days_mask,
                    start_minute: w.start_minute,
                    end_minute: w.end_minute,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::feed::FeedBody;

    #[test]
    fn every_rule_and_activation_survives_the_wire_unchanged() {
        let target = PromotionTarget::Category {
            category: "beer".into(),
        };
        let rules = [
            PromotionRule::PercentOff {
                target: target.clone(),
                percent_bps: 1_500,
            },
            PromotionRule::AmountOff {
                target: PromotionTarget::Order,
                amount_minor: 5_000,
            },
            PromotionRule::BuyXGetY {
                target: PromotionTarget::Item {
                    item_id: ItemId("sku-tusker".into()),
                },
                buy_quantity: 2,
                get_quantity: 1,
                get_percent_bps: 10_000,
            },
            PromotionRule::BulkPrice {
                target,
                quantity: 3,
                price_minor: 100_000,
            },
        ];
        for (n, rule) in rules.into_iter().enumerate() {
            let mut promotion = Promotion::automatic(&format!("p{n}"), "Promo", rule);
            if n % 2 == 1 {
                promotion.activation = Activation::Code {
                    code: "KARIBU".into(),
                };
                promotion.windows = vec![WeeklyWindow {
                    days_mask: WeeklyWindow::WEEKDAYS,
                    start_minute: 17 * 60,
                    end_minute: 19 * 60,
                }];
                promotion.usage_limit = Some(100);
            }
            let body = FeedBody::PromotionUpserted(PromotionV1::from(&promotion));
            let entry = crate::feed::FeedEntry {
                seq: 1,
                body: body.encode(),
            };
            let decoded = entry.decode_body().expect("decodes");
            let FeedBody::PromotionUpserted(wire) = decoded else {
                panic!("a promotion entry")
            };
            assert_eq!(Promotion::from(&wire), promotion);
        }
    }
}
