//! A blocking HTTP client for one node's API (DESIGN section 9), returning the typed
//! values of [`registry_core::api`].
//!
//! Every 4xx/5xx answer is read as an RFC 7807 problem ([`ClientError::Problem`]); a 404
//! is [`ClientError::NotFound`]. Response bodies are read with a size limit, and every
//! request has a connect timeout and an overall timeout, so a stuck node cannot hang a
//! caller. A [`Client`] is cheap to clone and safe to share between threads (clones
//! share one connection pool).

use std::time::Duration;

use registry_core::api::{
    BlockList, EntryPage, EntryView, PeerList, Problem, Status, SubjectView, Submitted,
    TrustAnswer, TrustParams,
};
use registry_core::entry::{Kind, SignedEntry};
use registry_core::hash::EntryId;
use serde::de::DeserializeOwned;
use ureq::http::{StatusCode, Uri};

use crate::error::ClientError;

/// Default overall time limit of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time limit for opening a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest successful response body read (an export page of many full blocks fits).
pub const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;
/// Largest error body read.
const MAX_PROBLEM_BYTES: u64 = 64 * 1024;
/// Longest a pooled connection is reused after its last request: under the node's
/// header deadline, which also ends idle keep-alive connections.
const IDLE_REUSE: Duration = Duration::from_secs(5);

/// A client of one node's HTTP API.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// Scheme, host and port, without a trailing slash (`http://127.0.0.1:7070`).
    base: String,
    /// The overall time limit of one request, named when it runs out.
    timeout: Duration,
}

