//! Price books: which price applies to an item, here and now, for this customer.
//!
//! An outlet may hold several books. Each has a *scope* that decides when it applies and a
//! *tier* that decides who wins when several apply:
//!
//! ```text
//!   outlet override  >  membership  >  time window  >  region  >  channel  >  base  >  shelf price
//! ```
//!
//! Within a tier the higher `priority` wins, then the smaller book id, so the answer never
//! depends on the order books were loaded in. Time windows are evaluated on the *outlet-local*
//! minute of the week, which the caller computes (see [`minute_of_week`]); this crate has no
//! clock and no time-zone database, by design.

use crate::catalog::{CatalogItem, ItemId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Minutes in a day.
pub const MINUTES_PER_DAY: u32 = 1_440;
/// Minutes in a week; minute-of-week values run from 0 (Monday 00:00) below this.
pub const MINUTES_PER_WEEK: u32 = 7 * MINUTES_PER_DAY;

/// Where an order is sold: channel price books key on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    DineIn,
    TakeOut,
    Delivery,
    Ecommerce,
    Wholesale,
}

/// A daily time window on some days of the week, e.g. happy hour 17:00–19:00 Mon–Fri, or
/// late night 22:00–02:00 (an end before the start crosses midnight into the next day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WeeklyWindow {
    /// Bit 0 = Monday … bit 6 = Sunday: the days the window *starts* on.
    pub days_mask: u8,
    /// Minute of the day the window opens, 0..1440.
    pub start_minute: u16,
    /// Minute of the day it closes (exclusive), 0..=1440; at or before `start_minute` means
    /// it closes on the following day.
    pub end_minute: u16,
}

impl WeeklyWindow {
    /// Monday to Friday.
    pub const WEEKDAYS: u8 = 0b001_1111;
    /// Every day.
    pub const EVERY_DAY: u8 = 0b111_1111;

    /// Whether the window is open at `minute_of_week` (0 = Monday 00:00 outlet time).
    ///
    /// ```
    /// use shared_model::pricebook::WeeklyWindow;
    /// // Friday 22:00 to Saturday 02:00.
    /// let late = WeeklyWindow { days_mask: 1 << 4, start_minute: 22 * 60, end_minute: 2 * 60 };
    /// let saturday_0130 = 5 * 1440 + 90;
    /// assert!(late.contains(saturday_0130));
    /// assert!(!late.contains(4 * 1440 + 90)); // Friday 01:30 belongs to Thursday night
    /// ```
    pub fn contains(&self, minute_of_week: u32) -> bool {
        let minute_of_week = minute_of_week % MINUTES_PER_WEEK;
        let day = minute_of_week / MINUTES_PER_DAY;
        let minute = minute_of_week % MINUTES_PER_DAY;
        let start = u32::from(self.start_minute);
        let end = u32::from(self.end_minute).min(MINUTES_PER_DAY);
        let starts_on = |day: u32| self.days_mask & (1 << day) != 0;
        if start < end {
            starts_on(day) && (start..end).contains(&minute)
        } else {
            let previous_day = (day + 6) % 7;
            (starts_on(day) && minute >= start) || (starts_on(previous_day) && minute < end)
        }
    }
}

/// The outlet-local minute of the week (0 = Monday 00:00) at `utc_ms`, for an outlet whose
/// clock is `utc_offset_minutes` ahead of UTC (Nairobi: +180). The caller picks the offset in
/// force (daylight saving included), since this crate carries no time-zone database.
///
/// ```
/// use shared_model::pricebook::minute_of_week;
/// // 1970-01-01T00:00Z was a Thursday; in Nairobi it was 03:00.
/// assert_eq!(minute_of_week(0, 180), 3 * 1440 + 180);
/// ```
pub fn minute_of_week(utc_ms: i64, utc_offset_minutes: i32) -> u32 {
    let local_minutes = utc_ms.div_euclid(60_000) + i64::from(utc_offset_minutes);
    let days = local_minutes.div_euclid(i64::from(MINUTES_PER_DAY));
    // The epoch day was a Thursday: Monday-based index 3.
    let weekday = (days + 3).rem_euclid(7);
    let minute = local_minutes.rem_euclid(i64::from(MINUTES_PER_DAY));
    // Both parts are small and non-negative.
    u32::try_from(weekday * i64::from(MINUTES_PER_DAY) + minute).unwrap_or(0)
}

/// When a book applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum PriceBookScope {
    Base,
    Channel { channel: Channel },
    Region { region: String },
    TimeWindow { windows: Vec<WeeklyWindow> },
    Membership { plan: String },
    OutletOverride { outlet: String },
}

