//! Kitchen: routing rules, sending orders to stations as tickets, KDS actions, expo view and
//! all-day counts.
//!
//! Routing is a pure function of the order's unsent lines, the rules and the catalog
//! categories: an item rule beats a category rule; a line may go to several stations when
//! several rules of the winning kind match; a line no rule matches goes to
//! [`DEFAULT_STATION`]. Each station gets one ticket per send (per-station ticket splitting).

use super::staff::{AccessError, Caller};
use super::stream::EventBus;
use crate::printers::escpos::EscPos;
use crate::store::{
    KitchenOutcome, KitchenRoute, NewPrintJob, PlannedTicket, PrinterRole, RouteMatch, SendContext,
    SendOrPlanError, SendRefusal, Store, StoreError, Ticket, TicketAction, TicketActionRefusal,
    TicketLine, TicketState,
};
use shared_model::OrderId;
use shared_model::staff::{Action, AuthorizeError};
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

/// Where a line goes when no rule matches it. Why expo: the expediter sees every ticket anyway,
/// so an unrouted item is noticed instead of silently never cooked.
pub const DEFAULT_STATION: &str = "expo";
/// Longest station name. Why: it is a label on a KDS header and a ticket.
pub const STATION_CHARS_MAX: usize = 32;
/// Most routing rules. Why: a large menu routes by category with a few item exceptions;
/// thousands of rules means the catalog should carry a category instead.
pub const KITCHEN_ROUTES_MAX: usize = 500;
/// Highest active-ticket limit a station can be given. Why 999: beyond that no kitchen is
/// throttled at all, and the number is a typo.
pub const STATION_ACTIVE_TICKETS_LIMIT_MAX: u64 = 999;
/// Most tickets one listing returns. Why: a KDS screen shows a few dozen; the bound keeps the
/// answer small even on a jammed night.
pub const TICKETS_LIST_MAX: usize = 500;

