//! Cash drawers: the facts of one drawer session, what the drawer should hold, and how the
//! count at the end compares.
//!
//! A session opens with a float, then records every tender taken or refunded through it, pay-ins
//! and pay-outs (petty cash), drops to the safe and no-sale opens. It is closed by a *blind*
//! count: the cashier enters what is there without being shown what is expected, and only then
//! does the session compute the variance per tender. Like orders, commands decide events and
//! [`DrawerSession::apply`] folds them in, so the edge and the hub compute the same reports.
//!
//! ```
//! use shared_model::drawer::{DrawerSession, TenderCount};
//! use shared_model::{DrawerSessionId, Tender};
//! use uuid::Uuid;
//!
//! let opened = DrawerSession::open(DrawerSessionId(Uuid::from_u128(1)), "till-1", "wanjiru", 500_000, 0).unwrap();
//! let mut drawer = DrawerSession::from_opened(&opened).unwrap();
//! let sale = drawer.take(Tender::Cash, 120_000, 1).unwrap();
//! drawer.apply(&sale).unwrap();
//! let drop = drawer.drop_to_safe(300_000, 2).unwrap();
//! drawer.apply(&drop).unwrap();
//! assert_eq!(drawer.expected_minor(Tender::Cash), 320_000);
//! let count = drawer.count(vec![TenderCount { tender: Tender::Cash, counted_minor: 319_500 }], 3).unwrap();
//! drawer.apply(&count).unwrap();
//! assert_eq!(drawer.variance_minor(Tender::Cash), Some(-500));
//! ```

use crate::ids::DrawerSessionId;
use crate::order::{TEXT_LEN_MAX, Tender};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Most events in one drawer session. Why: a busy lane takes a few thousand tenders a shift;
/// this bounds the document and the work of a report.
pub const DRAWER_EVENTS_MAX: u32 = 50_000;
/// Largest single movement accepted, in minor units: a typo guard far above a real float.
pub const MOVEMENT_MINOR_MAX: i64 = 100_000_000_000;

const ALL_TENDERS: [Tender; TENDERS] = Tender::ALL;
const TENDERS: usize = Tender::ALL.len();

