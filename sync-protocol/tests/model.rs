//! Model-based property test of sync and its merge rules.
//!
//! proptest generates a sequence of steps — sales at two edges, sending, delivering, dropping,
//! duplicating and reordering messages, the hub crashing right after a commit (the ack lost),
//! edges losing their connection — and runs it against the real sans-IO sessions and the real
//! `shared-model` order rules at the hub. After the network heals, the system must match the
//! model: every sale each edge committed is at the hub exactly once with its chain intact
//! (convergence), replaying everything ever sent changes nothing (idempotence), folding the
//! edges' logs in another order gives the same ledger (commutativity), and the hub's ledger
//! sums to what the terminals sold. proptest shrinks a failure to its shortest sequence.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use shared_model::tax::RoundingMode;
use shared_model::{
    CatalogItem, Currency, LineId, Order, OrderEvent, OrderId, OrderType, PaymentId, TaxMode,
    Tender,
};
use std::collections::BTreeMap;
use sync_protocol::op::{GENESIS_HASH, OpBody, OrderEventV1};
use sync_protocol::session::{Cursor, IngestSession, UpstreamSession};
use sync_protocol::{HybridClock, Message, WireOp};

const EDGES: usize = 2;

#[derive(Debug, Clone)]
enum Step {
    Sell {
        edge: usize,
        price_minor: i64,
    },
    Pump {
        edge: usize,
    },
    DeliverUp {
        pick: usize,
    },
    DeliverDown {
        pick: usize,
    },
    DropUp {
        pick: usize,
    },
    DropDown {
        pick: usize,
    },
    DuplicateUp {
        pick: usize,
    },
    SwapUp {
        a: usize,
        b: usize,
    },
    /// Deliver one batch to the hub, commit it, then crash before the ack leaves.
    HubCrashAfterCommit {
        pick: usize,
    },
    EdgeLosesConnection {
        edge: usize,
    },
    Reconnect {
        edge: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let edge = 0..EDGES;
    let pick = 0..16_usize;
    prop_oneof![
        4 => (edge.clone(), 1_i64..200_000).prop_map(|(edge, price_minor)| Step::Sell { edge, price_minor }),
        3 => edge.clone().prop_map(|edge| Step::Pump { edge }),
        4 => pick.clone().prop_map(|pick| Step::DeliverUp { pick }),
        4 => pick.clone().prop_map(|pick| Step::DeliverDown { pick }),
        1 => pick.clone().prop_map(|pick| Step::DropUp { pick }),
        1 => pick.clone().prop_map(|pick| Step::DropDown { pick }),
        1 => pick.clone().prop_map(|pick| Step::DuplicateUp { pick }),
        1 => (pick.clone(), pick.clone()).prop_map(|(a, b)| Step::SwapUp { a, b }),
        1 => pick.prop_map(|pick| Step::HubCrashAfterCommit { pick }),
        1 => edge.clone().prop_map(|edge| Step::EdgeLosesConnection { edge }),
        2 => edge.prop_map(|edge| Step::Reconnect { edge }),
    ]
}

/// A message in flight on connection `generation` of `edge`.
#[derive(Debug, Clone)]
struct InFlight {
    edge: usize,
    generation: u64,
    message: Message,
}

struct Edge {
    origin: [u8; 16],
    /// The durable op log: what the terminals were told is committed.
    log: Vec<WireOp>,
    clock: HybridClock,
    now_ms: u64,
    /// The model: prices of the sales the terminals saw committed.
    sold: Vec<i64>,
    live: Option<(u64, UpstreamSession)>,
}

impl Edge {
    fn append(&mut self, event: &OrderEvent) {
        self.now_ms += 7;
        let prev_hash = self.log.last().map_or(GENESIS_HASH, WireOp::chain_hash);
        let op = WireOp {
            origin: self.origin,
            seq: self.log.len() as u64 + 1,
            hlc: self.clock.tick(self.now_ms),
            prev_hash,
            body: OpBody::Order(OrderEventV1::from(event)).encode(),
        };
        self.log.push(op);
    }

