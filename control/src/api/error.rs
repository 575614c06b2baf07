//! The one error shape every API handler returns: a status and a JSON body
//! `{"error": "...", "fields": [{"field", "message", "line", "column"}]}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem with one input field (or config place), shown next to that field in the UI.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the submitted object, e.g. `rules[0].dwell_s` or `url`.
    pub field: String,
    pub message: String,
    /// Where in the config file the problem lies, when it came from validating the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, body: ErrorBody { error: message.into(), fields: Vec::new() }, retry_after: None }
    }
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "sign in first (session cookie or `Authorization: Bearer` token)")
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    /// 422 with a message per field.
    pub fn invalid(message: impl Into<String>, fields: Vec<FieldError>) -> Self {
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, body: ErrorBody { error: message.into(), fields }, retry_after: None }
    }
    pub fn too_many(message: impl Into<String>, retry_after_s: u64) -> Self {
        ApiError { retry_after: Some(retry_after_s), ..Self::new(StatusCode::TOO_MANY_REQUESTS, message) }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
