//! Orders placed in the cloud for an outlet: priced by the outlet's own catalog and price books
//! (what the till would charge, on the outlet's clock), stored and sent down the outlet's feed
//! in one transaction; and cancels sent after them.

use crate::events;
use crate::store::StoreError;
use crate::store::cloud_orders::{self, CancelRequest, NewCloudOrder, PlaceError};
use crate::store::tenants::Outlet;
use shared_model::cloud_order::CloudChannel;
use shared_model::order::{LineRequest, LineRequestError, PaymentError};
use shared_model::outlet::{OutletConfig, fixed_offset_minutes};
use shared_model::{
    Currency, LineId, Order, OrderEvent, OrderId, PaymentId, PricingRules, Quantity, Tender,
};
use sync_protocol::feed::CloudOrderV1;
use sync_protocol::op::OrderEventV1;
use thiserror::Error;
use uuid::Uuid;

/// Most lines on one cloud order. Why 100: a large catering order; beyond that it is a
/// wholesale order, not a till's.
pub const CLOUD_ORDER_LINES_MAX: usize = 100;
/// Longest external reference, customer name, phone number and notes.
pub const EXTERNAL_REF_CHARS_MAX: usize = 64;
pub const CUSTOMER_NAME_CHARS_MAX: usize = 80;
pub const CUSTOMER_PHONE_CHARS_MAX: usize = 20;
pub const NOTES_CHARS_MAX: usize = 500;
/// Longest email address (RFC 5321's limit on a path).
pub const CUSTOMER_EMAIL_CHARS_MAX: usize = 254;
/// Longest push token. Why 512: APNs and FCM tokens are well under it.
pub const PUSH_TOKEN_CHARS_MAX: usize = 512;
/// The channels a customer may be told by (the notifications service's).
pub const NOTIFY_CHANNELS: [&str; 3] = ["sms", "email", "push"];
pub const CANCEL_REASON_CHARS_MAX: usize = 200;

/// One line as the web shop or platform asks for it.
#[derive(Debug, Clone)]
pub struct PlaceLine {
    pub item_id: String,
    pub quantity: Quantity,
    pub instructions: Option<String>,
}

/// A payment the customer already made online (through the shop's own checkout).
#[derive(Debug, Clone)]
pub struct Prepaid {
    pub tender: Tender,
    pub amount_minor: i64,
}

#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub channel: CloudChannel,
    pub external_ref: String,
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
    /// Kept at the hub, for the "order ready" message.
    pub customer_email: Option<String>,
    pub customer_push_token: Option<String>,
    /// Channels to tell the customer by, in order of preference (`sms`, `email`, `push`).
    pub notify_by: Option<Vec<String>>,
    /// A delivery order's destination (kept at the hub for logistics).
    pub delivery_address: Option<String>,
    pub notes: Option<String>,
    pub lines: Vec<PlaceLine>,
    pub prepaid: Option<Prepaid>,
}