impl Client {
    /// A client of the node at `base_url` (`http://host:port`, optionally with a path
    /// prefix), with [`DEFAULT_TIMEOUT`].
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        Client::with_timeout(base_url, DEFAULT_TIMEOUT)
    }

    /// A client whose requests each take at most `timeout` overall.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> Result<Client, ClientError> {
        let base = validate_base_url(base_url)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
            .timeout_global(Some(timeout))
            .max_idle_age(IDLE_REUSE)
            .user_agent(concat!("registry-cli/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            agent: config.new_agent(),
            base,
            timeout,
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<Status, ClientError> {
        self.get("/v1/status", &[])
    }

    /// `GET /v1/peers`.
    pub fn peers(&self) -> Result<PeerList, ClientError> {
        self.get("/v1/peers", &[])
    }

    /// `POST /v1/entries`: accepted, duplicate, or pending on a missing reference.
    pub fn submit(&self, entry: &SignedEntry) -> Result<Submitted, ClientError> {
        let url = self.url("/v1/entries");
        let request = "POST /v1/entries";
        let response = self
            .agent
            .post(&url)
            .send_json(entry)
            .map_err(|e| self.failed(request, e))?;
        self.read(request, response)
    }

    /// `POST /v1/credentials/verify`: the node checks `credential` (a JSON document or a
    /// compact JWT / SD-JWT) end to end, as of `at` (default: its clock).
    pub fn verify_credential(
        &self,
        credential: &str,
        at: Option<&str>,
    ) -> Result<registry_core::credential::Verdict, ClientError> {
        let request = "POST /v1/credentials/verify";
        let content_type = if credential.trim_start().starts_with('{') {
            "application/json"
        } else {
            "text/plain"
        };
        let mut req = self
            .agent
            .post(self.url("/v1/credentials/verify"))
            .header("content-type", content_type);
        if let Some(at) = at {
            req = req.query("at", at);
        }
        let response = req
            .send(credential.as_bytes())
            .map_err(|e| self.failed(request, e))?;
        self.read(request, response)
    }

    /// `POST /v1/entries/batch`: up to 1,024 entries, one outcome each, in order (a node
    /// without the route answers [`ClientError::NotFound`]).
    pub fn submit_batch(
        &self,
        entries: &[SignedEntry],
    ) -> Result<registry_core::api::BatchSubmitted, ClientError> {
        let url = self.url("/v1/entries/batch");
        let request = "POST /v1/entries/batch";
        let response = self
            .agent
            .post(&url)
            .send_json(entries)
            .map_err(|e| self.failed(request, e))?;
        self.read(request, response)
    }

    /// `GET /v1/entries/{id}`; [`ClientError::NotFound`] when the node does not know it.
    pub fn entry(&self, id: &EntryId) -> Result<EntryView, ClientError> {
        self.get(&format!("/v1/entries/{}", id.to_hex()), &[])
    }

    /// `GET /v1/entries?from_height=H&max_blocks=N`: accepted entries in ledger order.
    pub fn entries_page(
        &self,
        from_height: u64,
        max_blocks: u32,
    ) -> Result<EntryPage, ClientError> {
        let query = [
            ("from_height", from_height.to_string()),
            ("max_blocks", max_blocks.to_string()),
        ];
        self.get("/v1/entries", &query)
    }

    /// `GET /v1/trust`: is the entity authorized (or recognized)?
    pub fn trust(&self, params: &TrustParams) -> Result<TrustAnswer, ClientError> {
        self.trust_with(params, false, None)
    }

    /// `GET /v1/trust` with section 12's options: `proof` asks for the answer's proof at
    /// the checkpoint (`TrustAnswer::proof`); `max_age` makes the node refuse (a 503
    /// `stale` problem) to call the answer authorized on older cosigned knowledge.
    pub fn trust_with(
        &self,
        params: &TrustParams,
        proof: bool,
        max_age: Option<u64>,
    ) -> Result<TrustAnswer, ClientError> {
        let mut query = vec![
            ("entity_id", params.entity_id.clone()),
            ("action", params.action.clone()),
            ("resource", params.resource.clone()),
        ];
        if let Some(at) = &params.at {
            query.push(("at", at.clone()));
        }
        if let Some(kind) = params.kind {
            let kind = match kind {
                Kind::Authorization => "authorization",
                Kind::Recognition => "recognition",
            };
            query.push(("kind", kind.to_string()));
        }
        if proof {
            query.push(("proof", "true".to_string()));
        }
        if let Some(secs) = max_age {
            query.push(("max_age", secs.to_string()));
        }
        self.get("/v1/trust", &query)
    }

    /// `GET /v1/subjects/{entity_id}`: every accreditation of an entity.
    pub fn subject(&self, entity_id: &str) -> Result<SubjectView, ClientError> {
        self.get(&format!("/v1/subjects/{}", percent_encode(entity_id)), &[])
    }

    /// `GET /v1/blocks?from=&limit=`.
    pub fn blocks(&self, from: u64, limit: u32) -> Result<BlockList, ClientError> {
        let query = [("from", from.to_string()), ("limit", limit.to_string())];
        self.get("/v1/blocks", &query)
    }

    /// `GET /metrics`: the Prometheus text.
    pub fn metrics(&self) -> Result<String, ClientError> {
        let request = "GET /metrics";
        let mut response = self
            .agent
            .get(self.url("/metrics"))
            .call()
            .map_err(|e| self.failed(request, e))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| self.body_failed(request, status, e))?;
        if !status.is_success() {
            return Err(problem_from(status, &text));
        }
        Ok(text)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let mut request = self.agent.get(self.url(path));
        for (k, v) in query {
            request = request.query(*k, v);
        }
        let request_name = format!("GET {path}");
        let response = request.call().map_err(|e| self.failed(&request_name, e))?;
        self.read(&request_name, response)
    }

    /// Classifies a failure before any response arrived. `request` names it in errors
    /// (`GET /v1/status`).
    fn failed(&self, request: &str, e: ureq::Error) -> ClientError {
        match e {
            ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
                ClientError::Unreachable {
                    url: self.base.clone(),
                    detail: format!(
                        "no connection within {} s",
                        CONNECT_TIMEOUT.min(self.timeout).as_secs_f64()
                    ),
                }
            }
            ureq::Error::Timeout(_) => self.timed_out(request),
            ureq::Error::Io(_) | ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
                ClientError::Unreachable {
                    url: self.base.clone(),
                    detail: e.to_string(),
                }
            }
            other => ClientError::BadResponse {
                detail: format!("{request}: {other}"),
            },
        }
    }

    /// A failure while reading the body of an answer with `status`.
    fn body_failed(&self, request: &str, status: StatusCode, e: ureq::Error) -> ClientError {
        match e {
            ureq::Error::Timeout(_) => self.timed_out(request),
            other => ClientError::BadResponse {
                detail: format!("{request}: HTTP {status}: {other}"),
            },
        }
    }

    fn timed_out(&self, request: &str) -> ClientError {
        ClientError::TimedOut {
            url: self.base.clone(),
            request: request.to_string(),
            limit: self.timeout,
        }
    }

    /// Reads a typed body from a 2xx answer, or the problem from any other.
    fn read<T: DeserializeOwned>(
        &self,
        request: &str,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<T, ClientError> {
        let status = response.status();
        if status.is_success() {
            return response
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_json::<T>()
                .map_err(|e| self.body_failed(request, status, e));
        }
        if status == StatusCode::NOT_FOUND {
            return Err(ClientError::NotFound);
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_PROBLEM_BYTES)
            .lossy_utf8(true)
            .read_to_string()
            .unwrap_or_default();
        Err(problem_from(status, &text))
    }
}

