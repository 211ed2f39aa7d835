//! A sync request as the responder receives it: `SyncRequest::decode`, then `answer`
//! over a registry, whose reply must stay within the protocol's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p::protocol::{SyncRequest, SyncResponse, MAX_ENTRIES, MAX_RESPONSE_BYTES};
use p2p::sync::answer;
use registry_fuzz::{assert_canonical, registry_of, world};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = SyncRequest::decode(data) else {
        return;
    };
    assert_canonical(data, &request, SyncRequest::encode, |b| {
        SyncRequest::decode(b).ok()
    });
    let mut local = registry_of(&world().entries);
    let reply = answer(&request, &mut local);
    let bytes = reply.encode();
    assert!(
        bytes.len() <= MAX_RESPONSE_BYTES,
        "reply of {} bytes",
        bytes.len()
    );
    // The reply is one the requester can decode.
    assert_eq!(SyncResponse::decode(&bytes).as_ref(), Ok(&reply));
    if let SyncResponse::Entries { entries } | SyncResponse::Subtree { entries } = &reply {
        assert!(entries.len() <= MAX_ENTRIES);
    }
});
