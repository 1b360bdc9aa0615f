//! Receipts: a plain-text rendering of a closed (or any) order for printing and display.

use shared_model::{Money, Order};

/// Width of a receipt line in characters (58 mm thermal paper at the common font).
pub const RECEIPT_WIDTH_CHARS: usize = 32;

fn row(left: &str, right: &str) -> String {
    let left: String = left
        .chars()
        .take(RECEIPT_WIDTH_CHARS.saturating_sub(right.len() + 1))
        .collect();
    let pad = RECEIPT_WIDTH_CHARS.saturating_sub(left.chars().count() + right.len());
    format!("{left}{}{right}", " ".repeat(pad))
}

/// Renders `order` as receipt text under `header` (outlet name).
pub fn render(order: &Order, header: &str) -> String {
    let money = |minor: i64| {
        let text = Money::new(minor, order.currency).to_string();
        text.split_once(' ')
            .map(|(_, amount)| amount.to_owned())
            .unwrap_or(text)
    };
    let totals = order.totals();
    let mut lines = vec![
        header.to_owned(),
        format!("Order #{} ({})", order.number, order.order_type.as_str()),
        "-".repeat(RECEIPT_WIDTH_CHARS),
    ];
    for line in &order.lines {
        lines.push(row(
            &format!("{} x {}", line.quantity, line.name),
            &money(line.gross_minor),
        ));
    }
    lines.push("-".repeat(RECEIPT_WIDTH_CHARS));
    lines.push(row(
        &format!("TOTAL {}", order.currency),
        &money(totals.total_minor),
    ));
    for portion in &totals.taxes {
        lines.push(row(
            &format!("  {} on {}", portion.code, money(portion.taxable_minor)),
            &money(portion.tax_minor),
        ));
    }
    for payment in &order.payments {
        lines.push(row(
            &format!("{:?}", payment.tender),
            &money(payment.tendered_minor),
        ));
    }
    if totals.change_minor > 0 {
        lines.push(row("CHANGE", &money(totals.change_minor)));
    }
    lines.push(format!("State: {}", order.state.as_str()));
    lines.join("\n")
}