impl PriceBookScope {
    /// Precedence tier: higher wins.
    pub fn tier(&self) -> u8 {
        match self {
            PriceBookScope::Base => 0,
            PriceBookScope::Channel { .. } => 1,
            PriceBookScope::Region { .. } => 2,
            PriceBookScope::TimeWindow { .. } => 3,
            PriceBookScope::Membership { .. } => 4,
            PriceBookScope::OutletOverride { .. } => 5,
        }
    }

    fn applies(&self, context: &PriceContext) -> bool {
        match self {
            PriceBookScope::Base => true,
            PriceBookScope::Channel { channel } => context.channel == Some(*channel),
            PriceBookScope::Region { region } => context.region.as_deref() == Some(region),
            PriceBookScope::TimeWindow { windows } => windows
                .iter()
                .any(|window| window.contains(context.minute_of_week)),
            PriceBookScope::Membership { plan } => context.membership_plans.contains(plan),
            PriceBookScope::OutletOverride { outlet } => context.outlet.as_deref() == Some(outlet),
        }
    }
}

/// A named set of unit prices with a scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBook {
    pub id: String,
    pub name: String,
    pub scope: PriceBookScope,
    /// Tie-break within a tier: higher wins.
    #[serde(default)]
    pub priority: u32,
    /// Unit price per item, in minor units.
    pub prices: BTreeMap<ItemId, i64>,
}

/// Where and for whom a price is asked.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PriceContext {
    pub channel: Option<Channel>,
    pub region: Option<String>,
    pub outlet: Option<String>,
    /// Outlet-local minute of the week, see [`minute_of_week`].
    pub minute_of_week: u32,
    /// Plans the customer is entitled to (e.g. `"gold"`); empty for walk-ins.
    pub membership_plans: Vec<String>,
}

/// Which book a price came from, recorded on the line for audit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum PriceSource {
    /// The catalog item's own shelf price.
    #[default]
    Shelf,
    Book {
        book_id: String,
    },
}

/// A resolved unit price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedPrice {
    pub unit_price_minor: i64,
    pub source: PriceSource,
}

