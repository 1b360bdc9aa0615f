//! Staff roles, what each role may do, and which actions are high-risk.
//!
//! Pure rules: the edge asks [`authorize`] before a staff member acts, and the hub can ask the
//! same question of the audit trail afterwards. A high-risk action is allowed when the acting
//! staff member's role permits it, or when a second staff member whose role permits it approves
//! it in the same request (a supervisor's override PIN); the approval is part of the decision so
//! it can be written to the audit trail.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Shortest PIN. Why 4: the common till keypad convention; shorter PINs are guessed in minutes.
pub const PIN_DIGITS_MIN: usize = 4;
/// Longest PIN. Why 8: longer PINs are not typed on a till under pressure; argon2 makes the
/// four-to-eight digit space slow enough to search offline, and attempts are limited online.
pub const PIN_DIGITS_MAX: usize = 8;
/// Longest staff name. Why: it is printed on receipts and shown on KDS headers.
pub const STAFF_NAME_CHARS_MAX: usize = 64;
/// Longest reason recorded with a high-risk action. Why: a sentence, not an essay; bounds the
/// audit op.
pub const AUDIT_REASON_CHARS_MAX: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Cashier,
    Bartender,
    Server,
    Kitchen,
    Supervisor,
    Manager,
    InventoryClerk,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Cashier,
        Role::Bartender,
        Role::Server,
        Role::Kitchen,
        Role::Supervisor,
        Role::Manager,
        Role::InventoryClerk,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Bartender => "bartender",
            Role::Server => "server",
            Role::Kitchen => "kitchen",
            Role::Supervisor => "supervisor",
            Role::Manager => "manager",
            Role::InventoryClerk => "inventory_clerk",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Whether this role may perform `action` on its own.
    pub fn permits(&self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Manager => true,
            Role::Supervisor => !matches!(action, ManageDevices | ManageStaff | ManagePrinters),
            Role::Cashier => matches!(
                action,
                TakeOrders | TakePayments | SendToKitchen | SellAgeRestricted
            ),
            Role::Bartender => matches!(
                action,
                TakeOrders | TakePayments | SendToKitchen | WorkKitchenDisplay | SellAgeRestricted
            ),
            Role::Server => matches!(
                action,
                TakeOrders | TakePayments | SendToKitchen | SellAgeRestricted
            ),
            Role::Kitchen => matches!(action, WorkKitchenDisplay),
            Role::InventoryClerk => matches!(action, ManageInventory),
        }
    }
}

/// Everything a staff member can be allowed or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    TakeOrders,
    TakePayments,
    SendToKitchen,
    /// Bump, recall, remake, pause and prioritise kitchen tickets.
    WorkKitchenDisplay,
    ManageInventory,
    ManageDevices,
    ManageStaff,
    ManagePrinters,
    /// Lay out areas and tables.
    ManageFloorPlan,
    /// End another staff member's session.
    ForceLogout,
    /// Read the outlet's sales reports (the X report of the day, earlier Z reports).
    ViewSalesReports,
    /// Close the business day with its numbered Z report.
    CloseDay,
    // ---- high-risk: need the permission or an override in the same request ----
    VoidAfterSend,
    Refund,
    PriceOverride,
    DiscountAboveThreshold,
    DrawerNoSale,
    ReprintPaidReceipt,
    // ---- audited, not high-risk: any role that takes orders, always on the trail ----
    /// Sell an age-restricted item after checking the customer's age.
    SellAgeRestricted,
}

impl Action {
    /// The actions that need a permitted role or a supervisor's override, and always leave an
    /// audit entry.
    pub const HIGH_RISK: [Action; 6] = [
        Action::VoidAfterSend,
        Action::Refund,
        Action::PriceOverride,
        Action::DiscountAboveThreshold,
        Action::DrawerNoSale,
        Action::ReprintPaidReceipt,
    ];

    /// Every action that leaves an audit-trail entry: the high-risk ones, and the checks a
    /// cashier answers for (an age check).
    pub const AUDITED: [Action; 7] = [
        Action::VoidAfterSend,
        Action::Refund,
        Action::PriceOverride,
        Action::DiscountAboveThreshold,
        Action::DrawerNoSale,
        Action::ReprintPaidReceipt,
        Action::SellAgeRestricted,
    ];

