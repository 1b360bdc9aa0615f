//! Printer routes: printers, the print queue, the receipt template and receipt printing.

use super::AppState;
use super::dto::{
    AddPrinterRequest, PrintJobDto, PrintReceiptRequest, PrintReceiptResponse, PrinterDto,
    ReceiptTemplateDto,
};
use super::error::{ApiError, ErrorBody};
use super::staff::{approval, uuid_path};
use crate::now_ms;
use crate::services::printing::ReceiptTemplate;
use crate::services::staff::Caller;
use crate::store::Printer;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use shared_model::OrderId;

fn printer_dto(printer: Printer) -> PrinterDto {
    PrinterDto {
        id: printer.id.to_string(),
        name: printer.name,
        addr: printer.addr,
        role: printer.role.as_str().to_owned(),
        station: printer.station,
    }
}

#[utoipa::path(post, path = "/v1/printers", request_body = AddPrinterRequest,
    responses((status = 201, body = PrinterDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<AddPrinterRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PrinterDto>), ApiError> {
    let Json(request) = body?;
    let printer = state
        .printing
        .add_printer(
            &caller,
            request.name,
            request.addr,
            request.role,
            request.station,
            now_ms(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(printer_dto(printer))))
}

#[utoipa::path(get, path = "/v1/printers",
    responses((status = 200, body = [PrinterDto])), security(("device_token" = [])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<PrinterDto>>, ApiError> {
    let printers = state.printing.printers().await?;
    Ok(Json(printers.into_iter().map(printer_dto).collect()))
}

#[utoipa::path(get, path = "/v1/print-jobs",
    responses((status = 200, body = [PrintJobDto])), security(("device_token" = [])))]
pub async fn jobs(State(state): State<AppState>) -> Result<Json<Vec<PrintJobDto>>, ApiError> {
    let jobs = state.printing.jobs().await?;
    Ok(Json(
        jobs.into_iter()
            .map(|job| PrintJobDto {
                id: job.id,
                printer_id: job.printer_id.to_string(),
                kind: job.kind,
                subject: job.subject,
                state: job.state.as_str().to_owned(),
                attempts: job.attempts,
                next_attempt_at_ms: job.next_attempt_at_ms,
                last_error: job.last_error,
            })
            .collect(),
    ))
}

fn template_dto(template: ReceiptTemplate) -> ReceiptTemplateDto {
    ReceiptTemplateDto {
        header_lines: template.header_lines,
        footer_lines: template.footer_lines,
        fiscal_lines: template.fiscal_lines,
    }
}

#[utoipa::path(get, path = "/v1/settings/receipt-template",
    responses((status = 200, body = ReceiptTemplateDto)), security(("device_token" = [])))]
pub async fn template(State(state): State<AppState>) -> Result<Json<ReceiptTemplateDto>, ApiError> {
    Ok(Json(template_dto(state.printing.template().await?)))
}

#[utoipa::path(put, path = "/v1/settings/receipt-template", request_body = ReceiptTemplateDto,
    responses((status = 200, body = ReceiptTemplateDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn put_template(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<ReceiptTemplateDto>, JsonRejection>,
) -> Result<Json<ReceiptTemplateDto>, ApiError> {
    let Json(request) = body?;
    let template = ReceiptTemplate {
        header_lines: request.header_lines,
        footer_lines: request.footer_lines,
        fiscal_lines: request.fiscal_lines,
    };
    Ok(Json(template_dto(
        state.printing.put_template(&caller, template).await?,
    )))
}

/// Prints the receipt on the receipt printer. Printing a paid order's receipt a second time is
/// a reprint: it needs `reason` and the permission or an `approval`, and is audited.
#[utoipa::path(post, path = "/v1/orders/{id}/receipt/print", params(("id" = String, Path)),
    request_body = PrintReceiptRequest,
    responses((status = 202, body = PrintReceiptResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("device_token" = [])))]
pub async fn print_receipt(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PrintReceiptRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PrintReceiptResponse>), ApiError> {
    let order_id = OrderId(uuid_path(path, "order_not_found", "order")?);
    let Json(request) = body?;
    let approval = approval(request.approval)?;
    let reprint = state
        .printing
        .print_receipt(caller, order_id, request.reason, approval, now_ms())
        .await?;
    if reprint {
        state.sync.notify_new_ops();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(PrintReceiptResponse {
            queued: true,
            reprint,
        }),
    ))
}
