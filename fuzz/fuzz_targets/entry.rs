//! A signed entry's binary form, then what a node does with a received entry before the
//! ledger write: the structural checks and the signature check of `check_batch`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::codec::MAX_MESSAGE_BYTES;
use registry_core::registry::check_batch;
use registry_core::verify::Verifier;
use registry_core::SignedEntry;
use registry_fuzz::{assert_canonical, world};

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = SignedEntry::decode(data) else {
        return;
    };
    assert!(data.len() <= MAX_MESSAGE_BYTES);
    assert_canonical(data, &entry, SignedEntry::encode, |b| {
        SignedEntry::decode(b).ok()
    });
    let registry = world().fixture.registry_id;
    let structure = entry.check_structure(&registry);
    let checked = check_batch(&registry, &mut Verifier::new(), vec![entry.clone()]);
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0].0, entry.id());
    // An entry that fails the structural checks is never accepted by the batch check.
    if structure.is_err() {
        assert!(checked[0].1.is_err());
    }
    // The same id whatever the path: the body's id, stable across a re-decode.
    assert_eq!(entry.id(), entry.body.id());
});
