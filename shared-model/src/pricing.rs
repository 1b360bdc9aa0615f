//! Pricing a cart: the one entry point both the edge and the hub use to turn a basket into a
//! receipt.
//!
//! ```text
//!  price books ─▶ modifiers ─▶ quantity/weight ─▶ promotions ─▶ line discounts
//!      ─▶ order discount ─▶ service charge ─▶ tax (policy) ─▶ tip ─▶ cash rounding
//! ```
//!
//! Every step is integer arithmetic with one named rounding per step, and every amount that is
//! spread (order discount, service charge) is spread by largest remainder, so the lines of the
//! receipt always add up to its totals.

use crate::allocation::allocate_largest_remainder;
use crate::cash_rounding::{CashRounded, CashRounding};
use crate::catalog::{CatalogItem, ItemId, Unit};
use crate::ids::LineId;
use crate::modifiers::{
    ChosenModifier, Combo, ComboChoice, ComboError, ModifierChoice, ModifierError, ModifierGroup,
    price_combo, resolve_modifiers,
};
use crate::order::{LINE_QUANTITY_MAX, ORDER_LINES_MAX, TEXT_LEN_MAX};
use crate::pricebook::{PriceBook, PriceContext, PriceSource, resolve_price};
use crate::promotions::{
    AppliedPromotion, PromoLine, Promotion, PromotionContext, apply_promotions,
};
use crate::tax::{
    BPS_WHOLE, RoundingMode, TaxMode, TaxPolicy, TaxPortion, TaxRate, TaxableAmount,
    divide_rounded, tax_invoice,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Largest unit price accepted, in minor units (one billion in a two-decimal currency). Why:
/// with [`LINE_QUANTITY_MAX`] units and [`ORDER_LINES_MAX`] lines the order total stays far
/// inside `i64`, so no sum in this module can overflow.
pub const UNIT_PRICE_MINOR_MAX: i64 = 100_000_000_000;
/// Largest measured quantity on one line: 1,000 kg or 1,000 litres in thousandths. Why: above
/// any shop scale's capacity; a bigger reading is a scale or keying error.
pub const MEASURED_QUANTITY_MAX: i64 = 1_000_000;
/// Thousandths in a kilogram or a litre.
pub const THOUSANDTHS_PER_UNIT: i64 = 1_000;

/// How much of an item a line holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum Quantity {
    /// Pieces of a counted item.
    Each(i64),
    /// A weighed item's scale reading.
    Grams(i64),
    /// A measured liquid.
    Millilitres(i64),
}

impl Quantity {
    /// Countable units, for promotions: a weighed line counts as one.
    pub fn units(&self) -> i64 {
        match self {
            Quantity::Each(count) => *count,
            Quantity::Grams(_) | Quantity::Millilitres(_) => 1,
        }
    }

    fn fits(&self, unit: Unit) -> bool {
        match (self, unit) {
            (Quantity::Each(count), Unit::Each) => (1..=LINE_QUANTITY_MAX).contains(count),
            (Quantity::Grams(grams), Unit::Kilogram) => (1..=MEASURED_QUANTITY_MAX).contains(grams),
            (Quantity::Millilitres(ml), Unit::Litre) => (1..=MEASURED_QUANTITY_MAX).contains(ml),
            _ => false,
        }
    }

    /// `unit_price × quantity`, where a measured price is per kilogram or litre.
    fn extend(&self, unit_price_minor: i64, rounding: RoundingMode) -> i64 {
        match self {
            Quantity::Each(count) => unit_price_minor * count,
            Quantity::Grams(thousandths) | Quantity::Millilitres(thousandths) => {
                // Bounded by UNIT_PRICE_MINOR_MAX × MEASURED_QUANTITY_MAX / 1000: fits i64.
                i64::try_from(divide_rounded(
                    i128::from(unit_price_minor) * i128::from(*thousandths),
                    i128::from(THOUSANDTHS_PER_UNIT),
                    rounding,
                ))
                .unwrap_or(i64::MAX)
            }
        }
    }
}

/// A percentage or a fixed amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DiscountKind {
    Percent { percent_bps: u32 },
    Amount { amount_minor: i64 },
}

impl DiscountKind {
    /// What this takes off `base_minor`, never more than the base and never negative.
    pub fn amount_of(&self, base_minor: i64, rounding: RoundingMode) -> i64 {
        let base = base_minor.max(0);
        let raw = match self {
            DiscountKind::Percent { percent_bps } => i64::try_from(divide_rounded(
                i128::from(base) * i128::from((*percent_bps).min(BPS_WHOLE)),
                i128::from(BPS_WHOLE),
                rounding,
            ))
            .unwrap_or(0),
            DiscountKind::Amount { amount_minor } => *amount_minor,
        };
        raw.clamp(0, base)
    }
}

/// A discount a cashier gives, with the reason the audit trail keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ManualDiscount {
    pub reason: String,
    pub kind: DiscountKind,
}

impl ManualDiscount {
    fn check(&self) -> Result<(), PriceCartError> {
        let reason = self.reason.trim();
        if reason.is_empty() || reason.chars().count() > TEXT_LEN_MAX {
            return Err(PriceCartError::BadDiscountReason);
        }
        if let DiscountKind::Amount { amount_minor } = self.kind
            && amount_minor < 0
        {
            return Err(PriceCartError::NegativeDiscount);
        }
        Ok(())
    }
}

