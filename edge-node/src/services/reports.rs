//! The outlet's sales reports: the X report of the day so far, the Z report that closes it, and
//! the Z reports of earlier days. Reading needs `view_sales_reports`, closing `close_day`
//! (supervisors and managers).

use super::blocking;
use super::staff::{AccessError, Caller};
use crate::store::{CloseDayError, Store, StoreError, XReport, ZReport};
use shared_model::Currency;
use shared_model::staff::Action;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Close(#[from] CloseDayError),
    #[error("no Z report with that number")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn x_report(
    store: Arc<Store>,
    caller: Caller,
    now_ms: i64,
) -> Result<XReport, ReportError> {
    caller.require(Action::ViewSalesReports)?;
    Ok(blocking(move || store.x_report(now_ms)).await?)
}

/// Closes the business day; the Z report is answered once it is durable, and reaches the hub
/// as an op.
pub async fn close_day(
    store: Arc<Store>,
    caller: Caller,
    currency: Currency,
    now_ms: i64,
) -> Result<ZReport, ReportError> {
    let closed_by = caller.require(Action::CloseDay)?.staff_id;
    let closed = blocking(move || store.close_day(currency.code(), closed_by, now_ms)).await?;
    Ok(closed?)
}

pub async fn z_report(
    store: Arc<Store>,
    caller: Caller,
    z_number: u64,
) -> Result<ZReport, ReportError> {
    caller.require(Action::ViewSalesReports)?;
    blocking(move || store.z_report(z_number))
        .await?
        .ok_or(ReportError::NotFound)
}

pub async fn z_reports(store: Arc<Store>, caller: Caller) -> Result<Vec<ZReport>, ReportError> {
    caller.require(Action::ViewSalesReports)?;
    Ok(blocking(move || store.z_reports()).await?)
}
