//! What `registry verify-proof` and a node's checkpoint gossip read from anyone: proof
//! bundles (binary) and checkpoint notes (text). The first byte picks the form.
//! A bundle that decodes is canonical, and verifying it against the shared registry
//! answers (valid or naming a check) without panicking; a note that parses renders back
//! to text that parses to the same note.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::checkpoint::note::SignedNote;
use registry_core::proof::{verify, Bundle, VerifyOptions};
use registry_core::testkit::witness_keys;
use registry_core::Timestamp;
use registry_fuzz::{assert_canonical, world};

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    if form & 1 == 0 {
        let Ok(bundle) = Bundle::decode(rest) else {
            return;
        };
        assert_canonical(rest, &bundle, Bundle::encode, |b| Bundle::decode(b).ok());
        let options = VerifyOptions {
            registry: world().fixture.registry_id,
            now: Timestamp(2_000_000_000),
            max_age: None,
            witnesses: None,
        };
        if let Err(e) = verify(&bundle, &options) {
            assert!(!e.check().is_empty());
        }
    } else {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let Ok(note) = SignedNote::parse(text) else {
            return;
        };
        assert_eq!(SignedNote::parse(&note.text()).as_ref(), Ok(&note));
        let witnesses: Vec<_> = witness_keys(4).iter().map(|k| k.did()).collect();
        let _ = note.verified_signers(&witnesses);
    }
});