/// The node's problem+json, or a problem made up from whatever else it sent.
fn problem_from(status: StatusCode, text: &str) -> ClientError {
    match serde_json::from_str::<Problem>(text) {
        Ok(p) => ClientError::Problem(p),
        Err(_) if status.is_client_error() || status.is_server_error() => {
            let snippet: String = text.chars().take(200).collect();
            ClientError::Problem(Problem {
                kind: "about:blank".into(),
                title: status.canonical_reason().unwrap_or("error").into(),
                status: status.as_u16(),
                detail: snippet.trim().to_string(),
            })
        }
        Err(_) => ClientError::BadResponse {
            detail: format!("HTTP {status}"),
        },
    }
}

/// Checks a base URL: `http://host[:port][/prefix]`, no query or fragment. Returns it
/// without a trailing slash. (This build speaks plain HTTP only: nodes serve their API on
/// loopback; put a TLS proxy in front for anything else.)
pub fn validate_base_url(url: &str) -> Result<String, ClientError> {
    let bad = |why| ClientError::BadUrl {
        url: url.chars().take(200).collect(),
        why,
    };
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.starts_with("https://") {
        return Err(bad("https is not supported by this build; use http://"));
    }
    if !trimmed.starts_with("http://") {
        return Err(bad("expected http://HOST:PORT"));
    }
    let uri: Uri = trimmed.parse().map_err(|_| bad("not a valid URL"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("missing host"));
    }
    if uri.query().is_some() || trimmed.contains('#') {
        return Err(bad("a node URL has no query or fragment"));
    }
    Ok(trimmed.to_string())
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
pub fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let ok = |s: &str| validate_base_url(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("http://127.0.0.1:7070"), "http://127.0.0.1:7070");
        assert_eq!(ok("http://127.0.0.1:7070/"), "http://127.0.0.1:7070");
        assert_eq!(
            ok("http://node.local/registry/"),
            "http://node.local/registry"
        );
        for bad in [
            "",
            "127.0.0.1:7070",
            "ftp://x",
            "https://x",
            "http://",
            "http://x?a=1",
        ] {
            assert!(validate_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encodes_path_segments() {
        assert_eq!(
            percent_encode("did:web:uni.example"),
            "did%3Aweb%3Auni.example"
        );
        assert_eq!(
            percent_encode("https://a.example/x?y=1"),
            "https%3A%2F%2Fa.example%2Fx%3Fy%3D1"
        );
        assert_eq!(percent_encode("did:web:a%3Ab"), "did%3Aweb%3Aa%253Ab");
    }

    #[test]
    fn problems_are_parsed_or_synthesised() {
        let body = r#"{"type":"urn:x","title":"Bad entry","status":400,"detail":"no sig"}"#;
        match problem_from(StatusCode::BAD_REQUEST, body) {
            ClientError::Problem(p) => assert_eq!(p.detail, "no sig"),
            other => panic!("{other:?}"),
        }
        match problem_from(StatusCode::BAD_GATEWAY, "upstream down") {
            ClientError::Problem(p) => {
                assert_eq!((p.status, p.detail.as_str()), (502, "upstream down"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_node_that_never_answers_is_named_with_the_request_and_the_limit() {
        // Accepts connections (the kernel's backlog does) and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let client = Client::with_timeout(&url, Duration::from_millis(300)).unwrap();
        match client.status() {
            Err(e @ ClientError::TimedOut { .. }) => {
                let shown = e.to_string();
                assert!(shown.contains(&url), "{shown}");
                assert!(shown.contains("GET /v1/status"), "{shown}");
                assert!(shown.contains("0.3 s"), "{shown}");
            }
            other => panic!("{other:?}"),
        }
        drop(listener);
    }

    #[test]
    fn unreachable_names_the_address() {
        // Port 9 (discard) on loopback: nothing listens there in test environments.
        let client = Client::with_timeout("http://127.0.0.1:9", Duration::from_secs(2)).unwrap();
        match client.status() {
            Err(e @ ClientError::Unreachable { .. }) => {
                assert!(e.to_string().contains("http://127.0.0.1:9"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}
