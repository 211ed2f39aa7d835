//! Credentials as JOSE: base64url, compact JWS with Ed25519 (RFC 8037 vectors), VC-JOSE-COSE
//! `vc+jwt`, and SD-JWT VC with selective disclosure and key binding (RFC 9901 vectors),
//! each refusal checked by its code.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

// A test crate's root resolves modules beside itself; these live in `tests/credential_jose/`.
#[path = "credential_jose/base64url.rs"]
mod base64url;
#[path = "credential_jose/rfc8037.rs"]
mod rfc8037;
#[path = "credential_jose/rfc9901.rs"]
mod rfc9901;
#[path = "credential_jose/sd_jwt.rs"]
mod sd_jwt;
#[path = "credential_jose/sd_jwt_refusals.rs"]
mod sd_jwt_refusals;
#[path = "credential_jose/support.rs"]
mod support;
#[path = "credential_jose/vc_jwt.rs"]
mod vc_jwt;