/// A service charge: a percentage of the discounted lines or a fixed amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServiceChargeKind {
    Percent { percent_bps: u32 },
    Fixed { amount_minor: i64 },
}

/// A service charge on the bill, e.g. 10 % for table service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceCharge {
    pub name: String,
    pub kind: ServiceChargeKind,
    /// Taxed at `tax_rates` (in `tax_mode`) when true; outside the tax otherwise.
    pub taxable: bool,
    #[serde(default)]
    pub tax_rates: Vec<TaxRate>,
    pub tax_mode: TaxMode,
}

impl ServiceCharge {
    /// The charge on `base_minor` (the lines after discounts).
    pub fn amount_on(&self, base_minor: i64, rounding: RoundingMode) -> i64 {
        match self.kind {
            ServiceChargeKind::Percent { percent_bps } => i64::try_from(divide_rounded(
                i128::from(base_minor.max(0)) * i128::from(percent_bps),
                i128::from(BPS_WHOLE),
                rounding,
            ))
            .unwrap_or(0),
            ServiceChargeKind::Fixed { amount_minor } => amount_minor.max(0),
        }
    }
}

/// One line of a cart to price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartLine {
    pub line_id: LineId,
    pub item: CatalogItem,
    pub quantity: Quantity,
    pub modifiers: Vec<ModifierChoice>,
    pub discount: Option<ManualDiscount>,
    /// The price printed on a price-embedded scale label (or a combo component's share): it
    /// replaces book, modifiers and quantity arithmetic, since the price is already fixed.
    pub label_price_minor: Option<i64>,
    /// Combo components are already at a bundle price; promotions skip them.
    pub exclude_from_promotions: bool,
}

impl CartLine {
    /// A plain line: `quantity` of `item`, no modifiers, no discount.
    pub fn new(line_id: LineId, item: CatalogItem, quantity: Quantity) -> CartLine {
        CartLine {
            line_id,
            item,
            quantity,
            modifiers: Vec::new(),
            discount: None,
            label_price_minor: None,
            exclude_from_promotions: false,
        }
    }

    /// The lines of a combo: one per slot, each at its share of the combo price (so each
    /// component is taxed at its own rates), excluded from promotions. `line_ids` gives one
    /// id per slot; `catalog` finds the chosen items.
    ///
    /// ```
    /// use shared_model::modifiers::*;
    /// use shared_model::pricing::*;
    /// use shared_model::{CatalogItem, ItemId, LineId, TaxMode, TaxRate};
    /// # use uuid::Uuid;
    /// let burger = CatalogItem::simple("burger", "Burger", "food", 80_000, TaxMode::Inclusive, vec![TaxRate::new("VAT16", 1600)]);
    /// let juice = CatalogItem::simple("juice", "Juice", "drinks", 20_000, TaxMode::Inclusive, vec![TaxRate::new("ZERO", 0)]);
    /// let meal = Combo { id: "meal".into(), name: "Meal".into(), price_minor: 85_000, slots: vec![
    ///     ComboSlot { id: "main".into(), name: "Main".into(), options: vec![ComboSlotOption { item_id: burger.id.clone(), upcharge_minor: 0 }] },
    ///     ComboSlot { id: "drink".into(), name: "Drink".into(), options: vec![ComboSlotOption { item_id: juice.id.clone(), upcharge_minor: 0 }] },
    /// ]};
    /// let choices = [ComboChoice { slot_id: "main".into(), item_id: burger.id.clone() }, ComboChoice { slot_id: "drink".into(), item_id: juice.id.clone() }];
    /// let items = [burger, juice];
    /// let lines = CartLine::combo(&[LineId(Uuid::from_u128(1)), LineId(Uuid::from_u128(2))], &meal, &choices,
    ///     |id| items.iter().find(|item| &item.id == id)).expect("valid");
    /// let cart = Cart { lines, ..Cart::default() };
    /// let receipt = price_cart(&cart, &PricingRules::default(), &PricingContext::default()).expect("priced");
    /// assert_eq!(receipt.total_minor, 85_000);
    /// assert_eq!((receipt.lines[0].gross_minor, receipt.lines[1].gross_minor), (68_000, 17_000));
    /// ```
    pub fn combo<'a>(
        line_ids: &[LineId],
        combo: &Combo,
        choices: &[ComboChoice],
        catalog: impl Fn(&ItemId) -> Option<&'a CatalogItem>,
    ) -> Result<Vec<CartLine>, ComboError> {
        if line_ids.len() != combo.slots.len() {
            return Err(ComboError::LineIdsPerSlot);
        }
        let priced = price_combo(combo, choices, |id| {
            catalog(id).map(|item| item.price_minor)
        })?;
        priced
            .components
            .iter()
            .zip(line_ids)
            .map(|(component, line_id)| {
                let item = catalog(&component.item_id)
                    .ok_or_else(|| ComboError::UnknownItem(component.item_id.clone()))?;
                let quantity = match item.unit {
                    Unit::Each => Quantity::Each(1),
                    Unit::Kilogram => Quantity::Grams(THOUSANDTHS_PER_UNIT),
                    Unit::Litre => Quantity::Millilitres(THOUSANDTHS_PER_UNIT),
                };
                Ok(CartLine {
                    label_price_minor: Some(component.allocated_minor),
                    exclude_from_promotions: true,
                    ..CartLine::new(*line_id, item.clone(), quantity)
                })
            })
            .collect()
    }
}

