//! Card and M-Pesa payments collected through the hub's treasury link.
//!
//! The till asks; the request is an op, so it reaches the hub exactly once; the hub calls the
//! treasury and sends each answer back over the feed, where the store turns a capture into a
//! payment on the order. An STK push needs the link: with the hub out of reach the request is
//! refused at once, so the cashier can turn to another tender instead of waiting.

use crate::store::{
    IntentRequestError, OfflineCardError, OfflineCardRisk, PaymentIntent, ReceiptError, Store,
    StoreError,
};
use shared_model::Order;
use shared_model::OrderId;
use shared_model::Tender;
use shared_model::outlet::{OfflineCardLimits, OfflineCardRefusal};
use shared_model::payment_intent::normalise_msisdn;
use shared_model::payment_intent::valid_mpesa_receipt;
use std::sync::Arc;
use sync_protocol::op::PaymentMethodV1;
use thiserror::Error;
use uuid::Uuid;

/// How the terminal asked to be paid.
#[derive(Debug, Clone)]
pub enum MethodRequest {
    MpesaStk { phone: String },
    Card { terminal_ref: String },
}

#[derive(Debug, Error)]
pub enum PaymentIntentError {
    #[error(transparent)]
    Request(#[from] IntentRequestError),
    #[error("not a Kenyan mobile number (07…, 01…, +254…)")]
    BadPhone,
    #[error("terminal_ref must be 1 to 64 printable characters")]
    BadTerminalRef,
    #[error("this outlet does not take that tender (see its configuration at the hub)")]
    TenderNotAccepted,
    #[error(
        "the hub is out of reach: an M-Pesa prompt or card payment needs the link. Take cash, or \
         record the customer's M-Pesa receipt code"
    )]
    HubUnreachable,
    #[error("no such payment intent")]
    NotFound,
    #[error("an M-Pesa receipt code is 10 letters and digits, as on the customer's SMS")]
    BadReceipt,
    #[error("this M-Pesa receipt code was already used for a payment here")]
    ReceiptUsed,
    #[error("{0}")]
    BadCardField(&'static str),
    #[error(transparent)]
    OfflineLimit(#[from] OfflineCardRefusal),
    #[error("this offline reference was already recorded")]
    OfflineRefUsed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Asks the hub to collect `amount_minor` on `order_id`. `link_up`: whether the edge is
/// connected to the hub right now.
pub async fn request(
    store: Arc<Store>,
    order_id: OrderId,
    method: MethodRequest,
    amount_minor: i64,
    terminal: Uuid,
    link_up: bool,
    now_ms: i64,
) -> Result<PaymentIntent, PaymentIntentError> {
    let (wire, tender) = match method {
        MethodRequest::MpesaStk { phone } => (
            PaymentMethodV1::MpesaStk {
                msisdn: normalise_msisdn(&phone).ok_or(PaymentIntentError::BadPhone)?,
            },
            Tender::Mpesa,
        ),
        MethodRequest::Card { terminal_ref } => {
            let terminal_ref = terminal_ref.trim().to_owned();
            if terminal_ref.is_empty()
                || terminal_ref.chars().count() > 64
                || terminal_ref.chars().any(char::is_control)
            {
                return Err(PaymentIntentError::BadTerminalRef);
            }
            (PaymentMethodV1::Card { terminal_ref }, Tender::Card)
        }
    };
    super::blocking_with(move || {
        if let Some(config) = store.outlet_config()?
            && !config.accepts(tender)
        {
            return Err(PaymentIntentError::TenderNotAccepted);
        }
        if !link_up {
            return Err(PaymentIntentError::HubUnreachable);
        }
        Ok(store.request_payment_intent(order_id, &wire, amount_minor, terminal, now_ms)??)
    })
    .await
}

pub async fn get(store: Arc<Store>, id: Uuid) -> Result<PaymentIntent, PaymentIntentError> {
    super::blocking_with(move || {
        store
            .payment_intent(id)?
            .ok_or(PaymentIntentError::NotFound)
    })
    .await
}

pub async fn needing_attention(
    store: Arc<Store>,
) -> Result<Vec<PaymentIntent>, PaymentIntentError> {
    super::blocking_with(move || Ok(store.payment_intents_needing_attention()?)).await
}

/// The customer paid the till from their own phone: the payment goes on the order now (no link
/// needed) and is confirmed or flagged against the treasury's records once the hub can ask.
pub async fn record_receipt(
    store: Arc<Store>,
    order_id: OrderId,
    receipt_code: &str,
    amount_minor: i64,
    terminal: Uuid,
    now_ms: i64,
) -> Result<(Order, PaymentIntent), PaymentIntentError> {
    let code = receipt_code.trim().to_ascii_uppercase();
    if !valid_mpesa_receipt(&code) {
        return Err(PaymentIntentError::BadReceipt);
    }
    super::blocking_with(move || {
        if let Some(config) = store.outlet_config()?
            && !config.accepts(Tender::Mpesa)
        {
            return Err(PaymentIntentError::TenderNotAccepted);
        }
        match store.record_mpesa_receipt(order_id, &code, amount_minor, terminal, now_ms)? {
            Ok(done) => Ok(done),
            Err(ReceiptError::Request(error)) => Err(error.into()),
            Err(ReceiptError::AlreadyUsed) => Err(PaymentIntentError::ReceiptUsed),
        }
    })
    .await
}

/// The card terminal approved a card offline (store-and-forward) while the link was down: the
/// payment goes on the order within the outlet's offline limits, and is reconciled with the
/// processor once the hub can ask. Only the reference, last four digits and brand are taken.
#[allow(clippy::too_many_arguments)]
pub async fn record_offline_card(
    store: Arc<Store>,
    order_id: OrderId,
    offline_ref: String,
    last4: String,
    brand: String,
    amount_minor: i64,
    terminal: Uuid,
    now_ms: i64,
) -> Result<(Order, PaymentIntent), PaymentIntentError> {
    let offline_ref = offline_ref.trim().to_owned();
    if offline_ref.is_empty()
        || offline_ref.chars().count() > 64
        || offline_ref.chars().any(char::is_control)
    {
        return Err(PaymentIntentError::BadCardField(
            "offline_ref must be 1 to 64 printable characters",
        ));
    }
    if last4.len() != 4 || !last4.chars().all(|c| c.is_ascii_digit()) {
        return Err(PaymentIntentError::BadCardField(
            "last4 must be the card's last four digits",
        ));
    }
    let brand = brand.trim().to_ascii_lowercase();
    if ![
        "visa",
        "mastercard",
        "amex",
        "unionpay",
        "discover",
        "jcb",
        "other",
    ]
    .contains(&brand.as_str())
    {
        return Err(PaymentIntentError::BadCardField(
            "brand must be visa, mastercard, amex, unionpay, discover, jcb or other",
        ));
    }
    super::blocking_with(move || {
        let config = store.outlet_config()?;
        if let Some(config) = &config
            && !config.accepts(Tender::Card)
        {
            return Err(PaymentIntentError::TenderNotAccepted);
        }
        let limits = config.map_or(OfflineCardLimits::DEFAULT, |c| c.offline_card_limits());
        match store.record_offline_card(
            order_id,
            &offline_ref,
            &last4,
            &brand,
            amount_minor,
            limits,
            terminal,
            now_ms,
        )? {
            Ok(done) => Ok(done),
            Err(OfflineCardError::Request(error)) => Err(error.into()),
            Err(OfflineCardError::Limit(refusal)) => Err(refusal.into()),
            Err(OfflineCardError::AlreadyRecorded) => Err(PaymentIntentError::OfflineRefUsed),
        }
    })
    .await
}

/// The outlet's exposure on card payments taken offline, with the limits in force.
pub async fn offline_card_risk(
    store: Arc<Store>,
    now_ms: i64,
) -> Result<(OfflineCardRisk, OfflineCardLimits), PaymentIntentError> {
    super::blocking_with(move || {
        let limits = store
            .outlet_config()?
            .map_or(OfflineCardLimits::DEFAULT, |c| c.offline_card_limits());
        Ok((
            store.offline_card_risk(limits.max_age_ms(), now_ms)?,
            limits,
        ))
    })
    .await
}
