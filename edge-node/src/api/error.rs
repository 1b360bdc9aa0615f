//! API errors: one enum, mapped to status codes in one place, always with a machine code.

use crate::services::devices::PairError;
use crate::services::kitchen::KitchenError;
use crate::services::orders::OrderError;
use crate::services::printing::PrintError;
use crate::services::staff::{AccessError, StaffError};
use crate::services::tables::TableError;
use crate::store::StoreError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared_model::staff::AuthorizeError;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, stable across versions (e.g. `order_not_found`).
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &str,
        message: impl Into<String>,
        field: Option<&str>,
    ) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                field: field.map(str::to_owned),
            },
        }
    }

    pub fn not_found(message: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message, None)
    }

    pub fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message, None)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            message,
            Some(field),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = %self.body.code, message = %self.body.message, "request failed");
        }
        (self.status, Json(self.body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the edge could not complete the request; nothing was changed",
            None,
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match rejection {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
            // Well-formed JSON of the wrong shape (missing or unknown fields, wrong types).
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "invalid_body"
        };
        ApiError::new(status, code, rejection.body_text(), None)
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            rejection.body_text(),
            None,
        )
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        use shared_model::order::{AddLineError, PaymentError, RefundError, VoidError};
        let message = error.to_string();
        let conflict =
            |code: &str| ApiError::new(StatusCode::CONFLICT, code, message.clone(), None);
        match error {
            OrderError::Store(store) => ApiError::from(store),
            OrderError::Access(access) => ApiError::from(access),
            OrderError::TabLimit { .. } => conflict("tab_limit_exceeded"),
            OrderError::Discount(discount) => {
                use shared_model::order::DiscountError;
                match discount {
                    DiscountError::NotOpen(_) => conflict("order_not_open"),
                    DiscountError::UnknownLine => ApiError::invalid("line_id", message),
                    DiscountError::BadReason => ApiError::invalid("reason", message),
                    DiscountError::BadAmount => ApiError::invalid("percent_bps", message),
                    DiscountError::TooMany | DiscountError::DuplicateDiscount => {
                        conflict("discount_refused")
                    }
                }
            }
            OrderError::LineVoid(void) => {
                use shared_model::order::LineVoidError;
                match void {
                    LineVoidError::NotOpen(_) => conflict("order_not_open"),
                    LineVoidError::UnknownLine => {
                        ApiError::new(StatusCode::NOT_FOUND, "line_not_found", message, None)
                    }
                    LineVoidError::AlreadyVoided => conflict("line_already_voided"),
                    LineVoidError::BadReason => ApiError::invalid("reason", message),
                    LineVoidError::Contradicts => conflict("line_void_refused"),
                }
            }
            OrderError::Merge(_) => conflict("merge_refused"),
            OrderError::MergeSourceNotFound(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "order_not_found",
                message,
                Some("from_order_id"),
            ),
            OrderError::Split(split) => {
                use shared_model::split::SplitError;
                let field = match split {
                    SplitError::BadWays => "ways",
                    SplitError::LineMissing(_)
                    | SplitError::LineTwice(_)
                    | SplitError::UnknownLine(_) => "groups",
                    SplitError::NonPositiveAmount | SplitError::AmountsExceedTotal { .. } => {
                        "amounts_minor"
                    }
                    SplitError::EmptyOrder => {
                        return conflict("order_empty");
                    }
                };
                ApiError::invalid(field, message)
            }
            OrderError::OverrideReason => ApiError::invalid("price_override_reason", message),
            OrderError::BadThreshold => ApiError::invalid("threshold_bps", message),
            OrderError::NotAServer => ApiError::invalid("server_id", message),
            OrderError::LabelNotForItem(_) => ApiError::invalid("barcode", message),
            OrderError::BadLabelScheme => ApiError::invalid("schemes", message),
            OrderError::UnknownCombo(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_combo",
                message,
                Some("combo_id"),
            ),
            OrderError::Combo(_) => ApiError::invalid("choices", message),
            OrderError::UnknownCode(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_promo_code",
                message,
                Some("code"),
            ),
            OrderError::CodeTooLate(_) => conflict("order_not_open"),
            OrderError::CodeNotEligible(_) => conflict("promotion_not_eligible"),
            OrderError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "order_not_found", message, None)
            }
            OrderError::UnknownItem(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_item",
                message,
                Some("item_id"),
            ),
            OrderError::AddLine(AddLineError::QuantityOutOfRange) => {
                ApiError::invalid("quantity", message)
            }
            OrderError::AddLine(AddLineError::NotOpen(_)) => conflict("order_not_open"),
            OrderError::AddLine(_) => conflict("line_refused"),
            OrderError::Payment(
                PaymentError::NonPositiveAmount | PaymentError::Overtender { .. },
            ) => ApiError::invalid("amount_minor", message),
            OrderError::Payment(PaymentError::NotPayable(_)) => conflict("order_not_payable"),
            OrderError::Payment(PaymentError::EmptyOrder) => conflict("order_empty"),
            OrderError::Payment(_) => conflict("payment_refused"),
            OrderError::Close(_) => conflict("order_not_paid"),
            OrderError::Void(VoidError::BadReason) => ApiError::invalid("reason", message),
            OrderError::Void(_) => conflict("order_not_voidable"),
            OrderError::Refund(RefundError::BadAmount { .. }) => {
                ApiError::invalid("amount_minor", message)
            }
            OrderError::Refund(RefundError::BadReason) => ApiError::invalid("reason", message),
            OrderError::Refund(RefundError::UnknownLine) => ApiError::invalid("line_ids", message),
            OrderError::Refund(RefundError::NotRefundable(_)) => conflict("order_not_refundable"),
            OrderError::Refund(RefundError::NotPaidInTender { .. }) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refund_to_original_tender",
                message,
                Some("tender"),
            ),
            OrderError::Refund(RefundError::VoucherNotRefundable) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "voucher_not_refundable",
                message,
                Some("tender"),
            ),
            OrderError::Refund(_) => conflict("refund_refused"),
            OrderError::Tip(shared_model::order::TipError::BadAmount) => {
                ApiError::invalid("amount_minor", message)
            }
            OrderError::Tip(shared_model::order::TipError::UnknownPayment) => {
                ApiError::invalid("payment_id", message)
            }
            OrderError::Tip(_) => conflict("tip_refused"),
            OrderError::DrawerShort { .. } => conflict("not_enough_cash"),
            OrderError::BadBarcode(_) => ApiError::invalid("barcode", message),
            OrderError::UnknownBarcode(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_barcode",
                message,
                Some("barcode"),
            ),
            OrderError::CashRounding(_) => conflict("cash_rounding_refused"),
            OrderError::TaxPolicy(_) => conflict("tax_policy_refused"),
            OrderError::TenderNeedsItsRoute(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tender_needs_its_route",
                message,
                Some("tender"),
            ),
            OrderError::TenderNotAccepted => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tender_not_accepted",
                message,
                Some("tender"),
            ),
            OrderError::AgeVerificationRequired(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "age_verification_required",
                message,
                Some("age_verified"),
            ),
            OrderError::Line(line) => {
                use shared_model::order::LineRequestError;
                match line {
                    LineRequestError::AddLine(AddLineError::NotOpen(_)) => {
                        conflict("order_not_open")
                    }
                    LineRequestError::BadQuantity
                    | LineRequestError::AddLine(AddLineError::QuantityOutOfRange) => {
                        ApiError::invalid("quantity", message)
                    }
                    LineRequestError::BadSeat => ApiError::invalid("seat", message),
                    LineRequestError::BadInstructions => ApiError::invalid("instructions", message),
                    LineRequestError::Modifier(_) => ApiError::invalid("modifiers", message),
                    LineRequestError::BadPrice | LineRequestError::AddLine(_) => {
                        conflict("line_refused")
                    }
                }
            }
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        let message = error.to_string();
        let forbidden =
            |code: &str| ApiError::new(StatusCode::FORBIDDEN, code, message.clone(), None);
        match error {
            AccessError::Store(store) => ApiError::from(store),
            AccessError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_pin",
                message,
                Some("pin"),
            ),
            AccessError::Locked { .. } => {
                ApiError::new(StatusCode::LOCKED, "staff_locked", message, None)
            }
            AccessError::BadPin(_) => ApiError::invalid("pin", message),
            AccessError::Denied(AuthorizeError::NotSignedIn(_)) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "staff_sign_in_required",
                message,
                None,
            ),
            AccessError::Denied(AuthorizeError::NeedsOverride { .. }) => {
                forbidden("override_required")
            }
            AccessError::Denied(AuthorizeError::ApproverNotPermitted { .. }) => {
                forbidden("approver_not_permitted")
            }
            AccessError::Denied(AuthorizeError::SelfApproval) => forbidden("self_approval"),
        }
    }
}