/// A basket with its order-level adjustments.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    pub order_discount: Option<ManualDiscount>,
    pub service_charge: Option<ServiceCharge>,
    /// A tip added before payment; never taxed, never discounted.
    pub tip_minor: i64,
}

/// A tenant's and outlet's pricing configuration.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PricingRules {
    pub price_books: Vec<PriceBook>,
    pub modifier_groups: Vec<ModifierGroup>,
    pub promotions: Vec<Promotion>,
    pub tax_policy: TaxPolicy,
    pub cash_rounding: Option<CashRounding>,
}

/// Where, when and for whom the cart is priced.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PricingContext {
    pub price: PriceContext,
    pub promotion: PromotionContext,
}

/// Why a cart could not be priced.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PriceCartError {
    #[error("a cart holds at most {ORDER_LINES_MAX} lines")]
    TooManyLines,
    #[error("line {0} appears twice")]
    DuplicateLine(LineId),
    #[error("line {line_id}: quantity does not fit item unit or is out of range")]
    BadQuantity { line_id: LineId },
    #[error("line {line_id}: {source}")]
    Modifier {
        line_id: LineId,
        source: ModifierError,
    },
    #[error("line {line_id}: unit price must be between 0 and {UNIT_PRICE_MINOR_MAX}")]
    BadPrice { line_id: LineId },
    #[error("a discount needs a reason of 1 to {TEXT_LEN_MAX} characters")]
    BadDiscountReason,
    #[error("a discount amount cannot be negative")]
    NegativeDiscount,
    #[error("tip must be between 0 and the largest accepted price")]
    BadTip,
}

/// A priced line: every figure a receipt, a KDS ticket or a report needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub line_id: LineId,
    pub item_id: ItemId,
    pub name: String,
    pub quantity: Quantity,
    /// Book price plus modifier deltas, per unit (per kg or litre if measured).
    pub unit_price_minor: i64,
    pub price_source: PriceSource,
    pub modifiers: Vec<ChosenModifier>,
    /// Before any discount, in the price's own terms (gross if inclusive, net if exclusive).
    pub extended_minor: i64,
    pub promotion_discount_minor: i64,
    pub line_discount_minor: i64,
    pub order_discount_minor: i64,
    /// `extended − discounts`: what is taxed.
    pub amount_minor: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub taxes: Vec<TaxPortion>,
    pub age_restricted: bool,
}

/// A manual discount as applied, with what it took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    /// `None` for the order discount.
    pub line_id: Option<LineId>,
    pub reason: String,
    pub amount_minor: i64,
}

/// The priced service charge, with its share of each line (for splits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedServiceCharge {
    pub name: String,
    pub amount_minor: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    pub gross_minor: i64,
    pub line_shares_minor: Vec<i64>,
}

/// A priced cart: the receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedCart {
    pub lines: Vec<PricedLine>,
    pub promotions: Vec<AppliedPromotion>,
    pub discounts: Vec<AppliedDiscount>,
    pub service_charge: Option<PricedServiceCharge>,
    /// Σ extended amounts.
    pub subtotal_minor: i64,
    /// Σ promotions and manual discounts.
    pub discount_minor: i64,
    pub net_minor: i64,
    pub tax_minor: i64,
    /// Per-rate breakdown for the receipt and the Z report.
    pub taxes: Vec<TaxPortion>,
    /// Gross of lines with no tax at all (exempt supplies), reported apart from zero-rated.
    pub exempt_minor: i64,
    pub tip_minor: i64,
    /// Lines + service charge + tip.
    pub total_minor: i64,
    /// The cash amount to collect and the rounding line, when the tenant rounds cash.
    pub cash: Option<CashRounded>,
}