    fn sell(&mut self, price_minor: i64, number: u64) {
        let opened = OrderEvent::Opened {
            order_id: OrderId(uuid::Uuid::from_u128(
                u128::from_le_bytes(self.origin) ^ u128::from(number) << 64,
            )),
            number,
            order_type: OrderType::TakeOut,
            currency: Currency::kes(),
            opened_at_ms: self.now_ms as i64,
        };
        let mut order = Order::from_opened(&opened).unwrap();
        let item = CatalogItem::simple(
            "sku",
            "Item",
            "food",
            price_minor,
            TaxMode::Inclusive,
            vec![],
        );
        let line = order
            .add_line(
                LineId(uuid::Uuid::from_u128(u128::from(number) + 1)),
                &item,
                1,
                RoundingMode::HalfUp,
            )
            .unwrap();
        order.apply(&line).unwrap();
        let pay = order
            .take_payment(
                PaymentId(uuid::Uuid::from_u128(u128::from(number) + 2)),
                Tender::Cash,
                price_minor,
                self.now_ms as i64,
            )
            .unwrap();
        order.apply(&pay).unwrap();
        let close = order.close(self.now_ms as i64).unwrap();
        // The sale is committed (and its terminal answered) only with all four ops durable.
        for event in [&opened, &line, &pay, &close] {
            self.append(event);
        }
        if let Some((_, session)) = &mut self.live {
            session.local_ops_through(self.log.len() as u64);
        }
        self.sold.push(price_minor);
    }
}

/// The hub's durable state for one origin, and the ledger folded from every origin.
#[derive(Default, Clone, PartialEq, Debug)]
struct HubDisk {
    cursors: BTreeMap<usize, Cursor>,
    ops: BTreeMap<usize, Vec<WireOp>>,
    orders: BTreeMap<uuid::Uuid, Order>,
    anomalies: usize,
}

impl HubDisk {
    /// The hub's ingest rules: plan against the cursor, keep the new ops, fold them into
    /// orders with the domain's rules (a contradiction is an anomaly, never a silent drop).
    fn ingest(&mut self, edge: usize, origin: [u8; 16], ops: &[WireOp]) -> Result<(), String> {
        let cursor = self.cursors.get(&edge).copied().unwrap_or(Cursor::START);
        let (session, _) = IngestSession::start(origin, cursor);
        let plan = session.plan(ops).map_err(|e| e.to_string())?;
        for op in plan.new_ops(ops) {
            self.ops.entry(edge).or_default().push(op.clone());
            let OpBody::Order(wire) = op.decode_body().unwrap() else {
                unreachable!("only order ops are sold here")
            };
            let event = OrderEvent::try_from(&wire).unwrap();
            let id = event.order_id().0;
            match self.orders.get_mut(&id) {
                Some(order) => {
                    if order.apply(&event).is_err() {
                        self.anomalies += 1;
                    }
                }
                None => match Order::from_opened(&event) {
                    Some(order) => {
                        self.orders.insert(id, order);
                    }
                    None => self.anomalies += 1,
                },
            }
        }
        self.cursors.insert(edge, plan.cursor_after);
        Ok(())
    }
}

struct World {
    edges: Vec<Edge>,
    hub: HubDisk,
    /// Live hub sessions by (edge, generation).
    hub_sessions: BTreeMap<(usize, u64), IngestSession>,
    up: Vec<InFlight>,
    down: Vec<InFlight>,
    next_generation: u64,
    /// Every batch that ever reached the hub, to replay.
    delivered_batches: Vec<(usize, Vec<WireOp>)>,
    sales: u64,
}

impl World {
    fn new() -> World {
        World {
            edges: (0..EDGES)
                .map(|index| {
                    let mut origin = [0_u8; 16];
                    origin[0] = index as u8 + 1;
                    Edge {
                        origin,
                        log: Vec::new(),
                        clock: HybridClock::default(),
                        now_ms: 1_790_000_000_000,
                        sold: Vec::new(),
                        live: None,
                    }
                })
                .collect(),
            hub: HubDisk::default(),
            hub_sessions: BTreeMap::new(),
            up: Vec::new(),
            down: Vec::new(),
            next_generation: 1,
            delivered_batches: Vec::new(),
            sales: 0,
        }
    }

