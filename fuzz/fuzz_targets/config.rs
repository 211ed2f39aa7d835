//! A `registry-node` configuration file, parsed and validated as the daemon does
//! (`Config::from_toml`, then `validate`). An accepted file dumps (`--dump-config`) to
//! TOML that parses back to the same configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_node::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_toml(text) else {
        return;
    };
    let valid = config.validate().is_ok();
    let dumped = config.to_toml();
    let Ok(dumped) = dumped else {
        panic!("a parsed configuration does not dump: {dumped:?}");
    };
    let back = Config::from_toml(&dumped);
    assert_eq!(back.as_ref().ok(), Some(&config), "{dumped}");
    assert_eq!(back.map(|c| c.validate().is_ok()).ok(), Some(valid));
});
