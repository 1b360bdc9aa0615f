//! Printing use cases: register printers, print and reprint receipts, open the drawer
//! (no-sale), and the receipt template.
//!
//! Jobs are queued in SQLite with their ESC/POS bytes and sent by
//! [`crate::printers::queue::PrintQueue`]. A reprint of a paid receipt and a drawer no-sale
//! are high-risk: they need the permission or an override, and their audit entry commits with
//! the job.

use super::staff::{AccessError, Caller, OverrideRequest, clear_high_risk};
use crate::printers::RAW_PRINT_PORT;
use crate::printers::escpos::{EscPos, LINE_WIDTH_CHARS};
use crate::printers::queue::PrintQueue;
use crate::store::{NewPrintJob, PrintJob, Printer, PrinterRole, Store, StoreError};
use serde::{Deserialize, Serialize};
use shared_model::staff::{Action, AuditReason};
use shared_model::{Order, OrderId, OrderState};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

/// Most lines in each part of the receipt template. Why 10: a header or footer longer than
/// that wastes paper on every sale.
pub const TEMPLATE_LINES_MAX: usize = 10;
/// Most print jobs one listing returns. Why: a status page shows the recent queue only.
pub const PRINT_JOBS_LIST_MAX: usize = 100;
/// Most printers. Why: an outlet has a receipt printer per till and one per station.
pub const PRINTERS_MAX: usize = 32;
const TEMPLATE_SETTING: &str = "receipt_template";

#[derive(Debug, Error)]
pub enum PrintError {
    #[error("{message}")]
    BadField {
        field: &'static str,
        message: String,
    },
    #[error("order not found")]
    OrderNotFound,
    #[error("no receipt printer is configured")]
    NoReceiptPrinter,
    #[error("at most {PRINTERS_MAX} printers")]
    TooManyPrinters,
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a receipt says besides the sale: header, footer and the fiscal block (e.g. a tax
/// authority's control unit number and QR text, filled in once fiscalisation is integrated).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptTemplate {
    pub header_lines: Vec<String>,
    pub footer_lines: Vec<String>,
    pub fiscal_lines: Vec<String>,
}

impl ReceiptTemplate {
    pub fn parse(template: ReceiptTemplate) -> Result<ReceiptTemplate, PrintError> {
        for (field, lines) in [
            ("header_lines", &template.header_lines),
            ("footer_lines", &template.footer_lines),
            ("fiscal_lines", &template.fiscal_lines),
        ] {
            let too_long = lines.iter().any(|line| {
                line.chars().count() > LINE_WIDTH_CHARS || line.chars().any(char::is_control)
            });
            if lines.len() > TEMPLATE_LINES_MAX || too_long {
                return Err(PrintError::BadField {
                    field,
                    message: format!(
                        "at most {TEMPLATE_LINES_MAX} lines of at most {LINE_WIDTH_CHARS} printable characters"
                    ),
                });
            }
        }
        Ok(template)
    }
}

/// The ESC/POS bytes of a receipt: template header, the sale with its tax breakdown, the fiscal
/// block (or blank space for it) and the footer.
pub fn render_receipt(
    order: &Order,
    outlet_name: &str,
    template: &ReceiptTemplate,
    reprint: bool,
) -> Vec<u8> {
    let mut page = EscPos::new();
    page.align_center().bold(true).line(outlet_name).bold(false);
    for line in &template.header_lines {
        page.line(line);
    }
    if reprint {
        page.bold(true).line("*** REPRINT ***").bold(false);
    }
    page.align_left();
    // The sale, its totals and the per-rate tax breakdown, as the LAN API renders them.
    for line in super::receipts::render(order, outlet_name).lines().skip(1) {
        page.line(line);
    }
    page.rule();
    if template.fiscal_lines.is_empty() {
        // Space kept for fiscal fields written by hand or stamped until fiscalisation is on.
        page.line("Fiscal no.:").line("").line("");
    } else {
        for line in &template.fiscal_lines {
            page.line(line);
        }
    }
    page.align_center();
    for line in &template.footer_lines {
        page.line(line);
    }
    page.feed(3).cut();
    page.into_bytes()
}

/// A printer address: an IP with an optional port (default 9100). Why IPs only: DNS on a shop
/// LAN is the router's, and a printer found by name today is gone after its next reboot.
pub fn parse_printer_addr(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, RAW_PRINT_PORT))
    })
}

pub struct PrintService {
    store: Arc<Store>,
    queue: Arc<PrintQueue>,
    outlet_name: Arc<str>,
}

impl PrintService {
    pub fn new(store: Arc<Store>, queue: Arc<PrintQueue>, outlet_name: Arc<str>) -> PrintService {
        PrintService {
            store,
            queue,
            outlet_name,
        }
    }

    pub fn queue(&self) -> &Arc<PrintQueue> {
        &self.queue
    }