/// The unit price of `item` under `context`: the winning applicable book that lists the item,
/// else the item's shelf price.
///
/// ```
/// use shared_model::pricebook::*;
/// use shared_model::{CatalogItem, ItemId, TaxMode};
/// let beer = CatalogItem::simple("sku-tusker", "Tusker", "beer", 35_000, TaxMode::Inclusive, vec![]);
/// let happy_hour = PriceBook {
///     id: "happy".into(), name: "Happy hour".into(), priority: 0,
///     scope: PriceBookScope::TimeWindow { windows: vec![WeeklyWindow { days_mask: WeeklyWindow::EVERY_DAY, start_minute: 17 * 60, end_minute: 19 * 60 }] },
///     prices: [(ItemId("sku-tusker".into()), 25_000)].into(),
/// };
/// let at = |minute| PriceContext { minute_of_week: minute, ..PriceContext::default() };
/// assert_eq!(resolve_price(&[happy_hour.clone()], &beer, &at(18 * 60)).unit_price_minor, 25_000);
/// assert_eq!(resolve_price(&[happy_hour], &beer, &at(20 * 60)).unit_price_minor, 35_000);
/// ```
pub fn resolve_price(
    books: &[PriceBook],
    item: &CatalogItem,
    context: &PriceContext,
) -> ResolvedPrice {
    let mut best: Option<(&PriceBook, i64)> = None;
    for book in books {
        let Some(price) = book.prices.get(&item.id) else {
            continue;
        };
        if !book.scope.applies(context) {
            continue;
        }
        let wins = match best {
            None => true,
            Some((current, _)) => {
                (
                    book.scope.tier(),
                    book.priority,
                    std::cmp::Reverse(&book.id),
                ) > (
                    current.scope.tier(),
                    current.priority,
                    std::cmp::Reverse(&current.id),
                )
            }
        };
        if wins {
            best = Some((book, *price));
        }
    }
    match best {
        Some((book, price)) => ResolvedPrice {
            unit_price_minor: price,
            source: PriceSource::Book {
                book_id: book.id.clone(),
            },
        },
        None => ResolvedPrice {
            unit_price_minor: item.price_minor,
            source: PriceSource::Shelf,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tax::TaxMode;

    fn item() -> CatalogItem {
        CatalogItem::simple(
            "sku-burger",
            "Burger",
            "food",
            80_000,
            TaxMode::Inclusive,
            vec![],
        )
    }

    fn book(id: &str, scope: PriceBookScope, price: i64) -> PriceBook {
        PriceBook {
            id: id.into(),
            name: id.into(),
            scope,
            priority: 0,
            prices: [(ItemId("sku-burger".into()), price)].into(),
        }
    }

    fn books() -> Vec<PriceBook> {
        vec![
            book("base", PriceBookScope::Base, 75_000),
            book(
                "delivery",
                PriceBookScope::Channel {
                    channel: Channel::Delivery,
                },
                90_000,
            ),
            book(
                "mombasa",
                PriceBookScope::Region {
                    region: "coast".into(),
                },
                78_000,
            ),
            book(
                "lunch",
                PriceBookScope::TimeWindow {
                    windows: vec![WeeklyWindow {
                        days_mask: WeeklyWindow::WEEKDAYS,
                        start_minute: 12 * 60,
                        end_minute: 14 * 60,
                    }],
                },
                60_000,
            ),
            book(
                "gold",
                PriceBookScope::Membership {
                    plan: "gold".into(),
                },
                55_000,
            ),
            book(
                "outlet-7",
                PriceBookScope::OutletOverride {
                    outlet: "outlet-7".into(),
                },
                70_000,
            ),
        ]
    }

    #[test]
    fn each_tier_overrides_the_ones_below_it() {
        let books = books();
        let mut context = PriceContext::default();
        let price =
            |context: &PriceContext| resolve_price(&books, &item(), context).unit_price_minor;
        assert_eq!(price(&context), 75_000, "base");
        context.channel = Some(Channel::Delivery);
        assert_eq!(price(&context), 90_000, "channel over base");
        context.region = Some("coast".into());
        assert_eq!(price(&context), 78_000, "region over channel");
        context.minute_of_week = 12 * 60 + 30; // Monday 12:30
        assert_eq!(price(&context), 60_000, "lunch window over region");
        context.membership_plans = vec!["gold".into()];
        assert_eq!(price(&context), 55_000, "membership over time window");
        context.outlet = Some("outlet-7".into());
        assert_eq!(price(&context), 70_000, "outlet override over everything");
    }

    #[test]
    fn with_no_book_listing_the_item_the_shelf_price_applies() {
        let resolved = resolve_price(&[], &item(), &PriceContext::default());
        assert_eq!(resolved.unit_price_minor, 80_000);
        assert_eq!(resolved.source, PriceSource::Shelf);
    }

    #[test]
    fn the_winner_does_not_depend_on_the_order_books_are_listed() {
        let mut books = books();
        let context = PriceContext {
            channel: Some(Channel::Delivery),
            ..PriceContext::default()
        };
        let mut twin = book(
            "delivery-b",
            PriceBookScope::Channel {
                channel: Channel::Delivery,
            },
            91_000,
        );
        books.push(twin.clone());
        let forward = resolve_price(&books, &item(), &context);
        books.reverse();
        assert_eq!(resolve_price(&books, &item(), &context), forward);
        assert_eq!(
            forward.unit_price_minor, 90_000,
            "equal priority: smaller id wins"
        );
        twin.priority = 1;
        books.push(twin);
        assert_eq!(
            resolve_price(&books, &item(), &context).unit_price_minor,
            91_000
        );
    }

    #[test]
    fn a_late_night_window_crosses_midnight_and_wraps_sunday_into_monday() {
        let sunday_late = WeeklyWindow {
            days_mask: 1 << 6,
            start_minute: 22 * 60,
            end_minute: 2 * 60,
        };
        assert!(sunday_late.contains(6 * MINUTES_PER_DAY + 23 * 60));
        assert!(
            sunday_late.contains(60),
            "Monday 01:00 is still Sunday night"
        );
        assert!(!sunday_late.contains(2 * 60), "closes at 02:00 exactly");
        assert!(
            !sunday_late.contains(6 * MINUTES_PER_DAY + 60),
            "Sunday 01:00 is Saturday night"
        );
    }

    #[test]
    fn minute_of_week_follows_the_outlet_offset_across_midnight() {
        // 2026-11-23 is a Monday. 22:30 UTC on Sunday 22nd is 01:30 Monday in Nairobi.
        let sunday_2230_utc_ms = 1_795_386_600_000_i64;
        assert_eq!(
            minute_of_week(sunday_2230_utc_ms, 0),
            6 * MINUTES_PER_DAY + 22 * 60 + 30
        );
        assert_eq!(minute_of_week(sunday_2230_utc_ms, 180), 90);
        assert_eq!(
            minute_of_week(-60_000, 0),
            3 * MINUTES_PER_DAY - 1,
            "before the epoch"
        );
    }
}
