//! Pricing benchmarks.
//!
//! - `price_50_line_order`: 50 lines with inclusive and exclusive multi-rate taxes folded into
//!   an `Order`, then totals (the issue-1 path the edge uses per request).
//! - `price_cart_50_lines_modifiers_3_books_5_promotions`: the issue-3 target. One
//!   `price_cart` call on 50 lines, each with a required modifier group and optional nested
//!   extras, under 3 price books (base, delivery channel, happy hour) and 5 candidate
//!   promotions (category percent, item amount, 3-for-2, bulk price, exclusive order code),
//!   with a service charge, an order discount, per-invoice tax and cash rounding.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use shared_model::cash_rounding::{CashRounding, CashRoundingMode};
use shared_model::modifiers::{ModifierChoice, ModifierGroup, ModifierOption};
use shared_model::pricebook::{Channel, PriceBook, PriceBookScope, PriceContext, WeeklyWindow};
use shared_model::pricing::{
    Cart, CartLine, DiscountKind, ManualDiscount, PricingContext, PricingRules, Quantity,
    ServiceCharge, ServiceChargeKind, price_cart,
};
use shared_model::promotions::{
    Activation, Promotion, PromotionContext, PromotionRule, PromotionTarget,
};
use shared_model::tax::{RoundingMode, TaxMode, TaxPolicy, TaxRate, TaxRoundingLevel};
use shared_model::{CatalogItem, Currency, ItemId, LineId, Order, OrderEvent, OrderId, OrderType};
use std::hint::black_box;
use uuid::Uuid;

fn items() -> Vec<CatalogItem> {
    (0..20)
        .map(|n| {
            let mut item = CatalogItem::simple(
                &format!("sku-{n}"),
                &format!("Item {n}"),
                if n % 3 == 0 { "drinks" } else { "food" },
                5_000 + n * 1_337,
                if n % 2 == 0 {
                    TaxMode::Inclusive
                } else {
                    TaxMode::Exclusive
                },
                vec![TaxRate::new("VAT16", 1600), TaxRate::new("CTL2", 200)],
            );
            item.modifier_group_ids = vec!["size".into(), "extras".into()];
            item
        })
        .collect()
}

fn price_order(items: &[CatalogItem]) -> i64 {
    let opened = OrderEvent::Opened {
        order_id: OrderId(Uuid::from_u128(1)),
        number: 1,
        order_type: OrderType::DineIn,
        currency: Currency::kes(),
        opened_at_ms: 0,
    };
    let mut order = Order::from_opened(&opened).unwrap();
    for n in 0..50_u128 {
        let item = &items[(n as usize) % items.len()];
        let event = order
            .add_line(
                LineId(Uuid::from_u128(100 + n)),
                item,
                1 + (n as i64 % 3),
                RoundingMode::HalfUp,
            )
            .unwrap();
        order.apply(&event).unwrap();
    }
    order.totals().total_minor
}

fn option(id: &str, delta: i64, nested: Vec<ModifierGroup>) -> ModifierOption {
    ModifierOption {
        id: id.into(),
        name: id.into(),
        price_delta_minor: delta,
        nested_groups: nested,
    }
}

