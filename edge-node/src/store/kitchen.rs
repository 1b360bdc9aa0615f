//! Kitchen routing rules, tickets, order-ready facts and the durable live-event sequence.
//!
//! Every ticket change also appends a row to `stream_events` in the same transaction: the
//! WebSocket stream is a read of that table from a client's last seen `seq`, so a KDS that
//! reconnects misses nothing.

use super::{
    NewPrintJob, Store, StoreError, append_op, append_op_body, insert_print_job_tx, load_order,
    parse_uuid, save_order,
};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use shared_model::order::OrderLine;
use shared_model::{Order, OrderId, OrderState};
use std::collections::HashMap;
use sync_protocol::op::{KitchenEventV1, KitchenLineV1, KitchenTicketV1, OpBody};
use uuid::Uuid;

/// Live events kept for resuming clients. Why 50,000: a busy kitchen writes a few thousand a
/// day, so a KDS can resume after days off the network; older events are pruned as new ones
/// are written, and a client resuming from before the oldest kept is told to reload.
pub const STREAM_EVENTS_KEPT: u64 = 50_000;

/// What a routing rule matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteMatch {
    Item,
    Category,
}

impl RouteMatch {
    pub fn as_str(&self) -> &'static str {
        match self {
            RouteMatch::Item => "item",
            RouteMatch::Category => "category",
        }
    }

    pub fn parse(text: &str) -> Option<RouteMatch> {
        [RouteMatch::Item, RouteMatch::Category]
            .into_iter()
            .find(|candidate| candidate.as_str() == text)
    }
}

/// "Items of category `coffee` go to station `bar`."
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KitchenRoute {
    pub match_kind: RouteMatch,
    pub match_value: String,
    pub station: String,
}

/// One line on a ticket, as the kitchen sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketLine {
    pub line_id: Uuid,
    pub item_id: String,
    pub name: String,
    pub quantity: i64,
    /// Voided after it was sent: the cook stops making it (shown struck through).
    #[serde(default)]
    pub voided: bool,
    /// The choices to make it with ("Oat milk"), nested ones indented.
    #[serde(default)]
    pub modifiers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    New,
    Paused,
    Bumped,
}

impl TicketState {
    pub fn as_str(&self) -> &'static str {
        match self {
            TicketState::New => "new",
            TicketState::Paused => "paused",
            TicketState::Bumped => "bumped",
        }
    }

    pub fn parse(text: &str) -> Option<TicketState> {
        [TicketState::New, TicketState::Paused, TicketState::Bumped]
            .into_iter()
            .find(|candidate| candidate.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: Uuid,
    pub order_id: OrderId,
    pub order_number: u64,
    pub station: String,
    pub state: TicketState,
    pub priority: bool,
    pub remake_of: Option<Uuid>,
    pub lines: Vec<TicketLine>,
    pub created_at_ms: i64,
    pub bumped_at_ms: Option<i64>,
}

/// A ticket the send decided on, with the print jobs for its station's printers.
#[derive(Debug, Clone)]
pub struct PlannedTicket {
    pub station: String,
    pub lines: Vec<TicketLine>,
}

/// How far back a station's throughput is counted for wait quotes. Why 15 minutes: long enough
/// to see a steady pace, short enough to follow a rush as it starts.
pub const PACE_WINDOW_MS: i64 = 15 * 60_000;

/// One entry of the live stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub seq: u64,
    pub kind: String,
    pub body: serde_json::Value,
    pub at_ms: i64,
}

/// What a kitchen change did, for the caller to announce.
#[derive(Debug, Clone)]
pub struct KitchenOutcome {
    pub tickets: Vec<Ticket>,
    /// The order became ready with this change (every station bumped).
    pub order_ready: bool,
    /// The last live-event sequence written, for waking stream subscribers.
    pub last_event_seq: u64,
}

/// Everything a send needs to plan tickets, read inside the send's transaction.
pub struct SendContext<'a> {
    pub order: &'a Order,
    pub unsent_lines: Vec<&'a OrderLine>,
    pub routes: &'a [KitchenRoute],
    pub categories: &'a HashMap<String, String>,
}

