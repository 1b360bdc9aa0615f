//! An outlet's configuration profile, edited at the hub and obeyed at the edge: where the
//! outlet is (time zone, region for regional price books), which tenders it takes, and what its
//! receipts say.
//!
//! The offset from UTC is configured, not derived: this crate has no time-zone database. An
//! outlet in a zone with daylight saving has its offset updated at the hub when the clocks move
//! (East Africa, the first market, has none).

use crate::cash_rounding::CashRounding;
use crate::order::Tender;
use crate::pricebook::{PriceContext, WeeklyWindow};
use crate::tax::TaxPolicy;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Furthest offset from UTC of any zone in use (UTC+14, Line Islands; UTC−12).
pub const UTC_OFFSET_MINUTES_MAX: i32 = 14 * 60;
/// Longest receipt header or footer, in characters.
pub const RECEIPT_TEXT_CHARS_MAX: usize = 500;
/// Longest time-zone name or region code, in characters.
pub const NAME_CHARS_MAX: usize = 64;
/// Most opening windows an outlet has. Why 21: three a day (breakfast, lunch, dinner) all week.
pub const OPERATING_WINDOWS_MAX: usize = 21;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutletConfig {
    /// IANA name, e.g. `Africa/Nairobi`; informational (reports, receipts).
    pub timezone: String,
    /// Minutes east of UTC now; time-window price books are evaluated on this local time.
    pub utc_offset_minutes: i32,
    /// Region code for regional price books, e.g. `nairobi`.
    #[serde(default)]
    pub region: Option<String>,
    /// Tenders this outlet takes; empty means all of them.
    #[serde(default)]
    pub accepted_tenders: Vec<Tender>,
    /// Printed above the lines of every receipt.
    #[serde(default)]
    pub receipt_header: String,
    /// Printed below the totals of every receipt.
    #[serde(default)]
    pub receipt_footer: String,
    /// A drawer whose count is off by more than this (either way) raises a cash exception for
    /// managers; `None`: the tenant default.
    #[serde(default)]
    pub cash_exception_threshold_minor: Option<i64>,
    /// How far the outlet lets card payments go on the card terminal's store-and-forward while
    /// the link is down; `None`: the defaults of [`OfflineCardLimits::DEFAULT`].
    #[serde(default)]
    pub offline_card: Option<OfflineCardLimits>,
    /// How cash is collected when the smallest coins are gone (e.g. to the whole shilling):
    /// the till adds a cash-rounding line before a cash payment; `None`: cash to the cent.
    #[serde(default)]
    pub cash_rounding: Option<CashRounding>,
    /// How taxes are rounded on this outlet's orders; `None`: per line, half up.
    #[serde(default)]
    pub tax_policy: Option<TaxPolicy>,
    /// When the outlet trades, on its own clock; empty: always. Orders from the cloud are
    /// refused outside these hours.
    #[serde(default)]
    pub operating_hours: Vec<WeeklyWindow>,
}

/// The risk an outlet accepts on card payments taken offline (store-and-forward): the card
/// terminal approved them without the issuer, and the money is only real once the processor
/// confirms them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineCardLimits {
    /// Largest single offline card payment.
    pub per_payment_max_minor: i64,
    /// Most the outlet may have outstanding (taken offline, not yet confirmed) at once.
    pub outstanding_max_minor: i64,
    /// An offline payment not confirmed within this many hours is flagged for a manager.
    pub max_age_hours: u32,
}

impl OfflineCardLimits {
    /// 10,000.00 a payment, 50,000.00 outstanding, 24 hours.
    pub const DEFAULT: OfflineCardLimits = OfflineCardLimits {
        per_payment_max_minor: 1_000_000,
        outstanding_max_minor: 5_000_000,
        max_age_hours: 24,
    };

    pub fn max_age_ms(&self) -> i64 {
        i64::from(self.max_age_hours) * 3_600_000
    }

