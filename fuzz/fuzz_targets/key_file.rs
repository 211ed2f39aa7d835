//! A key file's text, parsed by `parse_key_file` (what `read_key_file` runs after its
//! permission and size checks). An accepted file names the did of its own key.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use registry_core::keys::parse_key_file;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(key) = parse_key_file(Path::new("fuzz.key"), text) else {
        return;
    };
    let canonical = format!(
        "{{\"did\": \"{}\", \"secret_key\": \"{}\"}}",
        key.did(),
        hex_seed(&key.to_seed())
    );
    let back = parse_key_file(Path::new("fuzz.key"), &canonical).map(|k| k.did());
    assert_eq!(back.ok(), Some(key.did()));
});

fn hex_seed(seed: &[u8; 32]) -> String {
    seed.iter().map(|b| format!("{b:02x}")).collect()
}