/// How a send can be refused by the store's own checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendRefusal {
    OrderNotFound,
    OrderNotOpen(OrderState),
    NothingToSend,
    /// A line asked for is not on the order.
    UnknownLine(Uuid),
    /// A throttled send would put a station over its active-ticket limit.
    StationBusy(String),
}

/// A station's load: what a kiosk quotes a wait from, and what throttling compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationLoad {
    pub station: String,
    pub active_tickets: u64,
    pub active_tickets_max: Option<u64>,
    pub oldest_created_at_ms: Option<i64>,
}

/// A KDS action on one ticket, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketAction {
    Bump,
    Recall,
    Pause,
    Resume,
    Priority(bool),
    Remake,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketActionRefusal {
    NotFound,
    WrongState { state: TicketState },
}

impl Store {
    /// Sets (or with `None` clears) a station's active-ticket limit for throttled sends.
    pub fn set_station_limit(&self, station: &str, limit: Option<u64>) -> Result<(), StoreError> {
        let connection = self.lock();
        match limit {
            Some(limit) => connection.execute(
                "INSERT INTO station_limits (station, active_tickets_max) VALUES (?1, ?2)
                 ON CONFLICT (station) DO UPDATE SET active_tickets_max = excluded.active_tickets_max",
                params![station, limit as i64],
            )?,
            None => connection.execute(
                "DELETE FROM station_limits WHERE station = ?1",
                params![station],
            )?,
        };
        Ok(())
    }