/// Prices `cart` under `rules` in `context`.
///
/// ```
/// use shared_model::pricing::*;
/// use shared_model::{CatalogItem, LineId, TaxMode, TaxRate};
/// # use uuid::Uuid;
/// let latte = CatalogItem::simple("sku-latte", "Latte", "coffee", 35_000, TaxMode::Inclusive, vec![TaxRate::new("VAT16", 1600)]);
/// let cart = Cart { lines: vec![CartLine::new(LineId(Uuid::from_u128(1)), latte, Quantity::Each(2))], ..Cart::default() };
/// let receipt = price_cart(&cart, &PricingRules::default(), &PricingContext::default()).expect("priced");
/// assert_eq!(receipt.total_minor, 70_000);
/// assert_eq!(receipt.tax_minor, 9_655); // 700.00 × 16/116
/// ```
pub fn price_cart(
    cart: &Cart,
    rules: &PricingRules,
    context: &PricingContext,
) -> Result<PricedCart, PriceCartError> {
    if cart.lines.len() > ORDER_LINES_MAX {
        return Err(PriceCartError::TooManyLines);
    }
    if !(0..=UNIT_PRICE_MINOR_MAX).contains(&cart.tip_minor) {
        return Err(PriceCartError::BadTip);
    }
    let mut line_ids: Vec<LineId> = cart.lines.iter().map(|line| line.line_id).collect();
    line_ids.sort_unstable();
    if let Some(pair) = line_ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(PriceCartError::DuplicateLine(pair[0]));
    }
    let rounding = rules.tax_policy.rounding;
    let mut lines: Vec<PricedLine> = Vec::with_capacity(cart.lines.len());
    let mut promo_lines: Vec<PromoLine> = Vec::with_capacity(cart.lines.len());
    for (index, cart_line) in cart.lines.iter().enumerate() {
        let line_id = cart_line.line_id;
        if cart.lines[..index]
            .iter()
            .any(|earlier| earlier.line_id == line_id)
        {
            return Err(PriceCartError::DuplicateLine(line_id));
        }
        let item = &cart_line.item;
        if !cart_line.quantity.fits(item.unit) {
            return Err(PriceCartError::BadQuantity { line_id });
        }
        let offered = rules
            .modifier_groups
            .iter()
            .filter(|group| item.modifier_group_ids.contains(&group.id))
            .collect::<Vec<_>>();
        let modifiers = resolve_modifiers(&offered, &cart_line.modifiers)
            .map_err(|source| PriceCartError::Modifier { line_id, source })?;
        let resolved = resolve_price(&rules.price_books, item, &context.price);
        let unit_price_minor = resolved
            .unit_price_minor
            .checked_add(modifiers.price_delta_minor)
            .filter(|price| (0..=UNIT_PRICE_MINOR_MAX).contains(price))
            .ok_or(PriceCartError::BadPrice { line_id })?;
        let extended_minor = match cart_line.label_price_minor {
            Some(label) if (0..=UNIT_PRICE_MINOR_MAX).contains(&label) => label,
            Some(_) => return Err(PriceCartError::BadPrice { line_id }),
            None => cart_line.quantity.extend(unit_price_minor, rounding),
        };
        if let Some(discount) = &cart_line.discount {
            discount.check()?;
        }
        promo_lines.push(PromoLine {
            line_id,
            item_id: &item.id,
            category: &item.category,
            units: cart_line.quantity.units(),
            // A line with nothing to take from is one no promotion matches.
            amount_minor: if cart_line.exclude_from_promotions {
                0
            } else {
                extended_minor
            },
        });
        lines.push(PricedLine {
            line_id,
            item_id: item.id.clone(),
            name: item.name.clone(),
            quantity: cart_line.quantity,
            unit_price_minor,
            price_source: resolved.source,
            modifiers: modifiers.chosen,
            extended_minor,
            promotion_discount_minor: 0,
            line_discount_minor: 0,
            order_discount_minor: 0,
            amount_minor: extended_minor,
            net_minor: 0,
            tax_minor: 0,
            gross_minor: 0,
            taxes: Vec::new(),
            age_restricted: item.age_restricted,
        });
    }

    // Promotions, then each line's own discount, then the order discount.
    let promotions = apply_promotions(&rules.promotions, &promo_lines, &context.promotion);
    let mut discounts = Vec::new();
    for ((line, promo_discount), cart_line) in lines
        .iter_mut()
        .zip(&promotions.line_discounts_minor)
        .zip(&cart.lines)
    {
        line.promotion_discount_minor = *promo_discount;
        line.amount_minor -= promo_discount;
        if let Some(discount) = &cart_line.discount {
            let taken = discount.kind.amount_of(line.amount_minor, rounding);
            line.line_discount_minor = taken;
            line.amount_minor -= taken;
            discounts.push(AppliedDiscount {
                line_id: Some(line.line_id),
                reason: discount.reason.trim().to_owned(),
                amount_minor: taken,
            });
        }
    }
    if let Some(discount) = &cart.order_discount {
        discount.check()?;
        let base: i64 = lines.iter().map(|line| line.amount_minor).sum();
        let taken = discount.kind.amount_of(base, rounding);
        let weights: Vec<u64> = lines
            .iter()
            .map(|line| line.amount_minor.unsigned_abs())
            .collect();
        for (line, share) in lines
            .iter_mut()
            .zip(allocate_largest_remainder(taken, &weights))
        {
            line.order_discount_minor = share;
            line.amount_minor -= share;
        }
        discounts.push(AppliedDiscount {
            line_id: None,
            reason: discount.reason.trim().to_owned(),
            amount_minor: taken,
        });
    }

    // Service charge on the discounted lines.
    let lines_amount_minor: i64 = lines.iter().map(|line| line.amount_minor).sum();
    let service = cart.service_charge.as_ref().map(|charge| {
        let amount_minor = charge.amount_on(lines_amount_minor, rounding);
        (charge, amount_minor)
    });

    // Tax, lines and service charge together, so per-invoice rounding sees the whole bill.
    let no_rates: [TaxRate; 0] = [];
    let mut taxable: Vec<TaxableAmount> = lines
        .iter()
        .zip(&cart.lines)
        .map(|(line, cart_line)| TaxableAmount {
            amount_minor: line.amount_minor,
            rates: &cart_line.item.tax_rates,
            mode: cart_line.item.tax_mode,
        })
        .collect();
    if let Some((charge, amount_minor)) = &service {
        taxable.push(TaxableAmount {
            amount_minor: *amount_minor,
            rates: if charge.taxable {
                &charge.tax_rates
            } else {
                &no_rates
            },
            mode: charge.tax_mode,
        });
    }
    let invoice = tax_invoice(&taxable, rules.tax_policy);
    let mut taxed_lines = invoice.lines;
    let service_taxed = if service.is_some() {
        taxed_lines.pop()
    } else {
        None
    };
    let mut exempt_minor = 0_i64;
    for ((line, taxed), cart_line) in lines.iter_mut().zip(taxed_lines).zip(&cart.lines) {
        line.net_minor = taxed.net_minor;
        line.tax_minor = taxed.tax_minor;
        line.gross_minor = taxed.gross_minor;
        line.taxes = taxed.portions;
        if cart_line.item.tax_rates.is_empty() {
            exempt_minor += taxed.gross_minor;
        }
    }
    let service_charge = match (service, service_taxed) {
        (Some((charge, amount_minor)), Some(taxed)) => {
            if taxed.portions.is_empty() {
                exempt_minor += taxed.gross_minor;
            }
            let weights: Vec<u64> = lines
                .iter()
                .map(|line| line.amount_minor.unsigned_abs())
                .collect();
            Some(PricedServiceCharge {
                name: charge.name.clone(),
                amount_minor,
                net_minor: taxed.net_minor,
                tax_minor: taxed.tax_minor,
                gross_minor: taxed.gross_minor,
                line_shares_minor: allocate_largest_remainder(taxed.gross_minor, &weights),
            })
        }
        _ => None,
    };

    let subtotal_minor = lines.iter().map(|line| line.extended_minor).sum();
    let discount_minor =
        promotions.total_minor + discounts.iter().map(|d| d.amount_minor).sum::<i64>();
    let total_minor = invoice.gross_minor + cart.tip_minor;
    Ok(PricedCart {
        lines,
        promotions: promotions.applied,
        discounts,
        service_charge,
        subtotal_minor,
        discount_minor,
        net_minor: invoice.net_minor,
        tax_minor: invoice.tax_minor,
        taxes: invoice.breakdown,
        exempt_minor,
        tip_minor: cart.tip_minor,
        total_minor,
        cash: rules.cash_rounding.map(|rule| rule.round(total_minor)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::barcode::{EmbeddedKind, EmbeddedScheme, Scan, decode_scan};
    use crate::cash_rounding::CashRoundingMode;
    use crate::modifiers::ModifierOption;
    use crate::pricebook::{PriceBookScope, WeeklyWindow};
    use crate::promotions::{PromotionRule, PromotionTarget};
    use crate::tax::TaxRoundingLevel;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn line_id(n: u128) -> LineId {
        LineId(Uuid::from_u128(n))
    }

    fn kes_item(id: &str, category: &str, price: i64, rates: Vec<TaxRate>) -> CatalogItem {
        CatalogItem::simple(id, id, category, price, TaxMode::Inclusive, rates)
    }

    fn vat_and_levy() -> Vec<TaxRate> {
        vec![TaxRate::new("VAT16", 1600), TaxRate::new("CTL2", 200)]
    }

    fn portion<'a>(cart: &'a PricedCart, code: &str) -> &'a TaxPortion {
        cart.taxes
            .iter()
            .find(|p| p.code == code)
            .unwrap_or_else(|| panic!("no {code} in the breakdown"))
    }

    #[test]
    fn a_kes_cafe_receipt_with_vat_inclusive_catering_levy_and_cash_rounding_to_five_shillings() {
        let cart = Cart {
            lines: vec![
                CartLine::new(
                    line_id(1),
                    kes_item("cappuccino", "coffee", 30_000, vat_and_levy()),
                    Quantity::Each(2),
                ),
                CartLine::new(
                    line_id(2),
                    kes_item("samosa", "bakery", 8_500, vat_and_levy()),
                    Quantity::Each(3),
                ),
                CartLine::new(
                    line_id(3),
                    kes_item("milk", "grocery", 6_500, vec![TaxRate::new("ZERO", 0)]),
                    Quantity::Each(1),
                ),
                CartLine::new(
                    line_id(4),
                    kes_item("newspaper", "press", 6_200, vec![]),
                    Quantity::Each(1),
                ),
            ],
            ..Cart::default()
        };
        let rules = PricingRules {
            cash_rounding: Some(CashRounding::new(500, CashRoundingMode::Nearest).expect("valid")),
            ..PricingRules::default()
        };
        let receipt = price_cart(&cart, &rules, &PricingContext::default()).expect("priced");
        // (line, net, tax, gross) as the KRA receipt prints them.
        let table = [
            ("cappuccino", 50_847, 9_153, 60_000),
            ("samosa", 21_610, 3_890, 25_500),
            ("milk", 6_500, 0, 6_500),
            ("newspaper", 6_200, 0, 6_200),
        ];
        for (line, (name, net, tax, gross)) in receipt.lines.iter().zip(table) {
            assert_eq!(
                (
                    line.name.as_str(),
                    line.net_minor,
                    line.tax_minor,
                    line.gross_minor
                ),
                (name, net, tax, gross)
            );
        }
        assert_eq!(receipt.total_minor, 98_200);
        assert_eq!(receipt.tax_minor, 13_043);
        assert_eq!(receipt.net_minor, 85_157);
        let vat = portion(&receipt, "VAT16");
        assert_eq!((vat.taxable_minor, vat.tax_minor), (72_457, 8_136 + 3_458));
        let levy = portion(&receipt, "CTL2");
        assert_eq!((levy.taxable_minor, levy.tax_minor), (72_457, 1_017 + 432));
        let zero = portion(&receipt, "ZERO");
        assert_eq!((zero.taxable_minor, zero.tax_minor), (6_500, 0));
        assert_eq!(receipt.exempt_minor, 6_200);
        let cash = receipt.cash.expect("cash rounding configured");
        assert_eq!((cash.due_minor, cash.adjustment_minor), (98_000, -200));
    }

    fn bar_rules(level: TaxRoundingLevel) -> PricingRules {
        PricingRules {
            price_books: vec![PriceBook {
                id: "happy-hour".into(),
                name: "Happy hour".into(),
                scope: PriceBookScope::TimeWindow {
                    windows: vec![WeeklyWindow {
                        days_mask: WeeklyWindow::WEEKDAYS,
                        start_minute: 17 * 60,
                        end_minute: 19 * 60,
                    }],
                },
                priority: 0,
                prices: [(ItemId("beer".into()), 500)].into(),
            }],
            tax_policy: TaxPolicy {
                rounding: RoundingMode::HalfUp,
                level,
            },
            ..PricingRules::default()
        }
    }

    #[test]
    fn a_us_style_bar_tab_adds_sales_tax_on_top_then_the_tip() {
        let sales_tax = || vec![TaxRate::new("TX", 825)];
        let usd = |id: &str, price| {
            CatalogItem::simple(id, id, "bar", price, TaxMode::Exclusive, sales_tax())
        };
        let tab = |tip_minor| Cart {
            lines: vec![
                CartLine::new(line_id(1), usd("beer", 750), Quantity::Each(2)),
                CartLine::new(line_id(2), usd("burger", 1_425), Quantity::Each(1)),
                CartLine::new(line_id(3), usd("fries", 499), Quantity::Each(1)),
            ],
            tip_minor,
            ..Cart::default()
        };
        let friday = |hour: u32| PricingContext {
            price: PriceContext {
                minute_of_week: 4 * 1_440 + hour * 60,
                ..PriceContext::default()
            },
            ..PricingContext::default()
        };
        // (rounding level, hour, tip, subtotal, tax, total)
        let table = [
            (TaxRoundingLevel::PerInvoice, 20, 685, 3_424, 282, 4_391),
            (TaxRoundingLevel::PerLine, 20, 685, 3_424, 283, 4_392),
            (TaxRoundingLevel::PerInvoice, 18, 585, 2_924, 241, 3_750),
        ];
        for (level, hour, tip, subtotal, tax, total) in table {
            let receipt = price_cart(&tab(tip), &bar_rules(level), &friday(hour)).expect("priced");
            assert_eq!(
                (
                    receipt.subtotal_minor,
                    receipt.tax_minor,
                    receipt.tip_minor,
                    receipt.total_minor
                ),
                (subtotal, tax, tip, total),
                "{level:?} at {hour}:00"
            );
            assert_eq!(
                receipt.net_minor, subtotal,
                "exclusive: the net is the shelf total"
            );
        }
    }

    #[test]
    fn a_supermarket_basket_with_a_weighed_item_a_price_label_and_a_three_for_two() {
        let schemes = [
            EmbeddedScheme {
                prefix: 20,
                item_digits: 5,
                kind: EmbeddedKind::Price,
            },
            EmbeddedScheme {
                prefix: 21,
                item_digits: 5,
                kind: EmbeddedKind::WeightGrams,
            },
        ];
        let banana_label = schemes[1].encode(101, 1_235).expect("fits").to_string();
        let cheese_label = schemes[0].encode(42, 8_750).expect("fits").to_string();
        let Ok(Scan::Weight { plu, grams }) = decode_scan(&banana_label, &schemes) else {
            panic!("a weight label");
        };
        assert_eq!(plu, "00101");
        let Ok(Scan::Price {
            price_minor: cheese_price,
            ..
        }) = decode_scan(&cheese_label, &schemes)
        else {
            panic!("a price label");
        };
        let mut bananas = kes_item("bananas", "produce", 16_000, vec![TaxRate::new("ZERO", 0)]);
        bananas.unit = Unit::Kilogram;
        bananas.plu = Some(plu);
        let soap = kes_item(
            "soap",
            "household",
            12_000,
            vec![TaxRate::new("VAT16", 1600)],
        );
        let mut cheese_line = CartLine::new(
            line_id(5),
            kes_item("cheese", "deli", 0, vec![TaxRate::new("VAT16", 1600)]),
            Quantity::Each(1),
        );
        cheese_line.label_price_minor = Some(cheese_price);
        let cart = Cart {
            lines: vec![
                CartLine::new(line_id(1), bananas, Quantity::Grams(grams)),
                CartLine::new(line_id(2), soap.clone(), Quantity::Each(2)),
                CartLine::new(
                    line_id(3),
                    kes_item("bread", "bakery", 6_500, vec![TaxRate::new("ZERO", 0)]),
                    Quantity::Each(1),
                ),
                CartLine::new(line_id(4), soap, Quantity::Each(1)),
                cheese_line,
            ],
            ..Cart::default()
        };
        let rules = PricingRules {
            promotions: vec![Promotion::automatic(
                "soap-3for2",
                "Soap 3 for 2",
                PromotionRule::BuyXGetY {
                    target: PromotionTarget::Item {
                        item_id: ItemId("soap".into()),
                    },
                    buy_quantity: 2,
                    get_quantity: 1,
                    get_percent_bps: 10_000,
                },
            )],
            cash_rounding: Some(CashRounding::new(100, CashRoundingMode::Nearest).expect("valid")),
            ..PricingRules::default()
        };
        let receipt = price_cart(&cart, &rules, &PricingContext::default()).expect("priced");
        assert_eq!(
            receipt.lines[0].extended_minor, 19_760,
            "1.235 kg at KES 160/kg"
        );
        assert_eq!(receipt.promotions.len(), 1);
        assert_eq!(receipt.promotions[0].amount_minor, 12_000, "one soap free");
        let soap_amounts: i64 = receipt.lines[1].amount_minor + receipt.lines[3].amount_minor;
        assert_eq!(soap_amounts, 24_000);
        assert_eq!(receipt.lines[4].gross_minor, 8_750);
        assert_eq!(receipt.total_minor, 19_760 + 24_000 + 6_500 + 8_750);
        assert_eq!(receipt.tax_minor, 3_310 + 1_207);
        assert_eq!(receipt.discount_minor, 12_000);
        let cash = receipt.cash.expect("rounding");
        assert_eq!((cash.due_minor, cash.adjustment_minor), (59_000, -10));
    }

    #[test]
    fn modifiers_price_books_discounts_and_a_taxable_service_charge_add_up() {
        let mut latte = kes_item("latte", "coffee", 35_000, vat_and_levy());
        latte.modifier_group_ids = vec!["milk".into()];
        let rules = PricingRules {
            modifier_groups: vec![ModifierGroup {
                id: "milk".into(),
                name: "Milk".into(),
                min_choices: 1,
                max_choices: 1,
                options: vec![ModifierOption {
                    id: "oat".into(),
                    name: "Oat".into(),
                    price_delta_minor: 5_000,
                    nested_groups: vec![],
                }],
            }],
            ..PricingRules::default()
        };
        let mut line = CartLine::new(line_id(1), latte.clone(), Quantity::Each(2));
        assert!(matches!(
            price_cart(
                &Cart {
                    lines: vec![line.clone()],
                    ..Cart::default()
                },
                &rules,
                &PricingContext::default()
            ),
            Err(PriceCartError::Modifier { .. })
        ));
        line.modifiers = vec![ModifierChoice::new("milk", "oat")];
        line.discount = Some(ManualDiscount {
            reason: "regular customer".into(),
            kind: DiscountKind::Amount {
                amount_minor: 10_000,
            },
        });
        let cart = Cart {
            lines: vec![line],
            order_discount: Some(ManualDiscount {
                reason: "manager".into(),
                kind: DiscountKind::Percent { percent_bps: 1_000 },
            }),
            service_charge: Some(ServiceCharge {
                name: "Service 10%".into(),
                kind: ServiceChargeKind::Percent { percent_bps: 1_000 },
                taxable: true,
                tax_rates: vec![TaxRate::new("VAT16", 1600)],
                tax_mode: TaxMode::Exclusive,
            }),
            tip_minor: 0,
        };
        let receipt = price_cart(&cart, &rules, &PricingContext::default()).expect("priced");
        let line = &receipt.lines[0];
        assert_eq!(line.unit_price_minor, 40_000);
        assert_eq!(line.extended_minor, 80_000);
        assert_eq!(line.line_discount_minor, 10_000);
        assert_eq!(line.order_discount_minor, 7_000);
        assert_eq!(line.amount_minor, 63_000);
        let service = receipt.service_charge.as_ref().expect("service charge");
        assert_eq!(
            (service.amount_minor, service.tax_minor, service.gross_minor),
            (6_300, 1_008, 7_308)
        );
        assert_eq!(receipt.total_minor, 63_000 + 7_308);
        assert_eq!(receipt.discount_minor, 17_000);
    }

    #[test]
    fn combo_components_are_taxed_at_their_own_rates_and_skipped_by_promotions() {
        use crate::modifiers::{ComboSlot, ComboSlotOption};
        let burger = kes_item("burger", "food", 80_000, vec![TaxRate::new("VAT16", 1600)]);
        let juice = kes_item("juice", "food", 20_000, vec![TaxRate::new("ZERO", 0)]);
        let slot = |id: &str, item: &CatalogItem, upcharge_minor| ComboSlot {
            id: id.into(),
            name: id.into(),
            options: vec![ComboSlotOption {
                item_id: item.id.clone(),
                upcharge_minor,
            }],
        };
        let meal = Combo {
            id: "meal".into(),
            name: "Meal".into(),
            price_minor: 85_000,
            slots: vec![slot("main", &burger, 0), slot("drink", &juice, 5_000)],
        };
        let choices = [
            ComboChoice {
                slot_id: "main".into(),
                item_id: burger.id.clone(),
            },
            ComboChoice {
                slot_id: "drink".into(),
                item_id: juice.id.clone(),
            },
        ];
        let items = [burger.clone(), juice];
        let mut lines = CartLine::combo(&[line_id(1), line_id(2)], &meal, &choices, |id| {
            items.iter().find(|item| &item.id == id)
        })
        .expect("combo");
        lines.push(CartLine::new(line_id(3), burger, Quantity::Each(1)));
        let rules = PricingRules {
            promotions: vec![Promotion::automatic(
                "food10",
                "10% food",
                PromotionRule::PercentOff {
                    target: PromotionTarget::Category {
                        category: "food".into(),
                    },
                    percent_bps: 1_000,
                },
            )],
            ..PricingRules::default()
        };
        let receipt = price_cart(
            &Cart {
                lines,
                ..Cart::default()
            },
            &rules,
            &PricingContext::default(),
        )
        .expect("priced");
        // 850 + 50 upcharge = 900, split 4:1 by shelf price: 720 burger, 180 juice.
        assert_eq!(
            (receipt.lines[0].gross_minor, receipt.lines[1].gross_minor),
            (72_000, 18_000)
        );
        assert_eq!(
            (
                receipt.lines[0].promotion_discount_minor,
                receipt.lines[1].promotion_discount_minor
            ),
            (0, 0)
        );
        assert_eq!(
            receipt.lines[2].promotion_discount_minor, 8_000,
            "the à la carte burger gets 10 %"
        );
        assert_eq!(
            receipt.lines[1].tax_minor, 0,
            "the juice stays zero-rated inside the combo"
        );
        assert_eq!(
            CartLine::combo(&[line_id(1)], &meal, &choices, |id| items
                .iter()
                .find(|item| &item.id == id)),
            Err(ComboError::LineIdsPerSlot)
        );
    }

    #[test]
    fn a_weighed_item_sold_by_the_piece_is_refused() {
        let mut bananas = kes_item("bananas", "produce", 16_000, vec![]);
        bananas.unit = Unit::Kilogram;
        let cart = Cart {
            lines: vec![CartLine::new(line_id(1), bananas, Quantity::Each(2))],
            ..Cart::default()
        };
        assert_eq!(
            price_cart(&cart, &PricingRules::default(), &PricingContext::default()),
            Err(PriceCartError::BadQuantity {
                line_id: line_id(1)
            })
        );
    }

    proptest! {
        #[test]
        fn a_priced_cart_always_adds_up_and_no_line_goes_negative(
            specs in prop::collection::vec((1_i64..50_000, 1_i64..5, any::<bool>(), 0_u32..3_000), 1..25),
            order_off_bps in 0_u32..10_000,
            promo_bps in 0_u32..10_000,
            service_bps in 0_u32..2_000,
            tip in 0_i64..10_000,
            per_invoice in any::<bool>(),
        ) {
            let lines: Vec<CartLine> = specs.iter().enumerate().map(|(n, (price, count, inclusive, bps))| {
                let mode = if *inclusive { TaxMode::Inclusive } else { TaxMode::Exclusive };
                let item = CatalogItem::simple(&format!("i{}", n % 4), "x", &format!("c{}", n % 2), *price, mode, vec![TaxRate::new("T", *bps)]);
                CartLine::new(line_id(n as u128 + 1), item, Quantity::Each(*count))
            }).collect();
            let cart = Cart {
                lines,
                order_discount: Some(ManualDiscount { reason: "r".into(), kind: DiscountKind::Percent { percent_bps: order_off_bps } }),
                service_charge: Some(ServiceCharge { name: "s".into(), kind: ServiceChargeKind::Percent { percent_bps: service_bps }, taxable: false, tax_rates: vec![], tax_mode: TaxMode::Exclusive }),
                tip_minor: tip,
            };
            let rules = PricingRules {
                promotions: vec![Promotion::automatic("p", "p", PromotionRule::PercentOff { target: PromotionTarget::Category { category: "c0".into() }, percent_bps: promo_bps })],
                tax_policy: TaxPolicy { rounding: RoundingMode::HalfEven, level: if per_invoice { TaxRoundingLevel::PerInvoice } else { TaxRoundingLevel::PerLine } },
                ..PricingRules::default()
            };
            let receipt = price_cart(&cart, &rules, &PricingContext::default()).expect("priced");
            let mut gross = 0;
            for line in &receipt.lines {
                prop_assert!(line.amount_minor >= 0);
                prop_assert_eq!(line.extended_minor - line.promotion_discount_minor - line.line_discount_minor - line.order_discount_minor, line.amount_minor);
                prop_assert_eq!(line.net_minor + line.tax_minor, line.gross_minor);
                gross += line.gross_minor;
            }
            let service = receipt.service_charge.as_ref().map_or(0, |s| s.gross_minor);
            prop_assert_eq!(receipt.service_charge.as_ref().map_or(0, |s| s.line_shares_minor.iter().sum::<i64>()), service);
            prop_assert_eq!(gross + service + tip, receipt.total_minor);
            prop_assert_eq!(receipt.net_minor + receipt.tax_minor + tip, receipt.total_minor);
            prop_assert_eq!(receipt.subtotal_minor - receipt.discount_minor, receipt.lines.iter().map(|l| l.amount_minor).sum::<i64>());
        }
    }
}
