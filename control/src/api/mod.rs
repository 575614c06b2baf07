//! The REST API under `/api/v1`: every route registered here is also described in the OpenAPI
//! document served at `/api/v1/openapi.json` (utoipa-axum builds both from the same list).

mod error;
pub mod incidents;

pub use error::{ApiError, ApiResult, ErrorBody, FieldError};
