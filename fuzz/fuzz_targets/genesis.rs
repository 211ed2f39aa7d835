//! The genesis file as `registry-node` and the CLI read it (JSON, then validation), and
//! its binary form as the ledger check reads it back from the store. The first byte picks
//! the form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::codec::{self, MAX_MESSAGE_BYTES};
use registry_core::Genesis;
use registry_fuzz::assert_canonical;

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    if form & 1 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        let Ok(genesis) = Genesis::from_json(text) else {
            return;
        };
        // What is accepted is valid, and survives being written and read again with
        // the same registry id.
        assert_eq!(genesis.validate(), Ok(()));
        let back = Genesis::from_json(&genesis.to_json());
        assert_eq!(back.as_ref(), Ok(&genesis));
        assert_eq!(back.map(|g| g.registry_id()), Ok(genesis.registry_id()));
    } else {
        let Ok(genesis) = codec::decode::<Genesis>(rest, MAX_MESSAGE_BYTES) else {
            return;
        };
        assert_canonical(rest, &genesis, codec::encode, |b| {
            codec::decode(b, MAX_MESSAGE_BYTES).ok()
        });
        // Validation of a decoded genesis answers without panicking either way.
        let _ = genesis.validate();
    }
});