/// Why a cloud order was refused; nothing was stored. Fields name the request's JSON path.
#[derive(Debug, Error)]
pub enum PlaceOrderError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("item {item_id} is not in this outlet's catalog")]
    UnknownItem { field: String, item_id: String },
    #[error("{field}: {source}")]
    Line {
        field: String,
        source: LineRequestError,
    },
    #[error(
        "the prepaid amount must equal the order's total of {total_minor} as this outlet prices it"
    )]
    PrepaidMismatch { total_minor: i64 },
    #[error("an order with external reference {0} already exists")]
    DuplicateExternalRef(String),
    #[error("the outlet is closed now (see its operating hours)")]
    OutletClosed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> PlaceOrderError {
    PlaceOrderError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn check_text(
    field: &str,
    text: &Option<String>,
    chars_max: usize,
) -> Result<Option<String>, PlaceOrderError> {
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > chars_max => {
            Err(invalid(field, format!("at most {chars_max} characters")))
        }
        Some(text) if text.chars().any(char::is_control) => {
            Err(invalid(field, "control characters are not allowed"))
        }
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// A placed order: what the hub stored and the feed position that carries it to the outlet.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: Order,
    pub feed_through_seq: u64,
}

/// Prices and stores a cloud order for `outlet` inside `tx` (the caller commits).
pub async fn place(
    tx: &mut sqlx::PgConnection,
    tenant_slug: &str,
    outlet: &Outlet,
    request: &PlaceOrder,
    now_ms: i64,
) -> Result<Placed, PlaceOrderError> {
    let external_ref = check_text(
        "external_ref",
        &Some(request.external_ref.clone()),
        EXTERNAL_REF_CHARS_MAX,
    )?
    .ok_or_else(|| invalid("external_ref", "required: the shop's own order reference"))?;
    let customer_name = check_text(
        "customer.name",
        &request.customer_name,
        CUSTOMER_NAME_CHARS_MAX,
    )?;
    let customer_phone = check_text(
        "customer.phone",
        &request.customer_phone,
        CUSTOMER_PHONE_CHARS_MAX,
    )?;
    let customer_email = check_text(
        "customer.email",
        &request.customer_email,
        CUSTOMER_EMAIL_CHARS_MAX,
    )?;
    if let Some(email) = &customer_email {
        let shaped = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(char::is_whitespace);
        if !shaped {
            return Err(invalid("customer.email", "an email address, name@domain"));
        }
    }
    let customer_push_token = check_text(
        "customer.push_token",
        &request.customer_push_token,
        PUSH_TOKEN_CHARS_MAX,
    )?;
    let notify_by = match &request.notify_by {
        None => None,
        Some(channels) => {
            let mut chosen: Vec<String> = Vec::with_capacity(channels.len());
            for (index, channel) in channels.iter().enumerate() {
                if !NOTIFY_CHANNELS.contains(&channel.as_str()) || chosen.contains(channel) {
                    return Err(invalid(
                        format!("customer.notify_by[{index}]"),
                        "sms, email or push, each at most once",
                    ));
                }
                chosen.push(channel.clone());
            }
            if chosen.is_empty() {
                return Err(invalid(
                    "customer.notify_by",
                    "name at least one channel, or leave it out",
                ));
            }
            Some(chosen)
        }
    };
    let notes = check_text("notes", &request.notes, NOTES_CHARS_MAX)?;
    let delivery_address = check_text(
        "customer.address",
        &request.delivery_address,
        NOTES_CHARS_MAX,
    )?;
    if request.lines.is_empty() || request.lines.len() > CLOUD_ORDER_LINES_MAX {
        return Err(invalid(
            "lines",
            format!("between 1 and {CLOUD_ORDER_LINES_MAX} lines"),
        ));
    }
    let currency = Currency::parse(&outlet.currency)
        .map_err(|e| StoreError::Corrupt(format!("outlet currency: {e}")))?;

    let item_ids: Vec<String> = request.lines.iter().map(|l| l.item_id.clone()).collect();
    let catalog =
        crate::store::feed::catalog_items(&mut *tx, outlet.tenant_id, outlet.id, &item_ids).await?;
    let config =
        match crate::store::outlet_settings::outlet_config(&mut *tx, outlet.tenant_id, outlet.id)
            .await?
        {
            Some((config, _)) => config,
            None => OutletConfig::in_zone(
                &outlet.timezone,
                fixed_offset_minutes(&outlet.timezone).unwrap_or(0),
            ),
        };
    if !config.is_open_at(now_ms) {
        return Err(PlaceOrderError::OutletClosed);
    }
    let rules = PricingRules {
        price_books: crate::store::outlet_settings::price_books(
            &mut *tx,
            outlet.tenant_id,
            outlet.id,
        )
        .await?,
        ..PricingRules::default()
    };
    let order_type = request.channel.order_type();
    let mut context = config.price_context(Some(&outlet.code), now_ms);
    context.channel = Some(order_type.price_channel());

    let number = cloud_orders::next_number(&mut *tx, outlet.tenant_id, outlet.id).await?;
    let order_id = OrderId(Uuid::now_v7());
    let opened = OrderEvent::Opened {
        order_id,
        number,
        order_type,
        currency,
        opened_at_ms: now_ms,
    };
    let mut order = Order::from_opened(&opened)
        .ok_or_else(|| StoreError::Corrupt("an opening event did not open".into()))?;
    let mut facts = vec![opened];
    // Taxed as the outlet taxes its own orders.
    if let Some(policy) = config
        .tax_policy
        .filter(|policy| *policy != shared_model::tax::TaxPolicy::default())
    {
        let event = order.set_tax_policy(policy).map_err(|error| {
            StoreError::Corrupt(format!("a new order refused its tax policy: {error}"))
        })?;
        apply(&mut order, &event)?;
        facts.push(event);
    }
    for (index, line) in request.lines.iter().enumerate() {
        let field = format!("lines[{index}]");
        let item = catalog
            .get(&line.item_id)
            .ok_or_else(|| PlaceOrderError::UnknownItem {
                field: format!("{field}.item_id"),
                item_id: line.item_id.clone(),
            })?;
        let mut line_request = LineRequest::new(line.quantity);
        line_request.instructions = line.instructions.clone();
        let event = order
            .add_line_with(
                LineId(Uuid::now_v7()),
                item,
                &line_request,
                &rules,
                &context,
            )
            .map_err(|source| PlaceOrderError::Line {
                field: field.clone(),
                source,
            })?;
        apply(&mut order, &event)?;
        facts.push(event);
    }
    if let Some(prepaid) = &request.prepaid {
        let total_minor = order.totals().total_minor;
        if prepaid.amount_minor != total_minor {
            return Err(PlaceOrderError::PrepaidMismatch { total_minor });
        }
        let event = order
            .take_payment(
                PaymentId(Uuid::now_v7()),
                prepaid.tender,
                prepaid.amount_minor,
                now_ms,
            )
            .map_err(|error: PaymentError| invalid("prepaid", error.to_string()))?;
        apply(&mut order, &event)?;
        facts.push(event);
    }

    let wire = CloudOrderV1 {
        order_id: *order_id.0.as_bytes(),
        channel: request.channel.into(),
        external_ref,
        customer_name,
        customer_phone,
        notes,
        events: facts.iter().map(OrderEventV1::from).collect(),
    };
    let created = events::order_events(tenant_slug, &outlet.code, &order, true, None);
    let feed_through_seq = cloud_orders::insert(
        &mut *tx,
        &NewCloudOrder {
            tenant: outlet.tenant_id,
            outlet_id: outlet.id,
            order: &order,
            channel: request.channel,
            delivery_address: delivery_address.as_deref(),
            contact: cloud_orders::CustomerContact {
                email: customer_email.as_deref(),
                push_token: customer_push_token.as_deref(),
                notify_by: notify_by.as_deref(),
            },
            wire: &wire,
            events: &created,
        },
    )
    .await
    .map_err(|error| match error {
        PlaceError::DuplicateExternalRef(reference) => {
            PlaceOrderError::DuplicateExternalRef(reference)
        }
        PlaceError::Store(error) => PlaceOrderError::Store(error),
    })?;
    Ok(Placed {
        order,
        feed_through_seq,
    })
}

fn apply(order: &mut Order, event: &OrderEvent) -> Result<(), StoreError> {
    order
        .apply(event)
        .map_err(|e| StoreError::Corrupt(format!("a decided event does not apply: {e}")))
}

/// Why a cancel was not sent.
#[derive(Debug, Error)]
pub enum CancelError {
    #[error("{0}")]
    BadReason(String),
    #[error("order not found")]
    NotFound,
    #[error("this order was taken at the outlet, not placed in the cloud: void it at the till")]
    NotCloudOrder,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Asks the outlet to cancel a cloud order. The outlet decides by the cancel rule against the
/// order as it stands (a paid order becomes a refund request), so the answer is only "sent", or
/// the state of a cancel asked before.
pub async fn cancel(
    tx: &mut sqlx::PgConnection,
    tenant: crate::store::TenantId,
    order_id: Uuid,
    reason: &str,
    now_ms: i64,
) -> Result<CancelRequest, CancelError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > CANCEL_REASON_CHARS_MAX {
        return Err(CancelError::BadReason(format!(
            "a reason of 1 to {CANCEL_REASON_CHARS_MAX} characters is required"
        )));
    }
    if reason.chars().any(char::is_control) {
        return Err(CancelError::BadReason(
            "control characters are not allowed".into(),
        ));
    }
    match cloud_orders::request_cancel(tx, tenant, order_id, reason, now_ms).await? {
        CancelRequest::NotFound => Err(CancelError::NotFound),
        CancelRequest::NotCloudOrder => Err(CancelError::NotCloudOrder),
        other => Ok(other),
    }
}