    fn connect(&mut self, edge: usize) {
        if self.edges[edge].live.is_some() {
            return;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let (session, hello) = UpstreamSession::start("model", self.edges[edge].log.len() as u64);
        self.edges[edge].live = Some((generation, session));
        self.up.push(InFlight {
            edge,
            generation,
            message: hello,
        });
    }

    fn disconnect(&mut self, edge: usize) {
        if let Some((generation, _)) = self.edges[edge].live.take() {
            self.hub_sessions.remove(&(edge, generation));
        }
    }

    fn pump(&mut self, edge: usize) {
        let Edge { live, log, .. } = &mut self.edges[edge];
        let Some((generation, session)) = live else {
            return;
        };
        let Some(wanted) = session.wants_ops() else {
            return;
        };
        let from = wanted.from_seq as usize - 1;
        let to = (from + wanted.count_max).min(log.len());
        let ops = log[from..to].to_vec();
        session.batch_sent(to as u64);
        let generation = *generation;
        self.up.push(InFlight {
            edge,
            generation,
            message: Message::OpsBatch { ops },
        });
    }

    /// The hub receives one message; `lose_ack`: it crashes right after committing.
    fn hub_receives(&mut self, flight: InFlight, lose_ack: bool) {
        let key = (flight.edge, flight.generation);
        let live = self.edges[flight.edge]
            .live
            .as_ref()
            .is_some_and(|(generation, _)| *generation == flight.generation);
        if !live {
            return; // the connection is gone
        }
        let origin = self.edges[flight.edge].origin;
        match flight.message {
            Message::Hello { .. } => {
                let cursor = self
                    .hub
                    .cursors
                    .get(&flight.edge)
                    .copied()
                    .unwrap_or(Cursor::START);
                let (session, welcome) = IngestSession::start(origin, cursor);
                self.hub_sessions.insert(key, session);
                self.down.push(InFlight {
                    message: welcome,
                    ..flight
                });
            }
            Message::OpsBatch { ops } => {
                if !self.hub_sessions.contains_key(&key) {
                    return;
                }
                self.delivered_batches.push((flight.edge, ops.clone()));
                match self.hub.ingest(flight.edge, origin, &ops) {
                    Ok(()) => {
                        let cursor = self.hub.cursors[&flight.edge];
                        let (session, _) = IngestSession::start(origin, cursor);
                        self.hub_sessions.insert(key, session);
                        if lose_ack {
                            self.hub_crash();
                            return;
                        }
                        self.down.push(InFlight {
                            message: Message::Ack {
                                acked_through_seq: cursor.acked_through_seq,
                            },
                            ..flight
                        });
                    }
                    Err(_) => {
                        // A gap (a batch overtook a dropped one): the hub refuses and closes.
                        self.disconnect(flight.edge);
                    }
                }
            }
            _ => {}
        }
    }

    fn hub_crash(&mut self) {
        self.hub_sessions.clear();
        self.up.clear();
        self.down.clear();
        for edge in 0..EDGES {
            self.edges[edge].live = None;
        }
    }

    fn edge_receives(&mut self, flight: InFlight) {
        let edge = &mut self.edges[flight.edge];
        let Some((generation, session)) = &mut edge.live else {
            return;
        };
        if *generation != flight.generation {
            return;
        }
        if let Err(error) = session.on_message(flight.message) {
            // Never "the hub is ahead of me": the hub cannot hold ops the edge never made.
            assert!(
                !matches!(error, sync_protocol::session::SessionError::HubAhead { .. }),
                "{error}"
            );
            self.disconnect(flight.edge);
        }
    }

    fn run(&mut self, step: &Step) {
        let pick = |len: usize, pick: usize| (len > 0).then(|| pick % len);
        match *step {
            Step::Sell { edge, price_minor } => {
                self.sales += 1;
                let number = self.sales;
                self.edges[edge].sell(price_minor, number);
            }
            Step::Pump { edge } => self.pump(edge),
            Step::DeliverUp { pick: p } => {
                if let Some(i) = pick(self.up.len(), p) {
                    let flight = self.up.remove(i);
                    self.hub_receives(flight, false);
                }
            }
            Step::DeliverDown { pick: p } => {
                if let Some(i) = pick(self.down.len(), p) {
                    let flight = self.down.remove(i);
                    self.edge_receives(flight);
                }
            }
            Step::DropUp { pick: p } => {
                if let Some(i) = pick(self.up.len(), p) {
                    self.up.remove(i);
                }
            }
            Step::DropDown { pick: p } => {
                if let Some(i) = pick(self.down.len(), p) {
                    self.down.remove(i);
                }
            }
            Step::DuplicateUp { pick: p } => {
                if let Some(i) = pick(self.up.len(), p) {
                    self.up.push(self.up[i].clone());
                }
            }
            Step::SwapUp { a, b } => {
                if let (Some(a), Some(b)) = (pick(self.up.len(), a), pick(self.up.len(), b)) {
                    self.up.swap(a, b);
                }
            }
            Step::HubCrashAfterCommit { pick: p } => {
                let batch = self
                    .up
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| matches!(f.message, Message::OpsBatch { .. }))
                    .map(|(i, _)| i)
                    .collect::<Vec<_>>();
                if let Some(i) = pick(batch.len(), p) {
                    let flight = self.up.remove(batch[i]);
                    self.hub_receives(flight, true);
                }
            }
            Step::EdgeLosesConnection { edge } => self.disconnect(edge),
            Step::Reconnect { edge } => self.connect(edge),
        }
    }