    pub fn is_high_risk(&self) -> bool {
        Action::HIGH_RISK.contains(self)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Action::TakeOrders => "take_orders",
            Action::TakePayments => "take_payments",
            Action::SendToKitchen => "send_to_kitchen",
            Action::WorkKitchenDisplay => "work_kitchen_display",
            Action::ManageInventory => "manage_inventory",
            Action::ManageDevices => "manage_devices",
            Action::ManageStaff => "manage_staff",
            Action::ManagePrinters => "manage_printers",
            Action::ManageFloorPlan => "manage_floor_plan",
            Action::ForceLogout => "force_logout",
            Action::ViewSalesReports => "view_sales_reports",
            Action::CloseDay => "close_day",
            Action::VoidAfterSend => "void_after_send",
            Action::Refund => "refund",
            Action::PriceOverride => "price_override",
            Action::DiscountAboveThreshold => "discount_above_threshold",
            Action::DrawerNoSale => "drawer_no_sale",
            Action::ReprintPaidReceipt => "reprint_paid_receipt",
            Action::SellAgeRestricted => "sell_age_restricted",
        }
    }
}

/// Who is acting: a signed-in staff member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor<Id> {
    pub id: Id,
    pub role: Role,
}

/// How an allowed action was allowed; the audit trail records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval<Id> {
    /// The actor's own role permits it.
    OwnRole,
    /// Another staff member, whose role permits it, approved it with their PIN.
    Override { approver: Id },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum AuthorizeError {
    #[error("a signed-in staff member is required for {0}")]
    NotSignedIn(&'static str),
    #[error("the {role} role may not {action}; a supervisor's override is required")]
    NeedsOverride {
        role: &'static str,
        action: &'static str,
    },
    #[error("the approving {role} may not {action} either")]
    ApproverNotPermitted {
        role: &'static str,
        action: &'static str,
    },
    #[error("staff members cannot approve their own actions")]
    SelfApproval,
}

/// Decides whether `actor` may perform `action`, optionally approved by `approver` (whose PIN
/// the caller has already verified).
///
/// Overrides are considered only for high-risk actions: an override is the documented escape
/// hatch for those, not a way around ordinary role boundaries.
pub fn authorize<Id: Copy + PartialEq>(
    actor: Option<Actor<Id>>,
    approver: Option<Actor<Id>>,
    action: Action,
) -> Result<Approval<Id>, AuthorizeError> {
    let action_name = action.as_str();
    if let Some(actor) = actor
        && actor.role.permits(action)
    {
        return Ok(Approval::OwnRole);
    }
    match (actor, approver) {
        (_, Some(approver)) if action.is_high_risk() => {
            if actor.is_some_and(|actor| actor.id == approver.id) {
                return Err(AuthorizeError::SelfApproval);
            }
            if approver.role.permits(action) {
                Ok(Approval::Override {
                    approver: approver.id,
                })
            } else {
                Err(AuthorizeError::ApproverNotPermitted {
                    role: approver.role.as_str(),
                    action: action_name,
                })
            }
        }
        (None, _) => Err(AuthorizeError::NotSignedIn(action_name)),
        (Some(actor), _) => Err(AuthorizeError::NeedsOverride {
            role: actor.role.as_str(),
            action: action_name,
        }),
    }
}

/// A PIN that has the right shape: digits only, [`PIN_DIGITS_MIN`]..=[`PIN_DIGITS_MAX`] long.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("a PIN is {PIN_DIGITS_MIN} to {PIN_DIGITS_MAX} digits")]
pub struct BadPin;

impl Pin {
    pub fn parse(text: &str) -> Result<Pin, BadPin> {
        let length_ok = (PIN_DIGITS_MIN..=PIN_DIGITS_MAX).contains(&text.len());
        if length_ok && text.bytes().all(|byte| byte.is_ascii_digit()) {
            Ok(Pin(text.to_owned()))
        } else {
            Err(BadPin)
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A PIN never reaches a log line.
        f.write_str("Pin(****)")
    }
}

/// A staff member's display name: trimmed, 1..=[`STAFF_NAME_CHARS_MAX`] characters, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffName(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("a staff name is 1 to {STAFF_NAME_CHARS_MAX} printable characters")]
pub struct BadStaffName;

impl StaffName {
    pub fn parse(text: &str) -> Result<StaffName, BadStaffName> {
        let text = text.trim();
        let count = text.chars().count();
        if count == 0 || count > STAFF_NAME_CHARS_MAX || text.chars().any(char::is_control) {
            return Err(BadStaffName);
        }
        Ok(StaffName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a high-risk action was taken: trimmed, 1..=[`AUDIT_REASON_CHARS_MAX`] characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReason(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("a reason of 1 to {AUDIT_REASON_CHARS_MAX} characters is required")]
pub struct BadAuditReason;

impl AuditReason {
    pub fn parse(text: &str) -> Result<AuditReason, BadAuditReason> {
        let text = text.trim();
        let count = text.chars().count();
        if count == 0 || count > AUDIT_REASON_CHARS_MAX || text.chars().any(char::is_control) {
            return Err(BadAuditReason);
        }
        Ok(AuditReason(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a session last seen at `last_seen_ms` has been idle too long at `now_ms`.
pub fn session_is_idle(last_seen_ms: i64, now_ms: i64, idle_timeout_ms: i64) -> bool {
    now_ms.saturating_sub(last_seen_ms) > idle_timeout_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: u8, role: Role) -> Option<Actor<u8>> {
        Some(Actor { id, role })
    }

    #[test]
    fn only_supervisors_and_managers_may_take_high_risk_actions_on_their_own() {
        for action in Action::HIGH_RISK {
            for role in Role::ALL {
                let expected = matches!(role, Role::Supervisor | Role::Manager);
                assert_eq!(role.permits(action), expected, "{role:?} {action:?}");
            }
        }
    }

    #[test]
    fn a_cashier_needs_a_supervisor_override_for_every_high_risk_action() {
        for action in Action::HIGH_RISK {
            assert_eq!(
                authorize(actor(1, Role::Cashier), None, action),
                Err(AuthorizeError::NeedsOverride {
                    role: "cashier",
                    action: action.as_str()
                })
            );
            assert_eq!(
                authorize(actor(1, Role::Cashier), actor(2, Role::Supervisor), action),
                Ok(Approval::Override { approver: 2 })
            );
            assert!(matches!(
                authorize(actor(1, Role::Cashier), actor(3, Role::Server), action),
                Err(AuthorizeError::ApproverNotPermitted { .. })
            ));
        }
    }

    #[test]
    fn an_override_never_widens_an_ordinary_role_boundary() {
        assert!(matches!(
            authorize(
                actor(1, Role::Kitchen),
                actor(2, Role::Manager),
                Action::ManageDevices
            ),
            Err(AuthorizeError::NeedsOverride { .. })
        ));
    }

    #[test]
    fn a_supervisor_cannot_approve_their_own_request() {
        assert_eq!(
            authorize(
                actor(1, Role::Server),
                actor(1, Role::Server),
                Action::Refund
            ),
            Err(AuthorizeError::SelfApproval)
        );
    }

    #[test]
    fn an_override_without_a_signed_in_actor_is_still_an_approval() {
        assert_eq!(
            authorize(None, actor(2, Role::Manager), Action::DrawerNoSale),
            Ok(Approval::Override { approver: 2 })
        );
        assert_eq!(
            authorize::<u8>(None, None, Action::DrawerNoSale),
            Err(AuthorizeError::NotSignedIn("drawer_no_sale"))
        );
    }

    #[test]
    fn pins_are_four_to_eight_digits() {
        assert!(Pin::parse("1234").is_ok());
        assert!(Pin::parse("12345678").is_ok());
        for bad in ["123", "123456789", "12a4", "", " 1234"] {
            assert_eq!(Pin::parse(bad), Err(BadPin), "{bad:?}");
        }
        assert_eq!(
            format!("{:?}", Pin::parse("9876").map_err(|_| ())),
            "Ok(Pin(****))"
        );
    }

    #[test]
    fn every_role_name_parses_back_to_its_role() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("owner"), None);
    }

    #[test]
    fn a_session_is_idle_only_after_the_timeout_has_passed() {
        assert!(!session_is_idle(1_000, 1_500, 500));
        assert!(session_is_idle(1_000, 1_501, 500));
    }
}
