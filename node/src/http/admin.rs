//! The admin listener's bearer token: with `admin.token` on a TCP admin listener, every
//! request must carry `Authorization: Bearer TOKEN`; anything else gets 401 before the
//! request's body is read or any route is looked up.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::problem::ApiError;

/// The secret a TCP admin listener requires, and where an operator finds it.
#[derive(Clone)]
pub struct AdminToken {
    secret: Vec<u8>,
    /// The token file, named in the 401's detail.
    file: String,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl AdminToken {
    pub fn new(secret: &str, file: &std::path::Path) -> AdminToken {
        AdminToken {
            secret: secret.as_bytes().to_vec(),
            file: file.display().to_string(),
        }
    }

    /// Whether `offered` is the token, in time that depends only on the lengths.
    pub fn matches(&self, offered: &[u8]) -> bool {
        constant_time_eq(&self.secret, offered)
    }
}

/// Compares two byte strings without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

/// The bearer token of an `Authorization` header, if it has one.
fn bearer(value: &HeaderValue) -> Option<&[u8]> {
    let v = value.as_bytes();
    let (scheme, rest) = v.split_at(v.iter().position(|b| *b == b' ')?);
    scheme
        .eq_ignore_ascii_case(b"bearer")
        .then(|| rest.trim_ascii())
}

/// Answers 401 unless the request carries the token.
pub async fn require_token(
    State(token): State<Arc<AdminToken>>,
    req: Request,
    next: Next,
) -> Response {
    let offered = req.headers().get(AUTHORIZATION).and_then(bearer);
    let detail = match offered {
        Some(t) if token.matches(t) => return next.run(req).await,
        Some(_) => "the bearer token is wrong",
        None => "this admin listener requires `Authorization: Bearer TOKEN`",
    };
    let mut resp = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "admin_token_required",
        format!(
            "{detail}; the token is the content of {} on the node's machine \
             (`registry peers deny|allow --admin URL --admin-token-file FILE`)",
            token.file
        ),
    )
    .into_response();
    resp.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        let t = AdminToken::new("abc123", std::path::Path::new("/d/admin.token"));
        assert!(t.matches(b"abc123"));
        for bad in [&b""[..], b"abc12", b"abc1234", b"abc124", b"ABC123"] {
            assert!(!t.matches(bad), "{bad:?}");
        }
        assert!(!format!("{t:?}").contains("abc123"));
    }

    #[test]
    fn bearer_headers() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(bearer(&h("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer(&h("bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer(&h("Basic abc")), None);
        assert_eq!(bearer(&h("Bearer")), None);
    }
}