    /// Whether one more offline payment of `amount_minor` fits, with `outstanding_minor`
    /// already taken offline and not yet confirmed.
    pub fn admit(
        &self,
        amount_minor: i64,
        outstanding_minor: i64,
    ) -> Result<(), OfflineCardRefusal> {
        if amount_minor <= 0 {
            return Err(OfflineCardRefusal::BadAmount);
        }
        if amount_minor > self.per_payment_max_minor {
            return Err(OfflineCardRefusal::OverPaymentLimit {
                limit_minor: self.per_payment_max_minor,
            });
        }
        if outstanding_minor.saturating_add(amount_minor) > self.outstanding_max_minor {
            return Err(OfflineCardRefusal::OverOutstandingLimit {
                limit_minor: self.outstanding_max_minor,
                outstanding_minor,
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum OfflineCardRefusal {
    #[error("the amount must be positive")]
    BadAmount,
    #[error("an offline card payment may be at most {limit_minor}")]
    OverPaymentLimit { limit_minor: i64 },
    #[error("{outstanding_minor} is already unconfirmed offline; the outlet allows {limit_minor}")]
    OverOutstandingLimit {
        limit_minor: i64,
        outstanding_minor: i64,
    },
}

/// Largest cash-exception threshold accepted (a typo guard).
pub const CASH_EXCEPTION_THRESHOLD_MINOR_MAX: i64 = 100_000_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OutletConfigError {
    #[error(
        "utc_offset_minutes must be between -{UTC_OFFSET_MINUTES_MAX} and {UTC_OFFSET_MINUTES_MAX}"
    )]
    Offset,
    #[error("{0} must be 1 to {NAME_CHARS_MAX} printable characters")]
    Name(&'static str),
    #[error("{0} must be at most {RECEIPT_TEXT_CHARS_MAX} characters")]
    ReceiptText(&'static str),
    #[error("accepted_tenders lists a tender twice")]
    DuplicateTender,
    #[error(
        "cash_exception_threshold_minor must be between 0 and {CASH_EXCEPTION_THRESHOLD_MINOR_MAX}"
    )]
    Threshold,
    #[error("offline_card limits must be 0 or more, and max_age_hours 1 to 168")]
    OfflineCard,
    #[error(
        "operating_hours: at most {OPERATING_WINDOWS_MAX} windows, each on at least one day, minutes 0 to 1440"
    )]
    OperatingHours,
}

impl OutletConfigError {
    /// The field at fault, for a structured error.
    pub fn field(&self) -> &'static str {
        match self {
            OutletConfigError::Offset => "utc_offset_minutes",
            OutletConfigError::Name(field) | OutletConfigError::ReceiptText(field) => field,
            OutletConfigError::DuplicateTender => "accepted_tenders",
            OutletConfigError::Threshold => "cash_exception_threshold_minor",
            OutletConfigError::OfflineCard => "offline_card",
            OutletConfigError::OperatingHours => "operating_hours",
        }
    }
}

fn name_ok(text: &str) -> bool {
    let count = text.chars().count();
    (1..=NAME_CHARS_MAX).contains(&count) && !text.chars().any(char::is_control)
}

/// The offset of zones in the markets served that keep one offset all year (no daylight
/// saving), so an outlet has the right local time before anyone configures it.
pub fn fixed_offset_minutes(timezone: &str) -> Option<i32> {
    const ZONES: [(&str, i32); 12] = [
        ("Africa/Nairobi", 180),
        ("Africa/Kampala", 180),
        ("Africa/Dar_es_Salaam", 180),
        ("Africa/Addis_Ababa", 180),
        ("Africa/Mogadishu", 180),
        ("Africa/Kigali", 120),
        ("Africa/Bujumbura", 120),
        ("Africa/Lusaka", 120),
        ("Africa/Johannesburg", 120),
        ("Africa/Lagos", 60),
        ("Africa/Accra", 0),
        ("UTC", 0),
    ];
    ZONES
        .iter()
        .find(|(name, _)| *name == timezone)
        .map(|(_, offset)| *offset)
}