/// What a cashier counted for one tender at close (cash in the drawer, card slips, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenderCount {
    pub tender: Tender,
    pub counted_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DrawerEvent {
    Opened {
        session_id: DrawerSessionId,
        terminal_id: String,
        cashier_id: String,
        float_minor: i64,
        at_ms: i64,
    },
    /// A payment taken through this drawer (for cash: what stayed in it, change already given).
    Taken {
        tender: Tender,
        amount_minor: i64,
        at_ms: i64,
    },
    /// A refund paid out through this drawer.
    Refunded {
        tender: Tender,
        amount_minor: i64,
        at_ms: i64,
    },
    PaidIn {
        amount_minor: i64,
        reason: String,
        at_ms: i64,
    },
    PaidOut {
        amount_minor: i64,
        reason: String,
        at_ms: i64,
    },
    /// Cash moved from the drawer to the safe.
    Dropped {
        amount_minor: i64,
        at_ms: i64,
    },
    /// The drawer was opened without a sale (audited; carries why).
    NoSale {
        reason: String,
        at_ms: i64,
    },
    /// The blind count at close.
    Counted {
        counts: Vec<TenderCount>,
        at_ms: i64,
    },
    Closed {
        z_number: u64,
        at_ms: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawerState {
    Open,
    Counted,
    Closed,
}

impl DrawerState {
    pub fn as_str(&self) -> &'static str {
        match self {
            DrawerState::Open => "open",
            DrawerState::Counted => "counted",
            DrawerState::Closed => "closed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DrawerError {
    #[error("drawer session is {0}; it no longer takes this")]
    NotOpen(&'static str),
    #[error("amount must be between 1 and {MOVEMENT_MINOR_MAX}")]
    BadAmount,
    #[error("a reason of 1 to {TEXT_LEN_MAX} characters is required")]
    ReasonRequired,
    #[error("the drawer holds {available_minor} in cash; it cannot pay out {requested_minor}")]
    NotEnoughCash {
        available_minor: i64,
        requested_minor: i64,
    },
    #[error("count every tender at most once")]
    DuplicateCount,
    #[error("the drawer must be counted before it is closed")]
    NotCounted,
    #[error("a drawer session holds at most {DRAWER_EVENTS_MAX} events")]
    TooManyEvents,
    #[error("terminal and cashier are required")]
    MissingIdentity,
    #[error("event does not apply to a drawer in this state")]
    Inconsistent,
}

/// Totals of a drawer session by tender, for X (mid-shift) and Z (closing) reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawerReport {
    pub float_minor: i64,
    pub taken: Vec<(Tender, i64)>,
    pub refunded: Vec<(Tender, i64)>,
    pub paid_in_minor: i64,
    pub paid_out_minor: i64,
    pub dropped_minor: i64,
    pub no_sales: u32,
    /// Expected per tender (cash includes float, pay-ins, pay-outs and drops).
    pub expected: Vec<(Tender, i64)>,
    /// Counted per tender and the variance (counted − expected); empty before the count.
    pub counted: Vec<(Tender, i64, i64)>,
    /// Set on the closing (Z) report only.
    pub z_number: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawerSession {
    pub id: DrawerSessionId,
    pub terminal_id: String,
    pub cashier_id: String,
    pub state: DrawerState,
    pub float_minor: i64,
    #[serde(with = "per_tender")]
    taken: [i64; TENDERS],
    #[serde(with = "per_tender")]
    refunded: [i64; TENDERS],
    paid_in_minor: i64,
    paid_out_minor: i64,
    dropped_minor: i64,
    no_sales: u32,
    counts: Option<Vec<TenderCount>>,
    z_number: Option<u64>,
    events: u32,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
}

fn tender_index(tender: Tender) -> usize {
    match tender {
        Tender::Cash => 0,
        Tender::Card => 1,
        Tender::Mpesa => 2,
        Tender::GiftCard => 3,
        Tender::LoyaltyPoints => 4,
        Tender::Voucher => 5,
    }
}

/// Per-tender sums stored as a list, one entry per tender in [`Tender::ALL`] order. A session
/// stored before a tender was added has a shorter list: the missing tenders read as zero.
mod per_tender {
    use super::TENDERS;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        values: &[i64; TENDERS],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[i64; TENDERS], D::Error> {
        let stored = Vec::<i64>::deserialize(deserializer)?;
        if stored.len() > TENDERS {
            return Err(serde::de::Error::invalid_length(
                stored.len(),
                &"at most one sum per known tender",
            ));
        }
        let mut values = [0; TENDERS];
        values[..stored.len()].copy_from_slice(&stored);
        Ok(values)
    }
}

fn check_amount(amount_minor: i64) -> Result<(), DrawerError> {
    if (1..=MOVEMENT_MINOR_MAX).contains(&amount_minor) {
        Ok(())
    } else {
        Err(DrawerError::BadAmount)
    }
}

fn check_reason(reason: &str) -> Result<String, DrawerError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > TEXT_LEN_MAX {
        return Err(DrawerError::ReasonRequired);
    }
    Ok(reason.to_owned())
}

impl DrawerSession {
    /// Decides opening a drawer with `float_minor` (0 is allowed: no float).
    pub fn open(
        session_id: DrawerSessionId,
        terminal_id: &str,
        cashier_id: &str,
        float_minor: i64,
        at_ms: i64,
    ) -> Result<DrawerEvent, DrawerError> {
        if terminal_id.trim().is_empty() || cashier_id.trim().is_empty() {
            return Err(DrawerError::MissingIdentity);
        }
        if !(0..=MOVEMENT_MINOR_MAX).contains(&float_minor) {
            return Err(DrawerError::BadAmount);
        }
        Ok(DrawerEvent::Opened {
            session_id,
            terminal_id: terminal_id.trim().to_owned(),
            cashier_id: cashier_id.trim().to_owned(),
            float_minor,
            at_ms,
        })
    }

    pub fn from_opened(event: &DrawerEvent) -> Option<DrawerSession> {
        match event {
            DrawerEvent::Opened {
                session_id,
                terminal_id,
                cashier_id,
                float_minor,
                at_ms,
            } => Some(DrawerSession {
                id: *session_id,
                terminal_id: terminal_id.clone(),
                cashier_id: cashier_id.clone(),
                state: DrawerState::Open,
                float_minor: *float_minor,
                taken: [0; TENDERS],
                refunded: [0; TENDERS],
                paid_in_minor: 0,
                paid_out_minor: 0,
                dropped_minor: 0,
                no_sales: 0,
                counts: None,
                z_number: None,
                events: 1,
                opened_at_ms: *at_ms,
                closed_at_ms: None,
            }),
            _ => None,
        }
    }

    fn open_for_more(&self) -> Result<(), DrawerError> {
        if self.state != DrawerState::Open {
            return Err(DrawerError::NotOpen(self.state.as_str()));
        }
        if self.events >= DRAWER_EVENTS_MAX {
            return Err(DrawerError::TooManyEvents);
        }
        Ok(())
    }

    /// What the drawer should hold in `tender` now.
    pub fn expected_minor(&self, tender: Tender) -> i64 {
        let index = tender_index(tender);
        let movements = self.taken[index] - self.refunded[index];
        if tender == Tender::Cash {
            self.float_minor + movements + self.paid_in_minor
                - self.paid_out_minor
                - self.dropped_minor
        } else {
            movements
        }
    }

    fn ensure_cash(&self, requested_minor: i64) -> Result<(), DrawerError> {
        let available_minor = self.expected_minor(Tender::Cash);
        if requested_minor > available_minor {
            return Err(DrawerError::NotEnoughCash {
                available_minor,
                requested_minor,
            });
        }
        Ok(())
    }

    pub fn take(
        &self,
        tender: Tender,
        amount_minor: i64,
        at_ms: i64,
    ) -> Result<DrawerEvent, DrawerError> {
        self.open_for_more()?;
        check_amount(amount_minor)?;
        Ok(DrawerEvent::Taken {
            tender,
            amount_minor,
            at_ms,
        })
    }

    /// A refund through this drawer; cash refunds cannot exceed the cash in it.
    pub fn refund(
        &self,
        tender: Tender,
        amount_minor: i64,
        at_ms: i64,
    ) -> Result<DrawerEvent, DrawerError> {
        self.open_for_more()?;
        check_amount(amount_minor)?;
        if tender == Tender::Cash {
            self.ensure_cash(amount_minor)?;
        }
        Ok(DrawerEvent::Refunded {
            tender,
            amount_minor,
            at_ms,
        })
    }

    pub fn pay_in(
        &self,
        amount_minor: i64,
        reason: &str,
        at_ms: i64,
    ) -> Result<DrawerEvent, DrawerError> {
        self.open_for_more()?;
        check_amount(amount_minor)?;
        Ok(DrawerEvent::PaidIn {
            amount_minor,
            reason: check_reason(reason)?,
            at_ms,
        })
    }

    pub fn pay_out(
        &self,
        amount_minor: i64,
        reason: &str,
        at_ms: i64,
    ) -> Result<DrawerEvent, DrawerError> {
        self.open_for_more()?;
        check_amount(amount_minor)?;
        let reason = check_reason(reason)?;
        self.ensure_cash(amount_minor)?;
        Ok(DrawerEvent::PaidOut {
            amount_minor,
            reason,
            at_ms,
        })
    }

    pub fn drop_to_safe(&self, amount_minor: i64, at_ms: i64) -> Result<DrawerEvent, DrawerError> {
        self.open_for_more()?;
        check_amount(amount_minor)?;
        self.ensure_cash(amount_minor)?;
        Ok(DrawerEvent::Dropped {
            amount_minor,
            at_ms,
        })
    }

    pub fn no_sale(&self, reason: &str, at_ms: i64) -> Result<DrawerEvent, DrawerError> {
        self.open_for_more()?;
        Ok(DrawerEvent::NoSale {
            reason: check_reason(reason)?,
            at_ms,
        })
    }

    /// The blind count: the caller passes what was counted and learns nothing back until the
    /// count is recorded.
    pub fn count(&self, counts: Vec<TenderCount>, at_ms: i64) -> Result<DrawerEvent, DrawerError> {
        self.open_for_more()?;
        let mut seen = [false; TENDERS];
        for count in &counts {
            if !(0..=MOVEMENT_MINOR_MAX).contains(&count.counted_minor) {
                return Err(DrawerError::BadAmount);
            }
            let index = tender_index(count.tender);
            if seen[index] {
                return Err(DrawerError::DuplicateCount);
            }
            seen[index] = true;
        }
        Ok(DrawerEvent::Counted { counts, at_ms })
    }

    pub fn close(&self, z_number: u64, at_ms: i64) -> Result<DrawerEvent, DrawerError> {
        match self.state {
            DrawerState::Counted => Ok(DrawerEvent::Closed { z_number, at_ms }),
            DrawerState::Open => Err(DrawerError::NotCounted),
            DrawerState::Closed => Err(DrawerError::NotOpen("closed")),
        }
    }

    /// Folds an event in, re-checking the rule that decided it.
    pub fn apply(&mut self, event: &DrawerEvent) -> Result<(), DrawerError> {
        let decided = match event {
            DrawerEvent::Opened { .. } => return Err(DrawerError::Inconsistent),
            DrawerEvent::Taken {
                tender,
                amount_minor,
                at_ms,
            } => self.take(*tender, *amount_minor, *at_ms),
            DrawerEvent::Refunded {
                tender,
                amount_minor,
                at_ms,
            } => self.refund(*tender, *amount_minor, *at_ms),
            DrawerEvent::PaidIn {
                amount_minor,
                reason,
                at_ms,
            } => self.pay_in(*amount_minor, reason, *at_ms),
            DrawerEvent::PaidOut {
                amount_minor,
                reason,
                at_ms,
            } => self.pay_out(*amount_minor, reason, *at_ms),
            DrawerEvent::Dropped {
                amount_minor,
                at_ms,
            } => self.drop_to_safe(*amount_minor, *at_ms),
            DrawerEvent::NoSale { reason, at_ms } => self.no_sale(reason, *at_ms),
            DrawerEvent::Counted { counts, at_ms } => self.count(counts.clone(), *at_ms),
            DrawerEvent::Closed { z_number, at_ms } => self.close(*z_number, *at_ms),
        }?;
        if &decided != event {
            return Err(DrawerError::Inconsistent);
        }
        match event {
            DrawerEvent::Opened { .. } => {}
            DrawerEvent::Taken {
                tender,
                amount_minor,
                ..
            } => self.taken[tender_index(*tender)] += amount_minor,
            DrawerEvent::Refunded {
                tender,
                amount_minor,
                ..
            } => self.refunded[tender_index(*tender)] += amount_minor,
            DrawerEvent::PaidIn { amount_minor, .. } => self.paid_in_minor += amount_minor,
            DrawerEvent::PaidOut { amount_minor, .. } => self.paid_out_minor += amount_minor,
            DrawerEvent::Dropped { amount_minor, .. } => self.dropped_minor += amount_minor,
            DrawerEvent::NoSale { .. } => self.no_sales += 1,
            DrawerEvent::Counted { counts, .. } => {
                self.counts = Some(counts.clone());
                self.state = DrawerState::Counted;
            }
            DrawerEvent::Closed { z_number, at_ms } => {
                self.z_number = Some(*z_number);
                self.closed_at_ms = Some(*at_ms);
                self.state = DrawerState::Closed;
            }
        }
        self.events += 1;
        Ok(())
    }

    /// Counted − expected for `tender`, once counted (a tender not counted counts as 0).
    pub fn variance_minor(&self, tender: Tender) -> Option<i64> {
        let counts = self.counts.as_ref()?;
        let counted = counts
            .iter()
            .find(|c| c.tender == tender)
            .map_or(0, |c| c.counted_minor);
        Some(counted - self.expected_minor(tender))
    }

    /// The largest absolute variance over all tenders, if it exceeds `threshold_minor` (the
    /// tenant's cash-exception threshold).
    pub fn exception(&self, threshold_minor: i64) -> Option<(Tender, i64)> {
        ALL_TENDERS
            .iter()
            .filter_map(|tender| self.variance_minor(*tender).map(|v| (*tender, v)))
            .filter(|(_, variance)| variance.abs() > threshold_minor)
            .max_by_key(|(_, variance)| variance.abs())
    }

    /// The report as of now: an X report while open, the Z report once closed.
    pub fn report(&self) -> DrawerReport {
        let per_tender = |values: &[i64; TENDERS]| -> Vec<(Tender, i64)> {
            ALL_TENDERS
                .iter()
                .map(|tender| (*tender, values[tender_index(*tender)]))
                .filter(|(_, amount)| *amount != 0)
                .collect()
        };
        DrawerReport {
            float_minor: self.float_minor,
            taken: per_tender(&self.taken),
            refunded: per_tender(&self.refunded),
            paid_in_minor: self.paid_in_minor,
            paid_out_minor: self.paid_out_minor,
            dropped_minor: self.dropped_minor,
            no_sales: self.no_sales,
            expected: ALL_TENDERS
                .iter()
                .map(|tender| (*tender, self.expected_minor(*tender)))
                .filter(|(tender, amount)| *tender == Tender::Cash || *amount != 0)
                .collect(),
            counted: self
                .counts
                .iter()
                .flatten()
                .map(|count| {
                    (
                        count.tender,
                        count.counted_minor,
                        count.counted_minor - self.expected_minor(count.tender),
                    )
                })
                .collect(),
            z_number: self.z_number,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn opened(float_minor: i64) -> DrawerSession {
        let event = DrawerSession::open(
            DrawerSessionId(Uuid::from_u128(7)),
            "till-1",
            "amina",
            float_minor,
            0,
        )
        .expect("open");
        DrawerSession::from_opened(&event).expect("opened")
    }

    fn act(
        drawer: &mut DrawerSession,
        decide: impl FnOnce(&DrawerSession) -> Result<DrawerEvent, DrawerError>,
    ) -> Result<(), DrawerError> {
        let event = decide(drawer)?;
        drawer.apply(&event)
    }

    #[test]
    fn a_session_stored_before_loyalty_tenders_existed_still_reads() {
        let mut drawer = opened(500_000);
        act(&mut drawer, |d| d.take(Tender::GiftCard, 30_000, 1)).expect("gift card");
        let mut stored = serde_json::to_value(&drawer).expect("json");
        // As written when there were four tenders.
        stored["taken"] = serde_json::json!([0, 0, 0, 30_000]);
        stored["refunded"] = serde_json::json!([0, 0, 0, 0]);
        let read: DrawerSession = serde_json::from_value(stored.clone()).expect("old session");
        assert_eq!(read, drawer);
        stored["taken"] = serde_json::json!([0, 0, 0, 0, 0, 0, 0]);
        assert!(serde_json::from_value::<DrawerSession>(stored).is_err());
    }

    #[test]
    fn a_shift_with_every_movement_reconciles_by_tender() {
        let mut drawer = opened(500_000);
        act(&mut drawer, |d| d.take(Tender::Cash, 250_000, 1)).expect("sale");
        act(&mut drawer, |d| d.take(Tender::Card, 180_000, 2)).expect("card");
        act(&mut drawer, |d| d.take(Tender::Mpesa, 90_000, 3)).expect("mpesa");
        act(&mut drawer, |d| d.refund(Tender::Cash, 30_000, 4)).expect("refund");
        act(&mut drawer, |d| d.pay_in(20_000, "change from the bank", 5)).expect("pay in");
        act(&mut drawer, |d| d.pay_out(15_000, "milk delivery", 6)).expect("pay out");
        act(&mut drawer, |d| d.drop_to_safe(400_000, 7)).expect("drop");
        act(&mut drawer, |d| d.no_sale("customer needed change", 8)).expect("no sale");
        assert_eq!(
            drawer.expected_minor(Tender::Cash),
            500_000 + 250_000 - 30_000 + 20_000 - 15_000 - 400_000
        );
        let x = drawer.report();
        assert_eq!(x.no_sales, 1);
        assert!(x.counted.is_empty() && x.z_number.is_none());
        assert_eq!(drawer.close(1, 9), Err(DrawerError::NotCounted));
        act(&mut drawer, |d| {
            d.count(
                vec![
                    TenderCount {
                        tender: Tender::Cash,
                        counted_minor: 324_000,
                    },
                    TenderCount {
                        tender: Tender::Card,
                        counted_minor: 180_000,
                    },
                ],
                9,
            )
        })
        .expect("count");
        assert_eq!(drawer.variance_minor(Tender::Cash), Some(-1_000));
        assert_eq!(drawer.variance_minor(Tender::Card), Some(0));
        assert_eq!(
            drawer.variance_minor(Tender::Mpesa),
            Some(-90_000),
            "an uncounted tender counts as nothing"
        );
        assert_eq!(drawer.exception(5_000), Some((Tender::Mpesa, -90_000)));
        act(&mut drawer, |d| d.close(42, 10)).expect("close");
        let z = drawer.report();
        assert_eq!(z.z_number, Some(42));
        assert!(
            drawer.take(Tender::Cash, 1, 11).is_err(),
            "a closed drawer takes nothing"
        );
    }

    #[test]
    fn cash_cannot_leave_a_drawer_that_does_not_hold_it() {
        let mut drawer = opened(10_000);
        assert_eq!(
            drawer.pay_out(10_001, "too much", 1),
            Err(DrawerError::NotEnoughCash {
                available_minor: 10_000,
                requested_minor: 10_001
            })
        );
        act(&mut drawer, |d| d.drop_to_safe(10_000, 2)).expect("drop all");
        assert!(matches!(
            drawer.refund(Tender::Cash, 1, 3),
            Err(DrawerError::NotEnoughCash { .. })
        ));
        assert!(
            drawer.refund(Tender::Card, 1, 3).is_ok(),
            "card refunds do not need cash"
        );
        assert_eq!(drawer.pay_in(5, " ", 4), Err(DrawerError::ReasonRequired));
        assert_eq!(drawer.take(Tender::Cash, 0, 4), Err(DrawerError::BadAmount));
    }

    #[test]
    fn a_forged_event_is_refused_on_apply() {
        let mut drawer = opened(0);
        let forged = DrawerEvent::PaidOut {
            amount_minor: 5_000,
            reason: "x".into(),
            at_ms: 1,
        };
        assert!(drawer.apply(&forged).is_err(), "no cash to pay out");
        assert_eq!(drawer.expected_minor(Tender::Cash), 0);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Sale(i64),
        Refund(i64),
        PayIn(i64),
        PayOut(i64),
        Drop(i64),
        NoSale,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1_i64..500_000).prop_map(Step::Sale),
            (1_i64..200_000).prop_map(Step::Refund),
            (1_i64..100_000).prop_map(Step::PayIn),
            (1_i64..100_000).prop_map(Step::PayOut),
            (1_i64..400_000).prop_map(Step::Drop),
            Just(Step::NoSale),
        ]
    }

    proptest! {
        #[test]
        fn expected_cash_is_float_plus_sales_minus_refunds_plus_pay_ins_minus_pay_outs_minus_drops(
            float_minor in 0_i64..1_000_000,
            steps in prop::collection::vec(step(), 0..200),
            counted in 0_i64..5_000_000,
        ) {
            let mut drawer = opened(float_minor);
            let (mut sales, mut refunds, mut pay_ins, mut pay_outs, mut drops) = (0, 0, 0, 0, 0);
            for (at, step) in steps.into_iter().enumerate() {
                let at = at as i64;
                let decided = match &step {
                    Step::Sale(a) => drawer.take(Tender::Cash, *a, at),
                    Step::Refund(a) => drawer.refund(Tender::Cash, *a, at),
                    Step::PayIn(a) => drawer.pay_in(*a, "float top-up", at),
                    Step::PayOut(a) => drawer.pay_out(*a, "supplier", at),
                    Step::Drop(a) => drawer.drop_to_safe(*a, at),
                    Step::NoSale => drawer.no_sale("check", at),
                };
                if let Ok(event) = decided {
                    drawer.apply(&event).expect("a decided event applies");
                    match step {
                        Step::Sale(a) => sales += a,
                        Step::Refund(a) => refunds += a,
                        Step::PayIn(a) => pay_ins += a,
                        Step::PayOut(a) => pay_outs += a,
                        Step::Drop(a) => drops += a,
                        Step::NoSale => {}
                    }
                }
                prop_assert!(drawer.expected_minor(Tender::Cash) >= 0, "the drawer never owes cash");
            }
            prop_assert_eq!(drawer.expected_minor(Tender::Cash), float_minor + sales - refunds + pay_ins - pay_outs - drops);
            let count = drawer.count(vec![TenderCount { tender: Tender::Cash, counted_minor: counted }], 10_000).expect("count");
            drawer.apply(&count).expect("apply count");
            prop_assert_eq!(drawer.variance_minor(Tender::Cash), Some(counted - drawer.expected_minor(Tender::Cash)));
        }
    }
}