impl From<StaffError> for ApiError {
    fn from(error: StaffError) -> Self {
        let message = error.to_string();
        match error {
            StaffError::Access(access) => ApiError::from(access),
            StaffError::Store(store) => ApiError::from(store),
            StaffError::BadName(_) => ApiError::invalid("name", message),
            StaffError::BadRole(_) => ApiError::invalid("role", message),
            StaffError::SessionNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "session_not_found", message, None)
            }
            StaffError::NotSignedIn => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "staff_sign_in_required",
                message,
                None,
            ),
        }
    }
}

impl From<PairError> for ApiError {
    fn from(error: PairError) -> Self {
        let message = error.to_string();
        match error {
            PairError::Access(access) => ApiError::from(access),
            PairError::Store(store) => ApiError::from(store),
            PairError::BadName => ApiError::invalid("name", message),
            PairError::BadKind(_) => ApiError::invalid("kind", message),
            PairError::InvalidCode => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_pairing_code",
                message,
                Some("code"),
            ),
            PairError::TooManyCodes => ApiError::new(
                StatusCode::CONFLICT,
                "too_many_pairing_codes",
                message,
                None,
            ),
            PairError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "device_not_found", message, None)
            }
        }
    }
}

impl From<KitchenError> for ApiError {
    fn from(error: KitchenError) -> Self {
        let message = error.to_string();
        match error {
            KitchenError::Access(access) => ApiError::from(access),
            KitchenError::Store(store) => ApiError::from(store),
            KitchenError::OrderNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "order_not_found", message, None)
            }
            KitchenError::OrderNotOpen(_) => {
                ApiError::new(StatusCode::CONFLICT, "order_not_open", message, None)
            }
            KitchenError::NothingToSend => {
                ApiError::new(StatusCode::CONFLICT, "nothing_to_send", message, None)
            }
            KitchenError::StationBusy(_) => {
                ApiError::new(StatusCode::CONFLICT, "kitchen_busy", message, None)
            }
            KitchenError::TicketNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "ticket_not_found", message, None)
            }
            KitchenError::WrongTicketState(_) => {
                ApiError::new(StatusCode::CONFLICT, "ticket_state", message, None)
            }
            KitchenError::BadField { field, .. } => ApiError::invalid(field, message),
        }
    }
}