impl OutletConfig {
    /// A configuration for a zone with no other settings: every tender, plain receipts.
    pub fn in_zone(timezone: &str, utc_offset_minutes: i32) -> OutletConfig {
        OutletConfig {
            timezone: timezone.to_owned(),
            utc_offset_minutes,
            region: None,
            accepted_tenders: Vec::new(),
            receipt_header: String::new(),
            receipt_footer: String::new(),
            cash_exception_threshold_minor: None,
            offline_card: None,
            cash_rounding: None,
            tax_policy: None,
            operating_hours: Vec::new(),
        }
    }

    /// The offline card limits in force.
    pub fn offline_card_limits(&self) -> OfflineCardLimits {
        self.offline_card.unwrap_or(OfflineCardLimits::DEFAULT)
    }

    pub fn validate(&self) -> Result<(), OutletConfigError> {
        if !(-UTC_OFFSET_MINUTES_MAX..=UTC_OFFSET_MINUTES_MAX).contains(&self.utc_offset_minutes) {
            return Err(OutletConfigError::Offset);
        }
        if !name_ok(&self.timezone) {
            return Err(OutletConfigError::Name("timezone"));
        }
        if self
            .region
            .as_deref()
            .is_some_and(|region| !name_ok(region))
        {
            return Err(OutletConfigError::Name("region"));
        }
        for (field, text) in [
            ("receipt_header", &self.receipt_header),
            ("receipt_footer", &self.receipt_footer),
        ] {
            if text.chars().count() > RECEIPT_TEXT_CHARS_MAX {
                return Err(OutletConfigError::ReceiptText(field));
            }
        }
        if self
            .cash_exception_threshold_minor
            .is_some_and(|threshold| !(0..=CASH_EXCEPTION_THRESHOLD_MINOR_MAX).contains(&threshold))
        {
            return Err(OutletConfigError::Threshold);
        }
        if let Some(limits) = self.offline_card
            && (limits.per_payment_max_minor < 0
                || limits.outstanding_max_minor < 0
                || limits.per_payment_max_minor > CASH_EXCEPTION_THRESHOLD_MINOR_MAX
                || limits.outstanding_max_minor > CASH_EXCEPTION_THRESHOLD_MINOR_MAX
                || !(1..=168).contains(&limits.max_age_hours))
        {
            return Err(OutletConfigError::OfflineCard);
        }
        let mut tenders = self.accepted_tenders.clone();
        tenders.sort_by_key(|tender| *tender as u8);
        tenders.dedup();
        if tenders.len() != self.accepted_tenders.len() {
            return Err(OutletConfigError::DuplicateTender);
        }
        let window_ok = |window: &WeeklyWindow| {
            window.days_mask & WeeklyWindow::EVERY_DAY != 0
                && window.days_mask & !WeeklyWindow::EVERY_DAY == 0
                && window.start_minute < 1_440
                && window.end_minute <= 1_440
        };
        if self.operating_hours.len() > OPERATING_WINDOWS_MAX
            || !self.operating_hours.iter().all(window_ok)
        {
            return Err(OutletConfigError::OperatingHours);
        }
        Ok(())
    }

    /// Whether the outlet trades at `utc_ms` (always, with no hours set).
    pub fn is_open_at(&self, utc_ms: i64) -> bool {
        if self.operating_hours.is_empty() {
            return true;
        }
        let minute = crate::pricebook::minute_of_week(utc_ms, self.utc_offset_minutes);
        self.operating_hours
            .iter()
            .any(|window| window.contains(minute))
    }

    /// The cash rounding rule (none: to the cent).
    pub fn cash_rounding(&self) -> CashRounding {
        self.cash_rounding.unwrap_or_else(CashRounding::none)
    }

    /// Whether the outlet takes `tender`.
    pub fn accepts(&self, tender: Tender) -> bool {
        self.accepted_tenders.is_empty() || self.accepted_tenders.contains(&tender)
    }