    /// How `station` has been working, for a wait quote: make times of its tickets bumped in
    /// the last hour (first makes, not remakes; the 30 newest), how many it bumped in the
    /// last [`PACE_WINDOW_MS`], and its open tickets other than `except_order`'s.
    pub fn station_pace(
        &self,
        station: &str,
        except_order: Option<OrderId>,
        now_ms: i64,
    ) -> Result<shared_model::wait_quote::StationPace, StoreError> {
        let connection = self.lock();
        let mut recent = connection.prepare_cached(
            "SELECT bumped_at_ms - created_at_ms FROM kitchen_tickets
             WHERE state = 'bumped' AND station = ?1 AND remake_of IS NULL
               AND bumped_at_ms >= ?2
             ORDER BY bumped_at_ms DESC LIMIT 30",
        )?;
        let recent_make_ms = recent
            .query_map(params![station, now_ms - 3_600_000], |row| {
                row.get::<_, i64>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let bumped_in_window: i64 = connection.query_row(
            "SELECT count(*) FROM kitchen_tickets
             WHERE state = 'bumped' AND station = ?1 AND bumped_at_ms >= ?2",
            params![station, now_ms - PACE_WINDOW_MS],
            |row| row.get(0),
        )?;
        let tickets_ahead: i64 = connection.query_row(
            "SELECT count(*) FROM kitchen_tickets
             WHERE state != 'bumped' AND station = ?1 AND (?2 IS NULL OR order_id != ?2)",
            params![station, except_order.map(|id| id.to_string())],
            |row| row.get(0),
        )?;
        Ok(shared_model::wait_quote::StationPace {
            recent_make_ms,
            bumped_in_window: bumped_in_window.max(0) as u64,
            window_ms: PACE_WINDOW_MS,
            tickets_ahead: tickets_ahead.max(0) as u64,
        })
    }

    /// Every station with tickets or a limit, with its load.
    pub fn station_loads(&self) -> Result<Vec<StationLoad>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "WITH stations AS (
                SELECT station FROM kitchen_tickets UNION SELECT station FROM station_limits)
             SELECT s.station,
                (SELECT count(*) FROM kitchen_tickets t WHERE t.station = s.station AND t.state != 'bumped'),
                (SELECT active_tickets_max FROM station_limits l WHERE l.station = s.station),
                (SELECT min(created_at_ms) FROM kitchen_tickets t WHERE t.station = s.station AND t.state != 'bumped')
             FROM stations s ORDER BY s.station",
        )?;
        let rows = statement
            .query_map([], |row| {
                Ok(StationLoad {
                    station: row.get(0)?,
                    active_tickets: row.get::<_, i64>(1)?.max(0) as u64,
                    active_tickets_max: row.get::<_, Option<i64>>(2)?.map(|n| n.max(0) as u64),
                    oldest_created_at_ms: row.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Whether any line of the order has been sent to the kitchen.
    /// Whether the kitchen has line `line_id` of `order_id`.
    pub fn order_line_sent_to_kitchen(
        &self,
        order_id: OrderId,
        line_id: shared_model::LineId,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT 1 FROM kitchen_sent_lines WHERE order_id = ?1 AND line_id = ?2",
                params![order_id.to_string(), line_id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    pub fn order_sent_to_kitchen(&self, order_id: OrderId) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT 1 FROM kitchen_sent_lines WHERE order_id = ?1 LIMIT 1",
                params![order_id.to_string()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    pub fn kitchen_routes(&self) -> Result<Vec<KitchenRoute>, StoreError> {
        let connection = self.lock();
        load_routes(&connection)
    }

    /// Replaces every routing rule at once.
    pub fn replace_kitchen_routes(&self, routes: &[KitchenRoute]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        tx.execute("DELETE FROM kitchen_routes", [])?;
        for route in routes {
            tx.execute(
                "INSERT OR IGNORE INTO kitchen_routes (match_kind, match_value, station)
                 VALUES (?1, ?2, ?3)",
                params![route.match_kind.as_str(), route.match_value, route.station],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Sends an order's unsent lines (or only `only_lines` of them: fire a course, hold the rest)
    /// to the kitchen: `plan` splits them into station tickets
    /// (and print jobs); the tickets, the sent-line marks, the live events, the print jobs and
    /// the op commit together.
    pub fn send_to_kitchen<E>(
        &self,
        order_id: OrderId,
        only_lines: Option<&[Uuid]>,
        throttled: bool,
        now_ms: i64,
        plan: impl FnOnce(SendContext<'_>) -> Result<(Vec<PlannedTicket>, Vec<NewPrintJob>), E>,
    ) -> Result<Result<KitchenOutcome, SendOrPlanError<E>>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some(order) = load_order(&tx, order_id)? else {
            return Ok(Err(SendOrPlanError::Refused(SendRefusal::OrderNotFound)));
        };
        if matches!(order.state, OrderState::Closed | OrderState::Voided) {
            return Ok(Err(SendOrPlanError::Refused(SendRefusal::OrderNotOpen(
                order.state,
            ))));
        }
        let sent: Vec<String> = {
            let mut statement =
                tx.prepare_cached("SELECT line_id FROM kitchen_sent_lines WHERE order_id = ?1")?;
            statement
                .query_map(params![order_id.to_string()], |row| row.get(0))?
                .collect::<Result<_, _>>()?
        };
        if let Some(unknown) = only_lines
            .unwrap_or_default()
            .iter()
            .find(|id| !order.lines.iter().any(|line| line.id.0 == **id))
        {
            return Ok(Err(SendOrPlanError::Refused(SendRefusal::UnknownLine(
                *unknown,
            ))));
        }
        // Held lines (not in `only_lines`) stay unsent until a later send fires them.
        let unsent_lines: Vec<&OrderLine> = order
            .lines
            .iter()
            // A line voided before it was sent is never made.
            .filter(|line| line.is_live() && !sent.contains(&line.id.to_string()))
            .filter(|line| only_lines.is_none_or(|only| only.contains(&line.id.0)))
            .collect();
        if unsent_lines.is_empty() {
            return Ok(Err(SendOrPlanError::Refused(SendRefusal::NothingToSend)));
        }
        let routes = load_routes(&tx)?;
        let mut categories = HashMap::new();
        for line in &unsent_lines {
            let doc: Option<String> = tx
                .query_row(
                    "SELECT doc FROM catalog_items WHERE id = ?1",
                    params![line.item_id.0],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(doc) = doc {
                let item: shared_model::CatalogItem = super::parse_json(&doc)?;
                categories.insert(item.id.0, item.category);
            }
        }
        let line_ids: Vec<String> = unsent_lines.iter().map(|l| l.id.to_string()).collect();
        // The order itself records which lines the kitchen has (a void after send is decided
        // on it, at the edge and at the hub alike).
        let order_sent: Vec<shared_model::LineId> = unsent_lines
            .iter()
            .filter(|line| !line.sent)
            .map(|line| line.id)
            .collect();
        let (planned, print_jobs) = match plan(SendContext {
            order: &order,
            unsent_lines,
            routes: &routes,
            categories: &categories,
        }) {
            Ok(planned) => planned,
            Err(error) => return Ok(Err(SendOrPlanError::Plan(error))),
        };
        if throttled {
            for ticket in &planned {
                let limit: Option<i64> = tx
                    .query_row(
                        "SELECT active_tickets_max FROM station_limits WHERE station = ?1",
                        params![ticket.station],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(limit) = limit {
                    let active: i64 = tx.query_row(
                        "SELECT count(*) FROM kitchen_tickets WHERE station = ?1 AND state != 'bumped'",
                        params![ticket.station],
                        |row| row.get(0),
                    )?;
                    if active >= limit {
                        return Ok(Err(SendOrPlanError::Refused(SendRefusal::StationBusy(
                            ticket.station.clone(),
                        ))));
                    }
                }
            }
        }
        for line_id in &line_ids {
            tx.execute(
                "INSERT INTO kitchen_sent_lines (order_id, line_id, sent_at_ms) VALUES (?1, ?2, ?3)",
                params![order_id.to_string(), line_id, now_ms],
            )?;
        }
        let mut tickets = Vec::with_capacity(planned.len());
        let mut last_event_seq = 0;
        for planned in planned {
            let ticket = Ticket {
                id: Uuid::now_v7(),
                order_id,
                order_number: order.number,
                station: planned.station,
                state: TicketState::New,
                priority: false,
                remake_of: None,
                lines: planned.lines,
                created_at_ms: now_ms,
                bumped_at_ms: None,
            };
            insert_ticket_tx(&tx, &ticket)?;
            last_event_seq = append_ticket_event_tx(&tx, "ticket.created", &ticket, now_ms)?;
            tickets.push(ticket);
        }
        for job in &print_jobs {
            insert_print_job_tx(&tx, job, now_ms)?;
        }
        if !order_sent.is_empty() {
            let event = order
                .send_lines(&order_sent, now_ms)
                .map_err(|e| StoreError::Corrupt(format!("unsent lines refused: {e}")))?;
            let mut after = order.clone();
            after
                .apply(&event)
                .map_err(|e| StoreError::Corrupt(format!("a decided send does not apply: {e}")))?;
            save_order(&tx, &after, now_ms)?;
            append_op(&tx, self.node_id, &event, now_ms)?;
        }
        let body = OpBody::Kitchen(KitchenEventV1::SentToKitchen {
            order_id: *order_id.0.as_bytes(),
            order_number: order.number,
            tickets: tickets.iter().map(ticket_to_wire).collect(),
            at_ms: now_ms,
        });
        append_op_body(&tx, self.node_id, "kitchen.sent", &body, now_ms)?;
        tx.commit()?;
        Ok(Ok(KitchenOutcome {
            tickets,
            order_ready: false,
            last_event_seq,
        }))
    }

    /// Applies a KDS action to a ticket. A bump that leaves every ticket of the order bumped
    /// makes the order ready once: a live event and an op for the hub. A remake prints again
    /// through `remake_jobs`.
    pub fn ticket_action(
        &self,
        ticket_id: Uuid,
        action: TicketAction,
        now_ms: i64,
        remake_jobs: impl FnOnce(&Ticket) -> Vec<NewPrintJob>,
    ) -> Result<Result<KitchenOutcome, TicketActionRefusal>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        let Some(mut ticket) = load_ticket_tx(&tx, ticket_id)? else {
            return Ok(Err(TicketActionRefusal::NotFound));
        };
        let refuse = |state| Ok(Err(TicketActionRefusal::WrongState { state }));
        let mut outcome_tickets = Vec::new();
        let mut order_ready = false;
        let last_event_seq;
        match action {
            TicketAction::Remake => {
                let remake = Ticket {
                    id: Uuid::now_v7(),
                    state: TicketState::New,
                    priority: true,
                    remake_of: Some(ticket.id),
                    created_at_ms: now_ms,
                    bumped_at_ms: None,
                    ..ticket.clone()
                };
                insert_ticket_tx(&tx, &remake)?;
                for job in remake_jobs(&remake) {
                    insert_print_job_tx(&tx, &job, now_ms)?;
                }
                last_event_seq = append_ticket_event_tx(&tx, "ticket.created", &remake, now_ms)?;
                outcome_tickets.push(remake);
            }
            _ => {
                let next = match (action, ticket.state) {
                    (TicketAction::Bump, TicketState::New | TicketState::Paused) => {
                        TicketState::Bumped
                    }
                    (TicketAction::Recall, TicketState::Bumped) => TicketState::New,
                    (TicketAction::Pause, TicketState::New) => TicketState::Paused,
                    (TicketAction::Resume, TicketState::Paused) => TicketState::New,
                    (TicketAction::Priority(_), state) if state != TicketState::Bumped => state,
                    (_, state) => return refuse(state),
                };
                if let TicketAction::Priority(priority) = action {
                    ticket.priority = priority;
                }
                ticket.state = next;
                ticket.bumped_at_ms = (next == TicketState::Bumped).then_some(now_ms);
                tx.execute(
                    "UPDATE kitchen_tickets SET state = ?2, priority = ?3, bumped_at_ms = ?4
                     WHERE id = ?1",
                    params![
                        ticket.id.to_string(),
                        next.as_str(),
                        ticket.priority,
                        ticket.bumped_at_ms
                    ],
                )?;
                let mut seq = append_ticket_event_tx(&tx, "ticket.updated", &ticket, now_ms)?;
                if next == TicketState::Bumped {
                    let open: i64 = tx.query_row(
                        "SELECT count(*) FROM kitchen_tickets WHERE order_id = ?1 AND state != 'bumped'",
                        params![ticket.order_id.to_string()],
                        |row| row.get(0),
                    )?;
                    // Lines still held (a later course not yet fired) mean the order is not
                    // ready, whatever the kitchen has finished so far.
                    let newly_ready = open == 0
                        && !holds_unsent_lines_tx(&tx, ticket.order_id)?
                        && tx.execute(
                            "INSERT OR IGNORE INTO kitchen_ready_orders (order_id, ready_at_ms)
                             VALUES (?1, ?2)",
                            params![ticket.order_id.to_string(), now_ms],
                        )? == 1;
                    if newly_ready {
                        order_ready = true;
                        seq = append_stream_event_tx(
                            &tx,
                            "order.ready",
                            &serde_json::json!({
                                "order_id": ticket.order_id.to_string(),
                                "order_number": ticket.order_number,
                            }),
                            now_ms,
                        )?;
                        let body = OpBody::Kitchen(KitchenEventV1::OrderReady {
                            order_id: *ticket.order_id.0.as_bytes(),
                            order_number: ticket.order_number,
                            at_ms: now_ms,
                        });
                        append_op_body(&tx, self.node_id, "kitchen.order_ready", &body, now_ms)?;
                    }
                }
                last_event_seq = seq;
                outcome_tickets.push(ticket);
            }
        }
        tx.commit()?;
        Ok(Ok(KitchenOutcome {
            tickets: outcome_tickets,
            order_ready,
            last_event_seq,
        }))
    }

    /// Tickets not yet bumped (or, with `include_bumped`, every ticket), oldest first, rush
    /// tickets ahead; `station` `None` is the expo view of every station.
    pub fn tickets(
        &self,
        station: Option<&str>,
        include_bumped: bool,
        count_max: usize,
    ) -> Result<Vec<Ticket>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(&format!(
            "{TICKET_SELECT} WHERE (?1 IS NULL OR station = ?1) AND (?2 OR state != 'bumped')
             ORDER BY priority DESC, created_at_ms, id LIMIT ?3"
        ))?;
        let rows = statement
            .query_map(
                params![station, include_bumped, count_max as i64],
                ticket_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(ticket_from_row).collect()
    }

    pub fn ticket(&self, ticket_id: Uuid) -> Result<Option<Ticket>, StoreError> {
        let mut connection = self.lock();
        let tx = connection.transaction()?;
        load_ticket_tx(&tx, ticket_id)
    }

    /// Live events after `after_seq`, at most `count_max`, in order.
    pub fn stream_events_after(
        &self,
        after_seq: u64,
        count_max: usize,
    ) -> Result<Vec<StreamEvent>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare_cached(
            "SELECT seq, kind, body, at_ms FROM stream_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = statement
            .query_map(params![after_seq as i64, count_max as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, kind, body, at_ms)| {
                Ok(StreamEvent {
                    seq: seq as u64,
                    kind,
                    body: super::parse_json(&body)?,
                    at_ms,
                })
            })
            .collect()
    }

    /// The oldest live event still kept, if any.
    pub fn first_stream_seq(&self) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> =
            self.lock()
                .query_row("SELECT min(seq) FROM stream_events", [], |row| row.get(0))?;
        Ok(seq.map(|seq| seq as u64))
    }

    pub fn last_stream_seq(&self) -> Result<u64, StoreError> {
        let seq: i64 = self.lock().query_row(
            "SELECT coalesce(max(seq), 0) FROM stream_events",
            [],
            |row| row.get(0),
        )?;
        Ok(seq as u64)
    }
}

/// A send refused by the store's checks, or by the caller's plan.
#[derive(Debug)]
pub enum SendOrPlanError<E> {
    Refused(SendRefusal),
    Plan(E),
}

fn load_routes(connection: &rusqlite::Connection) -> Result<Vec<KitchenRoute>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT match_kind, match_value, station FROM kitchen_routes
         ORDER BY match_kind, match_value, station",
    )?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(kind, value, station)| {
            Ok(KitchenRoute {
                match_kind: RouteMatch::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("route kind {kind}")))?,
                match_value: value,
                station,
            })
        })
        .collect()
}

fn ticket_to_wire(ticket: &Ticket) -> KitchenTicketV1 {
    KitchenTicketV1 {
        ticket_id: *ticket.id.as_bytes(),
        station: ticket.station.clone(),
        lines: ticket
            .lines
            .iter()
            .map(|line| KitchenLineV1 {
                line_id: *line.line_id.as_bytes(),
                item_id: line.item_id.clone(),
                name: line.name.clone(),
                quantity: line.quantity,
            })
            .collect(),
    }
}

fn insert_ticket_tx(tx: &Transaction<'_>, ticket: &Ticket) -> Result<(), StoreError> {
    let lines =
        serde_json::to_string(&ticket.lines).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO kitchen_tickets (id, order_id, order_number, station, state, priority,
            remake_of, lines, created_at_ms, bumped_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            ticket.id.to_string(),
            ticket.order_id.to_string(),
            ticket.order_number as i64,
            ticket.station,
            ticket.state.as_str(),
            ticket.priority,
            ticket.remake_of.map(|id| id.to_string()),
            lines,
            ticket.created_at_ms,
            ticket.bumped_at_ms
        ],
    )?;
    Ok(())
}

/// Marks a line voided after send on every ticket of `order_id` that carries it, and writes a
/// `ticket.updated` event per ticket; returns the last event's sequence.
/// Whether `order_id` has live lines the kitchen never received (held for a later course).
fn holds_unsent_lines_tx(tx: &Transaction<'_>, order_id: OrderId) -> Result<bool, StoreError> {
    let Some(order) = super::load_order(tx, order_id)? else {
        return Ok(false);
    };
    let tickets = {
        let mut statement = tx.prepare_cached(&format!("{TICKET_SELECT} WHERE order_id = ?1"))?;
        statement
            .query_map(params![order_id.to_string()], ticket_row)?
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut in_kitchen = std::collections::HashSet::new();
    for row in tickets {
        for line in ticket_from_row(row)?.lines {
            in_kitchen.insert(line.line_id);
        }
    }
    Ok(order
        .lines
        .iter()
        .any(|line| line.is_live() && !in_kitchen.contains(&line.id.0)))
}

pub(crate) fn void_ticket_line_tx(
    tx: &Transaction<'_>,
    order_id: OrderId,
    line_id: Uuid,
    now_ms: i64,
    chits: impl Fn(&Ticket) -> Vec<super::NewPrintJob>,
) -> Result<Option<u64>, StoreError> {
    let rows = {
        let mut statement = tx.prepare_cached(&format!("{TICKET_SELECT} WHERE order_id = ?1"))?;
        statement
            .query_map(params![order_id.to_string()], ticket_row)?
            .collect::<Result<Vec<_>, _>>()?
    };
    let mut last_seq = None;
    for row in rows {
        let mut ticket = ticket_from_row(row)?;
        let mut changed = false;
        for line in ticket
            .lines
            .iter_mut()
            .filter(|line| line.line_id == line_id)
        {
            changed |= !line.voided;
            line.voided = true;
        }
        if !changed {
            continue;
        }
        let lines =
            serde_json::to_string(&ticket.lines).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            "UPDATE kitchen_tickets SET lines = ?1 WHERE id = ?2",
            params![lines, ticket.id.to_string()],
        )?;
        for job in chits(&ticket) {
            super::printing::insert_print_job_tx(tx, &job, now_ms)?;
        }
        last_seq = Some(append_ticket_event_tx(
            tx,
            "ticket.updated",
            &ticket,
            now_ms,
        )?);
    }
    Ok(last_seq)
}

/// The JSON a ticket has in live events and the API.
pub fn ticket_json(ticket: &Ticket) -> serde_json::Value {
    serde_json::json!({
        "id": ticket.id.to_string(),
        "order_id": ticket.order_id.to_string(),
        "order_number": ticket.order_number,
        "station": ticket.station,
        "state": ticket.state.as_str(),
        "priority": ticket.priority,
        "remake_of": ticket.remake_of.map(|id| id.to_string()),
        "lines": ticket.lines.iter().map(|line| serde_json::json!({
            "line_id": line.line_id.to_string(),
            "item_id": line.item_id,
            "name": line.name,
            "quantity": line.quantity,
            "voided": line.voided,
            "modifiers": line.modifiers,
        })).collect::<Vec<_>>(),
        "created_at_ms": ticket.created_at_ms,
        "bumped_at_ms": ticket.bumped_at_ms,
    })
}

fn append_ticket_event_tx(
    tx: &Transaction<'_>,
    kind: &str,
    ticket: &Ticket,
    now_ms: i64,
) -> Result<u64, StoreError> {
    append_stream_event_tx(tx, kind, &ticket_json(ticket), now_ms)
}

pub(crate) fn append_stream_event_tx(
    tx: &Transaction<'_>,
    kind: &str,
    body: &serde_json::Value,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let seq: i64 = tx.query_row(
        "INSERT INTO stream_events (kind, body, at_ms) VALUES (?1, ?2, ?3) RETURNING seq",
        params![kind, body.to_string(), now_ms],
        |row| row.get(0),
    )?;
    tx.execute(
        "DELETE FROM stream_events WHERE seq <= ?1",
        params![seq - STREAM_EVENTS_KEPT as i64],
    )?;
    Ok(seq as u64)
}

const TICKET_SELECT: &str = "SELECT id, order_id, order_number, station, state, priority,
    remake_of, lines, created_at_ms, bumped_at_ms FROM kitchen_tickets";

type TicketRow = (
    String,
    String,
    i64,
    String,
    String,
    bool,
    Option<String>,
    String,
    i64,
    Option<i64>,
);

/// Reads the columns in order (rusqlite converts rows to tuples).
fn ticket_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TicketRow> {
    TicketRow::try_from(row)
}

fn ticket_from_row(row: TicketRow) -> Result<Ticket, StoreError> {
    let (id, order_id, number, station, state, priority, remake_of, lines, created, bumped) = row;
    Ok(Ticket {
        id: parse_uuid(&id)?,
        order_id: OrderId(parse_uuid(&order_id)?),
        order_number: number as u64,
        station,
        state: TicketState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("ticket state {state}")))?,
        priority,
        remake_of: remake_of.as_deref().map(parse_uuid).transpose()?,
        lines: super::parse_json(&lines)?,
        created_at_ms: created,
        bumped_at_ms: bumped,
    })
}

fn load_ticket_tx(tx: &Transaction<'_>, ticket_id: Uuid) -> Result<Option<Ticket>, StoreError> {
    let row = tx
        .query_row(
            &format!("{TICKET_SELECT} WHERE id = ?1"),
            params![ticket_id.to_string()],
            ticket_row,
        )
        .optional()?;
    row.map(ticket_from_row).transpose()
}