    /// The network heals: messages flow in order, nothing is lost, edges reconnect.
    fn heal(&mut self) {
        for _ in 0..10_000 {
            for edge in 0..EDGES {
                self.connect(edge);
                self.pump(edge);
            }
            while !self.up.is_empty() {
                let flight = self.up.remove(0);
                self.hub_receives(flight, false);
            }
            while !self.down.is_empty() {
                let flight = self.down.remove(0);
                self.edge_receives(flight);
            }
            let done = self.edges.iter().all(|edge| {
                edge.live
                    .as_ref()
                    .is_some_and(|(_, session)| session.is_welcomed() && session.is_caught_up())
            });
            if done {
                return;
            }
            // Everything in flight was delivered. An edge still waiting for a Welcome, or for
            // the ack of ops it sent, waits for something that was lost: its timeout fires
            // ("outcome unknown") and it reconnects to learn the truth from the hub.
            for edge in 0..EDGES {
                let stuck = self.edges[edge].live.as_ref().is_some_and(|(_, session)| {
                    !session.is_welcomed() || session.ops_in_flight() > 0
                });
                if stuck {
                    self.disconnect(edge);
                }
            }
        }
        panic!("sync did not converge after healing");
    }
}

fn ledger_total(orders: &BTreeMap<uuid::Uuid, Order>) -> (i64, i64) {
    orders.values().fold((0, 0), |(total, paid), order| {
        let totals = order.totals();
        (total + totals.total_minor, paid + totals.paid_minor)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sync_converges_exactly_once_under_any_faults(steps in proptest::collection::vec(step(), 1..160)) {
        let mut world = World::new();
        for step in &steps {
            world.run(step);
        }
        world.heal();

        // Convergence, exactly once: each edge's whole log is at the hub, in order, chain intact.
        for (index, edge) in world.edges.iter().enumerate() {
            let held = world.hub.ops.get(&index).cloned().unwrap_or_default();
            prop_assert_eq!(held.len(), edge.log.len());
            for (held, local) in held.iter().zip(&edge.log) {
                prop_assert_eq!(held.chain_hash(), local.chain_hash());
            }
            let cursor = world.hub.cursors.get(&index).copied().unwrap_or(Cursor::START);
            prop_assert_eq!(cursor.acked_through_seq, edge.log.len() as u64);
        }
        // The ledger equals the model: every sale once, closed, paid in full.
        let sold: Vec<i64> = world.edges.iter().flat_map(|edge| edge.sold.clone()).collect();
        prop_assert_eq!(world.hub.orders.len(), sold.len());
        prop_assert_eq!(world.hub.anomalies, 0);
        let (total, paid) = ledger_total(&world.hub.orders);
        prop_assert_eq!(total, sold.iter().sum::<i64>());
        prop_assert_eq!(paid, total);
        prop_assert!(world.hub.orders.values().all(|order| order.state == shared_model::OrderState::Closed));

        // Idempotence: every batch that ever reached the hub, again, changes nothing.
        let before = world.hub.clone();
        for (edge, ops) in world.delivered_batches.clone() {
            let origin = world.edges[edge].origin;
            let _ = world.hub.ingest(edge, origin, &ops);
        }
        prop_assert_eq!(&world.hub, &before);

        // Commutativity: the logs folded edge by edge, in reverse, give the same ledger.
        let mut other = HubDisk::default();
        for (index, edge) in world.edges.iter().enumerate().rev() {
            for chunk in edge.log.chunks(37) {
                other.ingest(index, edge.origin, chunk).unwrap();
            }
        }
        prop_assert_eq!(other.orders, before.orders);
    }
}
