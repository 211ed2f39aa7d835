//! A sync reply as the requester receives it: `SyncResponse::decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p::protocol::SyncResponse;
use registry_fuzz::assert_canonical;

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = SyncResponse::decode(data) else {
        return;
    };
    assert_canonical(data, &reply, SyncResponse::encode, |b| {
        SyncResponse::decode(b).ok()
    });
});