    /// The price-book context at `utc_ms` for this outlet (channel and membership are the
    /// order's, filled in by the caller).
    pub fn price_context(&self, outlet_code: Option<&str>, utc_ms: i64) -> PriceContext {
        PriceContext {
            channel: None,
            region: self.region.clone(),
            outlet: outlet_code.map(str::to_owned),
            minute_of_week: crate::pricebook::minute_of_week(utc_ms, self.utc_offset_minutes),
            membership_plans: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outlet_is_open_within_its_hours_on_its_own_clock() {
        let mut config = OutletConfig::in_zone("Africa/Nairobi", 180);
        // 2026-12-07 is a Monday. 06:00 UTC = 09:00 Nairobi.
        let monday_0600_utc = 1_796_623_200_000;
        assert!(config.is_open_at(monday_0600_utc), "no hours: always open");
        config.operating_hours = vec![WeeklyWindow {
            days_mask: WeeklyWindow::WEEKDAYS,
            start_minute: 8 * 60,
            end_minute: 22 * 60,
        }];
        assert_eq!(config.validate(), Ok(()));
        assert!(config.is_open_at(monday_0600_utc));
        assert!(
            !config.is_open_at(monday_0600_utc - 2 * 3_600_000),
            "07:00 local"
        );
        // Saturday, same time.
        assert!(!config.is_open_at(monday_0600_utc - 2 * 86_400_000));
        config.operating_hours[0].days_mask = 0;
        assert_eq!(
            config.validate().map_err(|e| e.field()),
            Err("operating_hours")
        );
    }

    #[test]
    fn a_valid_profile_passes_and_each_bad_field_is_named() {
        let mut config = OutletConfig::in_zone("Africa/Nairobi", 180);
        config.accepted_tenders = vec![Tender::Cash, Tender::Mpesa];
        assert_eq!(config.validate(), Ok(()));
        assert!(config.accepts(Tender::Mpesa));
        assert!(!config.accepts(Tender::Card));

        let mut bad = config.clone();
        bad.utc_offset_minutes = 15 * 60;
        assert_eq!(
            bad.validate().map_err(|e| e.field()),
            Err("utc_offset_minutes")
        );
        let mut bad = config.clone();
        bad.timezone = String::new();
        assert_eq!(bad.validate().map_err(|e| e.field()), Err("timezone"));
        let mut bad = config.clone();
        bad.receipt_footer = "x".repeat(RECEIPT_TEXT_CHARS_MAX + 1);
        assert_eq!(bad.validate().map_err(|e| e.field()), Err("receipt_footer"));
        let mut bad = config;
        bad.accepted_tenders = vec![Tender::Cash, Tender::Cash];
        assert_eq!(
            bad.validate().map_err(|e| e.field()),
            Err("accepted_tenders")
        );
    }

    #[test]
    fn offline_card_payments_are_admitted_within_both_limits() {
        let limits = OfflineCardLimits {
            per_payment_max_minor: 20_000,
            outstanding_max_minor: 30_000,
            max_age_hours: 24,
        };
        assert_eq!(limits.admit(15_000, 0), Ok(()));
        assert_eq!(limits.admit(15_000, 15_000), Ok(()));
        assert!(matches!(
            limits.admit(1, 30_000),
            Err(OfflineCardRefusal::OverOutstandingLimit { .. })
        ));
        assert!(matches!(
            limits.admit(20_001, 0),
            Err(OfflineCardRefusal::OverPaymentLimit { .. })
        ));
        assert_eq!(limits.admit(0, 0), Err(OfflineCardRefusal::BadAmount));
    }

    #[test]
    fn an_empty_tender_list_takes_everything() {
        let config = OutletConfig::in_zone("Africa/Nairobi", 180);
        for tender in [Tender::Cash, Tender::Card, Tender::Mpesa, Tender::GiftCard] {
            assert!(config.accepts(tender));
        }
    }

    #[test]
    fn the_price_context_is_in_outlet_local_time() {
        let config = OutletConfig::in_zone("Africa/Nairobi", 180);
        // 2026-11-23 is a Monday; 15:00 UTC is 18:00 in Nairobi.
        let monday_1500_utc = 1_795_446_000_000;
        let context = config.price_context(Some("cbd"), monday_1500_utc);
        assert_eq!(context.minute_of_week, 18 * 60);
        assert_eq!(context.outlet.as_deref(), Some("cbd"));
    }
}
