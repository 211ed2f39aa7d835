//! The HTTP API's JSON bodies, parsed by axum's `Json::from_bytes` (what the node's
//! `ApiJson` extractor runs on a body), then the checks the handler makes on the value.
//! The first byte picks the body: an entry for `POST /v1/entries`, a TRQP request for
//! `POST /authorization` and `/recognition`, or a peer for `POST /v1/admin/peers/*`.
#![no_main]

use std::str::FromStr;

use axum::Json;
use libfuzzer_sys::fuzz_target;
use p2p::PeerId;
use registry_core::api::{PeerRequest, TrqpRequest};
use registry_core::{SignedEntry, Timestamp};
use registry_fuzz::world;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Parses like the extractor; what parses must serialise and parse back to itself.
fn parse<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(body: &[u8]) -> Option<T> {
    let Json(value) = Json::<T>::from_bytes(body).ok()?;
    let again = serde_json::to_vec(&value).unwrap_or_default();
    assert_eq!(
        Json::<T>::from_bytes(&again).ok().map(|j| j.0).as_ref(),
        Some(&value)
    );
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Some(entry) = parse::<SignedEntry>(body) {
                // The writer's first step; its binary form must decode to the same entry.
                let _ = entry.check_structure(&world().fixture.registry_id);
                let bytes = entry.encode();
                if let Ok(back) = SignedEntry::decode(&bytes) {
                    assert_eq!(back, entry);
                }
            }
        }
        1 => {
            if let Some(req) = parse::<TrqpRequest>(body) {
                if let Some(t) = req.context.as_ref().and_then(|c| c.get("time")) {
                    if let Ok(at) = Timestamp::parse_rfc3339_utc(t) {
                        // An accepted time prints as one the parser reads back.
                        assert_eq!(Timestamp::parse_rfc3339_utc(&at.to_rfc3339()), Ok(at));
                    }
                }
            }
        }
        _ => {
            if let Some(req) = parse::<PeerRequest>(body) {
                if let Ok(peer) = PeerId::from_str(&req.peer_id) {
                    assert_eq!(PeerId::from_str(&peer.to_string()).ok(), Some(peer));
                }
            }
        }
    }
});