impl From<PrintError> for ApiError {
    fn from(error: PrintError) -> Self {
        let message = error.to_string();
        match error {
            PrintError::Access(access) => ApiError::from(access),
            PrintError::Store(store) => ApiError::from(store),
            PrintError::BadField { field, .. } => ApiError::invalid(field, message),
            PrintError::OrderNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "order_not_found", message, None)
            }
            PrintError::NoReceiptPrinter => {
                ApiError::new(StatusCode::CONFLICT, "no_receipt_printer", message, None)
            }
            PrintError::TooManyPrinters => {
                ApiError::new(StatusCode::CONFLICT, "too_many_printers", message, None)
            }
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
            None,
        )
    }
}

impl From<TableError> for ApiError {
    fn from(error: TableError) -> Self {
        let message = error.to_string();
        let conflict =
            |code: &str| ApiError::new(StatusCode::CONFLICT, code, message.clone(), None);
        match error {
            TableError::Access(access) => ApiError::from(access),
            TableError::Store(store) => ApiError::from(store),
            TableError::BadField { field, .. } => ApiError::invalid(field, message),
            TableError::NoSuchTable => {
                ApiError::new(StatusCode::NOT_FOUND, "table_not_found", message, None)
            }
            TableError::OrderNotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "order_not_found", message, None)
            }
            TableError::TableTaken => conflict("table_taken"),
            TableError::OrderNotAtATable => conflict("order_not_at_a_table"),
            TableError::TableInUse => conflict("table_in_use"),
        }
    }
}

impl From<crate::services::drawers::DrawerServiceError> for ApiError {
    fn from(error: crate::services::drawers::DrawerServiceError) -> Self {
        use crate::services::drawers::DrawerServiceError as E;
        use crate::store::DrawerChangeError as C;
        use shared_model::drawer::DrawerError as D;
        let message = error.to_string();
        match error {
            E::Access(access) => ApiError::from(access),
            E::Store(store) => ApiError::from(store),
            E::ReportNotPermitted => {
                ApiError::new(StatusCode::FORBIDDEN, "report_not_permitted", message, None)
            }
            E::Change(C::AlreadyOpen) => {
                ApiError::new(StatusCode::CONFLICT, "drawer_already_open", message, None)
            }
            E::Change(C::NoOpenDrawer) => {
                ApiError::new(StatusCode::CONFLICT, "no_open_drawer", message, None)
            }
            E::Change(C::Rule(D::BadAmount)) => ApiError::invalid("amount_minor", message),
            E::Change(C::Rule(D::ReasonRequired)) => ApiError::invalid("reason", message),
            E::Change(C::Rule(D::DuplicateCount)) => ApiError::invalid("counts", message),
            E::Change(C::Rule(D::NotEnoughCash { .. })) => {
                ApiError::new(StatusCode::CONFLICT, "not_enough_cash", message, None)
            }
            E::Change(C::Rule(D::NotCounted)) => {
                ApiError::new(StatusCode::CONFLICT, "drawer_not_counted", message, None)
            }
            E::Change(C::Rule(_)) => {
                ApiError::new(StatusCode::CONFLICT, "drawer_refused", message, None)
            }
        }
    }
}
