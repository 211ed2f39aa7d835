//! Errors of the HTTP client: what went wrong talking to a node, in terms a caller can act on.

use registry_core::api::Problem;

/// Why a request to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL given to [`Client::new`](crate::Client::new) is not usable.
    #[error("{url:?} is not a usable node URL: {why}")]
    BadUrl { url: String, why: &'static str },
    /// No connection could be made (refused, unresolvable, not accepted in time).
    #[error("cannot reach the node at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The node took the connection but did not answer `request` within `limit`.
    #[error(
        "the node at {url} did not answer {request} within {} s",
        limit.as_secs_f64()
    )]
    TimedOut {
        url: String,
        request: String,
        limit: std::time::Duration,
    },
    /// The node answered with an RFC 7807 problem (4xx or 5xx other than 404).
    #[error("the node refused: {} ({}): {}", .0.title, .0.status, .0.detail)]
    Problem(Problem),
    /// The node answered 404: the entry, subject or route is unknown to it.
    #[error("not found on the node")]
    NotFound,
    /// The node answered something that is not what the API promises.
    #[error("unexpected response from the node: {detail}")]
    BadResponse { detail: String },
}

impl ClientError {
    /// Whether the node could not be reached at all (as opposed to answering badly).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }
}
