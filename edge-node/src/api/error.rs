//! API errors: one enum, mapped to status codes in one place, always with a machine code.

use crate::services::orders::OrderError;
use crate::store::StoreError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
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
        use shared_model::order::{AddLineError, PaymentError, VoidError};
        let message = error.to_string();
        let conflict =
            |code: &str| ApiError::new(StatusCode::CONFLICT, code, message.clone(), None);
        match error {
            OrderError::Store(store) => ApiError::from(store),
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
        }
    }
}