    pub async fn add_printer(
        &self,
        caller: &Caller,
        name: String,
        addr: String,
        role: String,
        station: Option<String>,
        now_ms: i64,
    ) -> Result<Printer, PrintError> {
        caller.require(Action::ManagePrinters)?;
        let bad = |field, message: &str| PrintError::BadField {
            field,
            message: message.to_owned(),
        };
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(bad("name", "a printer name is 1 to 64 characters"));
        }
        let addr = parse_printer_addr(addr.trim()).ok_or_else(|| {
            bad(
                "addr",
                "an IP address, optionally with :port (default 9100)",
            )
        })?;
        let role = PrinterRole::parse(&role)
            .ok_or_else(|| bad("role", "a printer's role is `receipt` or `kitchen`"))?;
        let station = match (role, station) {
            (PrinterRole::Kitchen, Some(station)) => Some(
                super::kitchen::parse_station(&station)
                    .ok_or_else(|| bad("station", "a station is a-z, 0-9, '-' and '_'"))?,
            ),
            (PrinterRole::Kitchen, None) => {
                return Err(bad(
                    "station",
                    "a kitchen printer prints one station's tickets",
                ));
            }
            (PrinterRole::Receipt, _) => None,
        };
        let printer = Printer {
            id: Uuid::now_v7(),
            name,
            addr: addr.to_string(),
            role,
            station,
        };
        let store = self.store.clone();
        let stored = printer.clone();
        super::blocking(move || {
            if store.printers()?.len() >= PRINTERS_MAX {
                return Ok(false);
            }
            store.insert_printer(&stored, now_ms)?;
            Ok(true)
        })
        .await?
        .then_some(printer)
        .ok_or(PrintError::TooManyPrinters)
    }

    pub async fn printers(&self) -> Result<Vec<Printer>, PrintError> {
        let store = self.store.clone();
        Ok(super::blocking(move || store.printers()).await?)
    }

    pub async fn jobs(&self) -> Result<Vec<PrintJob>, PrintError> {
        let store = self.store.clone();
        Ok(super::blocking(move || store.recent_print_jobs(PRINT_JOBS_LIST_MAX)).await?)
    }

    pub async fn template(&self) -> Result<ReceiptTemplate, PrintError> {
        let store = self.store.clone();
        Ok(super::blocking(move || load_template(&store)).await?)
    }

    pub async fn put_template(
        &self,
        caller: &Caller,
        template: ReceiptTemplate,
    ) -> Result<ReceiptTemplate, PrintError> {
        caller.require(Action::ManagePrinters)?;
        let template = ReceiptTemplate::parse(template)?;
        let json = serde_json::to_string(&template)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let store = self.store.clone();
        super::blocking(move || store.put_setting(TEMPLATE_SETTING, &json)).await?;
        Ok(template)
    }

    /// Prints the order's receipt on the first receipt printer. Printing a paid order's receipt
    /// again is a reprint: it needs the permission or an override, and a reason; it is audited.
    /// Returns whether this was a reprint.
    pub async fn print_receipt(
        &self,
        caller: Caller,
        order_id: OrderId,
        reason: Option<String>,
        approval: Option<OverrideRequest>,
        now_ms: i64,
    ) -> Result<bool, PrintError> {
        let store = self.store.clone();
        let outlet_name = self.outlet_name.clone();
        let reprint = super::blocking_with(move || {
            let order = store.order(order_id)?.ok_or(PrintError::OrderNotFound)?;
            let printer = receipt_printer(&store)?;
            let subject = format!("order:{order_id}");
            let paid = matches!(order.state, OrderState::Paid | OrderState::Closed);
            let reprint = paid && store.receipt_printed(&subject)?;
            let audit = if reprint {
                let reason = parse_reason(reason.as_deref())?;
                let clearance = clear_high_risk(
                    &store,
                    &caller,
                    approval.as_ref(),
                    Action::ReprintPaidReceipt,
                    now_ms,
                )?;
                Some(clearance.audit(subject.clone(), &reason, now_ms))
            } else {
                None
            };
            let template = load_template(&store)?;
            let job = NewPrintJob {
                printer_id: printer.id,
                kind: if reprint {
                    "receipt_reprint"
                } else {
                    "receipt"
                }
                .into(),
                subject,
                payload: render_receipt(&order, &outlet_name, &template, reprint),
            };
            store.enqueue_print_jobs(&[job], audit.as_ref(), now_ms)?;
            Ok::<_, PrintError>(reprint)
        })
        .await?;
        self.queue.wake();
        Ok(reprint)
    }

    /// Opens the cash drawer without a sale: always high-risk, always audited.
    pub async fn drawer_no_sale(
        &self,
        caller: Caller,
        reason: String,
        approval: Option<OverrideRequest>,
        now_ms: i64,
    ) -> Result<(), PrintError> {
        let store = self.store.clone();
        super::blocking_with(move || {
            let reason = parse_reason(Some(&reason))?;
            let printer = receipt_printer(&store)?;
            let clearance = clear_high_risk(
                &store,
                &caller,
                approval.as_ref(),
                Action::DrawerNoSale,
                now_ms,
            )?;
            let mut page = EscPos::new();
            page.drawer_kick();
            let job = NewPrintJob {
                printer_id: printer.id,
                kind: "drawer_kick".into(),
                subject: "drawer".into(),
                payload: page.into_bytes(),
            };
            let audit = clearance.audit("drawer".into(), &reason, now_ms);
            store.enqueue_print_jobs(&[job], Some(&audit), now_ms)?;
            Ok::<_, PrintError>(())
        })
        .await?;
        self.queue.wake();
        Ok(())
    }
}

fn parse_reason(reason: Option<&str>) -> Result<AuditReason, PrintError> {
    AuditReason::parse(reason.unwrap_or_default()).map_err(|error| PrintError::BadField {
        field: "reason",
        message: error.to_string(),
    })
}

fn receipt_printer(store: &Store) -> Result<Printer, PrintError> {
    store
        .printers()?
        .into_iter()
        .find(|printer| printer.role == PrinterRole::Receipt)
        .ok_or(PrintError::NoReceiptPrinter)
}

fn load_template(store: &Store) -> Result<ReceiptTemplate, StoreError> {
    match store.setting(TEMPLATE_SETTING)? {
        Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(ReceiptTemplate::default()),
    }
}
