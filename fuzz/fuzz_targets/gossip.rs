//! A gossip payload as the p2p network task handles it before handing the entry to the
//! host: `decode_gossip` (also the message id's source), then the structural checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p2p::network::decode_gossip;
use registry_core::SignedEntry;
use registry_fuzz::{assert_canonical, world};

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = decode_gossip(data) else {
        return;
    };
    assert_canonical(data, &entry, SignedEntry::encode, |b| decode_gossip(b).ok());
    // The message id is the entry id, so copies from different peers deduplicate.
    assert_eq!(decode_gossip(data).map(|e| e.id()), Ok(entry.id()));
    let _ = entry.check_structure(&world().fixture.registry_id);
});