fn rules(items: &[CatalogItem]) -> PricingRules {
    let book = |id: &str, scope: PriceBookScope, percent: i64| PriceBook {
        id: id.into(),
        name: id.into(),
        scope,
        priority: 0,
        prices: items
            .iter()
            .map(|item| (item.id.clone(), item.price_minor * percent / 100))
            .collect(),
    };
    let promotion = |id: &str, rule| Promotion::automatic(id, id, rule);
    let mut code = promotion(
        "code-20",
        PromotionRule::PercentOff {
            target: PromotionTarget::Order,
            percent_bps: 2_000,
        },
    );
    code.activation = Activation::Code {
        code: "KARIBU".into(),
    };
    code.exclusive = true;
    PricingRules {
        price_books: vec![
            book("base", PriceBookScope::Base, 100),
            book(
                "delivery",
                PriceBookScope::Channel {
                    channel: Channel::Delivery,
                },
                110,
            ),
            book(
                "happy-hour",
                PriceBookScope::TimeWindow {
                    windows: vec![WeeklyWindow {
                        days_mask: WeeklyWindow::EVERY_DAY,
                        start_minute: 17 * 60,
                        end_minute: 19 * 60,
                    }],
                },
                80,
            ),
        ],
        modifier_groups: vec![
            ModifierGroup {
                id: "size".into(),
                name: "Size".into(),
                min_choices: 1,
                max_choices: 1,
                options: vec![option("regular", 0, vec![]), option("large", 2_000, vec![])],
            },
            ModifierGroup {
                id: "extras".into(),
                name: "Extras".into(),
                min_choices: 0,
                max_choices: 2,
                options: vec![
                    option(
                        "sauce",
                        500,
                        vec![ModifierGroup {
                            id: "sauce-kind".into(),
                            name: "Sauce".into(),
                            min_choices: 1,
                            max_choices: 1,
                            options: vec![
                                option("chilli", 0, vec![]),
                                option("garlic", 300, vec![]),
                            ],
                        }],
                    ),
                    option("cheese", 1_000, vec![]),
                ],
            },
        ],
        promotions: vec![
            promotion(
                "drinks-10",
                PromotionRule::PercentOff {
                    target: PromotionTarget::Category {
                        category: "drinks".into(),
                    },
                    percent_bps: 1_000,
                },
            ),
            promotion(
                "sku-1-off",
                PromotionRule::AmountOff {
                    target: PromotionTarget::Item {
                        item_id: ItemId("sku-1".into()),
                    },
                    amount_minor: 500,
                },
            ),
            promotion(
                "sku-2-3for2",
                PromotionRule::BuyXGetY {
                    target: PromotionTarget::Item {
                        item_id: ItemId("sku-2".into()),
                    },
                    buy_quantity: 2,
                    get_quantity: 1,
                    get_percent_bps: 10_000,
                },
            ),
            promotion(
                "sku-4-bulk",
                PromotionRule::BulkPrice {
                    target: PromotionTarget::Item {
                        item_id: ItemId("sku-4".into()),
                    },
                    quantity: 3,
                    price_minor: 20_000,
                },
            ),
            code,
        ],
        tax_policy: TaxPolicy {
            rounding: RoundingMode::HalfUp,
            level: TaxRoundingLevel::PerInvoice,
        },
        cash_rounding: Some(CashRounding::new(100, CashRoundingMode::Nearest).unwrap()),
    }
}

fn cart(items: &[CatalogItem]) -> Cart {
    let lines = (0..50_u128)
        .map(|n| {
            let item = items[(n as usize) % items.len()].clone();
            let mut line = CartLine::new(
                LineId(Uuid::from_u128(100 + n)),
                item,
                Quantity::Each(1 + (n as i64 % 3)),
            );
            line.modifiers = vec![ModifierChoice::new(
                "size",
                if n % 2 == 0 { "regular" } else { "large" },
            )];
            if n % 3 == 0 {
                let mut sauce = ModifierChoice::new("extras", "sauce");
                sauce
                    .nested
                    .push(ModifierChoice::new("sauce-kind", "garlic"));
                line.modifiers.push(sauce);
                line.modifiers.push(ModifierChoice::new("extras", "cheese"));
            }
            line
        })
        .collect();
    Cart {
        lines,
        order_discount: Some(ManualDiscount {
            reason: "manager".into(),
            kind: DiscountKind::Percent { percent_bps: 500 },
        }),
        service_charge: Some(ServiceCharge {
            name: "Service".into(),
            kind: ServiceChargeKind::Percent { percent_bps: 1_000 },
            taxable: true,
            tax_rates: vec![TaxRate::new("VAT16", 1600)],
            tax_mode: TaxMode::Exclusive,
        }),
        tip_minor: 0,
    }
}

fn bench(c: &mut Criterion) {
    let items = items();
    c.bench_function("price_50_line_order", |b| {
        b.iter(|| price_order(black_box(&items)))
    });

    let rules = rules(&items);
    let cart = cart(&items);
    let context = PricingContext {
        price: PriceContext {
            channel: Some(Channel::Delivery),
            minute_of_week: 4 * 1_440 + 18 * 60,
            ..PriceContext::default()
        },
        promotion: PromotionContext {
            codes: vec!["karibu".into()],
            ..PromotionContext::default()
        },
    };
    let receipt = price_cart(&cart, &rules, &context).unwrap();
    assert_eq!(receipt.lines.len(), 50);
    assert!(!receipt.promotions.is_empty());
    c.bench_function("price_cart_50_lines_modifiers_3_books_5_promotions", |b| {
        b.iter(|| price_cart(black_box(&cart), black_box(&rules), black_box(&context)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
