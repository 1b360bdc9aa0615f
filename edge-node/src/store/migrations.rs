//! Schema migrations, tracked in `PRAGMA user_version`.
//!
//! Why not a migration crate: the edge's schema moves forward only, in one process, and
//! `user_version` is SQLite's own slot for exactly this; each step runs in a transaction.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: the spine
    "CREATE TABLE node (id INTEGER PRIMARY KEY CHECK (id = 1), node_id TEXT NOT NULL);
     CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
     INSERT INTO counters (name, value) VALUES ('order_number', 0), ('acked_through_seq', 0);
     CREATE TABLE catalog_items (id TEXT PRIMARY KEY, name TEXT NOT NULL, doc TEXT NOT NULL);
     CREATE TABLE devices (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL, disabled_at_ms INTEGER);
     CREATE TABLE orders (
        id TEXT PRIMARY KEY, number INTEGER NOT NULL, state TEXT NOT NULL, doc TEXT NOT NULL,
        updated_at_ms INTEGER NOT NULL);
     CREATE INDEX orders_by_number ON orders (number);
     CREATE TABLE ops (
        seq INTEGER PRIMARY KEY, kind TEXT NOT NULL,
        hlc_wall_ms INTEGER NOT NULL, hlc_logical INTEGER NOT NULL,
        prev_hash BLOB NOT NULL, hash BLOB NOT NULL, body BLOB NOT NULL,
        created_at_ms INTEGER NOT NULL);
     CREATE TABLE enrollment (
        id INTEGER PRIMARY KEY CHECK (id = 1), hub_addr TEXT NOT NULL,
        tenant_id TEXT NOT NULL, tenant_slug TEXT NOT NULL, outlet_id TEXT NOT NULL,
        outlet_code TEXT NOT NULL, outlet_name TEXT NOT NULL, currency TEXT NOT NULL,
        timezone TEXT NOT NULL, device_cert_der BLOB NOT NULL, device_key_der BLOB NOT NULL,
        ca_cert_der BLOB NOT NULL, enrolled_at_ms INTEGER NOT NULL);",
    // 2: the downstream feed cursor
    "INSERT INTO counters (name, value) VALUES ('feed_through_seq', 0);",
    // 3: staff, sessions, audit trail, device kinds and pairing codes, kitchen, live events,
    // printers and the print queue
    "ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'terminal';
     ALTER TABLE devices ADD COLUMN removed_at_ms INTEGER;
     CREATE TABLE staff (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, pin_hash TEXT NOT NULL,
        origin TEXT NOT NULL, created_at_ms INTEGER NOT NULL, disabled_at_ms INTEGER,
        failed_pin_attempts INTEGER NOT NULL DEFAULT 0, locked_until_ms INTEGER);
     CREATE TABLE staff_sessions (
        id TEXT PRIMARY KEY, staff_id TEXT NOT NULL REFERENCES staff (id),
        device_id TEXT NOT NULL REFERENCES devices (id),
        started_at_ms INTEGER NOT NULL, last_seen_at_ms INTEGER NOT NULL,
        ended_at_ms INTEGER, end_reason TEXT, ended_by_staff_id TEXT);
     CREATE UNIQUE INDEX staff_sessions_one_open_per_device
        ON staff_sessions (device_id) WHERE ended_at_ms IS NULL;
     CREATE TABLE audit_log (
        id TEXT PRIMARY KEY, action TEXT NOT NULL, actor_staff_id TEXT, approver_staff_id TEXT,
        device_id TEXT NOT NULL, subject TEXT NOT NULL, reason TEXT NOT NULL,
        at_ms INTEGER NOT NULL, op_seq INTEGER NOT NULL);
     CREATE TABLE pairing_codes (
        code_hash BLOB PRIMARY KEY, kind TEXT NOT NULL, created_by_staff_id TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL, used_at_ms INTEGER);
     INSERT INTO counters (name, value) VALUES ('pairing_failures', 0);
     CREATE TABLE kitchen_routes (
        match_kind TEXT NOT NULL, match_value TEXT NOT NULL, station TEXT NOT NULL,
        PRIMARY KEY (match_kind, match_value, station));
     CREATE TABLE kitchen_tickets (
        id TEXT PRIMARY KEY, order_id TEXT NOT NULL, order_number INTEGER NOT NULL,
        station TEXT NOT NULL, state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0,
        remake_of TEXT, lines TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
        bumped_at_ms INTEGER);
     CREATE INDEX kitchen_tickets_by_order ON kitchen_tickets (order_id);
     CREATE INDEX kitchen_tickets_by_state ON kitchen_tickets (state, station);
     CREATE TABLE kitchen_sent_lines (
        order_id TEXT NOT NULL, line_id TEXT NOT NULL, sent_at_ms INTEGER NOT NULL,
        PRIMARY KEY (order_id, line_id));
     CREATE TABLE kitchen_ready_orders (order_id TEXT PRIMARY KEY, ready_at_ms INTEGER NOT NULL);
     CREATE TABLE stream_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL,
        at_ms INTEGER NOT NULL);
     CREATE TABLE printers (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, addr TEXT NOT NULL, role TEXT NOT NULL,
        station TEXT, created_at_ms INTEGER NOT NULL);
     CREATE TABLE print_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, printer_id TEXT NOT NULL REFERENCES printers (id),
        kind TEXT NOT NULL, subject TEXT NOT NULL, payload BLOB NOT NULL, state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at_ms INTEGER NOT NULL,
        last_error TEXT, created_at_ms INTEGER NOT NULL, done_at_ms INTEGER);
     CREATE INDEX print_jobs_due ON print_jobs (state, next_attempt_at_ms);
     CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 4: the floor plan and which order sits at which table
    "CREATE TABLE floor_tables (
        code TEXT PRIMARY KEY, area TEXT NOT NULL, seats INTEGER NOT NULL,
        position INTEGER NOT NULL);
     CREATE TABLE table_orders (
        order_id TEXT PRIMARY KEY, table_code TEXT NOT NULL, guests INTEGER NOT NULL,
        seated_at_ms INTEGER NOT NULL);
     CREATE INDEX table_orders_by_table ON table_orders (table_code);",
    // 5: bar tabs
    "CREATE TABLE tabs (
        order_id TEXT PRIMARY KEY, name TEXT NOT NULL, limit_minor INTEGER, preauth_ref TEXT,
        opened_at_ms INTEGER NOT NULL);
     CREATE INDEX tabs_by_name ON tabs (name COLLATE NOCASE);
     CREATE INDEX print_jobs_by_subject ON print_jobs (subject, kind);",
    // 6: kitchen throttling for self-service lanes
    "CREATE TABLE station_limits (
        station TEXT PRIMARY KEY, active_tickets_max INTEGER NOT NULL);",
    // 7: cash-drawer sessions; at most one not yet closed per terminal, even under races
    "CREATE TABLE drawer_sessions (
        id TEXT PRIMARY KEY, terminal_id TEXT NOT NULL, state TEXT NOT NULL, doc TEXT NOT NULL,
        opened_at_ms INTEGER NOT NULL, closed_at_ms INTEGER);
     CREATE UNIQUE INDEX drawer_one_open_per_terminal ON drawer_sessions (terminal_id)
        WHERE state <> 'closed';
     INSERT INTO counters (name, value) VALUES ('z_number', 0);",
    // 8: price books and the outlet configuration, from the hub's feed
    "CREATE TABLE price_books (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
     CREATE TABLE outlet_config (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);",
    // 9: payments collected through the hub's treasury link
    "CREATE TABLE payment_intents (
        id TEXT PRIMARY KEY, order_id TEXT NOT NULL, method TEXT NOT NULL,
        amount_minor INTEGER NOT NULL, state TEXT NOT NULL, provider_ref TEXT, receipt TEXT,
        detail TEXT NOT NULL DEFAULT '', attention TEXT, terminal_id TEXT,
        created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
     CREATE INDEX payment_intents_by_order ON payment_intents (order_id);",
    // 10: orders placed in the cloud for this outlet, and what their cancels became
    "CREATE TABLE cloud_orders (
        order_id TEXT PRIMARY KEY, channel TEXT NOT NULL, external_ref TEXT NOT NULL,
        customer_name TEXT, customer_phone TEXT, notes TEXT, placed_at_ms INTEGER NOT NULL,
        cancel_state TEXT, cancel_outcome TEXT, cancel_reason TEXT,
        cancel_requested_at_ms INTEGER, cancel_resolved_at_ms INTEGER);
     CREATE INDEX cloud_orders_by_placed ON cloud_orders (placed_at_ms);",
    // 11: gift cards: the hub's allowance per card, and what this outlet redeemed
    "CREATE TABLE gift_card_allowances (
        code TEXT PRIMARY KEY, currency TEXT NOT NULL, active INTEGER NOT NULL,
        expires_at_ms INTEGER, allowance_minor INTEGER NOT NULL,
        outlet_redeemed_minor INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
     CREATE TABLE gift_card_redemptions (
        id TEXT PRIMARY KEY, code TEXT NOT NULL, order_id TEXT NOT NULL,
        amount_minor INTEGER NOT NULL, at_ms INTEGER NOT NULL);
     CREATE INDEX gift_card_redemptions_by_code ON gift_card_redemptions (code);",
    // 12: automerge documents the hub also edits (the floor plan), saved whole
    "CREATE TABLE docs (kind TEXT PRIMARY KEY, bytes BLOB NOT NULL, updated_at_ms INTEGER NOT NULL);",
    // 13: the tenant's promotions as the hub sent them, and the codes entered on each order
    "CREATE TABLE promotions (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
     CREATE TABLE order_codes (
        order_id TEXT NOT NULL, code TEXT NOT NULL, entered_at_ms INTEGER NOT NULL,
        PRIMARY KEY (order_id, code));",
    // 14: the modifier groups each catalog item offers, as the hub sent them
    "CREATE TABLE item_modifiers (item_id TEXT PRIMARY KEY, doc TEXT NOT NULL);",
    // 15: who serves each order (its server or bartender)
    "CREATE TABLE order_servers (
        order_id TEXT PRIMARY KEY, staff_id TEXT NOT NULL, assigned_at_ms INTEGER NOT NULL);
     CREATE INDEX order_servers_by_staff ON order_servers (staff_id);",
    // 16: tip pools paid out, one row per closed period
    "CREATE TABLE tip_payouts (
        id TEXT PRIMARY KEY, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL,
        tips_minor INTEGER NOT NULL, shares TEXT NOT NULL, by_staff_id TEXT NOT NULL,
        paid_at_ms INTEGER NOT NULL);
     CREATE INDEX tip_payouts_by_period ON tip_payouts (from_ms, to_ms);",
    // 17: the combos the outlet sells, as the hub sent them
    "CREATE TABLE combos (id TEXT PRIMARY KEY, doc TEXT NOT NULL);",
    // 18: loyalty: the tenant's program, the hub's allowance per member and what this outlet
    // burned, the member each order earns for; vouchers and what this outlet took
    "CREATE TABLE loyalty_program (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);
     CREATE TABLE loyalty_members (
        code TEXT PRIMARY KEY, name TEXT NOT NULL, active INTEGER NOT NULL,
        balance_points INTEGER NOT NULL, allowance_points INTEGER NOT NULL,
        outlet_burned_points INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL);
     CREATE TABLE loyalty_burns (
        id TEXT PRIMARY KEY, code TEXT NOT NULL, order_id TEXT NOT NULL,
        points INTEGER NOT NULL, amount_minor INTEGER NOT NULL, at_ms INTEGER NOT NULL);
     CREATE INDEX loyalty_burns_by_code ON loyalty_burns (code);
     CREATE TABLE order_members (
        order_id TEXT PRIMARY KEY, code TEXT NOT NULL, attached_at_ms INTEGER NOT NULL);
     CREATE TABLE vouchers (
        code TEXT PRIMARY KEY, currency TEXT NOT NULL, value_minor INTEGER NOT NULL,
        active INTEGER NOT NULL, expires_at_ms INTEGER, updated_at_ms INTEGER NOT NULL);
     CREATE TABLE voucher_redemptions (
        id TEXT PRIMARY KEY, code TEXT NOT NULL, order_id TEXT NOT NULL,
        amount_minor INTEGER NOT NULL, at_ms INTEGER NOT NULL);
     CREATE INDEX voucher_redemptions_by_code ON voucher_redemptions (code);",
    // 19: the outlet's closed business days: numbered Z reports, never updated
    "CREATE TABLE day_reports (
        z_number INTEGER PRIMARY KEY, from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL,
        currency TEXT NOT NULL, summary TEXT NOT NULL, closed_by TEXT NOT NULL,
        closed_at_ms INTEGER NOT NULL);
     CREATE INDEX orders_by_updated ON orders (updated_at_ms);",
    // 20: gift-card holds asked of the hub for more than the outlet may take offline
    "CREATE TABLE gift_card_holds (
        id TEXT PRIMARY KEY, code TEXT NOT NULL, order_id TEXT NOT NULL,
        amount_minor INTEGER NOT NULL, terminal_id TEXT NOT NULL, state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '', requested_at_ms INTEGER NOT NULL,
        decided_at_ms INTEGER);",
    // 21: each cloud order's notes document (automerge, saved whole), which the hub also edits
    "CREATE TABLE order_docs (order_id TEXT PRIMARY KEY, bytes BLOB NOT NULL,
        updated_at_ms INTEGER NOT NULL);",
    // 22: a tip payout handed out in cash names the drawer session it was paid from
    "ALTER TABLE tip_payouts ADD COLUMN drawer_session_id TEXT;",
    // 23: the treasury's last word on refunds given here on card or M-Pesa, from the hub
    "CREATE TABLE refund_outcomes (
        refund_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, processed INTEGER NOT NULL,
        detail TEXT NOT NULL, settled_at_ms INTEGER NOT NULL, received_at_ms INTEGER NOT NULL);
     CREATE INDEX refund_outcomes_by_order ON refund_outcomes (order_id);",
    // 24: promotion uses: which orders here redeemed which promotion (money taken; kept as
    // orders are saved, filled from the orders already here), and the hub's count of the other
    // outlets' uses
    "CREATE TABLE promotion_uses (
        order_id TEXT NOT NULL, promotion_id TEXT NOT NULL, PRIMARY KEY (order_id, promotion_id));
     CREATE INDEX promotion_uses_by_promotion ON promotion_uses (promotion_id);
     CREATE TABLE promotion_uses_elsewhere (
        promotion_id TEXT PRIMARY KEY, uses INTEGER NOT NULL);
     INSERT OR IGNORE INTO promotion_uses (order_id, promotion_id)
        SELECT o.id, json_extract(p.value, '$.promotion_id')
        FROM orders o, json_each(o.doc, '$.promotions') p
        WHERE o.state IN ('partially_paid', 'paid', 'closed');",
];

pub fn apply(connection: &mut Connection) -> Result<(), rusqlite::Error> {
    let current: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = connection.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    // The node id is minted once, on first open, and never changes: it is the origin of every
    // op this store writes.
    connection.execute(
        "INSERT OR IGNORE INTO node (id, node_id) VALUES (1, ?1)",
        [uuid::Uuid::now_v7().to_string()],
    )?;
    Ok(())
}