#[derive(Debug, Error)]
pub enum KitchenError {
    #[error("order not found")]
    OrderNotFound,
    #[error("the order is {0} and cannot be sent to the kitchen")]
    OrderNotOpen(&'static str),
    #[error("every line of this order is already in the kitchen")]
    NothingToSend,
    #[error("the {0} station is at its limit of open tickets; try again in a moment")]
    StationBusy(String),
    #[error("ticket not found")]
    TicketNotFound,
    #[error("the ticket is {0}; that action does not apply")]
    WrongTicketState(&'static str),
    #[error("{message}")]
    BadField {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A station name: lowercase letters, digits, `-` and `_`.
pub fn parse_station(text: &str) -> Option<String> {
    let valid = !text.is_empty()
        && text.len() <= STATION_CHARS_MAX
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    valid.then(|| text.to_owned())
}

/// Splits lines into one ticket per station.
pub fn plan_tickets(context: &SendContext<'_>) -> Vec<PlannedTicket> {
    let mut by_station: BTreeMap<String, Vec<TicketLine>> = BTreeMap::new();
    for line in &context.unsent_lines {
        let category = context.categories.get(&line.item_id.0);
        let matching = |kind: RouteMatch, value: Option<&String>| -> Vec<&str> {
            context
                .routes
                .iter()
                .filter(|route| route.match_kind == kind && Some(&route.match_value) == value)
                .map(|route| route.station.as_str())
                .collect()
        };
        let mut stations = matching(RouteMatch::Item, Some(&line.item_id.0));
        if stations.is_empty() {
            stations = matching(RouteMatch::Category, category);
        }
        if stations.is_empty() {
            stations.push(DEFAULT_STATION);
        }
        for station in stations {
            by_station
                .entry(station.to_owned())
                .or_default()
                .push(TicketLine {
                    line_id: line.id.0,
                    item_id: line.item_id.0.clone(),
                    name: line.name.clone(),
                    quantity: line.quantity,
                    voided: false,
                    modifiers: line
                        .modifiers
                        .iter()
                        .map(|chosen| {
                            format!("{}{}", "  ".repeat(usize::from(chosen.depth)), chosen.name)
                        })
                        .collect(),
                });
        }
    }
    by_station
        .into_iter()
        .map(|(station, lines)| PlannedTicket { station, lines })
        .collect()
}

/// The ESC/POS bytes of a kitchen ticket.
pub fn render_ticket(
    order_number: u64,
    station: &str,
    lines: &[TicketLine],
    remake: bool,
) -> Vec<u8> {
    let mut page = EscPos::new();
    page.align_center()
        .bold(true)
        .double_size(true)
        .line(&format!("#{order_number}"))
        .double_size(false)
        .line(&station.to_uppercase());
    if remake {
        page.line("*** REMAKE ***");
    }
    page.bold(false).align_left().rule();
    for line in lines {
        page.line(&format!("{} x {}", line.quantity, line.name));
        for modifier in &line.modifiers {
            page.line(&format!("    {modifier}"));
        }
    }
    page.feed(3).cut();
    page.into_bytes()
}

/// The chit a station prints when a line it already has is voided: make it no more (or bin it).
pub fn render_void_chit(
    order_number: u64,
    station: &str,
    line: &TicketLine,
    reason: &str,
) -> Vec<u8> {
    let mut page = EscPos::new();
    page.align_center()
        .bold(true)
        .double_size(true)
        .line(&format!("#{order_number}"))
        .double_size(false)
        .line(&station.to_uppercase())
        .line("*** VOID ***")
        .bold(false)
        .align_left()
        .rule()
        .line(&format!("{} x {}", line.quantity, line.name));
    for modifier in &line.modifiers {
        page.line(&format!("    {modifier}"));
    }
    page.rule().line(&format!("Reason: {reason}")).feed(3).cut();
    page.into_bytes()
}

/// VOID chits for `line_id` on `ticket`, one per printer of the ticket's station.
pub fn void_chit_jobs(
    printers: &[crate::store::Printer],
    ticket: &crate::store::Ticket,
    line_id: Uuid,
    reason: &str,
) -> Vec<NewPrintJob> {
    let Some(line) = ticket.lines.iter().find(|line| line.line_id == line_id) else {
        return Vec::new();
    };
    printers
        .iter()
        .filter(|printer| {
            printer.role == PrinterRole::Kitchen
                && printer.station.as_deref() == Some(ticket.station.as_str())
        })
        .map(|printer| NewPrintJob {
            printer_id: printer.id,
            kind: "kitchen_void".into(),
            subject: format!("order:{}/line:{line_id}", ticket.order_id),
            payload: render_void_chit(ticket.order_number, &ticket.station, line, reason),
        })
        .collect()
}

fn ticket_jobs(
    store_printers: &[crate::store::Printer],
    ticket_station: &str,
    order_number: u64,
    lines: &[TicketLine],
    remake: bool,
    subject: &str,
) -> Vec<NewPrintJob> {
    store_printers
        .iter()
        .filter(|printer| {
            printer.role == PrinterRole::Kitchen
                && printer.station.as_deref() == Some(ticket_station)
        })
        .map(|printer| NewPrintJob {
            printer_id: printer.id,
            kind: "kitchen_ticket".into(),
            subject: subject.to_owned(),
            payload: render_ticket(order_number, ticket_station, lines, remake),
        })
        .collect()
}

pub struct KitchenService {
    store: Arc<Store>,
    events: Arc<EventBus>,
}

impl KitchenService {
    pub fn new(store: Arc<Store>, events: Arc<EventBus>) -> KitchenService {
        KitchenService { store, events }
    }

    pub async fn routes(&self) -> Result<Vec<KitchenRoute>, KitchenError> {
        let store = self.store.clone();
        Ok(super::blocking(move || store.kitchen_routes()).await?)
    }

    /// Replaces the routing rules (managers: routing decides which printer and screen cooks).
    pub async fn replace_routes(
        &self,
        caller: &Caller,
        routes: Vec<(String, String, String)>,
    ) -> Result<Vec<KitchenRoute>, KitchenError> {
        caller.require(Action::ManagePrinters)?;
        if routes.len() > KITCHEN_ROUTES_MAX {
            return Err(KitchenError::BadField {
                field: "routes",
                message: format!("at most {KITCHEN_ROUTES_MAX} routing rules"),
            });
        }
        let mut parsed = Vec::with_capacity(routes.len());
        for (kind, value, station) in routes {
            let match_kind = RouteMatch::parse(&kind).ok_or_else(|| KitchenError::BadField {
                field: "match",
                message: format!("a rule matches `item` or `category`, not {kind:?}"),
            })?;
            let station = parse_station(&station).ok_or_else(|| KitchenError::BadField {
                field: "station",
                message: format!(
                    "a station is 1 to {STATION_CHARS_MAX} of a-z, 0-9, '-' and '_', not {station:?}"
                ),
            })?;
            if value.is_empty() || value.chars().count() > 64 {
                return Err(KitchenError::BadField {
                    field: "value",
                    message: "a rule's value is 1 to 64 characters".into(),
                });
            }
            parsed.push(KitchenRoute {
                match_kind,
                match_value: value,
                station,
            });
        }
        let store = self.store.clone();
        let stored = parsed.clone();
        super::blocking(move || store.replace_kitchen_routes(&stored)).await?;
        Ok(parsed)
    }

    /// Sends the order's unsent lines to the kitchen as one ticket per station, and queues the
    /// stations' printers.
    /// `caller` decides throttling: sends from kiosks respect the stations' active-ticket
    /// limits (multi-lane throttling); staff terminals are not throttled, staff judge the rush.
    pub async fn send(
        &self,
        caller: &Caller,
        order_id: OrderId,
        only_lines: Option<Vec<Uuid>>,
        now_ms: i64,
    ) -> Result<Vec<Ticket>, KitchenError> {
        let throttled = caller.device.kind == crate::store::DeviceKind::Kiosk;
        if only_lines.as_ref().is_some_and(|lines| {
            lines.is_empty() || lines.len() > shared_model::order::ORDER_LINES_MAX
        }) {
            return Err(KitchenError::BadField {
                field: "line_ids",
                message: format!(
                    "fire 1 to {} lines, or omit line_ids to send every unsent line",
                    shared_model::order::ORDER_LINES_MAX
                ),
            });
        }
        let store = self.store.clone();
        let outcome = super::blocking(move || {
            let printers = store.printers()?;
            store.send_to_kitchen::<KitchenError>(
                order_id,
                only_lines.as_deref(),
                throttled,
                now_ms,
                |context| {
                    let planned = plan_tickets(&context);
                    let subject = format!("order:{}", context.order.id);
                    let jobs = planned
                        .iter()
                        .flat_map(|ticket| {
                            ticket_jobs(
                                &printers,
                                &ticket.station,
                                context.order.number,
                                &ticket.lines,
                                false,
                                &subject,
                            )
                        })
                        .collect();
                    Ok((planned, jobs))
                },
            )
        })
        .await?
        .map_err(|error| match error {
            SendOrPlanError::Refused(SendRefusal::OrderNotFound) => KitchenError::OrderNotFound,
            SendOrPlanError::Refused(SendRefusal::OrderNotOpen(state)) => {
                KitchenError::OrderNotOpen(state.as_str())
            }
            SendOrPlanError::Refused(SendRefusal::NothingToSend) => KitchenError::NothingToSend,
            SendOrPlanError::Refused(SendRefusal::StationBusy(station)) => {
                KitchenError::StationBusy(station)
            }
            SendOrPlanError::Refused(SendRefusal::UnknownLine(line)) => KitchenError::BadField {
                field: "line_ids",
                message: format!("line {line} is not on this order"),
            },
            SendOrPlanError::Plan(error) => error,
        })?;
        self.announce(&outcome);
        Ok(outcome.tickets)
    }

    /// A KDS action. Allowed to KDS devices and to staff whose role works the kitchen display.
    pub async fn act(
        &self,
        caller: &Caller,
        ticket_id: Uuid,
        action: TicketAction,
        now_ms: i64,
    ) -> Result<KitchenOutcome, KitchenError> {
        let kds_device = caller.device.kind == crate::store::DeviceKind::Kds;
        if !kds_device {
            caller
                .require(Action::WorkKitchenDisplay)
                .map_err(|error| match error {
                    AccessError::Denied(AuthorizeError::NotSignedIn(_)) => {
                        AccessError::Denied(AuthorizeError::NotSignedIn("work_kitchen_display"))
                    }
                    other => other,
                })?;
        }
        let store = self.store.clone();
        let outcome = super::blocking(move || {
            let printers = store.printers()?;
            store.ticket_action(ticket_id, action, now_ms, |ticket| {
                ticket_jobs(
                    &printers,
                    &ticket.station,
                    ticket.order_number,
                    &ticket.lines,
                    true,
                    &format!("order:{}", ticket.order_id),
                )
            })
        })
        .await?
        .map_err(|refusal| match refusal {
            TicketActionRefusal::NotFound => KitchenError::TicketNotFound,
            TicketActionRefusal::WrongState { state } => {
                KitchenError::WrongTicketState(state.as_str())
            }
        })?;
        self.announce(&outcome);
        Ok(outcome)
    }

    /// Sets or clears a station's active-ticket limit (managers).
    pub async fn set_station_limit(
        &self,
        caller: &Caller,
        station: String,
        limit: Option<u64>,
    ) -> Result<(), KitchenError> {
        caller.require(Action::ManagePrinters)?;
        let station = parse_station(&station).ok_or_else(|| KitchenError::BadField {
            field: "station",
            message: format!("a station is 1 to {STATION_CHARS_MAX} of a-z, 0-9, '-' and '_'"),
        })?;
        if limit.is_some_and(|limit| !(1..=STATION_ACTIVE_TICKETS_LIMIT_MAX).contains(&limit)) {
            return Err(KitchenError::BadField {
                field: "active_tickets_max",
                message: format!("a limit is 1 to {STATION_ACTIVE_TICKETS_LIMIT_MAX}"),
            });
        }
        let store = self.store.clone();
        Ok(super::blocking(move || store.set_station_limit(&station, limit)).await?)
    }

    /// Each station's load, and the wait a new order sent to it now would be quoted.
    pub async fn station_loads(
        &self,
        now_ms: i64,
    ) -> Result<Vec<(crate::store::StationLoad, i64)>, KitchenError> {
        let store = self.store.clone();
        Ok(super::blocking(move || {
            store
                .station_loads()?
                .into_iter()
                .map(|load| {
                    let pace = store.station_pace(&load.station, None, now_ms)?;
                    Ok((load, shared_model::wait_quote::quote_wait_ms(&pace)))
                })
                .collect::<Result<Vec<_>, crate::store::StoreError>>()
        })
        .await?)
    }

    /// The wait to quote for `order_id`, just sent to `stations`: the slowest station's, with
    /// the tickets already open there ahead of it (see `shared_model::wait_quote`).
    pub async fn quote_wait(
        &self,
        order_id: OrderId,
        stations: Vec<String>,
        now_ms: i64,
    ) -> Result<i64, KitchenError> {
        let store = self.store.clone();
        Ok(super::blocking(move || {
            let paces = stations
                .iter()
                .map(|station| store.station_pace(station, Some(order_id), now_ms))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, crate::store::StoreError>(shared_model::wait_quote::quote_order_wait_ms(&paces))
        })
        .await?)
    }

    /// Active tickets of `station`, or of every station for the expo view.
    pub async fn tickets(&self, station: Option<String>) -> Result<Vec<Ticket>, KitchenError> {
        let station = station.filter(|station| station != DEFAULT_STATION);
        let store = self.store.clone();
        Ok(
            super::blocking(move || store.tickets(station.as_deref(), false, TICKETS_LIST_MAX))
                .await?,
        )
    }

    /// All-day counts: how many of each item the active tickets still need.
    pub async fn all_day(
        &self,
        station: Option<String>,
    ) -> Result<Vec<(String, String, i64)>, KitchenError> {
        let tickets = self.tickets(station).await?;
        let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
        for ticket in tickets.iter().filter(|t| t.state != TicketState::Bumped) {
            for line in ticket.lines.iter().filter(|line| !line.voided) {
                *counts
                    .entry((line.item_id.clone(), line.name.clone()))
                    .or_default() += line.quantity;
            }
        }
        Ok(counts
            .into_iter()
            .map(|((item, name), count)| (item, name, count))
            .collect())
    }

    fn announce(&self, outcome: &KitchenOutcome) {
        if outcome.last_event_seq > 0 {
            self.events.published(outcome.last_event_seq);
        }
    }
}
