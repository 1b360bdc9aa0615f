//! Pricing a busy order: 50 lines with inclusive and exclusive multi-rate taxes, then totals.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use shared_model::tax::{RoundingMode, TaxMode, TaxRate};
use shared_model::{CatalogItem, Currency, LineId, Order, OrderEvent, OrderId, OrderType};
use std::hint::black_box;
use uuid::Uuid;

fn items() -> Vec<CatalogItem> {
    (0..20)
        .map(|n| {
            CatalogItem::simple(
                &format!("sku-{n}"),
                &format!("Item {n}"),
                "food",
                5_000 + n * 1_337,
                if n % 2 == 0 {
                    TaxMode::Inclusive
                } else {
                    TaxMode::Exclusive
                },
                vec![TaxRate::new("VAT16", 1600), TaxRate::new("CTL2", 200)],
            )
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

fn bench(c: &mut Criterion) {
    let items = items();
    c.bench_function("price_50_line_order", |b| {
        b.iter(|| price_order(black_box(&items)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
