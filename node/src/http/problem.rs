//! RFC 7807 problem responses, and extractors that turn every rejection into one.
//!
//! No error leaves the server as plain text: handlers return [`ApiError`]; the body,
//! query and path extractors here wrap axum's and map their rejections; the router's
//! fallbacks answer unknown routes and methods; and [`ensure_problem`] rewrites any other
//! error response (from a layer, say) into `application/problem+json`.

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use registry_core::api::Problem;
use registry_core::Timestamp;
use serde::de::DeserializeOwned;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: a problem document and its status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub problem: Problem,
    /// Seconds after which a retry may succeed (503 only).
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> ApiError {
        let title = status.canonical_reason().unwrap_or("Error");
        ApiError {
            problem: Problem::new(status.as_u16(), code, title, detail),
            retry_after: None,
        }
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn not_found(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn unavailable(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
        }
    }

    /// A problem with a specific title (the status's reason phrase otherwise).
    pub fn titled(mut self, title: &str) -> ApiError {
        self.problem.title = title.to_string();
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// The problem for a rejected JSON body; keeps axum's status (400 syntax, 413 too large,
/// 415 content type, 422 well-formed JSON of the wrong shape).
pub fn json_rejection(r: &JsonRejection) -> ApiError {
    let status = r.status();
    let code = match r {
        JsonRejection::JsonSyntaxError(_) => "invalid_json",
        JsonRejection::JsonDataError(_) => "invalid_body",
        JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        _ => "bad_request",
    };
    ApiError::new(status, code, r.body_text())
}

/// A JSON body; rejections become problems.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(&r)),
        }
    }
}

/// A query string; rejections (missing, malformed or unknown parameters) become 400.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(query_rejection(&r)),
        }
    }
}

fn query_rejection(r: &QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", r.body_text())
}

/// A path parameter; rejections become 400.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(path_rejection(&r)),
        }
    }
}

fn path_rejection(r: &PathRejection) -> ApiError {
    ApiError::new(r.status(), "invalid_path", r.body_text())
}

/// Parses a time a caller asked about: RFC 3339 in UTC (`Z`), as TRQP requires.
pub fn parse_time(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339_utc(s)
        .map_err(|e| ApiError::bad_request("invalid_time", format!("{field}: {e}")))
}

/// Refuses an empty required string.
pub fn required(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_request(
            "missing_parameter",
            format!("{field} must not be empty"),
        ));
    }
    Ok(())
}

/// The router's fallback for paths it does not know.
pub async fn unknown_route(req: Request) -> ApiError {
    let path: String = req.uri().path().chars().take(200).collect();
    ApiError::not_found("not_found", format!("no such endpoint: {path}"))
}

/// Longest request target (path and query) answered; a longer one gets 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most bytes of headers (names, values, separators) in a request; more get 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most headers in a request; more get 431.
pub const MAX_HEADERS: usize = 100;

/// Refuses request heads over the limits above with a problem (414 or 431) and a closed
/// connection. They sit below hyper's own bounds (`server::MAX_HEAD_BYTES`,
/// `server::MAX_PARSED_HEADERS`), beyond which hyper answers a bare 431 before any
/// router runs; a request line or header hyper cannot parse gets its bare 400.
pub async fn head_limits(req: Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let refused = if uri > MAX_URI_BYTES {
        Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is {uri} bytes long; at most {MAX_URI_BYTES} are served"),
        ))
    } else {
        let count = req.headers().len();
        let bytes: usize = req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        (count > MAX_HEADERS || bytes > MAX_HEADER_BYTES).then(|| {
            ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                format!(
                    "the request has {count} headers of {bytes} bytes in all; at most \
                     {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes are served"
                ),
            )
        })
    };
    match refused {
        Some(e) => {
            let mut resp = e.into_response();
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            resp
        }
        None => next.run(req).await,
    }
}

/// The router's fallback for a known path with a method it does not serve.
pub async fn wrong_method(req: Request) -> ApiError {
    let detail = format!("{} is not allowed on {}", req.method(), req.uri().path());
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", detail)
}

/// The last line of defence: an error response that is not a problem document (made by
/// a layer rather than a handler) is rewritten into one, keeping its status and headers.
pub async fn ensure_problem(resp: Response) -> Response {
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let fixed = ApiError::new(status, code, text).into_response();
    let (fixed_parts, fixed_body) = fixed.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(
        CONTENT_TYPE,
        fixed_parts
            .headers
            .get(CONTENT_TYPE)
            .cloned()
            .unwrap_or(HeaderValue::from_static(PROBLEM_JSON)),
    );
    Response::from_parts(parts, Body::new(fixed_body))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(resp: Response) -> (StatusCode, String, Problem) {
        let status = resp.status();
        let ct = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let problem: Problem = serde_json::from_slice(&bytes).unwrap();
        (status, ct, problem)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn api_errors_are_problem_documents() {
        let resp = ApiError::bad_request("bad_signature", "signature by x does not verify")
            .into_response();
        let (status, ct, p) = block_on(body_of(resp));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(ct, PROBLEM_JSON);
        assert_eq!(p.kind, "urn:trust-registry:problem:bad_signature");
        assert_eq!(p.title, "Bad Request");
        assert_eq!(p.status, 400);
        assert_eq!(p.detail, "signature by x does not verify");
        let resp = ApiError::unavailable("busy", "later").into_response();
        assert_eq!(resp.headers().get(RETRY_AFTER), Some(&HeaderValue::from(1)));
    }

    #[test]
    fn plain_error_responses_are_rewritten() {
        let plain = (StatusCode::METHOD_NOT_ALLOWED, "nope").into_response();
        let (status, ct, p) = block_on(async { body_of(ensure_problem(plain).await).await });
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(ct, PROBLEM_JSON);
        assert_eq!(p.kind, "urn:trust-registry:problem:method_not_allowed");
        assert_eq!(p.detail, "nope");
        let ok = block_on(ensure_problem((StatusCode::OK, "fine").into_response()));
        assert_eq!(ok.status(), StatusCode::OK);
    }

    #[test]
    fn times_must_be_utc() {
        assert!(parse_time("at", "2026-01-31T12:00:00Z").is_ok());
        let e = parse_time("at", "2026-01-31T12:00:00+01:00").err();
        assert_eq!(e.map(|e| e.problem.status), Some(400));
        assert!(parse_time("at", "tomorrow").is_err());
        assert!(required("action", " ").is_err());
    }
}
