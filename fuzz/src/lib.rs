//! What the fuzz targets share: one test registry (genesis, root key, signed entries,
//! built once per process) and the properties every binary decoder must hold.
//!
//! Each target in `fuzz_targets/` feeds libFuzzer's bytes to the function production
//! code calls on that input, then asserts what must hold of whatever it accepted.

use std::fmt::Debug;
use std::sync::OnceLock;

use registry_core::registry::{IngestReport, Registry};
use registry_core::testkit::{entity, key, Fixture};
use registry_core::SignedEntry;

/// The registry the targets check entries against, and entries signed for it.
#[derive(Debug)]
pub struct World {
    pub fixture: Fixture,
    /// `ENTRIES` root-signed accreditations, valid on their own.
    pub entries: Vec<SignedEntry>,
}

/// Entries signed once per process (signing is the slow part of building a registry).
pub const ENTRIES: u64 = 48;

/// The shared test registry.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let fixture = Fixture::new(1, 1, 3);
        let roots = fixture.root_keys(1);
        let controller = key(200).did();
        let entries = (0..ENTRIES)
            .map(|i| {
                fixture
                    .accredit(&entity(i))
                    .grant("issue", "R1")
                    .controller(controller)
                    .nonce(i)
                    .by_roots(&roots)
            })
            .collect();
        World { fixture, entries }
    })
}

/// An in-memory registry holding `entries` (signed by [`world`], so their signatures are
/// not checked again).
pub fn registry_of(entries: &[SignedEntry]) -> Registry {
    let mut reg = Registry::new(world().fixture.genesis.clone(), 10_000);
    let mut report = IngestReport::default();
    for e in entries {
        reg.offer_checked(e.clone(), &mut report);
    }
    reg.rehash();
    reg
}

/// A decoder of the canonical encoding accepted `input` as `value`: encoding it again
/// must give exactly `input` (one value, one encoding), and decoding that must give the
/// value back.
pub fn assert_canonical<T: PartialEq + Debug>(
    input: &[u8],
    value: &T,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Option<T>,
) {
    let again = encode(value);
    assert_eq!(
        again, input,
        "accepted bytes are not the canonical encoding"
    );
    assert_eq!(decode(&again).as_ref(), Some(value), "re-decoding differs");
}
